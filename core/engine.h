/* SPDX-License-Identifier: MIT */
/*
 * Free page reporting engines: one interface over the designs pagehint
 * compares (docs/engines.md):
 *
 *   seed-v8    RFC v8 "KVM: Enables the kernel to isolate and report free
 *              pages" (core/engine_seed_v8.c)
 *   max-order  the review's suggestion: only MAX_ORDER-1 blocks
 *              (core/engine_max_order.c)
 *   upstream   Linux >= 5.7 mm/page_reporting.c (core/engine_upstream.c)
 *   pagehint   ours: report as soon as frees settle, large merged
 *              requests, bounded lock holds (core/engine_pagehint.c)
 *
 * An engine is created over a zone (core/buddy_report.h: it registers the
 * zone's free hooks), a report sink (core/report_sink.h: report(ranges, n),
 * synchronous) and an environment that runs its deferred work: engines
 * never run work themselves, they queue it. In the guest the environment
 * is guest/sched.h (per-CPU, run-to-completion work items); in hosted
 * tests a fake scheduler the test runs by hand.
 *
 *	struct ph_engine_params p;
 *	ph_engine_params_init(&p);
 *	err = ph_engine_param(&p, "engine", 6, "upstream", 8);   per key=value
 *	err = ph_engine_params_resolve(&p, sink ? sink->capacity : 0);
 *	mem = <ph_engine_mem_bytes(&p, env.nr_cpus) bytes, 64-byte aligned>;
 *	e = ph_engine_create(mem, len, zone, sink, &env, &p, &err);
 *	... ph_engine_get_stats(e, &st) ...
 *	ph_engine_stop(e);   then let queued work run out before freeing mem
 *
 * Errors are static strings, for the command line and the console.
 *
 * Locking: an engine's block_freed hook runs under the zone lock and only
 * looks at engine state (atomics, or per-CPU data of the calling CPU); all
 * queueing of work, draining, isolating and reporting happens in free_done
 * (no lock held) or in work items. Each engine file states its own rules.
 */
#ifndef PH_ENGINE_H
#define PH_ENGINE_H

#include "buddy_report.h"
#include "report_sink.h"

/* ---- 1. Parameters --------------------------------------------------- */

enum ph_engine_kind {
	PH_ENGINE_OFF,
	PH_ENGINE_SEED_V8,
	PH_ENGINE_MAX_ORDER,
	PH_ENGINE_UPSTREAM,
	PH_ENGINE_PAGEHINT,
	PH_ENGINE_NR
};

/* report.mode= of pagehint (docs/exitless.md). */
enum ph_report_mode {
	PH_MODE_STANDARD,	/* reports over the virtio reporting queue */
	PH_MODE_EXITLESS,	/* the shared state map when the device offers
				 * it (core/exitless_guest.h, set up by the
				 * guest instead of an engine), else standard */
};

/* A parameter the command line did not set; resolve gives the default. */
#define PH_PARAM_DEFAULT	UINT64_MAX

/* Most ranges one request of any engine may carry (seed-v8's array size
 * bound too): keeps the engines' memory bounded. */
#define PH_ENGINE_MAX_ENTRIES	65536u

/*
 * engine=        off | seed-v8 | max-order | upstream | pagehint  (off)
 * report.order=  upstream, pagehint: lowest order reported (pageblock 9);
 *                max-order: the order reported (10, MAX_ORDER-1)
 * report.capacity= ranges per request: upstream 32
 *                (PAGE_REPORTING_CAPACITY); max-order, seed-v8 and
 *                pagehint: the sink's capacity (the device's queue);
 *                never above it
 * report.delay_ms= upstream: PAGE_REPORTING_DELAY 2000; max-order: 100;
 *                pagehint: 5, the quiet time before a pass (its shortest
 *                hysteresis)
 * report.entries= seed-v8: MAX_FGPT_ENTRIES 1000 (both per-CPU arrays)
 * report.max_delay_ms= pagehint: 1000, the longest hysteresis (back-off
 *                ceiling, and the longest wait for frees to settle)
 * report.trigger_mib= pagehint: 1024, unreported free memory in eligible
 *                blocks that starts a pass without waiting for quiet
 * report.hold=   pagehint: 32, most blocks isolated per zone-lock hold
 * report.mode=   pagehint: standard | exitless (standard). exitless asks
 *                the device for the shared state map; the engine created
 *                here is then the fallback, standard, when the device
 *                does not offer the map (the guest decides, guest/reporting.c)
 * A parameter an engine has no use for is an error (resolve says which);
 * once resolved, those read 0 (seed-v8: order 0 = every order, delay 0 =
 * its worker is woken at once; upstream, max-order: entries 0).
 */
