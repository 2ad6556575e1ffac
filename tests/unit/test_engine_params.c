/* SPDX-License-Identifier: MIT */
/* core/engine.c: the key=value parser, the origins' defaults, creation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_fakes.h"

static const char *set(struct ph_engine_params *p, const char *word)
{
	return ph_engine_param_word(p, word, strlen(word));
}

static void keys_are_ours(void **state)
{
	(void)state;
	assert_true(ph_engine_param_key("engine", 6));
	assert_true(ph_engine_param_key("report.order", 12));
	assert_true(ph_engine_param_key("report.anything", 15));
	assert_false(ph_engine_param_key("report.", 7));
	assert_false(ph_engine_param_key("engines", 7));
	assert_false(ph_engine_param_key("memhog.mib", 10));
}

static void parses_names_and_numbers(void **state)
{
	(void)state;
	struct ph_engine_params p;

	ph_engine_params_init(&p);
	assert_int_equal(p.kind, PH_ENGINE_OFF);
	assert_null(set(&p, "engine=seed-v8"));
	assert_int_equal(p.kind, PH_ENGINE_SEED_V8);
	assert_null(set(&p, "engine=max-order"));
	assert_int_equal(p.kind, PH_ENGINE_MAX_ORDER);
	assert_null(set(&p, "engine=upstream"));
	assert_int_equal(p.kind, PH_ENGINE_UPSTREAM);
	assert_null(set(&p, "report.order=7"));
	assert_int_equal(p.order, 7);
	assert_null(set(&p, "report.capacity=0x10"));
	assert_int_equal(p.capacity, 16);
	assert_null(set(&p, "report.delay_ms=0"));
	assert_int_equal(p.delay_ms, 0);
	assert_string_equal(ph_engine_name(PH_ENGINE_MAX_ORDER), "max-order");
}

static void rejects_bad_words(void **state)
{
	(void)state;
	struct ph_engine_params p;

	ph_engine_params_init(&p);
	assert_non_null(set(&p, "engine=upstreamx"));
	assert_non_null(set(&p, "engine="));
	assert_non_null(set(&p, "report.order=11"));
	assert_non_null(set(&p, "report.order=-1"));
	assert_non_null(set(&p, "report.order=9k"));
	assert_non_null(set(&p, "report.order="));
	assert_non_null(set(&p, "report.capacity=0"));
	assert_non_null(set(&p, "report.capacity=99999999999999999999999"));
	assert_non_null(set(&p, "report.delay=5"));
	assert_non_null(set(&p, "report.entries"));
	/* nothing changed */
	assert_int_equal(p.kind, PH_ENGINE_OFF);
	assert_true(p.order == PH_PARAM_DEFAULT && p.capacity == PH_PARAM_DEFAULT);
}

static void defaults_are_the_origins(void **state)
{
	(void)state;
	struct ph_engine_params p;

	ph_engine_params_init(&p);
	p.kind = PH_ENGINE_UPSTREAM;
	assert_null(ph_engine_params_resolve(&p, 128));
	assert_int_equal(p.order, 9);
	assert_int_equal(p.capacity, 32);
	assert_int_equal(p.delay_ms, 2000);
	assert_int_equal(p.entries, 0);

	ph_engine_params_init(&p);
	p.kind = PH_ENGINE_MAX_ORDER;
	assert_null(ph_engine_params_resolve(&p, 128));
	assert_int_equal(p.order, 10);
	assert_int_equal(p.capacity, 128);

	ph_engine_params_init(&p);
	p.kind = PH_ENGINE_SEED_V8;
	assert_null(ph_engine_params_resolve(&p, 1000));	/* seed protocol */
	assert_int_equal(p.entries, 1000);
	assert_int_equal(p.capacity, 1000);
	assert_int_equal(p.order, 0);
	assert_int_equal(p.delay_ms, 0);
	assert_null(ph_engine_params_resolve(&p, 1000));	/* idempotent */
	assert_int_equal(p.entries, 1000);
	ph_engine_params_init(&p);
	p.kind = PH_ENGINE_SEED_V8;
	assert_null(ph_engine_params_resolve(&p, 128));	/* standard protocol */
	assert_int_equal(p.capacity, 128);
}

