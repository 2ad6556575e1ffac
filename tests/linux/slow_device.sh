#!/usr/bin/env bash
# pagehint's engine in Linux 6.1 (linux/, docs/linux.md) against a slow
# balloon device, then a silent one. QEMU answers a report only after
# discarding its ranges; build/tests/slow_discard.so (preloaded into QEMU)
# delays those discards by what a file says, which the test changes while
# the guest runs. The pagehint-debug kernel, 1 GiB, 2 vCPUs, memhog
# 512 MiB x 3 rounds:
#   boot and round 1: every discard 300 ms late, so every answer is slower
#     than the engine's 250 ms: its requests must stay at the first
#     request's 128 MiB (the slow start halves, never below that);
#   round 2: answers fast again: the limit must grow back (a request
#     above 128 MiB);
#   round 3: one discard held 10 s, a device that says nothing for 10 s
#     (the driver waits without a timeout, as with the stock engine):
#     the memory must still come back once it answers.
# Every round's data verified, QEMU's resident memory falls after every
# free, and the kernel log has no OOM kill, hung task, RCU stall, lockdep,
# KASAN, list corruption, WARNING or BUG.
#
# A discard delayed in QEMU holds QEMU's big lock, so the whole guest
# waits with it, not only its reporting: "never answers" can't be made
# with QEMU without stopping the guest, hence 10 s, under the 21 s after
# which Linux's RCU stall detector would speak of the host's stall.
# Same kernel and knobs as tests/linux/patched.sh (common.bash); the runs'
# files stay in build/linux-slow/VARIANT/.
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/linux/common.bash disable=SC1091
. "$(dirname "$0")/common.bash"
shim=$PH_BUILD/tests/slow_discard.so
[ -f "$shim" ] || skip_all "$shim is not built (run make)"
linux_setup linux-slow
case $kvariant in
stock*) skip_all "the back-off is the series' engine's; $variant is a stock kernel" ;;
esac

plan 8
ok "the kernel: $built"

dir=$out/slow
delay=$out/delay_ms shimlog=$out/slow_discard.log
rm -rf "$shimlog" "$dir"	# the watcher must not read the last run's console
echo 300 >"$delay"
# the phases, switched on memhog's lines: fast at round 2's allocation,
# one 10 s discard at round 3's; the switch times (host clock, us) go to
# $out/switches for the checks
watch_console() {
	local con=$dir/console.log
	rm -f "$out/switches"
	until grep -q '@event alloc .*round=2' "$con" 2>/dev/null; do sleep 0.1; done
	echo 0 >"$delay"
	echo "fast $(date +%s%6N)" >>"$out/switches"
	until grep -q '@event alloc .*round=3' "$con" 2>/dev/null; do sleep 0.1; done
	echo 10000 >"$delay"
	echo "silent $(date +%s%6N)" >>"$out/switches"
	until grep -q ' 10000$' "$shimlog" 2>/dev/null; do sleep 0.1; done
	echo 0 >"$delay"
}
watch_console &
watcher=$!
SLOW_DISCARD_MS_FILE=$delay SLOW_DISCARD_LOG=$shimlog LD_PRELOAD=$shim \
	run slow --hog-mib 512 --hold 1 --idle 14 --rounds 3 --timeout 240 \
	--append "loglevel=7 page_reporting.engine=pagehint"
kill $watcher 2>/dev/null
wait $watcher 2>/dev/null
con=$(klog "$dir")
diag "switches: $(tr '\n' ' ' <"$out/switches" 2>/dev/null)"

t "page_reporting: engine pagehint ($(grep -m1 -o 'page_reporting: engine.*' <<<"$con" || echo none))" \
	grep -q 'page_reporting: engine pagehint' <<<"$con"
verified=$(grep -c '@info verified .*when=held' <<<"$con")
fails=$(grep -c '@fail' <<<"$con")
t "memhog: 512 MiB verified after the write and after the hold in each of 3 rounds ($verified), 0 @fail ($fails), @exit status=0" \
	finished 3

# the requests (QEMU's trace: a reporting-queue notify and its discards)
# by phase; prints "PHASE requests largest_mib" lines
phases=$(python3 - "$lr" "$dir" "$out/switches" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import analyze
events = analyze.read_trace(sys.argv[2]) or []
reqs, _ = analyze.requests_from_trace(events)
sw = dict(l.split() for l in open(sys.argv[3]) if l.strip()) if len(sys.argv) > 3 else {}
fast, silent = int(sw.get('fast', 1 << 62)), int(sw.get('silent', 1 << 62))
for name, lo, hi in (('slow', 0, fast), ('fast', fast, silent), ('silent', silent, 1 << 62)):
    mib = [sum(lens) / 2**20 for t, lens in reqs if lo <= t < hi]
    print(name, len(mib), round(max(mib), 1) if mib else 0)
PY
)
diag "$phases"
read -r _ n_slow max_slow <<<"$(grep '^slow ' <<<"$phases")"
read -r _ n_fast max_fast <<<"$(grep '^fast ' <<<"$phases")"
n300=$(grep -c ' 300$' "$shimlog" 2>/dev/null)
t "the slow device: discards held 300 ms ($n300 of them)" test "${n300:-0}" -ge 4
t "every answer over 250 ms: the engine's requests stay at 128 MiB or less (${n_slow:-0} requests, largest ${max_slow:-?} MiB)" \
	awk -v n="${n_slow:-0}" -v m="${max_slow:-999}" 'BEGIN { exit !(n >= 4 && m <= 128) }'
t "fast answers again: the limit grows back (${n_fast:-0} requests, largest ${max_fast:-?} MiB)" \
	awk -v m="${max_fast:-0}" 'BEGIN { exit !(m > 128) }'
n10k=$(grep -c ' 10000$' "$shimlog" 2>/dev/null)
res=$(rounds_ok "$dir" 3 0.75)
rc=$?
t "a device silent for 10 s ($n10k discard held), slow, fast: QEMU's resident memory fell by 3/4 of each freed 512 MiB or more" \
	test "${n10k:-0}" = 1 -a $((rc & 1)) = 0
diag "$res"
absent "kernel log: no OOM kill, hung task, RCU stall, lockdep, KASAN, list corruption, WARNING or BUG" \
	'invoked oom-killer|Out of memory|page allocation failure|blocked for more than|rcu.*stall|possible circular locking|inconsistent lock state|KASAN|list_add corruption|list_del corruption|WARNING: |BUG: |Call Trace'
tail_on_failure
diag "total ${SECONDS} s"
done_testing
