/* SPDX-License-Identifier: MIT */
/* The guest console path without KVM: the 16550 emulation assembles lines
 * with a host timestamp; the results protocol (@event free, @done, @fail)
 * is parsed; telemetry turns samples and free events into reclaim times
 * and writes the summary JSON and the CSV trace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "console.h"
#include "serial.h"
#include "telemetry.h"
#include "clock.h"

struct lines {
	unsigned n;
	char text[8][SERIAL_LINE_MAX + 1];
	uint64_t ns[8];
};

static void collect(void *opaque, const char *line, size_t len, uint64_t ns)
{
	struct lines *l = opaque;
	assert_int_equal(strlen(line), len);
	if (l->n < 8) {
		strcpy(l->text[l->n], line);
		l->ns[l->n] = ns;
	}
	l->n++;
}

static void puts_serial(struct serial *s, const char *str)
{
	while (*str)
		serial_out(s, 0, (uint8_t)*str++);
}

static void serial_assembles_lines(void **state)
{
	(void)state;
	struct lines l = { 0 };
	struct serial s;
	serial_init(&s, collect, &l);
	puts_serial(&s, "hello\r\nwor");
	assert_int_equal(l.n, 1);
	assert_string_equal(l.text[0], "hello");
	assert_true(l.ns[0] > 0);
	puts_serial(&s, "ld\n\n");
	assert_int_equal(l.n, 3);
	assert_string_equal(l.text[1], "world");
	assert_string_equal(l.text[2], "");
	assert_true(l.ns[1] >= l.ns[0]);
	puts_serial(&s, "tail");
	serial_flush(&s);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.text[3], "tail");
}

static void serial_splits_long_lines(void **state)
{
	(void)state;
	struct lines l = { 0 };
	struct serial s;
	serial_init(&s, collect, &l);
	for (int i = 0; i < SERIAL_LINE_MAX + 10; i++)
		serial_out(&s, 0, 'x');
	serial_out(&s, 0, '\n');
	assert_int_equal(l.n, 2);
	assert_int_equal(strlen(l.text[0]), SERIAL_LINE_MAX);
	assert_int_equal(strlen(l.text[1]), 10);
}

static void serial_registers(void **state)
{
	(void)state;
	struct lines l = { 0 };
	struct serial s;
	serial_init(&s, collect, &l);
	/* Transmitter always ready, no interrupt pending. */
	assert_int_equal(serial_in(&s, 5) & 0x60, 0x60);
	assert_int_equal(serial_in(&s, 2) & 1, 1);
	/* Divisor latch: writes to 0/1 go to DLL/DLM, not the line. */
	serial_out(&s, 3, 0x83);
	serial_out(&s, 0, 1);
	serial_out(&s, 1, 0);
	assert_int_equal(serial_in(&s, 0), 1);
	serial_out(&s, 3, 0x03);
	assert_int_equal(serial_in(&s, 3), 0x03);
	serial_out(&s, 7, 0x5a);
	assert_int_equal(serial_in(&s, 7), 0x5a);
	/* Loopback mode prints nothing. */
	serial_out(&s, 4, 0x10);
	puts_serial(&s, "x\n");
	serial_out(&s, 4, 0);
	assert_int_equal(l.n, 0);
}

static void console_protocol(void **state)
{
	(void)state;
	struct console_state *c = calloc(1, sizeof(*c));
	assert_false(console_parse_line(c, "plain text", 1));
	assert_true(console_parse_line(c, "@boot cpus=2 mem_mib=2048", 2));
	assert_true(console_parse_line(c, "@event free mib=1536", 100));
	assert_true(console_parse_line(c, "@event free mib=12x", 101));	/* not a number: ignored */
	assert_true(console_parse_line(c, "@event alloc mib=7", 102));
	assert_true(console_parse_line(c, "@event free engine=upstream mib=64", 200));
	assert_int_equal(c->nfree, 2);
	assert_int_equal(c->free[0].mib, 1536);
	assert_int_equal(c->free[0].host_ns, 100);
	assert_int_equal(c->free[1].mib, 64);
	assert_int_equal(console_data_errors(c), 0);
	console_parse_line(c, "@fail verify: page 0x1234 mismatch", 300);
	assert_int_equal(console_data_errors(c), 1);
	console_parse_line(c, "@done verify pages=100 errors=7", 400);
	assert_true(c->done);
	assert_int_equal(console_data_errors(c), 7);
	assert_false(console_parse_line(c, "x@fail", 500));
	assert_int_equal(c->fail_lines, 1);
	free(c);
	char buf[32];
	console_format_prefix(buf, sizeof(buf), 12345678901ULL);
	assert_string_equal(buf, "[   12.345678] ");
}

#define MiB (1ULL << 20)

