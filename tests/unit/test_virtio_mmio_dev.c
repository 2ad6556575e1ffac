/* SPDX-License-Identifier: MIT */
/* The virtio-mmio transport (vmm/virtio_mmio.c) and the device side of
 * the split ring (vmm/vring_dev.c), driven through registers with
 * hand-built rings over a calloc'd guest memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdatomic.h>

#include "test_vmm_driver.h"

static int setup(void **state)
{
	*state = t_dev_new(NULL);
	return 0;
}

static int teardown(void **state)
{
	t_dev_free(*state);
	return 0;
}

static void identity_registers(void **state)
{
	struct t_dev *d = *state;
	assert_int_equal(t_rd(d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
	assert_int_not_equal(t_rd(d, VIRTIO_MMIO_VENDOR_ID), 0);
}

static void offers_transport_and_balloon_features(void **state)
{
	struct t_dev *d = *state;
	uint64_t f = t_device_features(d);
	assert_true(f & T_F(VIRTIO_F_VERSION_1));
	assert_true(f & T_F(VIRTIO_RING_F_EVENT_IDX));
	assert_true(f & T_F(VIRTIO_RING_F_INDIRECT_DESC));
	assert_true(f & T_F(VIRTIO_BALLOON_F_STATS_VQ));
	assert_true(f & T_F(VIRTIO_BALLOON_F_REPORTING));
	assert_false(f & T_F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	/* Selector beyond the two words reads 0. */
	t_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void features_ok_requires_version_1(void **state)
{
	struct t_dev *d = *state;
	uint32_t st = t_negotiate(d, T_F(VIRTIO_BALLOON_F_REPORTING));
	assert_false(st & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void features_ok_refuses_unoffered_bits(void **state)
{
	struct t_dev *d = *state;
	uint32_t st = t_negotiate(d, T_F(VIRTIO_F_VERSION_1) | T_F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	assert_false(st & VIRTIO_CONFIG_S_FEATURES_OK);
	st = t_negotiate(d, T_FEAT_DEFAULT);
	assert_true(st & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void driver_features_frozen_after_features_ok(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_F(VIRTIO_F_VERSION_1));
	t_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	t_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, T_F(VIRTIO_BALLOON_F_REPORTING));
	assert_int_equal(d->t->driver_features, T_F(VIRTIO_F_VERSION_1));
	/* Only inflate and deflate exist without STATS_VQ / REPORTING. */
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void queue_sel_out_of_range_is_harmless(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_FEAT_DEFAULT);
	static const uint32_t sels[] = { 4, 5, 8, 63, 0x80000000u, 0xffffffffu };
	for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		uint32_t sel = sels[i];
		t_wr(d, VIRTIO_MMIO_QUEUE_SEL, sel);
		assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		t_wr(d, VIRTIO_MMIO_QUEUE_NUM, 16);
		t_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
		t_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
		assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
		t_kick(d, sel);
	}
	assert_false(t_needs_reset(d));
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 3);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
}

static void queue_setup_and_readback(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_FEAT_DEFAULT);
	t_setup_queue(d, 1, 64);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_NUM), 64);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW), d->q[1].desc);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_USED_LOW), d->q[1].used);
	/* Layout is frozen while ready. */
	t_wr(d, VIRTIO_MMIO_QUEUE_NUM, 8);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_NUM), 64);
	/* Ready 0 stops the queue. */
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
}

static void ring_outside_ram_needs_reset(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_FEAT_DEFAULT);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	t_wr(d, VIRTIO_MMIO_QUEUE_NUM, 16);
	t_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, T_MEM_SIZE - 64);	/* runs off the end */
	t_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
	t_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(t_needs_reset(d));
}

static void ring_high_address_overflow_needs_reset(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_FEAT_DEFAULT);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	t_wr(d, VIRTIO_MMIO_QUEUE_NUM, 16);
	t_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0xfffffff0);
	t_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0xffffffff);
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(t_needs_reset(d));
}

static void queue_size_not_power_of_two_needs_reset(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_FEAT_DEFAULT);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	t_wr(d, VIRTIO_MMIO_QUEUE_NUM, 24);
	t_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x10000);
	t_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x11000);
	t_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, 0x12000);
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(t_needs_reset(d));
}

static void queue_size_above_max_needs_reset(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_FEAT_DEFAULT);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	t_wr(d, VIRTIO_MMIO_QUEUE_NUM, 512);
	t_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x10000);
	t_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x14000);
	t_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, 0x15000);
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(t_needs_reset(d));
}

