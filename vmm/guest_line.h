/* SPDX-License-Identifier: MIT */
/*
 * The guest's results lines on the console, parsed once for every reader:
 * `pagehint run`'s console (console.c) and the bench (bench_figures.c).
 * The protocol is guest/workload.h's: "@event NAME key=value ...", plus
 * the other '@' lines whose "key=value" fields the readers look up.
 * Pure: no state, no I/O.
 */
#ifndef VMM_GUEST_LINE_H
#define VMM_GUEST_LINE_H

#include <stdbool.h>

enum guest_event {
	GUEST_EVENT_NONE,	/* not an "@event" line */
	GUEST_EVENT_ALLOC,	/* "@event alloc": everything allocated and written */
	GUEST_EVENT_FREEING,	/* "@event freeing": a free starts */
	GUEST_EVENT_FREE,	/* "@event free mib=N": a free is over */
	GUEST_EVENT_CHURN,	/* "@event churn": the churn starts */
	GUEST_EVENT_BURSTS,	/* "@event bursts": the bursts begin */
	GUEST_EVENT_BURST,	/* "@event burst ... alloc_us=A": one burst is done */
	GUEST_EVENT_OTHER,	/* an "@event" of another name */
};

struct guest_event_line {
	enum guest_event kind;
	double mib;		/* its mib=N; < 0 when it has none */
	double alloc_us;	/* its alloc_us=A; < 0 when it has none */
};

/* What an "@event" line says; kind GUEST_EVENT_NONE for any other line. */
struct guest_event_line guest_event_parse(const char *line);

/* The number of the field " key=N" in line (N a decimal number ending at
 * a space or the line's end; the field at the start of the line counts
 * too); false when there is no such field or N is not a number. */
bool guest_line_field(const char *line, const char *key, double *out);

/* line is the word w, alone or followed by a space. */
bool guest_line_word(const char *line, const char *w);

#endif