static void reclaim_times(void **state)
{
	(void)state;
	/* Resident 1000 MiB until t=100ms, then drops 10 MiB per 10 ms. */
	struct sample s[200];
	for (int i = 0; i < 200; i++) {
		s[i] = (struct sample){ .t_ns = i * 10000000ULL };
		int64_t mib = 1000 - (i > 10 ? (i - 10) * 10 : 0);
		s[i].resident = (uint64_t)(mib < 400 ? 400 : mib) * MiB;
	}
	/* Guest freed 500 MiB at t=105 ms (t0 = 1000 ns). */
	struct free_event ev[2] = { { 1000 + 105000000ULL, 500 }, { 1000 + 1900000000ULL, 100 } };
	struct reclaim r[2];
	telemetry_reclaim(s, 200, 1000, ev, 2, r);
	assert_int_equal(r[0].mib, 500);
	/* 50%: 250 MiB drop at sample 35 (t=350 ms): 245 ms after the event. */
	assert_true(r[0].ms[0] > 244.9 && r[0].ms[0] < 245.1);
	assert_true(r[0].ms[1] > 444.9 && r[0].ms[1] < 445.1);	/* 450 MiB at 550 ms */
	assert_true(r[0].ms[2] > 494.9 && r[0].ms[2] < 495.1);	/* 495 MiB at 600 ms */
	/* The second event: resident never drops again. */
	assert_true(r[1].ms[0] < 0 && r[1].ms[1] < 0 && r[1].ms[2] < 0);
	telemetry_reclaim(NULL, 0, 0, ev, 1, r);
	assert_true(r[0].ms[0] < 0);
}

static void reclaim_from_the_start_of_the_free(void **state)
{
	(void)state;
	/* Resident 1000 MiB until t=100ms, then drops 10 MiB per 10 ms to
	 * 500: the engine returns the memory while the guest frees it. The
	 * guest starts freeing 500 MiB at 100 ms and prints its free line at
	 * 700 ms, when all of it is back. */
	struct sample s[200];
	for (int i = 0; i < 200; i++) {
		s[i] = (struct sample){ .t_ns = i * 10000000ULL };
		int64_t mib = 1000 - (i > 10 ? (i - 10) * 10 : 0);
		s[i].resident = (uint64_t)(mib < 500 ? 500 : mib) * MiB;
	}
	struct console_state *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	console_parse_line(c, "@event alloc mib=500 round=1", 50000000ULL);
	console_parse_line(c, "@event freeing mib=500 round=1", 100000000ULL);
	console_parse_line(c, "@event free mib=500 round=1", 700000000ULL);
	assert_int_equal(c->nfree, 1);
	assert_int_equal(c->free[0].host_ns, 100000000ULL);
	struct reclaim r[1];
	telemetry_reclaim(s, 200, 0, c->free, c->nfree, r);
	/* From the freeing line: 250 MiB at 350 ms, 450 at 550, 495 at 600. */
	assert_true(r[0].ms[0] > 249.9 && r[0].ms[0] < 250.1);
	assert_true(r[0].ms[1] > 449.9 && r[0].ms[1] < 450.1);
	assert_true(r[0].ms[2] > 499.9 && r[0].ms[2] < 500.1);
	/* A free line with no freeing line before it starts at itself. */
	console_parse_line(c, "@event free mib=8", 900000000ULL);
	assert_int_equal(c->free[1].host_ns, 900000000ULL);
	free(c);
}