static void resolve_refuses_what_does_not_apply(void **state)
{
	(void)state;
	struct ph_engine_params p;

	ph_engine_params_init(&p);
	set(&p, "report.order=9");
	assert_non_null(ph_engine_params_resolve(&p, 128));	/* engine=off */
	ph_engine_params_init(&p);
	set(&p, "engine=seed-v8");
	set(&p, "report.order=9");
	assert_non_null(ph_engine_params_resolve(&p, 128));
	ph_engine_params_init(&p);
	set(&p, "engine=upstream");
	set(&p, "report.entries=10");
	assert_non_null(ph_engine_params_resolve(&p, 128));
	ph_engine_params_init(&p);
	set(&p, "engine=upstream");
	set(&p, "report.capacity=256");
	assert_non_null(ph_engine_params_resolve(&p, 128));	/* above the queue */
	assert_int_equal(p.capacity, 256);			/* unchanged */
	assert_null(ph_engine_params_resolve(&p, 256));
}

/* report.mode: a pagehint word; standard by default. */
static void report_mode(void **state)
{
	(void)state;
	struct ph_engine_params p;

	ph_engine_params_init(&p);
	assert_non_null(set(&p, "report.mode=fast"));
	assert_non_null(set(&p, "report.mode="));
	assert_null(set(&p, "engine=pagehint"));
	assert_null(ph_engine_params_resolve(&p, 128));
	assert_int_equal(p.mode, PH_MODE_STANDARD);
	ph_engine_params_init(&p);
	assert_null(set(&p, "engine=pagehint"));
	assert_null(set(&p, "report.mode=exitless"));
	assert_int_equal(p.mode, PH_MODE_EXITLESS);
	assert_null(ph_engine_params_resolve(&p, 0));
	assert_int_equal(p.mode, PH_MODE_EXITLESS);
	ph_engine_params_init(&p);
	assert_null(set(&p, "engine=upstream"));
	assert_null(set(&p, "report.mode=exitless"));
	assert_non_null(ph_engine_params_resolve(&p, 128));
	ph_engine_params_init(&p);
	assert_null(set(&p, "report.mode=standard"));
	assert_non_null(ph_engine_params_resolve(&p, 128));	/* engine=off */
}

/* No sink, a sink without capacity, or engine=off: inert, no hooks. */
static void no_sink_means_inert(void **state)
{
	(void)state;
	struct tzone t;
	struct fsched f;
	struct fsink s;
	struct ph_engine_params p;
	void *mem;

	tzone_init(&t, 0, 4096, NULL);
	fs_init(&f, 2);
	ph_engine_params_init(&p);
	p.kind = PH_ENGINE_UPSTREAM;
	struct ph_engine *e = teng_create(t.z, NULL, &f, &p, &mem);
	assert_false(ph_engine_active(e));
	assert_null(t.z->hooks);
	teng_destroy(e, &f, mem);

	fsink_init(&s, t.z, 0);
	ph_engine_params_init(&p);
	p.kind = PH_ENGINE_SEED_V8;
	e = teng_create(t.z, &s, &f, &p, &mem);
	assert_false(ph_engine_active(e));
	teng_destroy(e, &f, mem);
	fsink_fini(&s);

	fsink_init(&s, t.z, 128);
	ph_engine_params_init(&p);
	e = teng_create(t.z, &s, &f, &p, &mem);
	assert_false(ph_engine_active(e));
	teng_destroy(e, &f, mem);

	/* one engine per zone */
	ph_engine_params_init(&p);
	p.kind = PH_ENGINE_UPSTREAM;
	e = teng_create(t.z, &s, &f, &p, &mem);
	assert_true(ph_engine_active(e));
	struct ph_engine_params q;
	ph_engine_params_init(&q);
	q.kind = PH_ENGINE_UPSTREAM;
	assert_null(ph_engine_params_resolve(&q, 128));
	size_t len = ph_engine_mem_bytes(&q, 2);
	void *mem2 = aligned_alloc(64, (len + 63) & ~(size_t)63);
	const char *err = NULL;
	assert_null(ph_engine_create(mem2, len, t.z, &s.sink, &f.env, &q, &err));
	assert_non_null(err);
	assert_null(ph_engine_create(mem2, len - 1, t.z, &s.sink, &f.env, &q, &err));
	free(mem2);
	teng_destroy(e, &f, mem);
	assert_null(t.z->hooks);
	fsink_fini(&s);
	tzone_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_are_ours),
		cmocka_unit_test(parses_names_and_numbers),
		cmocka_unit_test(rejects_bad_words),
		cmocka_unit_test(defaults_are_the_origins),
		cmocka_unit_test(resolve_refuses_what_does_not_apply),
		cmocka_unit_test(report_mode),
		cmocka_unit_test(no_sink_means_inert),
	};
	return cmocka_run_group_tests_name("engine_params", tests, NULL, NULL);
}
