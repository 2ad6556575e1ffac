/* SPDX-License-Identifier: MIT */
/*
 * Memory back through the exitless map vs raw madvise(MADV_DONTNEED), on
 * the same THP-backed anonymous memory, in one run. No KVM: a hand-built
 * map queue attaches a map (core/exitless.c's guest side) to the real
 * device (vmm/virtio_mmio.c, vmm/balloon.c, vmm/balloon_exitless.c), and
 * the device's own scanner thread reclaims what the "guest" marks FREE.
 *
 *   build/bench/micro/exitless_bench [MiB] [rounds] [thp on|off]
 *
 * Each round first touches every page of the frames (not timed), then
 * times:
 *   raw       one madvise(MADV_DONTNEED) per 2 MiB frame
 *   raw-one   one madvise over the whole range
 *   exitless  from the guest's first FREE mark to the scanner's last
 *             RECLAIMED: marking every frame (one free_gen bump each), the
 *             scanner's poll latency (it is idle, polling every 8 ms, when
 *             the round starts), its 32 MiB discard runs, the publishes
 * then takes every frame back (RECLAIMED -> USED, as an allocation does).
 * Reports the median over rounds and the resident memory left.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "balloon.h"
#include "exitless.h"
#include "guest_mem.h"
#include "virtio_defs.h"
#include "virtio_mmio.h"
#include "vmm_driver.h"
#include "clock.h"

#define FRAME (2ULL << 20)
#define FIRST 2			/* frames 0-1 hold the ring and the map */
#define QSIZE 8
#define MAX_ROUNDS 64
#define RING_GPA 0x1000ULL
#define DESC_GPA 0x10000ULL
#define STATUS_GPA 0x10040ULL
#define MAP_GPA 0x11000ULL

static struct virtio_mmio_dev *t;
static void wr(uint64_t off, uint32_t v) { virtio_mmio_write(t, off, 4, v); }
static uint32_t rd(uint64_t off) { return virtio_mmio_read(t, off, 4); }

/* VERSION_1 + bit 23 only: the map queue is queue 2. One chain on it. */
static int attach(struct guest_mem *gm, uint64_t nr_frames)
{
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << PH_VIRTIO_BALLOON_F_PH_EXITLESS);
	uint64_t desc = RING_GPA, avail = desc + 16 * QSIZE, used = (avail + 6 + 2 * QSIZE + 3) & ~3ULL;
	struct vring_desc *d = gm_translate(gm, desc, 16 * QSIZE);
	struct vring_avail *a = gm_translate(gm, avail, 6 + 2 * QSIZE);
	struct vring_used *u = gm_translate(gm, used, 6 + 8 * QSIZE);
	struct ph_exitless_map_desc md = {
		.magic = htole32(PH_XL_MAP_MAGIC), .version = htole32(PH_XL_MAP_VERSION),
		.map_gpa = htole64(MAP_GPA), .first_frame = 0,
		.nr_frames = htole32((uint32_t)nr_frames), .entry_bytes = htole32(1),
	};
	uint8_t *status = gm_translate(gm, STATUS_GPA, 1);

	if (!bench_negotiate(t, f))
		return -1;
	bench_queue(t, 2, QSIZE, desc, avail, used);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);

	memcpy(gm_translate(gm, DESC_GPA, sizeof(md)), &md, sizeof(md));
	*status = 0xee;
	d[0] = (struct vring_desc){ htole64(DESC_GPA), htole32(32), htole16(VRING_DESC_F_NEXT), htole16(1) };
	d[1] = (struct vring_desc){ htole64(STATUS_GPA), htole32(1), htole16(VRING_DESC_F_WRITE), 0 };
	a->ring[0] = 0;
	__atomic_store_n(&a->idx, htole16(1), __ATOMIC_RELEASE);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	return le16toh(u->idx) == 1 && *status == PH_XL_MAP_OK ? 0 : -1;
}

