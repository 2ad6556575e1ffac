/* SPDX-License-Identifier: MIT */
/* core/virtio_mmio_drv: probe, reset, status handshake, 64-bit features,
 * queue setup, notify, interrupt ack and generation-consistent config
 * reads, against the fake register file in test_virtio_mmio_drv_fakedev.h. */
#include "test_virtio_mmio_drv_fakedev.h"

static struct vmdrv d;
static struct virtq vq;
static struct virtq_slot slots[256];

static int setup(void **state)
{
	(void)state;
	fake_init();
	return 0;
}

static void probe_accepts_v2_balloon(void **state)
{
	(void)state;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	assert_int_equal(d.device_id, PH_VIRTIO_ID_BALLOON);
	assert_int_equal(d.vendor_id, 0x554d4551);
}

static void probe_rejects_bad_magic(void **state)
{
	(void)state;
	fd.magic = 0x12345678;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), -PH_ENODEV);
}

static void probe_rejects_legacy(void **state)
{
	(void)state;
	fd.version = 1;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), -PH_ENODEV);
}

static void probe_rejects_empty_slot(void **state)
{
	(void)state;
	fd.device_id = 0;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), -PH_ENODEV);
}

/* reset, ACK, DRIVER, features, FEATURES_OK in that order; the accepted
 * set is offered & wanted plus VERSION_1, written in both halves. */
static void negotiate_handshake(void **state)
{
	(void)state;
	fd.offered |= 1ull << PH_VIRTIO_F_ACCESS_PLATFORM; /* high half, not wanted */
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	uint64_t want = 1ull << PH_VIRTIO_BALLOON_F_REPORTING | 1ull << PH_VIRTIO_RING_F_EVENT_IDX |
			1ull << PH_VIRTIO_BALLOON_F_FREE_PAGE_HINT; /* not offered */
	uint64_t got = 0;
	assert_int_equal(vmdrv_negotiate(&d, want, &got), 0);
	uint64_t expect = 1ull << PH_VIRTIO_F_VERSION_1 | 1ull << PH_VIRTIO_BALLOON_F_REPORTING |
			  1ull << PH_VIRTIO_RING_F_EVENT_IDX;
	assert_int_equal(got, expect);
	assert_int_equal(d.features, expect);
	assert_int_equal(fd.drv_features, expect);
	assert_true(vmdrv_has(&d, PH_VIRTIO_F_VERSION_1));
	assert_false(vmdrv_has(&d, PH_VIRTIO_F_ACCESS_PLATFORM));
	assert_int_equal(d.device_features, fd.offered);
	const uint32_t A = PH_VIRTIO_CONFIG_S_ACKNOWLEDGE, D = PH_VIRTIO_CONFIG_S_DRIVER,
		       F = PH_VIRTIO_CONFIG_S_FEATURES_OK;
	assert_int_equal(fd.status_writes, 4);
	assert_int_equal(fd.status_log[0], 0);
	assert_int_equal(fd.status_log[1], A);
	assert_int_equal(fd.status_log[2], A | D);
	assert_int_equal(fd.status_log[3], A | D | F);
	assert_int_equal(fd.resets, 1);
	vmdrv_driver_ok(&d);
	assert_int_equal(fd.status, A | D | F | PH_VIRTIO_CONFIG_S_DRIVER_OK);
	assert_false(vmdrv_needs_reset(&d));
}

static void negotiate_features_ok_refused(void **state)
{
	(void)state;
	fd.refuse_features_ok = true;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	assert_int_equal(vmdrv_negotiate(&d, ~0ull, NULL), -PH_EIO);
	assert_true(fd.status & PH_VIRTIO_CONFIG_S_FAILED);
	assert_false(fd.status & PH_VIRTIO_CONFIG_S_FEATURES_OK);
	assert_int_equal(d.features, 0);
}

static void negotiate_needs_version_1(void **state)
{
	(void)state;
	fd.offered &= ~(1ull << PH_VIRTIO_F_VERSION_1);
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	assert_int_equal(vmdrv_negotiate(&d, ~0ull, NULL), -PH_ENODEV);
	assert_true(fd.status & PH_VIRTIO_CONFIG_S_FAILED);
}

static void reset_that_never_completes_times_out(void **state)
{
	(void)state;
	fd.reset_stuck = true;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	assert_int_equal(vmdrv_reset(&d), -PH_ETIMEDOUT);
	assert_int_equal(vmdrv_negotiate(&d, 0, NULL), -PH_ETIMEDOUT);
}

