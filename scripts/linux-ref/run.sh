#!/usr/bin/env bash
# One reclaim run under QEMU TCG, recorded on the host (the Linux reference,
# docs/interop.md): a guest allocates --hog-mib MiB, holds it --hold s,
# frees it and idles --idle s, while the host records QEMU's resident
# memory, the console and QEMU's trace of each report request.
#
#   run.sh [--guest linux|pagehint] [--kernel BZIMAGE] [--mem 4G]
#          [--hog-mib 2048] [--hold 20] [--idle 36] [--engine upstream]
#          [--rounds 1] [--append "WORDS"] [--kvm] [--out DIR] [--timeout S]
#
#   --guest linux     Debian's Linux 6.1 (scripts/linux-ref/build.sh), q35,
#                     virtio-balloon-pci,free-page-reporting=on, -smp 2;
#                     --kernel BZIMAGE boots that kernel instead (one of
#                     linux/build.sh's, virtio built in) with the initramfs
#                     of build.sh --no-modules
#   --guest pagehint  build/pagehint-guest.elf, microvm,acpi=off,
#                     virtio-balloon-device,free-page-reporting=on, -smp 2,
#                     engine=--engine (as scripts/demo.sh runs it);
#                     --kvm adds -enable-kvm (where /dev/kvm works; not
#                     on the machines this was written on)
#   --rounds N        memhog N times (allocate, verify, hold, verify, free,
#                     idle each); the summary's figures are the last
#                     round's, its "rounds" list has each round's
#   --append WORDS    more words for the guest's command line, after ours
#                     (e.g. page_reporting.engine=pagehint loglevel=7)
#                     (Linux: "workload=churn churn.mib=N churn.rounds=R"
#                     runs memhog's page_fault1 churn instead; the run
#                     then ends with its @done line, no reclaim figures)
#
# --hold lets Linux's initial flush (page_reporting_register reports all
# boot-time free memory, ~1/16 of each free list per 2 s pass) finish
# before the free, so Linux's requests after the free are the freed
# memory's. (Our upstream engine has no initial flush: it reports the
# boot-time free memory after the first free, unless a first round did;
# docs/interop.md.) --idle is 36 so that the
# share at 35 s is sampled. Output in DIR (default
# build/linux-ref/run-GUEST): rss_raw.csv, console.log, trace.log, exit
# (scripts/linux-ref/record.c), rss.csv, requests.csv, summary.json
# (scripts/linux-ref/analyze.py), qemu.cmd. Exit status: 0 when the guest
# verified its memory and the run was recorded, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lr=${LINUX_REF_DIR:-$root/build/linux-ref}

guest=linux mem=4G hog=2048 hold=20 idle=36 engine=upstream rounds=1 kvm=0 out='' limit=''
kernel='' append=''
while [ $# -gt 0 ]; do
	case $1 in
	--guest)   guest=$2; shift ;;
	--mem)     mem=$2; shift ;;
	--hog-mib) hog=$2; shift ;;
	--hold)    hold=$2; shift ;;
	--idle)    idle=$2; shift ;;
	--engine)  engine=$2; shift ;;
	--rounds)  rounds=$2; shift ;;
	--kernel)  kernel=$2; shift ;;
	--append)  append=$2; shift ;;
	--kvm)     kvm=1 ;;
	--out)     out=$2; shift ;;
	--timeout) limit=$2; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;/^set -e/d'; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
case $guest in linux|pagehint) ;; *) echo "run.sh: --guest linux|pagehint" >&2; exit 2 ;; esac
[ "$guest" = pagehint ] || [ $kvm = 0 ] ||
	{ echo "run.sh: --kvm is for --guest pagehint (Linux runs under TCG only, docs/design.md §6)" >&2; exit 2; }
[ "$guest" = linux ] || [ -z "$kernel" ] || { echo "run.sh: --kernel is for --guest linux" >&2; exit 2; }
[ -z "$kernel" ] || [ -s "$kernel" ] || { echo "run.sh: --kernel $kernel: no such file" >&2; exit 2; }
case $rounds in ''|*[!0-9]*|0) echo "run.sh: --rounds takes a count (1 or more)" >&2; exit 2 ;; esac
out=${out:-$lr/run-$guest}
# boot + allocation + hold + idle, generously: TCG writes ~300-400 MiB/s
limit=${limit:-$((120 + rounds * (hog / 50 + ${hold%.*} + ${idle%.*})))}

