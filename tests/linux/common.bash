# Shared by the tests of our own Linux 6.1 kernels (tests/linux/*.sh):
# the kernel and initramfs they boot, and the checks of a run's console
# and summary. Source it after tests/lib.sh.
# shellcheck disable=SC2034,SC2154 # globals shared with the test sourcing it

# linux_setup NAME: skips the test (with the reason) where QEMU, python3,
# Debian's archive or the source package can't be had; fails it (plan 1)
# where a build fails. Sets variant (LINUX_TEST_VARIANT, default
# pagehint-debug), lr, out (build/NAME/VARIANT), kernel (a bzImage:
# linux/build.sh's, or LINUX_TEST_KERNEL), built (where it came from) and
# kvariant (the variant its manifest names).
linux_setup() {
	why=$(qemu_unusable)
	[ -z "$why" ] || skip_all "$why"
	command -v python3 >/dev/null || skip_all "python3 is not installed"
	variant=${LINUX_TEST_VARIANT:-pagehint-debug}
	lr=$PH_ROOT/scripts/linux-ref
	out=$PH_BUILD/$1/$variant
	mkdir -p "$out"
	SECONDS=0

	# the initramfs (busybox from Debian's archive), then the kernel
	log=$(timeout 600 "$lr/build.sh" --no-modules 2>&1)
	rc=$?
	[ $rc -ne 3 ] || skip_all "Debian's archive can't be reached: $(grep 'cannot fetch' <<<"$log" | head -1)"
	if [ $rc -ne 0 ]; then
		plan 1
		not_ok "scripts/linux-ref/build.sh --no-modules (exit $rc)"
		diag "$log"
		done_testing
	fi

	if [ -n "${LINUX_TEST_KERNEL:-}" ]; then
		kernel=$LINUX_TEST_KERNEL
		[ -s "$kernel" ] || skip_all "LINUX_TEST_KERNEL=$kernel: no such file"
		built="LINUX_TEST_KERNEL=$kernel"
	else
		[ -x "$PH_ROOT/linux/build.sh" ] || skip_all "linux/build.sh is missing"
		log=$(timeout 1200 "$PH_ROOT/linux/build.sh" "$variant" 2>&1)
		rc=$?
		printf '%s\n' "$log" >"$out/build.log"
		[ $rc -ne 3 ] || skip_all "linux/build.sh $variant: $(grep -m1 'cannot have' <<<"$log" || tail -1 <<<"$log")"
		kernel=$("$PH_ROOT/linux/build.sh" --path "$variant" 2>/dev/null)
		if [ $rc -ne 0 ] || [ ! -s "$kernel" ]; then
			plan 1
			not_ok "linux/build.sh $variant (exit $rc$([ $rc = 124 ] && echo ', over 20 min'))"
			diag "$(tail -30 <<<"$log")"
			done_testing
		fi
		built="linux/build.sh $variant: $kernel (${SECONDS} s)"
	fi
	# stock or patched: the variant linux/build.sh recorded beside the kernel;
	# without one, a test tells by the engine parameter in the guest
	kvariant=$(sed -n 's/^variant=//p' "$(dirname "$kernel")/manifest.txt" 2>/dev/null)
}

# run NAME ARGS...: scripts/linux-ref/run.sh --guest linux with this
# kernel into $out/NAME; sets dir and runrc, keeps run.sh's output in
# $dir.run.log
run() {
	local name=$1
	shift
	dir=$out/$name
	timeout 300 "$lr/run.sh" --guest linux --kernel "$kernel" --mem 1G --out "$dir" "$@" \
		>"$dir.run.log" 2>&1
	runrc=$?
	diag "$(grep -E '^(==|  guest: @(boot|balloon|exit|fail))' "$dir.run.log")"
	diag "$name: run.sh exit $runrc, ${SECONDS} s since the start"
}
# t DESCRIPTION COMMAND...: lib.sh's check, and bad=1 when it fails
bad=0
t() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; bad=1; fi
}
# klog DIR: the console without the host's stamps, up to init's @exit
# line (what follows is the reset that ends the VM)
klog() { sed 's/^[0-9]* //' "$1/console.log" 2>/dev/null | sed '/@exit status=/q'; }
# absent DESCRIPTION ERE: ok when the kernel log (which must be there) has
# no line matching ERE; else not ok, with the lines
absent() {
	local hits
	hits=$(klog "$dir" | grep -E "$2")
	if ! klog "$dir" | grep -q 'Linux version'; then
		not_ok "$1 (no kernel log)"
		bad=1
	elif [ -z "$hits" ]; then
		ok "$1"
	else
		not_ok "$1"
		bad=1
		diag "$(head -20 <<<"$hits")"
	fi
}
# rounds_ok DIR N SHARE: prints each round of summary.json; exit status
# 0 when it has N rounds, after each free QEMU's RSS fell by SHARE of the
# freed memory or more, and QEMU's trace has report requests; else 1 for
# the RSS, 2 for the requests, 3 for both
rounds_ok() {
	python3 - "$1/summary.json" "$2" "$3" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print(f"no summary: {e}")
    sys.exit(3)
want, share = int(sys.argv[2]), float(sys.argv[3])
rounds = s.get("rounds") or []
f = lambda v: "never" if v is None else f"{v / 1000:.1f} s"
rss = reqs = len(rounds) == want
reqs = reqs and s.get("source") == "qemu-trace"
for r in rounds:
    back = r.get("returned_share") or 0
    rss = rss and back >= share
    reqs = reqs and (r.get("requests") or 0) >= 1
    print(f"round {r['round']}: freed {r['freed_mib']} MiB; QEMU RSS {r.get('rss_at_free_mib')} -> "
          f"{r.get('rss_low_mib')} MiB, {100 * back:.0f}% back (t50 {f(r.get('t50_ms'))}, "
          f"t90 {f(r.get('t90_ms'))}); {r.get('requests')} requests, {r.get('reported_mib')} MiB reported")
print(f"{len(rounds)} of {want} rounds, requests from {s.get('source')}")
sys.exit((0 if rss else 1) | (0 if reqs else 2))
PY
}
# the console's tail, when a check of this run failed
tail_on_failure() {
	[ $bad = 0 ] || diag "console tail ($dir/console.log):
$(klog "$dir" | tail -40)"
	bad=0
}

# shellcheck disable=SC2317 # called through t
# finished ROUNDS: every round verified, memhog done, init's verdict 0,
# run.sh's too (analysis included)
finished() {
	[ "$verified" = "$1" ] && [ "$fails" = 0 ] && grep -q '@done workload=memhog' <<<"$con" &&
		grep -q '@exit status=0$' <<<"$con" && [ "$runrc" = 0 ]
}
