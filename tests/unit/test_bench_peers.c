/* SPDX-License-Identifier: MIT */
/* `pagehint peers`' request pattern (bench/bench_peers_fig.c) from synthetic
 * host-side traces: QEMU's trace log and pagehint run's telemetry CSV. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench.h"
#include "bench_peers.h"

#define MiB4 0x400000ull
#define MiB2 0x200000ull
#define T0_REAL 1795708600.0	/* the run's t = 0, CLOCK_REALTIME */

static FILE *text(const char *s)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	fputs(s, f);
	rewind(f);
	return f;
}

/* A QEMU log line at ms after T0_REAL. */
static void notify(FILE *f, double ms, int queue)
{
	fprintf(f, "29644@%.6f:virtio_queue_notify vdev 0x5558392d6600 n %d vq 0x7f9044016140\n",
		T0_REAL + ms / 1e3, queue);
}

static void discard(FILE *f, double ms, unsigned long long len)
{
	fprintf(f, "29644@%.6f:ram_block_discard_range pc.ram@0x7f8f08200000 + 0x%llx: madvise: 1 "
		"fallocate: 0 ret: 0\n", T0_REAL + ms / 1e3, len);
}

/* One request of n ranges of len at ms on the reporting queue (3). */
static void request(FILE *f, double ms, unsigned n, unsigned long long len)
{
	notify(f, ms, 3);
	for (unsigned i = 0; i < n; i++)
		discard(f, ms + 0.01 * (i + 1), len);
}

static void qemu_trace_groups_discards_under_the_reporting_queue(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	discard(f, 5, MiB2);			/* before any notify: nobody's */
	notify(f, 10, 2);			/* the stats queue: no discards */
	notify(f, 20, 0);			/* inflate: discards, but fewer */
	discard(f, 21, 0x1000);
	fputs("29644@garbage line\nnot a trace line\n", f);
	request(f, 100, 32, MiB4);
	notify(f, 150, 2);
	request(f, 2100, 2, MiB2);
	notify(f, 2200, 2);
	rewind(f);

	struct peers_trace t;
	peers_trace_init(&t);
	assert_int_equal(peers_trace_read_qemu(&t, f, T0_REAL), 0);
	fclose(f);
	assert_int_equal(t.queue, 3);
	assert_true(t.sizes_exact);
	assert_int_equal(t.nreq, 2);
	assert_float_equal(t.req[0].t_ms, 100, 0.01);
	assert_int_equal(t.req[0].nranges, 32);
	assert_int_equal(t.req[0].bytes, 32 * MiB4);
	assert_float_equal(t.req[1].t_ms, 2100, 0.01);
	assert_int_equal(t.req[1].nranges, 2);
	assert_int_equal(t.len[t.req[1].first], MiB2);
	peers_trace_free(&t);
}

