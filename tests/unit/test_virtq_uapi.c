/* SPDX-License-Identifier: MIT */
/* core/virtio_defs.h mirrors the Linux UAPI virtio headers (core/ cannot
 * include them): every constant and every struct size and offset defined
 * there is checked against the real headers here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "virtio_defs.h"

#define SAME(ours, theirs) assert_int_equal((long long)(ours), (long long)(theirs))
#define SAME_OFF(ours, theirs, field) \
	SAME(offsetof(struct ours, field), offsetof(struct theirs, field))

static void ring_constants_match(void **state)
{
	(void)state;
	SAME(PH_VRING_DESC_F_NEXT, VRING_DESC_F_NEXT);
	SAME(PH_VRING_DESC_F_WRITE, VRING_DESC_F_WRITE);
	SAME(PH_VRING_DESC_F_INDIRECT, VRING_DESC_F_INDIRECT);
	SAME(PH_VRING_USED_F_NO_NOTIFY, VRING_USED_F_NO_NOTIFY);
	SAME(PH_VRING_AVAIL_F_NO_INTERRUPT, VRING_AVAIL_F_NO_INTERRUPT);
	SAME(PH_VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_INDIRECT_DESC);
	SAME(PH_VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_EVENT_IDX);
	SAME(PH_VRING_AVAIL_ALIGN_SIZE, VRING_AVAIL_ALIGN_SIZE);
	SAME(PH_VRING_USED_ALIGN_SIZE, VRING_USED_ALIGN_SIZE);
	SAME(PH_VRING_DESC_ALIGN_SIZE, VRING_DESC_ALIGN_SIZE);
}

static void ring_layout_matches(void **state)
{
	(void)state;
	SAME(sizeof(struct ph_vring_desc), sizeof(struct vring_desc));
	SAME_OFF(ph_vring_desc, vring_desc, addr);
	SAME_OFF(ph_vring_desc, vring_desc, len);
	SAME_OFF(ph_vring_desc, vring_desc, flags);
	SAME_OFF(ph_vring_desc, vring_desc, next);
	SAME(sizeof(struct ph_vring_avail), sizeof(struct vring_avail));
	SAME_OFF(ph_vring_avail, vring_avail, flags);
	SAME_OFF(ph_vring_avail, vring_avail, idx);
	SAME_OFF(ph_vring_avail, vring_avail, ring);
	SAME(sizeof(struct ph_vring_used_elem), sizeof(struct vring_used_elem));
	SAME_OFF(ph_vring_used_elem, vring_used_elem, id);
	SAME_OFF(ph_vring_used_elem, vring_used_elem, len);
	SAME(sizeof(struct ph_vring_used), sizeof(struct vring_used));
	SAME_OFF(ph_vring_used, vring_used, flags);
	SAME_OFF(ph_vring_used, vring_used, idx);
	SAME_OFF(ph_vring_used, vring_used, ring);
}

/* The event words sit right after each ring, as vring_init() lays it out
 * with the spec's minimum alignment; our part sizes must agree. */
static void ring_part_sizes_match(void **state)
{
	(void)state;
	for (unsigned num = 1; num <= 32768; num <<= 1) {
		static _Alignas(16) unsigned char mem[1 << 20];
		struct vring vr;
		vring_init(&vr, num, mem, VRING_USED_ALIGN_SIZE);
		unsigned char *avail = (unsigned char *)vr.avail;
		unsigned char *used = (unsigned char *)vr.used;
		SAME(avail - mem, PH_VRING_DESC_BYTES(num));
		SAME((unsigned char *)&vring_used_event(&vr) + 2 - avail, PH_VRING_AVAIL_BYTES(num));
		SAME((unsigned char *)&vring_avail_event(&vr) + 2 - used, PH_VRING_USED_BYTES(num));
		SAME(used + PH_VRING_USED_BYTES(num) - mem, vring_size(num, VRING_USED_ALIGN_SIZE));
	}
}

