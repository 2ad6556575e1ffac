/* SPDX-License-Identifier: MIT */
#include "../core/engine.h"
#include "../core/exitless_guest.h"
#include "cmdline.h"
#include "console.h"
#include "exit.h"
#include "lib.h"
#include "mem.h"
#include "reporting.h"
#include "sched.h"
#include "smp.h"
#include "virtio.h"
#include "workload.h"

/* The environment: an engine's work item carries a guest work item. */
_Static_assert(sizeof(struct work) <= sizeof(((struct ph_engine_work *)0)->env_priv),
	       "struct work must fit in ph_engine_work.env_priv");

static struct ph_engine_work *of_work(struct work *w)
{
	return (struct ph_engine_work *)((char *)w - __builtin_offsetof(struct ph_engine_work, env_priv));
}

static void env_run(struct work *w)
{
	struct ph_engine_work *ew = of_work(w);
	ew->fn(ew);
}

static void env_init_work(void *ctx, struct ph_engine_work *w)
{
	(void)ctx;
	work_init((struct work *)w->env_priv, env_run);
}

static bool env_queue(void *ctx, unsigned cpu, struct ph_engine_work *w, uint64_t delay_ns)
{
	(void)ctx;
	return queue_delayed_work_on(cpu, (struct work *)w->env_priv, delay_ns);
}

static struct ph_engine *engine;

/* ---- exitless (docs/exitless.md): the map replaces the engine ---- */

static struct ph_xl_map xl_map;
static struct ph_xl_guest xlg;
static bool xl_requested, xl_active, xl_no_memory;

/* How long init waits for the device's answer to the map (one notify:
 * the device answers at once; generous for nested TCG). */
#define XL_ANSWER_NS 2000000000ull

/* The state map over the zone, set up once (all USED), for the balloon
 * driver to post; NULL when report.mode=exitless was not asked for. */
static struct ph_xl_map *xl_map_for_balloon(void)
{
	static bool done;

	if (cfg.engine.kind != PH_ENGINE_PAGEHINT || cfg.engine.mode != PH_MODE_EXITLESS)
		return 0;
	if (!done) {
		done = true;
		size_t len = ph_xl_mem_bytes(zone.base_pfn, zone.npages);
		void *mem = mem_alloc_contig(len);
		if (!mem || ph_xl_init(&xl_map, mem, len, zone.base_pfn, zone.npages) != 0) {
			kprintf("@warn exitless: no memory for the map (%zu bytes)\n", len);
			xl_no_memory = true;
			return 0;
		}
		xl_requested = true;
	}
	return xl_requested ? &xl_map : 0;
}

/* The device accepted the map again after a reset: publish the free
 * blocks (no lock held). */
static void xl_attached(void)
{
	if (xl_active)
		ph_xl_guest_publish(&xlg);
}

const struct balloon_xl_hooks reporting_xl_hooks = {
	.map = xl_map_for_balloon,
	.attached = xl_attached,
};

/* report.mode=exitless: true if the map is in use (no engine then). */
static bool xl_start(void)
{
	const char *why;
	unsigned status;
	int accepted = balloon_xl_wait(XL_ANSWER_NS, &why, &status);

	if (xl_no_memory)
		why = "no-memory";	/* for the map: never posted */
	else if (accepted) {
		int err = ph_xl_guest_start(&xlg, &zone, &xl_map, 0);
		if (err == 0) {
			xl_active = true;
			struct ph_xl_guest_stats st;
			ph_xl_guest_get_stats(&xlg, &st);
			kprintf("@engine name=pagehint mode=exitless active=1 frames=%u published=%lu "
				"map_bytes=%zu\n", xl_map.nr_frames, st.published,
				ph_xl_mem_bytes(zone.base_pfn, zone.npages));
			return true;
		}
		why = "hooks-busy";
	}
	/* The standard mode takes over: say so, once, clearly. */
	if (why[0] == 'r')	/* refused: the device's status byte */
		kprintf("@engine name=pagehint mode=standard exitless=unavailable reason=%s status=%u\n",
			why, status);
	else
		kprintf("@engine name=pagehint mode=standard exitless=unavailable reason=%s\n", why);
	return false;
}

void reporting_init(void)
{
	struct ph_report_sink *sink = balloon_sink();
	const char *err = ph_engine_params_resolve(&cfg.engine, sink ? sink->capacity : 0);
	if (err)
		panic_status(EXIT_CMDLINE, "pagehint: bad command line: engine=%s: %s",
			     ph_engine_name(cfg.engine.kind), err);
	if (cfg.engine.mode == PH_MODE_EXITLESS && xl_start())
		return;

	static struct ph_engine_env env;
	env.nr_cpus = nr_cpus;
	env.init_work = env_init_work;
	env.queue_work = env_queue;

	size_t len = ph_engine_mem_bytes(&cfg.engine, nr_cpus);
	void *mem = mem_alloc_contig(len);
	if (!mem)
		panic("pagehint: no memory for engine %s (%zu bytes)", ph_engine_name(cfg.engine.kind), len);
	engine = ph_engine_create(mem, len, &zone, sink, &env, &cfg.engine, &err);
	if (!engine)
		panic("pagehint: engine %s: %s", ph_engine_name(cfg.engine.kind), err);
	if (cfg.engine.kind != PH_ENGINE_OFF) {
		const struct ph_engine_params *p = ph_engine_get_params(engine);
		kprintf("@engine name=%s active=%d capacity=%lu order=%lu delay_ms=%lu entries=%lu\n",
			ph_engine_name(p->kind), ph_engine_active(engine), p->capacity, p->order,
			p->delay_ms, p->entries);
	}
}

