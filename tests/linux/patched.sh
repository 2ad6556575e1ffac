#!/usr/bin/env bash
# Our own Linux 6.1 kernels (linux/build.sh, docs/linux.md): the
# pagehint-debug variant (page_reporting.engine=pagehint, with DEBUG_VM,
# DEBUG_LIST, PROVE_LOCKING and KASAN) boots under QEMU TCG on q35 with
# virtio-balloon-pci,free-page-reporting=on, 1 GiB and 2 vCPUs, and runs
# memhog (scripts/linux-ref/memhog.c) through scripts/linux-ref/run.sh:
# 512 MiB allocated, verified, held, verified, freed, then idle, 3 rounds.
# Checked: the boot and the balloon with reporting; memhog's data in every
# round; QEMU's resident memory falling after every free (summary.json's
# "rounds", scripts/linux-ref/analyze.py) with report requests in QEMU's
# trace; a kernel log (loglevel=7, up to init's @exit line) without
# lockdep, list-debug, KASAN, WARNING, BUG or Call Trace reports; the
# engine line the series prints. Then memory nearly all taken (memhog takes
# all but 64 MiB of MemAvailable, 4 rounds without idle): data intact, no
# OOM kill. Then page_reporting.engine=bogus: the
# kernel boots, says what is wrong with the value, and reports with the
# stock engine.
#
# The boot check wants both vCPUs online: on q35 Linux finds the second in
# ACPI's MADT (SeaBIOS's MP table lists one CPU), so a kernel without
# CONFIG_ACPI comes up with one CPU and fails it.
#
# The kernel comes from `linux/build.sh VARIANT` (cached; a build from
# nothing takes 5-20 min, allowed 20; "the source package can't be had"
# skips the test with the reason). LINUX_TEST_VARIANT picks another variant
# (stock, stock-debug, pagehint): on a stock kernel the checks of the
# series' own behaviour (the engine line, the bad value) are skipped, with
# the reason. LINUX_TEST_KERNEL=BZIMAGE boots that kernel instead of
# building one. The runs' files (console.log, trace.log, summary.json, ...)
# stay in build/linux-patched/VARIANT/.
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/linux/common.bash disable=SC1091
. "$(dirname "$0")/common.bash"
linux_setup linux-patched

plan 17
ok "the kernel: $built"
diag "$(cat "$(dirname "$kernel")/manifest.txt" 2>/dev/null)"

# -- 1. engine=pagehint, 512 MiB x 3 rounds; "most of the freed memory
#       back" is 3/4 of it (Linux 6.1 gives back ~96% in 4 s here)
rounds=3 back=0.75
run pagehint --hog-mib 512 --hold 1 --idle 8 --rounds $rounds --timeout 240 \
	--append "loglevel=7 page_reporting.engine=pagehint"
con=$(klog "$dir")
balloon=$(grep -m1 -o '@balloon .*' <<<"$con")
case $kvariant in
stock*)    patched=0 ;;
pagehint*) patched=1 ;;
*)         patched=$(grep -q ' engine=' <<<"$balloon" && echo 1 || echo 0) ;;
esac
boot=$(grep -m1 -o '@boot .*' <<<"$con")
cpus=$(sed -n 's/.* cpus=\([0-9]*\) .*/\1/p' <<<"$boot")
t "booted, /init ran, 2 CPUs online (${cpus:-no @boot line})" test "$cpus" = 2
[ "$cpus" = 2 ] || diag "$(grep -E 'smpboot|smp:|Processors:|ACPI: ' <<<"$con" | head -8)"
t "virtio_balloon bound, free page reporting negotiated, page_reporting_order=9" \
	grep -q 'reporting=1 page_reporting_order=9' <<<"$balloon"
verified=$(grep -c '@info verified .*when=held' <<<"$con")
fails=$(grep -c '@fail' <<<"$con")
t "memhog: 512 MiB verified after the write and after the hold in each of $rounds rounds ($verified), 0 @fail ($fails), @exit status=0" \
	finished $rounds
