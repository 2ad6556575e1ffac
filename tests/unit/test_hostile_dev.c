/* SPDX-License-Identifier: MIT */
/*
 * The hostile guest, hosted: every bad submission guest/hostile.c makes
 * (test=hostile), built by hand against vmm's device (virtio_mmio.c +
 * balloon.c) over fake guest RAM, one after another on one device, reset
 * and brought up again between cases as the guest does. For each case:
 * nothing is discarded but the ranges valid descriptors named, nothing in
 * the canary region at all, DEVICE_NEEDS_RESET exactly when the device was
 * given input it cannot act on, and the log line for the kind of misuse.
 * Then the whole sequence again: no new log line (each kind once per
 * device), and a valid report afterwards still works.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_vmm_driver.h"

#define RQ 3
#define NUM 32
#define MiB (1ULL << 20)
#define CANARY_GPA (8 * MiB)
#define CANARY_LEN (4 * MiB)
#define TABLE_GPA 0xf0000ULL	/* indirect tables */

static struct t_dev *d;
static char *logbuf;
static size_t loglen;
static FILE *logf;

struct range { uint64_t gpa, len; };

struct hcase {
	const char *name;
	void (*submit)(void);
	const char *log;		/* a substring of the line it must log, or NULL */
	bool needs_reset;		/* input the device cannot act on */
	struct range valid[4];		/* what may be discarded ({0,0} ends) */
};

static uint64_t canary_word(uint64_t off) { return 0x9e3779b97f4a7c15ULL * (off / 8 + 1); }

static void fill_canary(void)
{
	uint64_t *p = t_ptr(d, CANARY_GPA);
	for (uint64_t off = 0; off < CANARY_LEN; off += 8)
		p[off / 8] = canary_word(off);
}

static uint64_t canary_bad_words(void)
{
	const uint64_t *p = t_ptr(d, CANARY_GPA);
	uint64_t bad = 0;
	for (uint64_t off = 0; off < CANARY_LEN; off += 8)
		bad += p[off / 8] != canary_word(off);
	return bad;
}

