/* SPDX-License-Identifier: MIT */
/* The virtio-balloon device (vmm/balloon.c) behind the virtio-mmio
 * transport: queue numbering, free page reporting with merging, the
 * seed-v8 hinting queue, inflate/deflate, stats, and every bad descriptor
 * case: not acted on, logged, DEVICE_NEEDS_RESET, no crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_vmm_driver.h"

#define RQ 3		/* reporting queue with stats negotiated */
#define MiB (1u << 20)

static int setup(void **state)
{
	struct t_dev *d = t_dev_new(NULL);
	t_bringup(d, T_FEAT_DEFAULT, 32);
	*state = d;
	return 0;
}

static int setup_indirect(void **state)
{
	struct t_dev *d = t_dev_new(NULL);
	t_bringup(d, T_FEAT_DEFAULT | T_F(VIRTIO_RING_F_INDIRECT_DESC), 32);
	*state = d;
	return 0;
}

static int setup_seed(void **state)
{
	struct balloon_config cfg = { .protocol = BALLOON_PROTO_SEED_V8 };
	struct t_dev *d = t_dev_new(&cfg);
	t_bringup(d, T_FEAT_DEFAULT, 32);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	t_dev_free(*state);
	return 0;
}

/* ---- queue numbering ---------------------------------------------------- */

static void numbering_with_stats_and_reporting(void **state)
{
	struct t_dev *d = *state;
	assert_int_equal(balloon_queue_role(d->b, 0), BQ_INFLATE);
	assert_int_equal(balloon_queue_role(d->b, 1), BQ_DEFLATE);
	assert_int_equal(balloon_queue_role(d->b, 2), BQ_STATS);
	assert_int_equal(balloon_queue_role(d->b, 3), BQ_REPORT);
	assert_int_equal(balloon_queue_role(d->b, 4), BQ_NONE);
}

static void numbering_without_stats(void **state)
{
	struct t_dev *d = *state;
	t_bringup(d, T_F(VIRTIO_F_VERSION_1) | T_F(VIRTIO_BALLOON_F_REPORTING), 32);
	assert_int_equal(balloon_queue_role(d->b, 2), BQ_REPORT);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 3);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	/* And it works there. */
	uint64_t a = T_DATA_BASE;
	uint32_t l = 2 * MiB;
	t_add_ranges(d, 2, &a, &l, 1, true);
	t_kick(d, 2);
	assert_int_equal(t_used_idx(d, 2), 1);
	assert_int_equal(d->ndiscards, 1);
}

static void numbering_without_reporting(void **state)
{
	struct t_dev *d = *state;
	t_bringup(d, T_F(VIRTIO_F_VERSION_1) | T_F(VIRTIO_BALLOON_F_STATS_VQ), 32);
	assert_int_equal(balloon_queue_role(d->b, 2), BQ_STATS);
	assert_int_equal(balloon_queue_role(d->b, 3), BQ_NONE);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 3);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void device_without_reporting_offers_nothing(void **state)
{
	(void)state;
	struct balloon_config cfg = { .no_reporting = true, .no_stats = true };
	struct t_dev *d = t_dev_new(&cfg);
	uint64_t f = t_device_features(d);
	assert_false(f & T_F(VIRTIO_BALLOON_F_REPORTING));
	assert_false(f & T_F(VIRTIO_BALLOON_F_STATS_VQ));
	t_dev_free(d);
}

/* ---- free page reporting ------------------------------------------------ */

static void report_discards_and_returns_len_0(void **state)
{
	struct t_dev *d = *state;
	uint64_t a[] = { T_DATA_BASE };
	uint32_t l[] = { 2 * MiB };
	uint16_t head = t_add_ranges(d, RQ, a, l, 1, true);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 1);
	struct vring_used_elem e = t_used_elem(d, RQ, 0);
	assert_int_equal(e.id, head);
	assert_int_equal(e.len, 0);
	assert_int_equal(d->ndiscards, 1);
	assert_int_equal(d->discards[0].gpa, T_DATA_BASE);
	assert_int_equal(d->discards[0].len, 2 * MiB);
	const struct balloon_counters *c = balloon_counters(d->b);
	assert_int_equal(c->report_requests, 1);
	assert_int_equal(c->report_ranges, 1);
	assert_int_equal(c->reported_bytes, 2 * MiB);
	assert_int_equal(c->discarded_bytes, 2 * MiB);
	assert_false(t_needs_reset(d));
}

/* Each chain returned is one latency; a chain popped and not returned
 * (a bad ring) is none. */
static void report_latency_counts_returned_chains(void **state)
{
	struct t_dev *d = *state;
	uint64_t a1 = 1 * MiB, a2 = 3 * MiB, bad = T_MEM_SIZE;
	uint32_t l = 2 * MiB;
	struct lat_hist_snap h;

	lat_hist_read(&balloon_counters(d->b)->report_latency, &h);
	assert_int_equal(h.count, 0);
	t_add_ranges(d, RQ, &a1, &l, 1, true);
	t_add_ranges(d, RQ, &a2, &l, 1, true);
	t_kick(d, RQ);
	lat_hist_read(&balloon_counters(d->b)->report_latency, &h);
	assert_int_equal(h.count, 2);
	assert_true(h.max_ns <= h.sum_ns);
	/* a request whose only range is refused still comes back: counted */
	t_add_ranges(d, RQ, &bad, &l, 1, true);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 3);
	lat_hist_read(&balloon_counters(d->b)->report_latency, &h);
	assert_int_equal(h.count, 3);
}

