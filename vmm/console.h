/* SPDX-License-Identifier: MIT */
/*
 * The guest's results protocol on the console: lines starting with '@'.
 *   @event freeing      the guest starts to free memory
 *   @event free mib=N   the guest just freed N MiB; reclaim timing starts
 *                       at the freeing line before it (at this line's
 *                       host timestamp if there was none)
 *   @done ... [errors=N]
 *   @fail ...           a data error (or other failure)
 * Lines are also printed by the VMM with a host timestamp prefix.
 */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_MAX_FREE_EVENTS 1024

struct free_event {
	uint64_t host_ns;	/* when the free started */
	uint64_t mib;
};

struct console_state {
	unsigned nfree;
	struct free_event free[CONSOLE_MAX_FREE_EVENTS];
	bool freeing;		/* a freeing line awaits its free line */
	uint64_t freeing_ns;
	unsigned fail_lines;
	uint64_t errors_field;	/* sum of errors=N on @done / @fail lines */
	bool done;
};

/* Record what a console line says. Returns true if it was an @ line. */
bool console_parse_line(struct console_state *c, const char *line, uint64_t host_ns);
uint64_t console_data_errors(const struct console_state *c);
/* "[   12.345678] " prefix for a line at rel_ns after start. */
int console_format_prefix(char *buf, size_t cap, uint64_t rel_ns);

#endif
