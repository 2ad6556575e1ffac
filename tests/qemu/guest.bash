# Helpers for the tests/qemu/*.sh script tests: boot the guest kernel under
# QEMU (TCG, microvm without ACPI, as anchors-pvm.md describes) and turn the
# isa-debug-exit status back into the guest's own exit status.
# Source after tests/lib.sh.
# shellcheck shell=bash disable=SC2034 # its variables are the sourcing test's

GUEST_ELF=$PH_BUILD/pagehint-guest.elf
# The guest's exit statuses (guest/exit.h).
EXIT_OK=0 EXIT_FAIL=1 EXIT_CMDLINE=2 EXIT_FAULT=3 EXIT_INTERNAL=4

guest_prereqs() {
	local why
	why=$(qemu_unusable)
	[ -z "$why" ] || skip_all "$why"
	[ -f "$GUEST_ELF" ] || skip_all "$GUEST_ELF not built (run make)"
}

# run_guest CPUS MEM_MIB 'CMDLINE' [QEMU ARGS...]
# Sets OUT (console), STATUS (the guest's exit status, or "qemu:<rc>" when
# QEMU ended otherwise, "timeout" after GUEST_TIMEOUT seconds) and SECS.
run_guest() {
	local cpus=$1 mem=$2 append=$3 rc t0 t1
	shift 3
	t0=$(date +%s.%N)
	OUT=$(timeout "${GUEST_TIMEOUT:-60}" qemu-system-x86_64 -M microvm,acpi=off \
		-smp "$cpus" -m "${mem}M" -nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$GUEST_ELF" -device isa-debug-exit,iobase=0x501,iosize=2 \
		-append "$append" "$@" </dev/null 2>&1)
	rc=$?
	t1=$(date +%s.%N)
	SECS=$(echo "$t1 - $t0" | bc)
	OUT=${OUT//$'\r'/}
	if [ $rc -eq 124 ]; then STATUS=timeout
	elif [ $((rc & 1)) -eq 1 ]; then STATUS=$((rc >> 1))
	else STATUS="qemu:$rc"
	fi
}

# expect_status DESCRIPTION WANT: ok if the last run ended with WANT;
# otherwise not ok, with the console as diagnostics.
expect_status() {
	if [ "$STATUS" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1 (status $STATUS, want $2)"
		diag "$OUT"
	fi
}

# expect_line DESCRIPTION REGEX: ok if a console line matches.
expect_line() {
	if grep -Eq -- "$2" <<<"$OUT"; then
		ok "$1"
	else
		not_ok "$1 (no line matching /$2/)"
		diag "$OUT"
	fi
}

# shellcheck disable=SC2054 # the commas are QEMU's
BALLOON=(-device virtio-balloon-device,free-page-reporting=on -global virtio-mmio.force-legacy=false)
