#!/usr/bin/env bash
# The guest kernel boots under QEMU (PVH entry, long mode, CPL3), parses its
# command line, and ends the run with the right status: a bad command line
# is one clear line and EXIT_CMDLINE; a CPU fault is a register dump and
# EXIT_FAULT.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guest.bash"
guest_prereqs
plan 9

run_guest 1 128 'workload=none'
expect_status "boots on 1 vCPU and exits cleanly" $EXIT_OK
diag "boot to exit: ${SECS}s"

run_guest 1 128 'workload=none frobnicate=1'
expect_status "unknown key: bad command line status" $EXIT_CMDLINE
expect_line "unknown key: one clear line" "^pagehint: bad command line: 'frobnicate=1': unknown key$"

run_guest 1 128 'workload=none memhog.mib=12x'
expect_line "bad value: one clear line" "^pagehint: bad command line: 'memhog.mib=12x': not a number$"

run_guest 1 128 'workload=none test=fault'
expect_status "guest fault: fault status" $EXIT_FAULT
expect_line "guest fault: vector and error code" '^@fault vector=14 \(#PF\) error=0x[0-9a-f]+ cpu=0$'
expect_line "guest fault: registers" '^  r13=[0-9a-f]{16} r14=[0-9a-f]{16} r15=[0-9a-f]{16} cr2=0000008000000000$'

run_guest 2 128 'workload=none test=fault-ap quiet'
expect_status "fault on an application processor: fault status" $EXIT_FAULT
expect_line "fault on an application processor: dump names CPU 1" '^@fault vector=14 \(#PF\) error=0x[0-9a-f]+ cpu=1$'

done_testing
