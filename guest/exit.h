/* SPDX-License-Identifier: MIT */
/*
 * How a run ends. The kernel writes the status to EXIT_PORT: our VMM exits
 * with that status, QEMU's isa-debug-exit with (status << 1) | 1.
 */
#ifndef GUEST_EXIT_H
#define GUEST_EXIT_H

enum exit_status {
	EXIT_OK = 0,		/* the workload ran and verified (@done) */
	EXIT_FAIL = 1,		/* workload or data failure (@fail) */
	EXIT_CMDLINE = 2,	/* bad command line */
	EXIT_FAULT = 3,		/* CPU exception (register dump) */
	EXIT_INTERNAL = 4,	/* broken invariant, out of memory, no device */
};

/* End the run. If nothing listens on the port, stop this CPU for ever. */
__attribute__((noreturn)) void ph_exit(enum exit_status status);

/* Print "@fail ..." style reason and exit with status. */
__attribute__((noreturn, format(printf, 2, 3)))
void panic_status(enum exit_status status, const char *fmt, ...);
#define panic(...) panic_status(EXIT_INTERNAL, __VA_ARGS__)

#endif
