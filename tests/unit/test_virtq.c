/* SPDX-License-Identifier: MIT */
/* core/virtq: the driver side of a split virtqueue, against a device played
 * by the test directly on the ring memory; includes a hostile device. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtq.h"

#define NUM 8

static _Alignas(4096) unsigned char ring_mem[1 << 20];
static struct virtq_slot slots[PH_VIRTQ_MAX_NUM];
static struct virtq vq;
static int tok[1024]; /* tokens: &tok[i] */

/* ---- the device's side, by hand ---- */
static uint16_t dev_last_avail;

static uint16_t *avail_event(void) { return (uint16_t *)&vq.used->ring[vq.num]; }
static uint16_t *used_event(void) { return &vq.avail->ring[vq.num]; }

/* Next chain head the driver made available, or -1. */
static int dev_pop(void)
{
	if (vq.avail->idx == dev_last_avail)
		return -1;
	return vq.avail->ring[dev_last_avail++ % vq.num];
}

static void dev_push(uint32_t id, uint32_t len)
{
	struct ph_vring_used_elem *e = &vq.used->ring[vq.used->idx % vq.num];
	e->id = id;
	e->len = len;
	vq.used->idx++;
}

static int setup(unsigned num, bool event_idx)
{
	memset(ring_mem, 0xa5, sizeof(ring_mem));
	dev_last_avail = 0;
	return virtq_init_contig(&vq, num, ring_mem, slots, event_idx);
}

static int reset_warnings(void **state)
{
	(void)state;
	atomic_store(&ph_test_warnings, 0);
	ph_test_quiet_warnings = 1;
	return 0;
}

static int check_quiet(void **state)
{
	(void)state;
	ph_test_quiet_warnings = 0;
	return 0;
}

static void add1(unsigned i)
{
	struct virtq_buf b = { .addr = 0x1000 * (i + 1), .len = 4096, .write = true };
	assert_int_equal(virtq_add(&vq, &b, 1, &tok[i]), 0);
}

/* ---- tests ---- */

static void init_rejects_bad_sizes(void **state)
{
	(void)state;
	assert_int_equal(setup(0, false), -PH_EINVAL);
	assert_int_equal(setup(3, false), -PH_EINVAL);
	assert_int_equal(setup(65536, false), -PH_EINVAL);
	assert_int_equal(virtq_init(&vq, 4, ring_mem + 8, ring_mem + 1024, ring_mem + 2048,
				    slots, false), -PH_EINVAL); /* desc not 16-aligned */
	assert_true(virtq_contig_bytes(32768) <= sizeof(ring_mem));
	assert_int_equal(setup(1, false), 0);
	assert_int_equal(setup(32768, false), 0);
	assert_int_equal(setup(NUM, false), 0);
	assert_int_equal(virtq_num_free(&vq), NUM);
	assert_int_equal(vq.avail->idx, 0);
	assert_int_equal(vq.used->idx, 0);
}

/* A chain of 2 readable + 1 writable buffers appears as 3 linked
 * descriptors, one avail entry, avail->idx 1. */
static void add_builds_chain(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	struct virtq_buf b[3] = {
		{ .addr = 0x10000, .len = 16, .write = false },
		{ .addr = 0x20000, .len = 32, .write = false },
		{ .addr = 0x30000, .len = 4096, .write = true },
	};
	assert_int_equal(virtq_add(&vq, b, 3, &tok[0]), 0);
	assert_int_equal(virtq_num_free(&vq), NUM - 3);
	assert_int_equal(vq.avail->idx, 1);
	int head = dev_pop();
	assert_true(head >= 0 && head < NUM);
	uint16_t i = (uint16_t)head;
	for (int k = 0; k < 3; k++) {
		struct ph_vring_desc *d = &vq.desc[i];
		assert_int_equal(d->addr, b[k].addr);
		assert_int_equal(d->len, b[k].len);
		assert_int_equal(d->flags & PH_VRING_DESC_F_WRITE, b[k].write ? PH_VRING_DESC_F_WRITE : 0);
		assert_int_equal(!!(d->flags & PH_VRING_DESC_F_NEXT), k < 2);
		i = d->next;
	}
	assert_int_equal(dev_pop(), -1);
	/* device writes 100 bytes and returns it */
	dev_push((uint32_t)head, 100);
	void *t = NULL;
	uint32_t len = 0;
	assert_int_equal(virtq_get_used(&vq, &t, &len), 1);
	assert_ptr_equal(t, &tok[0]);
	assert_int_equal(len, 100);
	assert_int_equal(virtq_num_free(&vq), NUM);
	assert_int_equal(virtq_get_used(&vq, &t, &len), 0);
	assert_int_equal(virtq_inflight(&vq), 0);
}

