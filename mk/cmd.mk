# cmd/: the program's front end, build/pagehint: the command table and
# main() (cmd/main.c), `pagehint run` (cmd/run.c) and what the front ends
# share (cmd/front.c), linked with the parts the commands drive, vmm/ and
# bench/.
CMD_SRCS := $(wildcard cmd/*.c)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILD)/%.o)
CMD_INC  := -Icmd -Ibench $(VMM_INC)
PAGEHINT_OBJS := $(CMD_OBJS) $(VMM_OBJS) $(BENCH_OBJS) $(VMM_CORE_OBJS)

$(BUILD)/cmd/%.o: cmd/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -O2 $(CMD_INC) -c $< -o $@

$(BUILD)/pagehint: $(PAGEHINT_OBJS)
	$(call say,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $^ -o $@ $(VMM_LIBS)

ALL_TARGETS += $(BUILD)/pagehint

# The same, linked statically: what the nested-KVM runs (tests/nested/l1/,
# tests/nested/kvm.sh) put into their L1 initramfs, which has no libc.
$(BUILD)/pagehint-static: $(PAGEHINT_OBJS)
	$(call say,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -static -pthread $^ -o $@ $(VMM_LIBS)

ALL_TARGETS += $(BUILD)/pagehint-static

# Also built sanitized into the test library: `ctl watch`
# (tests/unit/test_vmm_api.c runs it against the API on a fake VM) and
# the front ends' shared pieces, which the bench's objects there use.
CMD_HOST_OBJS := $(BUILD)/host/cmd/ctl_watch.o $(BUILD)/host/cmd/front.o
TEST_LIB_OBJS += $(CMD_HOST_OBJS)

$(BUILD)/host/cmd/%.o: cmd/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) $(CMD_INC) -c $< -o $@
