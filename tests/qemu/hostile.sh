#!/usr/bin/env bash
# test=hostile under QEMU's virtio-balloon (TCG): the guest makes bad
# submissions to the reporting queue over the raw ring (guest/hostile.c),
# resetting the device between cases. QEMU's device must survive (a valid
# report still comes back at the end) and the canary region of guest RAM,
# named only by chains a device must reject, must be intact after every
# case. An interop check of QEMU as much as of the guest.
#
# Known: QEMU 7.2 maps a descriptor whose address + length wraps past 2^64
# (virtqueue_map_desc has no overflow check) and its balloon discards the
# wrapped part from guest-physical 0: case "overflowing" loses the canary
# page at 0x1000. That case is a TODO test here; our device refuses it
# (tests/unit/test_hostile_dev.c, tests/kvm/hostile.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs

KNOWN_QEMU_BUG=overflowing
GUEST_TIMEOUT=120 run_guest 2 128 'workload=none test=hostile' "${BALLOON[@]}"
ncases=$(sed -n 's/^@hostile start cases=\([0-9]*\).*/\1/p' <<<"$OUT")
if [ -z "$ncases" ]; then
	plan 1
	not_ok "test=hostile starts (status $STATUS)"
	diag "$OUT"
	done_testing
fi
plan $((ncases + 3))

lines=$(grep -c '^@hostile case=' <<<"$OUT")
check "all $ncases cases ran (ran $lines)" test "$lines" -eq "$ncases"
lost_elsewhere=0
while read -r line; do
	name=$(sed -n 's/^@hostile case=\([^ ]*\) .*/\1/p' <<<"$line")
	bad=$(sed -n 's/.* canary_bad=\([0-9]*\).*/\1/p' <<<"$line")
	if [ "$bad" = 0 ]; then
		ok "case $name: canary intact (${line#@hostile case=$name })"
	elif [ "$name" = "$KNOWN_QEMU_BUG" ]; then
		echo "not ok $((++_ph_n)) - case $name: canary intact ($bad words lost) # TODO QEMU 7.2 discards the wrapped part of a descriptor whose addr+len overflows"
	else
		not_ok "case $name: canary intact ($bad words lost)"
		lost_elsewhere=1
	fi
done < <(grep '^@hostile case=' <<<"$OUT")
expect_line "QEMU's device survived: a valid report comes back after the cases" '^@hostile alive=1 needs_reset=0$'
if [ "$STATUS" = "$EXIT_OK" ] && grep -q '^@done test=hostile' <<<"$OUT"; then
	ok "the guest ends with @done"
elif [ "$STATUS" = "$EXIT_FAIL" ] && [ $lost_elsewhere = 0 ] && grep -q '^@fail test=hostile canary words lost' <<<"$OUT"; then
	echo "not ok $((++_ph_n)) - the guest ends with @done (@fail: canary lost in case $KNOWN_QEMU_BUG only) # TODO the QEMU bug above"
else
	not_ok "the guest ends with @done (status $STATUS)"
	diag "$(grep -E '^@|^pagehint' <<<"$OUT")"
fi
done_testing
