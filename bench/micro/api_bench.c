/* SPDX-License-Identifier: MIT */
/*
 * How long the control API takes to answer GET /metrics while the
 * counters it reads move at full speed, without KVM: the API's server
 * (vmm/api.c) on a temporary socket, over a state shaped like a run's (the
 * balloon's counters and report latency histogram, the exit counts), which
 * WRITERS threads update in a loop as fast as they can: a report request
 * (requests, ranges, bytes, discard calls, one latency), a VM exit and an
 * ioeventfd notify per round. The snapshot reads them as `pagehint run`'s
 * does (atomic loads, lat_hist_read, exit_stats_read). A client then
 * scrapes N times, each a fresh connection as curl or `pagehint ctl`
 * makes, and times connect-to-last-byte. Printed: p50, p99 and max in ms,
 * the body's size, and the writers' rounds per second during the scrapes;
 * first with the writers idle, then busy.
 *
 *   build/bench/micro/api_bench [--scrapes N] [--writers W]
 *
 * Default 2000 scrapes, 1 writer. What it does not show: a guest's
 * reports on KVM (the device worker's discards, vCPU exits) competing for
 * the CPU and the memory bus; that figure needs a run on KVM (docs/bench.md).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "balloon.h"
#include "clock.h"
#include "exits.h"

#define EX_USAGE 64
#define MAX_SCRAPES 100000
#define MAX_WRITERS 8

/* What the writers move and the snapshot reads. */
static struct {
	struct balloon_counters c;
	struct exit_stats x;
	atomic_bool run;
	atomic_ullong rounds;
} S;

static void *writer(void *arg)
{
	uint64_t r = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1, n = 0;

	while (atomic_load_explicit(&S.run, memory_order_relaxed)) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		atomic_fetch_add(&S.c.report_requests, 1);
		atomic_fetch_add(&S.c.report_ranges, 4);
		atomic_fetch_add(&S.c.reported_bytes, 4ul << 21);
		atomic_fetch_add(&S.c.discard_calls, 2);
		atomic_fetch_add(&S.c.discarded_bytes, 4ul << 21);
		/* 10 µs to about 1 s, most of them short */
		lat_hist_add(&S.c.report_latency, 10000 + (r % 1000) * (r % 1000) * (r % 1000) / 1000);
		exit_stats_count(&S.x, EXIT_HLT);
		exit_stats_notify(&S.x, BQ_REPORT, 1);
		n++;
	}
	atomic_fetch_add(&S.rounds, n);
	return NULL;
}

static void snapshot(void *opaque, struct api_snapshot *s)
{
	(void)opaque;
	s->state = "Running";
	s->vcpus = 2;
	s->mem_bytes = 2048ull << 20;
	s->uptime_ns = mono_ns();
	s->features_offered = s->features_negotiated = 1u << 1 | 1u << 5;
	s->target_pages = s->actual_pages = 0;
	s->stats_interval_s = 1;
	s->reported_bytes = atomic_load(&S.c.reported_bytes);
	s->discarded_bytes = atomic_load(&S.c.discarded_bytes);
	s->report_requests = atomic_load(&S.c.report_requests);
	s->report_ranges = atomic_load(&S.c.report_ranges);
	s->discard_calls = atomic_load(&S.c.discard_calls);
	s->inflate_pages = atomic_load(&S.c.inflate_pages);
	s->deflate_pages = atomic_load(&S.c.deflate_pages);
	s->bad_inputs = atomic_load(&S.c.bad_inputs);
	s->stats_updates = atomic_load(&S.c.stats_updates);
	lat_hist_read(&S.c.report_latency, &s->report_latency);
	exit_stats_read(&S.x, &s->exits);
	s->have_resident = true;
	s->resident_bytes = 300ull << 20;
}

static int set_target(void *opaque, uint64_t pages, char *err, size_t n)
{
	(void)opaque;
	(void)pages;
	snprintf(err, n, "not in this benchmark");
	return -1;
}

