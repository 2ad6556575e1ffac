# vmm/: the hypervisor's parts (KVM, guest RAM, loader, virtio-mmio, the
# balloon device, telemetry), linked into build/pagehint (mk/cmd.mk) with
# -O2, and also built sanitized into the test library; the optimized
# objects serve the micro-benchmarks too (mk/bench.mk).
VMM_SRCS      := $(wildcard vmm/*.c)
VMM_OBJS      := $(VMM_SRCS:%.c=$(BUILD)/%.o)
VMM_HOST_OBJS := $(VMM_SRCS:%.c=$(BUILD)/host/%.o)
# The balloon's exitless scanner uses core/exitless.c (the host side of
# the map's state machine), through the hosted platform header.
VMM_INC       := -Ivmm $(HOSTED_CORE_INC)
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