static void adjacent_ranges_merge_into_one_discard(void **state)
{
	struct t_dev *d = *state;
	/* [1M,3M) [3M,5M) [5M,7M) are adjacent; [9M,11M) is not. */
	uint64_t a[] = { 1 * MiB, 3 * MiB, 5 * MiB, 9 * MiB };
	uint32_t l[] = { 2 * MiB, 2 * MiB, 2 * MiB, 2 * MiB };
	t_add_ranges(d, RQ, a, l, 4, true);
	t_kick(d, RQ);
	assert_int_equal(d->ndiscards, 2);
	assert_int_equal(d->discards[0].gpa, 1 * MiB);
	assert_int_equal(d->discards[0].len, 6 * MiB);
	assert_int_equal(d->discards[1].gpa, 9 * MiB);
	assert_int_equal(d->discards[1].len, 2 * MiB);
	assert_int_equal(balloon_counters(d->b)->report_ranges, 4);
}

static void ranges_of_separate_requests_do_not_merge(void **state)
{
	struct t_dev *d = *state;
	uint64_t a1 = 1 * MiB, a2 = 3 * MiB;
	uint32_t l = 2 * MiB;
	t_add_ranges(d, RQ, &a1, &l, 1, true);
	t_add_ranges(d, RQ, &a2, &l, 1, true);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 2);
	assert_int_equal(d->ndiscards, 2);
}

static void full_request_of_32_ranges(void **state)
{
	struct t_dev *d = *state;
	uint64_t a[32];
	uint32_t l[32];
	for (int i = 0; i < 32; i++) {
		a[i] = 0x200000 + (uint64_t)i * 0x8000 * 2;	/* every other 32K */
		l[i] = 0x8000;
	}
	t_add_ranges(d, RQ, a, l, 32, true);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_int_equal(d->ndiscards, 32);
}

/* One bad range in a request: it alone is skipped, the rest is discarded,
 * the chain comes back, the device needs reset, one log line. */
static void check_bad_range(struct t_dev *d, uint64_t bad_a, uint32_t bad_l, bool writable,
			    enum balloon_err kind)
{
	uint64_t a[] = { 1 * MiB, bad_a, 8 * MiB };
	uint32_t l[] = { 4096, bad_l, 4096 };
	struct t_queue *q = &d->q[RQ];
	uint16_t first = q->next_desc % q->num;
	for (unsigned i = 0; i < 3; i++) {
		uint16_t flags = ((i == 1 ? writable : true) ? VRING_DESC_F_WRITE : 0) |
				 (i < 2 ? VRING_DESC_F_NEXT : 0);
		/* A readable buffer among writable ones breaks ring order,
		 * so the direction case uses a chain of its own. */
		t_put_desc(d, RQ, a[i], l[i], flags, (uint16_t)((first + i + 1) % q->num));
	}
	t_publish(d, RQ, first);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_int_equal(d->ndiscards, 2);
	for (unsigned i = 0; i < d->ndiscards; i++)
		assert_int_not_equal(d->discards[i].gpa, bad_a);
	assert_true(t_needs_reset(d));
	assert_int_equal(balloon_error_count(d->b, kind), 1);
	assert_int_equal(balloon_counters(d->b)->report_ranges, 2);
}

static void bad_range_outside_ram(void **state)
{
	check_bad_range(*state, T_MEM_SIZE, 4096, true, BAL_ERR_OUTSIDE);
}

static void bad_range_straddles_end_of_ram(void **state)
{
	check_bad_range(*state, T_MEM_SIZE - 4096, 8192, true, BAL_ERR_OUTSIDE);
}

static void bad_range_misaligned_address(void **state)
{
	check_bad_range(*state, 2 * MiB + 512, 4096, true, BAL_ERR_ALIGN);
}

static void bad_range_misaligned_length(void **state)
{
	check_bad_range(*state, 2 * MiB, 4096 + 1, true, BAL_ERR_ALIGN);
}

static void bad_range_zero_length(void **state)
{
	check_bad_range(*state, 2 * MiB, 0, true, BAL_ERR_ALIGN);
}

static void bad_range_overflows(void **state)
{
	check_bad_range(*state, 0xfffffffffffff000ULL, 0x2000, true, BAL_ERR_OVERFLOW);
}

static void bad_range_readable_buffer(void **state)
{
	struct t_dev *d = *state;
	uint64_t a = 2 * MiB;
	uint32_t l = 4096;
	t_add_ranges(d, RQ, &a, &l, 1, false);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_int_equal(d->ndiscards, 0);
	assert_true(t_needs_reset(d));
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_DIRECTION), 1);
}

static void bad_ranges_logged_once(void **state)
{
	struct t_dev *d = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *log = open_memstream(&buf, &len);
	vmm_log_set_stream(log);
	uint64_t a = T_MEM_SIZE;
	uint32_t l = 4096;
	/* A device that needs reset ignores the queue, so reset in between. */
	for (int i = 0; i < 5; i++) {
		t_bringup(d, T_FEAT_DEFAULT, 32);
		t_add_ranges(d, RQ, &a, &l, 1, true);
		t_kick(d, RQ);
	}
	fflush(log);
	unsigned lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	assert_int_equal(lines, 1);
	assert_non_null(strstr(buf, "not inside guest RAM"));
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_OUTSIDE), 5);
	assert_int_equal(d->ndiscards, 0);
	vmm_log_set_stream(NULL);
	t_quiet_logs();
	fclose(log);
	free(buf);
}

/* ---- malformed rings: nothing acted on, device needs reset ---------------- */

static void expect_broken(struct t_dev *d)
{
	t_kick(d, RQ);
	assert_int_equal(d->ndiscards, 0);
	assert_int_equal(t_used_idx(d, RQ), 0);
	assert_true(t_needs_reset(d));
	/* Further kicks do nothing either. */
	t_kick(d, RQ);
	assert_int_equal(d->ndiscards, 0);
}

static void ring_head_out_of_range(void **state)
{
	struct t_dev *d = *state;
	t_put_desc(d, RQ, 1 * MiB, 4096, VRING_DESC_F_WRITE, 0);
	t_publish(d, RQ, 32);
	expect_broken(d);
}

