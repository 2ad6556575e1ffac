/* SPDX-License-Identifier: MIT */
/*
 * The engine interface (core/engine.h): parameters, the registry of
 * engines, creation, counters, and reporting through the sink.
 */
#include "engine.h"

static const char *const kind_names[PH_ENGINE_NR] = {
	[PH_ENGINE_OFF] = "off",
	[PH_ENGINE_SEED_V8] = "seed-v8",
	[PH_ENGINE_MAX_ORDER] = "max-order",
	[PH_ENGINE_UPSTREAM] = "upstream",
	[PH_ENGINE_PAGEHINT] = "pagehint",
};

static const struct ph_engine_ops *engine_ops(enum ph_engine_kind kind)
{
	switch (kind) {
	case PH_ENGINE_SEED_V8:
		return &ph_engine_seed_v8_ops;
	case PH_ENGINE_MAX_ORDER:
		return &ph_engine_max_order_ops;
	case PH_ENGINE_UPSTREAM:
		return &ph_engine_upstream_ops;
	case PH_ENGINE_PAGEHINT:
		return &ph_engine_pagehint_ops;
	default:
		return NULL;
	}
}

const char *ph_engine_name(enum ph_engine_kind kind)
{
	return (unsigned)kind < PH_ENGINE_NR ? kind_names[kind] : "?";
}

/* ---- parameters ---- */

void ph_engine_params_init(struct ph_engine_params *p)
{
	p->kind = PH_ENGINE_OFF;
	p->order = PH_PARAM_DEFAULT;
	p->capacity = PH_PARAM_DEFAULT;
	p->delay_ms = PH_PARAM_DEFAULT;
	p->entries = PH_PARAM_DEFAULT;
	p->max_delay_ms = PH_PARAM_DEFAULT;
	p->trigger_mib = PH_PARAM_DEFAULT;
	p->hold = PH_PARAM_DEFAULT;
	p->mode = PH_PARAM_DEFAULT;
}

static bool str_is(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] != s[i] || !lit[i])
			return false;
	return lit[i] == 0;
}

/* Decimal or 0x-hex filling [s, s + n) exactly, no overflow. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
	}
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		char c = s[i];

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a') + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A') + 10;
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

bool ph_engine_param_key(const char *key, size_t klen)
{
	return str_is(key, klen, "engine") ||
	       (klen > 7 && key[0] == 'r' && str_is(key, 7, "report."));
}

struct num_key {
	const char *name;
	size_t off;
	uint64_t min, max;
	const char *range;	/* said when out of range */
};

static const struct num_key num_keys[] = {
	{ "report.order", offsetof(struct ph_engine_params, order), 0, PH_MAX_ORDER - 1,
	  "out of range (0..10)" },
	{ "report.capacity", offsetof(struct ph_engine_params, capacity), 1, PH_ENGINE_MAX_ENTRIES,
	  "out of range (1..65536)" },
	{ "report.delay_ms", offsetof(struct ph_engine_params, delay_ms), 0, 3600000,
	  "out of range (0..3600000)" },
	{ "report.entries", offsetof(struct ph_engine_params, entries), 1, PH_ENGINE_MAX_ENTRIES,
	  "out of range (1..65536)" },
	{ "report.max_delay_ms", offsetof(struct ph_engine_params, max_delay_ms), 0, 3600000,
	  "out of range (0..3600000)" },
	{ "report.trigger_mib", offsetof(struct ph_engine_params, trigger_mib), 0, 1 << 24,
	  "out of range (0..16777216)" },
	{ "report.hold", offsetof(struct ph_engine_params, hold), 1, PH_ENGINE_MAX_ENTRIES,
	  "out of range (1..65536)" },
};

const char *ph_engine_param(struct ph_engine_params *p, const char *key, size_t klen,
			    const char *val, size_t vlen)
{
	if (str_is(key, klen, "engine")) {
		for (unsigned k = 0; k < PH_ENGINE_NR; k++)
			if (str_is(val, vlen, kind_names[k])) {
				p->kind = (enum ph_engine_kind)k;
				return NULL;
			}
		return "unknown engine (off, seed-v8, max-order, upstream, pagehint)";
	}
	if (str_is(key, klen, "report.mode")) {
		if (str_is(val, vlen, "standard"))
			p->mode = PH_MODE_STANDARD;
		else if (str_is(val, vlen, "exitless"))
			p->mode = PH_MODE_EXITLESS;
		else
			return "unknown mode (standard, exitless)";
		return NULL;
	}
	for (unsigned i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++) {
		const struct num_key *k = &num_keys[i];
		uint64_t v;

		if (!str_is(key, klen, k->name))
			continue;
		if (!parse_u64(val, vlen, &v))
			return "not a number";
		if (v < k->min || v > k->max)
			return k->range;
		*(uint64_t *)((char *)p + k->off) = v;
		return NULL;
	}
	return "unknown key (report.order, report.capacity, report.delay_ms, report.entries, "
	       "report.max_delay_ms, report.trigger_mib, report.hold, report.mode)";
}

