/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "options.h"

bool opt_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mul = 1;

	if (!*s || !(isdigit((unsigned char)*s) || *s == '.'))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return false;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': mul = 1ULL << 10; end++; break;
	case 'M': mul = 1ULL << 20; end++; break;
	case 'G': mul = 1ULL << 30; end++; break;
	case 'T': mul = 1ULL << 40; end++; break;
	default: return false;
	}
	if (mul > 1 && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
		end += strlen(end);
	if (*end)
		return false;
	v *= (double)mul;
	if (v >= 18446744073709551616.0 || v != floor(v))
		return false;
	*out = (uint64_t)v;
	return true;
}

/* A whole decimal number, no sign; false for anything else. */
static bool parse_uint(const char *s, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* v into a field of size bytes; a table's mistake stops the program. */
static void store_uint(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case 1: { uint8_t x = (uint8_t)v; memcpy(field, &x, 1); break; }
	case 2: { uint16_t x = (uint16_t)v; memcpy(field, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(field, &x, 4); break; }
	case 8: memcpy(field, &v, 8); break;
	default: abort();
	}
}

/* "16M", "1T": the largest unit v is a whole number of. */
static const char *size_str(uint64_t v, char *buf, size_t cap)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	snprintf(buf, cap, "%llu%.*s", (unsigned long long)v, u >= 0, u >= 0 ? &units[u] : "");
	return buf;
}

/* "a, b or c": an OPT_WORD's words, for its error. */
static void words_str(const struct opt_word *w, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = 0;
	for (; w->word && len < cap; w++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? (w[1].word ? ", " : " or ") : "",
					w->word);
}

/* The value of o into dst's field; 0, or -1 with the reason (after the
 * option's name) in why. */
static int read_value(const struct opt *o, const char *val, void *dst, char *why, size_t cap)
{
	char *field = (char *)dst + o->off, lo[24], hi[24], al[24], words[160];
	uint64_t u;
	double d;
	char *end;

	switch (o->kind) {
	case OPT_PATH:
		if (!*val)
			return vmm_fail(why, cap, "needs a file name");
		memcpy(field, &val, sizeof(val));
		return 0;
	case OPT_SIZE:
		if (!opt_parse_size(val, &u))
			return vmm_fail(why, cap, "'%s' is not %s", val, o->what ? o->what : "a size (e.g. 2G, 512M)");
		if ((o->max && (u < o->min || u > o->max)) || (o->align && u % o->align))
			return vmm_fail(why, cap, "'%s' is not %s%s from %s to %s", val,
					o->align ? "a multiple of " : "a size",
					o->align ? size_str(o->align, al, sizeof(al)) : "",
					size_str(o->min, lo, sizeof(lo)), size_str(o->max, hi, sizeof(hi)));
		store_uint(field, o->size, u);
		return 0;
	case OPT_UINT:
		if (!parse_uint(val, &u) || u < o->min || u > o->max || (o->align && u % o->align)) {
			if (o->what)
				return vmm_fail(why, cap, "'%s' is not %s", val, o->what);
			return vmm_fail(why, cap, "'%s' is not a number from %llu to %llu", val,
					(unsigned long long)o->min, (unsigned long long)o->max);
		}
		store_uint(field, o->size, u);
		return 0;
	case OPT_REAL:
		errno = 0;
		d = strtod(val, &end);
		if (errno || end == val || *end || !(d >= o->lo && d <= o->hi)) {
			if (o->what)
				return vmm_fail(why, cap, "'%s' is not %s", val, o->what);
			return vmm_fail(why, cap, "'%s' is not a number from %g to %g", val, o->lo, o->hi);
		}
		memcpy(field, &d, sizeof(d));
		return 0;
	case OPT_WORD:
		for (const struct opt_word *w = o->words; w->word; w++)
			if (!strcmp(val, w->word)) {
				store_uint(field, o->size, (uint64_t)(int64_t)w->value);
				return 0;
			}
		words_str(o->words, words, sizeof(words));
		return vmm_fail(why, cap, "'%s' is not %s", val, o->what ? o->what : words);
	case OPT_CALL:
		return o->call(dst, val, why, cap);
	case OPT_FLAG:
	case OPT_HELP:
		break;
	}
	abort();
}

static const struct opt *find(const struct opt_cmd *c, const char *name, size_t len)
{
	for (size_t k = 0; k < c->n; k++)
		if (strlen(c->opts[k].name) == len && !strncmp(c->opts[k].name, name, len))
			return &c->opts[k];
	return NULL;
}

enum opt_result opt_read(const struct opt_cmd *c, int argc, const char *const *argv, int *i,
			 void *dst, uint64_t *given, char *err, size_t n)
{
	for (; *i < argc; ++*i) {
		const char *a = argv[*i], *eq, *val;
		char why[256];

		if (c->rest && !strcmp(a, "--")) {
			++*i;
			return OPT_DONE;
		}
		if (!strcmp(a, "-h"))
			a = "--help";
		if (strncmp(a, "--", 2)) {
			if (c->rest)
				vmm_fail(err, n, "unexpected argument '%s' (%s go after '--')", a, c->rest);
			else
				vmm_fail(err, n, "unexpected argument '%s' (try '%s --help')", a, c->cmd);
			return OPT_BAD;
		}
		eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		const struct opt *o = find(c, a, len);
		if (!o) {
			vmm_fail(err, n, "unknown option '%.*s' (try '%s --help')", (int)len, a, c->cmd);
			return OPT_BAD;
		}
		if (given)
			*given |= 1ULL << (o - c->opts);
		if (o->kind == OPT_FLAG || o->kind == OPT_HELP) {
			if (eq) {
				vmm_fail(err, n, "%s takes no value", o->name);
				return OPT_BAD;
			}
			if (o->kind == OPT_HELP)
				return OPT_HELP_ASKED;
			store_uint((char *)dst + o->off, o->size, 1);
			continue;
		}
		if (eq) {
			val = eq + 1;
		} else if (*i + 1 < argc) {
			val = argv[++*i];
		} else {
			vmm_fail(err, n, "%s needs a value", o->name);
			return OPT_BAD;
		}
		if (read_value(o, val, dst, why, sizeof(why))) {
			/* "needs ..." reads on from the name; a reason after a colon */
			vmm_fail(err, n, "%s%s%s", o->name, strncmp(why, "needs ", 6) ? ": " : " ", why);
			return OPT_BAD;
		}
	}
	return OPT_DONE;
}

bool opt_given(const struct opt_cmd *c, uint64_t given, const char *name)
{
	const struct opt *o = find(c, name, strlen(name));
	return o && (given >> (o - c->opts) & 1);
}

void opt_help(FILE *f, const struct opt_cmd *c)
{
	for (size_t k = 0; k < c->n; k++) {
		const struct opt *o = &c->opts[k];
		const char *h = o->help ? o->help : "";
		int w = fprintf(f, "  %s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");

		/* two spaces at least between the option and its help */
		if (w > OPT_HELP_COL - 2) {
			fputc('\n', f);
			w = 0;
		}
		for (;;) {
			size_t len = strcspn(h, "\n");
			if (len)
				fprintf(f, "%*s%.*s", OPT_HELP_COL - w, "", (int)len, h);
			fputc('\n', f);
			w = 0;
			if (!h[len])
				break;
			h += len + 1;
		}
	}
}
