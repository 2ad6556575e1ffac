#!/usr/bin/env bash
# test=hostile under our hypervisor: the guest makes one bad submission
# after another to the balloon's reporting queue over the raw ring
# (guest/hostile.c), resetting the device between cases. The VMM must keep
# running and end with the guest's status, log each kind of bad input once
# (and never twice), set DEVICE_NEEDS_RESET for input it cannot act on, and
# discard nothing but what valid descriptors named: the guest's canary
# region is intact after every case, and the device's discarded total is
# no more than the few valid ranges the cases report (~44 KiB). The checks
# are hostile_checks.bash's, which tests/nested/kvm.sh shares.
# Needs a usable /dev/kvm: reported as skipped otherwise.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hostile_checks.bash"

why=$(kvm_unusable)
[ -z "$why" ] || skip_all "$why"
PH=$PH_BUILD/pagehint
ELF=$PH_BUILD/pagehint-guest.elf
[ -x "$PH" ] || skip_all "$PH not built (run make)"
[ -f "$ELF" ] || skip_all "$ELF not built (run make)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

timeout 300 "$PH" run --quiet --cpus 2 --mem 256M --timeout 120 --summary-json "$tmp/s.json" \
	-- workload=none test=hostile >"$tmp/out" 2>"$tmp/err"
RC=$?
# Console lines carry a host timestamp: "[  1.234567] @hostile ...".
sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' "$tmp/out" >"$tmp/console"
mib=$(sed -n 's/.*"discarded_mib": \([0-9.]*\).*/\1/p' "$tmp/s.json" 2>/dev/null)

plan "$(hostile_nchecks)"
hostile_check "$RC" "$tmp/console" "$tmp/err" "$mib"
done_testing