static void ring_next_out_of_range(void **state)
{
	struct t_dev *d = *state;
	uint16_t h = t_put_desc(d, RQ, 1 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 40);
	t_publish(d, RQ, h);
	expect_broken(d);
}

static void ring_loop(void **state)
{
	struct t_dev *d = *state;
	/* 0 -> 1 -> 0 */
	t_put_desc(d, RQ, 1 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	t_put_desc(d, RQ, 2 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void ring_self_loop(void **state)
{
	struct t_dev *d = *state;
	t_put_desc(d, RQ, 1 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void ring_avail_idx_jumps(void **state)
{
	struct t_dev *d = *state;
	struct vring_avail *av = t_ptr(d, d->q[RQ].avail);
	av->idx = htole16(33);	/* 33 new entries on a 32-entry queue */
	expect_broken(d);
}

static void ring_readable_after_writable(void **state)
{
	struct t_dev *d = *state;
	t_put_desc(d, RQ, 1 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	t_put_desc(d, RQ, 2 * MiB, 4096, 0, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void indirect_without_feature(void **state)
{
	struct t_dev *d = *state;
	struct vring_desc *tbl = t_ptr(d, 0x300000);
	tbl[0] = (struct vring_desc){ .addr = 1 * MiB, .len = 4096, .flags = VRING_DESC_F_WRITE };
	t_put_desc(d, RQ, 0x300000, 16, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

/* Indirect table at 0x300000 with n entries, head descriptor flags. */
static struct vring_desc *indirect_table(struct t_dev *d, unsigned n)
{
	struct vring_desc *tbl = t_ptr(d, 0x300000);
	for (unsigned i = 0; i < n; i++)
		tbl[i] = (struct vring_desc){
			.addr = htole64(1 * MiB + 2ULL * MiB * i), .len = htole32(2 * MiB),
			.flags = htole16(VRING_DESC_F_WRITE | (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = htole16((uint16_t)(i + 1)),
		};
	return tbl;
}

static void indirect_valid_table(void **state)
{
	struct t_dev *d = *state;
	indirect_table(d, 4);
	t_put_desc(d, RQ, 0x300000, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_false(t_needs_reset(d));
	/* Four adjacent 2 MiB ranges: one discard. */
	assert_int_equal(d->ndiscards, 1);
	assert_int_equal(d->discards[0].gpa, 1 * MiB);
	assert_int_equal(d->discards[0].len, 8 * MiB);
	assert_int_equal(balloon_counters(d->b)->report_ranges, 4);
}

static void indirect_with_next(void **state)
{
	struct t_dev *d = *state;
	indirect_table(d, 2);
	t_put_desc(d, RQ, 0x300000, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	t_put_desc(d, RQ, 1 * MiB, 4096, VRING_DESC_F_WRITE, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void indirect_nested(void **state)
{
	struct t_dev *d = *state;
	struct vring_desc *tbl = indirect_table(d, 2);
	tbl[1].flags = htole16(VRING_DESC_F_INDIRECT);
	tbl[1].addr = htole64(0x300000);
	tbl[1].len = htole32(32);
	t_put_desc(d, RQ, 0x300000, 32, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void indirect_bad_length(void **state)
{
	struct t_dev *d = *state;
	indirect_table(d, 2);
	t_put_desc(d, RQ, 0x300000, 24, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void indirect_zero_length(void **state)
{
	struct t_dev *d = *state;
	t_put_desc(d, RQ, 0x300000, 0, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void indirect_table_outside_ram(void **state)
{
	struct t_dev *d = *state;
	t_put_desc(d, RQ, T_MEM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void indirect_longer_than_queue(void **state)
{
	struct t_dev *d = *state;
	indirect_table(d, 33);
	t_put_desc(d, RQ, 0x300000, 33 * 16, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void indirect_loop(void **state)
{
	struct t_dev *d = *state;
	struct vring_desc *tbl = indirect_table(d, 3);
	tbl[2].flags = htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	tbl[2].next = htole16(0);
	t_put_desc(d, RQ, 0x300000, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void indirect_next_out_of_table(void **state)
{
	struct t_dev *d = *state;
	struct vring_desc *tbl = indirect_table(d, 2);
	tbl[1].flags = htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	tbl[1].next = htole16(2);	/* table has 2 entries */
	t_put_desc(d, RQ, 0x300000, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
}

static void reset_recovers_after_needs_reset(void **state)
{
	struct t_dev *d = *state;
	t_put_desc(d, RQ, 1 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	t_publish(d, RQ, 0);
	expect_broken(d);
	t_bringup(d, T_FEAT_DEFAULT, 32);
	assert_false(t_needs_reset(d));
	uint64_t a = 1 * MiB;
	uint32_t l = 4096;
	t_add_ranges(d, RQ, &a, &l, 1, true);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_int_equal(d->ndiscards, 1);
}

/* ---- seed-v8 hinting queue ---------------------------------------------- */

static uint16_t add_hints(struct t_dev *d, const struct balloon_seed_hint *h, unsigned n)
{
	uint64_t gpa = 0x380000;
	memcpy(t_ptr(d, gpa), h, n * sizeof(*h));
	uint32_t len = n * sizeof(*h);
	return t_add_ranges(d, RQ, &gpa, &len, 1, false);
}

static void seed_hints_discarded_and_merged(void **state)
{
	struct t_dev *d = *state;
	struct balloon_seed_hint h[] = {
		{ .pfn = 0x400, .order = 9 },	/* 4M..6M */
		{ .pfn = 0x600, .order = 9 },	/* 6M..8M, adjacent */
		{ .pfn = 0x900, .order = 0 },	/* 9M, one page */
	};
	add_hints(d, h, 3);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_int_equal(t_used_elem(d, RQ, 0).len, 0);
	assert_int_equal(d->ndiscards, 2);
	assert_int_equal(d->discards[0].gpa, 4 * MiB);
	assert_int_equal(d->discards[0].len, 4 * MiB);
	assert_int_equal(d->discards[1].gpa, 9 * MiB);
	assert_int_equal(d->discards[1].len, 4096);
	assert_int_equal(balloon_counters(d->b)->report_ranges, 3);
	assert_false(t_needs_reset(d));
	struct lat_hist_snap lat;
	lat_hist_read(&balloon_counters(d->b)->report_latency, &lat);
	assert_int_equal(lat.count, 1);
}

static void seed_hint_bad_order_skipped(void **state)
{
	struct t_dev *d = *state;
	struct balloon_seed_hint h[] = {
		{ .pfn = 0x400, .order = 11 },
		{ .pfn = 0x800, .order = 0 },
	};
	add_hints(d, h, 2);
	t_kick(d, RQ);
	assert_int_equal(d->ndiscards, 1);
	assert_int_equal(d->discards[0].gpa, 8 * MiB);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_HINT_ORDER), 1);
	assert_true(t_needs_reset(d));
}

static void seed_hint_outside_ram_and_overflow(void **state)
{
	struct t_dev *d = *state;
	struct balloon_seed_hint h[] = {
		{ .pfn = T_MEM_SIZE >> 12, .order = 0 },
		{ .pfn = (T_MEM_SIZE >> 12) - 1, .order = 1 },	/* straddles end */
		{ .pfn = UINT64_MAX >> 4, .order = 0 },	/* pfn << 12 overflows */
		{ .pfn = (UINT64_MAX >> 12), .order = 10 },	/* gpa + len overflows */
	};
	add_hints(d, h, 4);
	t_kick(d, RQ);
	assert_int_equal(d->ndiscards, 0);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_OUTSIDE), 2);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_OVERFLOW), 2);
	assert_int_equal(t_used_idx(d, RQ), 1);
}

static void seed_hint_buffer_partial_entry(void **state)
{
	struct t_dev *d = *state;
	uint64_t gpa = 0x380000;
	uint32_t len = 20;
	t_add_ranges(d, RQ, &gpa, &len, 1, false);
	t_kick(d, RQ);
	assert_int_equal(d->ndiscards, 0);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_HINT_LEN), 1);
	assert_true(t_needs_reset(d));
}

/* ---- inflate / deflate ----------------------------------------------------- */

static void add_pfns(struct t_dev *d, unsigned q, const uint32_t *pfn, unsigned n)
{
	uint64_t gpa = 0x390000 + q * 0x1000;
	memcpy(t_ptr(d, gpa), pfn, n * 4);
	uint32_t len = n * 4;
	t_add_ranges(d, q, &gpa, &len, 1, false);
	t_kick(d, q);
}

static void inflate_then_deflate(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[] = { 0x800, 0x801, 0x802, 0x900 };
	add_pfns(d, 0, pfns, 4);
	assert_int_equal(t_used_idx(d, 0), 1);
	const struct balloon_counters *c = balloon_counters(d->b);
	assert_int_equal(c->balloon_pages, 4);
	assert_int_equal(d->ndiscards, 2);	/* 0x800-0x802 merged, 0x900 */
	assert_int_equal(d->discards[0].len, 3 * 4096);
	add_pfns(d, 1, pfns, 2);
	assert_int_equal(t_used_idx(d, 1), 1);
	assert_int_equal(c->balloon_pages, 2);
	assert_int_equal(d->ndiscards, 2);	/* deflate discards nothing */
	/* Config: the driver reports what it has. */
	virtio_mmio_write(d->t, VIRTIO_MMIO_CONFIG + 4, 4, 2);
	assert_int_equal(balloon_actual(d->b), 2);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_CONFIG + 4), 2);
}

static void inflate_bad_pfn(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[] = { T_MEM_SIZE >> 12, 0xffffffff, 0x800 };
	add_pfns(d, 0, pfns, 3);
	assert_int_equal(d->ndiscards, 1);
	assert_int_equal(d->discards[0].gpa, 0x800ULL << 12);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_PFN), 2);
	assert_int_equal(balloon_counters(d->b)->balloon_pages, 1);
	assert_true(t_needs_reset(d));
}

static void target_reaches_config(void **state)
{
	struct t_dev *d = *state;
	balloon_set_target(d->b, 256);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_CONFIG), 256);
}

/* ---- target change to the first PFN after it (fake clock) -------------------- */

static uint64_t fake_ns;
static uint64_t fake_clock(void) { return fake_ns; }

static int setup_clock(void **state)
{
	struct balloon_config cfg = { .clock_ns = fake_clock, .target_pages = 16 };
	struct t_dev *d = t_dev_new(&cfg);
	t_bringup(d, T_FEAT_DEFAULT, 32);
	fake_ns = 1000000;
	*state = d;
	return 0;
}

static void target_latency_from_change_to_first_pfn(void **state)
{
	struct t_dev *d = *state;
	const struct balloon_counters *c = balloon_counters(d->b);
	uint32_t p1[] = { htole32(0x800) }, p2[] = { htole32(0x801) };

	/* the start target is no change: a PFN answers nothing */
	add_pfns(d, 0, p1, 1);
	assert_int_equal(c->target_latencies, 0);
	balloon_set_target(d->b, 256);
	fake_ns += 7000000;
	add_pfns(d, 0, p2, 1);
	assert_int_equal(c->target_latencies, 1);
	assert_int_equal(c->target_latency_ns, 7000000);
	/* later chains of the same change are not first: no new figure */
	fake_ns += 50000000;
	add_pfns(d, 0, p1, 1);
	assert_int_equal(c->target_latencies, 1);
	assert_int_equal(c->target_latency_ns, 7000000);
	/* the same target again is no change */
	balloon_set_target(d->b, 256);
	fake_ns += 1000;
	add_pfns(d, 0, p2, 1);
	assert_int_equal(c->target_latencies, 1);
	/* a deflate answers too; only its first valid PFN counts */
	balloon_set_target(d->b, 0);
	fake_ns += 300000;
	uint32_t bad[] = { htole32(T_MEM_SIZE >> 12) };
	add_pfns(d, 1, bad, 1);
	assert_int_equal(c->target_latencies, 1);
	t_bringup(d, T_FEAT_DEFAULT, 32);	/* the bad PFN asked for a reset */
	fake_ns += 200000;
	add_pfns(d, 1, p1, 1);
	assert_int_equal(c->target_latencies, 2);
	assert_int_equal(c->target_latency_ns, 500000);
	/* a reset leaves a change waiting: the driver after it answers it */
	balloon_set_target(d->b, 128);
	t_bringup(d, T_FEAT_DEFAULT, 32);
	fake_ns += 40000;
	add_pfns(d, 0, p1, 1);
	assert_int_equal(c->target_latencies, 3);
	assert_int_equal(c->target_latency_ns, 40000);
}

/* ---- stats ----------------------------------------------------------------- */

static void stats_kept_and_buffer_returned_on_request(void **state)
{
	struct t_dev *d = *state;
	struct virtio_balloon_stat s[2] = {
		{ .tag = htole16(VIRTIO_BALLOON_S_MEMFREE), .val = htole64(123 << 20) },
		{ .tag = htole16(VIRTIO_BALLOON_S_MEMTOT), .val = htole64(2048ULL << 20) },
	};
	uint64_t gpa = 0x3a0000;
	memcpy(t_ptr(d, gpa), s, sizeof(s));
	uint32_t len = sizeof(s);
	t_add_ranges(d, 2, &gpa, &len, 1, false);
	t_kick(d, 2);
	/* Held, not returned. */
	assert_int_equal(t_used_idx(d, 2), 0);
	uint64_t v;
	assert_true(balloon_stat(d->b, VIRTIO_BALLOON_S_MEMFREE, &v));
	assert_int_equal(v, 123 << 20);
	assert_true(balloon_stat(d->b, VIRTIO_BALLOON_S_MEMTOT, &v));
	assert_false(balloon_stat(d->b, VIRTIO_BALLOON_S_SWAP_IN, &v));
	unsigned irqs = d->irqs;
	balloon_request_stats(d->b);
	assert_int_equal(t_used_idx(d, 2), 1);
	assert_int_equal(d->irqs, irqs + 1);
}

/* ---- messages split across descriptors ------------------------------------ */

/*
 * A message (bytes, n) as a chain of pieces of the given lengths, each at
 * its own place in guest memory: a driver may frame a message across
 * descriptors as it likes (virtio 1.x 2.6.4). Device-writable pieces
 * where wmask has their bit. Published and kicked.
 */
static void add_split(struct t_dev *d, unsigned q, const void *bytes, const uint32_t *len,
		      unsigned npieces, unsigned wmask)
{
	struct t_queue *tq = &d->q[q];
	uint16_t first = tq->next_desc % tq->num;
	const uint8_t *src = bytes;

	for (unsigned i = 0; i < npieces; i++) {
		uint64_t gpa = 0x3b0000 + i * 0x100;
		uint16_t flags = (wmask >> i & 1 ? VRING_DESC_F_WRITE : 0) |
				 (i + 1 < npieces ? VRING_DESC_F_NEXT : 0);
		memcpy(t_ptr(d, gpa), src, len[i]);
		src += len[i];
		t_put_desc(d, q, gpa, len[i], flags, (uint16_t)((first + i + 1) % tq->num));
	}
	t_publish(d, q, first);
	t_kick(d, q);
}

static void pfns_split_inside_entries(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[] = { htole32(0x800), htole32(0x801), htole32(0x900) };
	add_split(d, 0, pfns, (uint32_t[]){ 2, 2, 3, 1, 4 }, 5, 0);
	assert_int_equal(t_used_idx(d, 0), 1);
	const struct balloon_counters *c = balloon_counters(d->b);
	assert_int_equal(c->balloon_pages, 3);
	assert_int_equal(c->inflate_pages, 3);
	assert_int_equal(d->ndiscards, 2);	/* 0x800-0x801 merged, 0x900 */
	assert_int_equal(d->discards[0].gpa, 0x800ull << 12);
	assert_int_equal(d->discards[0].len, 2 * 4096);
	assert_int_equal(d->discards[1].gpa, 0x900ull << 12);
	add_split(d, 1, pfns, (uint32_t[]){ 1, 5, 0, 6 }, 4, 0);
	assert_int_equal(t_used_idx(d, 1), 1);
	assert_int_equal(c->deflate_pages, 3);
	assert_int_equal(c->balloon_pages, 0);
	assert_false(t_needs_reset(d));
}

/* The whole of a split PFN array counts: 5 bytes are no whole entries,
 * though each piece could be; nothing of it is acted on. */
static void pfns_split_total_not_whole_entries(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[] = { htole32(0x800), htole32(0x801) };
	add_split(d, 0, pfns, (uint32_t[]){ 4, 1 }, 2, 0);
	assert_int_equal(t_used_idx(d, 0), 1);
	assert_int_equal(d->ndiscards, 0);
	assert_int_equal(balloon_counters(d->b)->balloon_pages, 0);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_PFN_LEN), 1);
	assert_true(t_needs_reset(d));
}

/* A device-writable piece in a PFN chain: refused whole. */
static void pfns_split_with_a_writable_piece(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[] = { htole32(0x800), htole32(0x801) };
	add_split(d, 0, pfns, (uint32_t[]){ 4, 4 }, 2, 2);
	assert_int_equal(t_used_idx(d, 0), 1);
	assert_int_equal(d->ndiscards, 0);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_DIRECTION), 1);
	assert_true(t_needs_reset(d));
}

/* Descriptors may repeat memory, so a chain's total is bounded only by
 * the queue size times 4 GiB: one above what any driver sends is
 * refused, not walked. */
static void pfns_chain_too_long_refused(void **state)
{
	struct t_dev *d = *state;
	uint64_t a[4] = { 1 * MiB, 1 * MiB, 1 * MiB, 1 * MiB };
	uint32_t l[4] = { 4 * MiB, 4 * MiB, 4 * MiB, 4 * MiB };
	memset(t_ptr(d, 1 * MiB), 0, 4 * MiB);	/* pfn 0: inside RAM */
	t_add_ranges(d, 0, a, l, 4, false);
	t_kick(d, 0);
	assert_int_equal(t_used_idx(d, 0), 1);
	assert_int_equal(d->ndiscards, 0);
	assert_int_equal(balloon_counters(d->b)->inflate_pages, 0);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_PFN_LEN), 1);
	assert_true(t_needs_reset(d));
}

/* ---- inflate: PFNs sorted and merged per chain ------------------------------ */

/* Each discard recorded, in order: [pfn, pfn + pages) as 4 KiB pages. */
static void assert_discards(const struct t_dev *d, const uint32_t (*want)[2], unsigned n)
{
	assert_int_equal(d->ndiscards, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(d->discards[i].gpa, (uint64_t)want[i][0] << 12);
		assert_int_equal(d->discards[i].len, (uint64_t)want[i][1] << 12);
	}
}

/* Linux's order within a message is often descending: one call, not 256. */
static void inflate_descending_is_one_discard(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[256];
	for (unsigned i = 0; i < 256; i++)
		pfns[i] = htole32(0x8ff - i);
	add_pfns(d, 0, pfns, 256);
	assert_int_equal(t_used_idx(d, 0), 1);
	assert_discards(d, (const uint32_t[][2]){ { 0x800, 256 } }, 1);
	assert_int_equal(balloon_counters(d->b)->balloon_pages, 256);
	assert_int_equal(balloon_counters(d->b)->discard_calls, 1);
	assert_false(t_needs_reset(d));
}

/* Shuffled: one call per gap-free stretch, in address order. */
static void inflate_shuffled_merges_by_address(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[160], rng = 12345;
	for (unsigned i = 0; i < 128; i++)
		pfns[i] = 0x800 + i;
	for (unsigned i = 0; i < 16; i++)
		pfns[128 + i] = 0xa00 + i;
	for (unsigned i = 0; i < 16; i++)
		pfns[144 + i] = 0x900 + 2 * i;	/* every other page: no merging */
	for (unsigned i = 159; i > 0; i--) {
		rng = rng * 1103515245u + 12345u;
		unsigned j = (rng >> 8) % (i + 1);
		uint32_t t = pfns[i];
		pfns[i] = pfns[j];
		pfns[j] = t;
	}
	for (unsigned i = 0; i < 160; i++)
		pfns[i] = htole32(pfns[i]);
	add_pfns(d, 0, pfns, 160);
	uint32_t want[18][2] = { { 0x800, 128 } };
	for (unsigned i = 0; i < 16; i++) {
		want[1 + i][0] = 0x900 + 2 * i;
		want[1 + i][1] = 1;
	}
	want[17][0] = 0xa00;
	want[17][1] = 16;
	assert_discards(d, (const uint32_t(*)[2])want, 18);
	assert_int_equal(balloon_counters(d->b)->balloon_pages, 160);
}

/* A PFN twice in a chain is discarded once and counted in the balloon
 * once; inflate_pages counts every entry. One already in the balloon from
 * an earlier chain is discarded again, not counted again. */
static void inflate_duplicates_discarded_once(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[] = { htole32(0x802), htole32(0x800), htole32(0x802), htole32(0x801),
			    htole32(0x800) };
	add_pfns(d, 0, pfns, 5);
	assert_discards(d, (const uint32_t[][2]){ { 0x800, 3 } }, 1);
	const struct balloon_counters *c = balloon_counters(d->b);
	assert_int_equal(c->inflate_pages, 5);
	assert_int_equal(c->balloon_pages, 3);
	assert_int_equal(c->discarded_bytes, 3 * 4096);
	uint32_t again[] = { htole32(0x803), htole32(0x801) };
	add_pfns(d, 0, again, 2);
	assert_discards(d, (const uint32_t[][2]){ { 0x800, 3 }, { 0x801, 1 }, { 0x803, 1 } }, 3);
	assert_int_equal(c->balloon_pages, 4);
}

/* Out-of-range PFNs among valid ones: refused (logged, needs reset), the
 * valid ones still merged around them. */
static void inflate_bad_pfns_among_sorted(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[] = { htole32(0x802), htole32(T_MEM_SIZE >> 12), htole32(0x801),
			    htole32(0xffffffff), htole32(0x800), htole32(0x803) };
	add_pfns(d, 0, pfns, 6);
	assert_int_equal(t_used_idx(d, 0), 1);
	assert_discards(d, (const uint32_t[][2]){ { 0x800, 4 } }, 1);
	assert_int_equal(balloon_error_count(d->b, BAL_ERR_PFN), 2);
	assert_int_equal(balloon_counters(d->b)->balloon_pages, 4);
	assert_true(t_needs_reset(d));
}

/* A descending array split across descriptors, inside entries too, is
 * still one message: one call. */
static void inflate_split_chain_is_one_discard(void **state)
{
	struct t_dev *d = *state;
	uint32_t pfns[8];
	for (unsigned i = 0; i < 8; i++)
		pfns[i] = htole32(0x807 - i);
	add_split(d, 0, pfns, (uint32_t[]){ 6, 10, 1, 15 }, 4, 0);
	assert_int_equal(t_used_idx(d, 0), 1);
	assert_discards(d, (const uint32_t[][2]){ { 0x800, 8 } }, 1);
	assert_int_equal(balloon_counters(d->b)->balloon_pages, 8);
}

/* Chains are not merged with each other: each is discarded before it goes
 * back used. */
static void inflate_chains_discarded_separately(void **state)
{
	struct t_dev *d = *state;
	uint32_t a[] = { htole32(0x801), htole32(0x800) }, b[] = { htole32(0x803), htole32(0x802) };
	add_pfns(d, 0, a, 2);
	assert_discards(d, (const uint32_t[][2]){ { 0x800, 2 } }, 1);
	add_pfns(d, 0, b, 2);
	assert_discards(d, (const uint32_t[][2]){ { 0x800, 2 }, { 0x802, 2 } }, 2);
}

/* A chain longer than a batch (4096 PFNs) is sorted a batch at a time:
 * 2048 pages named four times, descending, are two batches, one call each. */
static void inflate_long_chain_in_batches(void **state)
{
	struct t_dev *d = *state;
	static uint32_t pfns[8192];
	for (unsigned i = 0; i < 8192; i++)
		pfns[i] = htole32(0xfff - i % 2048);
	uint64_t gpa = 0x200000;
	uint32_t len = sizeof(pfns);
	memcpy(t_ptr(d, gpa), pfns, len);
	t_add_ranges(d, 0, &gpa, &len, 1, false);
	t_kick(d, 0);
	assert_int_equal(t_used_idx(d, 0), 1);
	assert_discards(d, (const uint32_t[][2]){ { 0x800, 2048 }, { 0x800, 2048 } }, 2);
	const struct balloon_counters *c = balloon_counters(d->b);
	assert_int_equal(c->inflate_pages, 8192);
	assert_int_equal(c->balloon_pages, 2048);
}

/* Adjacent PFNs in two RAM regions that touch: one call per region. */
static void inflate_merge_stops_at_region_end(void **state)
{
	(void)state;
	struct t_dev *d = t_dev_new(NULL);
	uint8_t *hi = calloc(1, MiB);
	assert_true(gm_add_region(&d->gm, hi, T_MEM_SIZE, MiB));
	/* the device again, over both regions */
	virtio_mmio_destroy(d->t);
	balloon_destroy(d->b);
	d->b = balloon_create(&d->gm, &(struct balloon_config){ .discard = t_discard, .discard_opaque = d });
	d->t = virtio_mmio_create(&d->gm, &balloon_ops, d->b, 0xd0000000);
	virtio_mmio_set_irq(d->t, t_irq, d);
	t_bringup(d, T_FEAT_DEFAULT, 32);
	const uint32_t top = T_MEM_SIZE >> 12;
	uint32_t pfns[] = { htole32(top + 1), htole32(top - 1), htole32(top), htole32(top - 2) };
	add_pfns(d, 0, pfns, 4);
	assert_discards(d, (const uint32_t[][2]){ { top - 2, 2 }, { top, 2 } }, 2);
	assert_int_equal(balloon_counters(d->b)->balloon_pages, 4);
	assert_false(t_needs_reset(d));
	t_dev_free(d);
	free(hi);
}

static void stats_split_inside_entries(void **state)
{
	struct t_dev *d = *state;
	struct virtio_balloon_stat s[2] = {
		{ .tag = htole16(VIRTIO_BALLOON_S_MEMFREE), .val = htole64(123 << 20) },
		{ .tag = htole16(VIRTIO_BALLOON_S_MEMTOT), .val = htole64(2048ULL << 20) },
	};
	add_split(d, 2, s, (uint32_t[]){ 1, 8, 3, 8 }, 4, 0);
	assert_int_equal(t_used_idx(d, 2), 0);	/* held */
	uint64_t v;
	assert_true(balloon_stat(d->b, VIRTIO_BALLOON_S_MEMFREE, &v));
	assert_int_equal(v, 123 << 20);
	assert_true(balloon_stat(d->b, VIRTIO_BALLOON_S_MEMTOT, &v));
	assert_int_equal(v, 2048ULL << 20);
	assert_false(t_needs_reset(d));
}

static void seed_hints_split_inside_entries(void **state)
{
	struct t_dev *d = *state;
	struct balloon_seed_hint h[] = {
		{ .pfn = htole64(0x400), .order = htole32(9) },
		{ .pfn = htole64(0x900), .order = 0 },
	};
	add_split(d, RQ, h, (uint32_t[]){ 3, 13, 7, 9 }, 4, 0);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_int_equal(d->ndiscards, 2);
	assert_int_equal(d->discards[0].gpa, 4 * MiB);
	assert_int_equal(d->discards[0].len, 2 * MiB);
	assert_int_equal(d->discards[1].gpa, 9 * MiB);
	assert_false(t_needs_reset(d));
}

/* Free page reporting: a descriptor is the memory reported, never read,
 * so a range split over two descriptors is two adjacent ranges. */
static void report_range_split_across_descriptors(void **state)
{
	struct t_dev *d = *state;
	uint64_t a[2] = { 4 * MiB, 4 * MiB + 8192 };
	uint32_t l[2] = { 8192, 2 * MiB - 8192 };
	t_add_ranges(d, RQ, a, l, 2, true);
	t_kick(d, RQ);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_int_equal(d->ndiscards, 1);
	assert_int_equal(d->discards[0].gpa, 4 * MiB);
	assert_int_equal(d->discards[0].len, 2 * MiB);
	assert_false(t_needs_reset(d));
}

/* ---- garbage in: never a crash, never a discard outside RAM --------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_addr(void)
{
	switch (rnd() % 6) {
	case 0: return rnd();				/* anywhere */
	case 1: return T_MEM_SIZE - (rnd() % 3) * 4096;	/* at the end */
	case 2: return 0x300000;			/* an indirect table */
	default: return (rnd() % (T_MEM_SIZE / 4096)) * 4096;	/* aligned, inside */
	}
}

static uint32_t rnd_len(void)
{
	switch (rnd() % 5) {
	case 0: return (uint32_t)rnd();
	case 1: return (uint32_t)(rnd() % 64) * 16;
	default: return (uint32_t)(1 + rnd() % 512) * 4096;
	}
}

static void random_rings_never_crash(void **state)
{
	(void)state;
	for (int round = 0; round < 120; round++) {
		struct balloon_config cfg = { .protocol = round % 3 == 0 ? BALLOON_PROTO_SEED_V8
									: BALLOON_PROTO_VIRTIO };
		struct t_dev *d = t_dev_new(&cfg);
		uint64_t f = T_FEAT_DEFAULT;
		if (rnd() & 1)
			f |= T_F(VIRTIO_RING_F_INDIRECT_DESC);
		if (rnd() & 1)
			f |= T_F(VIRTIO_RING_F_EVENT_IDX);
		t_bringup(d, f, 16);
		/* Random descriptor tables, indirect table, hint/PFN buffers. */
		for (unsigned q = 0; q < 4; q++)
			for (unsigned i = 0; i < 16; i++) {
				struct vring_desc *ds = t_desc(d, q, i);
				ds->addr = htole64(rnd_addr());
				ds->len = htole32(rnd_len());
				ds->flags = htole16((uint16_t)(rnd() % 8));
				ds->next = htole16((uint16_t)(rnd() % 20));
			}
		uint8_t *tbl = t_ptr(d, 0x300000);
		for (unsigned i = 0; i < 1024; i++)
			((uint64_t *)tbl)[i] = rnd() % 4 ? rnd() : rnd() % T_MEM_SIZE;
		for (unsigned q = 0; q < 4; q++) {
			unsigned n = (unsigned)(rnd() % 20);
			for (unsigned k = 0; k < n; k++)
				t_publish(d, q, (uint16_t)(rnd() % 18));
			if (rnd() % 8 == 0) {
				struct vring_avail *av = t_ptr(d, d->q[q].avail);
				av->idx = htole16((uint16_t)rnd());
			}
			t_kick(d, q);
		}
		balloon_request_stats(d->b);
		for (unsigned i = 0; i < d->ndiscards && i < T_MAX_DISCARDS; i++) {
			assert_true(d->discards[i].len > 0);
			assert_int_equal((d->discards[i].gpa | d->discards[i].len) & 4095, 0);
			assert_true(d->discards[i].gpa + d->discards[i].len <= T_MEM_SIZE);
			assert_true(d->discards[i].gpa + d->discards[i].len > d->discards[i].gpa);
		}
		t_dev_free(d);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TI(fn) cmocka_unit_test_setup_teardown(fn, setup_indirect, teardown)
#define TS(fn) cmocka_unit_test_setup_teardown(fn, setup_seed, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(numbering_with_stats_and_reporting),
		T(numbering_without_stats),
		T(numbering_without_reporting),
		T(device_without_reporting_offers_nothing),
		T(report_discards_and_returns_len_0),
		T(report_latency_counts_returned_chains),
		T(adjacent_ranges_merge_into_one_discard),
		T(ranges_of_separate_requests_do_not_merge),
		T(full_request_of_32_ranges),
		T(bad_range_outside_ram),
		T(bad_range_straddles_end_of_ram),
		T(bad_range_misaligned_address),
		T(bad_range_misaligned_length),
		T(bad_range_zero_length),
		T(bad_range_overflows),
		T(bad_range_readable_buffer),
		T(bad_ranges_logged_once),
		T(ring_head_out_of_range),
		T(ring_next_out_of_range),
		T(ring_loop),
		T(ring_self_loop),
		T(ring_avail_idx_jumps),
		T(ring_readable_after_writable),
		T(indirect_without_feature),
		TI(indirect_valid_table),
		TI(indirect_with_next),
		TI(indirect_nested),
		TI(indirect_bad_length),
		TI(indirect_zero_length),
		TI(indirect_table_outside_ram),
		TI(indirect_longer_than_queue),
		TI(indirect_loop),
		TI(indirect_next_out_of_table),
		T(reset_recovers_after_needs_reset),
		TS(seed_hints_discarded_and_merged),
		TS(seed_hint_bad_order_skipped),
		TS(seed_hint_outside_ram_and_overflow),
		TS(seed_hint_buffer_partial_entry),
		T(inflate_then_deflate),
		T(inflate_bad_pfn),
		T(inflate_descending_is_one_discard),
		T(inflate_shuffled_merges_by_address),
		T(inflate_duplicates_discarded_once),
		T(inflate_bad_pfns_among_sorted),
		T(inflate_split_chain_is_one_discard),
		T(inflate_chains_discarded_separately),
		T(inflate_long_chain_in_batches),
		cmocka_unit_test(inflate_merge_stops_at_region_end),
		T(target_reaches_config),
		cmocka_unit_test_setup_teardown(target_latency_from_change_to_first_pfn, setup_clock,
						teardown),
		T(stats_kept_and_buffer_returned_on_request),
		T(pfns_split_inside_entries),
		T(pfns_split_total_not_whole_entries),
		T(pfns_split_with_a_writable_piece),
		T(pfns_chain_too_long_refused),
		T(stats_split_inside_entries),
		TS(seed_hints_split_inside_entries),
		T(report_range_split_across_descriptors),
		cmocka_unit_test(random_rings_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
