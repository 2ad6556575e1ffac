#!/usr/bin/env bash
# test=hostile under our hypervisor: the guest makes one bad submission
# after another to the balloon's reporting queue over the raw ring
# (guest/hostile.c), resetting the device between cases. The VMM must keep
# running and end with the guest's status, log each kind of bad input once
# (and never twice), set DEVICE_NEEDS_RESET for input it cannot act on, and
# discard nothing but what valid descriptors named: the guest's canary
# region is intact after every case, and the device's discarded total is
# no more than the few valid ranges the cases report (~44 KiB).
# Needs a usable /dev/kvm: reported as skipped otherwise.
. "$(dirname "$0")/../lib.sh"

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
OUT=$(sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' "$tmp/out")
ERR=$(cat "$tmp/err")

# The cases our device must refuse (DEVICE_NEEDS_RESET) and the ones it may
# act on or that are only ignored register writes.
MUST_RESET="out-of-ram past-ram-end overflowing unaligned-addr unaligned-len valid-and-out-of-ram
looping-chain self-loop longer-than-queue indirect-outside-ram indirect-bad-len indirect-nested
indirect-loop indirect-with-next head-beyond-queue next-beyond-queue avail-idx-jump"
NO_RESET="overlapping reused-in-flight queue-ready-0-mid-use queue-num-while-ready queue-sel-games"
# One log line per kind of misuse the cases make (vmm/balloon.c,
# vmm/vring_dev.c, vmm/virtio_mmio.c wording).
KINDS=("reported range is not inside guest RAM" "address + length overflows"
	"not 4 KiB aligned" "descriptor chain loops" "longer than the queue size"
	"indirect table is outside guest RAM" "not a multiple of 16" "inside an indirect table"
	"also has NEXT set" "head index is beyond" "next index is beyond" "avail index moved"
	"notification for a queue that does not exist or is not ready"
	"queue layout written while the queue is ready"
	"queue register written for a queue that does not exist")

ncases=$(wc -w <<<"$MUST_RESET $NO_RESET")
plan $((4 + 2 * ncases + ${#KINDS[@]} + 1))

if [ $RC -eq 0 ]; then ok "the VMM ran to the end with the guest's status 0"; else
	not_ok "the VMM ran to the end with the guest's status 0 (status $RC)"
	diag "$(tail -20 <<<"$OUT")"; diag "$(tail -20 <<<"$ERR")"; fi
check "the guest ends with @done" grep -q '^@done test=hostile' <<<"$OUT"
check "the device still works after the cases" grep -q '^@hostile alive=1 needs_reset=0$' <<<"$OUT"

for c in $MUST_RESET $NO_RESET; do
	line=$(grep "^@hostile case=$c " <<<"$OUT")
	if grep -q ' canary_bad=0$' <<<"$line"; then ok "case $c: canary intact"; else
		not_ok "case $c: canary intact (${line:-no line})"; fi
	want=0
	[[ " $(echo $MUST_RESET) " == *" $c "* ]] && want=1
	if grep -q " needs_reset=$want " <<<"$line"; then ok "case $c: needs_reset=$want"; else
		not_ok "case $c: needs_reset=$want (${line:-no line})"; fi
done

for k in "${KINDS[@]}"; do
	n=$(grep -cF -- "$k" <<<"$ERR")
	if [ "$n" -eq 1 ]; then ok "logged once: $k"; else not_ok "logged once: $k ($n times)"; fi
done
dups=$(grep '^pagehint: virtio' <<<"$ERR" | sed 's/ (.*//' | sort | uniq -d)
if [ -z "$dups" ]; then ok "no device log line repeats"; else not_ok "device log lines repeat"; diag "$dups"; fi

mib=$(sed -n 's/.*"discarded_mib": \([0-9.]*\).*/\1/p' "$tmp/s.json")
if [ -n "$mib" ] && awk -v m="$mib" 'BEGIN { exit !(m <= 0.1) }'; then
	ok "discarded $mib MiB: no more than the valid ranges"
else
	not_ok "discarded ${mib:-?} MiB: no more than the valid ranges (~0.04 MiB)"
fi
done_testing