static void queue_setup(void **state)
{
	(void)state;
	fd.queue_max = 64;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	assert_int_equal(vmdrv_negotiate(&d, 1ull << PH_VIRTIO_BALLOON_F_REPORTING, NULL), 0);
	/* inflate, deflate, reporting exist; queue 3 does not */
	assert_int_equal(vmdrv_queue_max(&d, 2), 64);
	assert_int_equal(vmdrv_queue_max(&d, 3), -PH_ENOENT);
	uint8_t *ring = fake_ram + 0x3000;
	assert_int_equal(virtq_init_contig(&vq, 64, ring, slots, false), 0);
	assert_int_equal(vmdrv_queue_enable(&d, 2, &vq), 0);
	assert_int_equal(fd.q[2].num, 64);
	assert_int_equal(fd.q[2].desc, 0x3000);
	assert_int_equal(fd.q[2].avail, fake_phys(vq.avail));
	assert_int_equal(fd.q[2].used, fake_phys(vq.used));
	assert_int_equal(fd.q[2].ready, 1);
	/* a live queue is not handed out again */
	assert_int_equal(vmdrv_queue_max(&d, 2), -PH_EBUSY);
	vmdrv_notify(&d, 2);
	assert_int_equal(fd.q[2].notifies, 1);
}

/* Guest RAM above 4 GiB: addresses go out in both halves. */
static void queue_addresses_64_bit(void **state)
{
	(void)state;
	fd.ram_base = 0x123400000000ull;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	assert_int_equal(vmdrv_negotiate(&d, 0, NULL), 0);
	assert_int_equal(vmdrv_queue_max(&d, 1), 256);
	assert_int_equal(virtq_init_contig(&vq, 16, fake_ram + 0x1000, slots, false), 0);
	assert_int_equal(vmdrv_queue_enable(&d, 1, &vq), 0);
	assert_int_equal(fd.q[1].desc, 0x123400001000ull);
	assert_int_equal(fd.q[1].used, fake_phys(vq.used));
	assert_int_equal(fd.q[1].used >> 32, 0x1234);
}

static void interrupt_status_acked(void **state)
{
	(void)state;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	assert_int_equal(vmdrv_interrupt_ack(&d), 0);
	assert_int_equal(fd.acks, 0); /* nothing to ack: no write */
	fd.isr = PH_VIRTIO_MMIO_INT_VRING | PH_VIRTIO_MMIO_INT_CONFIG;
	assert_int_equal(vmdrv_interrupt_ack(&d), PH_VIRTIO_MMIO_INT_VRING | PH_VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(fd.isr, 0);
	assert_int_equal(fd.acks, 1);
}

/* A config read that races a device update is retried until the
 * generation is stable; one that never settles fails. */
static void config_reads_are_generation_consistent(void **state)
{
	(void)state;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	fd.cfg.num_pages = 1234;
	fd.gen_flips = 3;
	uint32_t v = 0;
	assert_int_equal(vmdrv_config_read32(&d, 0, &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(fd.gen_flips, 0);
	fd.gen_flips = 2;
	struct ph_virtio_balloon_config c;
	assert_int_equal(vmdrv_config_read(&d, 0, &c, sizeof(c)), 0);
	assert_int_equal(c.num_pages, 1234);
	fd.gen_flips = 1000000;
	assert_int_equal(vmdrv_config_read32(&d, 0, &v), -PH_EIO);
	vmdrv_config_write32(&d, 4, 77);
	assert_int_equal(fd.cfg.actual, 77);
}

static void needs_reset_noticed(void **state)
{
	(void)state;
	assert_int_equal(vmdrv_probe(&d, &fake_regs, NULL), 0);
	assert_int_equal(vmdrv_negotiate(&d, 0, NULL), 0);
	vmdrv_driver_ok(&d);
	assert_false(vmdrv_needs_reset(&d));
	fake_needs_reset();
	assert_true(vmdrv_needs_reset(&d));
	assert_int_equal(vmdrv_reset(&d), 0);
	assert_true(vmdrv_needs_reset(&d)); /* no DRIVER_OK any more */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(probe_accepts_v2_balloon, setup),
		cmocka_unit_test_setup(probe_rejects_bad_magic, setup),
		cmocka_unit_test_setup(probe_rejects_legacy, setup),
		cmocka_unit_test_setup(probe_rejects_empty_slot, setup),
		cmocka_unit_test_setup(negotiate_handshake, setup),
		cmocka_unit_test_setup(negotiate_features_ok_refused, setup),
		cmocka_unit_test_setup(negotiate_needs_version_1, setup),
		cmocka_unit_test_setup(reset_that_never_completes_times_out, setup),
		cmocka_unit_test_setup(queue_setup, setup),
		cmocka_unit_test_setup(queue_addresses_64_bit, setup),
		cmocka_unit_test_setup(interrupt_status_acked, setup),
		cmocka_unit_test_setup(config_reads_are_generation_consistent, setup),
		cmocka_unit_test_setup(needs_reset_noticed, setup),
	};
	return cmocka_run_group_tests_name("virtio_mmio_drv", tests, NULL, NULL);
}
