/* SPDX-License-Identifier: MIT */
/*
 * The physical limit: how fast this host can drop memory at all. The same
 * amount of memory the reclaim scenario frees, anonymous, THP-backed
 * (MADV_HUGEPAGE) like guest RAM, every page touched (not timed), then
 * one madvise(MADV_DONTNEED) per 2 MiB range, timed.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench_int.h"
#include "clock.h"

#define RANGE (2ULL << 20)

double bench_limit_madvise_gib_s(uint64_t mib)
{
	size_t len = (size_t)mib << 20;
	if (!len)
		return -1;
	/* THP-aligned: map one range more and start at a 2 MiB boundary. */
	uint8_t *raw = mmap(NULL, len + RANGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	if (raw == MAP_FAILED)
		return -1;
	uint8_t *p = (uint8_t *)(((uintptr_t)raw + RANGE - 1) & ~(uintptr_t)(RANGE - 1));
	madvise(p, len, MADV_HUGEPAGE);
	long pg = sysconf(_SC_PAGESIZE);
	for (size_t off = 0; off < len; off += (size_t)pg)
		p[off] = 1;

	double t0 = mono_s();
	for (size_t off = 0; off < len; off += RANGE)
		if (madvise(p + off, len - off < RANGE ? len - off : RANGE, MADV_DONTNEED)) {
			munmap(raw, len + RANGE);
			return -1;
		}
	double dt = mono_s() - t0;
	munmap(raw, len + RANGE);
	return dt > 0 ? (double)len / (1024.0 * 1024.0 * 1024.0) / dt : -1;
}