static void touch(uint8_t *p, uint64_t len)
{
	for (uint64_t o = 0; o < len; o += 4096)
		p[o] = 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	/* cppcheck-suppress uninitvar ; main fills v[0, n) of the larger array */
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 1536;
	unsigned rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
	bool thp = !(argc > 3 && !strcmp(argv[3], "off"));
	struct guest_mem gm;

	if (mib < 2 || mib % 2 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: exitless_bench [MiB, even] [rounds <= %d] [thp on|off]\n",
			MAX_ROUNDS);
		return 2;
	}
	uint64_t nframes = mib / 2, total = FIRST + nframes;
	struct gm_options o = { .ram_bytes = total * FRAME, .backing = GM_BACKING_ANON,
				.discard = GM_DISCARD_DONTNEED, .thp = thp };
	if (gm_create(&gm, &o)) {
		perror("gm_create");
		return 1;
	}
	struct balloon_config bc = { .no_stats = true, .no_reporting = true };
	struct balloon_dev *b = balloon_create(&gm, &bc);
	t = b ? virtio_mmio_create(&gm, &balloon_ops, b, 0xd0000000) : NULL;
	if (!t || attach(&gm, total)) {
		fprintf(stderr, "exitless_bench: the device did not accept the map\n");
		return 1;
	}
	struct ph_xl_map map;
	size_t mlen = ph_xl_mem_bytes(0, total << PH_XL_FRAME_ORDER);
	/* the device attached to this memory: the guest's view of it */
	ph_xl_init(&map, gm_translate(&gm, MAP_GPA, mlen), mlen, 0, total << PH_XL_FRAME_ORDER);
	const struct xl_counters *xc = &balloon_counters(b)->xl;
	uint8_t *base = gm_translate(&gm, FIRST * FRAME, nframes * FRAME);
	double raw[MAX_ROUNDS], one[MAX_ROUNDS], xl[MAX_ROUNDS], calls[MAX_ROUNDS];
	int64_t left = 0;

	for (unsigned r = 0; r < rounds; r++) {
		touch(base, nframes * FRAME);
		uint64_t t0 = mono_ns();
		for (uint64_t i = 0; i < nframes; i++)
			madvise(base + i * FRAME, FRAME, MADV_DONTNEED);
		raw[r] = (mono_ns() - t0) / 1e6;

		touch(base, nframes * FRAME);
		t0 = mono_ns();
		madvise(base, nframes * FRAME, MADV_DONTNEED);
		one[r] = (mono_ns() - t0) / 1e6;

		touch(base, nframes * FRAME);
		usleep(50 * 1000);	/* the scanner is idle (8 ms polls) */
		unsigned long rec0 = atomic_load(&xc->reclaimed_frames);
		unsigned long calls0 = atomic_load(&xc->discard_calls);
		t0 = mono_ns();
		for (uint64_t i = 0; i < nframes; i++)
			ph_xl_guest_mark_free(&map, (FIRST + i) << PH_XL_FRAME_ORDER, PH_XL_FRAME_ORDER);
		while (atomic_load(&xc->reclaimed_frames) - rec0 < nframes)
			usleep(50);
		xl[r] = (mono_ns() - t0) / 1e6;
		calls[r] = (double)(atomic_load(&xc->discard_calls) - calls0);
		left = gm_resident_bytes(&gm);
		/* the guest allocates it all again */
		for (uint64_t i = 0; i < nframes; i++)
			ph_xl_guest_take(&map, (FIRST + i) << PH_XL_FRAME_ORDER, PH_XL_FRAME_ORDER,
					 1000000000ull);
	}
	printf("exitless_bench: %llu MiB in 2 MiB frames, THP %s, %u rounds (median ms)\n",
	       (unsigned long long)mib, thp ? "on" : "off", rounds);
	double m_raw = median(raw, rounds), m_one = median(one, rounds), m_xl = median(xl, rounds);
	printf("  raw madvise per frame   %9.2f ms  %8.1f GiB/s\n", m_raw, mib / 1024.0 / (m_raw / 1e3));
	printf("  raw madvise one call    %9.2f ms  %8.1f GiB/s\n", m_one, mib / 1024.0 / (m_one / 1e3));
	printf("  exitless scanner        %9.2f ms  %8.1f GiB/s  (%.0f discard calls, %.2fx raw per "
	       "frame, raw + %.1f ms)\n", m_xl, mib / 1024.0 / (m_xl / 1e3), median(calls, rounds),
	       m_xl / m_raw, m_xl - m_raw);
	printf("  resident after the last exitless round: %.1f MiB (of %llu)\n", left / 1048576.0,
	       (unsigned long long)total * 2);
	virtio_mmio_destroy(t);
	balloon_destroy(b);
	gm_destroy(&gm);
	return 0;
}
