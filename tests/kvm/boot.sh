#!/usr/bin/env bash
# End to end under KVM: `pagehint run` boots the project's guest (PVH entry,
# 2 vCPUs started by INIT/SIPI, virtio-balloon over virtio-mmio) and the run
# ends with the guest's exit status; a guest that hangs is stopped by
# --timeout. Needs a usable /dev/kvm: reported as skipped otherwise.
. "$(dirname "$0")/../lib.sh"

why=$(kvm_unusable)
[ -z "$why" ] || skip_all "$why"
PH=$PH_BUILD/pagehint
ELF=$PH_BUILD/pagehint-guest.elf
[ -x "$PH" ] || skip_all "$PH not built (run make)"
[ -f "$ELF" ] || skip_all "$ELF not built (run make)"
plan 7

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME ARGS...: sets OUT, ERR, RC
run() {
	local name=$1
	shift
	timeout 180 "$PH" run --quiet "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	RC=$?
	OUT=$(cat "$tmp/$name.out")
	ERR=$(cat "$tmp/$name.err")
}

run boot --cpus 2 --mem 256M --timeout 60 --summary-json "$tmp/boot.json" \
	--trace "$tmp/boot.csv" -- workload=none
if [ $RC -eq 0 ]; then ok "boots on 2 vCPUs and exits with status 0"; else
	not_ok "boots on 2 vCPUs and exits with status 0 (status $RC)"; diag "$OUT"; diag "$ERR"; fi
if grep -Eq '^\[ *[0-9]+\.[0-9]{6}\] @boot cpus=2 ' <<<"$OUT"; then
	ok "guest console lines arrive with a host timestamp; both CPUs up"
else
	not_ok "guest console lines arrive with a host timestamp; both CPUs up"; diag "$OUT"
fi
check "summary JSON: guest_exit 0, 2 cpus" \
	grep -q '"guest_exit": 0' "$tmp/boot.json"
check "summary JSON: cpus" grep -q '"cpus": 2' "$tmp/boot.json"
check "trace CSV has a header and samples" \
	bash -c "head -1 '$tmp/boot.csv' | grep -q '^t_ms,resident_mib' && [ \$(wc -l <'$tmp/boot.csv') -ge 2 ]"

run hang --cpus 2 --mem 128M --timeout 2 -- test=idle test.ms=600000
if [ $RC -eq 124 ]; then ok "a hanging guest is stopped by --timeout with status 124"; else
	not_ok "a hanging guest is stopped by --timeout with status 124 (status $RC)"; diag "$ERR"; fi
check "timeout message names --timeout" grep -q -- '--timeout' <<<"$ERR"

done_testing