static void add_rejects_bad_args_and_full(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	struct virtq_buf b[NUM + 1];
	for (int k = 0; k < NUM + 1; k++)
		b[k] = (struct virtq_buf){ .addr = 0x1000u * k, .len = 8 };
	assert_int_equal(virtq_add(&vq, b, 0, &tok[0]), -PH_EINVAL);
	assert_int_equal(virtq_add(&vq, b, 1, NULL), -PH_EINVAL);
	b[1].len = 0;
	assert_int_equal(virtq_add(&vq, b, 2, &tok[0]), -PH_EINVAL);
	b[1].len = 8;
	assert_int_equal(virtq_add(&vq, b, NUM + 1, &tok[0]), -PH_ENOSPC);
	assert_int_equal(virtq_add(&vq, b, NUM - 1, &tok[0]), 0);
	assert_int_equal(virtq_add(&vq, b, 2, &tok[1]), -PH_ENOSPC);
	assert_int_equal(virtq_add(&vq, b, 1, &tok[1]), 0);
	assert_int_equal(virtq_num_free(&vq), 0);
	assert_int_equal(vq.avail->idx, 2);
}

/* Without EVENT_IDX: kick unless used->flags has NO_NOTIFY. */
static void kick_follows_no_notify(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	assert_false(virtq_kick_prepare(&vq)); /* nothing added */
	add1(0);
	assert_true(virtq_kick_prepare(&vq));
	assert_false(virtq_kick_prepare(&vq)); /* nothing new since */
	vq.used->flags = PH_VRING_USED_F_NO_NOTIFY;
	add1(1);
	assert_false(virtq_kick_prepare(&vq));
	vq.used->flags = 0;
	add1(2);
	assert_true(virtq_kick_prepare(&vq));
}

/* With EVENT_IDX: kick iff avail->idx moved past avail_event since the
 * last decision (vring_need_event), whatever used->flags says. */
static void kick_follows_avail_event(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, true), 0);
	vq.used->flags = PH_VRING_USED_F_NO_NOTIFY; /* must be ignored */
	*avail_event() = 0;
	add1(0); /* idx 0 -> 1, device wants a kick when idx passes 0 */
	assert_true(virtq_kick_prepare(&vq));
	*avail_event() = 5; /* device: wake me after entry 5 */
	add1(1);
	add1(2); /* 1 -> 3 */
	assert_false(virtq_kick_prepare(&vq));
	*avail_event() = 3; /* passes 3 when going 3 -> 4 */
	add1(3);
	assert_true(virtq_kick_prepare(&vq));
	*avail_event() = 3; /* already passed: no kick for 4 -> 5 */
	add1(4);
	assert_false(virtq_kick_prepare(&vq));
}

/* vring_need_event semantics over the whole 16-bit wrap, one entry at a
 * time, device always asking for the next one: one kick per add. */
static void kick_wraps_16_bits(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, true), 0);
	void *t;
	uint32_t len;
	for (unsigned n = 0; n < 70000; n++) {
		uint16_t idx = vq.avail->idx; /* wraps through 65535 -> 0 */
		add1(n % 16);
		*avail_event() = idx; /* device read all before idx, wants a kick for it */
		assert_true(virtq_kick_prepare(&vq));
		int head = dev_pop();
		assert_true(head >= 0);
		dev_push((uint32_t)head, 0);
		assert_int_equal(virtq_get_used(&vq, &t, &len), 1);
		assert_ptr_equal(t, &tok[n % 16]);
		/* device stale by one: it has not seen this add yet */
		add1(n % 16);
		*avail_event() = (uint16_t)(idx - 1);
		assert_false(virtq_kick_prepare(&vq));
		head = dev_pop();
		dev_push((uint32_t)head, 0);
		assert_int_equal(virtq_get_used(&vq, &t, &len), 1);
	}
	assert_int_equal(virtq_num_free(&vq), NUM);
}