static unsigned log_count(const char *needle)
{
	unsigned n = 0;
	fflush(logf);
	for (const char *p = logbuf; p && (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* ---- building blocks ------------------------------------------------------ */

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *ds = t_desc(d, RQ, i);
	ds->addr = htole64(addr);
	ds->len = htole32(len);
	ds->flags = htole16(flags);
	ds->next = htole16(next);
}

static void ranges(const struct range *r, unsigned n)
{
	uint64_t a[8];
	uint32_t l[8];
	for (unsigned i = 0; i < n; i++) {
		a[i] = r[i].gpa;
		l[i] = (uint32_t)r[i].len;
	}
	t_add_ranges(d, RQ, a, l, n, true);
	t_kick(d, RQ);
}

static void table(unsigned n, uint16_t extra_flags_last)
{
	struct vring_desc *t = t_ptr(d, TABLE_GPA);
	for (unsigned i = 0; i < n; i++) {
		t[i].addr = htole64(2 * MiB + 4096ULL * i);
		t[i].len = htole32(4096);
		t[i].flags = htole16(VRING_DESC_F_WRITE | (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
				     (i + 1 == n ? extra_flags_last : 0));
		t[i].next = htole16((uint16_t)(i + 1));
	}
}

/* ---- the cases, in guest/hostile.c's order ---------------------------------- */

static void out_of_ram(void) { ranges((struct range[]){ { T_MEM_SIZE, 4096 } }, 1); }
static void overflowing(void) { ranges((struct range[]){ { 0xfffffffffffff000ULL, 0x2000 } }, 1); }
static void unaligned_addr(void) { ranges((struct range[]){ { 1 * MiB + 512, 4096 } }, 1); }
static void unaligned_len(void) { ranges((struct range[]){ { 1 * MiB, 100 } }, 1); }
static void overlapping(void)
{
	ranges((struct range[]){ { 1 * MiB, 0x2000 }, { 1 * MiB + 0x1000, 0x2000 } }, 2);
}
static void valid_and_bad(void)
{
	ranges((struct range[]){ { 2 * MiB, 4096 }, { T_MEM_SIZE - 4096, 0x2000 } }, 2);
}
static void wrong_direction(void)
{
	uint64_t a = 2 * MiB;
	uint32_t l = 4096;
	t_add_ranges(d, RQ, &a, &l, 1, false);
	t_kick(d, RQ);
}

static void looping(void)
{
	desc(0, 2 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc(1, 3 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
}

static void longer_than_queue(void)
{
	table(NUM + 1, 0);
	desc(0, TABLE_GPA, 16 * (NUM + 1), VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
}

static void reused_in_flight(void)
{
	/* the same head made available twice before the device ran */
	desc(0, 2 * MiB, 4096, VRING_DESC_F_WRITE, 0);
	t_publish(d, RQ, 0);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
}

static void indirect_outside(void)
{
	desc(0, T_MEM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
}

static void indirect_bad_len(void)
{
	table(2, 0);
	desc(0, TABLE_GPA, 24, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
}

static void indirect_nested(void)
{
	table(2, VRING_DESC_F_INDIRECT);
	desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
}

static void indirect_with_next(void)
{
	table(2, 0);
	desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	desc(1, 2 * MiB, 4096, VRING_DESC_F_WRITE, 0);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
}

static void head_beyond(void)
{
	t_publish(d, RQ, NUM + 8);
	t_kick(d, RQ);
}

static void next_beyond(void)
{
	desc(0, 2 * MiB, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, NUM + 3);
	t_publish(d, RQ, 0);
	t_kick(d, RQ);
}

static void avail_jump(void)
{
	struct vring_avail *a = t_ptr(d, d->q[RQ].avail);
	a->idx = htole16(100);
	t_kick(d, RQ);
}

static void ready_off_mid_use(void)
{
	desc(0, 2 * MiB, 4096, VRING_DESC_F_WRITE, 0);
	t_publish(d, RQ, 0);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, RQ);
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 0);
	t_kick(d, RQ);
}

static void num_change_while_ready(void)
{
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, RQ);
	t_wr(d, VIRTIO_MMIO_QUEUE_NUM, 8);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_NUM), NUM);
	/* still works at the old size */
	ranges((struct range[]){ { 2 * MiB, 4096 } }, 1);
}

static void queue_sel_games(void)
{
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 7);
	t_wr(d, VIRTIO_MMIO_QUEUE_NUM, 16);
	t_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, CANARY_GPA);
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0xffffffffu);
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	t_kick(d, 7);
	t_kick(d, 0xffffffffu);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, RQ);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 1);
}

static const struct hcase cases[] = {
	{ "out-of-ram", out_of_ram, "not inside guest RAM", true, { { 0 } } },
	{ "overflowing", overflowing, "address + length overflows", true, { { 0 } } },
	{ "unaligned address", unaligned_addr, "not 4 KiB aligned", true, { { 0 } } },
	{ "unaligned length", unaligned_len, "not 4 KiB aligned", true, { { 0 } } },
	{ "overlapping", overlapping, NULL, false,
	  { { 1 * MiB, 0x2000 }, { 1 * MiB + 0x1000, 0x2000 } } },
	{ "valid and out-of-ram in one chain", valid_and_bad, "not inside guest RAM", true,
	  { { 2 * MiB, 4096 } } },
	{ "wrong direction", wrong_direction, "wrong direction", true, { { 0 } } },
	{ "looping chain", looping, "chain loops", true, { { 0 } } },
	{ "chain longer than the queue", longer_than_queue, "longer than the queue", true, { { 0 } } },
	{ "descriptor reused while in flight", reused_in_flight, NULL, false, { { 2 * MiB, 4096 } } },
	{ "indirect table outside RAM", indirect_outside, "indirect table is outside", true, { { 0 } } },
	{ "indirect table length", indirect_bad_len, "not a multiple of 16", true, { { 0 } } },
	{ "nested indirect", indirect_nested, "inside an indirect table", true, { { 0 } } },
	{ "indirect with NEXT", indirect_with_next, "also has NEXT", true, { { 0 } } },
	{ "head beyond the queue", head_beyond, "head index is beyond", true, { { 0 } } },
	{ "next beyond the table", next_beyond, "next index is beyond", true, { { 0 } } },
	{ "avail index jump", avail_jump, "avail index moved", true, { { 0 } } },
	{ "QueueReady=0 mid-use", ready_off_mid_use, "notification for a queue that does not exist or is not ready", false, { { 0 } } },
	{ "QueueNum while ready", num_change_while_ready, "while the queue is ready", false,
	  { { 2 * MiB, 4096 } } },
	{ "QueueSel games", queue_sel_games, "queue register written for a queue that does not exist", false, { { 0 } } },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static bool covered(const struct hcase *c, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < 4 && c->valid[i].len; i++)
		if (gpa == c->valid[i].gpa && len == c->valid[i].len)
			return true;
	return false;
}

