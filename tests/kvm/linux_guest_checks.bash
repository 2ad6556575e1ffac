# shellcheck shell=bash
# The checks of a Linux guest's run on `pagehint run` (linux_guest_args),
# shared by tests/kvm/linux_guest.sh (KVM here) and
# tests/nested/linux_guest.sh (nested KVM): Debian's Linux 6.1 with the
# reference initramfs (scripts/linux-ref/) powers off through ACPI with
# status 0; virtio_balloon binds the device found in the ACPI DSDT with
# free page reporting; memhog verifies and frees 192 MiB and the host
# takes memory back; the balloon inflates to the 64 MiB target and
# deflates when the driver is unloaded (MemTotal both ways); the stats
# queue carries Linux's stats; no device errors; exits add up.

# The second run, short: the same kernel's vmlinux (the ELF inside the
# bzImage, scripts/linux-ref/build.sh) through the PVH entry: Linux takes
# the memory map, command line, initrd (the first module) and RSDP from
# hvm_start_info, binds virtio_balloon with reporting, runs a small memhog
# and powers off (linux_guest_pvh_checks).

# pagehint run's arguments after --kernel/--initrd (',' between words for
# the nested init; the direct test splits them).
linux_guest_args() { echo "--cpus,2,--mem,512M,--timeout,150,--balloon-target,64M,--,memhog.mib=192,memhog.hold=3,memhog.idle=12,balloon.rmmod=1"; }
linux_guest_nchecks() { echo 9; }
linux_guest_pvh_args() { echo "--cpus,2,--mem,256M,--timeout,120,--,memhog.mib=64,memhog.hold=1,memhog.idle=3"; }
linux_guest_pvh_nchecks() { echo 6; }

# linux_guest_fetch DIR: the kernel package and the initramfs into DIR
# (scripts/linux-ref/build.sh, cached); skips the test when Debian's
# packages can't be fetched, fails it when the build fails.
linux_guest_fetch() {
	local rc
	LINUX_REF_DIR=$1 "$PH_ROOT/scripts/linux-ref/build.sh" >/dev/null 2>"$PH_BUILD/linux-ref.log"
	rc=$?
	[ $rc -ne 3 ] || skip_all "Debian's packages cannot be fetched: $(tail -1 "$PH_BUILD/linux-ref.log")"
	[ $rc -eq 0 ] || { plan 1; not_ok "scripts/linux-ref/build.sh"; diag "$(tail -5 "$PH_BUILD/linux-ref.log")"; done_testing; }
}

