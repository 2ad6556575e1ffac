#!/usr/bin/env bash
# Each workload runs briefly on 2 vCPUs with engine=off and passes its own
# verification (patterns written into every allocated page, checked before
# every free, the allocator's consistency check at the end); a corrupted
# word is caught as @fail with EXIT_FAIL.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 31

run_guest 2 256 "engine=off workload=memhog memhog.mib=64 memhog.rounds=2 memhog.hold_ms=50 memhog.idle_ms=50 quiet"
expect_status "memhog: verified" $EXIT_OK
expect_line "memhog: a free event per round" "^@event free mib=64 round=2$"
expect_line "memhog: the start of each free announced" "^@event freeing mib=64 round=2$"
expect_line "memhog: done line" "^@done workload=memhog cpus=2 rounds=2 mib=64 "
expect_line "memhog: every page checked, every round" "^@done workload=memhog .* checked_mib=128$"

# memhog.ms: rounds stop starting after it (the first always runs); rounds stays the cap
run_guest 2 256 "engine=off workload=memhog memhog.mib=8 memhog.rounds=1000 memhog.hold_ms=0 memhog.idle_ms=100 memhog.ms=300 quiet"
expect_status "memhog.ms: verified" $EXIT_OK
rounds=$(sed -n 's/^@done workload=memhog .* rounds=\([0-9]*\) .*/\1/p' <<<"$OUT")
if [ -n "$rounds" ] && [ "$rounds" -ge 2 ] && [ "$rounds" -le 4 ]; then
	ok "memhog.ms: 300 ms of rounds of 100 ms and more ($rounds)"
else
	not_ok "memhog.ms: 300 ms of rounds of 100 ms and more (rounds '$rounds')"
	diag "$OUT"
fi

run_guest 2 256 "engine=off workload=churn churn.ms=300 quiet"
expect_status "churn: verified" $EXIT_OK
expect_line "churn: pages/s" "^@done workload=churn cpus=2 ms=[0-9]+ pages=[1-9][0-9]* pages_per_s=[1-9]"
diag "$(grep '^@done' <<<"$OUT")"

# churn.mib: page_fault1's rounds, every page through the buddy lists; the
# pages per run are whole rounds (8 MiB = 2048 pages a CPU)
run_guest 2 256 "engine=upstream workload=churn churn.ms=300 churn.mib=8 quiet" "${BALLOON[@]}"
expect_status "churn rounds: verified" $EXIT_OK
expect_line "churn rounds: announced" "^@event churn ms=300 mib=8$"
expect_line "churn rounds: refaults counted" "^@mem alloc_waits=0 alloc_wait_failures=0 reported_taken_mib=[0-9]+$"
pages=$(sed -n 's/^@done workload=churn .* pages=\([0-9]*\) .*/\1/p' <<<"$OUT")
if [ -n "$pages" ] && [ "$pages" -gt 0 ] && [ $((pages % 2048)) -eq 0 ]; then
	ok "churn rounds: whole rounds ($pages pages)"
else
	not_ok "churn rounds: whole rounds (pages '$pages')"
	diag "$OUT"
fi
run_guest 2 256 "engine=off workload=churn churn.mib=100 quiet"
expect_status "churn rounds: more than half the free memory is a bad command line" $EXIT_CMDLINE

run_guest 2 256 "engine=off workload=fragment fragment.mib=32 fragment.keep=50 fragment.hold_ms=50 quiet"
expect_status "fragment: verified" $EXIT_OK
# Which pages are kept depends on their pfn (even ones, with keep=50), and
# which pfns each CPU got depends on how the per-CPU lists interleaved:
# about half, so 15 or 16 of 32 MiB (mib= truncates).
expect_line "fragment: first free leaves half" "^@event free mib=1[56]$"
# keep=50 keeps every other page: the freed half can only be order-0 blocks
expect_line "fragment: only order-0 holes" "^@info free_blocks o0=[0-9]{4,} o1=[0-9]{1,2} "
expect_line "fragment: done line" "^@done workload=fragment cpus=2 keep=50% freed_mib=1[56] kept_mib=1[56]$"

run_guest 2 256 "engine=off workload=verify verify.ms=300 verify.mib=16 quiet"
expect_status "verify: verified" $EXIT_OK
expect_line "verify: done line" "^@done workload=verify cpus=2 ops=[1-9][0-9]* checked_mib=[0-9]+ "

# verify.rounds: each round checks and frees all it holds (the free line says what it held), then idles
run_guest 2 256 "engine=pagehint workload=verify verify.ms=200 verify.mib=64 verify.rounds=3 verify.idle_ms=100 quiet" "${BALLOON[@]}"
expect_status "verify rounds: verified" $EXIT_OK
if [ "$(grep -c '^@event free mib=' <<<"$OUT")" = 3 ]; then ok "verify rounds: a free at the end of each"
else not_ok "verify rounds: a free at the end of each"; diag "$OUT"; fi
expect_line "verify rounds: done line" "^@done workload=verify cpus=2 ops=[1-9][0-9]* checked_mib=[0-9]+ oom=0 rounds=3$"

# burst: a job runner's allocate-write-check-free every period; a line per
# burst with its allocation time. With pagehint over QEMU's balloon, the
# memory a burst frees is reported (and discarded) before the next one
# allocates it again, until the engine learns the job: the patterns still
# check.
run_guest 2 256 "engine=off workload=burst burst.mib=16 burst.period_ms=100 burst.count=4 quiet"
expect_status "burst: verified" $EXIT_OK
expect_line "burst: a line per burst" "^@event burst n=4 mib=16 alloc_us=[1-9][0-9]* free_us=[1-9][0-9]*$"
expect_line "burst: done line" "^@done workload=burst cpus=2 count=4 mib=16 period_ms=100 alloc_us_mean=[1-9][0-9]* alloc_us_max=[0-9]+ free_us_mean=[0-9]+ late=[0-4]$"
run_guest 2 256 "engine=pagehint workload=burst burst.mib=32 burst.period_ms=300 burst.count=4 quiet" "${BALLOON[@]}"
expect_status "burst with pagehint reporting between bursts: verified" $EXIT_OK
# the first burst's free wakes the engine, whose pass reports it (with
# the memory free since boot); the bursts after it take Reported memory
# back: discarded on the host, refaulted, and the patterns check
expect_line "burst with pagehint: reported" "^@engine name=pagehint requests=[1-9][0-9]* ranges=[0-9]+ mib=[1-9][0-9]* errors=0 "
expect_line "burst with pagehint: bursts took Reported memory back" "^@mem .* reported_taken_mib=[1-9][0-9]*$"
diag "$(grep -E '^@(done|engine name=pagehint requests)' <<<"$OUT")"

run_guest 1 128 "workload=memhog memhog.mib=8 memhog.hold_ms=0 memhog.idle_ms=0 test=corrupt quiet"
expect_status "corrupted word: failure status" $EXIT_FAIL
expect_line "corrupted word: @fail names it" "^@fail workload=memhog cpu=0 addr=0x[0-9a-f]+ word=7 "

done_testing
