/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_mem.h"
#include "log.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* mincore() is called per chunk with a small vector on the stack: no
 * vector the size of guest RAM (4 MiB of host memory per 16 GiB). */
#define MINCORE_CHUNK_PAGES 16384
/* A calibration is kept only if anon RSS moved less than this during its
 * scan: else guest RAM was moving and the scan saw some point in between. */
#define CALIBRATE_SLACK (256ULL << 10)

void gm_init_buffer(struct guest_mem *gm, void *buf, uint64_t gpa, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	gm->statm_fd = -1;
	gm->backing = GM_BACKING_BUFFER;
	gm->discard = GM_DISCARD_DONTNEED;
	gm_add_region(gm, buf, gpa, size);
}

bool gm_add_region(struct guest_mem *gm, void *buf, uint64_t gpa, uint64_t size)
{
	if (gm->nr == GM_MAX_REGIONS || size == 0 || gpa + size < gpa)
		return false;
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return false;
	}
	gm->r[gm->nr++] = (struct gm_region){ .gpa = gpa, .size = size, .host = buf };
	gm->ram_bytes += size;
	return true;
}

void *gm_translate(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		/* off < size, then len <= size - off: no sum can overflow. */
		if (off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

int gm_create(struct guest_mem *gm, const struct gm_options *opt)
{
	uint64_t size = opt->ram_bytes;
	int err;

	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	gm->statm_fd = -1;
	gm->backing = opt->backing;
	gm->discard = opt->discard;
	if (size == 0 || size % GM_PAGE_SIZE)
		return -EINVAL;

	/* Reserve 2 MiB extra so RAM can start on a huge page boundary:
	 * guest 2 MiB frames then line up with host THPs. */
	gm->map_raw_size = size + GM_HUGE_SIZE;
	gm->map_raw = mmap(NULL, gm->map_raw_size, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (gm->map_raw == MAP_FAILED) {
		gm->map_raw = NULL;
		return -errno;
	}
	uintptr_t aligned = ((uintptr_t)gm->map_raw + GM_HUGE_SIZE - 1) & ~(uintptr_t)(GM_HUGE_SIZE - 1);
	void *want = (void *)aligned, *got;

	if (opt->backing == GM_BACKING_MEMFD) {
		gm->fd = memfd_create("pagehint-ram", MFD_CLOEXEC);
		if (gm->fd < 0 || ftruncate(gm->fd, (off_t)size) < 0) {
			err = -errno;
			goto fail;
		}
		got = mmap(want, size, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_FIXED | MAP_NORESERVE, gm->fd, 0);
	} else {
		got = mmap(want, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	}
	if (got == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	gm->map = got;
	gm->map_size = size;
	if (opt->thp && madvise(gm->map, size, MADV_HUGEPAGE) < 0)
		vmm_log("warning: madvise(MADV_HUGEPAGE) on guest RAM: %s", strerror(errno));
	if (opt->populate && madvise(gm->map, size, MADV_POPULATE_WRITE) < 0)
		vmm_log("warning: madvise(MADV_POPULATE_WRITE) on guest RAM: %s", strerror(errno));

	if (opt->backing == GM_BACKING_ANON)
		gm->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	uint64_t low = size < GM_LOW_RAM_END ? size : GM_LOW_RAM_END;
	gm_add_region(gm, gm->map, 0, low);
	if (size > low)
		gm_add_region(gm, gm->map + low, GM_HIGH_RAM_BASE, size - low);
	return 0;

fail:
	gm_destroy(gm);
	return err;
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->map_raw)
		munmap(gm->map_raw, gm->map_raw_size);
	if (gm->fd >= 0)
		close(gm->fd);
	if (gm->statm_fd >= 0)
		close(gm->statm_fd);
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	gm->statm_fd = -1;
}

int gm_discard_host(enum gm_discard how, void *host, uint64_t len, int fd, uint64_t offset)
{
	int r;

	switch (how) {
	case GM_DISCARD_DONTNEED:
		r = madvise(host, len, MADV_DONTNEED);
		break;
	case GM_DISCARD_FREE:
		r = madvise(host, len, MADV_FREE);
		break;
	case GM_DISCARD_PUNCH:
		if (fd < 0)
			return -EBADF;
		r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)offset, (off_t)len);
		break;
	default:
		return -EINVAL;
	}
	return r < 0 ? -errno : 0;
}

int gm_discard(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint8_t *host;

	if ((gpa | len) & (GM_PAGE_SIZE - 1))
		return -EINVAL;
	host = gm_translate(gm, gpa, len);
	if (!host || len == 0)
		return -EFAULT;
	if (gm->backing == GM_BACKING_BUFFER)
		return -EOPNOTSUPP;
	return gm_discard_host(gm->discard, host, len, gm->fd, (uint64_t)(host - gm->map));
}

/* Pages marked resident in vec[0..n): 8 bytes at a time. */
static size_t count_resident(const unsigned char *vec, size_t n)
{
	size_t c = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, vec + i, 8);
		/* each byte 0 or 1: the multiply sums them into the top byte */
		c += (size_t)(((w & 0x0101010101010101ull) * 0x0101010101010101ull) >> 56);
	}
	for (; i < n; i++)
		c += vec[i] & 1;
	return c;
}

