#!/usr/bin/env bash
# The guest with QEMU's virtio-balloon (virtio-mmio version 2, free page
# reporting on): found from virtio_mmio.device=, REPORTING and STATS_VQ
# negotiated, a workload runs with engine=off, a report request of free
# blocks completes, and the balloon inflates to the target the host sets
# and deflates again.
# A legacy (version 1) device is skipped and the run still succeeds.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 13

run_guest 2 256 "engine=off workload=memhog memhog.mib=32 memhog.hold_ms=0 memhog.idle_ms=0 quiet" "${BALLOON[@]}"
expect_status "memhog with the balloon present: verified" $EXIT_OK
expect_line "REPORTING and STATS_VQ negotiated, reporting queue 3" \
	'^@balloon features=0x[0-9a-f]+ reporting=1 stats=1 capacity=[1-9][0-9]* report_queue=3$'

run_guest 2 256 "test=report quiet" "${BALLOON[@]}"
expect_status "report request: clean exit" $EXIT_OK
expect_line "report request from CPU 1: 8 x 4 MiB acknowledged by the device" '^@report cpu=1 ranges=8 mib=32 rc=0 .* reported_blocks=8$'
diag "$(grep '^@report' <<<"$OUT")"
run_guest 2 256 "test=report balloon.timeout_ms=2000 quiet" "${BALLOON[@]}"
expect_status "balloon.timeout_ms: clean exit" $EXIT_OK
expect_line "balloon.timeout_ms: the report acknowledged within it" '^@report cpu=1 ranges=8 mib=32 rc=0 '
run_guest 1 64 "balloon.timeout_ms=5001 workload=none quiet"
expect_status "balloon.timeout_ms=5001 (above the default) is a bad command line" $EXIT_CMDLINE

# Inflate, then deflate: through the monitor the host asks for 200 MiB of
# 256 (a 56 MiB balloon), then for all 256 again.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/mon.in" "$dir/mon.out"
(sleep 1; echo "balloon 200"; sleep 2; echo "info balloon"; echo "balloon 256"; sleep 4) >"$dir/mon.in" &
cat "$dir/mon.out" >"$dir/mon.log" &
run_guest 2 256 "test=idle test.ms=5000 quiet" "${BALLOON[@]}" -monitor "pipe:$dir/mon"
wait
expect_status "inflate/deflate: clean exit" $EXIT_OK
if grep -q 'actual=200' "$dir/mon.log"; then
	ok "inflate: QEMU saw the guest at 200 MiB"
else
	not_ok "inflate: QEMU saw the guest at 200 MiB"
	diag "$(tr -d '\r' <"$dir/mon.log" | grep -a balloon)"
fi
expect_line "deflate: all 56 MiB back, balloon empty" '^@balloon target=0 actual=0 inflated=14336 deflated=14336 '
diag "$(grep '^@balloon target' <<<"$OUT")"

run_guest 1 128 "workload=none" -device virtio-balloon-device,free-page-reporting=on
expect_status "legacy virtio-mmio device: still runs" $EXIT_OK
expect_line "legacy virtio-mmio device: skipped, said so" '^virtio: 0x[0-9a-f]+: no virtio-mmio v2 device \(version 1\)$'
if grep -q '^@balloon' <<<"$OUT"; then not_ok "legacy: no balloon driver"; else ok "legacy: no balloon driver"; fi

done_testing
