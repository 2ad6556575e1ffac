#!/usr/bin/env bash
# SMP and idle: the guest finds its CPUs in the MP table, starts the
# application processors with INIT/SIPI, and counts them; an idle guest
# halts (a handful of halts and timer interrupts, not a busy loop);
# deferred work runs on the CPU it was queued on, after its delay.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 8

for n in 1 2; do
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

run_guest 2 128 "test=idle test.ms=0 frob"
expect_status "bare unknown word is a bad command line" $EXIT_CMDLINE

done_testing
