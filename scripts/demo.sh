#!/usr/bin/env bash
# The main job (`make demo`): a 2 GiB, 2-vCPU VM with our guest allocates
# and frees 1.5 GiB (memhog), and we watch the guest's memory leave the host.
#
# Under our hypervisor when /dev/kvm works: `pagehint run` shows the
# guest RAM resident on the host live and writes a summary. Where KVM can't
# be used (a machine that is itself a nested PVM guest, like our CI), the
# same guest runs on QEMU's virtio-balloon instead (TCG: slower, but the
# same protocol), and this script samples QEMU's resident memory itself.
#
# ENGINE=... MEM_MIB=... HOG_MIB=... IDLE_MS=... override the defaults.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tests/lib.sh"

ENGINE=${ENGINE:-upstream}
MEM_MIB=${MEM_MIB:-2048}
HOG_MIB=${HOG_MIB:-1536}
IDLE_MS=${IDLE_MS:-25000}
guest_cmdline="engine=$ENGINE workload=memhog memhog.mib=$HOG_MIB memhog.hold_ms=1000 memhog.idle_ms=$IDLE_MS"

why_not_kvm=$(kvm_unusable)
if [ -z "$why_not_kvm" ]; then
	echo "== pagehint run: ${MEM_MIB} MiB, 2 vCPUs, engine=$ENGINE, memhog ${HOG_MIB} MiB"
	exec "$PH_BUILD/pagehint" run --mem "${MEM_MIB}M" --cpus 2 \
		--summary-json "$PH_BUILD/demo-summary.json" --trace "$PH_BUILD/demo-trace.csv" \
		-- "$guest_cmdline"
fi

why_not_qemu=$(qemu_unusable)
if [ -n "$why_not_qemu" ]; then
	echo "demo: cannot run: $why_not_kvm, and $why_not_qemu" >&2
	exit 1
fi
echo "== KVM can't be used here ($why_not_kvm):"
echo "== running the same guest on QEMU's virtio-balloon (TCG), engine=$ENGINE"
echo "== ${MEM_MIB} MiB, 2 vCPUs, memhog ${HOG_MIB} MiB; host-resident memory of the VM every 0.5 s"

console=$(mktemp)
trap 'rm -f "$console"' EXIT
qemu-system-x86_64 -M microvm,acpi=off -smp 2 -m "${MEM_MIB}M" -nographic -no-reboot \
	-nodefaults -serial stdio -kernel "$PH_BUILD/pagehint-guest.elf" \
	-device isa-debug-exit,iobase=0x501,iosize=2 \
	-device virtio-balloon-device,free-page-reporting=on \
	-global virtio-mmio.force-legacy=false \
	-append "$guest_cmdline" </dev/null >"$console" 2>&1 &
qemu=$!

# Sample QEMU's resident memory; print each new console event beside it.
t0=$(date +%s%N)
seen=0
samples=()
while kill -0 "$qemu" 2>/dev/null; do
	rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$qemu/status" 2>/dev/null || true)
	[ -n "$rss" ] || break
	ms=$((($(date +%s%N) - t0) / 1000000))
	samples+=("$ms $rss")
	lines=$(wc -l <"$console")
	if [ "$lines" -gt "$seen" ]; then
		sed -n "$((seen + 1)),${lines}p" "$console" | tr -d '\r' | grep '^@' | sed 's/^/         guest: /' || true
		seen=$lines
	fi
	bar=$(printf '%*s' $((rss * 60 / MEM_MIB)) '' | tr ' ' '#')
	printf '%7.1f s %6d MiB %s\n' "$(echo "$ms / 1000" | bc -l)" "$rss" "$bar"
	sleep 0.5
done
wait "$qemu" && rc=0 || rc=$?
sed -n "$((seen + 1)),\$p" "$console" | tr -d '\r' | grep '^@' | sed 's/^/         guest: /' || true
status=$((rc & 1 ? rc >> 1 : 255))

# Reclaim: peak after the hog, and how much of it came back by the end.
printf '%s\n' "${samples[@]}" | awk -v hog="$HOG_MIB" '
	{ t[NR] = $1; r[NR] = $2; if ($2 > peak) { peak = $2; at = NR } }
	END {
		low = peak
		for (i = at; i <= NR; i++) if (r[i] < low) low = r[i]
		printf "== QEMU resident: peak %d MiB, lowest after the free %d MiB: %d of the %d MiB freed came back to the host\n",
			peak, low, peak - low, hog
	}'
if grep -q '^@fail' "$console"; then
	echo "== the guest found a data error" >&2
fi
echo "== guest exit status $status"
exit "$status"
