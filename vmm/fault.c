/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "fault.h"

static const struct {
	const char *name;
	enum fault_kind kind;
} kinds[] = {
	{ "delay-acks", FAULT_DELAY },
	{ "drop-acks", FAULT_DROP },
	{ "reset", FAULT_RESET },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

void fault_config_init(struct fault_config *c)
{
	*c = (struct fault_config){
		.modes = 0, .rate = FAULT_DEFAULT_RATE, .seed = 1,
		.delay_max_ms = FAULT_DEFAULT_DELAY_MS,
	};
}

int fault_parse_modes(const char *s, unsigned *modes, char *bad, size_t badlen)
{
	unsigned m = 0;

	if (!strcmp(s, "none")) {
		*modes = 0;
		return 0;
	}
	if (!strcmp(s, "all")) {
		*modes = FAULT_DELAY | FAULT_DROP | FAULT_RESET;
		return 0;
	}
	for (const char *p = s;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		bool found = false;

		for (size_t k = 0; k < NKINDS; k++)
			if (strlen(kinds[k].name) == len && !strncmp(p, kinds[k].name, len)) {
				m |= kinds[k].kind;
				found = true;
			}
		if (!found) {
			snprintf(bad, badlen, "%.*s", (int)(len > 64 ? 64 : len), p);
			return -1;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	*modes = m;
	return 0;
}

const char *fault_kind_name(enum fault_kind k)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (kinds[i].kind == k)
			return kinds[i].name;
	return "none";
}

const char *fault_modes_str(unsigned modes, char *buf, size_t len)
{
	size_t at = 0;

	if (len)
		buf[0] = 0;
	for (size_t k = 0; k < NKINDS; k++)
		if (modes & kinds[k].kind) {
			int w = snprintf(buf + at, len > at ? len - at : 0, "%s%s", at ? "," : "",
					 kinds[k].name);
			if (w > 0)
				at += (size_t)w;
		}
	if (!at)
		snprintf(buf, len, "none");
	return buf;
}

uint64_t fault_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

enum fault_kind fault_pick(const struct fault_config *c, uint64_t *state)
{
	enum fault_kind on[NKINDS];
	unsigned n = 0;

	if (!c->modes || !(c->rate > 0))
		return FAULT_NONE;
	/* 53 random bits as a double in [0, 1). */
	if ((double)(fault_rand(state) >> 11) / 9007199254740992.0 >= c->rate)
		return FAULT_NONE;
	for (size_t k = 0; k < NKINDS; k++)
		if (c->modes & kinds[k].kind)
			on[n++] = kinds[k].kind;
	/* modes with no bit this table knows: nothing to pick from */
	if (!n)
		return FAULT_NONE;
	return on[fault_rand(state) % n];
}

uint64_t fault_delay_ns(const struct fault_config *c, uint64_t *state)
{
	uint64_t max = c->delay_max_ms ? c->delay_max_ms : 1;

	return (1 + fault_rand(state) % max) * 1000000ull;
}
