/* SPDX-License-Identifier: MIT */
/* The bench's /metrics scrapes (bench/bench_scrape.c): the scraper thread
 * against the control API's server on a fake VM, driven by a run's console
 * lines; the figure from the answer times; its row in the table, its
 * object in results.json and its goal; `pagehint run`'s --api-sock; the
 * API thread's CPU left out of the child's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "bench.h"
#include "bench_child.h"
#include "bench_int.h"
#include "bench_scrape.h"

#define NUL BENCH_NULL

static atomic_int snapshots;

static void fake_snapshot(void *opaque, struct api_snapshot *s)
{
	(void)opaque;
	atomic_fetch_add(&snapshots, 1);
	s->state = "Running";
	s->vcpus = 2;
	s->mem_bytes = 1ull << 30;
}

static int fake_set_target(void *opaque, uint64_t pages, char *err, size_t n)
{
	(void)opaque;
	(void)pages;
	(void)err;
	(void)n;
	return 0;
}

static void fake_shutdown(void *opaque)
{
	(void)opaque;
}

static const struct api_ops ops = {
	.snapshot = fake_snapshot, .set_target = fake_set_target, .shutdown = fake_shutdown,
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts))
		;
}

/* Until the API has answered n scrapes (at most 10 s: a loaded machine) */
static void wait_snapshots(int n)
{
	for (int k = 0; k < 1000 && atomic_load(&snapshots) < n; k++)
		sleep_ms(10);
}

struct env {
	char dir[64], sock[96];
	struct api *api;
};

static void api_up(struct env *e)
{
	char err[256];
	e->api = api_start(e->sock, &ops, NULL, err, sizeof(err));
	if (!e->api)
		fail_msg("api_start: %s", err);
}