# linux_guest_checks LOG SUMMARY STATUS: the guest's console (as pagehint
# printed it), the --summary-json file, pagehint's exit status.
linux_guest_checks() {
	local L=$1 S=$2 st=$3 bal req peak end inflate deflate stats before atend after
	field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$S" "$1" 2>/dev/null; }

	if [ "$st" = 0 ] && [ "$(field end)" = poweroff ]; then ok "Linux powered off through ACPI: status 0"
	else not_ok "Linux powered off through ACPI: status 0 (status ${st:-none}, end $(field end))"; diag "$(tail -30 "$L")"; fi
	bal=$(grep -a '@balloon driver=virtio_balloon' "$L" | tail -1)
	if [[ $bal == *reporting=1* ]]; then ok "virtio_balloon bound the device (ACPI, virtio-mmio), free page reporting negotiated"
	else not_ok "virtio_balloon bound the device, free page reporting negotiated"; diag "${bal:-no @balloon line}"; diag "$(grep -a 'virtio\|@fail\|@warn' "$L" | head)"; fi
	check "memhog verified its 192 MiB and exited 0" grep -a -q '@exit status=0' "$L"
	req=$(field report_requests) peak=$(field resident_peak_mib) end=$(field resident_end_mib)
	if [ "${req:-0}" -gt 0 ] && python3 -c "import sys; sys.exit(not ($end < $peak - 96))"; then
		ok "Linux reported free memory and the host took it back ($req requests, resident $peak -> $end MiB)"
	else not_ok "Linux reported free memory and the host took it back"; diag "requests ${req:-?}, resident $peak -> $end MiB"; fi
	inflate=$(field ioeventfd_notifies.inflate) deflate=$(field ioeventfd_notifies.deflate) stats=$(field ioeventfd_notifies.stats)
	before=$(sed -n 's/.*@boot .*mem_kib=\([0-9]*\).*/\1/p' "$L" | tail -1)
	atend=$(sed -n 's/.*@info memtotal_kib=\([0-9]*\) when=end.*/\1/p' "$L" | tail -1)
	after=$(sed -n 's/.*@info memtotal_kib=\([0-9]*\) when=deflated.*/\1/p' "$L" | tail -1)
	if [ "${inflate:-0}" -gt 0 ] && [ -n "$before" ] && [ -n "$atend" ] && [ $((before - atend)) -ge $((56 << 10)) ]; then
		ok "inflated to the 64 MiB target: MemTotal $before -> $atend KiB ($inflate inflate notifies)"
	else not_ok "inflated to the 64 MiB target"; diag "MemTotal ${before:-?} -> ${atend:-?} KiB, ${inflate:-?} inflate notifies"; fi
	if [ "${deflate:-0}" -gt 0 ] && [ -n "$after" ] && [ "$after" -ge $((atend + (56 << 10))) ]; then
		ok "deflated when the driver was unloaded: MemTotal $atend -> $after KiB ($deflate deflate notifies)"
	else not_ok "deflated when the driver was unloaded"; diag "MemTotal ${atend:-?} -> ${after:-?} KiB, ${deflate:-?} deflate notifies"; fi
	check "the stats queue delivered Linux's stats (${stats:-0} buffers)" test "${stats:-0}" -gt 0
	check "no device errors" test "$(field device_errors)" = 0
	check "exits_total is the sum of the causes" python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["exits_total"] != sum(d["exits"].values()))' "$S"
	echo "# the Linux guest's run: $(grep -a 'guest powered off' "$L" | head -1)"
}

# linux_guest_pvh_checks LOG SUMMARY STATUS: the PVH run's console,
# --summary-json file and exit status (linux_guest_pvh_args).
linux_guest_pvh_checks() {
	local L=$1 S=$2 st=$3 ver bal req
	field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$S" "$1" 2>/dev/null; }

	if [ "$st" = 0 ] && [ "$(field end)" = poweroff ]; then ok "PVH: Linux's vmlinux powered off through ACPI: status 0"
	else not_ok "PVH: Linux's vmlinux powered off through ACPI: status 0 (status ${st:-none}, end $(field end))"; diag "$(tail -30 "$L")"; fi
	# Linux's PVH entry code fills boot_params itself, as protocol 2.12;
	# a bzImage's carries its own header's version (2.15 for 6.1)
	ver=$(sed -n 's/.*@info boot_params_version=\([0-9a-fx]*\).*/\1/p' "$L" | tail -1)
	if [ "$ver" = 0x020c ]; then ok "PVH: Linux entered at the PVH entry (boot_params built from hvm_start_info: version $ver)"
	else not_ok "PVH: Linux entered at the PVH entry"; diag "boot_params version ${ver:-not printed}, not 0x020c"; fi
	check "PVH: Linux found the ACPI tables (RSDP at 0xE0000)" grep -a -q 'ACPI: RSDP 0x0*E0000 ' "$L"
	bal=$(grep -a '@balloon driver=virtio_balloon' "$L" | tail -1)
	if [[ $bal == *reporting=1* ]]; then ok "PVH: virtio_balloon bound the device from the initrd's modules, free page reporting negotiated"
	else not_ok "PVH: virtio_balloon bound the device, free page reporting negotiated"; diag "${bal:-no @balloon line}"; diag "$(grep -a 'virtio\|@fail\|@warn\|initrd\|Unpacking' "$L" | head)"; fi
	check "PVH: memhog verified its 64 MiB and exited 0" grep -a -q '@exit status=0' "$L"
	req=$(field report_requests)
	check "PVH: Linux reported free pages (${req:-0} requests)" test "${req:-0}" -gt 0
	echo "# the PVH run: $(grep -a 'guest powered off' "$L" | head -1)"
}