/* Without EVENT_IDX interrupts are suppressed with avail->flags. */
static void interrupts_flags(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	assert_int_equal(vq.avail->flags, 0);
	virtq_disable_cb(&vq);
	assert_int_equal(vq.avail->flags, PH_VRING_AVAIL_F_NO_INTERRUPT);
	assert_true(virtq_enable_cb(&vq));
	assert_int_equal(vq.avail->flags, 0);
	add1(0);
	dev_push((uint32_t)dev_pop(), 0);
	assert_false(virtq_enable_cb(&vq)); /* one is waiting: don't sleep */
	assert_true(virtq_has_used(&vq));
}

/* With EVENT_IDX: avail->flags stays 0, used_event carries the request. */
static void interrupts_used_event(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, true), 0);
	void *t;
	uint32_t len;
	for (int i = 0; i < 3; i++) {
		add1((unsigned)i);
		dev_push((uint32_t)dev_pop(), 0);
		assert_int_equal(virtq_get_used(&vq, &t, &len), 1);
	}
	/* interrupts on: used_event follows the harvest */
	assert_int_equal(*used_event(), 3);
	virtq_disable_cb(&vq);
	assert_int_equal(vq.avail->flags, 0);
	/* the device's vring_need_event(used_event, new, old) must be false
	 * for every step it can take before our next harvest */
	uint16_t ev = *used_event();
	for (uint16_t n = 1; n <= NUM; n++)
		assert_false((uint16_t)(3 + n - ev - 1) < 1);
	assert_true(virtq_enable_cb(&vq));
	assert_int_equal(*used_event(), 3);
	assert_int_equal(vq.avail->flags, 0);
	add1(0);
	dev_push((uint32_t)dev_pop(), 0);
	assert_false(virtq_enable_cb(&vq));
}

/* Chains of mixed lengths returned out of order, many times: the free list
 * never loses or duplicates a descriptor. */
static void free_list_survives_out_of_order(void **state)
{
	(void)state;
	assert_int_equal(setup(32, false), 0);
	srand(7);
	int inflight[32], ninfl = 0;
	for (int round = 0; round < 20000; round++) {
		unsigned n = 1 + (unsigned)rand() % 5;
		struct virtq_buf b[5];
		for (unsigned k = 0; k < n; k++)
			b[k] = (struct virtq_buf){ .addr = 4096, .len = 1, .write = k == n - 1 };
		int r = virtq_add(&vq, b, n, &tok[round % 1024]);
		if (r == 0) {
			inflight[ninfl++] = dev_pop();
		} else {
			assert_int_equal(r, -PH_ENOSPC);
			assert_true(virtq_num_free(&vq) < n);
		}
		if (ninfl && (r || rand() % 2)) {
			int k = rand() % ninfl;
			dev_push((uint32_t)inflight[k], 0);
			inflight[k] = inflight[--ninfl];
			void *t;
			assert_int_equal(virtq_get_used(&vq, &t, NULL), 1);
		}
		/* every descriptor is either free or in exactly one chain */
		unsigned used_desc = 0;
		for (unsigned i = 0; i < 32; i++)
			used_desc += slots[i].ndesc;
		assert_int_equal(used_desc + virtq_num_free(&vq), 32);
	}
}

/* ---- hostile device ---- */

static void check_broken(unsigned free_before)
{
	void *t = NULL;
	assert_true(virtq_is_broken(&vq));
	assert_int_equal(virtq_num_free(&vq), free_before);
	assert_int_equal(virtq_get_used(&vq, &t, NULL), -PH_EIO);
	struct virtq_buf b = { .addr = 0, .len = 1 };
	assert_int_equal(virtq_add(&vq, &b, 1, &tok[9]), -PH_EIO);
	assert_false(virtq_kick_prepare(&vq));
	assert_false(virtq_has_used(&vq));
	assert_true(atomic_load(&ph_test_warnings) >= 1);
}