const char *ph_engine_param_word(struct ph_engine_params *p, const char *word, size_t n)
{
	size_t eq = 0;

	while (eq < n && word[eq] != '=')
		eq++;
	if (eq == n)
		return "needs a value (key=value)";
	return ph_engine_param(p, word, eq, word + eq + 1, n - eq - 1);
}

/* Defaults of the origins (docs/engines.md). */
#define UPSTREAM_ORDER		PH_PAGEBLOCK_ORDER	/* page_reporting_order */
#define UPSTREAM_CAPACITY	32			/* PAGE_REPORTING_CAPACITY */
#define UPSTREAM_DELAY_MS	2000			/* PAGE_REPORTING_DELAY, 2*HZ */
#define MAX_ORDER_DELAY_MS	100			/* ours: the origin has none */
#define SEED_ENTRIES		1000			/* MAX_FGPT_ENTRIES */
/* pagehint's (ours; docs/engine-pagehint.md) */
#define PAGEHINT_DELAY_MS	5	/* quiet time before a pass */
#define PAGEHINT_MAX_DELAY_MS	1000	/* back-off ceiling */
#define PAGEHINT_TRIGGER_MIB	1024	/* half a full request: <= 1 exit per GiB */
#define PAGEHINT_HOLD		32	/* blocks isolated per zone-lock hold */

const char *ph_engine_params_resolve(struct ph_engine_params *p, unsigned sink_capacity)
{
	struct ph_engine_params r = *p;
	const uint64_t D = PH_PARAM_DEFAULT;

	if (r.kind != PH_ENGINE_PAGEHINT && r.kind != PH_ENGINE_OFF) {
		if (r.mode != D && r.mode != PH_MODE_STANDARD)
			return "report.mode=exitless needs engine=pagehint";
		r.mode = PH_MODE_STANDARD;
		if ((r.max_delay_ms != D && r.max_delay_ms != 0) ||
		    (r.trigger_mib != D && r.trigger_mib != 0) || (r.hold != D && r.hold != 0))
			return "report.max_delay_ms, report.trigger_mib, report.hold are pagehint parameters";
		r.max_delay_ms = r.trigger_mib = r.hold = 0;	/* not used */
	}
	switch (r.kind) {
	case PH_ENGINE_OFF:
		if (r.order != D || r.capacity != D || r.delay_ms != D || r.entries != D ||
		    r.max_delay_ms != D || r.trigger_mib != D || r.hold != D || r.mode != D)
			return "report.* parameters need an engine (engine=)";
		break;
	case PH_ENGINE_PAGEHINT:
		if (r.entries != D && r.entries != 0)
			return "report.entries is a seed-v8 parameter";
		if (r.order == D)
			r.order = PH_PAGEBLOCK_ORDER;
		if (r.capacity == D)
			r.capacity = sink_capacity ? sink_capacity : UPSTREAM_CAPACITY;
		if (r.delay_ms == D)
			r.delay_ms = PAGEHINT_DELAY_MS;
		if (r.max_delay_ms == D)
			r.max_delay_ms = PAGEHINT_MAX_DELAY_MS;
		if (r.max_delay_ms < r.delay_ms)
			r.max_delay_ms = r.delay_ms;
		if (r.trigger_mib == D)
			r.trigger_mib = PAGEHINT_TRIGGER_MIB;
		if (r.hold == D)
			r.hold = PAGEHINT_HOLD;
		if (r.mode == D)
			r.mode = PH_MODE_STANDARD;
		r.entries = 0;		/* not used */
		break;
	case PH_ENGINE_UPSTREAM:
		if (r.entries != D && r.entries != 0)
			return "report.entries is a seed-v8 parameter";
		if (r.order == D)
			r.order = UPSTREAM_ORDER;
		if (r.capacity == D)
			r.capacity = UPSTREAM_CAPACITY;
		if (r.delay_ms == D)
			r.delay_ms = UPSTREAM_DELAY_MS;
		r.entries = 0;		/* not used */
		break;
	case PH_ENGINE_MAX_ORDER:
		if (r.entries != D && r.entries != 0)
			return "report.entries is a seed-v8 parameter";
		if (r.order == D)
			r.order = PH_MAX_ORDER - 1;
		if (r.capacity == D)
			r.capacity = sink_capacity ? sink_capacity : UPSTREAM_CAPACITY;
		if (r.delay_ms == D)
			r.delay_ms = MAX_ORDER_DELAY_MS;
		r.entries = 0;		/* not used */
		break;
	case PH_ENGINE_SEED_V8:
		if (r.order != D && r.order != 0)
			return "report.order: seed-v8 reports every order";
		if (r.delay_ms != D && r.delay_ms != 0)
			return "report.delay_ms: seed-v8 wakes its worker at once";
		if (r.entries == D)
			r.entries = SEED_ENTRIES;
		if (r.capacity == D)
			r.capacity = sink_capacity ? sink_capacity : r.entries;
		if (r.capacity > r.entries)
			r.capacity = r.entries;
		r.order = 0;		/* every order, down to 4 KiB */
		r.delay_ms = 0;		/* the worker is woken at once */
		break;
	default:
		return "unknown engine";
	}
	if (r.kind != PH_ENGINE_OFF && sink_capacity && r.capacity > sink_capacity)
		return "report.capacity is larger than the device's queue";
	*p = r;
	return NULL;
}