static void qemu_trace_without_discards_has_no_requests(void **state)
{
	(void)state;
	FILE *f = text("1@1795708601.000000:virtio_queue_notify vdev 0x1 n 3 vq 0x2\n");
	struct peers_trace t;
	peers_trace_init(&t);
	assert_int_equal(peers_trace_read_qemu(&t, f, T0_REAL), 0);
	fclose(f);
	assert_int_equal(t.nreq, 0);
	assert_int_equal(t.queue, -1);

	struct peers_fig fig;
	char buf[64];
	peers_figures(&t, 0, 2048, &fig);
	assert_int_equal(fig.requests, 0);
	assert_int_equal(fig.passes, 0);
	assert_true(fig.pass_gap_med_ms == BENCH_NULL);
	assert_string_equal(fig.per_pass, "-");
	assert_float_equal(fig.requests_per_gib, 0, 1e-9);
	peers_sizes_str(&fig, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	peers_trace_free(&t);
}

/* Linux's pattern of docs/interop.md: an initial flush before t = 0, then
 * passes 2 s apart of 4, 2, 2, 2 and 1 requests. */
static void passes_spacing_and_sizes(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	request(f, -9000, 32, MiB4);		/* the initial flush */
	request(f, -7000, 32, MiB4);
	static const unsigned per[] = { 4, 2, 2, 2, 1 };
	static const double start[] = { 2000, 4020, 6030, 8060, 10100 };
	for (int p = 0; p < 5; p++)
		for (unsigned k = 0; k < per[p]; k++) {
			/* the pass's first request carries the 2 MiB blocks */
			if (p == 0 && k == 0)
				request(f, start[p], 11, MiB2);
			else
				request(f, start[p] + 5 * k, 32, MiB4);
		}
	request(f, 10100 + 5, 1, 0x5000);	/* odd sizes: listed after */
	request(f, 10100 + 6, 1, 0x3000);
	request(f, 10100 + 7, 1, 0x1000);
	request(f, 10100 + 8, 2, 0x2000);
	rewind(f);

	struct peers_trace t;
	peers_trace_init(&t);
	assert_int_equal(peers_trace_read_qemu(&t, f, T0_REAL), 0);
	fclose(f);

	struct peers_fig fig;
	peers_figures(&t, 0, 2048, &fig);
	assert_int_equal(fig.requests_before, 2);
	assert_int_equal(fig.requests, 11 + 4);
	assert_int_equal(fig.ranges, 11 + 10 * 32 + 5);
	assert_float_equal(fig.requests_per_gib, 15 / 2.0, 1e-9);
	assert_float_equal(fig.ranges_per_gib, (11 + 320 + 5) / 2.0, 1e-9);
	assert_int_equal(fig.passes, 5);
	/* the odd-sized requests are 5-8 ms after the last pass began: in it */
	assert_string_equal(fig.per_pass, "4, 2x3, 5");
	/* gaps 2020, 2010, 2030, 2040: median 2025 */
	assert_float_equal(fig.pass_gap_med_ms, 2025, 0.01);
	assert_float_equal(fig.pass_gap_min_ms, 2010, 0.01);
	assert_float_equal(fig.pass_gap_max_ms, 2040, 0.01);

	/* sizes: most common first, ties by size; beyond four, counted */
	assert_int_equal(fig.nsizes_all, 6);
	assert_int_equal(fig.nsizes, PEERS_SIZES);
	assert_int_equal(fig.size[0].bytes, MiB4);
	assert_int_equal(fig.size[0].count, 320);
	assert_int_equal(fig.size[1].bytes, MiB2);
	assert_int_equal(fig.size[1].count, 11);
	assert_int_equal(fig.size[2].bytes, 0x2000);
	assert_int_equal(fig.size[2].count, 2);
	assert_int_equal(fig.size[3].bytes, 0x5000);
	assert_int_equal(fig.other_ranges, 2);
	char buf[128];
	peers_sizes_str(&fig, buf, sizeof(buf));
	assert_string_equal(buf, "4Mx320, 2Mx11, 8Kx2, 20Kx1, 2 other sizes x2");
	peers_trace_free(&t);
}

static void one_pass_has_no_spacing(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	/* 900 ms apart each: one pass however long it runs */
	for (int i = 0; i < 4; i++)
		request(f, 100 + 900 * i, 1, 0x7f000000ull);
	rewind(f);
	struct peers_trace t;
	peers_trace_init(&t);
	assert_int_equal(peers_trace_read_qemu(&t, f, T0_REAL), 0);
	fclose(f);
	struct peers_fig fig;
	peers_figures(&t, 0, 1024, &fig);
	assert_int_equal(fig.passes, 1);
	assert_string_equal(fig.per_pass, "4");
	assert_true(fig.pass_gap_med_ms == BENCH_NULL);
	char buf[64];
	peers_sizes_str(&fig, buf, sizeof(buf));
	assert_string_equal(buf, "2032Mx4");
	peers_trace_free(&t);
}

static void vmm_counters_become_requests_of_mean_size(void **state)
{
	(void)state;
	/* t_ms, resident, discarded, reported_mib, requests, ranges, ...:
	 * two requests of 32 x 4 MiB in one sample, then one of 3 ranges
	 * (4 + 4 + 2 MiB: mean 10/3 MiB, to whole pages) */
	FILE *f = text("t_ms,resident_mib,discarded_mib,reported_mib,report_requests,report_ranges,exits\n"
		       "0.000,100,0,0,0,0,5\n"
		       "10.000,100,0,0,0,0,6\n"
		       "20.000,80,256,256,2,64,9\n"
		       "30.000,70,256,256,2,64,9\n"
		       "2030.000,60,266,266,3,67,12\n"
		       "short,line\n");
	struct peers_trace t;
	peers_trace_init(&t);
	assert_int_equal(peers_trace_read_vmm(&t, f), 0);
	fclose(f);
	assert_false(t.sizes_exact);
	assert_int_equal(t.nreq, 3);
	assert_float_equal(t.req[0].t_ms, 20, 1e-9);
	assert_float_equal(t.req[1].t_ms, 20, 1e-9);
	assert_int_equal(t.req[0].nranges, 32);
	assert_int_equal(t.req[1].nranges, 32);
	assert_int_equal(t.len[0], MiB4);
	assert_float_equal(t.req[2].t_ms, 2030, 1e-9);
	assert_int_equal(t.req[2].nranges, 3);
	assert_int_equal(t.len[t.req[2].first], 853ull * 4096);	/* 10 MiB / 3, in pages */

	struct peers_fig fig;
	peers_figures(&t, 15, 512, &fig);
	assert_int_equal(fig.requests, 3);
	assert_int_equal(fig.passes, 2);
	assert_string_equal(fig.per_pass, "2, 1");
	assert_float_equal(fig.pass_gap_med_ms, 2010, 1e-9);
	peers_trace_free(&t);
}

static void t0_is_the_freeing_line_else_alloc_plus_hold(void **state)
{
	(void)state;
	struct bench_run r;
	bench_run_init(&r);
	bench_run_parse_line(&r, "@event alloc mib=2048 round=1", 5000, 0);
	bench_run_parse_line(&r, "@event freeing mib=2048 round=1", 25300, 0);
	bench_run_parse_line(&r, "@event free mib=2048 round=1", 28600, 0);
	assert_float_equal(peers_t0_ours(&r, 20000), 25300, 1e-9);
	bench_run_free(&r);

	/* a guest that prints no freeing line */
	bench_run_init(&r);
	bench_run_parse_line(&r, "@event alloc mib=2048 round=1", 5000, 0);
	bench_run_parse_line(&r, "@event free mib=2048 round=1", 28600, 0);
	assert_float_equal(peers_t0_ours(&r, 20000), 25000, 1e-9);
	bench_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qemu_trace_groups_discards_under_the_reporting_queue),
		cmocka_unit_test(qemu_trace_without_discards_has_no_requests),
		cmocka_unit_test(passes_spacing_and_sizes),
		cmocka_unit_test(one_pass_has_no_spacing),
		cmocka_unit_test(vmm_counters_become_requests_of_mean_size),
		cmocka_unit_test(t0_is_the_freeing_line_else_alloc_plus_hold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