static void hostile_idx_jump_beyond_num(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	add1(0);
	vq.used->idx = NUM + 1;
	void *t;
	assert_int_equal(virtq_get_used(&vq, &t, NULL), -PH_EIO);
	check_broken(NUM - 1);
}

static void hostile_idx_beyond_inflight(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	add1(0);
	add1(1);
	int h = dev_pop();
	dev_push((uint32_t)h, 0);
	dev_push((uint32_t)h, 0);
	dev_push((uint32_t)h, 0); /* 3 used for 2 in flight */
	void *t;
	assert_int_equal(virtq_get_used(&vq, &t, NULL), -PH_EIO);
	check_broken(NUM - 2);
}

static void hostile_id_out_of_range(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	add1(0);
	dev_push(NUM, 0);
	void *t;
	assert_int_equal(virtq_get_used(&vq, &t, NULL), -PH_EIO);
	check_broken(NUM - 1);
}

static void hostile_id_not_a_head(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	struct virtq_buf b[2] = { { .addr = 1, .len = 1 }, { .addr = 2, .len = 1 } };
	assert_int_equal(virtq_add(&vq, b, 2, &tok[0]), 0);
	int head = dev_pop();
	dev_push(vq.desc[head].next, 0); /* the chain's second descriptor */
	void *t;
	assert_int_equal(virtq_get_used(&vq, &t, NULL), -PH_EIO);
	check_broken(NUM - 2);
}

static void hostile_id_never_added(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	add1(0);
	int head = dev_pop();
	dev_push((uint32_t)((head + 3) % NUM), 0); /* a free descriptor */
	void *t;
	assert_int_equal(virtq_get_used(&vq, &t, NULL), -PH_EIO);
	check_broken(NUM - 1);
}

/* The same chain returned twice: the first is harvested normally, the
 * second is caught and nothing is freed twice. */
static void hostile_used_twice(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	add1(0);
	add1(1);
	int h0 = dev_pop();
	dev_push((uint32_t)h0, 0);
	dev_push((uint32_t)h0, 0);
	void *t;
	assert_int_equal(virtq_get_used(&vq, &t, NULL), 1);
	assert_ptr_equal(t, &tok[0]);
	assert_int_equal(virtq_get_used(&vq, &t, NULL), -PH_EIO);
	check_broken(NUM - 1);
}

/* A used length beyond the chain's writable bytes is clamped, not trusted. */
static void hostile_len_clamped(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	struct virtq_buf b[2] = { { .addr = 1, .len = 100 }, { .addr = 2, .len = 50, .write = true } };
	assert_int_equal(virtq_add(&vq, b, 2, &tok[0]), 0);
	dev_push((uint32_t)dev_pop(), 1u << 31);
	void *t;
	uint32_t len;
	assert_int_equal(virtq_get_used(&vq, &t, &len), 1);
	assert_int_equal(len, 50);
	assert_int_equal(vq.bad_len, 1);
	assert_false(virtq_is_broken(&vq));
}

/* After a device reset, detach hands back each in-flight token once. */
static void detach_returns_inflight_once(void **state)
{
	(void)state;
	assert_int_equal(setup(NUM, false), 0);
	add1(0);
	add1(1);
	add1(2);
	dev_push((uint32_t)dev_pop(), 0);
	void *t;
	assert_int_equal(virtq_get_used(&vq, &t, NULL), 1);
	virtq_break(&vq);
	int seen[3] = { 0 };
	while ((t = virtq_detach(&vq)) != NULL)
		seen[(int *)t - tok]++;
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 1);
	assert_int_equal(virtq_num_free(&vq), NUM);
	assert_int_equal(virtq_inflight(&vq), 0);
}

/* A device that mixes honest completions with garbage (random ids, lengths
 * and index jumps), many seeds: whatever it does, a token comes back at
 * most once and only while in flight, descriptors are never lost or
 * doubled, and after the queue breaks, detach returns exactly the rest. */
