# The checks of a test=hostile run on our hypervisor, shared by
# tests/kvm/hostile.sh (pagehint on this machine's KVM) and
# tests/nested/kvm.sh (pagehint inside the nested L1). Source after
# tests/lib.sh; `hostile_nchecks` says how many TAP lines `hostile_check`
# prints, for the caller's plan.
#
# hostile_check STATUS OUT ERR DISCARDED_MIB
#   STATUS         pagehint's exit status
#   OUT            file: the console, host timestamps already stripped
#   ERR            file: the VMM's log lines ("pagehint: ...")
#   DISCARDED_MIB  the summary's discarded_mib (empty if there was none)
# What must hold: the VMM runs to the end with the guest's status 0; each
# case leaves the canary intact; the cases our device must refuse set
# DEVICE_NEEDS_RESET and the others do not; each kind of bad input is
# logged once and no device log line repeats; the device discarded no
# more than the few valid ranges the cases report (~44 KiB).

# The cases our device must refuse (DEVICE_NEEDS_RESET) and the ones it may
# act on or that are only ignored register writes (guest/hostile.c).
HOSTILE_MUST_RESET="out-of-ram past-ram-end overflowing unaligned-addr unaligned-len valid-and-out-of-ram
looping-chain self-loop longer-than-queue indirect-outside-ram indirect-bad-len indirect-nested
indirect-loop indirect-with-next head-beyond-queue next-beyond-queue avail-idx-jump"
HOSTILE_NO_RESET="overlapping reused-in-flight queue-ready-0-mid-use queue-num-while-ready queue-sel-games"
# One log line per kind of misuse the cases make (vmm/balloon.c,
# vmm/vring_dev.c, vmm/virtio_mmio.c wording).
HOSTILE_KINDS=("reported range is not inside guest RAM" "address + length overflows"
	"not 4 KiB aligned" "descriptor chain loops" "longer than the queue size"
	"indirect table is outside guest RAM" "not a multiple of 16" "inside an indirect table"
	"also has NEXT set" "head index is beyond" "next index is beyond" "avail index moved"
	"notification for a queue that does not exist or is not ready"
	"queue layout written while the queue is ready"
	"queue register written for a queue that does not exist")

hostile_nchecks() {
	local ncases
	ncases=$(wc -w <<<"$HOSTILE_MUST_RESET $HOSTILE_NO_RESET")
	echo $((4 + 2 * ncases + ${#HOSTILE_KINDS[@]} + 1))
}

hostile_check() {
	local status=$1 out=$2 err=$3 mib=$4 c line want k n dups
	if [ "$status" = 0 ]; then ok "the VMM ran to the end with the guest's status 0"; else
		not_ok "the VMM ran to the end with the guest's status 0 (status ${status:-none})"
		diag "$(tail -20 "$out")"; diag "$(tail -20 "$err")"; fi
	check "the guest ends with @done" grep -q '^@done test=hostile' "$out"
	check "the device still works after the cases" grep -q '^@hostile alive=1 needs_reset=0$' "$out"

	for c in $HOSTILE_MUST_RESET $HOSTILE_NO_RESET; do
		line=$(grep "^@hostile case=$c " "$out")
		if grep -q ' canary_bad=0$' <<<"$line"; then ok "case $c: canary intact"; else
			not_ok "case $c: canary intact (${line:-no line})"; fi
		want=0
		[[ " $(echo $HOSTILE_MUST_RESET) " == *" $c "* ]] && want=1
		if grep -q " needs_reset=$want " <<<"$line"; then ok "case $c: needs_reset=$want"; else
			not_ok "case $c: needs_reset=$want (${line:-no line})"; fi
	done

	for k in "${HOSTILE_KINDS[@]}"; do
		n=$(grep -cF -- "$k" "$err")
		if [ "$n" -eq 1 ]; then ok "logged once: $k"; else not_ok "logged once: $k ($n times)"; fi
	done
	dups=$(grep '^pagehint: virtio' "$err" | sed 's/ (.*//' | sort | uniq -d)
	if [ -z "$dups" ]; then ok "no device log line repeats"; else not_ok "device log lines repeat"; diag "$dups"; fi

	if [ -n "$mib" ] && awk -v m="$mib" 'BEGIN { exit !(m <= 0.1) }'; then
		ok "discarded $mib MiB: no more than the valid ranges"
	else
		not_ok "discarded ${mib:-?} MiB: no more than the valid ranges (~0.04 MiB)"
	fi
}
