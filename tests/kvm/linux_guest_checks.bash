# shellcheck shell=bash
# The checks of a Linux guest's run on `pagehint run` (linux_guest_args),
# shared by tests/kvm/linux_guest.sh (KVM here) and
# tests/nested/linux_guest.sh (nested KVM): Debian's Linux 6.1 with the
# reference initramfs (scripts/linux-ref/) powers off through ACPI with
# status 0; virtio_balloon binds the device found in the ACPI DSDT with
# free page reporting; memhog verifies and frees 192 MiB and the host
# takes memory back; the balloon inflates to the 64 MiB target and
# deflates when the driver is unloaded (MemTotal both ways); the stats
# queue carries Linux's stats; no device errors; exits add up. Under
# nested KVM also the live target change through the control API
# (linux_guest_live_steps, linux_guest_live_checks).

# The second run, short: the same kernel's vmlinux (the ELF inside the
# bzImage, scripts/linux-ref/build.sh) through the PVH entry: Linux takes
# the memory map, command line, initrd (the first module) and RSDP from
# hvm_start_info, binds virtio_balloon with reporting, runs a small memhog
# and powers off (linux_guest_pvh_checks).

# pagehint run's arguments after --kernel/--initrd (',' between words for
# the nested init; the direct test splits them). IDLE_S (12): how long
# Linux idles after memhog's free; the --timeout grows with it.
linux_guest_args() { # [IDLE_S]
	local idle=${1:-12}
	echo "--cpus,2,--mem,512M,--timeout,$((138 + idle)),--balloon-target,64M,--,memhog.mib=192,memhog.hold=3,memhog.idle=$idle,balloon.rmmod=1"
}
linux_guest_nchecks() { echo 9; }
linux_guest_pvh_args() { echo "--cpus,2,--mem,256M,--timeout,120,--,memhog.mib=64,memhog.hold=1,memhog.idle=3"; }
linux_guest_pvh_nchecks() { echo 6; }

# The live target change, as the nested init's steps (tests/nested/l1/init.c,
# one a line): the run above in the background with its control API and
# 30 s of idle; once Linux holds the start target (ctl balloon set 64M
# --wait), ctl deflates the balloon to 0 and inflates it to 64 MiB again,
# each --wait until the device's actual is the target, and asks the
# guest's stats (Linux's MemTotal is their total_memory) after each; the
# run then ends by itself and linux_guest_checks judges it as ever.
# RUN: the init's command up to the arguments ("run,--kernel,...,").
linux_guest_live_steps() { # RUN
	printf '%s\n' "&$1$(linux_guest_args 30)" ctl,balloon,set,64M,--wait,150 sleep,3 ctl,stats \
		ctl,balloon,set,0,--wait,90 sleep,3 ctl,stats ctl,balloon,set,64M,--wait,90 sleep,3 ctl,stats \
		ctl,balloon ctl,metrics wait
}
linux_guest_live_nchecks() { echo 3; }

