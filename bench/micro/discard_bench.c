/* SPDX-License-Identifier: MIT */
/*
 * Discard throughput through the virtio-balloon device vs raw
 * madvise(MADV_DONTNEED), on the same THP-backed anonymous memory, 2 MiB
 * ranges, in one run. No KVM: a hand-built reporting ring drives the real
 * transport and device (vmm/virtio_mmio.c, vmm/balloon.c) synchronously,
 * the way the VMM's worker thread does after an ioeventfd kick.
 *
 *   build/bench/micro/discard_bench [MiB] [rounds] [thp on|off]
 *
 * Each round first touches every page (not timed), then times:
 *   raw       one madvise(MADV_DONTNEED) per 2 MiB range
 *   scattered the device, 32 ranges per request, no two adjacent (32
 *             discard calls per request: the per-range cost)
 *   adjacent  the device, 32 adjacent ranges per request (merged into one
 *             64 MiB discard call)
 * and reports the median over rounds.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "balloon.h"
#include "guest_mem.h"
#include "virtio_mmio.h"
#include "vmm_driver.h"
#include "clock.h"

#define RANGE (2ULL << 20)
#define PER_REQ 32
#define QSIZE 256
#define MAX_ROUNDS 64

struct drv {
	struct guest_mem *gm;
	struct virtio_mmio_dev *t;
	uint64_t desc, avail, used;	/* gpa */
	uint16_t avail_idx;
};

static void wr(struct drv *d, uint64_t off, uint32_t v) { virtio_mmio_write(d->t, off, 4, v); }
static uint32_t rd(struct drv *d, uint64_t off) { return virtio_mmio_read(d->t, off, 4); }

