/* SPDX-License-Identifier: MIT */
/* GET /metrics on a `pagehint run`'s control API during a reclaim run:
 * see bench_scrape.c. */
#ifndef VMM_BENCH_SCRAPE_H
#define VMM_BENCH_SCRAPE_H

#include <stdio.h>

#include "bench.h"

#define BENCH_SCRAPE_PERIOD_MS 100
/* vmm/api.c's name for its thread: its CPU serves the bench's scrapes */
#define BENCH_API_THREAD "ph-api"

struct bench_scraper;

/* A thread that scrapes the API at sock every period_ms while the guest
 * frees and reclaims (bench_scraper_line). NULL if it cannot start. */
struct bench_scraper *bench_scraper_start(const char *sock, unsigned period_ms);
/* A console line of the run: the guest's "@event freeing" starts the
 * scrapes, its "@done" ends them. */
void bench_scraper_line(struct bench_scraper *s, const char *line);
/* Stop and free the thread; its scrapes into r (r->scraped set). */
void bench_scraper_stop(struct bench_scraper *s, struct bench_run *r);
/* r's scrapes as CSV: t_ms (since the first), answer_ms. */
void bench_scrape_csv(FILE *f, const struct bench_run *r);

#endif