struct ph_engine_params {
	enum ph_engine_kind kind;
	uint64_t order;
	uint64_t capacity;
	uint64_t delay_ms;
	uint64_t entries;
	uint64_t max_delay_ms;	/* pagehint */
	uint64_t trigger_mib;	/* pagehint */
	uint64_t hold;		/* pagehint */
	uint64_t mode;		/* pagehint: enum ph_report_mode */
};

/* Everything PH_PARAM_DEFAULT, engine off. */
void ph_engine_params_init(struct ph_engine_params *p);

/* Is key (klen bytes) one of ours: "engine" or "report.*"? */
bool ph_engine_param_key(const char *key, size_t klen);

/*
 * Set key=value (neither NUL-terminated). NULL on success, else why not:
 * an unknown key, an unknown engine name, not a number, out of range.
 */
const char *ph_engine_param(struct ph_engine_params *p, const char *key, size_t klen,
			    const char *val, size_t vlen);

/* The same for one "key=value" word. */
const char *ph_engine_param_word(struct ph_engine_params *p, const char *word, size_t n);

/*
 * Fill in the engine's defaults (capacity defaults and limits need the
 * sink's capacity; 0 if there is no sink) and check that every parameter
 * set is one this engine uses. NULL or an error string; on error p is
 * unchanged.
 */
const char *ph_engine_params_resolve(struct ph_engine_params *p, unsigned sink_capacity);

/* "off", "seed-v8", "max-order", "upstream", "pagehint"; "?" otherwise. */
const char *ph_engine_name(enum ph_engine_kind kind);

/* ---- 2. Environment: deferred work ----------------------------------- */

struct ph_engine_work {
	void (*fn)(struct ph_engine_work *w);	/* set by the engine */
	void *arg;				/* the engine's */
	unsigned cpu;				/* the engine's (seed-v8: whose worker) */
	/* The environment's, e.g. the guest's struct work: init_work may
	 * place its own item here (aligned for pointers and uint64_t). */
	uint64_t env_priv[6];
};

struct ph_engine_env {
	void *ctx;
	unsigned nr_cpus;	/* CPU ids the hooks may be called with */
	/* Optional: prepare w->env_priv (called once per work item, at
	 * create, after fn and arg are set). */
	void (*init_work)(void *ctx, struct ph_engine_work *w);
	/*
	 * Queue w to run on cpu after delay_ns (0: as soon as possible);
	 * false if it was already queued (it keeps its time). Called with no
	 * lock held, from free paths and from work items (a work item may
	 * queue itself again). Must not run w before it returns. A queued
	 * item runs once; it may run on a CPU while another runs other
	 * items (engines are safe with that).
	 */
	bool (*queue_work)(void *ctx, unsigned cpu, struct ph_engine_work *w, uint64_t delay_ns);
	/* Optional: the clock queue_work's delays are in (NULL: ph_now_ns),
	 * so that a fake scheduler's time drives an engine that reads one.
	 * Called with or without the zone lock; must not take it. */
	uint64_t (*now_ns)(void *ctx);
};

/* ---- 3. Engines ------------------------------------------------------ */

struct ph_engine;

