/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-mmio register interface of vmm/virtio_mmio.c
 * with the balloon behind it. Any sequence of reads and writes of any width
 * at any offset, mostly at the registers that exist and with values that
 * mean something (status bit sets, ring addresses inside RAM, queue
 * numbers), plus enough ring content (raw writes, published chains) and
 * notifications that queue processing runs against whatever register
 * state the sequence left. A "bring-up" action jumps to a live device so
 * the interesting states are reached quickly. Checks: fuzz_dev.h's, plus
 * the registers that must read back fixed values.
 */
#include "fuzz_dev.h"
#include "fuzz_input.h"

#define MAX_ACTIONS 1024

static const uint16_t regs[] = {
	VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VERSION, VIRTIO_MMIO_DEVICE_ID,
	VIRTIO_MMIO_VENDOR_ID, VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_DEVICE_FEATURES_SEL,
	VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_GUEST_PAGE_SIZE,
	VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_QUEUE_NUM,
	VIRTIO_MMIO_QUEUE_ALIGN, VIRTIO_MMIO_QUEUE_PFN, VIRTIO_MMIO_QUEUE_READY,
	VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_INTERRUPT_ACK,
	VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH,
	VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, VIRTIO_MMIO_QUEUE_USED_LOW,
	VIRTIO_MMIO_QUEUE_USED_HIGH, VIRTIO_MMIO_SHM_SEL, VIRTIO_MMIO_SHM_LEN_LOW,
	VIRTIO_MMIO_SHM_LEN_HIGH, VIRTIO_MMIO_SHM_BASE_LOW, VIRTIO_MMIO_SHM_BASE_HIGH,
	VIRTIO_MMIO_CONFIG_GENERATION,
	VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_CONFIG + 4, VIRTIO_MMIO_CONFIG + 8, VIRTIO_MMIO_CONFIG + 12,
};
#define NREGS (sizeof(regs) / sizeof(regs[0]))

static uint64_t pick_off(struct fz *f)
{
	uint8_t sel = fz_u8(f);
	if (sel < 200)
		return regs[sel % NREGS];
	if (sel < 230)
		return VIRTIO_MMIO_CONFIG + fz_below(f, 24);	/* config, any byte */
	if (sel < 250)
		return fz_u16(f) % VIRTIO_MMIO_WINDOW;
	return fz_u64(f);
}

static unsigned pick_size(struct fz *f)
{
	uint8_t sel = fz_u8(f);
	static const unsigned sizes[] = { 4, 4, 4, 4, 1, 2, 8, 0, 3, 16 };
	return sel < 250 ? sizes[sel % 10] : sel;
}

static uint32_t pick_val(struct fz *f, uint64_t off)
{
	uint8_t sel = fz_u8(f);
	if (sel >= 128)
		return fz_u32(f);
	switch (off) {
	case VIRTIO_MMIO_STATUS:
		return fz_u8(f);			/* any combination of status bits */
	case VIRTIO_MMIO_QUEUE_SEL:
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		return fz_below(f, 6);
	case VIRTIO_MMIO_QUEUE_NUM:
		return 1u << fz_below(f, 10);
	case VIRTIO_MMIO_DRIVER_FEATURES:
		return (uint32_t)fz_u8(f) | (fz_u8(f) & 1 ? 1u : 0);
	case VIRTIO_MMIO_QUEUE_READY:
		return fz_u8(f) & 1;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return (uint32_t)fd_addr(f);
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return sel & 1 ? 0 : (uint32_t)(fd_addr(f) >> 32);
	default:
		return fz_u8(f);
	}
}

/* Write a chain of n descriptors at descriptor n0 of whatever queue qi's
 * registers say now, and publish it. Ignored if that is not in RAM. */