/* Driver bring-up: VERSION_1 + REPORTING, so reporting is queue 2. */
static int bringup(struct drv *d, uint64_t ring_gpa)
{
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_BALLOON_F_REPORTING);

	if (!bench_negotiate(d->t, f))
		return -1;
	for (unsigned q = 0; q < 3; q++) {
		uint64_t base = ring_gpa + q * 0x4000ULL;
		uint64_t desc = base, avail = base + 16 * QSIZE, used = base + 0x2000;
		memset(gm_translate(d->gm, base, 0x4000), 0, 0x4000);
		bench_queue(d->t, q, QSIZE, desc, avail, used);
		if (q == 2) {
			d->desc = desc;
			d->avail = avail;
			d->used = used;
		}
	}
	wr(d, VIRTIO_MMIO_STATUS, rd(d, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	return (rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET) ? -1 : 0;
}

/* One report of n ranges (gpa[i], RANGE each) as one chain; kick; the
 * device handles it before the call returns. */
static void report(struct drv *d, const uint64_t *gpa, unsigned n)
{
	struct vring_desc *desc = gm_translate(d->gm, d->desc, 16 * QSIZE);
	struct vring_avail *av = gm_translate(d->gm, d->avail, 6 + 2 * QSIZE);

	for (unsigned i = 0; i < n; i++) {
		desc[i].addr = htole64(gpa[i]);
		desc[i].len = htole32((uint32_t)RANGE);
		desc[i].flags = htole16(VRING_DESC_F_WRITE | (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		desc[i].next = htole16((uint16_t)(i + 1));
	}
	av->ring[d->avail_idx % QSIZE] = 0;
	d->avail_idx++;
	__atomic_store_n(&av->idx, htole16(d->avail_idx), __ATOMIC_RELEASE);
	virtio_mmio_notify(d->t, 2);
}

static void touch(uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i += 4096)
		p[i] = 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	/* cppcheck-suppress uninitvar ; main fills v[0, n) of the larger array */
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 1024;
	unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 5;
	bool thp = argc > 3 ? strcmp(argv[3], "off") != 0 : true;
	if (mib < 64 || mib % 64 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: discard_bench [MiB, multiple of 64] [rounds 1-%d] [thp on|off]\n",
			MAX_ROUNDS);
		return 2;
	}
	uint64_t data = mib << 20, nr = data / RANGE;

	/* Guest RAM: the data area, then 2 MiB for the rings. */
	struct guest_mem gm;
	struct gm_options o = { .ram_bytes = data + RANGE, .backing = GM_BACKING_ANON,
				.discard = GM_DISCARD_DONTNEED, .thp = thp };
	if (gm_create(&gm, &o)) {
		perror("gm_create");
		return 1;
	}
	struct balloon_config bc = { .protocol = BALLOON_PROTO_VIRTIO, .no_stats = true };
	struct balloon_dev *b = balloon_create(&gm, &bc);
	struct drv d = { .gm = &gm, .t = virtio_mmio_create(&gm, &balloon_ops, b, 0xd0000000) };
	if (!b || !d.t || bringup(&d, data)) {
		fprintf(stderr, "discard_bench: device bring-up failed\n");
		return 1;
	}
	uint8_t *mem = gm_translate(&gm, 0, data);

	/* Scattered order: evens then odds, so neighbours in a request are
	 * 4 MiB apart and never merge. */
	uint64_t *scattered = malloc(nr * sizeof(uint64_t)), *adjacent = malloc(nr * sizeof(uint64_t));
	if (!scattered || !adjacent) {
		perror("discard_bench: malloc");
		free(scattered);
		free(adjacent);
		return 1;
	}
	for (uint64_t i = 0; i < nr; i++) {
		adjacent[i] = i * RANGE;
		scattered[i] = (i < nr / 2 ? 2 * i : 2 * (i - nr / 2) + 1) * RANGE;
	}

	char thp_mode[128] = "?";
	FILE *tf = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (tf) {
		if (!fgets(thp_mode, sizeof(thp_mode), tf))
			strcpy(thp_mode, "?");
		thp_mode[strcspn(thp_mode, "\n")] = 0;
		fclose(tf);
	}

	double raw[MAX_ROUNDS], sc[MAX_ROUNDS], adj[MAX_ROUNDS];
	uint64_t leftover = 0;
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t t0;

		touch(mem, data);
		t0 = mono_ns();
		for (uint64_t i = 0; i < nr; i++)
			madvise(mem + i * RANGE, RANGE, MADV_DONTNEED);
		raw[r] = (double)data / (mono_ns() - t0);	/* bytes/ns = GB/s */

		touch(mem, data);
		t0 = mono_ns();
		for (uint64_t i = 0; i < nr; i += PER_REQ)
			report(&d, scattered + i, (unsigned)(nr - i < PER_REQ ? nr - i : PER_REQ));
		sc[r] = (double)data / (mono_ns() - t0);
		leftover += (uint64_t)gm_resident_bytes(&gm);

		touch(mem, data);
		t0 = mono_ns();
		for (uint64_t i = 0; i < nr; i += PER_REQ)
			report(&d, adjacent + i, (unsigned)(nr - i < PER_REQ ? nr - i : PER_REQ));
		adj[r] = (double)data / (mono_ns() - t0);
		leftover += (uint64_t)gm_resident_bytes(&gm);
	}

	const struct balloon_counters *c = balloon_counters(b);
	double mraw = median(raw, rounds), msc = median(sc, rounds), madj = median(adj, rounds);
	double gib = 1e9 / (1ULL << 30);	/* GB/s -> GiB/s */
	printf("discard_bench: %llu MiB anonymous, THP %s (system: %s), %llu x 2 MiB ranges, "
	       "%u rounds, median\n", (unsigned long long)mib, thp ? "on" : "off", thp_mode,
	       (unsigned long long)nr, rounds);
	printf("  raw madvise(DONTNEED) per 2 MiB      %8.1f GiB/s  %7.2f us/range\n",
	       mraw * gib, RANGE / mraw / 1e3);
	printf("  device, 32 scattered ranges/request  %8.1f GiB/s  %7.2f us/range  %5.1f%% of raw\n",
	       msc * gib, RANGE / msc / 1e3, 100 * msc / mraw);
	printf("  device, 32 adjacent ranges/request   %8.1f GiB/s  %7.2f us/range  %5.1f%% of raw"
	       " (merged into 64 MiB discards)\n", madj * gib, RANGE / madj / 1e3, 100 * madj / mraw);
	printf("  device totals: %llu requests, %llu ranges, %llu discard calls, %.0f MiB discarded; "
	       "resident after device rounds: %llu MiB (ring page only)\n",
	       (unsigned long long)c->report_requests, (unsigned long long)c->report_ranges,
	       (unsigned long long)c->discard_calls, c->discarded_bytes / 1048576.0,
	       (unsigned long long)(leftover / (2 * rounds) >> 20));
	free(scattered);
	free(adjacent);
	if (c->bad_inputs || (virtio_mmio_status(d.t) & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		fprintf(stderr, "discard_bench: the device rejected input\n");
		return 1;
	}
	virtio_mmio_destroy(d.t);
	balloon_destroy(b);
	gm_destroy(&gm);
	return 0;
}
