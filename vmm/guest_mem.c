/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"
#include "log.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void gm_init_buffer(struct guest_mem *gm, void *buf, uint64_t gpa, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
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

	gm->mincore_vec = malloc(size / GM_PAGE_SIZE);
	if (!gm->mincore_vec) {
		err = -ENOMEM;
		goto fail;
	}

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
	free(gm->mincore_vec);
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
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

int64_t gm_resident_bytes(struct guest_mem *gm)
{
	size_t pages = gm->map_size / GM_PAGE_SIZE, n = 0;

	if (!gm->map || !gm->mincore_vec)
		return -1;
	if (mincore(gm->map, gm->map_size, gm->mincore_vec) < 0)
		return -1;
	for (size_t i = 0; i < pages; i++)
		n += gm->mincore_vec[i] & 1;
	return (int64_t)(n * GM_PAGE_SIZE);
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