static void config_constants_match(void **state)
{
	(void)state;
	SAME(PH_VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	SAME(PH_VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER);
	SAME(PH_VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_DRIVER_OK);
	SAME(PH_VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_FEATURES_OK);
	SAME(PH_VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_CONFIG_S_NEEDS_RESET);
	SAME(PH_VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FAILED);
	SAME(PH_VIRTIO_F_VERSION_1, VIRTIO_F_VERSION_1);
	SAME(PH_VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_ACCESS_PLATFORM);
	SAME(PH_VIRTIO_F_RING_PACKED, VIRTIO_F_RING_PACKED);
	SAME(PH_VIRTIO_ID_BALLOON, VIRTIO_ID_BALLOON);
}

static void mmio_constants_match(void **state)
{
	(void)state;
	SAME(PH_VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_MAGIC_VALUE);
	SAME(PH_VIRTIO_MMIO_VERSION, VIRTIO_MMIO_VERSION);
	SAME(PH_VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_DEVICE_ID);
	SAME(PH_VIRTIO_MMIO_VENDOR_ID, VIRTIO_MMIO_VENDOR_ID);
	SAME(PH_VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_DEVICE_FEATURES);
	SAME(PH_VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DEVICE_FEATURES_SEL);
	SAME(PH_VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES);
	SAME(PH_VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES_SEL);
	SAME(PH_VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_SEL);
	SAME(PH_VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_QUEUE_NUM_MAX);
	SAME(PH_VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_NUM);
	SAME(PH_VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_READY);
	SAME(PH_VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_QUEUE_NOTIFY);
	SAME(PH_VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_INTERRUPT_STATUS);
	SAME(PH_VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INTERRUPT_ACK);
	SAME(PH_VIRTIO_MMIO_STATUS, VIRTIO_MMIO_STATUS);
	SAME(PH_VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_LOW);
	SAME(PH_VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_DESC_HIGH);
	SAME(PH_VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_AVAIL_LOW);
	SAME(PH_VIRTIO_MMIO_QUEUE_AVAIL_HIGH, VIRTIO_MMIO_QUEUE_AVAIL_HIGH);
	SAME(PH_VIRTIO_MMIO_QUEUE_USED_LOW, VIRTIO_MMIO_QUEUE_USED_LOW);
	SAME(PH_VIRTIO_MMIO_QUEUE_USED_HIGH, VIRTIO_MMIO_QUEUE_USED_HIGH);
	SAME(PH_VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_CONFIG_GENERATION);
	SAME(PH_VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_CONFIG);
	SAME(PH_VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_INT_VRING);
	SAME(PH_VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
	/* The magic is "virt" read as a little-endian u32. */
	SAME(PH_VIRTIO_MMIO_MAGIC, ('v' | 'i' << 8 | 'r' << 16 | (unsigned)'t' << 24));
}

static void balloon_constants_match(void **state)
{
	(void)state;
	SAME(PH_VIRTIO_BALLOON_F_MUST_TELL_HOST, VIRTIO_BALLOON_F_MUST_TELL_HOST);
	SAME(PH_VIRTIO_BALLOON_F_STATS_VQ, VIRTIO_BALLOON_F_STATS_VQ);
	SAME(PH_VIRTIO_BALLOON_F_DEFLATE_ON_OOM, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	SAME(PH_VIRTIO_BALLOON_F_FREE_PAGE_HINT, VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	SAME(PH_VIRTIO_BALLOON_F_PAGE_POISON, VIRTIO_BALLOON_F_PAGE_POISON);
	SAME(PH_VIRTIO_BALLOON_F_REPORTING, VIRTIO_BALLOON_F_REPORTING);
	SAME(PH_VIRTIO_BALLOON_PFN_SHIFT, VIRTIO_BALLOON_PFN_SHIFT);
	SAME(PH_VIRTIO_BALLOON_S_SWAP_IN, VIRTIO_BALLOON_S_SWAP_IN);
	SAME(PH_VIRTIO_BALLOON_S_SWAP_OUT, VIRTIO_BALLOON_S_SWAP_OUT);
	SAME(PH_VIRTIO_BALLOON_S_MAJFLT, VIRTIO_BALLOON_S_MAJFLT);
	SAME(PH_VIRTIO_BALLOON_S_MINFLT, VIRTIO_BALLOON_S_MINFLT);
	SAME(PH_VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_MEMFREE);
	SAME(PH_VIRTIO_BALLOON_S_MEMTOT, VIRTIO_BALLOON_S_MEMTOT);
	SAME(PH_VIRTIO_BALLOON_S_AVAIL, VIRTIO_BALLOON_S_AVAIL);
	SAME(PH_VIRTIO_BALLOON_S_CACHES, VIRTIO_BALLOON_S_CACHES);
	SAME(PH_VIRTIO_BALLOON_S_HTLB_PGALLOC, VIRTIO_BALLOON_S_HTLB_PGALLOC);
	SAME(PH_VIRTIO_BALLOON_S_HTLB_PGFAIL, VIRTIO_BALLOON_S_HTLB_PGFAIL);
	SAME(PH_VIRTIO_BALLOON_S_NR, VIRTIO_BALLOON_S_NR);
}

static void balloon_layout_matches(void **state)
{
	(void)state;
	SAME(sizeof(struct ph_virtio_balloon_config), sizeof(struct virtio_balloon_config));
	SAME_OFF(ph_virtio_balloon_config, virtio_balloon_config, num_pages);
	SAME_OFF(ph_virtio_balloon_config, virtio_balloon_config, actual);
	SAME_OFF(ph_virtio_balloon_config, virtio_balloon_config, free_page_hint_cmd_id);
	SAME_OFF(ph_virtio_balloon_config, virtio_balloon_config, poison_val);
	SAME(sizeof(struct ph_virtio_balloon_stat), sizeof(struct virtio_balloon_stat));
	SAME_OFF(ph_virtio_balloon_stat, virtio_balloon_stat, tag);
	SAME_OFF(ph_virtio_balloon_stat, virtio_balloon_stat, val);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ring_constants_match),
		cmocka_unit_test(ring_layout_matches),
		cmocka_unit_test(ring_part_sizes_match),
		cmocka_unit_test(config_constants_match),
		cmocka_unit_test(mmio_constants_match),
		cmocka_unit_test(balloon_constants_match),
		cmocka_unit_test(balloon_layout_matches),
	};
	return cmocka_run_group_tests_name("virtio_uapi", tests, NULL, NULL);
}
