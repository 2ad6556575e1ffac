#!/usr/bin/env bash
# The main job (`make demo`): a 2 GiB, 2-vCPU VM with our guest allocates
# and frees 1.5 GiB (memhog), first with pagehint's engine, then with
# Linux's (upstream), and we watch the freed memory leave the host. A
# table at the end: per engine, the time from the start of the free until
# 50% and 90% of it was back on the host, and how much was back at the end.
#
# Under our hypervisor when /dev/kvm works: each VM is `pagehint run
# --api-sock S --quiet` in the background and the live view is `pagehint
# ctl --api-sock S watch`, built from the control API alone; the figures
# come from the run's --summary-json. Where KVM can't be used (a machine
# that is itself a nested PVM guest, like our CI), the same guest runs on
# QEMU's virtio-balloon (TCG: slower, but the same protocol); this script
# samples QEMU's resident memory every 0.1 s and computes the same figures
# from those samples, with the same code (build/bench/marks runs
# vmm/reclaim_marks.c): baseline at the free's start.
#
# The guest idles after its free, then exits: 4 s for pagehint, which has
# the memory back within a second; 16 s for every other engine, since
# upstream reports a sixteenth of the free lists every 2 s and needs about
# 11 s for 99% (docs/RESULTS.md).
#
# ENGINE=... runs that engine alone; MEM_MIB=... HOG_MIB=... and IDLE_MS=...
# (the idle for every engine) override the defaults.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tests/lib.sh"

MEM_MIB=${MEM_MIB:-2048}
HOG_MIB=${HOG_MIB:-1536}
if [ -n "${ENGINE:-}" ]; then engines=("$ENGINE"); else engines=(pagehint upstream); fi

idle_ms() {
	if [ -n "${IDLE_MS:-}" ]; then echo "$IDLE_MS"
	elif [ "$1" = pagehint ]; then echo 4000
	else echo 16000; fi
}

