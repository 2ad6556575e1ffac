#!/usr/bin/env bash
# SMP and idle: the guest finds its CPUs in the MP table, starts the
# application processors with INIT/SIPI, and counts them; an idle guest
# halts (a handful of halts and timer interrupts, not a busy loop);
# deferred work runs on the CPU it was queued on, after its delay.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 11

for n in 1 2 4; do
	run_guest $n 128 "test=idle test.ms=300"
	expect_status "$n vCPU: boots and exits cleanly" $EXIT_OK
	expect_line "$n vCPU: counts $n CPUs" "^@boot cpus=$n "
	diag "$(grep -E '^@(boot|idle)' <<<"$OUT")"
done

# 300 ms idle on the boot CPU: one halt per timer wake-up, a few at most.
halts=$(sed -n 's/^@idle .*halts=\([0-9]*\).*/\1/p' <<<"$OUT")
if [ -n "$halts" ] && [ "$halts" -ge 1 ] && [ "$halts" -le 5 ]; then
	ok "idle halts instead of polling ($halts halts in 300 ms)"
else
	not_ok "idle halts instead of polling (halts=$halts)"
	diag "$OUT"
fi

# Deferred work: a delayed item on each CPU runs there, not before its
# time; a periodic one re-queues itself.
run_guest 2 128 "test=work quiet"
expect_status "delayed work: clean exit" $EXIT_OK
expect_line "delayed work: each item on its CPU, on time" "^@work ok$"
diag "$(grep '^@work' <<<"$OUT")"

# An idle guest costs the host (almost) no CPU: 3 s of idle on 2 vCPUs
# must take well under a second of QEMU's CPU time (a spinning guest: ~3 s).
if [ -x /usr/bin/time ]; then
	cpu=$(/usr/bin/time -f '%U %S' -o /dev/stdout timeout 60 qemu-system-x86_64 \
		-M microvm,acpi=off -smp 2 -m 128M -nographic -no-reboot -nodefaults \
		-serial null -kernel "$GUEST_ELF" -device isa-debug-exit,iobase=0x501,iosize=2 \
		-append "test=idle test.ms=3000 quiet" </dev/null 2>/dev/null | tail -1)
	secs=$(echo "$cpu" | awk '{print $1 + $2}')
	if [ -n "$secs" ] && [ "$(echo "$secs < 1.0" | bc)" = 1 ]; then
		ok "idle guest: ${secs}s of host CPU for 3 s of idle"
	else
		not_ok "idle guest: ${secs}s of host CPU for 3 s of idle"
	fi
else
	skip "/usr/bin/time is not installed"
fi

run_guest 2 128 "test=idle test.ms=0 frob"
expect_status "bare unknown word is a bad command line" $EXIT_CMDLINE

done_testing
