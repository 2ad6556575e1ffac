#!/usr/bin/env bash
# `pagehint run` under a real KVM where this machine has none: ONE boot of
# Debian's Linux 6.1 under QEMU's TCG with AMD SVM emulated (-cpu max),
# kvm + kvm-amd loaded in it, and a static pagehint running a batch of
# runs against the project's guest (tests/nested/l1/). Each run's exit status,
# console and summary JSON are checked:
#   boots on 1 and 2 vCPUs; every workload briefly with engine=off; a guest
#   fault (dump, status 3); a bad guest command line (status 2); memhog
#   128 MiB in 256 MiB with each engine on 2 vCPUs (data verified, resident
#   memory falls after the free for the reporting engines, no device
#   errors); verify under each --fault mode (0 data errors); test=hostile
#   (the VMM survives bad submissions, logs each kind once, the guest's
#   canary survives: tests/kvm/hostile_checks.bash, shared with
#   tests/kvm/hostile.sh); and the dynamically linked pagehint under
#   valgrind's memcheck for a short memhog with engine=pagehint and a
#   balloon target (0 errors, no leaks; valgrind, its memcheck files, the
#   libraries and libc6-dbg's ld.so symbols are packed into the initrd).
#   The exitless mode (docs/exitless.md): memhog with the map attached
#   (frames reclaimed by the scanner, no report request, no violation,
#   resident memory falls), the fallback when the device does not offer
#   it (--no-exitless), and verify under reset faults (0 data errors).
#   Exits by cause: exits_total is their sum in every summary, and the
#   memhog-pagehint run notifies its reporting queue. The control API
#   live (live-api): a run in the background with --api-sock while its
#   guest reports, `pagehint ctl` vm, stats, metrics (counters rising),
#   concurrent clients, balloon set 64M --wait (the guest inflates to
#   it; the summary's balloon says 64 MiB), shutdown.
# Skipped (never passed) when /dev/kvm is usable (tests/kvm/ runs pagehint
# directly), when QEMU is missing, or when the kernel package cannot be
# downloaded. The kernel is cached in build/nested/. NESTED_KEEP=1 keeps
# the console log there (build/nested/console.log); NESTED_STALL_S sets
# how long a silent console means a stopped L1 (150 s).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvm/hostile_checks.bash"

T0=$(date +%s)
why=$(kvm_unusable)
[ -n "$why" ] || skip_all "/dev/kvm is usable here: tests/kvm/ runs pagehint directly"
why=$(qemu_unusable)
[ -z "$why" ] || skip_all "$why"
for tool in gcc python3 dpkg-deb; do
	command -v $tool >/dev/null || skip_all "$tool is not installed"
done
[ -f "$PH_BUILD/pagehint-guest.elf" ] || skip_all "the guest is not built (run make)"

W=$PH_BUILD/nested
mkdir -p "$W"

# The kernel package: cached in build/nested (the linux-ref tool's copy
# is used if it has one), else apt-get download.
if ! ls "$W"/root/boot/vmlinuz-* >/dev/null 2>&1; then
	deb=$(ls "$W"/linux-image-*.deb 2>/dev/null | head -1)
	if [ -z "$deb" ]; then
		src=$(ls "$PH_BUILD"/linux-ref/debs/linux-image-[0-9]*-amd64_*.deb 2>/dev/null | head -1)
		if [ -n "$src" ]; then
			cp "$src" "$W/" && deb=$W/$(basename "$src")
		else
			command -v apt-get >/dev/null || skip_all "apt-get missing: cannot download the kernel package"
			pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
			[ -n "$pkg" ] || skip_all "apt-cache cannot resolve linux-image-amd64 (no package lists?)"
			(cd "$W" && timeout 300 apt-get download "$pkg" >"$W/download.log" 2>&1) ||
				skip_all "cannot download the kernel package $pkg: $(tail -1 "$W/download.log")"
			deb=$(ls "$W"/linux-image-*.deb | head -1)
		fi
	fi
	rm -rf "$W/root.tmp"
	dpkg-deb -x "$deb" "$W/root.tmp" || skip_all "cannot unpack $deb"
	mv "$W/root.tmp" "$W/root"
fi
kver=$(ls "$W/root/lib/modules" | head -1)
K=$W/root/lib/modules/$kver/kernel
T_FETCH=$(date +%s)

# The static init and pagehint, the initrd with the batch of commands.
[ -x "$PH_BUILD/pagehint-static" ] || skip_all "$PH_BUILD/pagehint-static not built (run make)"
cp "$PH_BUILD/pagehint-static" "$W/pagehint"
gcc -static -O2 "$PH_ROOT/tests/nested/l1/init.c" -o "$W/init" 2>"$W/build.log" ||
	skip_all "cannot link statically (static libc missing?): $(head -1 "$W/build.log")"

