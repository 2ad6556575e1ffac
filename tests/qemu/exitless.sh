#!/usr/bin/env bash
# report.mode=exitless (docs/exitless.md) on QEMU: QEMU's balloon never
# offers the exitless feature (bit 23), so the guest says so on one
# @engine line and falls back to pagehint's standard mode, which reports
# over QEMU's free page reporting queue (QEMU discards the ranges: the
# memory still goes back). The exitless path itself needs pagehint's own
# device: tests/nested (the map's @xl counters). Here, test=exitless runs
# the guest's side of it for real (the hooks in the allocator, memhog
# checking every word) against a stand-in host on the last CPU that scans
# the map and zeroes what it claims, as the host's discard would.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 15

run_guest 2 256 "engine=pagehint report.mode=exitless workload=memhog memhog.mib=64 memhog.hold_ms=0 memhog.idle_ms=1000 quiet" "${BALLOON[@]}"
expect_status "exitless on QEMU: memhog verified" $EXIT_OK
expect_line "exitless on QEMU: the fallback is said" \
	"^@engine name=pagehint mode=standard exitless=unavailable reason=not-offered$"
expect_line "exitless on QEMU: the standard engine runs" "^@engine name=pagehint active=1 "
expect_line "exitless on QEMU: memory still reported, acknowledged, no errors" \
	"^@engine name=pagehint requests=[1-9][0-9]* ranges=[1-9][0-9]* mib=[1-9][0-9]* errors=0 "
if grep -q '^@xl ' <<<"$OUT"; then not_ok "exitless on QEMU: no @xl counters"; else ok "exitless on QEMU: no @xl counters"; fi
diag "$(grep -E '^@(engine|balloon features)' <<<"$OUT")"

run_guest 1 128 "engine=pagehint report.mode=exitless workload=none quiet"
expect_status "exitless without a balloon: still runs" $EXIT_OK
expect_line "exitless without a balloon: said, engine inert" \
	"^@engine name=pagehint mode=standard exitless=unavailable reason=no-balloon$"

run_guest 1 128 "engine=upstream report.mode=exitless workload=none"
expect_status "report.mode=exitless with another engine: bad command line" $EXIT_CMDLINE

run_guest 1 128 "engine=pagehint report.mode=fast workload=none"
expect_status "an unknown report.mode: bad command line" $EXIT_CMDLINE

run_guest 2 256 "engine=off test=exitless workload=memhog memhog.rounds=3 memhog.hold_ms=100 memhog.idle_ms=1000 quiet"
expect_status "test=exitless: memhog verified every word" $EXIT_OK
expect_line "test=exitless: the stand-in host reclaimed frames, no violation" \
	"^@xltest host reclaimed=[1-9][0-9]* discard_calls=[0-9]+ violations=0 discard_errors=0$"
expect_line "test=exitless: published, reclaimed frames taken back" \
	"^@xl published=[1-9][0-9]* taken_back=[1-9][0-9]* refaults=[1-9][0-9]* waits=[0-9]+ "
# A wait on a RECLAIMING frame gives up after 250 ms and takes its block
# out for good (docs/exitless.md §3). The stand-in host is a guest CPU
# under TCG, which a loaded machine can starve that long: then a block is
# lost by design, so the check is that every timeout removed exactly one
# block and nothing else did, not that none happened.
xl=$(grep -E '^@xl ' <<<"$OUT" | tail -1)
if [[ $xl =~ wait_timeouts=([0-9]+)\ removed_blocks=([0-9]+) ]] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
	ok "test=exitless: a block removed for each timed-out wait only (${BASH_REMATCH[1]})"
else
	not_ok "test=exitless: a block removed for each timed-out wait only"
	diag "$xl"
fi
if grep -q '^@fail' <<<"$OUT"; then not_ok "test=exitless: no @fail"; diag "$(grep '^@fail' <<<"$OUT" | head -3)"; else ok "test=exitless: no @fail"; fi
diag "$(grep -E '^@(xl|done)' <<<"$OUT")"

run_guest 1 128 "engine=pagehint test=exitless workload=none"
expect_status "test=exitless with an engine: bad command line" $EXIT_CMDLINE
