/* SPDX-License-Identifier: MIT */
/*
 * The control API's goal, `GET /metrics` answers in < 5 ms while the guest
 * reports at full speed (docs/vmm.md "Control API"), measured in a bench
 * run: a thread of the bench asks the run's API for /metrics every ~100 ms
 * from the guest's "@event freeing" line to its "@done" (the free and the
 * reclaim after it), with api_request as `pagehint ctl` does (a fresh
 * connection each time), and times each answer from connect to last byte.
 * A scrape that fails is judged at the next tick: still scraping, it
 * counts as failed; the run ended meanwhile (the VM tearing down its API
 * after @done), it is dropped.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "bench_scrape.h"
#include "clock.h"
#include "guest_line.h"

struct bench_scraper {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char sock[108];
	unsigned period_ms;
	bool on, ended, quit;		/* under mu */
	/* the thread's until it is joined */
	double t0, *ms, *t_ms;
	size_t n, cap;
	unsigned failed;
	bool oom;
};

static void record(struct bench_scraper *s, double t_ms, double ms)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 512;
		double *a = realloc(s->ms, cap * sizeof(*a));
		if (a)
			s->ms = a;
		double *b = a ? realloc(s->t_ms, cap * sizeof(*b)) : NULL;
		if (!b) {
			s->oom = true;
			return;
		}
		s->t_ms = b;
		s->cap = cap;
	}
	s->ms[s->n] = ms;
	s->t_ms[s->n++] = t_ms;
}

static void wait_until(struct bench_scraper *s, double at_ms)
{
	double ns = at_ms * 1e6;
	struct timespec ts = { (time_t)(ns / 1e9), (long)fmod(ns, 1e9) };
	pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void *scrape_thread(void *arg)
{
	struct bench_scraper *s = arg;
	double next = -1;
	bool pending = false;	/* a failed scrape, judged at the next tick */

	pthread_mutex_lock(&s->mu);
	while (!s->quit) {
		if (!s->on) {
			pending = false;
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		double now = mono_ms();
		if (next < 0)
			next = now;
		if (now < next) {
			wait_until(s, next);
			continue;
		}
		if (pending)
			s->failed++;
		pthread_mutex_unlock(&s->mu);

		struct api_reply rep;
		char err[256];
		double t = mono_ms();
		if (s->t0 < 0)
			s->t0 = t;
		int e = api_request(s->sock, "GET", "/metrics", NULL, &rep, err, sizeof(err));
		double done = mono_ms();
		bool ok = !e && rep.status == 200;
		if (!e)
			free(rep.body);
		if (ok)
			record(s, t - s->t0, done - t);
		pending = !ok;
		while (next <= done)
			next += s->period_ms;

		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct bench_scraper *bench_scraper_start(const char *sock, unsigned period_ms)
{
	struct bench_scraper *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	if (!s || strlen(sock) >= sizeof(s->sock)) {
		free(s);
		return NULL;
	}
	strcpy(s->sock, sock);
	s->t0 = -1;
	s->period_ms = period_ms ? period_ms : BENCH_SCRAPE_PERIOD_MS;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->thread, NULL, scrape_thread, s)) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return NULL;
	}
	return s;
}

void bench_scraper_line(struct bench_scraper *s, const char *line)
{
	if (!s)
		return;
	bool freeing = guest_event_parse(line).kind == GUEST_EVENT_FREEING;
	bool done = !strncmp(line, "@done", 5) && (!line[5] || line[5] == ' ');
	if (!freeing && !done)
		return;
	pthread_mutex_lock(&s->mu);
	if (done)
		s->ended = true;
	s->on = !s->ended;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void bench_scraper_stop(struct bench_scraper *s, struct bench_run *r)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->quit = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);

	free(r->scrape_ms);
	free(r->scrape_t_ms);
	r->scraped = !s->oom;
	r->scrape_ms = s->ms;
	r->scrape_t_ms = s->t_ms;
	r->nscrape = s->n;
	r->scrape_failed = s->failed;
	free(s);
}

void bench_scrape_csv(FILE *f, const struct bench_run *r)
{
	fputs("t_ms,answer_ms\n", f);
	for (size_t i = 0; i < r->nscrape; i++)
		fprintf(f, "%.1f,%.3f\n", r->scrape_t_ms[i], r->scrape_ms[i]);
	fprintf(f, "# scrapes=%zu failed=%u\n", r->nscrape, r->scrape_failed);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The ceil(p/100 x n)-th smallest of sorted v[0..n). */
static double rank(const double *v, size_t n, size_t p)
{
	size_t k = (p * n + 99) / 100;
	return v[k ? k - 1 : 0];
}

void bench_scrape_figures(const struct bench_run *r, struct bench_scrape_fig *f)
{
	f->scrapes = f->failed = f->p50_ms = f->p99_ms = f->max_ms = BENCH_NULL;
	if (!r->scraped)
		return;
	f->scrapes = (double)r->nscrape + r->scrape_failed;
	f->failed = r->scrape_failed;
	if (!r->nscrape)
		return;
	double *v = malloc(r->nscrape * sizeof(*v));
	if (!v)
		return;
	memcpy(v, r->scrape_ms, r->nscrape * sizeof(*v));
	qsort(v, r->nscrape, sizeof(*v), cmp_double);
	f->p50_ms = rank(v, r->nscrape, 50);
	f->p99_ms = rank(v, r->nscrape, 99);
	f->max_ms = v[r->nscrape - 1];
	free(v);
}