static void publish_chain(struct fz *f, unsigned qi)
{
	struct vmmio_queue *q = &fd.t->q[qi];
	unsigned num = q->num ? q->num : 1;
	struct vring_avail *a = (void *)fd_ptr(q->avail, 4 + 2ULL * num);
	uint8_t *table = fd_ptr(q->desc, 16ULL * num);
	unsigned n = 1 + fz_below(f, 4), n0 = fz_below(f, num);

	if (!a || !table || (q->avail & 1) || (q->desc & 15))
		return;
	for (unsigned k = 0; k < n; k++) {
		struct vring_desc d = {
			.addr = htole64(fd_addr(f)),
			.len = htole32(fd_len(f)),
			.flags = htole16((uint16_t)(fz_u8(f) & 7) | (k + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = htole16((uint16_t)((n0 + k + 1) % num)),
		};
		memcpy(table + 16ULL * ((n0 + k) % num), &d, 16);
	}
	uint16_t idx = le16toh(a->idx);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "publish queue %u head %u (avail idx %u)\n", qi, n0, idx + 1u);
	a->ring[idx % num] = htole16((uint16_t)n0);
	__atomic_store_n(&a->idx, htole16((uint16_t)(idx + 1)), __ATOMIC_RELEASE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t c = fz_u8(&f);

	fd_create((c & 1) ? BALLOON_PROTO_SEED_V8 : BALLOON_PROTO_VIRTIO, c & 2, c & 4);
	for (unsigned a = 0; a < MAX_ACTIONS && !fz_empty(&f); a++) {
		uint8_t op = fz_u8(&f);
		switch (op % 10) {
		case 0: case 1: case 2: case 3: {
			uint64_t off = pick_off(&f);
			unsigned sz = pick_size(&f);
			uint32_t v = pick_val(&f, off);
			if (getenv("FUZZ_VERBOSE"))
				fprintf(stderr, "write %#llx/%u = %#x\n", (unsigned long long)off, sz, v);
			virtio_mmio_write(fd.t, off, sz, v);
			break;
		}
		case 4: case 5: {
			uint64_t off = pick_off(&f);
			unsigned sz = pick_size(&f);
			uint32_t v = virtio_mmio_read(fd.t, off, sz);
			if (sz == 4 && off == VIRTIO_MMIO_MAGIC_VALUE)
				FZ_ASSERT(v == VIRTIO_MMIO_MAGIC, "magic %#x", v);
			if (sz == 4 && off == VIRTIO_MMIO_VERSION)
				FZ_ASSERT(v == 2, "version %u", v);
			if (sz == 4 && off == VIRTIO_MMIO_QUEUE_NUM_MAX)
				FZ_ASSERT(v == 0 || v == balloon_ops.queue_max, "QueueNumMax %u", v);
			if (sz > 4 || off >= VIRTIO_MMIO_CONFIG + balloon_ops.config_size)
				FZ_ASSERT(v == 0, "read of %u bytes at %#llx gave %#x", sz,
					  (unsigned long long)off, v);
			break;
		}
		case 6: {	/* raw bytes in region 0, where rings usually are */
			uint64_t at = fz_u32(&f) % fd_reg_size[0];
			unsigned n = 1 + fz_below(&f, 16);
			uint8_t *p = fd_ptr(at, n);
			for (unsigned i = 0; p && i < n; i++)
				p[i] = fz_u8(&f);
			break;
		}
		case 7:
			publish_chain(&f, fz_below(&f, VIRTIO_MMIO_MAX_QUEUES));
			break;
		case 8: {	/* a quick bring-up to a live device */
			uint64_t feat = 1ULL << VIRTIO_F_VERSION_1 | (uint64_t)(fz_u8(&f) & 0x23) |
					(uint64_t)(fz_u8(&f) & 3) << VIRTIO_RING_F_INDIRECT_DESC;
			unsigned nq = 2 + !!(feat & 2) + !!(feat & 0x20);
			uint32_t num = 1u << fz_below(&f, 9);
			fd_negotiate(feat);
			for (unsigned qi = 0; qi < nq; qi++)
				fd_queue_default(qi, num);
			fd_wr(VIRTIO_MMIO_STATUS, fd_rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
			break;
		}
		case 9:
			if (op & 0x10)
				balloon_set_target(fd.b, fz_u32(&f));
			else if (op & 0x20)
				balloon_request_stats(fd.b);
			else
				virtio_mmio_notify(fd.t, fz_u8(&f));
			break;
		}
		fd_check();
	}
	fd_destroy();
	return 0;
}
