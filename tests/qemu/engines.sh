#!/usr/bin/env bash
# The reporting engines (engine=, core/engine.h) run in the guest over
# QEMU's virtio-balloon: memhog frees, the engine's deferred work reports
# free blocks, the device acknowledges, and the workload still verifies.
# Engine parameters are checked like the rest of the command line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 16

# upstream waits 2 s (PAGE_REPORTING_DELAY) before its first pass
for e in upstream max-order; do
	run_guest 2 256 "engine=$e workload=memhog memhog.mib=64 memhog.hold_ms=0 memhog.idle_ms=2500 quiet" "${BALLOON[@]}"
	expect_status "$e: memhog verified" $EXIT_OK
	expect_line "$e: active over the balloon" "^@engine name=$e active=1 "
	expect_line "$e: reported, device acknowledged, no errors" "^@engine name=$e requests=[1-9][0-9]* ranges=[1-9][0-9]* mib=[1-9][0-9]* errors=0 "
	diag "$(grep '^@engine name=[a-z0-9-]* requests' <<<"$OUT")"
done

run_guest 2 256 "engine=seed-v8 workload=churn churn.ms=300 quiet" "${BALLOON[@]}"
expect_status "seed-v8: churn verified" $EXIT_OK
expect_line "seed-v8: active" "^@engine name=seed-v8 active=1 "
diag "$(grep '^@engine name=[a-z0-9-]* requests' <<<"$OUT")"

# Reporting while allocating: the verify workload checks every byte of
# random-sized blocks while the engine isolates and reports free ones.
for e in "seed-v8" "max-order report.delay_ms=20"; do
	run_guest 2 256 "engine=$e workload=verify verify.ms=1000 verify.mib=128 quiet" "${BALLOON[@]}"
	expect_status "${e%% *} + verify: every byte checked" $EXIT_OK
	expect_line "${e%% *} + verify: reports acknowledged, no errors" "^@engine name=${e%% *} requests=[0-9]+ ranges=[0-9]+ mib=[0-9]+ errors=0 "
	diag "$(grep -E '^@(done|engine name=[a-z0-9-]* requests)' <<<"$OUT")"
done

run_guest 1 128 "engine=upstream workload=none quiet"
expect_status "an engine without a device: still runs" $EXIT_OK
expect_line "an engine without a device: inert" "^@engine name=upstream active=0 "

run_guest 1 128 "engine=bogus workload=none"
expect_status "unknown engine: bad command line" $EXIT_CMDLINE

run_guest 1 128 "engine=upstream report.entries=5 workload=none"
expect_status "a parameter the engine does not use: bad command line" $EXIT_CMDLINE
diag "$(grep 'bad command line' <<<"$OUT")"