static void hostile_random_device(void **state)
{
	(void)state;
	enum { QN = 16, STEPS = 300, SEEDS = 3000, MAXTOK = STEPS + 1 };
	static bool in_flight[MAXTOK];
	ph_test_quiet_warnings = 1;
	for (unsigned seed = 1; seed <= SEEDS; seed++) {
		srand(seed);
		assert_int_equal(setup(QN, seed & 1), 0);
		memset(in_flight, 0, sizeof(in_flight));
		unsigned next_tok = 0, inflight_n = 0;
		int honest[QN], nh = 0; /* heads the device has popped */
		for (unsigned step = 0; step < STEPS && !virtq_is_broken(&vq); step++) {
			int act = rand() % 10;
			if (act < 4) {
				unsigned n = 1 + (unsigned)rand() % 4;
				struct virtq_buf b[4];
				for (unsigned k = 0; k < n; k++)
					b[k] = (struct virtq_buf){ 4096 * k, 64, rand() & 1 };
				if (virtq_add(&vq, b, n, (void *)(uintptr_t)(next_tok + 1)) == 0) {
					in_flight[next_tok++] = true;
					inflight_n++;
				}
				int h;
				while ((h = dev_pop()) >= 0)
					honest[nh++] = h;
			} else if (act < 7 && nh) {
				int k = rand() % nh;
				dev_push((uint32_t)honest[k], (uint32_t)rand() % 128);
				honest[k] = honest[--nh];
			} else if (act == 7) {
				/* garbage entry: any id, any length */
				dev_push((uint32_t)rand() % (QN + 4), (uint32_t)rand());
			} else if (act == 8) {
				vq.used->idx = (uint16_t)(vq.used->idx + rand() % 40);
			} else {
				/* harvest everything the driver can */
				void *t;
				uint32_t len;
				int r;
				while ((r = virtq_get_used(&vq, &t, &len)) > 0) {
					unsigned id = (unsigned)(uintptr_t)t - 1;
					assert_true(id < next_tok);
					assert_true(in_flight[id]); /* never twice */
					in_flight[id] = false;
					inflight_n--;
					assert_true(len <= 4 * 64); /* clamped to the writable bytes */
				}
				assert_true(r == 0 || r == -PH_EIO);
			}
			unsigned used_desc = 0;
			for (unsigned i = 0; i < QN; i++)
				used_desc += slots[i].ndesc;
			assert_int_equal(used_desc + virtq_num_free(&vq), QN);
			assert_int_equal(virtq_inflight(&vq), inflight_n);
		}
		/* the device is "reset": everything still in flight comes back once */
		void *t;
		while ((t = virtq_detach(&vq)) != NULL) {
			unsigned id = (unsigned)(uintptr_t)t - 1;
			assert_true(id < next_tok && in_flight[id]);
			in_flight[id] = false;
			inflight_n--;
		}
		assert_int_equal(inflight_n, 0);
		assert_int_equal(virtq_num_free(&vq), QN);
	}
	ph_test_quiet_warnings = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_rejects_bad_sizes),
		cmocka_unit_test(add_builds_chain),
		cmocka_unit_test(add_rejects_bad_args_and_full),
		cmocka_unit_test(kick_follows_no_notify),
		cmocka_unit_test(kick_follows_avail_event),
		cmocka_unit_test(kick_wraps_16_bits),
		cmocka_unit_test(interrupts_flags),
		cmocka_unit_test(interrupts_used_event),
		cmocka_unit_test(free_list_survives_out_of_order),
		cmocka_unit_test_setup_teardown(hostile_idx_jump_beyond_num, reset_warnings, check_quiet),
		cmocka_unit_test_setup_teardown(hostile_idx_beyond_inflight, reset_warnings, check_quiet),
		cmocka_unit_test_setup_teardown(hostile_id_out_of_range, reset_warnings, check_quiet),
		cmocka_unit_test_setup_teardown(hostile_id_not_a_head, reset_warnings, check_quiet),
		cmocka_unit_test_setup_teardown(hostile_id_never_added, reset_warnings, check_quiet),
		cmocka_unit_test_setup_teardown(hostile_used_twice, reset_warnings, check_quiet),
		cmocka_unit_test(hostile_len_clamped),
		cmocka_unit_test(detach_returns_inflight_once),
		cmocka_unit_test(hostile_random_device),
	};
	return cmocka_run_group_tests_name("virtq", tests, NULL, NULL);
}
