/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

/* Value of " key=<digits>" in line, if present. */
static bool field_u64(const char *line, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);

	for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
		if ((p != line && p[-1] != ' ') || p[kl] != '=')
			continue;
		const char *v = p + kl + 1;
		char *end;
		if (*v < '0' || *v > '9')
			return false;
		unsigned long long n = strtoull(v, &end, 10);
		if (*end && *end != ' ')
			return false;
		*out = n;
		return true;
	}
	return false;
}

static bool word_is(const char *line, const char *w)
{
	size_t n = strlen(w);
	return !strncmp(line, w, n) && (line[n] == 0 || line[n] == ' ');
}

bool console_parse_line(struct console_state *c, const char *line, uint64_t host_ns)
{
	uint64_t v;

	if (line[0] != '@')
		return false;
	if (word_is(line, "@event") && word_is(line + 7, "freeing")) {
		c->freeing = true;
		c->freeing_ns = host_ns;
	} else if (word_is(line, "@event") && word_is(line + 7, "free")) {
		/* Engines report while the guest frees: time from the start. */
		if (field_u64(line, "mib", &v) && c->nfree < CONSOLE_MAX_FREE_EVENTS) {
			c->free[c->nfree].host_ns = c->freeing ? c->freeing_ns : host_ns;
			c->free[c->nfree].mib = v;
			c->nfree++;
		}
		c->freeing = false;
	} else if (word_is(line, "@fail")) {
		c->fail_lines++;
		if (field_u64(line, "errors", &v))
			c->errors_field += v;
	} else if (word_is(line, "@done")) {
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