# linux_guest_live_checks LOG: the ctl steps' answers in the console.
linux_guest_live_checks() {
	checks_from < <(python3 - "$1" <<'PY'
import json, re, sys
log = open(sys.argv[1], errors='replace').read().replace('\r', '')
# the background run's part of the console: its start to its end
i = log.find('init: running in the background ')
seg = log[i:log.find('init: end of run', i)] if i >= 0 else ''
# the L1 kernel's own lines ("[  20.4] kvm ...") can fall inside a step's output
steps = [(w, re.sub(r'^\[ *\d+\.\d+\] .*\n', '', b, flags=re.M), st) for w, b, st in
         re.findall(r'^init: ctl begin (.*?)\n(.*?)^init: ctl end status (-?\d+)$', seg, re.M | re.S)]
def js(b):
    try: return json.loads(b)
    except ValueError: return {}
def step(k):  # the k-th step's (words, output, status)
    return steps[k] if k < len(steps) else ('', '', '-1')
def ok(good, text): print(('ok|' if good else 'not ok|') + text)
def waited(k, words):
    w, b, st = step(k)
    return w == words and st == '0' and 'reached' in b
tot = [js(step(k)[1]).get('total_memory') for k in (1, 3, 5)]
mib = lambda a, b: (b - a) / 1048576 if a and b else None
ok(waited(0, 'balloon set 64M --wait 150') and tot[0],
   'Linux holds the start target: ctl balloon set 64M --wait (MemTotal by its stats %s MiB)' % (
   tot[0] // 1048576 if tot[0] else None))
d = mib(tot[0], tot[1])
ok(waited(2, 'balloon set 0 --wait 90') and d is not None and 56 <= d <= 72,
   'ctl balloon set 0 --wait: Linux deflated while running, MemTotal up %s MiB' % d)
d = mib(tot[2], tot[1]); bal = js(step(6)[1])
m = re.search(r'^pagehint_balloon_deflated_pages_total (\d+)$', step(7)[1], re.M)
ok(waited(4, 'balloon set 64M --wait 90') and d is not None and 56 <= d <= 72 and
   bal.get('actual_mib') == 64 and m and int(m.group(1)) >= 16384,
   'ctl balloon set 64M --wait: Linux inflated while running, MemTotal down %s MiB, the device\'s actual %s MiB, '
   '%s pages deflated in all' % (d, bal.get('actual_mib'), m.group(1) if m else None))
if len(steps) != 8:
    print('diag|%d ctl steps answered, not 8: %s' % (len(steps), [(w, s) for w, _, s in steps]))
for w, b, s in steps:
    if s != '0':
        print('diag|ctl %s: status %s: %s' % (w, s, b.strip().replace('\n', ' ')[:300]))
PY
	)
}

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

# summary_field FILE KEY[.KEY...]: one value of a --summary-json file
# (nothing if it or the key is missing).
summary_field() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$1" "$2" 2>/dev/null
}

# linux_guest_checks LOG SUMMARY STATUS: the guest's console (as pagehint
# printed it), the --summary-json file, pagehint's exit status.
linux_guest_checks() {
	local L=$1 S=$2 st=$3 bal req peak end inflate deflate stats before atend after
	if [ "$st" = 0 ] && [ "$(summary_field "$S" end)" = poweroff ]; then ok "Linux powered off through ACPI: status 0"
	else not_ok "Linux powered off through ACPI: status 0 (status ${st:-none}, end $(summary_field "$S" end))"; diag "$(tail -30 "$L")"; fi
	bal=$(grep -a '@balloon driver=virtio_balloon' "$L" | tail -1)
	if [[ $bal == *reporting=1* ]]; then ok "virtio_balloon bound the device (ACPI, virtio-mmio), free page reporting negotiated"
	else not_ok "virtio_balloon bound the device, free page reporting negotiated"; diag "${bal:-no @balloon line}"; diag "$(grep -a 'virtio\|@fail\|@warn' "$L" | head)"; fi
	check "memhog verified its 192 MiB and exited 0" grep -a -q '@exit status=0' "$L"
	req=$(summary_field "$S" report_requests) peak=$(summary_field "$S" resident_peak_mib) end=$(summary_field "$S" resident_end_mib)
	if [ "${req:-0}" -gt 0 ] && python3 -c "import sys; sys.exit(not ($end < $peak - 96))"; then
		ok "Linux reported free memory and the host took it back ($req requests, resident $peak -> $end MiB)"
	else not_ok "Linux reported free memory and the host took it back"; diag "requests ${req:-?}, resident $peak -> $end MiB"; fi
	inflate=$(summary_field "$S" ioeventfd_notifies.inflate) deflate=$(summary_field "$S" ioeventfd_notifies.deflate) stats=$(summary_field "$S" ioeventfd_notifies.stats)
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
	check "no device errors" test "$(summary_field "$S" device_errors)" = 0
	check "exits_total is the sum of the causes" python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["exits_total"] != sum(d["exits"].values()))' "$S"
	echo "# the Linux guest's run: $(grep -a 'guest powered off' "$L" | head -1)"
}

# linux_guest_pvh_checks LOG SUMMARY STATUS: the PVH run's console,
# --summary-json file and exit status (linux_guest_pvh_args).
linux_guest_pvh_checks() {
	local L=$1 S=$2 st=$3 ver bal req
	if [ "$st" = 0 ] && [ "$(summary_field "$S" end)" = poweroff ]; then ok "PVH: Linux's vmlinux powered off through ACPI: status 0"
	else not_ok "PVH: Linux's vmlinux powered off through ACPI: status 0 (status ${st:-none}, end $(summary_field "$S" end))"; diag "$(tail -30 "$L")"; fi
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
	req=$(summary_field "$S" report_requests)
	check "PVH: Linux reported free pages (${req:-0} requests)" test "${req:-0}" -gt 0
	echo "# the PVH run: $(grep -a 'guest powered off' "$L" | head -1)"
}
