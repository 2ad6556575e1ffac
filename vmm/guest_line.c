/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "guest_line.h"

bool guest_line_word(const char *line, const char *w)
{
	size_t n = strlen(w);
	return !strncmp(line, w, n) && (line[n] == 0 || line[n] == ' ');
}

bool guest_line_field(const char *line, const char *key, double *out)
{
	size_t kl = strlen(key);

	for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
		if ((p != line && p[-1] != ' ') || p[kl] != '=')
			continue;
		const char *v = p + kl + 1, *d = v + (*v == '-');
		char *end;
		/* strtod alone would take "inf", "nan" and leading blanks */
		if (*d < '0' || *d > '9')
			return false;
		double x = strtod(v, &end);
		if (*end && *end != ' ')
			return false;
		*out = x;
		return true;
	}
	return false;
}

static const struct {
	const char *name;
	enum guest_event kind;
} events[] = {
	{ "alloc", GUEST_EVENT_ALLOC },	{ "freeing", GUEST_EVENT_FREEING },
	{ "free", GUEST_EVENT_FREE },	{ "churn", GUEST_EVENT_CHURN },
	{ "bursts", GUEST_EVENT_BURSTS }, { "burst", GUEST_EVENT_BURST },
};

struct guest_event_line guest_event_parse(const char *line)
{
	struct guest_event_line ev = { .kind = GUEST_EVENT_NONE, .mib = -1, .alloc_us = -1 };

	if (!guest_line_word(line, "@event"))
		return ev;
	ev.kind = GUEST_EVENT_OTHER;
	const char *name = line + 6 + (line[6] == ' ');
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (guest_line_word(name, events[i].name))
			ev.kind = events[i].kind;
	double v;
	if (guest_line_field(line, "mib", &v) && v >= 0)
		ev.mib = v;
	if (guest_line_field(line, "alloc_us", &v) && v >= 0)
		ev.alloc_us = v;
	return ev;
}