int64_t gm_anon_rss(struct guest_mem *gm)
{
	char buf[128];
	unsigned long long size, res, shared;

	if (gm->statm_fd < 0)
		return -1;
	ssize_t n = pread(gm->statm_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu %llu", &size, &res, &shared) != 3 || shared > res)
		return -1;
	return (int64_t)((res - shared) * (unsigned long long)sysconf(_SC_PAGESIZE));
}

int64_t gm_resident_bytes(struct guest_mem *gm)
{
	unsigned char vec[MINCORE_CHUNK_PAGES];
	size_t pages = gm->map_size / GM_PAGE_SIZE, n = 0;

	if (!gm->map)
		return -1;
	int64_t before = gm_anon_rss(gm);
	for (size_t p = 0; p < pages; p += MINCORE_CHUNK_PAGES) {
		size_t k = pages - p < MINCORE_CHUNK_PAGES ? pages - p : MINCORE_CHUNK_PAGES;
		if (mincore(gm->map + p * GM_PAGE_SIZE, k * GM_PAGE_SIZE, vec) < 0)
			return -1;
		n += count_resident(vec, k);
	}
	int64_t bytes = (int64_t)(n * GM_PAGE_SIZE), after = gm_anon_rss(gm);
	if (before >= 0 && after >= 0 && (uint64_t)llabs(after - before) < CALIBRATE_SLACK) {
		gm->anon_other = after - bytes;
		gm->calibrated = true;
	}
	return bytes;
}

int64_t gm_resident_fast(struct guest_mem *gm)
{
	if (gm->backing == GM_BACKING_MEMFD) {
		struct stat st;
		if (gm->fd < 0 || fstat(gm->fd, &st) < 0)
			return -1;
		return (int64_t)st.st_blocks * 512;
	}
	if (gm->backing != GM_BACKING_ANON || !gm->calibrated)
		return -1;
	int64_t anon = gm_anon_rss(gm);
	if (anon < 0)
		return -1;
	int64_t r = anon - gm->anon_other;
	/* Other anon memory freed since the calibration can't make guest
	 * RAM negative or larger than itself. */
	if (r < 0)
		return 0;
	return r > (int64_t)gm->map_size ? (int64_t)gm->map_size : r;
}

const char *gm_discard_name(enum gm_discard d)
{
	switch (d) {
	case GM_DISCARD_DONTNEED: return "dontneed";
	case GM_DISCARD_FREE: return "free";
	case GM_DISCARD_PUNCH: return "punch";
	}
	return "?";
}