res=$(rounds_ok "$dir" $rounds $back)
rc=$?
t "each free: QEMU's resident memory fell by $back of the freed 512 MiB or more" test $((rc & 1)) = 0
t "each free: report requests in QEMU's trace (virtio_queue_notify, ram_block_discard_range)" \
	test $((rc & 2)) = 0
diag "$res"
absent "kernel log: no lockdep report" 'possible circular locking|inconsistent lock state|possible recursive locking|bad unlock balance|suspicious RCU usage|lock held when returning'
absent "kernel log: no list corruption (DEBUG_LIST)" 'list_add corruption|list_del corruption'
absent "kernel log: no KASAN report" 'KASAN'
absent "kernel log: no WARNING, BUG or Call Trace" 'WARNING: |BUG: |Call Trace'
engine=$(grep -m1 -o 'page_reporting: engine.*' <<<"$con")
if [ "$patched" = 0 ]; then
	skip "kernel log: page_reporting: engine pagehint: a stock kernel ($variant) has no engine"
else
	t "kernel log: page_reporting: engine pagehint (${engine:-none})" grep -q 'page_reporting: engine pagehint' <<<"$con"
fi
tail_on_failure

# -- 2. memory nearly all taken while reports are in flight: memhog takes
#       all but 64 MiB of what the kernel says is available, frees it and
#       takes it again at once, 4 times, so each allocation races the
#       requests of the free before it
run tight --hog-mib 512 --hold 0 --idle 0.2 --rounds 4 --timeout 200 \
	--append "loglevel=7 page_reporting.engine=pagehint memhog.mib=avail-64"
con=$(klog "$dir")
verified=$(grep -c '@info verified .*when=held' <<<"$con")
fails=$(grep -c '@fail' <<<"$con")
t "tight memory ($(grep -m1 -o '@info memhog.mib=[0-9]*' <<<"$con" | sed 's/@info //' || echo 'memhog.mib=?') MiB x 4, no idle): every round verified ($verified), 0 @fail ($fails), @exit status=0" \
	finished 4
absent "tight memory: no OOM kill, and no WARNING, BUG, KASAN, lockdep or list corruption" \
	'invoked oom-killer|Out of memory|page allocation failure|WARNING: |BUG: |KASAN|Call Trace|list_add corruption|list_del corruption|possible circular locking|inconsistent lock state'
tail_on_failure

# -- 3. page_reporting.engine=bogus: an error naming the value, and the
#       stock engine's reporting
if [ "$patched" = 0 ]; then
	for c in "boots" "an error naming the bad value" "stock reporting" "kernel log clean"; do
		skip "page_reporting.engine=bogus: $c: a stock kernel ($variant) has no engine parameter"
	done
else
		run bogus --hog-mib 256 --hold 1 --idle 6 --timeout 150 \
		--append "loglevel=7 page_reporting.engine=bogus"
	con=$(klog "$dir")
	verified=$(grep -c '@info verified .*when=held' <<<"$con")
	fails=$(grep -c '@fail' <<<"$con")
	t "page_reporting.engine=bogus: boots, memhog verifies 256 MiB, @exit status=0" finished 1
	# not the command line's echo, nor init's lines (@balloon shows the
	# parameter as sysfs holds it)
	said=$(grep -v -i -e 'command line' -e '@' <<<"$con" | grep 'bogus' | sed 's/^\[[0-9. ]*\] //')
	t "page_reporting.engine=bogus: the kernel says what is wrong ($(head -1 <<<"${said:-nothing about it}"))" \
		test -n "$said"
	diag "$said"
	res=$(rounds_ok "$dir" 1 $back)
	rc=$?
	t "page_reporting.engine=bogus: stock reporting: QEMU's RSS fell by $back of the freed 256 MiB or more, requests in the trace" \
		test $rc = 0
	diag "$res"
	diag "$(grep -m1 'page_reporting: engine' <<<"$con")
$(grep -m1 -o '@balloon .*' <<<"$con")"
	absent "page_reporting.engine=bogus: no WARNING, BUG, KASAN, lockdep, list corruption or Call Trace" \
		'WARNING: |BUG: |KASAN|Call Trace|list_add corruption|list_del corruption|possible circular locking|inconsistent lock state'
	tail_on_failure
fi
diag "total ${SECONDS} s"
done_testing
