/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: up to GM_MAX_REGIONS ranges of guest-physical addresses, each
 * backed by a host mapping. The VMM maps all RAM as one host mapping and
 * splits it around the MMIO hole below 4 GiB; tests build a guest_mem over
 * a calloc'd buffer with gm_init_buffer().
 *
 * gm_translate() is the only way from a guest-physical address to host
 * memory: it returns NULL unless [gpa, gpa+len) lies wholly inside one RAM
 * region, and every caller checks it.
 */
#ifndef VMM_GUEST_MEM_H
#define VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 4
#define GM_PAGE_SIZE 4096ULL
#define GM_HUGE_SIZE (2ULL << 20)

/* The hole for MMIO (IOAPIC, LAPIC, virtio-mmio) below 4 GiB. */
#define GM_LOW_RAM_END 0xC0000000ULL
#define GM_HIGH_RAM_BASE 0x100000000ULL

enum gm_backing { GM_BACKING_ANON, GM_BACKING_MEMFD, GM_BACKING_BUFFER };
enum gm_discard { GM_DISCARD_DONTNEED, GM_DISCARD_FREE, GM_DISCARD_PUNCH };

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	struct gm_region r[GM_MAX_REGIONS];
	unsigned nr;
	enum gm_backing backing;
	enum gm_discard discard;
	int fd;			/* memfd, or -1 */
	uint8_t *map;		/* the whole host mapping (for mincore, munmap) */
	size_t map_size;
	void *map_raw;		/* what mmap returned, before alignment */
	size_t map_raw_size;
	uint64_t ram_bytes;	/* sum of region sizes */
	int statm_fd;		/* /proc/self/statm (anon backing), or -1 */
	int64_t anon_other;	/* anon RSS that is not guest RAM, at the last calibration */
	bool calibrated;
};

struct gm_options {
	uint64_t ram_bytes;	/* multiple of 4 KiB */
	enum gm_backing backing;	/* ANON or MEMFD */
	enum gm_discard discard;
	bool thp;		/* madvise(MADV_HUGEPAGE) on the mapping */
	bool populate;		/* madvise(MADV_POPULATE_WRITE) up front */
};

/* Map guest RAM per opt, split at GM_LOW_RAM_END. 0 or -errno. */
int gm_create(struct guest_mem *gm, const struct gm_options *opt);
/* A single region [gpa, gpa+size) over caller-owned memory (tests). */
void gm_init_buffer(struct guest_mem *gm, void *buf, uint64_t gpa, uint64_t size);
/* Add one more caller-owned region; false if full or it overlaps. */
bool gm_add_region(struct guest_mem *gm, void *buf, uint64_t gpa, uint64_t size);
void gm_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len), or NULL unless it is wholly inside one
 * region. len 0 asks only that gpa be inside a region. Overflow-safe. */
void *gm_translate(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Give [gpa, gpa+len) back to the host with the configured backend. The
 * range must translate and be 4 KiB aligned. 0 or -errno; nothing is
 * touched on error. */
int gm_discard(struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Same, on a host range of a mapping the caller knows (bench, tests):
 * fd/offset used only for PUNCH. */
int gm_discard_host(enum gm_discard how, void *host, uint64_t len, int fd, uint64_t offset);

/* Bytes of guest RAM resident on the host now (mincore over the mapping,
 * O(guest RAM)); -1 for a buffer-backed guest_mem. With anon backing it
 * also calibrates gm_resident_fast() when the process's anon RSS held still
 * during the scan. Not thread-safe against itself. */
int64_t gm_resident_bytes(struct guest_mem *gm);

/* The same figure in O(1): memfd, the file's allocated blocks (exact);
 * anon, the process's anon RSS (/proc/self/statm) minus what was not guest
 * RAM at the last calibration (docs/vmm.md, "Telemetry", has its error).
 * -1 for a buffer-backed or never calibrated guest_mem, or on error. */
int64_t gm_resident_fast(struct guest_mem *gm);

/* The process's anon RSS in bytes (/proc/self/statm: resident - shared),
 * or -1. */
int64_t gm_anon_rss(struct guest_mem *gm);

const char *gm_discard_name(enum gm_discard d);

#endif
