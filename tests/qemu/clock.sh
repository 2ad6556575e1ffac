#!/usr/bin/env bash
# The guest's monotonic clock is accurate to 1%: it spins 4 s by its own
# clock (TSC scaled by the frequency it found: kvmclock, CPUID, or the PIT
# under TCG) and the host times the gap between the two console lines.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 2

# The host's view of the gap includes console delivery through QEMU and a
# pipe, which a busy host can delay by tens of ms: spin 4 s (1% = 40 ms),
# and take a second measurement (a new boot, a new calibration) when the
# first misses, so one scheduling hiccup doesn't fail the run while a
# clock that is really off fails both.
ms=4000
for try in 1 2; do
stamped=$(timeout 60 qemu-system-x86_64 -M microvm,acpi=off -smp 1 -m 64M -nographic \
	-no-reboot -nodefaults -serial stdio -kernel "$GUEST_ELF" \
	-device isa-debug-exit,iobase=0x501,iosize=2 -append "test=clock test.ms=$ms" \
	</dev/null 2>&1 | while IFS= read -r line; do echo "$EPOCHREALTIME ${line%$'\r'}"; done)
t0=$(awk '/@clock start/ {print $1}' <<<"$stamped")
t1=$(awk '/@clock end/ {print $1}' <<<"$stamped")
[ -n "$t0" ] && [ -n "$t1" ] &&
	[ "$(echo "e = ($t1 - $t0) * 1000 - $ms; if (e < 0) e = -e; e <= $ms / 100" | bc)" = 1 ] && break
[ $try = 1 ] && diag "first measurement: $(echo "($t1 - $t0) * 1000" | bc 2>/dev/null) ms; measuring again"
done
if [ -n "$t0" ] && [ -n "$t1" ]; then
	ok "guest printed both clock lines"
	err=$(echo "($t1 - $t0) * 1000 - $ms" | bc)
	diag "host saw $(echo "($t1 - $t0) * 1000" | bc) ms for the guest's $ms ms; $(grep -o 'tsc [0-9]* kHz ([a-z]*)' <<<"$stamped")"
	if [ "$(echo "e = $err; if (e < 0) e = -e; e <= $ms / 100" | bc)" = 1 ]; then
		ok "within 1% ($err ms off)"
	else
		not_ok "within 1% ($err ms off)"
	fi
else
	not_ok "guest printed both clock lines"
	diag "$stamped"
	not_ok "within 1%"
fi
done_testing
