# llhttp, the HTTP/1.1 parser of the control API (vmm/api.c): Debian
# ships it as C sources (node-llhttp), which we compile as they are, with
# no warnings of ours (it is not our code), into build/llhttp/ and,
# sanitized, build/host/llhttp/.
LLHTTP_DIR       ?= /usr/share/llhttp
LLHTTP_INC       ?= /usr/share/include/llhttp
LLHTTP_SRCS      := api.c http.c llhttp.c
LLHTTP_OBJS      := $(LLHTTP_SRCS:%.c=$(BUILD)/llhttp/%.o)
LLHTTP_HOST_OBJS := $(LLHTTP_SRCS:%.c=$(BUILD)/host/llhttp/%.o)
LLHTTP_CFLAGS    := -std=gnu11 -O2 -g -w -MMD -MP -I$(LLHTTP_INC)

$(BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LLHTTP_CFLAGS) -c $< -o $@

$(BUILD)/host/llhttp/%.o: $(LLHTTP_DIR)/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LLHTTP_CFLAGS) $(SAN_FLAGS) -c $< -o $@

# vmm/: the hypervisor's parts (KVM, guest RAM, loader, virtio-mmio, the
# balloon device, telemetry), linked into build/pagehint (mk/cmd.mk) with
# -O2, and also built sanitized into the test library; the optimized
# objects serve the micro-benchmarks too (mk/bench.mk).
VMM_SRCS      := $(wildcard vmm/*.c)
VMM_OBJS      := $(VMM_SRCS:%.c=$(BUILD)/%.o)
VMM_HOST_OBJS := $(VMM_SRCS:%.c=$(BUILD)/host/%.o)
# The balloon's exitless scanner uses core/exitless.c (the host side of
# the map's state machine), through the hosted platform header.
VMM_INC       := -Ivmm $(HOSTED_CORE_INC) -I$(LLHTTP_INC)
VMM_CORE_OBJS := $(BUILD)/opt/core/exitless.o $(SHIM_OPT_OBJS) $(LLHTTP_OBJS)
# What vmm/api.c links beyond libc (jansson has a static archive too, so
# build/pagehint-static has the API as well).
VMM_LIBS      := -ljansson -lm

TEST_LIB_OBJS += $(VMM_HOST_OBJS) $(LLHTTP_HOST_OBJS)

$(BUILD)/vmm/%.o: CFLAGS_EXTRA := -O2
$(BUILD)/host/vmm/%.o: CFLAGS_EXTRA := $(SAN_FLAGS)

# Two rules, not one with two targets: a multi-target pattern rule would
# be taken as making both objects at once.
$(BUILD)/vmm/%.o: vmm/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(CFLAGS_EXTRA) $(VMM_INC) -c $< -o $@

$(BUILD)/host/vmm/%.o: vmm/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(CFLAGS_EXTRA) $(VMM_INC) -c $< -o $@
