#!/usr/bin/env bash
# Debian's Linux 6.1 as a guest of `pagehint run` on this machine's KVM:
# the kernel package's bzImage with the Linux reference initramfs
# (scripts/linux-ref/), then the same kernel's vmlinux through the PVH
# entry, checked as tests/kvm/linux_guest_checks.bash says. The guests'
# consoles are the diagnostics (build/linux-guest/console.log, pvh-console.log).
# Skipped where /dev/kvm is unusable (tests/nested/linux_guest.sh runs it
# under nested KVM there) and on KVM without VMX/SVM (PVM): there Linux's
# kernel runs at CPL0, emulated instruction by instruction, and does not
# boot in useful time.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/linux_guest_checks.bash"

why=$(kvm_unusable)
[ -z "$why" ] || skip_all "$why (tests/nested/linux_guest.sh runs Linux on pagehint under nested KVM)"
grep -qwE 'vmx|svm' /proc/cpuinfo ||
	skip_all "KVM without VMX/SVM (PVM): Linux's kernel would run at CPL0, emulated"
PH=$PH_BUILD/pagehint
[ -x "$PH" ] || skip_all "$PH not built (run make)"

REF=$PH_BUILD/linux-ref
linux_guest_fetch "$REF"

W=$PH_BUILD/linux-guest
rm -rf "$W" && mkdir -p "$W"
plan $(($(linux_guest_nchecks) + $(linux_guest_pvh_nchecks)))
IFS=, read -r -a args <<<"$(linux_guest_args)"
timeout 400 "$PH" run --kernel "$REF/vmlinuz" --initrd "$REF/initramfs.cpio.gz" --quiet \
	--summary-json "$W/summary.json" "${args[@]}" >"$W/console.log" 2>&1 </dev/null
linux_guest_checks "$W/console.log" "$W/summary.json" $?
# pvh_run: the same kernel's vmlinux through the PVH entry, short
pvh_run() {
	local -a pargs
	IFS=, read -r -a pargs <<<"$(linux_guest_pvh_args)"
	timeout 300 "$PH" run --kernel "$REF/vmlinux" --initrd "$REF/initramfs.cpio.gz" --quiet \
		--summary-json "$W/pvh-summary.json" "${pargs[@]}" >"$W/pvh-console.log" 2>&1 </dev/null
	linux_guest_pvh_checks "$W/pvh-console.log" "$W/pvh-summary.json" $?
}
pvh_run
done_testing
