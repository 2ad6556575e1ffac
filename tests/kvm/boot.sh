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
plan 13

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

# Free page reporting end to end: the guest's driver finds our device,
# negotiates REPORTING and STATS_VQ (reporting is queue 3), reports 8 x
# 4 MiB, and the host discards them.
run report --cpus 2 --mem 256M --timeout 60 --summary-json "$tmp/report.json" -- test=report quiet
if [ $RC -eq 0 ]; then ok "report request: clean exit"; else
	not_ok "report request: clean exit (status $RC)"; diag "$OUT"; diag "$ERR"; fi
check "REPORTING and STATS_VQ negotiated, reporting queue 3" grep -Eq \
	'@balloon features=0x[0-9a-f]+ reporting=1 stats=1 capacity=[1-9][0-9]* report_queue=3$' <<<"$OUT"
check "8 x 4 MiB reported, acknowledged" grep -Eq '@report cpu=1 ranges=8 mib=32 rc=0 ' <<<"$OUT"
discarded=$(grep -o '"discarded_mib": [0-9.]*' "$tmp/report.json" | awk '{print $2}')
if awk -v d="${discarded:-0}" 'BEGIN { exit !(d >= 32) }'; then
	ok "the host discarded the 32 MiB ($discarded MiB)"
else
	not_ok "the host discarded the 32 MiB (${discarded:-none})"; diag "$(cat "$tmp/report.json")"
fi

# Inflate: the host asks for a 56 MiB balloon; the guest gives 14336 pages.
run inflate --cpus 2 --mem 256M --balloon-target 56M --timeout 60 -- test=idle test.ms=3000 quiet
if [ $RC -eq 0 ]; then ok "inflate: clean exit"; else
	not_ok "inflate: clean exit (status $RC)"; diag "$ERR"; fi
check "inflate: the guest reached the target" \
	grep -Eq '@balloon target=14336 actual=14336 inflated=14336 ' <<<"$OUT"

done_testing