static void shutdown_vm(void *opaque)
{
	(void)opaque;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* n scrapes of GET /metrics; 0, or -1 after saying why. */
static int scrape(const char *path, int n, uint64_t *ns, size_t *body)
{
	for (int i = 0; i < n; i++) {
		struct api_reply r;
		char err[256] = "";
		uint64_t t = mono_ns();
		if (api_request(path, "GET", "/metrics", NULL, &r, err, sizeof(err)) || r.status != 200) {
			fprintf(stderr, "api_bench: GET /metrics: %s (status %d)\n", err, r.status);
			free(r.body);
			return -1;
		}
		ns[i] = mono_ns() - t;
		*body = r.len;
		free(r.body);
	}
	qsort(ns, (size_t)n, sizeof(ns[0]), cmp_u64);
	return 0;
}

static void print_row(const char *load, const uint64_t *ns, int n, size_t body, double rounds_per_s)
{
	/* NOLINTNEXTLINE(bugprone-integer-division): an index, not a quotient */
	size_t p50 = (size_t)n / 2, p99 = (size_t)n * 99 / 100;
	printf("%-8s %8d %10.3f %10.3f %10.3f %10zu %14.0f\n", load, n, ns[p50] / 1e6, ns[p99] / 1e6,
	       ns[n - 1] / 1e6, body, rounds_per_s);
}

int main(int argc, char **argv)
{
	int scrapes = 2000, writers = 1;
	char dir[] = "/tmp/ph-api-bench-XXXXXX", path[64], err[256];

	/* options come in pairs: a name, then its number */
	for (int i = 1; i < argc; i += 2) {
		char *end = NULL;
		long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
		bool num = end && !*end && end != argv[i + 1];
		if (!strcmp(argv[i], "--scrapes") && num && v >= 1 && v <= MAX_SCRAPES)
			scrapes = (int)v;
		else if (!strcmp(argv[i], "--writers") && num && v >= 1 && v <= MAX_WRITERS)
			writers = (int)v;
		else {
			fprintf(stderr, "usage: %s [--scrapes 1..%d] [--writers 1..%d]\n", argv[0],
				MAX_SCRAPES, MAX_WRITERS);
			return EX_USAGE;
		}
	}
	if (!mkdtemp(dir)) {
		fprintf(stderr, "api_bench: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	struct api_ops ops = { .snapshot = snapshot, .set_target = set_target, .shutdown = shutdown_vm };
	struct api *a = api_start(path, &ops, NULL, err, sizeof(err));
	if (!a) {
		fprintf(stderr, "api_bench: %s\n", err);
		rmdir(dir);
		return 1;
	}

	uint64_t *ns = calloc((size_t)scrapes, sizeof(*ns));
	size_t body = 0;
	pthread_t w[MAX_WRITERS];
	int rc = 1;
	if (!ns)
		goto out;
	printf("%-8s %8s %10s %10s %10s %10s %14s\n", "writers", "scrapes", "p50 ms", "p99 ms", "max ms",
	       "bytes", "rounds/s");
	/* warm up: the first connections fault in the server's buffers */
	if (scrape(path, scrapes < 50 ? scrapes : 50, ns, &body) || scrape(path, scrapes, ns, &body))
		goto out;
	print_row("idle", ns, scrapes, body, 0);

	atomic_store(&S.run, true);
	for (int k = 0; k < writers; k++)
		pthread_create(&w[k], NULL, writer, (void *)(uintptr_t)(k + 1));
	uint64_t t0 = mono_ns();
	int r = scrape(path, scrapes, ns, &body);
	double secs = (mono_ns() - t0) / 1e9;
	atomic_store(&S.run, false);
	for (int k = 0; k < writers; k++)
		pthread_join(w[k], NULL);
	if (r)
		goto out;
	char label[16];
	snprintf(label, sizeof(label), "%d", writers);
	print_row(label, ns, scrapes, body, atomic_load(&S.rounds) / secs);
	rc = 0;
out:
	free(ns);
	api_stop(a);
	rmdir(dir);
	return rc;
}
