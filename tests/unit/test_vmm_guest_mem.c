/* SPDX-License-Identifier: MIT */
/* Guest memory (vmm/guest_mem.c): translate is overflow-safe and exact at
 * region edges; RAM splits around the MMIO hole; each discard backend
 * really returns the pages (mincore) and they read back as zero. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"
#include "log.h"

#define MiB (1ULL << 20)

static void translate_bounds(void **state)
{
	(void)state;
	static uint8_t buf[64 * 1024], hi[8192];
	struct guest_mem gm;
	gm_init_buffer(&gm, buf, 0x1000, sizeof(buf));
	assert_true(gm_add_region(&gm, hi, 0x100000000ULL, sizeof(hi)));
	assert_ptr_equal(gm_translate(&gm, 0x1000, 16), buf);
	assert_ptr_equal(gm_translate(&gm, 0x1000 + sizeof(buf) - 1, 1), buf + sizeof(buf) - 1);
	assert_null(gm_translate(&gm, 0x1000 + sizeof(buf), 1));
	assert_null(gm_translate(&gm, 0x1000 + sizeof(buf) - 1, 2));
	assert_null(gm_translate(&gm, 0xfff, 2));
	assert_null(gm_translate(&gm, 0, 1));
	assert_null(gm_translate(&gm, 0x1000, UINT64_MAX));
	assert_null(gm_translate(&gm, UINT64_MAX, 2));
	assert_null(gm_translate(&gm, UINT64_MAX - 0xfff, 0x2000));
	assert_ptr_equal(gm_translate(&gm, 0x100000000ULL + 4096, 4096), hi + 4096);
	/* Not across the gap between regions. */
	assert_null(gm_translate(&gm, 0x1000 + sizeof(buf) - 8, 0x100000000ULL));
	/* Overlapping region refused. */
	assert_false(gm_add_region(&gm, hi, 0x2000, 16));
}

static void create_splits_around_hole(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct gm_options o = { .ram_bytes = GM_LOW_RAM_END + 64 * MiB,
				.backing = GM_BACKING_ANON, .thp = true };
	assert_int_equal(gm_create(&gm, &o), 0);
	assert_int_equal(gm.nr, 2);
	assert_int_equal(gm.r[0].gpa, 0);
	assert_int_equal(gm.r[0].size, GM_LOW_RAM_END);
	assert_int_equal(gm.r[1].gpa, GM_HIGH_RAM_BASE);
	assert_int_equal(gm.r[1].size, 64 * MiB);
	assert_int_equal(gm.ram_bytes, o.ram_bytes);
	assert_int_equal((uintptr_t)gm.map % GM_HUGE_SIZE, 0);
	assert_null(gm_translate(&gm, GM_LOW_RAM_END, 1));	/* the hole */
	assert_non_null(gm_translate(&gm, GM_HIGH_RAM_BASE + 64 * MiB - 1, 1));
	assert_int_equal(gm_resident_bytes(&gm), 0);
	gm_destroy(&gm);

	o.ram_bytes = 64 * MiB;
	assert_int_equal(gm_create(&gm, &o), 0);
	assert_int_equal(gm.nr, 1);
	gm_destroy(&gm);
	o.ram_bytes = 4097;
	assert_int_not_equal(gm_create(&gm, &o), 0);
}

static void touch(uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i += 4096)
		p[i] = 0xa5;
}

static void check_discard(enum gm_backing backing, enum gm_discard how, bool expect_gone)
{
	struct guest_mem gm;
	struct gm_options o = { .ram_bytes = 16 * MiB, .backing = backing, .discard = how,
				.thp = true };
	assert_int_equal(gm_create(&gm, &o), 0);
	uint8_t *p = gm_translate(&gm, 0, 16 * MiB);
	assert_non_null(p);
	touch(p, 16 * MiB);
	assert_int_equal(gm_resident_bytes(&gm), 16 * MiB);
	assert_int_equal(gm_discard(&gm, 4 * MiB, 8 * MiB), 0);
	if (expect_gone) {
		assert_int_equal(gm_resident_bytes(&gm), 8 * MiB);
		for (uint64_t i = 4 * MiB; i < 12 * MiB; i += 4096)
			assert_int_equal(p[i], 0);
	}
	/* Outside the range: untouched. */
	assert_int_equal(p[4 * MiB - 4096], 0xa5);
	assert_int_equal(p[12 * MiB], 0xa5);
	/* Bad ranges are refused and touch nothing. */
	assert_int_not_equal(gm_discard(&gm, 4 * MiB + 1, 4096), 0);
	assert_int_not_equal(gm_discard(&gm, 0, 4097), 0);
	assert_int_not_equal(gm_discard(&gm, 12 * MiB, 8 * MiB), 0);
	assert_int_equal(p[12 * MiB], 0xa5);
	gm_destroy(&gm);
}

