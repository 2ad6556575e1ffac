# vmm/: the hypervisor, build/pagehint. vmm/main.c holds main(); every
# other vmm/*.c is also built sanitized into the test library, and
# optimized without sanitizers for the micro-benchmarks (mk/bench.mk).
VMM_SRCS      := $(wildcard vmm/*.c)
VMM_LIB_SRCS  := $(filter-out vmm/main.c,$(VMM_SRCS))
VMM_OBJS      := $(VMM_SRCS:%.c=$(BUILD)/%.o)
VMM_LIB_OBJS  := $(VMM_LIB_SRCS:%.c=$(BUILD)/%.o)
VMM_HOST_OBJS := $(VMM_LIB_SRCS:%.c=$(BUILD)/host/%.o)
# The balloon's exitless scanner uses core/exitless.c (the host side of
# the map's state machine), through the hosted platform header.
VMM_INC       := -Ivmm $(HOSTED_CORE_INC)
# main.c dispatches `pagehint bench` (bench/bench.h).
$(BUILD)/vmm/main.o: VMM_INC += -Ibench
VMM_CORE_OBJS := $(BUILD)/opt/core/exitless.o $(SHIM_OPT_OBJS)

TEST_LIB_OBJS += $(VMM_HOST_OBJS)

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

$(BUILD)/pagehint: $(VMM_OBJS) $(VMM_CORE_OBJS)
	$(call say,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $^ -o $@ -lm

ALL_TARGETS += $(BUILD)/pagehint

# The same, linked statically: what the nested-KVM runs (tests/nested/l1/,
# tests/nested/kvm.sh) put into their L1 initramfs, which has no libc.
$(BUILD)/pagehint-static: $(VMM_OBJS) $(VMM_CORE_OBJS)
	$(call say,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -static -pthread $^ -o $@ -lm

ALL_TARGETS += $(BUILD)/pagehint-static