static void summary_json(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct reclaim r[2] = { { 1536, { 120.5, 300.0, -1 } }, { 64, { -1, -1, -1 } } };
	struct summary s = {
		.guest_exit = 0, .cpus = 2, .mem_mib = 2048, .resident_peak_mib = 1800.25,
		.resident_end_mib = 300, .reported_mib = 1500, .discarded_mib = 1490,
		.report_requests = 47, .data_errors = 0,
		.end_reason = "exit", .nreclaim = 2, .reclaim = r,
		.balloon_target_pages = 16384, .balloon_actual_pages = 16128,
		.discard_calls = 61, .target_latencies = 3, .target_latency_ns = 4500000,
	};
	s.exits.cause[EXIT_IO_SERIAL] = 1200;
	s.exits.cause[EXIT_BALLOON_IRQ] = 34;
	s.report_latency.bucket[2] = 46;	/* 25 µs */
	s.report_latency.bucket[LAT_HIST_BOUNDS] = 1;
	s.report_latency.count = 47;
	s.report_latency.sum_ns = 46 * 20000 + 3000000000ull;
	s.report_latency.max_ns = 3000000000ull;
	telemetry_write_summary(f, &s);
	fclose(f);
	static const char *const keys[] = {
		"\"guest_exit\": 0,", "\"cpus\": 2,", "\"mem_mib\": 2048,",
		"\"resident_peak_mib\": 1800.2", "\"resident_end_mib\": 300.0,",
		"\"reported_mib\": 1500.0,", "\"discarded_mib\": 1490.0,", "\"report_requests\": 47,",
		"\"discard_calls\": 61,", "\"target_latency\": {\"count\": 3, \"last_s\": 0.0045},",
		"\"exits_total\": 1234,", "\"data_errors\": 0,", "\"reclaim\": [",
		("\"balloon\": {\"target_mib\": 64.0, \"actual_mib\": 63.0, \"target_pages\": 16384, "
		 "\"actual_pages\": 16128},"),
		"{\"freed_mib\": 1536, \"ms_50\": 120.5, \"ms_90\": 300.0, \"ms_99\": null}",
		"{\"freed_mib\": 64, \"ms_50\": null, \"ms_90\": null, \"ms_99\": null}",
		"\"report_latency\": {\"count\": 47, \"sum_s\": 3.00092, \"p50_s\": 2.5e-05, ",
		"\"p90_s\": 2.5e-05, \"p99_s\": 3, \"max_s\": 3, \"le_s\": [5e-06, 1e-05, 2.5e-05, ",
		"2.5], \"counts\": [0, 0, 46, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]},",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strstr(buf, keys[i]))
			fail_msg("summary lacks %s:\n%s", keys[i], buf);
	json_error_t je;
	json_t *j = json_loads(buf, 0, &je);
	if (!j)
		fail_msg("the summary is not JSON: %s (line %d)\n%s", je.text, je.line, buf);
	json_decref(j);
	free(buf);

	/* No guest exit, no events. */
	f = open_memstream(&buf, &len);
	s.guest_exit = -1;
	s.nreclaim = 0;
	telemetry_write_summary(f, &s);
	fclose(f);
	assert_non_null(strstr(buf, "\"guest_exit\": null,"));
	assert_non_null(strstr(buf, "\"reclaim\": []"));
	free(buf);

	/* No target change answered: last_s null, not 0. */
	f = open_memstream(&buf, &len);
	s.target_latencies = 0;
	telemetry_write_summary(f, &s);
	fclose(f);
	assert_non_null(strstr(buf, "\"target_latency\": {\"count\": 0, \"last_s\": null},"));
	free(buf);

	/* No report yet: the quantiles and max are null, not 0. */
	f = open_memstream(&buf, &len);
	memset(&s.report_latency, 0, sizeof(s.report_latency));
	telemetry_write_summary(f, &s);
	fclose(f);
	assert_non_null(strstr(buf, "\"report_latency\": {\"count\": 0, \"sum_s\": 0, \"p50_s\": null, "
				    "\"p90_s\": null, \"p99_s\": null, \"max_s\": null,"));
	free(buf);
}

static void csv_trace(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	telemetry_csv_header(f);
	struct sample s = { .t_ns = 20000000, .resident = 3 * MiB, .discarded = MiB / 2,
			    .requests = 4, .ranges = 9 };
	s.x.cause[EXIT_IO_SERIAL] = 10;
	s.x.cause[EXIT_HLT] = 1;
	telemetry_csv_row(f, &s);
	fclose(f);
	assert_non_null(strstr(buf, "t_ms,resident_mib,discarded_mib"));
	/* exits, exits_io, exits_mmio, exits_other */
	assert_non_null(strstr(buf, "\n20.000,3.000,0.500,0.000,4,9,11,10,0,1,"));
	free(buf);
}

/*
 * The sampler samples on its own, periodically, in time order, and no
 * faster than its 10 ms period. Behaviour, not timing: on a loaded host
 * the thread may be late, so wait (up to 10 s) for a few samples instead
 * of counting them in a fixed window; the bound is on the other side —
 * never more than one per period (plus the first and the final one).
 */
static void sampler_runs(void **state)
{
	(void)state;
	struct telemetry t;
	telemetry_init(&t);
	uint64_t t0 = mono_ms();
	assert_int_equal(telemetry_start(&t), 0);
	while (__atomic_load_n(&t.n, __ATOMIC_RELAXED) < 4 && mono_ms() - t0 < 10000) {
		struct timespec ts = { 0, 5 * 1000000 };
		nanosleep(&ts, NULL);
	}
	telemetry_stop(&t);
	uint64_t elapsed = mono_ms() - t0;
	size_t n = t.n;
	for (size_t i = 1; i < n; i++)
		if (t.s[i].t_ns < t.s[i - 1].t_ns)
			n = 0;	/* out of order: fail below, after freeing */
	telemetry_destroy(&t);
	assert_true(n >= 5);	/* 4 by the sampler, 1 by stop */
	assert_true(n <= elapsed / 10 + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(serial_assembles_lines),
		cmocka_unit_test(serial_splits_long_lines),
		cmocka_unit_test(serial_registers),
		cmocka_unit_test(console_protocol),
		cmocka_unit_test(reclaim_times),
		cmocka_unit_test(reclaim_from_the_start_of_the_free),
		cmocka_unit_test(summary_json),
		cmocka_unit_test(csv_trace),
		cmocka_unit_test(sampler_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