static void discard_dontneed_anon(void **state) { (void)state; check_discard(GM_BACKING_ANON, GM_DISCARD_DONTNEED, true); }
static void discard_punch_memfd(void **state) { (void)state; check_discard(GM_BACKING_MEMFD, GM_DISCARD_PUNCH, true); }
/* MADV_FREE frees lazily, under memory pressure: it must succeed and keep
 * the mapping usable; whether pages left at once is up to the kernel. */
static void discard_free_anon(void **state) { (void)state; check_discard(GM_BACKING_ANON, GM_DISCARD_FREE, false); }

static void punch_needs_fd(void **state)
{
	(void)state;
	uint8_t *p = mmap(NULL, 1 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_not_equal(gm_discard_host(GM_DISCARD_PUNCH, p, 4096, -1, 0), 0);
	munmap(p, 1 * MiB);
}

/* gm_resident_fast() against mincore as memory is touched and discarded;
 * anon: within slack, as other anon memory of the process moves too (here
 * ASan's shadow: 1/8 of what the test touches). */
static void check_fast(enum gm_backing backing, enum gm_discard how, int64_t slack)
{
	struct guest_mem gm;
	struct gm_options o = { .ram_bytes = 64 * MiB, .backing = backing, .discard = how,
				.thp = true };
	assert_int_equal(gm_create(&gm, &o), 0);
	if (backing == GM_BACKING_ANON)
		assert_int_equal(gm_resident_fast(&gm), -1);	/* not calibrated */
	assert_int_equal(gm_resident_bytes(&gm), 0);
	assert_true(llabs(gm_resident_fast(&gm)) <= slack);
	uint8_t *p = gm_translate(&gm, 0, 64 * MiB);
	touch(p, 32 * MiB);
	assert_true(llabs(gm_resident_fast(&gm) - 32 * (int64_t)MiB) <= slack);
	assert_int_equal(gm_discard(&gm, 8 * MiB, 16 * MiB), 0);
	assert_true(llabs(gm_resident_fast(&gm) - 16 * (int64_t)MiB) <= slack);
	assert_int_equal(gm_resident_bytes(&gm), 16 * MiB);
	gm_destroy(&gm);
}

static void fast_resident_anon(void **state) { (void)state; check_fast(GM_BACKING_ANON, GM_DISCARD_DONTNEED, 1 * MiB + 32 * MiB / 8); }
static void fast_resident_memfd(void **state) { (void)state; check_fast(GM_BACKING_MEMFD, GM_DISCARD_PUNCH, 0); }

static void buffer_memory_is_never_discarded(void **state)
{
	(void)state;
	static uint8_t buf[16384];
	struct guest_mem gm;
	memset(buf, 0x5a, sizeof(buf));
	gm_init_buffer(&gm, buf, 0, sizeof(buf));
	assert_int_not_equal(gm_discard(&gm, 0, 4096), 0);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(gm_resident_bytes(&gm), -1);
	assert_int_equal(gm_resident_fast(&gm), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(translate_bounds),
		cmocka_unit_test(create_splits_around_hole),
		cmocka_unit_test(discard_dontneed_anon),
		cmocka_unit_test(discard_punch_memfd),
		cmocka_unit_test(discard_free_anon),
		cmocka_unit_test(punch_needs_fd),
		cmocka_unit_test(fast_resident_anon),
		cmocka_unit_test(fast_resident_memfd),
		cmocka_unit_test(buffer_memory_is_never_discarded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