/* ---- test=exitless: a host inside the guest ---- */

static struct work xl_host_work;
static atomic_bool xl_host_stop, xl_host_done;

/* The host's discard as the guest sees it: the frames read zero after. */
static int xl_host_discard(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	memset((void *)(uintptr_t)gpa, 0, len);
	return 0;
}

static void xl_host_fn(struct work *w)
{
	if (atomic_load(&xl_host_stop)) {
		atomic_store(&xl_host_done, true);
		kick_cpu(0);
		return;
	}
	/* short runs, as the real host keeps them: a frame stays RECLAIMING
	 * until the discard of its whole run returned (TCG: ~1 ms a MiB) */
	ph_xl_host_scan(&xl_map, 4, xl_host_discard, 0);
	queue_delayed_work_on(nr_cpus - 1, w, 500000);
}

static bool xl_host_finished(void *arg)
{
	(void)arg;
	return atomic_load(&xl_host_done);
}

void reporting_xl_selftest(void)
{
	if (cfg.engine.kind != PH_ENGINE_OFF)
		panic_status(EXIT_CMDLINE, "pagehint: bad command line: test=exitless runs with engine=off");
	size_t len = ph_xl_mem_bytes(zone.base_pfn, zone.npages);
	void *mem = mem_alloc_contig(len);
	if (!mem || ph_xl_init(&xl_map, mem, len, zone.base_pfn, zone.npages) != 0)
		panic("pagehint: test=exitless: no map");
	int err = ph_xl_guest_start(&xlg, &zone, &xl_map, 0);
	if (err)
		panic("pagehint: test=exitless: hooks: %d", err);
	xl_active = true;
	struct ph_xl_guest_stats st;
	ph_xl_guest_get_stats(&xlg, &st);
	kprintf("@xltest start frames=%u published=%lu host_cpu=%u\n", xl_map.nr_frames,
		st.published, nr_cpus - 1);
	work_init(&xl_host_work, xl_host_fn);
	queue_work_on(nr_cpus - 1, &xl_host_work);
	workload_run();
	atomic_store(&xl_host_stop, true);
	kick_cpu(nr_cpus - 1);
	wait_until(xl_host_finished, 0, 0);
	kprintf("@xltest host reclaimed=%lu discard_calls=%lu violations=%lu discard_errors=%lu\n",
		(unsigned long)atomic_load(&xl_map.reclaimed),
		(unsigned long)atomic_load(&xl_map.discard_calls),
		(unsigned long)atomic_load(&xl_map.violations),
		(unsigned long)atomic_load(&xl_map.discard_errors));
}

void reporting_summary(void)
{
	if (xl_active) {
		struct ph_xl_guest_stats st;
		unsigned long posts, resets, left;
		ph_xl_guest_get_stats(&xlg, &st);
		balloon_xl_counters(&posts, &resets, &left);
		kprintf("@xl published=%lu taken_back=%lu refaults=%lu waits=%lu wait_timeouts=%lu "
			"removed_blocks=%lu removed_mib=%lu walks=%lu posts=%lu resets=%lu "
			"left_reclaiming=%lu\n", st.published, st.taken_free + st.taken_reclaimed,
			st.taken_reclaimed, st.waits, st.wait_timeouts, st.removed_blocks,
			st.removed_pages >> (20 - PH_PAGE_SHIFT), st.walks, posts, resets, left);
		return;
	}
	if (!engine || cfg.engine.kind == PH_ENGINE_OFF)
		return;
	struct ph_engine_stats st;
	ph_engine_get_stats(engine, &st);
	kprintf("@engine name=%s requests=%lu ranges=%lu mib=%lu errors=%lu passes=%lu "
		"isolate_failures=%lu captured=%lu dropped=%lu rescans=%lu\n",
		ph_engine_name(cfg.engine.kind), st.requests, st.ranges,
		st.pages >> (20 - PH_PAGE_SHIFT), st.report_errors, st.passes,
		st.isolate_failures, st.captured, st.dropped, st.rescans);
	if (cfg.engine.kind == PH_ENGINE_PAGEHINT)
		kprintf("@engine name=pagehint blocks=%lu reallocated_mib=%lu backoffs=%lu "
			"max_hold=%lu\n", st.blocks, st.reallocated >> (20 - PH_PAGE_SHIFT),
			st.backoffs, st.max_hold);
}