command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 is not installed (scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$lr"
if [ ! -x "$lr/record" ] || [ "$here/record.c" -nt "$lr/record" ]; then
	# to a private name first: tests run run.sh in parallel
	gcc -O2 -Wall -Wextra -Werror -o "$lr/record.$$" "$here/record.c"
	mv "$lr/record.$$" "$lr/record"
fi

rm -rf "$out" && mkdir -p "$out"
trace=(-msg timestamp=on -D "$out/trace.log" -trace virtio_queue_notify -trace ram_block_discard_range)
case $guest in
linux)
	if [ -z "$kernel" ]; then
		"$here/build.sh"
		vmlinuz=$lr/vmlinuz initrd=$lr/initramfs.cpio.gz
		label="Linux $(sed -n 's/^kernel_version=//p' "$lr/manifest.txt") on QEMU TCG"
	else
		"$here/build.sh" --no-modules
		vmlinuz=$kernel initrd=$lr/initramfs-builtin.cpio.gz
		# linux/build.sh keeps a manifest beside each kernel
		kmf=$(dirname "$kernel")/manifest.txt
		if [ -f "$kmf" ]; then
			label="Linux $(sed -n 's/^release=//p' "$kmf") ($(sed -n 's/^variant=//p' "$kmf")) on QEMU TCG"
		else
			label="Linux $(basename "$kernel") on QEMU TCG"
		fi
	fi
	[ "$rounds" = 1 ] || label="$label, round $rounds of $rounds"
	# shellcheck disable=SC2054 # the commas are QEMU's
	qemu=(qemu-system-x86_64 -M q35 -m "$mem" -smp 2 -nographic -no-reboot -nodefaults
		-serial stdio -kernel "$vmlinuz" -initrd "$initrd"
		-append "console=ttyS0 loglevel=4 panic=-1 memhog.mib=$hog memhog.hold=$hold memhog.idle=$idle memhog.rounds=$rounds${append:+ $append}"
		-device virtio-balloon-pci,free-page-reporting=on "${trace[@]}")
	;;
pagehint)
	elf=$root/build/pagehint-guest.elf
	[ -f "$elf" ] || { echo "run.sh: $elf not built (run make)" >&2; exit 1; }
	accel=() how=TCG
	[ $kvm = 0 ] || accel=(-enable-kvm) how=KVM
	label="pagehint guest engine=$engine on QEMU $how"
	[ "$rounds" = 1 ] || label="$label, round $rounds of $rounds"
	# shellcheck disable=SC2054 # the commas are QEMU's
	qemu=(qemu-system-x86_64 -M microvm,acpi=off -m "$mem" -smp 2 -nographic -no-reboot
		-nodefaults -serial stdio -kernel "$elf"
		-device isa-debug-exit,iobase=0x501,iosize=2
		-device virtio-balloon-device,free-page-reporting=on
		-global virtio-mmio.force-legacy=false
		-append "engine=$engine workload=memhog memhog.mib=$hog memhog.hold_ms=$((${hold%.*} * 1000)) memhog.idle_ms=$((${idle%.*} * 1000)) memhog.rounds=$rounds quiet${append:+ $append}"
		"${accel[@]}" "${trace[@]}")
	;;
esac
printf '%q ' "${qemu[@]}" >"$out/qemu.cmd"
echo >>"$out/qemu.cmd"

echo "== $label: ${mem} guest, 2 vCPUs, memhog $hog MiB, hold $hold s, idle $idle s, $rounds round(s) (at most $limit s)" >&2
set +e
timeout $((limit + 15)) "$lr/record" --out "$out" --period-ms 20 --timeout "$limit" --echo -- "${qemu[@]}"
rc=$?
set -e

# The guest's own verdict: Linux prints @exit status=N before powering off;
# the pagehint guest exits through isa-debug-exit ((N << 1) | 1).
case $guest in
linux)    status=$(grep -o '@exit status=[0-9]*' "$out/console.log" | tail -1 | cut -d= -f2) ;;
pagehint) status=$((rc & 1 ? rc >> 1 : 255)) ;;
esac
fail=0
if [ "${status:-x}" != 0 ]; then
	echo "== the guest did not finish cleanly (status ${status:-none}, recorder $rc); console: $out/console.log" >&2
	fail=1
fi
if grep -q '@fail' "$out/console.log"; then
	echo "== the guest found a data error:" >&2
	grep '@fail' "$out/console.log" >&2
	fail=1
fi
# a churn run (--append "workload=churn ...") has no free to time
if [ "$guest" = linux ] && grep -q '@event churn' "$out/console.log"; then
	grep -h -o '@done workload=churn.*' "$out/console.log" | sed 's/^/== /' >&2 || fail=1
	exit $fail
fi
t0=()
[ "$guest" = pagehint ] && t0=(--t0-alloc-plus-ms $((${hold%.*} * 1000)))
python3 "$here/analyze.py" "$out" --label "$label" "${t0[@]}" >/dev/null || fail=1
[ -f "$out/summary.json" ] && python3 - "$out/summary.json" <<'PY' >&2
import json, sys
s = json.load(open(sys.argv[1]))
f = lambda v: "never" if v is None else f"{v / 1000:.1f} s"
p = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"
print(f"== {s['label']}: freed {s['freed_mib']} MiB; back: first {f(s['t_first_ms'])}, "
      f"50% {f(s['t50_ms'])}, 90% {f(s['t90_ms'])}, 99% {f(s['t99_ms'])}; "
      f"{p(s['returned_10s'])} at 10 s, {p(s['returned_35s'])} at 35 s")
print(f"== {s['requests']} requests, {s['ranges']} ranges ({s['source']}), sizes {s['range_sizes']}, "
      f"passes {s['requests_per_pass']}, spacing {s['pass_spacing_ms']} ms; "
      f"{s['requests_before_free']} requests before the free")
PY
exit $fail