guest_cmdline() {
	echo "engine=$1 workload=memhog memhog.mib=$HOG_MIB memhog.hold_ms=1000 memhog.idle_ms=$(idle_ms "$1")"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=$tmp/rows		# engine t50_ms t90_ms freed_mib peak_mib end_mib guest_status
failed=0

# One VM under pagehint run; its live view is ctl watch on the API socket.
run_kvm() {
	local engine=$1 sock=$tmp/$1.sock summary=$PH_BUILD/demo-$1.json vm rc
	rm -f "$summary"
	echo "== pagehint run: ${MEM_MIB} MiB, 2 vCPUs, engine=$engine, memhog ${HOG_MIB} MiB, idle $(($(idle_ms "$engine") / 1000)) s"
	"$PH_BUILD/pagehint" run --api-sock "$sock" --quiet --mem "${MEM_MIB}M" --cpus 2 \
		--summary-json "$summary" -- "$(guest_cmdline "$engine")" &
	vm=$!
	"$PH_BUILD/pagehint" ctl --api-sock "$sock" watch --interval 500 || echo "== ctl watch ended with status $?"
	wait "$vm" && rc=0 || rc=$?
	python3 - "$summary" "$engine" "$rc" >>"$rows" <<'PY' || echo "$engine - - - - - $rc" >>"$rows"
import json, sys
s = json.load(open(sys.argv[1]))
r = s["reclaim"][0] if s["reclaim"] else {}
ms = lambda k: "-" if r.get(k) is None else "%.0f" % r[k]
print(sys.argv[2], ms("ms_50"), ms("ms_90"), r.get("freed_mib", "-"),
      "%.1f" % s["resident_peak_mib"], "%.1f" % s["resident_end_mib"], sys.argv[3])
PY
}

# One VM under QEMU: sample its resident memory (KiB into rss_kib) every
# 0.1 s; print the guest's @ lines as they come and a line every 0.5 s.
run_qemu() {
	local engine=$1 console=$tmp/$1.console samples=$tmp/$1.csv
	local qemu con line partial="" t0 now ms rss_kib mib next_print=0 bar k v rest
	local start_ms="" end_ms="" freed="" peak=0 last=0 rc status
	echo "== QEMU (TCG): ${MEM_MIB} MiB, 2 vCPUs, engine=$engine, memhog ${HOG_MIB} MiB, idle $(($(idle_ms "$engine") / 1000)) s"
	: >"$console"
	qemu-system-x86_64 -M microvm,acpi=off -smp 2 -m "${MEM_MIB}M" -nographic -no-reboot \
		-nodefaults -serial stdio -kernel "$PH_BUILD/pagehint-guest.elf" \
		-device isa-debug-exit,iobase=0x501,iosize=2 \
		-device virtio-balloon-device,free-page-reporting=on \
		-global virtio-mmio.force-legacy=false \
		-append "$(guest_cmdline "$engine")" </dev/null >"$console" 2>&1 &
	qemu=$!
	exec {con}<"$console"
	echo "t_ms,resident_mib" >"$samples"
	printf '%9s%14s\n' "time s" "resident MiB"
	# Microseconds from $EPOCHREALTIME (its decimal point follows the locale).
	t0=${EPOCHREALTIME//[.,]/}
	while kill -0 "$qemu" 2>/dev/null; do
		# The console first, timed before the sample that follows it.
		now=${EPOCHREALTIME//[.,]/}
		printf -v ms '%d.%03d' $(((now - t0) / 1000)) $(((now - t0) % 1000))
		while IFS= read -r line <&"$con"; do
			line=${partial}${line%$'\r'}
			partial=""
			case $line in
			"@event freeing"*) start_ms=${start_ms:-$ms} ;;
			"@event free mib="*) end_ms=${end_ms:-$ms}; freed=${line#@event free mib=}; freed=${freed%% *} ;;
			esac
			case $line in @*) echo "         guest: $line" ;; esac
		done
		partial+=$line
		rss_kib=""
		{ while read -r k v rest; do
			if [ "$k" = VmRSS: ]; then rss_kib=$v; break; fi
		done; } 2>/dev/null <"/proc/$qemu/status" || true
		[ -n "$rss_kib" ] || break
		now=${EPOCHREALTIME//[.,]/}
		ms=$(((now - t0) / 1000))
		mib=$((rss_kib / 1024))
		printf '%d.%03d,%d.%d\n' "$ms" $(((now - t0) % 1000)) "$mib" $((rss_kib % 1024 * 10 / 1024)) >>"$samples"
		[ "$mib" -gt "$peak" ] && peak=$mib
		last=$mib
		if [ "$ms" -ge "$next_print" ]; then
			printf -v bar '%*s' $((mib * 30 / MEM_MIB)) ''
			printf '%7d.%d s%14d  %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$mib" "${bar// /#}"
			next_print=$((next_print + 500))
		fi
		sleep 0.1
	done
	wait "$qemu" && rc=0 || rc=$?
	while IFS= read -r line <&"$con" || [ -n "$line" ]; do
		line=${partial}${line%$'\r'}
		partial=""
		case $line in @*) echo "         guest: $line" ;; esac
	done
	exec {con}<&-
	status=$((rc & 1 ? rc >> 1 : 255))
	grep -q '^@fail' "$console" && echo "== the guest found a data error" >&2 && status=255
	if [ -z "$start_ms" ] || [ -z "$end_ms" ]; then
		echo "$engine - - - $peak $last $status" >>"$rows"
		return
	fi
	local free_us=$((${end_ms/./} - ${start_ms/./}))
	printf "== the guest's own free took %d.%02d s (its freeing to its free line; TCG emulates it)\n" \
		$((free_us / 1000000)) $((free_us % 1000000 / 10000))
	"$PH_BUILD/bench/marks" "$samples" "$start_ms" "$end_ms" "$freed" inf 100 | python3 -c '
import json, sys
m = json.load(sys.stdin)
ms = lambda k: "-" if m[k] is None else "%.0f" % m[k]
print(sys.argv[1], ms("t50_ms"), ms("t90_ms"), *sys.argv[2:])' \
		"$engine" "$freed" "$peak" "$last" "$status" >>"$rows"
}

idles=$(for e in "${engines[@]}"; do printf '%s %d s, ' "$e" $(($(idle_ms "$e") / 1000)); done)
idles=${idles%, }
order=""
for e in "${engines[@]}"; do order+="${order:+, then }engine=$e"; done
echo "== $order: a ${MEM_MIB} MiB, 2-vCPU VM whose guest allocates ${HOG_MIB} MiB, frees it, idles, exits"
if [ -z "${IDLE_MS:-}" ]; then
	echo "== idle after the free: pagehint 4 s (its memory is back within a second), any other engine 16 s"
	echo "   (upstream reports a sixteenth of the free lists every 2 s: about 11 s to 99%)"
else
	echo "== idle after the free: $IDLE_MS ms (IDLE_MS)"
fi
why_not_kvm=$(kvm_unusable)
if [ -z "$why_not_kvm" ]; then
	path="pagehint run, figures from its --summary-json"
	for e in "${engines[@]}"; do run_kvm "$e"; echo; done
else
	why_not_qemu=$(qemu_unusable)
	if [ -n "$why_not_qemu" ]; then
		echo "demo: cannot run: $why_not_kvm, and $why_not_qemu" >&2
		exit 1
	fi
	echo "== KVM can't be used here ($why_not_kvm):"
	echo "== running the same guest on QEMU's virtio-balloon (TCG) instead"
	path="QEMU TCG, its resident memory sampled every 0.1 s"
	for e in "${engines[@]}"; do run_qemu "$e"; echo; done
fi

# The table: times from the free's start (the guest's "@event freeing").
echo "== memory back on the host after the guest freed ${HOG_MIB} MiB ($path)"
printf '%-10s %10s %10s %20s %7s\n' engine "50% back" "90% back" "back at the end" "guest"
sec() { if [ "$1" = - ]; then echo -; else printf '%d.%02d s' $(($1 / 1000)) $(($1 % 1000 / 10)); fi; }
while read -r engine t50 t90 freed peak end status; do
	back=-
	[ "$freed" = - ] || back=$(awk -v p="$peak" -v e="$end" -v f="$freed" 'BEGIN { printf "%.0f of %s MiB", p - e, f }')
	printf '%-10s %10s %10s %20s %7s\n' "$engine" "$(sec "$t50")" "$(sec "$t90")" "$back" "$([ "$status" = 0 ] && echo ok || echo "exit $status")"
	[ "$status" = 0 ] || failed=1
done <"$rows"
echo "   times from the start of the guest's free (-: not reached before the guest exited);"
echo "   back at the end: peak resident minus resident when the guest exited, after its idle"
echo "   ($idles)"
exit "$failed"
