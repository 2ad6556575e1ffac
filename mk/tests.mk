# Tests. Every test is a TAP producer run by prove:
#   tests/unit/test_*.c   hosted cmocka tests, one binary each, linked with
#                         the sanitized core/, vmm/ and bench/ objects,
#                         cmd/ctl_watch.c and cmd/front.c
#   tests/kvm/*.sh        the VMM and guest under KVM (skip without /dev/kvm)
#   tests/qemu/*.sh       the guest under QEMU (skip without qemu-system-x86_64)
#   tests/model/*.sh      model checks of protocols (skip without spin)
#   tests/nested/*.sh     our hypervisor under nested KVM where /dev/kvm is missing
#   tests/fuzz/*.sh       fuzz smoke runs
#   tests/sanitizers/*.sh the threaded tests under TSan, the VMM's error paths
#                         under valgrind's memcheck
#   tests/lint/*.sh       linters over the tree (make lint runs them alone)
#   tests/figures/*.sh    scripts' figures held against the C computation
#   tests/api/*.sh        the control API's output against outside checkers
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
SCRIPT_TESTS := $(sort $(wildcard tests/kvm/*.sh tests/qemu/*.sh tests/linux/*.sh tests/model/*.sh tests/fuzz/*.sh \
	tests/sanitizers/*.sh tests/lint/*.sh tests/figures/*.sh tests/api/*.sh))
LINT_TESTS := $(sort $(wildcard tests/lint/*.sh))
# Our hypervisor under a nested KVM (Linux under TCG): run alone, first,
# since the emulated L1 kernel soft-locks when it is starved of CPU.
NESTED_TESTS := $(sort $(wildcard tests/nested/*.sh))
TEST_LIB := $(BUILD)/host/libpagehint-test.a

$(TEST_LIB): $(TEST_LIB_OBJS)
	$(call say,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIB)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -DPH_DEBUG=1 -DPH_BUILD_DIR='"$(BUILD)"' \
		$(HOSTED_CORE_INC) -Ivmm -Ibench -Icmd -Itests/unit \
		$< $(TEST_LIB) -lcmocka $(VMM_LIBS) -o $@

ALL_TARGETS += $(UNIT_TESTS)

# A preload library for QEMU that slows its balloon device's answers
# (tests/linux/slow_device.sh).
$(BUILD)/tests/slow_discard.so: tests/linux/slow_discard.c
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -fPIC -shared $< -ldl -o $@

ALL_TARGETS += $(BUILD)/tests/slow_discard.so

# prove runs the unit binaries directly (--exec '') and the scripts by
# their shebang; -j2 matches the machine. PROVE_ARGS=-v for detail. The
# nested-KVM tests go first and alone; everything else then runs in
# parallel, and its summary ends the output.
PROVE_ENV := CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
check: all
	$(if $(NESTED_TESTS),$(PROVE_ENV) prove --exec '' $(PROVE_ARGS) $(NESTED_TESTS))
	$(PROVE_ENV) prove --exec '' -j2 $(PROVE_ARGS) $(UNIT_TESTS) $(SCRIPT_TESTS)

# The linters alone (also part of check).
lint:
	prove $(PROVE_ARGS) $(LINT_TESTS)