/* Counters, a snapshot (read without locks). */
struct ph_engine_stats {
	uint64_t requests;		/* report() calls the device acknowledged */
	uint64_t ranges;		/* ranges in them */
	uint64_t pages;			/* pages in them */
	uint64_t report_errors;		/* report() calls that failed (not
					 * counted above; blocks unreported) */
	uint64_t isolate_failures;	/* blocks that could not be isolated */
	uint64_t passes;		/* work items run (seed-v8: worker runs) */
	uint64_t merged;		/* blocks put back that merged */
	uint64_t wmark_skips;		/* upstream: passes that skipped the zone */
	uint64_t captured;		/* seed-v8: frees recorded in the arrays */
	uint64_t dropped;		/* seed-v8: frees not recorded (array full) */
	uint64_t rescans;		/* seed-v8: full arrays rescanned */
	uint64_t rescan_dropped;	/* seed-v8: entries dropped as duplicates */
	uint64_t blocks;		/* pagehint: blocks in the ranges (a range
					 * merges contiguous blocks) */
	uint64_t reallocated;		/* pagehint: pages of reported memory
					 * allocated again soon after (refaults) */
	uint64_t backoffs;		/* pagehint: hysteresis doublings */
	uint64_t max_hold;		/* pagehint: most blocks isolated in one
					 * zone-lock hold */
};

/* Bytes of memory ph_engine_create needs for resolved params. */
size_t ph_engine_mem_bytes(const struct ph_engine_params *p, unsigned nr_cpus);

/*
 * Create the engine p->kind (p resolved) in mem (len bytes, 64-byte
 * aligned, ph_engine_mem_bytes() long) and register its hooks on zone.
 * With sink NULL, a sink of capacity 0, or engine off, the engine is
 * inert: no hooks, nothing reported (the caller says reporting is off).
 * Returns the engine, or NULL and *err.
 */
struct ph_engine *ph_engine_create(void *mem, size_t len, struct ph_zone *zone,
				   struct ph_report_sink *sink, const struct ph_engine_env *env,
				   const struct ph_engine_params *p, const char **err);

/* Does it report (hooks registered)? */
bool ph_engine_active(const struct ph_engine *e);

/* Its resolved parameters. */
const struct ph_engine_params *ph_engine_get_params(const struct ph_engine *e);

void ph_engine_get_stats(const struct ph_engine *e, struct ph_engine_stats *st);

/*
 * Unregister the hooks; work that runs afterwards returns at once (after
 * putting back anything it holds). The caller frees mem only once no
 * free path is inside a hook and no work item is queued or running.
 */
void ph_engine_stop(struct ph_engine *e);

/* ---- 4. For engine implementations (core/engine_*.c) ----------------- */

struct ph_engine_ops {
	size_t (*priv_bytes)(const struct ph_engine_params *p, unsigned nr_cpus);
	/* Set priv up (zeroed memory); e->hooks to fill; 0 or -PH_EINVAL. */
	int (*init)(struct ph_engine *e);
	/* Optional: the hooks are registered and the engine active (e.g.
	 * upstream's initial flush, as page_reporting_register does). */
	void (*start)(struct ph_engine *e);
};

extern const struct ph_engine_ops ph_engine_seed_v8_ops;
extern const struct ph_engine_ops ph_engine_max_order_ops;
extern const struct ph_engine_ops ph_engine_upstream_ops;
extern const struct ph_engine_ops ph_engine_pagehint_ops;

struct ph_engine {
	/* Set at create, read-only afterwards. */
	const struct ph_engine_ops *ops;
	struct ph_zone *zone;
	struct ph_report_sink *sink;
	struct ph_engine_env env;
	struct ph_engine_params p;
	struct ph_report_hooks hooks;	/* the engine's init fills it */
	void *priv;			/* the engine's, 64-byte aligned */
	bool active;
	atomic_bool stopping;

	/* Counters: relaxed atomics, any context. */
	_Atomic uint64_t requests, ranges, pages, report_errors;
	_Atomic uint64_t isolate_failures, passes, merged, wmark_skips;
	_Atomic uint64_t rescans, rescan_dropped;
	/* seed-v8's captured / dropped are per CPU, summed by this hook;
	 * pagehint's own counters too. */
	void (*extra_stats)(const struct ph_engine *e, struct ph_engine_stats *st);
};

static inline void ph_engine_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline bool ph_engine_stopping(struct ph_engine *e)
{
	return atomic_load_explicit(&e->stopping, memory_order_acquire);
}