static void reset_clears_everything(void **state)
{
	struct t_dev *d = *state;
	t_bringup(d, T_FEAT_DEFAULT, 16);
	balloon_set_target(d->b, 10);
	assert_int_not_equal(t_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	t_wr(d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(d->t->driver_features, 0);
}

static void config_change_bumps_generation_and_interrupts(void **state)
{
	struct t_dev *d = *state;
	t_bringup(d, T_FEAT_DEFAULT, 16);
	uint32_t gen = t_rd(d, VIRTIO_MMIO_CONFIG_GENERATION);
	unsigned irqs = d->irqs;
	balloon_set_target(d->b, 1234);
	assert_int_not_equal(t_rd(d, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(d->irqs, irqs + 1);
	assert_true(t_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_CONFIG + offsetof(struct virtio_balloon_config, num_pages)), 1234);
	/* Byte access to config works too. */
	assert_int_equal(virtio_mmio_read(d->t, VIRTIO_MMIO_CONFIG + 1, 1), 1234 >> 8);
	t_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void config_out_of_range_reads_zero(void **state)
{
	struct t_dev *d = *state;
	balloon_set_target(d->b, 0xffffffff);
	assert_int_equal(virtio_mmio_read(d->t, VIRTIO_MMIO_CONFIG + 8, 4), 0);
	assert_int_equal(virtio_mmio_read(d->t, VIRTIO_MMIO_CONFIG + 6, 4), 0);	/* straddles the end */
	assert_int_equal(virtio_mmio_read(d->t, VIRTIO_MMIO_CONFIG + 0xfc, 4), 0);
	virtio_mmio_write(d->t, VIRTIO_MMIO_CONFIG + 0x40, 4, 1);
}

static void narrow_register_access_ignored(void **state)
{
	struct t_dev *d = *state;
	assert_int_equal(virtio_mmio_read(d->t, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	virtio_mmio_write(d->t, VIRTIO_MMIO_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(t_rd(d, 0x0f0), 0);	/* no register there */
	assert_int_equal(t_rd(d, VIRTIO_MMIO_QUEUE_PFN), 0); /* legacy */
}

static void used_buffer_interrupt_and_ack(void **state)
{
	struct t_dev *d = *state;
	t_bringup(d, T_FEAT_DEFAULT, 16);
	uint64_t a = T_DATA_BASE;
	uint32_t l = 4096;
	t_add_ranges(d, 3, &a, &l, 1, true);
	t_kick(d, 3);
	assert_int_equal(t_used_idx(d, 3), 1);
	assert_int_equal(d->irqs, 1);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	t_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(t_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void no_interrupt_flag_suppresses(void **state)
{
	struct t_dev *d = *state;
	t_bringup(d, T_FEAT_DEFAULT, 16);
	struct vring_avail *av = t_ptr(d, d->q[3].avail);
	av->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	uint64_t a = T_DATA_BASE;
	uint32_t l = 4096;
	t_add_ranges(d, 3, &a, &l, 1, true);
	t_kick(d, 3);
	assert_int_equal(t_used_idx(d, 3), 1);
	assert_int_equal(d->irqs, 0);
}

static void event_idx_suppresses_until_used_event(void **state)
{
	struct t_dev *d = *state;
	t_bringup(d, T_FEAT_DEFAULT | T_F(VIRTIO_RING_F_EVENT_IDX), 16);
	struct vring_avail *av = t_ptr(d, d->q[3].avail);
	struct vring_used *u = t_ptr(d, d->q[3].used);
	uint16_t *used_event = &av->ring[16];
	uint16_t *avail_event = (uint16_t *)&u->ring[16];

	/* Driver wants an interrupt only when used idx passes 2. */
	*used_event = htole16(2);
	uint64_t a = T_DATA_BASE;
	uint32_t l = 4096;
	for (int i = 0; i < 2; i++) {
		t_add_ranges(d, 3, &a, &l, 1, true);
		t_kick(d, 3);
	}
	assert_int_equal(t_used_idx(d, 3), 2);
	assert_int_equal(d->irqs, 0);
	/* The device tells the driver where to kick next. */
	assert_int_equal(le16toh(*avail_event), 2);
	t_add_ranges(d, 3, &a, &l, 1, true);
	t_kick(d, 3);
	assert_int_equal(t_used_idx(d, 3), 3);
	assert_int_equal(d->irqs, 1);
}

static void buffers_before_driver_ok_wait(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_FEAT_DEFAULT);
	for (unsigned i = 0; i < 4; i++)
		t_setup_queue(d, i, 16);
	uint64_t a = T_DATA_BASE;
	uint32_t l = 8192;
	t_add_ranges(d, 3, &a, &l, 1, true);
	t_kick(d, 3);
	assert_int_equal(t_used_idx(d, 3), 0);
	assert_int_equal(d->ndiscards, 0);
	t_driver_ok(d);
	assert_int_equal(t_used_idx(d, 3), 1);
	assert_int_equal(d->ndiscards, 1);
}

/* Found by tests/fuzz/fuzz_mmio: DRIVER_OK without FEATURES_OK leaves
 * queues the device has no role for; buffers on them must not make the
 * transport spin. */
static void driver_ok_without_features_ok_does_not_hang(void **state)
{
	struct t_dev *d = *state;
	t_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	for (unsigned i = 0; i < 4; i++)
		t_setup_queue(d, i, 16);
	uint64_t a = T_DATA_BASE;
	uint32_t l = 4096;
	t_add_ranges(d, 3, &a, &l, 1, true);
	t_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	     VIRTIO_CONFIG_S_DRIVER_OK);
	t_kick(d, 3);
	assert_int_equal(t_used_idx(d, 3), 0);
	assert_int_equal(d->ndiscards, 0);
}

/* A queue the device does not use (reporting not negotiated on a
 * transport that still lets the driver set it up) doesn't spin either. */
static void unused_queue_with_buffers_does_not_hang(void **state)
{
	struct t_dev *d = *state;
	t_negotiate(d, T_F(VIRTIO_F_VERSION_1) | T_F(VIRTIO_BALLOON_F_STATS_VQ) |
		       T_F(VIRTIO_BALLOON_F_REPORTING));
	for (unsigned i = 0; i < 4; i++)
		t_setup_queue(d, i, 16);
	t_driver_ok(d);
	/* Reset the device's view behind the transport's back: queue 3 now
	 * has no role. */
	balloon_ops.set_features(d->b, T_F(VIRTIO_F_VERSION_1));
	uint64_t a = T_DATA_BASE;
	uint32_t l = 4096;
	t_add_ranges(d, 3, &a, &l, 1, true);
	t_kick(d, 3);
	assert_int_equal(t_used_idx(d, 3), 0);
}

static void notify_for_missing_queue_ignored(void **state)
{
	struct t_dev *d = *state;
	t_bringup(d, T_FEAT_DEFAULT, 16);
	t_kick(d, 4);
	t_kick(d, 0xffffffff);
	virtio_mmio_notify(d->t, 7);
	assert_false(t_needs_reset(d));
}

static void record_kick(void *opaque, unsigned q)
{
	*(unsigned *)opaque = q;
}

static void kick_callback_receives_notify(void **state)
{
	struct t_dev *d = *state;
	unsigned got = ~0u;
	virtio_mmio_set_kick(d->t, record_kick, &got);
	t_kick(d, 3);
	assert_int_equal(got, 3);
}

/* The VMM's shape: a worker thread runs notify while a "vCPU" thread
 * reads registers and resets the device. Under ASan, nothing may touch
 * freed queue state; the device ends in a sane state. */
struct race {
	struct t_dev *d;
	atomic_bool stop;
	atomic_ulong notifies;
};

static void *race_worker(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->stop)) {
		virtio_mmio_notify(r->d->t, 3);
		atomic_fetch_add(&r->notifies, 1);
	}
	return NULL;
}

static void notify_races_with_reset(void **state)
{
	struct t_dev *d = *state;
	struct race r = { .d = d };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, race_worker, &r), 0);
	/* At least 300 resets, and go on until the worker has really been
	 * running beside them: on a loaded host it may start late. */
	int rounds;
	for (rounds = 0; rounds < 300 || (atomic_load(&r.notifies) < 100 && rounds < 1000000); rounds++) {
		t_bringup(d, T_FEAT_DEFAULT | T_F(VIRTIO_RING_F_EVENT_IDX), 16);
		uint64_t a = T_DATA_BASE;
		uint32_t l = 4096;
		t_add_ranges(d, 3, &a, &l, 1, true);
		(void)t_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
		t_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, 3);
		(void)t_rd(d, VIRTIO_MMIO_QUEUE_READY);
	}
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	assert_true(atomic_load(&r.notifies) >= 100);
	assert_false(t_needs_reset(d));
	assert_true(d->ndiscards <= (unsigned)rounds);	/* one range per round */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(identity_registers),
		T(offers_transport_and_balloon_features),
		T(features_ok_requires_version_1),
		T(features_ok_refuses_unoffered_bits),
		T(driver_features_frozen_after_features_ok),
		T(queue_sel_out_of_range_is_harmless),
		T(queue_setup_and_readback),
		T(ring_outside_ram_needs_reset),
		T(ring_high_address_overflow_needs_reset),
		T(queue_size_not_power_of_two_needs_reset),
		T(queue_size_above_max_needs_reset),
		T(reset_clears_everything),
		T(config_change_bumps_generation_and_interrupts),
		T(config_out_of_range_reads_zero),
		T(narrow_register_access_ignored),
		T(used_buffer_interrupt_and_ack),
		T(no_interrupt_flag_suppresses),
		T(event_idx_suppresses_until_used_event),
		T(buffers_before_driver_ok_wait),
		T(driver_ok_without_features_ok_does_not_hang),
		T(unused_queue_with_buffers_does_not_hang),
		T(notify_for_missing_queue_ignored),
		T(kick_callback_receives_notify),
		T(notify_races_with_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
