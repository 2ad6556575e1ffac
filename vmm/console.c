/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "console.h"
#include "guest_line.h"

/* A whole number of key=N in line, if it has one. */
static bool field_u64(const char *line, const char *key, uint64_t *out)
{
	double v;

	if (!guest_line_field(line, key, &v) || v < 0 || v >= 18446744073709551616.0 ||
	    v != (double)(uint64_t)v)
		return false;
	*out = (uint64_t)v;
	return true;
}

bool console_parse_line(struct console_state *c, const char *line, uint64_t host_ns)
{
	uint64_t v;

	if (line[0] != '@')
		return false;
	switch (guest_event_parse(line).kind) {
	case GUEST_EVENT_FREEING:
		c->freeing = true;
		c->freeing_ns = host_ns;
		return true;
	case GUEST_EVENT_FREE:
		/* Engines report while the guest frees: time from the start. */
		if (field_u64(line, "mib", &v) && c->nfree < CONSOLE_MAX_FREE_EVENTS) {
			c->free[c->nfree].host_ns = c->freeing ? c->freeing_ns : host_ns;
			c->free[c->nfree].mib = v;
			c->nfree++;
		}
		c->freeing = false;
		return true;
	default:
		break;
	}
	if (guest_line_word(line, "@fail")) {
		c->fail_lines++;
		if (field_u64(line, "errors", &v))
			c->errors_field += v;
	} else if (guest_line_word(line, "@done")) {
		c->done = true;
		if (field_u64(line, "errors", &v))
			c->errors_field += v;
	}
	return true;
}

uint64_t console_data_errors(const struct console_state *c)
{
	/* An @fail line with errors=N counts N, one without counts 1. */
	return c->errors_field > c->fail_lines ? c->errors_field : c->fail_lines;
}

int console_format_prefix(char *buf, size_t cap, uint64_t rel_ns)
{
	return snprintf(buf, cap, "[%5llu.%06llu] ", (unsigned long long)(rel_ns / 1000000000u),
			(unsigned long long)(rel_ns % 1000000000u / 1000u));
}
