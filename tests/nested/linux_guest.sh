#!/usr/bin/env bash
# Debian's Linux 6.1 as a guest of `pagehint run`, where this machine has
# no usable /dev/kvm: an L1 Linux under QEMU's TCG with AMD SVM emulated,
# kvm-amd in it, and a static pagehint booting the same kernel package's
# bzImage with the Linux reference initramfs (scripts/linux-ref/: busybox,
# memhog, the virtio modules). Linux finds the balloon from the ACPI DSDT,
# binds virtio_balloon to it, inflates to --balloon-target, reports free
# pages while memhog frees 192 MiB, sends stats, deflates when the driver
# is unloaded, and powers off through ACPI (status 0). The run goes on in
# the background with --api-sock, and `pagehint ctl balloon set SIZE
# --wait` deflates the balloon to 0 and inflates it to 64 MiB again while
# Linux runs (MemTotal by Linux's stats, the device's actual). A second,
# short run boots the same kernel's vmlinux through the PVH entry
# (pvh_run). Each is checked from its run's console and summary; the L1's
# console is the diagnostics (build/nested-linux/console.log; per run
# bzimage.log, pvh.log).
#
# The L1 runs under multi-threaded TCG: under thread=single the L2 Linux
# takes a timer interrupt inside an interrupts-off section and deadlocks
# on its run-queue lock (the same with QEMU as the L1's VMM; docs/vmm.md).
# Skipped (never passed) when /dev/kvm is usable (tests/kvm/ runs pagehint
# directly), when QEMU is missing, or when Debian's packages cannot be
# fetched.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvm/linux_guest_checks.bash"

why=$(kvm_unusable)
[ -n "$why" ] || skip_all "/dev/kvm is usable here: tests/kvm/linux_guest.sh runs Linux on pagehint directly"
why=$(qemu_unusable)
[ -z "$why" ] || skip_all "$why"
for tool in gcc python3; do
	command -v $tool >/dev/null || skip_all "$tool is not installed"
done
[ -x "$PH_BUILD/pagehint-static" ] || skip_all "$PH_BUILD/pagehint-static not built (run make)"

REF=$PH_BUILD/linux-ref
linux_guest_fetch "$REF"
kver=$(sed -n 's/^kernel_version=//p' "$REF/manifest.txt")
K=$REF/kernel/lib/modules/$kver/kernel
L1_KERNEL=$REF/kernel/boot/vmlinuz-$kver

W=$PH_BUILD/nested-linux
rm -rf "$W" && mkdir -p "$W"
gcc -static -O2 "$PH_ROOT/tests/nested/l1/init.c" -o "$W/init" 2>"$W/build.log" ||
	skip_all "cannot link statically (static libc missing?): $(head -1 "$W/build.log")"
# The runs: the init adds --kernel /guest.elf, --summary-json, --quiet
# (and --api-sock to a background run); the later --kernel wins.
# linux_live_cmds: the bzImage run in the background, its balloon target
# changed while Linux runs (linux_guest_live_steps).
linux_live_cmds() {
	linux_guest_live_steps "run,--kernel,/vmlinuz,--initrd,/linux.cpio.gz,"
}
# pvh_run: the second run, the vmlinux through the PVH entry
pvh_run() { echo "run,--kernel,/vmlinux,--initrd,/linux.cpio.gz,$(linux_guest_pvh_args)"; }
{ linux_live_cmds; pvh_run; } >"$W/cmds"
python3 "$PH_ROOT/tests/nested/l1/mkcpio.py" "$W/initrd.cpio" "$W/init=init" \
	"$PH_BUILD/pagehint-static=pagehint" "$W/cmds=cmds" "$PH_BUILD/pagehint-guest.elf=guest.elf" \
	"$REF/vmlinuz=vmlinuz" "$REF/vmlinux=vmlinux" "$REF/initramfs.cpio.gz=linux.cpio.gz" \
	"$K/virt/lib/irqbypass.ko=modules/irqbypass.ko" "$K/arch/x86/kvm/kvm.ko=modules/kvm.ko" \
	"$K/drivers/crypto/ccp/ccp.ko=modules/ccp.ko" "$K/arch/x86/kvm/kvm-amd.ko=modules/kvm-amd.ko" ||
	skip_all "cannot build the initrd (kernel package layout?)"

plan $((1 + $(linux_guest_nchecks) + $(linux_guest_live_nchecks) + $(linux_guest_pvh_nchecks)))

# boot: the L1 under multi-threaded TCG (see above). A live L1 prints a
# line at least every 60 s (the init's watchdog), so a console silent for
# 150 s is an L1 that stopped.
boot() { # LOG
	timeout 600 qemu-system-x86_64 -M pc -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
		-nographic -no-reboot -nodefaults -serial stdio -kernel "$L1_KERNEL" \
		-initrd "$W/initrd.cpio" -device isa-debug-exit,iobase=0xf4,iosize=1 \
		-append "console=ttyS0 panic=-1 loglevel=4 nokaslr" >"$1" 2>&1 </dev/null &
	local pid=$! last=0 size=0 quiet=0
	while kill -0 $pid 2>/dev/null; do
		sleep 5
		size=$(stat -c %s "$1")
		if [ "$size" = "$last" ]; then quiet=$((quiet + 5)); else quiet=0 last=$size; fi
		if [ $quiet -ge 150 ]; then kill $pid; wait $pid 2>/dev/null; return 1; fi
	done
	wait $pid 2>/dev/null
	grep -q 'init: all runs done' "$1"
}
# Even under multi-threaded TCG the emulation now and then delivers an
# interrupt to the L2 with its interrupts off: the L2 deadlocks, its vCPU
# never leaves guest mode and the L1 reports a soft lockup. The run's
# --timeout ends it (status 124; the VMM logs where the vCPUs were), and
# the L1 is booted again: three attempts, each kept (attemptN.log).
L=$W/console.log
for attempt in 1 2 3; do
	boot "$L"
	sed -i 's/\r$//' "$L"	# the serial console's line ends
	cp "$L" "$W/attempt$attempt.log"
	# every run of /cmds exited 0
	[ "$(grep -a -c '^init: pagehint exit status 0$' "$L")" -eq "$(grep -c '^&\?run,' "$W/cmds")" ] && break
	echo "# attempt $attempt: $(grep -a -m1 'pagehint exit status\|soft lockup\|vCPU 0: RIP' "$L" || echo 'the L1 stopped')"
done
grep -a -q 'init: loaded /modules/kvm-amd.ko' "$L"
check "kvm-amd loaded in the L1" test $? -eq 0
# run_section N NAME: the Nth run's output (from its `init: running` to its
# `init: end of run`, with the ctl steps of a background run) into
# $W/NAME.log, its summary (between its exit status and the end) into
# $W/NAME.json; prints its exit status.
run_section() {
	awk -v n="$1" '/^init: running/ { k++ } k == n { print } k == n && /^init: end of run$/ { exit }' \
		"$L" >"$W/$2.log"
	sed -n '/^init: pagehint exit status/,/^init: end of run/p' "$W/$2.log" | sed '1d;$d' >"$W/$2.json"
	sed -n 's/^init: pagehint exit status //p' "$W/$2.log"
}
st=$(run_section 1 bzimage)
linux_guest_checks "$W/bzimage.log" "$W/bzimage.json" "$st"
linux_guest_live_checks "$W/bzimage.log"
# pvh_checks: the second run's (pvh_run's) checks
pvh_checks() {
	local st
	st=$(run_section 2 pvh)
	linux_guest_pvh_checks "$W/pvh.log" "$W/pvh.json" "$st"
}
pvh_checks
done_testing