/* A free block as a range, and back. */
static inline struct ph_range ph_block_range(uint64_t pfn, unsigned order)
{
	struct ph_range r = { pfn << PH_PAGE_SHIFT, PH_PAGE_SIZE << order };
	return r;
}

static inline uint64_t ph_range_pfn(const struct ph_range *r)
{
	return r->addr >> PH_PAGE_SHIFT;
}

static inline unsigned ph_range_order(const struct ph_range *r)
{
	return (unsigned)__builtin_ctzll(r->len >> PH_PAGE_SHIFT);
}

/*
 * Hand n (> 0) isolated ranges to the sink (no zone lock held), count the
 * request. Returns the sink's result: 0 if the device acknowledged it.
 */
int ph_engine_report(struct ph_engine *e, const struct ph_range *ranges, unsigned n);

/* Queue one of the engine's work items through the environment. */
static inline bool ph_engine_queue(struct ph_engine *e, unsigned cpu, struct ph_engine_work *w,
				   uint64_t delay_ns)
{
	return e->env.queue_work(e->env.ctx, cpu, w, delay_ns);
}

/* The environment's clock (nanoseconds, monotonic). */
static inline uint64_t ph_engine_now(const struct ph_engine *e)
{
	return e->env.now_ns ? e->env.now_ns(e->env.ctx) : ph_now_ns();
}

void ph_engine_work_init(struct ph_engine *e, struct ph_engine_work *w,
			 void (*fn)(struct ph_engine_work *), void *arg, unsigned cpu);

/*
 * The request state machine of mm/page_reporting.c, shared by upstream and
 * max-order. One work item per engine; state is IDLE, REQUESTED or ACTIVE:
 *
 *  - a free that should be reported calls ph_work_req_request() (zone lock
 *    held, from block_freed): if the state is REQUESTED already, nothing;
 *    otherwise it becomes REQUESTED, and if it was IDLE the work must be
 *    scheduled, delay later. Linux calls schedule_delayed_work() right
 *    there, under the zone lock; we only raise `kick`, and the free path's
 *    free_done (lock dropped) queues the work (ph_work_req_kick()).
 *  - the work sets ACTIVE when it starts; a request during the pass moves
 *    it to REQUESTED (and schedules nothing: the work is running), and so
 *    does a pass that stops early (budget).
 *  - at the end of a pass, cmpxchg ACTIVE -> IDLE; if that fails the state
 *    is REQUESTED: the work queues itself again, delay later, leaving the
 *    state REQUESTED so that requests meanwhile schedule nothing.
 * So there is at most one queued or running pass, every request is
 * followed by a pass that starts after it, and frees during a pass cost
 * one more pass, not one each.
 */
enum { PH_REQ_IDLE, PH_REQ_REQUESTED, PH_REQ_ACTIVE };

struct ph_work_req {
	atomic_int state;
	atomic_bool kick;	/* a request found IDLE: queue the work */
};

static inline void ph_work_req_request(struct ph_work_req *r)
{
	if (atomic_load_explicit(&r->state, memory_order_relaxed) == PH_REQ_REQUESTED)
		return;
	if (atomic_exchange(&r->state, PH_REQ_REQUESTED) != PH_REQ_IDLE)
		return;
	atomic_store(&r->kick, true);
}

/* free_done: queue the work on cpu if a request asked for it. */
static inline void ph_work_req_kick(struct ph_engine *e, struct ph_work_req *r,
				    struct ph_engine_work *w, unsigned cpu, uint64_t delay_ns)
{
	if (atomic_load_explicit(&r->kick, memory_order_relaxed) &&
	    atomic_exchange(&r->kick, false))
		ph_engine_queue(e, cpu, w, delay_ns);
}

static inline void ph_work_req_begin(struct ph_work_req *r)
{
	atomic_store(&r->state, PH_REQ_ACTIVE);
}

/* End of a pass: true if another pass must be queued. */
static inline bool ph_work_req_end(struct ph_work_req *r)
{
	int active = PH_REQ_ACTIVE;

	return !atomic_compare_exchange_strong(&r->state, &active, PH_REQ_IDLE);
}

#endif