static void run_case(const struct hcase *c)
{
	/* reset and bring up again, as the guest does between cases */
	t_bringup(d, T_FEAT_DEFAULT | T_F(VIRTIO_RING_F_INDIRECT_DESC), NUM);
	assert_false(t_needs_reset(d));
	d->ndiscards = 0;
	c->submit();
	for (unsigned i = 0; i < d->ndiscards && i < T_MAX_DISCARDS; i++) {
		uint64_t g = d->discards[i].gpa, l = d->discards[i].len;
		if (!covered(c, g, l))
			fail_msg("%s: discarded [%#llx, +%#llx), which no valid descriptor named",
				 c->name, (unsigned long long)g, (unsigned long long)l);
		assert_false(g < CANARY_GPA + CANARY_LEN && CANARY_GPA < g + l);
	}
	if (c->needs_reset != t_needs_reset(d))
		fail_msg("%s: DEVICE_NEEDS_RESET %s", c->name, c->needs_reset ? "not set" : "set");
	if (c->log && log_count(c->log) != 1)
		fail_msg("%s: '%s' logged %u times, want once", c->name, c->log, log_count(c->log));
}

static int setup(void **state)
{
	(void)state;
	d = t_dev_new(NULL);
	logf = open_memstream(&logbuf, &loglen);
	vmm_log_set_stream(logf);
	fill_canary();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	t_dev_free(d);
	vmm_log_set_stream(NULL);
	t_quiet_logs();
	fclose(logf);
	free(logbuf);
	logbuf = NULL;
	return 0;
}

static void every_case_once(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NCASES; i++)
		run_case(&cases[i]);
	assert_int_equal(canary_bad_words(), 0);
}

static void every_case_twice_logs_each_kind_once(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NCASES; i++)
		run_case(&cases[i]);
	fflush(logf);
	size_t first = loglen;
	for (unsigned i = 0; i < NCASES; i++)
		run_case(&cases[i]);
	fflush(logf);
	if (loglen != first)
		fail_msg("second round logged more:\n%s", logbuf + first);
	assert_int_equal(canary_bad_words(), 0);
}

static void device_works_after_the_hostile_cases(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NCASES; i++)
		run_case(&cases[i]);
	t_bringup(d, T_FEAT_DEFAULT, NUM);
	d->ndiscards = 0;
	ranges((struct range[]){ { 4 * MiB, 2 * MiB } }, 1);
	assert_int_equal(d->ndiscards, 1);
	assert_int_equal(d->discards[0].gpa, 4 * MiB);
	assert_int_equal(d->discards[0].len, 2 * MiB);
	assert_int_equal(t_used_idx(d, RQ), 1);
	assert_false(t_needs_reset(d));
	assert_int_equal(canary_bad_words(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_case_once, setup, teardown),
		cmocka_unit_test_setup_teardown(every_case_twice_logs_each_kind_once, setup, teardown),
		cmocka_unit_test_setup_teardown(device_works_after_the_hostile_cases, setup, teardown),
	};
	return cmocka_run_group_tests_name("hostile_dev", tests, NULL, NULL);
}
