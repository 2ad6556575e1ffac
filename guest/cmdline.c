/* SPDX-License-Identifier: MIT */
#include "cmdline.h"
#include "console.h"
#include "exit.h"
#include "layout.h"
#include "lib.h"

struct config cfg;

static const char *const console_names[] = { "ttyS0" };
const char *const workload_names[] = { "memhog", "churn", "fragment", "verify", "burst", "none" };
static const char *const test_names[] = { "none", "fault", "fault-ap", "clock", "idle", "corrupt", "report", "work", "hostile", "exitless" };

enum kind { K_U64, K_ENUM, K_FLAG, K_VIRTIO };

struct key {
	const char *name;
	enum kind kind;
	void *ptr;
	uint64_t min, max;		/* K_U64 bounds */
	const char *const *names;	/* K_ENUM: value names, min..max valid */
};

#define U64(n, field, lo, hi) { n, K_U64, &cfg.field, lo, hi, 0 }
#define ENUM(n, field, tbl) { n, K_ENUM, &cfg.field, 0, sizeof(tbl) / sizeof(tbl[0]) - 1, tbl }

static const struct key keys[] = {
	ENUM("workload", workload, workload_names),
	ENUM("test", test, test_names),
	U64("seed", seed, 0, UINT64_MAX),
	{ "quiet", K_FLAG, &cfg.quiet, 0, 0, 0 },
	ENUM("console", console, console_names),
	U64("memhog.mib", memhog.mib, 0, 1 << 20),
	U64("memhog.rounds", memhog.rounds, 1, 1000000),
	U64("memhog.hold_ms", memhog.hold_ms, 0, 86400000),
	U64("memhog.idle_ms", memhog.idle_ms, 0, 86400000),
	U64("memhog.ms", memhog.ms, 0, 86400000),
	U64("churn.ms", churn.ms, 1, 86400000),
	U64("churn.batch", churn.batch, 1, 256),
	U64("churn.mib", churn.mib, 0, 65536),
	U64("fragment.mib", fragment.mib, 1, 1 << 20),
	U64("fragment.keep", fragment.keep, 1, 99),
	U64("fragment.hold_ms", fragment.hold_ms, 0, 86400000),
	U64("verify.ms", verify.ms, 1, 86400000),
	U64("verify.mib", verify.mib, 1, 1 << 20),
	U64("verify.rounds", verify.rounds, 1, 1000000),
	U64("verify.idle_ms", verify.idle_ms, 0, 86400000),
	U64("burst.mib", burst.mib, 1, 1 << 20),
	U64("burst.period_ms", burst.period_ms, 1, 86400000),
	U64("burst.count", burst.count, 1, 1000000),
	U64("test.ms", test_ms, 0, 86400000),
	U64("balloon.timeout_ms", balloon_timeout_ms, 1, 5000),	/* at most the default: guest/mem.c waits longer */
	{ "virtio_mmio.device", K_VIRTIO, 0, 0, 0, 0 },
};

static void defaults(void)
{
	ph_engine_params_init(&cfg.engine);
	cfg.workload = WL_MEMHOG;
	cfg.test = TEST_NONE;
	cfg.seed = 1;
	cfg.memhog.mib = 0;
	cfg.memhog.rounds = 1;
	cfg.memhog.hold_ms = 1000;
	cfg.memhog.idle_ms = 10000;
	cfg.churn.ms = 1000;
	cfg.churn.batch = 16;
	cfg.fragment.mib = 64;
	cfg.fragment.keep = 50;
	cfg.fragment.hold_ms = 1000;
	cfg.verify.ms = 1000;
	cfg.verify.mib = 32;
	cfg.verify.rounds = 1;
	cfg.verify.idle_ms = 0;
	cfg.burst.mib = 64;
	cfg.burst.period_ms = 500;
	cfg.burst.count = 10;
	cfg.test_ms = 1000;
}

__attribute__((noreturn)) static void bad(const char *w, size_t n, const char *why)
{
	char word[80];
	if (n >= sizeof(word))
		n = sizeof(word) - 1;
	memcpy(word, w, n);
	word[n] = 0;
	panic_status(EXIT_CMDLINE, "pagehint: bad command line: '%s': %s", word, why);
}

/* <size>@<base>:<irq>[:<id>], as Linux's virtio_mmio.device= */
static bool parse_virtio(const char *v, size_t n, struct virtio_mmio_arg *a)
{
	size_t at = 0, colon, end;
	while (at < n && v[at] != '@')
		at++;
	colon = at;
	while (colon < n && v[colon] != ':')
		colon++;
	end = colon + 1;
	while (end < n && v[end] != ':')
		end++;
	uint64_t irq, id;
	if (at >= n || colon >= n || !parse_u64(v, at, true, &a->size) ||
	    !parse_u64(v + at + 1, colon - at - 1, false, &a->base) ||
	    !parse_u64(v + colon + 1, end - colon - 1, false, &irq) ||
	    (end < n && !parse_u64(v + end + 1, n - end - 1, false, &id)))
		return false;
	a->irq = (unsigned)irq;
	/* the window must lie in the identity map of the first 4 GiB */
	return a->size && a->size <= 0x10000 && a->base < (1ull << 32) - a->size && irq < NR_IRQ;
}

static void parse_word(const char *w, size_t n)
{
	size_t eq = 0;
	while (eq < n && w[eq] != '=')
		eq++;
	const char *v = w + eq + 1;
	size_t vn = eq < n ? n - eq - 1 : 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];
		if (strlen(k->name) != eq || strncmp(k->name, w, eq))
			continue;
		if (k->kind == K_FLAG) {
			if (eq != n)
				bad(w, n, "takes no value");
			*(bool *)k->ptr = true;
			return;
		}
		if (eq == n)
			bad(w, n, "needs a value");
		if (k->kind == K_U64) {
			uint64_t x;
			if (!parse_u64(v, vn, false, &x))
				bad(w, n, "not a number");
			if (x < k->min || x > k->max)
				bad(w, n, "out of range");
			*(uint64_t *)k->ptr = x;
		} else if (k->kind == K_ENUM) {
			for (uint64_t j = k->min; j <= k->max; j++)
				if (strlen(k->names[j]) == vn && !strncmp(k->names[j], v, vn)) {
					*(int *)k->ptr = (int)j;
					return;
				}
			bad(w, n, "unknown value");
		} else {
			if (cfg.nr_virtio == MAX_VIRTIO_MMIO)
				bad(w, n, "too many virtio_mmio devices");
			if (!parse_virtio(v, vn, &cfg.virtio[cfg.nr_virtio]))
				bad(w, n, "expected <size>@<addr>:<irq>, below 4 GiB, irq < 24");
			cfg.nr_virtio++;
		}
		return;
	}
	/* engine= and report.* belong to core/engine.c; checked again
	 * against the device once it is known (reporting_init) */
	if (ph_engine_param_key(w, eq)) {
		const char *err = eq == n ? "needs a value" : ph_engine_param(&cfg.engine, w, eq, v, vn);
		if (err)
			bad(w, n, err);
		return;
	}
	bad(w, n, "unknown key");
}

void cmdline_parse(const char *line)
{
	defaults();
	for (const char *p = line; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		const char *w = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (p > w)
			parse_word(w, (size_t)(p - w));
	}
	console_quiet = cfg.quiet;
}