static void env_init(struct env *e)
{
	strcpy(e->dir, "/tmp/ph-scrape-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->sock, sizeof(e->sock), "%s/api.sock", e->dir);
	atomic_store(&snapshots, 0);
	api_up(e);
}

/* Scrapes only from the freeing line to @done, each one answered and
 * timed. */
static void scrapes_from_the_free_to_done(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	struct bench_scraper *s = bench_scraper_start(e.sock, 10);
	assert_non_null(s);

	bench_scraper_line(s, "@event alloc mib=768");
	sleep_ms(60);
	assert_int_equal(atomic_load(&snapshots), 0);
	bench_scraper_line(s, "@event freeing");
	wait_snapshots(2);
	bench_scraper_line(s, "@event free mib=768");	/* the reclaim goes on */
	wait_snapshots(4);
	bench_scraper_line(s, "@done status=0");
	sleep_ms(30);
	int seen = atomic_load(&snapshots);
	sleep_ms(60);
	assert_int_equal(atomic_load(&snapshots), seen);
	bench_scraper_line(s, "@event freeing");	/* not after @done */
	sleep_ms(60);
	assert_int_equal(atomic_load(&snapshots), seen);

	struct bench_run r;
	bench_run_init(&r);
	bench_scraper_stop(s, &r);
	assert_true(r.scraped);
	assert_true(seen >= 4);
	assert_int_equal(r.nscrape, (size_t)seen);
	assert_int_equal(r.scrape_failed, 0);
	for (size_t i = 0; i < r.nscrape; i++) {
		assert_true(r.scrape_ms[i] >= 0);
		assert_true(i == 0 || r.scrape_t_ms[i] > r.scrape_t_ms[i - 1]);
	}
	assert_float_equal(r.scrape_t_ms[0], 0, 0);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bench_scrape_csv(f, &r);
	fclose(f);
	assert_non_null(strstr(buf, "t_ms,answer_ms\n0.0,"));
	char tail[64];
	snprintf(tail, sizeof(tail), "# scrapes=%d failed=0\n", seen);
	assert_non_null(strstr(buf, tail));
	free(buf);
	bench_run_free(&r);
	api_stop(e.api);
	rmdir(e.dir);
}

/* An API that stops answering while the guest reclaims: failed scrapes.
 * One that goes away with the run's end (@done): nothing failed. */
static void failures_while_scraping_count(void **state)
{
	(void)state;
	struct env e;
	env_init(&e);
	struct bench_scraper *s = bench_scraper_start(e.sock, 10);
	bench_scraper_line(s, "@event freeing");
	wait_snapshots(1);
	api_stop(e.api);
	sleep_ms(300);
	struct bench_run r;
	bench_run_init(&r);
	bench_scraper_stop(s, &r);
	assert_true(r.scraped);
	assert_true(r.nscrape >= 1);
	assert_true(r.scrape_failed >= 2);
	bench_run_free(&r);

	api_up(&e);
	s = bench_scraper_start(e.sock, 50);
	atomic_store(&snapshots, 0);
	bench_scraper_line(s, "@event freeing");
	wait_snapshots(1);
	api_stop(e.api);	/* the VM ends; its @done reaches the bench after */
	sleep_ms(3);
	bench_scraper_line(s, "@done status=0");
	sleep_ms(50);
	bench_run_init(&r);
	bench_scraper_stop(s, &r);
	assert_true(r.nscrape >= 1);
	assert_int_equal(r.scrape_failed, 0);
	bench_run_free(&r);
	rmdir(e.dir);
}

static void run_with(struct bench_run *r, const double *ms, size_t n, unsigned failed)
{
	bench_run_init(r);
	r->scraped = true;
	r->scrape_ms = malloc((n ? n : 1) * sizeof(double));
	r->scrape_t_ms = malloc((n ? n : 1) * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		r->scrape_ms[i] = ms[i];
		r->scrape_t_ms[i] = 100.0 * (double)i;
	}
	r->nscrape = n;
	r->scrape_failed = failed;
}

/* Nearest rank: p99 of 200 answers is the 198th fastest; of 100 the 99th. */
static void figure_from_answer_times(void **state)
{
	(void)state;
	double ms[200];
	for (int i = 0; i < 200; i++)
		ms[i] = (double)((i * 37) % 200) / 100.0;	/* 0.00 .. 1.99, shuffled */
	struct bench_run r;
	struct bench_scrape_fig f;
	run_with(&r, ms, 200, 3);
	bench_scrape_figures(&r, &f);
	assert_float_equal(f.scrapes, 203, 0);
	assert_float_equal(f.failed, 3, 0);
	assert_float_equal(f.p50_ms, 0.99, 1e-12);
	assert_float_equal(f.p99_ms, 1.97, 1e-12);
	assert_float_equal(f.max_ms, 1.99, 1e-12);
	assert_float_equal(r.scrape_ms[0], 0, 0);	/* the run's order kept */
	bench_run_free(&r);

	double hundred[100];
	for (int i = 0; i < 100; i++)
		hundred[i] = 100 - i;
	run_with(&r, hundred, 100, 0);
	bench_scrape_figures(&r, &f);
	assert_float_equal(f.p50_ms, 50, 0);
	assert_float_equal(f.p99_ms, 99, 0);
	assert_float_equal(f.max_ms, 100, 0);
	bench_run_free(&r);
	double one = 7.5;
	run_with(&r, &one, 1, 0);
	bench_scrape_figures(&r, &f);
	assert_float_equal(f.p50_ms, 7.5, 0);
	assert_float_equal(f.p99_ms, 7.5, 0);
	assert_float_equal(f.max_ms, 7.5, 0);
	bench_run_free(&r);

	/* scraped, never answered: counted, no times */
	run_with(&r, NULL, 0, 4);
	bench_scrape_figures(&r, &f);
	assert_float_equal(f.scrapes, 4, 0);
	assert_float_equal(f.failed, 4, 0);
	assert_true(f.p50_ms == NUL && f.p99_ms == NUL && f.max_ms == NUL);
	bench_run_free(&r);

	/* no API (QEMU): absent, not zero */
	bench_run_init(&r);
	bench_scrape_figures(&r, &f);
	assert_true(f.scrapes == NUL && f.failed == NUL && f.p50_ms == NUL && f.p99_ms == NUL &&
		    f.max_ms == NUL);
}

static struct bench_results *two_engines(const char *hv)
{
	struct bench_results *res = calloc(1, sizeof(*res));
	assert_non_null(res);
	res->hypervisor = hv;
	res->accel = !strcmp(hv, "qemu") ? "tcg" : "kvm";
	res->reps = 2;
	res->nengines = 2;
	static const char *const names[] = { "off", "pagehint" };
	for (unsigned i = 0; i < 2; i++) {
		snprintf(res->e[i].name, sizeof(res->e[i].name), "%s", names[i]);
		for (unsigned f = 0; f < FIG_COUNT; f++)
			for (unsigned r = 0; r < BENCH_MAX_REPS; r++)
				res->e[i].v[f][r] = NUL;
	}
	return res;
}

static char *text_of(const struct bench_results *res, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	if (json)
		assert_int_equal(bench_report_json(f, res), 0);
	else
		bench_report_table(f, res);
	fclose(f);
	return buf;
}

static const struct bench_goal *scrape_goal(const struct bench_results *res, struct bench_goal *g)
{
	unsigned n = bench_goals(res, 1, g);
	for (unsigned k = 0; k < n; k++)
		if (!strcmp(g[k].key, "metrics_scrape_p99_ms"))
			return &g[k];
	fail_msg("no goal metrics_scrape_p99_ms");
	return NULL;
}

/* pagehint: the medians over repetitions in a table block, in
 * results.json's "metrics_scrape" and in the goal. */
static void reported_per_engine(void **state)
{
	(void)state;
	struct bench_results *res = two_engines("pagehint");
	struct bench_engine_res *ph = &res->e[1];
	const double v[][2] = {
		[FIG_SCRAPE_N] = { 120, 122 }, [FIG_SCRAPE_FAILED] = { 0, 0 },
		[FIG_SCRAPE_P50] = { 0.25, 0.35 }, [FIG_SCRAPE_P99] = { 1.5, 2.5 },
		[FIG_SCRAPE_MAX] = { 3, 9 },
	};
	for (unsigned k = FIG_SCRAPE_N; k <= FIG_SCRAPE_MAX; k++)
		for (unsigned rep = 0; rep < 2; rep++)
			ph->v[k][rep] = v[k][rep];
	bench_results_finish(res);

	char *t = text_of(res, false);
	if (!strstr(t, "metrics scrape: GET /metrics on pagehint run's control API every 100 ms") ||
	    !strstr(t, "engine                 scrapes       failed       p50 ms       p99 ms       max ms\n"
		       "off                          -            -            -            -            -\n") ||
	    !strstr(t, "pagehint                   121            0        0.300        2.000        6.000\n"
		       "  min..max            120..122         0..0 0.250..0.350 1.500..2.500 3.000..9.000\n"))
		fail_msg("table:\n%s", strstr(t, "metrics scrape") ? strstr(t, "metrics scrape") : t);
	free(t);

	char *j = text_of(res, true);
	if (!strstr(j, "\"metrics_scrape_not_run\": null") ||
	    !strstr(j, "\"metrics_scrape\": {\"scrapes\": 121, \"failed\": 0, \"p50_ms\": 0.3, "
		       "\"p99_ms\": 2, \"max_ms\": 6}") ||
	    !strstr(j, "\"metrics_scrape\": {\"scrapes\": null, \"failed\": null, \"p50_ms\": null, "
		       "\"p99_ms\": null, \"max_ms\": null}") ||
	    !strstr(j, "\"metrics_scrape_p99_ms\": {\"goal\": \"api: GET /metrics p99 < 5 ms while "
		       "reporting\", \"target\": 5, \"measured\": 2, \"unit\": \"ms\", \"met\": true"))
		fail_msg("results.json:\n%s", j);
	free(j);

	struct bench_goal g[BENCH_MAX_GOALS];
	assert_int_equal(scrape_goal(res, g)->met, 1);
	/* missed; exactly 5 is not < 5 */
	ph->v[FIG_SCRAPE_P99][0] = ph->v[FIG_SCRAPE_P99][1] = 7;
	bench_results_finish(res);
	const struct bench_goal *x = scrape_goal(res, g);
	assert_int_equal(x->met, 0);
	assert_float_equal(x->missed_by, 2, 0);
	ph->v[FIG_SCRAPE_P99][0] = ph->v[FIG_SCRAPE_P99][1] = 5;
	bench_results_finish(res);
	assert_int_equal(scrape_goal(res, g)->met, 0);
	/* fast answers, but some scrapes got none */
	ph->v[FIG_SCRAPE_P99][0] = ph->v[FIG_SCRAPE_P99][1] = 1;
	ph->v[FIG_SCRAPE_FAILED][0] = ph->v[FIG_SCRAPE_FAILED][1] = 2;
	bench_results_finish(res);
	x = scrape_goal(res, g);
	assert_int_equal(x->met, 0);
	assert_non_null(strstr(x->note, "2 scrapes failed"));
	free(res);
}

/* QEMU: no API, so no figure: the table and results.json say why, the
 * goal is unknown with the reason. */
static void absent_without_an_api(void **state)
{
	(void)state;
	struct bench_results *res = two_engines("qemu");
	struct bench_host h = { .hv = BENCH_HV_QEMU, .tmpdir = "/tmp/x" };
	char why[160];
	snprintf(res->no_api, sizeof(res->no_api), "%s", bench_vmm_no_api(&h, why, sizeof(why)));
	bench_results_finish(res);

	char *t = text_of(res, false);
	if (!strstr(t, "metrics scrape: not run: QEMU has no control API (pagehint run --api-sock)\n") ||
	    strstr(t, "p99 ms"))
		fail_msg("table:\n%s", t);
	free(t);
	char *j = text_of(res, true);
	if (!strstr(j, "\"metrics_scrape_not_run\": \"QEMU has no control API") ||
	    !strstr(j, "\"metrics_scrape\": {\"scrapes\": null,") ||
	    !strstr(j, "\"met\": null, \"missed_by\": null, \"verdict\": \"unknown\", \"noise\": null, "
		       "\"note\": \"not run: QEMU has no control API"))
		fail_msg("results.json:\n%s", j);
	free(j);
	struct bench_goal g[BENCH_MAX_GOALS];
	assert_int_equal(scrape_goal(res, g)->met, -1);
	free(res);
}

/* --api-sock RUNDIR/api.sock for the jobs that scrape, where it fits. */
static void run_serves_the_api_when_scraped(void **state)
{
	(void)state;
	struct bench_host h = {
		.hv = BENCH_HV_PAGEHINT, .kvm = true, .guest_elf = "/b/pagehint-guest.elf",
		.self_exe = "/b/pagehint", .cpus = 2, .mem_mib = 1024, .tmpdir = "/out/runs",
	};
	struct bench_job j = { .cmdline = "engine=pagehint", .tag = "reclaim-pagehint-rep1",
			       .timeout_s = 60 };
	struct bench_vmm_argv a = { 0 };
	char why[160];
	size_t i;

	bench_vmm_argv(&h, &j, &a);
	for (i = 0; a.argv[i]; i++)
		assert_string_not_equal(a.argv[i], "--api-sock");
	assert_string_equal(a.api_sock, "");

	j.scrape = true;
	assert_null(bench_vmm_no_api(&h, why, sizeof(why)));
	bench_vmm_argv(&h, &j, &a);
	for (i = 0; a.argv[i] && strcmp(a.argv[i], "--api-sock"); i++)
		;
	assert_non_null(a.argv[i]);
	assert_string_equal(a.argv[i + 1], "/out/runs/api.sock");
	assert_string_equal(a.api_sock, "/out/runs/api.sock");
	for (; a.argv[i] && strcmp(a.argv[i], "--"); i++)
		;
	assert_string_equal(a.argv[i + 1], "engine=pagehint");
	assert_null(a.argv[i + 2]);

	char longdir[200];
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = 0;
	h.tmpdir = longdir;
	assert_non_null(bench_vmm_no_api(&h, why, sizeof(why)));
	assert_non_null(strstr(why, "longer than a Unix socket's 107 bytes"));
	struct bench_vmm_argv b = { 0 };
	bench_vmm_argv(&h, &j, &b);
	for (i = 0; b.argv[i]; i++)
		assert_string_not_equal(b.argv[i], "--api-sock");
}

/* The API thread's CPU (a shell run under its name) is not the child's. */
static double child_cpu(const char *exe, bool exclude)
{
	const char *argv[] = { exe, "-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done", NULL };
	struct bench_child c = { .argv = argv, .timeout_s = 120,
				 .exclude_thread2 = exclude ? BENCH_API_THREAD : NULL };
	struct bench_run r;
	bench_run_init(&r);
	assert_int_equal(bench_child_run(&c, &r, NULL), 0);
	double cpu = r.cpu_ms;
	bench_run_free(&r);
	return cpu;
}

static void child_cpu_leaves_out_the_api_thread(void **state)
{
	(void)state;
	char dir[] = "/tmp/ph-bench-XXXXXX", exe[64];
	assert_non_null(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/%s", dir, BENCH_API_THREAD);
	assert_int_equal(symlink("/bin/sh", exe), 0);
	double all = child_cpu(exe, false), rest = child_cpu(exe, true);
	unlink(exe);
	rmdir(dir);
	assert_true(all >= 100);
	assert_true(rest < all / 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scrapes_from_the_free_to_done),
		cmocka_unit_test(failures_while_scraping_count),
		cmocka_unit_test(figure_from_answer_times),
		cmocka_unit_test(reported_per_engine),
		cmocka_unit_test(absent_without_an_api),
		cmocka_unit_test(run_serves_the_api_when_scraped),
		cmocka_unit_test(child_cpu_leaves_out_the_api_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