# valgrind inside the L1: no shell there, so valgrind.bin (Debian's
# `valgrind` is a wrapper script), the memcheck tool and its preloads, the
# libraries valgrind and the dynamic pagehint load, and their detached
# symbols where libc6-dbg has them: valgrind must find strlen in ld.so,
# which Debian strips, or it stops at startup.
vg_why='' vg_files=()
VGLIB=/usr/libexec/valgrind
if ! command -v valgrind >/dev/null; then vg_why="valgrind is not installed"
elif [ ! -x /usr/bin/valgrind.bin ] || [ ! -x $VGLIB/memcheck-amd64-linux ]; then
	vg_why="valgrind's layout is not Debian's (/usr/bin/valgrind.bin, $VGLIB)"
elif [ ! -x "$PH_BUILD/pagehint" ]; then vg_why="$PH_BUILD/pagehint not built (run make)"
else
	vg_files=(/usr/bin/valgrind.bin=usr/bin/valgrind.bin "$PH_BUILD/pagehint=pagehint-dyn")
	for f in memcheck-amd64-linux vgpreload_core-amd64-linux.so vgpreload_memcheck-amd64-linux.so default.supp; do
		vg_files+=("$VGLIB/$f=${VGLIB#/}/$f")
	done
	for lib in $( (ldd /usr/bin/valgrind.bin; ldd "$PH_BUILD/pagehint") |
		awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
		vg_files+=("$lib=${lib#/}")
		id=$(readelf -n "$lib" 2>/dev/null | awk '/Build ID/ {print $3}')
		dbg=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
		if [ -n "$id" ] && [ -f "$dbg" ]; then vg_files+=("$dbg=${dbg#/}")
		elif [[ $lib == */ld-linux* ]]; then
			vg_why="no symbols for $lib (install libc6-dbg): valgrind stops at startup without them"
		fi
	done
fi

# The control API against the guest while it runs (one line of ';'
# steps, see tests/nested/l1/init.c): memhog rounds keep it reporting;
# pagehint ctl asks vm, stats and metrics twice, 6 and 4 clients at
# once, sets a 64 MiB balloon target and waits for the guest to hold it,
# and ends the run with shutdown. Checked by live_api_checks below.
live_api_steps() {
	local w='engine=pagehint,workload=memhog,memhog.mib=48,memhog.rounds=100000,memhog.hold_ms=300,memhog.idle_ms=700,quiet'
	printf '%s;' "&run,--cpus,2,--mem,256M,--timeout,240,--,$w" sleep,4 ctl,vm ctl,stats ctl,metrics \
		sleep,4 ctl,metrics ctls,6,metrics ctls,4,balloon ctl,balloon,set,64M,--wait,90 ctl,balloon ctl,shutdown
	echo wait
}
LIVE_API_NCHECKS=7

# One command per line: pagehint's arguments separated by ','; the init
# adds --kernel, --summary-json and --quiet. Fields before "run" are a
# wrapper ending with the pagehint to run under it. NAME|COMMAND.
E='memhog.mib=128,memhog.hold_ms=500,memhog.idle_ms=6000,quiet'
V='engine=pagehint,workload=verify,verify.ms=8000,verify.mib=200,quiet'
# seed-v8 on fragment makes many small requests: most faults per second
G='engine=seed-v8,workload=fragment,fragment.mib=64,fragment.hold_ms=3000,quiet'
cat >"$W/runs.txt" <<EOF
boot1|run,--cpus,1,--mem,64M,--timeout,60,--,workload=none
boot2|run,--cpus,2,--mem,64M,--timeout,60,--,workload=none
off-memhog|run,--cpus,2,--mem,128M,--timeout,120,--,engine=off,workload=memhog,memhog.mib=32,memhog.hold_ms=100,memhog.idle_ms=100,quiet
off-churn|run,--cpus,2,--mem,128M,--timeout,120,--,engine=off,workload=churn,churn.ms=500,quiet
off-fragment|run,--cpus,2,--mem,128M,--timeout,120,--,engine=off,workload=fragment,fragment.mib=16,fragment.hold_ms=100,quiet
off-verify|run,--cpus,2,--mem,128M,--timeout,120,--,engine=off,workload=verify,verify.ms=1000,verify.mib=16,quiet
fault|run,--cpus,2,--mem,64M,--timeout,60,--,test=fault
badcmd|run,--cpus,1,--mem,64M,--timeout,60,--,bogus=1
memhog-off|run,--cpus,2,--mem,256M,--timeout,180,--,engine=off,workload=memhog,$E
memhog-seed-v8|run,--cpus,2,--mem,256M,--timeout,180,--,engine=seed-v8,workload=memhog,$E
memhog-max-order|run,--cpus,2,--mem,256M,--timeout,180,--,engine=max-order,workload=memhog,$E
memhog-upstream|run,--cpus,2,--mem,256M,--timeout,180,--,engine=upstream,workload=memhog,$E
memhog-pagehint|run,--cpus,2,--mem,256M,--timeout,180,--,engine=pagehint,workload=memhog,$E
frag-seed-v8|run,--cpus,2,--mem,256M,--timeout,180,--,engine=seed-v8,workload=fragment,fragment.mib=64,fragment.hold_ms=3000,quiet
fault-delay-acks|run,--cpus,2,--mem,256M,--timeout,180,--fault,delay-acks,--fault-rate,0.3,--,$G
fault-drop-acks|run,--cpus,2,--mem,256M,--timeout,180,--fault,drop-acks,--fault-rate,0.3,--,$G
fault-reset|run,--cpus,2,--mem,256M,--timeout,180,--fault,reset,--fault-rate,0.3,--,$G
fault-all|run,--cpus,2,--mem,256M,--timeout,180,--fault,all,--fault-rate,0.5,--fault-seed,5,--,$V
hostile|run,--cpus,2,--mem,256M,--timeout,120,--,workload=none,test=hostile
xl-memhog|run,--cpus,2,--mem,256M,--timeout,180,--,engine=pagehint,report.mode=exitless,workload=memhog,$E
xl-fallback|run,--cpus,2,--mem,256M,--timeout,180,--no-exitless,--,engine=pagehint,report.mode=exitless,workload=memhog,$E
xl-fault-reset|run,--cpus,2,--mem,256M,--timeout,180,--fault,reset,--fault-rate,0.3,--,engine=pagehint,report.mode=exitless,workload=verify,verify.ms=8000,verify.mib=200,quiet
live-api|$(live_api_steps)
EOF
# No --track-origins: it slows valgrind's start enough that the guest can
# give up on its second vCPU. Leak kinds are memcheck's defaults
# (definite and possible): ',' is the field separator.
[ -n "$vg_why" ] || echo "valgrind|/usr/bin/valgrind.bin,--error-exitcode=99,--leak-check=full,--vgdb=no,--log-file=/vg.log,/pagehint-dyn,run,--cpus,2,--mem,64M,--timeout,300,--balloon-target,16M,--,engine=pagehint,workload=memhog,memhog.mib=24,memhog.hold_ms=100,memhog.idle_ms=6000,quiet" >>"$W/runs.txt"
python3 "$PH_ROOT/tests/nested/l1/mkcpio.py" "$W/initrd.cpio" "$W/init=init" "$W/pagehint=pagehint" \
	"$PH_BUILD/pagehint-guest.elf=guest.elf" "${vg_files[@]}" \
	"$K/virt/lib/irqbypass.ko=modules/irqbypass.ko" "$K/arch/x86/kvm/kvm.ko=modules/kvm.ko" \
	"$K/drivers/crypto/ccp/ccp.ko=modules/ccp.ko" "$K/arch/x86/kvm/kvm-amd.ko=modules/kvm-amd.ko" ||
	skip_all "cannot build the initrd (kernel package layout?)"

nruns=$(wc -l <"$W/runs.txt")
# per run: status and its own check (see below), but hostile has the
# shared set instead, and valgrind one check more (three skips when it
# cannot run)
vg_n=1
[ -z "$vg_why" ] || vg_n=3
plan $((2 + (nruns - 2) * 2 + 11 + $(hostile_nchecks) + LIVE_API_NCHECKS + vg_n))

# The boot: 12 minutes at most (the test's budget). The init ends QEMU
# through isa-debug-exit (status 1); should that not happen, QEMU is
# stopped 20 s after the last run. A live L1 prints a line at least every
# 60 s (the init's watchdog), so a console silent for 150 s is an L1 that
# has stopped: its console is kept, QEMU is stopped and the L1 booted
# again from the run it was in, twice at most (a third stall fails the
# test). Multi-threaded TCG stops it every few boots, one CPU at the int3
# entry (the kernel patching its own code: a static key), the other in
# __schedule, both with interrupts off; one host thread for both vCPUs
# (thread=single) keeps code changes coherent between them, in the same
# wall time at half the CPU. /cmds is a small archive of its
# own, appended to the initrd, so a reboot starts from any run.
STALL_S=${NESTED_STALL_S:-150}
rm -rf "$W/hostile"
stalls=() steal0=$(awk '/^cpu / {print $9}' /proc/stat)
T_BOOT=$(date +%s)
# Where the stopped L1's CPUs are, from QEMU's monitor: "RIP=... CPL=.
# HLT=.". The L1 boots with nokaslr, so a RIP is the same place from one
# stall to the next, and named where root/boot/System.map is the real one
# (Debian's package has a stub; linux-image-*-dbg has it, 860 MB)
l1_cpus() {
	python3 - "$W/boot.mon" "$W/root/boot/System.map-$kver" <<'PY'
import bisect, re, sys
try:
    mon = open(sys.argv[1], errors='replace').read()
except OSError:
    sys.exit(0)
syms = []
try:
    for l in open(sys.argv[2]):
        a, t, n = l.split()[:3]
        if t in 'tTwW':
            syms.append((int(a, 16), n))
except (OSError, ValueError):
    pass
syms.sort()
keys = [a for a, _ in syms]
out = []
for m in re.finditer(r'RIP=([0-9a-f]+).*?CPL=(\d).*?HLT=(\d)', mon, re.S):
    rip = int(m.group(1), 16)
    i = bisect.bisect_right(keys, rip) - 1
    name = ' (%s+%#x)' % (syms[i][1], rip - syms[i][0]) if i >= 0 and rip - syms[i][0] < 1 << 20 else ''
    out.append('RIP=%x%s CPL=%s HLT=%s' % (rip, name, m.group(2), m.group(3)))
print('; '.join(out))
PY
}
# Where the stopped L1's CPUs are, from QEMU's monitor: one line each
monitor_cpus() {
	python3 - "$W/mon.sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
s.connect(sys.argv[1])
out = b''
for cmd in (b'info cpus\n', b'info registers -a\n'):
    s.sendall(cmd)
    time.sleep(1)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
print(out.decode(errors='replace').replace('\r', ''))
PY
}
# boot_l1 FIRST: boot with runs FIRST.. (1-based); console in boot.log
boot_l1() {
	tail -n +"$1" "$W/runs.txt" | cut -d'|' -f2 >"$W/cmds"
	python3 "$PH_ROOT/tests/nested/l1/mkcpio.py" "$W/cmds.cpio" "$W/cmds=cmds" &&
		cat "$W/initrd.cpio" "$W/cmds.cpio" >"$W/initrd-boot.cpio" || return 1
	local left=$((720 - ($(date +%s) - T_BOOT)))
	[ $left -gt 30 ] || return 1
	: >"$W/boot.log"
	timeout $left qemu-system-x86_64 -M pc -accel tcg,thread=single -cpu max -smp 2 -m 1024 -nographic -no-reboot -nodefaults \
		-serial stdio -kernel "$W/root/boot/vmlinuz-$kver" -initrd "$W/initrd-boot.cpio" \
		-device isa-debug-exit,iobase=0xf4,iosize=1 -monitor unix:"$W/mon.sock",server=on,wait=off \
		-append "console=ttyS0 panic=-1 loglevel=4 nokaslr" </dev/null >"$W/boot.log" 2>&1 &
	local qpid=$! done_at='' size=0 quiet_since
	quiet_since=$(date +%s)
	stalled=
	while kill -0 $qpid 2>/dev/null; do
		sleep 2
		local now
		now=$(date +%s)
		if [ "$(stat -c %s "$W/boot.log")" != "$size" ]; then size=$(stat -c %s "$W/boot.log"); quiet_since=$now; fi
		if [ -z "$done_at" ] && grep -q '^init: all runs done' "$W/boot.log"; then done_at=$now; fi
		if [ -n "$done_at" ] && [ $((now - done_at)) -ge 20 ]; then kill $qpid 2>/dev/null; fi
		if [ -z "$done_at" ] && [ $((now - quiet_since)) -ge $STALL_S ]; then
			stalled=1
			monitor_cpus >"$W/boot.mon" 2>&1
			kill $qpid 2>/dev/null
		fi
	done
	wait $qpid
	qrc=$?
}
: >"$W/console.log"
first=1
while :; do
	boot_l1 $first || { qrc=boot-failed; break; }
	tr -d '\r' <"$W/boot.log" >"$W/boot.txt"
	if [ $first = 1 ]; then cat "$W/boot.txt" >>"$W/console.log"
	else sed -n '/^init: running /,$p' "$W/boot.txt" >>"$W/console.log"; fi
	[ -n "$stalled" ] || break
	# the run the L1 stopped in: restart there, its partial segment dropped
	at=$(( first - 1 + $(grep -c '^init: running ' "$W/boot.txt") ))
	[ $at -ge $first ] || at=$first
	n=${#stalls[@]}
	cp "$W/boot.txt" "$W/stall$n.log"
	cp "$W/boot.mon" "$W/stall$n.mon" 2>/dev/null
	stalls+=("run $at ($(sed -n "${at}p" "$W/runs.txt" | cut -d'|' -f1)): console silent ${STALL_S} s, last line: $(grep -v -e '^\s*$' -e '^qemu-system-x86_64: terminating' "$W/boot.txt" | tail -1 | cut -c1-160); L1 CPUs: $(l1_cpus)")
	[ ${#stalls[@]} -lt 3 ] || break
	python3 - "$W/console.log" <<'PY'
import sys
p = sys.argv[1]
log = open(p).read()
i = log.rfind('init: running ')
open(p, 'w').write(log[:i] if i >= 0 else log)
PY
	first=$at
done
T_END=$(date +%s)
if grep -q '^init: all runs done' "$W/console.log"; then
	ok "nested boot ran all $nruns runs (QEMU status $qrc)"
else
	not_ok "nested boot ran all $nruns runs (QEMU status $qrc)"
	diag "$(tail -30 "$W/console.log")"
fi
if grep -q 'init: loaded /modules/kvm-amd.ko' "$W/console.log"; then ok "kvm-amd loaded in the L1 kernel"
else not_ok "kvm-amd loaded in the L1 kernel"; diag "$(grep -i 'kvm\|svm' "$W/console.log" | head)"; fi

# Parse the console into per-run results and check each; prints
# "ok|text", "not ok|text", "diag|text" lines.
python3 - "$W/runs.txt" "$W/console.log" "$W/results.json" "$W/hostile" >"$W/checks.txt" <<'PY'
import json, os, re, sys
runs = [l.rstrip('\n').split('|', 1) for l in open(sys.argv[1]) if l.strip()]
log = open(sys.argv[2], errors='replace').read().replace('\r', '')
segs = log.split('init: running ')[1:]
out = []
def emit(ok, text): out.append(('ok|' if ok else 'not ok|') + text)
def diag(text):
    for l in str(text).splitlines(): out.append('diag|' + l)
def live_api_checks(seg, status, res):
    """live-api (7 checks): the ctl steps' answers while the guest ran,
    then the run's end and summary (printed after the ctl steps)."""
    # the L1 kernel's own lines ("[  20.4] kvm ...") can fall inside a step's output
    steps = [(w, re.sub(r'^\[ *\d+\.\d+\] .*\n', '', body, flags=re.M), int(st)) for w, body, st in
             re.findall(r'^init: ctl begin (.*?)\n(.*?)^init: ctl end status (-?\d+)$', seg, re.M | re.S)]
    def answers(words):
        return [(b, st) for w, b, st in steps if w == words]
    def js_of(b):
        try: return json.loads(b)
        except ValueError: return {}
    def metric(b, name):
        m = re.search(r'^pagehint_%s (\d+)$' % name, b, re.M)
        return int(m.group(1)) if m else None
    end = seg.find('init: pagehint exit status')
    j = re.search(r'^\{\n.*?^\}\n', seg[end:], re.M | re.S) if end >= 0 else None
    s = {}
    if j:
        try: s = json.loads(j.group(0))
        except ValueError: s = {}
    res['summary'] = s or None
    # ctl shutdown ends the run with its own end, status 0 (docs/vmm.md)
    emit(s.get('end') == 'shutdown' and status == 0,
         'live-api: ctl shutdown ended the background run: status %s, end %s, summary %s' % (
         status, s.get('end'), 'written' if s else 'missing'))
    if not s: diag('\n'.join(seg.splitlines()[-25:]))
    vm = answers('vm'); v = js_of(vm[0][0]) if vm else {}
    emit(len(vm) == 1 and vm[0][1] == 0 and v.get('state') == 'Running' and v.get('vcpus') == 2 and
         v.get('mem_mib') == 256 and 'free_page_reporting' in (v.get('balloon') or {}).get('features_negotiated', []),
         'live-api: ctl vm: Running, 2 vCPUs, 256 MiB, free page reporting negotiated')
    if not v: diag('ctl vm: %s' % vm)
    st = answers('stats'); sj = js_of(st[0][0]) if st else {}
    emit(len(st) == 1 and st[0][1] == 0 and sj.get('total_memory', 0) > 0 and sj.get('free_memory', 0) > 0 and
         (sj.get('host') or {}).get('report_requests', 0) > 0,
         'live-api: ctl stats: the guest\'s stats (total %s, free %s bytes) and the host\'s reports (%s)' % (
         sj.get('total_memory'), sj.get('free_memory'), (sj.get('host') or {}).get('report_requests')))
    me = answers('metrics')
    names = ('balloon_reported_bytes_total', 'balloon_report_requests_total', 'uptime_seconds')
    rise = len(me) >= 2 and all(st == 0 for _, st in me[:2]) and all(
        (metric(me[0][0], n) or 0) < (metric(me[1][0], n) or 0) for n in names)
    emit(rise, 'live-api: ctl metrics twice, 4 s apart: %s' % ', '.join('%s %s -> %s' % (
         n, metric(me[0][0], n) if me else None, metric(me[1][0], n) if len(me) > 1 else None) for n in names))
    conc = me[2:]; bal = answers('balloon')
    emit(len(conc) == 6 and all(st == 0 and metric(b, 'uptime_seconds') is not None for b, st in conc) and
         len(bal) >= 4 and all(st == 0 and 'actual_pages' in js_of(b) for b, st in bal[:4]),
         'live-api: 6 clients at once on metrics and 4 on balloon, all answered (%d, %d)' % (len(conc), len(bal[:4])))
    ws = answers('balloon set 64M --wait 90'); after = js_of(bal[4][0]) if len(bal) > 4 else {}
    emit(len(ws) == 1 and ws[0][1] == 0 and 'reached' in ws[0][0] and after.get('actual_mib') == 64 and
         after.get('amount_mib') == 64,
         'live-api: ctl balloon set 64M --wait: the guest inflated to it (%s; then actual_mib %s)' % (
         ws[0][0].strip().splitlines()[-1:] if ws else 'no answer', after.get('actual_mib')))
    if not (ws and ws[0][1] == 0): diag('\n'.join(str(x) for x in ws))
    b = s.get('balloon') or {}
    guest = [l for l in seg.splitlines() if l.startswith('@')]
    emit(answers('shutdown') == [('', 0)] and b.get('target_mib') == 64 and b.get('actual_mib') == 64 and
         (s.get('ioeventfd_notifies') or {}).get('inflate', 0) + (s.get('exits') or {}).get('balloon_notify_inflate', 0) > 0
         and s.get('data_errors') == 0 and not any(l.startswith('@fail') for l in guest),
         'live-api: the summary has the balloon at 64 MiB (target %s, actual %s), no data errors' % (
         b.get('target_mib'), b.get('actual_mib')))

results = {}
for i, (name, cmd) in enumerate(runs):
    seg = segs[i] if i < len(segs) else ''
    m = re.search(r'^init: pagehint exit status (-?\d+)', seg, re.M)
    status = int(m.group(1)) if m else None
    t = re.search(r'^init: run took ([\d.]+) s', seg, re.M)
    secs = float(t.group(1)) if t else None
    js = None
    j = re.search(r'^\{\n.*?^\}\n', seg, re.M | re.S)
    if j:
        try: js = json.loads(j.group(0))
        except ValueError: js = None
    lines = [re.sub(r'^\[ *[\d.]+\] ', '', l) for l in seg.splitlines()]
    guest = [l for l in lines if l.startswith('@') or l.startswith('pagehint: bad command line')]
    # the device's complaints (an exitless map attached is news, not one)
    devlines = [l for l in lines if ('virtio-balloon:' in l or 'virtio-mmio@' in l)
                and 'exitless map attached' not in l]
    results[name] = dict(status=status, seconds=secs, summary=js, guest=guest, device_lines=devlines)
    if name == 'hostile':
        # hostile_checks.bash judges it: the console (the VMM's log lines
        # are the ones without a host timestamp), status, discarded MiB
        h = sys.argv[4]
        os.makedirs(h, exist_ok=True)
        open(h + '/console', 'w').write('\n'.join(lines) + '\n')
        open(h + '/log', 'w').write(''.join(l + '\n' for l in seg.splitlines() if l.startswith('pagehint: ')))
        open(h + '/status', 'w').write('' if status is None else str(status))
        d = (js or {}).get('discarded_mib')
        open(h + '/discarded_mib', 'w').write('' if d is None else str(d))
        continue
    if name == 'live-api':
        live_api_checks(seg, status, results[name])
        continue
    want = 3 if name == 'fault' else 2 if name == 'badcmd' else 0
    emit(status == want, '%s: exit status %s (want %d)%s' % (name, status, want,
         ', %.1f s' % secs if secs is not None else ''))
    if status != want:
        diag('\n'.join(seg.splitlines()[-25:]))
    s = js or {}
    # the run's own check
    if name in ('boot1', 'boot2'):
        n = 1 if name == 'boot1' else 2
        good = any(re.match(r'@boot cpus=%d ' % n, l) for l in guest) and s.get('cpus') == n
        emit(good, '%s: the guest counts %d vCPU(s) (@boot cpus=%d, summary cpus)' % (name, n, n))
    elif name.startswith('off-'):
        good = any(l.startswith('@done workload=' + name[4:]) for l in guest) and \
            not any(l.startswith('@fail') for l in guest) and s.get('data_errors') == 0
        emit(good, '%s: engine=off, %s verified (@done, data_errors 0)' % (name, name[4:]))
    elif name == 'fault':
        good = any(l.startswith('@fault vector=') for l in guest) and \
            any('rip=' in l for l in lines) and any('cr2=' in l for l in lines)
        emit(good, 'fault: the guest dumps its registers (@fault vector=... and the register lines)')
        if not good: diag('\n'.join(lines[-20:]))
    elif name == 'badcmd':
        good = any("bad command line: 'bogus=1'" in l for l in lines)
        emit(good, "badcmd: one line names the bad word 'bogus=1'")
    elif name.startswith('memhog-'):
        eng = name[7:]
        rec = s.get('reclaim') or []
        # pagehint may give the memory back before the guest prints its
        # @event free line: then the reclaim times are null but the
        # resident memory has fallen all the same
        falls = bool(rec) and (rec[0].get('ms_50') is not None or
                s.get('resident_peak_mib', 0) - s.get('resident_end_mib', 1e9) >= rec[0].get('freed_mib', 0) / 2)
        base = s.get('data_errors') == 0 and s.get('device_errors', 0) == 0 and not devlines and \
            any(l.startswith('@done workload=memhog') for l in guest)
        if eng == 'off':
            good = base and s.get('report_requests', 0) == 0
            emit(good, 'memhog-off: verified, nothing reported, no device errors')
        elif eng == 'seed-v8':
            # seed-v8's rescans collapse contiguous frees: it reports
            # little on memhog (docs/engines.md); frag-seed-v8 shows it
            # reporting
            good = base
            emit(good, 'memhog-seed-v8: verified, no device errors (%s MiB reported; little on memhog by design)'
                 % s.get('reported_mib'))
        else:
            good = base and falls and s.get('reported_mib', 0) > 0
            emit(good, 'memhog-%s: verified, %s MiB reported, resident falls after the free '
                 '(50%% in %s ms), no device errors' % (eng, s.get('reported_mib'),
                 rec[0].get('ms_50') if rec else None))
        if not good:
            diag(json.dumps(s)); diag('\n'.join(devlines[:5]))
    elif name == 'frag-seed-v8':
        # (device lines are not held against it: under nested TCG some of
        # its reports can time out, and the driver's reset then races a
        # kick of the reporting queue, which the device logs and ignores)
        good = s.get('data_errors') == 0 and s.get('report_ranges', 0) > 0 and \
            any(l.startswith('@done workload=fragment') for l in guest)
        if devlines or s.get('device_errors'):
            diag('frag-seed-v8: ' + ' / '.join(devlines) + ' ' + ' '.join(l for l in guest if l.startswith('@engine')))
        emit(good, 'frag-seed-v8: fragment verified, seed-v8 reports under fragmentation (%s ranges, %s MiB)'
             % (s.get('report_ranges'), s.get('reported_mib')))
        if not good: diag(json.dumps(s))
    elif name == 'valgrind':
        # the status check above is memcheck's too: --error-exitcode=99
        vg = re.search(r'^init: begin /vg.log\n(.*?)^init: end /vg.log', seg, re.M | re.S)
        vg = vg.group(1) if vg else ''
        good = s.get('data_errors') == 0 and any(l.startswith('@done workload=memhog') for l in guest) \
            and s.get('report_ranges', 0) > 0
        emit(good, 'valgrind: the guest ran memhog under a memchecked VMM (@done, data_errors 0, %s ranges '
             'reported, %s MiB discarded)' % (s.get('report_ranges'), s.get('discarded_mib')))
        if not good: diag('\n'.join(lines[-20:]))
        # leaks (definite, possible) count as errors with --leak-check=full
        good = 'ERROR SUMMARY: 0 errors' in vg
        emit(good, 'valgrind: memcheck reports 0 errors, leaks included')
        if not good: diag('\n'.join(l for l in vg.splitlines() if l.strip('= 0123456789'))[:6000] or seg[-3000:])
        diag('valgrind: ' + ' '.join(l for l in guest if l.startswith('@boot')) + '; ' +
             '; '.join(sorted(set(re.findall(r'unhandled ioctl 0x[0-9a-f]+', vg)))) + '; ' +
             ' '.join(re.findall(r'total heap usage: [^\n]*', vg)))
    elif name.startswith('xl-'):
        # the exitless mode (docs/exitless.md): the map attached, frames
        # reclaimed by the VMM's scanner with no report request, no
        # protocol violation; --no-exitless: the guest falls back to the
        # standard mode and says why; under reset faults the verify
        # workload finds every byte intact
        x = s.get('exitless') or {}
        eng = [l for l in guest if l.startswith('@engine name=pagehint')]
        xl = [l for l in guest if l.startswith('@xl ')]
        wl = re.search(r'workload=(\w+)', cmd).group(1)
        done = any(l.startswith('@done workload=' + wl) for l in guest) and \
            not any(l.startswith('@fail') for l in guest) and s.get('data_errors') == 0
        if name == 'xl-fallback':
            good = done and x.get('offered') is False and x.get('attaches', 0) == 0 and \
                any('mode=standard exitless=unavailable reason=not-offered' in l for l in eng) and \
                s.get('report_requests', 0) > 0 and s.get('reported_mib', 0) > 0
            emit(good, 'xl-fallback: --no-exitless: the guest says exitless=unavailable reason=not-offered and '
                 'reports over the standard queue (%s requests, %s MiB)' % (s.get('report_requests'), s.get('reported_mib')))
        else:
            good = done and any('mode=exitless active=1' in l for l in eng) and x.get('attaches', 0) >= 1 and \
                x.get('reclaimed_mib', 0) > 0 and x.get('violations') == 0 and x.get('discard_errors') == 0 and \
                bool(xl) and 'wait_timeouts=0' in xl[-1] and 'removed_blocks=0' in xl[-1]
            if name == 'xl-memhog':
                # the frames published at boot were never resident: no discard for them
                good = good and s.get('report_requests', 1) == 0 and not devlines and \
                    x.get('skipped_frames', 0) > 0
            else:
                good = good and (s.get('faults') or {}).get('reset', 0) > 0
            emit(good, '%s: exitless: map attached (%s times), %s MiB reclaimed by the scanner in %s discards, '
                 '%s frames not resident skipped, %s report requests, %s violations, %s verified%s' % (
                 name, x.get('attaches'), x.get('reclaimed_mib'), x.get('discard_calls'),
                 x.get('skipped_frames'), s.get('report_requests'), x.get('violations'), wl,
                 ', %s resets injected' % (s.get('faults') or {}).get('reset') if name != 'xl-memhog' else ''))
        if not good:
            diag(json.dumps(s)); diag('\n'.join(eng + xl + devlines[:5]))
    elif name.startswith('fault-'):
        f = s.get('faults') or {}
        wl = re.search(r'workload=(\w+)', cmd).group(1)
        good = s.get('data_errors') == 0 and any(l.startswith('@done workload=' + wl) for l in guest) \
            and not any(l.startswith('@fail') for l in guest)
        emit(good, '%s: %s verified under faults: data_errors %s, %s requests, faults %s' % (
             name, wl, s.get('data_errors'), s.get('report_requests'),
             {k: f.get(k) for k in ('delayed', 'dropped', 'reset', 'canceled')}))
        if not good: diag('\n'.join(lines[-20:]))
json.dump(results, open(sys.argv[3], 'w'), indent=1)
# Aggregate checks
def S(n): return (results.get(n) or {}).get('summary') or {}
eng = ['seed-v8', 'max-order', 'upstream', 'pagehint']
emit(all(S('memhog-' + e).get('resident_end_mib', 1e9) < S('memhog-off').get('resident_end_mib', 0) / 2
         for e in ('max-order', 'upstream', 'pagehint')),
     'max-order, upstream and pagehint end with less than half the resident memory of engine=off')
fr = [n for n in results if n.startswith('fault-')]
faults = sum(sum((S(n).get('faults') or {}).get(k, 0) for k in ('delayed', 'dropped', 'reset')) for n in fr)
emit(faults > 0, 'faults were injected in the --fault runs (%d)' % faults)
emit(all((S(n).get('faults') or {}).get('modes') == ('delay-acks,drop-acks,reset' if n == 'fault-all' else n[6:])
         for n in fr),
     'the summary names each run\'s fault mode')
emit(all(not (results.get(n) or {}).get('device_lines') for n in results
         if not n.startswith('fault-') and n not in ('frag-seed-v8', 'hostile', 'xl-fault-reset')),
     'no device error lines outside the fault and hostile runs')
emit(all(S(n).get('data_errors', 1) == 0 for n in results if n not in ('fault', 'badcmd')),
     'data_errors 0 in every summary')
emit(any(l.startswith('@engine name=pagehint') for l in (results.get('memhog-pagehint') or {}).get('guest', [])),
     'engine=pagehint is registered and ran')
emit(all(S('memhog-' + e).get('report_ranges', 0) > 0 for e in ('max-order', 'upstream', 'pagehint'))
     and S('frag-seed-v8').get('report_ranges', 0) > 0, 'every reporting engine sent ranges (seed-v8 on fragment)')
emit(S('memhog-off').get('reported_mib', 1) == 0, 'engine=off reports nothing')
# exits by cause (docs/vmm.md): the total is their sum in every summary;
# the reporting queue's notifies reach the device (through its ioeventfd)
bad = [n for n in results if S(n) and ('exits' not in S(n) or
       S(n).get('exits_total') != sum(S(n)['exits'].values()))]
emit(not bad, 'exits_total is the sum of the exits by cause in every summary%s' % (
     ' (not in %s)' % ', '.join(bad) if bad else ''))
ph = S('memhog-pagehint'); phx = ph.get('exits') or {}; phn = ph.get('ioeventfd_notifies') or {}
emit(phn.get('report', 0) + phx.get('balloon_notify_report', 0) > 0 and ph.get('device_exits', 0) > 0,
     'memhog-pagehint: reporting-queue notifies %s (ioeventfd) + %s (exits), device_exits %s' % (
     phn.get('report'), phx.get('balloon_notify_report'), ph.get('device_exits')))
diag('memhog-pagehint exits: %s; ioeventfd: %s' % (
     ', '.join('%s %s' % (k, v) for k, v in phx.items() if v), phn))
emit(S('xl-memhog').get('resident_end_mib', 1e9) < S('memhog-off').get('resident_end_mib', 0) / 2,
     'exitless ends with less than half the resident memory of engine=off (%s vs %s MiB)' % (
     S('xl-memhog').get('resident_end_mib'), S('memhog-off').get('resident_end_mib')))
# the per-engine table (docs/engines.md)
diag('engine      requests ranges  MiB  resident peak->end  reclaim ms 50/90/99')
for e in ['off'] + eng + ['exitless']:
    s = S('memhog-' + e if e != 'exitless' else 'xl-memhog'); r = (s.get('reclaim') or [{}])[0]
    diag('%-10s %8s %6s %5s  %6s -> %-6s  %s/%s/%s' % (e, s.get('report_requests'), s.get('report_ranges'),
         s.get('reported_mib'), s.get('resident_peak_mib'), s.get('resident_end_mib'),
         r.get('ms_50'), r.get('ms_90'), r.get('ms_99')))
for n in fr:
    s = S(n); f = s.get('faults') or {}
    diag('%s: %s s, %s requests, delayed %s dropped %s reset %s, cancelled %s (%s MiB), data_errors %s' % (
         n, results[n].get('seconds'), s.get('report_requests'), f.get('delayed'), f.get('dropped'),
         f.get('reset'), f.get('canceled'), f.get('canceled_mib'), s.get('data_errors')))
print('\n'.join(out))
PY
checks_from <"$W/checks.txt"
mkdir -p "$W/hostile" && touch "$W/hostile/console" "$W/hostile/log"
hostile_check "$(cat "$W/hostile/status" 2>/dev/null)" "$W/hostile/console" "$W/hostile/log" \
	"$(cat "$W/hostile/discarded_mib" 2>/dev/null)"
if [ -n "$vg_why" ]; then
	for _ in 1 2 3; do skip "the VMM under valgrind: $vg_why"; done
fi
T_DONE=$(date +%s)
# Last, so that a CI log's tail tells how the boot went: stalls, and the
# CPU time the machine's own host took from this one meanwhile (steal).
for st in "${stalls[@]}"; do diag "L1 stalled at $st"; done
steal=$(( ($(awk '/^cpu / {print $9}' /proc/stat) - steal0) / $(getconf CLK_TCK) ))
diag "time: $((T_DONE - T0)) s in all (kernel package/unpack $((T_FETCH - T0)) s, nested boot with $nruns runs $((T_END - T_BOOT)) s, ${#stalls[@]} L1 stall(s), steal ${steal} s, load $(cut -d' ' -f1-3 /proc/loadavg))"
[ -n "${NESTED_KEEP:-}" ] || rm -f "$W/initrd.cpio" "$W/initrd-boot.cpio"
done_testing
