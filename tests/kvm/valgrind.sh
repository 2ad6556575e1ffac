#!/usr/bin/env bash
# The VMM under valgrind (memcheck) for a short guest run: boot, a little
# churn with free page reporting on (the device handles real requests and
# discards), a balloon target so inflate runs too, and a clean exit. The
# run must end with the guest's status 0 and memcheck must report nothing:
# no invalid access, no uninitialised value, no definite or indirect leak.
# vCPU threads spend their time in KVM_RUN, which memcheck treats as a
# plain ioctl; what it checks is the VMM's own code around it.
# Needs a usable /dev/kvm: reported as skipped otherwise. The error paths
# that need no KVM are tests/sanitizers/valgrind.sh.
. "$(dirname "$0")/../lib.sh"

why=$(kvm_unusable)
[ -z "$why" ] || skip_all "$why"
command -v valgrind >/dev/null || skip_all "valgrind is not installed"
PH=$PH_BUILD/pagehint
ELF=$PH_BUILD/pagehint-guest.elf
[ -x "$PH" ] || skip_all "$PH not built (run make)"
[ -f "$ELF" ] || skip_all "$ELF not built (run make)"
plan 3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

timeout 600 valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --track-origins=yes --log-file="$tmp/vg.log" \
	"$PH" run --quiet --cpus 2 --mem 256M --timeout 300 --balloon-target 16M \
	-- workload=churn churn.ms=500 engine=upstream >"$tmp/out" 2>"$tmp/err"
RC=$?
if [ $RC -eq 0 ]; then ok "the run under valgrind ends with the guest's status 0"; else
	not_ok "the run under valgrind ends with the guest's status 0 (status $RC; 99 is memcheck)"
	diag "$(tail -10 "$tmp/out")"; diag "$(tail -10 "$tmp/err")"; fi
check "the guest's workload finished" grep -q '@done workload=churn' "$tmp/out"
if grep -q 'ERROR SUMMARY: 0 errors' "$tmp/vg.log"; then ok "memcheck: 0 errors"; else
	not_ok "memcheck: errors"; diag "$(grep -v '^==[0-9]*== *$' "$tmp/vg.log" | head -60)"; fi
done_testing