/* ---- creation ---- */

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

size_t ph_engine_mem_bytes(const struct ph_engine_params *p, unsigned nr_cpus)
{
	const struct ph_engine_ops *ops = engine_ops(p->kind);
	size_t n = ALIGN64(sizeof(struct ph_engine));

	if (ops)
		n += ALIGN64(ops->priv_bytes(p, nr_cpus));
	return n;
}

static void zero(void *mem, size_t n)
{
	volatile char *c = mem;	/* volatile: no memset call in the guest */

	for (size_t i = 0; i < n; i++)
		c[i] = 0;
}

struct ph_engine *ph_engine_create(void *mem, size_t len, struct ph_zone *zone,
				   struct ph_report_sink *sink, const struct ph_engine_env *env,
				   const struct ph_engine_params *p, const char **err)
{
	const char *dummy;
	const struct ph_engine_ops *ops = engine_ops(p->kind);

	if (!err)
		err = &dummy;
	*err = NULL;
	if (!mem || ((uintptr_t)mem & 63) || !zone || !env || !env->queue_work ||
	    env->nr_cpus == 0 || env->nr_cpus > PH_MAX_CPUS) {
		*err = "bad arguments (memory, zone, environment)";
		return NULL;
	}
	if (p->kind != PH_ENGINE_OFF &&
	    (p->capacity == PH_PARAM_DEFAULT || p->capacity == 0 ||
	     p->capacity > PH_ENGINE_MAX_ENTRIES)) {
		*err = "parameters not resolved";
		return NULL;
	}
	if (len < ph_engine_mem_bytes(p, env->nr_cpus)) {
		*err = "not enough memory for the engine";
		return NULL;
	}
	zero(mem, ph_engine_mem_bytes(p, env->nr_cpus));

	struct ph_engine *e = mem;

	e->ops = ops;
	e->zone = zone;
	e->sink = sink;
	e->env = *env;
	e->p = *p;
	e->priv = (char *)mem + ALIGN64(sizeof(*e));
	atomic_init(&e->stopping, false);
	if (!ops || !sink || sink->capacity == 0 || !sink->report)
		return e;	/* inert: reporting is off */
	if (p->capacity > sink->capacity) {
		*err = "report.capacity is larger than the device's queue";
		return NULL;
	}
	if (ops->init(e) != 0) {
		*err = "bad parameters for this engine";
		return NULL;
	}
	if (ph_zone_register_report_hooks(zone, &e->hooks) != 0) {
		*err = "the zone already has a reporting engine";
		return NULL;
	}
	e->active = true;
	if (ops->start)
		ops->start(e);
	return e;
}

bool ph_engine_active(const struct ph_engine *e)
{
	return e->active;
}

const struct ph_engine_params *ph_engine_get_params(const struct ph_engine *e)
{
	return &e->p;
}

static uint64_t rd(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

void ph_engine_get_stats(const struct ph_engine *e, struct ph_engine_stats *st)
{
	st->requests = rd(&e->requests);
	st->ranges = rd(&e->ranges);
	st->pages = rd(&e->pages);
	st->report_errors = rd(&e->report_errors);
	st->isolate_failures = rd(&e->isolate_failures);
	st->passes = rd(&e->passes);
	st->merged = rd(&e->merged);
	st->wmark_skips = rd(&e->wmark_skips);
	st->rescans = rd(&e->rescans);
	st->rescan_dropped = rd(&e->rescan_dropped);
	st->captured = 0;
	st->dropped = 0;
	st->blocks = 0;
	st->reallocated = 0;
	st->backoffs = 0;
	st->max_hold = 0;
	if (e->extra_stats)
		e->extra_stats(e, st);
}

void ph_engine_stop(struct ph_engine *e)
{
	atomic_store_explicit(&e->stopping, true, memory_order_release);
	if (e->active) {
		ph_zone_unregister_report_hooks(e->zone);
		e->active = false;
	}
}

/* ---- for the engines ---- */

int ph_engine_report(struct ph_engine *e, const struct ph_range *ranges, unsigned n)
{
	uint64_t pages = 0;

	for (unsigned i = 0; i < n; i++)
		pages += ranges[i].len >> PH_PAGE_SHIFT;
	int err = e->sink->report(e->sink, ranges, n);

	if (err) {
		ph_engine_count(&e->report_errors, 1);
		return err;
	}
	ph_engine_count(&e->requests, 1);
	ph_engine_count(&e->ranges, n);
	ph_engine_count(&e->pages, pages);
	return 0;
}

void ph_engine_work_init(struct ph_engine *e, struct ph_engine_work *w,
			 void (*fn)(struct ph_engine_work *), void *arg, unsigned cpu)
{
	w->fn = fn;
	w->arg = arg;
	w->cpu = cpu;
	if (e->env.init_work)
		e->env.init_work(e->env.ctx, w);
}
