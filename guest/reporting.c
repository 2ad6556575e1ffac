/* SPDX-License-Identifier: MIT */
#include "../core/engine.h"
#include "cmdline.h"
#include "console.h"
#include "exit.h"
#include "mem.h"
#include "reporting.h"
#include "sched.h"
#include "smp.h"
#include "virtio.h"

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

void reporting_init(void)
{
	struct ph_report_sink *sink = balloon_sink();
	const char *err = ph_engine_params_resolve(&cfg.engine, sink ? sink->capacity : 0);
	if (err)
		panic_status(EXIT_CMDLINE, "pagehint: bad command line: engine=%s: %s",
			     ph_engine_name(cfg.engine.kind), err);

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

void reporting_summary(void)
{
	if (!engine || cfg.engine.kind == PH_ENGINE_OFF)
		return;
	struct ph_engine_stats st;
	ph_engine_get_stats(engine, &st);
	kprintf("@engine name=%s requests=%lu ranges=%lu mib=%lu errors=%lu passes=%lu "
		"isolate_failures=%lu captured=%lu dropped=%lu rescans=%lu\n",
		ph_engine_name(cfg.engine.kind), st.requests, st.ranges,
		st.pages >> (20 - PH_PAGE_SHIFT), st.report_errors, st.passes,
		st.isolate_failures, st.captured, st.dropped, st.rescans);
}
