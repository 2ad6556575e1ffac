/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: vmm/balloon.c's queues (inflate, deflate, stats,
 * reporting, and the seed-v8 hinting format) behind vmm/virtio_mmio.c,
 * over fake guest RAM whose rings and descriptors come from the input.
 *
 * Input: two configuration bytes (protocol, offered features, negotiated
 * ring features, queue size; whether the exitless map is negotiated),
 * then actions until the input ends. The
 * device is brought up properly first, so the actions reach the queue
 * handlers: chains of 1-8 descriptors built for their queue's role
 * (with a wrong direction, an odd next or a loop now and then, a
 * readable message split inside an entry), indirect
 * tables, raw writes anywhere in the rings, avail index jumps, kicks,
 * QueueReady flips, resets, host-side target and stats requests; with
 * the exitless map: map descriptors (mostly well formed, their status
 * checked against the harness's own reading of docs/exitless.md §1), a
 * guest writing any value into the map's entries and bumping free_gen,
 * scanner polls, FAILED. The checks are fuzz_dev.h's.
 */
#include "fuzz_dev.h"
#include "fuzz_input.h"
#include "virtio_defs.h"

#define MAX_ACTIONS 512
#define DATA_END 0x100000ULL	/* buffers the harness fills: [FD_DATA_BASE, DATA_END) */

struct shadow {
	uint16_t next_desc;
	uint32_t num;
	bool live;
};

static struct {
	unsigned nq;
	uint32_t num;
	uint64_t features;
	struct shadow q[VIRTIO_MMIO_MAX_QUEUES];
	uint64_t data_next;
	bool xl;			/* bit 23 negotiated: the map queue is nq - 1 */
	uint64_t map_gpa;		/* the map the guest posted last */
	uint64_t now;			/* the scanner's clock */
} h;

/* A buffer of n bytes in the data area (wrapping), 16-aligned. */
static uint64_t data_alloc(uint32_t n)
{
	n = (n + 15) & ~15u;
	if (h.data_next + n > DATA_END || h.data_next < FD_DATA_BASE)
		h.data_next = FD_DATA_BASE;
	uint64_t a = h.data_next;
	h.data_next += n;
	return a;
}

static void bringup(void)
{
	fd_negotiate(h.features);
	for (unsigned i = 0; i < h.nq; i++) {
		fd_queue_default(i, h.num);
		h.q[i] = (struct shadow){ .num = h.num, .live = true };
	}
	fd_wr(VIRTIO_MMIO_STATUS, fd_rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
}

static struct vring_desc *desc_at(unsigned qi, unsigned i)
{
	struct vmmio_queue *q = &fd.t->q[qi];
	return (struct vring_desc *)fd_ptr(q->desc + 16ULL * i, 16);
}

static void publish(unsigned qi, uint16_t head)
{
	struct vmmio_queue *q = &fd.t->q[qi];
	struct vring_avail *a = (void *)fd_ptr(q->avail, 4 + 2ULL * q->num);
	if (!a || !q->num)
		return;
	uint16_t idx = le16toh(a->idx);
	a->ring[idx % q->num] = htole16(head);
	__atomic_store_n(&a->idx, htole16((uint16_t)(idx + 1)), __ATOMIC_RELEASE);
}

/* Fill a buffer the way the role expects; returns its address and length. */
static void role_buffer(struct fz *f, enum balloon_queue_role role, uint64_t *addr, uint32_t *len,
			bool *write)
{
	unsigned k = 1 + fz_below(f, 16);
	uint8_t *p;

	switch (role) {
	case BQ_INFLATE:
	case BQ_DEFLATE:	/* le32 pfns */
		*addr = data_alloc(4 * k);
		*len = 4 * k;
		*write = false;
		p = fd_ptr(*addr, *len);
		for (unsigned i = 0; i < k; i++) {
			uint32_t pfn = htole32((uint32_t)(fd_addr(f) >> 12));
			memcpy(p + 4 * i, &pfn, 4);
		}
		return;
	case BQ_STATS:		/* packed le16 tag, le64 val */
		*addr = data_alloc(10 * k);
		*len = 10 * k;
		*write = false;
		p = fd_ptr(*addr, *len);
		for (unsigned i = 0; i < k; i++) {
			uint16_t tag = htole16((uint16_t)fz_below(f, 12));
			uint64_t val = htole64(fz_u64(f));
			memcpy(p + 10 * i, &tag, 2);
			memcpy(p + 10 * i + 2, &val, 8);
		}
		return;
	case BQ_REPORT:
		if (fd.cfg.protocol == BALLOON_PROTO_SEED_V8) {
			*addr = data_alloc(16 * k);
			*len = 16 * k;
			*write = false;
			p = fd_ptr(*addr, *len);
			for (unsigned i = 0; i < k; i++) {
				uint32_t order = fz_u8(f) % 13;
				uint64_t pfn = fd_addr(f) >> 12;
				if (fz_u8(f) < 200)	/* mostly buddy-aligned */
					pfn &= ~((1ULL << order) - 1);
				uint64_t le = htole64(pfn);
				uint32_t lo = htole32(order), z = 0;
				memcpy(p + 16 * i, &le, 8);
				memcpy(p + 16 * i + 8, &lo, 4);
				memcpy(p + 16 * i + 12, &z, 4);
			}
			return;
		}
		*addr = fd_addr(f);
		*len = fd_len(f);
		*write = true;
		return;
	case BQ_MAP:	/* not negotiated by this harness yet */
	case BQ_NONE:
		*addr = fd_addr(f);
		*len = fd_len(f);
		*write = fz_u8(f) & 1;
		return;
	}
}

/* ---- the exitless map ------------------------------------------------------ */

/* What the device must answer (docs/exitless.md §1), read by us. */
static uint8_t xl_expect(const struct ph_exitless_map_desc *d, bool attached)
{
	uint64_t gpa = le64toh(d->map_gpa), first = le64toh(d->first_frame);
	uint32_t nr = le32toh(d->nr_frames);

	if (le32toh(d->magic) != PH_XL_MAP_MAGIC || le32toh(d->version) != PH_XL_MAP_VERSION ||
	    le32toh(d->entry_bytes) != 1)
		return PH_XL_MAP_BAD_FORMAT;
	if (attached)
		return PH_XL_MAP_BUSY;
	if ((gpa & 63) || nr == 0 || !fd_ptr(gpa, 64ULL + nr) || first > FD_TOP_FRAMES ||
	    nr > FD_TOP_FRAMES - first)
		return PH_XL_MAP_BAD_RANGE;
	return PH_XL_MAP_OK;
}

/* A map descriptor on the map queue, kicked; its status checked. */
static void post_map(struct fz *f)
{
	unsigned qi = h.nq - 1;
	struct shadow *s = &h.q[qi];
	uint8_t sel = fz_u8(f), where = fz_u8(f), quirk = fz_u8(f);
	struct ph_exitless_map_desc d;

	/* one statement each: the input is read in this order */
	d.magic = htole32((sel & 7) == 7 ? fz_u32(f) : PH_XL_MAP_MAGIC);
	d.version = htole32((sel & 0x38) == 0x38 ? fz_u32(f) : PH_XL_MAP_VERSION);
	d.entry_bytes = htole32((sel & 0xc0) == 0xc0 ? fz_u8(f) : 1);
	static const uint64_t places[] = { 0x30000, 0x400000, 0x8fff80, 0x1ffc0 };
	uint64_t gpa = (where & 4) ? fd_addr(f) : places[where & 3];
	if ((where & 0x18) == 0x18)
		gpa += fz_u8(f) % 64;
	d.map_gpa = htole64(gpa);
	d.first_frame = htole64((where & 0x20) ? fz_u64(f) : fz_u8(f) % 7);
	d.nr_frames = htole32((where & 0x40) ? fz_u32(f) : fz_u8(f) % 7);
	h.map_gpa = gpa;

	uint64_t da = data_alloc(32), sa = data_alloc(1);
	memcpy(fd_ptr(da, 32), &d, 32);
	*fd_ptr(sa, 1) = 0xee;
	/* mostly the right shape; now and then one that is not */
	struct { uint64_t a; uint32_t l; bool w; } e[2] = { { da, 32, false }, { sa, 1, true } };
	unsigned n = 2;
	bool shape_ok = true;
	switch (quirk % 16) {
	case 0: n = 1; shape_ok = false; break;
	case 1: e[0].l = 31; shape_ok = false; break;
	case 2: e[1].l = 2; shape_ok = false; break;
	case 3: e[1].w = false; shape_ok = false; break;
	case 4: e[0].a = fd_addr(f); shape_ok = fd_ptr(e[0].a, 32) != NULL; break;
	case 5: e[1].a = fd_addr(f); shape_ok = fd_ptr(e[1].a, 1) != NULL;
		if (shape_ok)
			*fd_ptr(e[1].a, 1) = 0xee;
		break;
	}
	if (s->num < n)
		shape_ok = false;	/* the second descriptor overwrites the first */
	/* NOLINTNEXTLINE(clang-analyzer-core.DivideZero): num is one of nums[], never 0 */
	uint16_t head = s->next_desc % s->num;
	for (unsigned k = 0; k < n; k++) {
		struct vring_desc *vd = desc_at(qi, s->next_desc++ % s->num);
		if (!vd)
			return;
		vd->addr = htole64(e[k].a);
		vd->len = htole32(e[k].l);
		vd->flags = htole16((e[k].w ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		vd->next = htole16((uint16_t)(s->next_desc % s->num));
	}
	if (shape_ok && e[0].a == da && fd_ptr(da, 32))
		memcpy(fd_ptr(da, 32), &d, 32);	/* in case the status byte landed on it */
	bool attached = balloon_xl_attached(fd.b);
	uint8_t want = xl_expect(&d, attached);
	struct vmmio_queue *q = &fd.t->q[qi];
	uint16_t used_before = 0;
	struct vring_used *u = q->num ? (void *)fd_ptr(q->used, 4 + 8ULL * q->num) : NULL;
	if (u)
		used_before = le16toh(u->idx);
	publish(qi, head);
	fd_wr(VIRTIO_MMIO_QUEUE_NOTIFY, qi);
	/* Only when the queue took exactly this chain (a broken or
	 * not-ready queue, or one with other chains pending, proves nothing). */
	if (!u || le16toh(u->idx) != (uint16_t)(used_before + 1) || !vring_dev_ready(&q->vq) ||
	    q->vq.err || le16toh(u->ring[used_before % q->num].id) != head)
		return;
	/* a status (used length 1) exactly when the last buffer is a
	 * writable byte in RAM */
	uint32_t used_len = le32toh(u->ring[used_before % q->num].len);
	bool has_status = e[n - 1].w && e[n - 1].l >= 1 && fd_ptr(e[n - 1].a, 1);
	FZ_ASSERT(used_len == (has_status ? 1u : 0u), "map chain used length %u", used_len);
	uint8_t *sp = fd_ptr(e[1].a, 1);
	if (n != 2 || !sp)
		return;
	uint8_t got = *sp;
	/* (a descriptor read from elsewhere, quirk 4, may be anything) */
	if (shape_ok && e[0].a == da && e[1].a == sa)
		FZ_ASSERT(got == want, "map status %u, expected %u", got, want);
	else if (!shape_ok)
		FZ_ASSERT(!balloon_xl_attached(fd.b) || attached, "a malformed map chain attached");
}

/* The guest's side of the map: write entries, bump free_gen; or the
 * scanner polls; or the driver gives up (FAILED). */
static void map_action(struct fz *f)
{
	uint8_t sub = fz_u8(f);
	uint64_t gpa = h.map_gpa, first;
	uint32_t nr = 0;

	if (balloon_xl_map(fd.b, &gpa, &first, &nr) == false)
		nr = FD_XL_MAX;		/* the guest's own idea of its map */
	switch (sub % 5) {
	case 0: case 1: {	/* entries: mostly FREE */
		unsigned k = 1 + fz_below(f, 8);
		for (unsigned i = 0; i < k; i++) {
			uint8_t *p = fd_ptr(gpa + 64 + fz_below(f, nr ? nr : 1), 1);
			uint8_t v = fz_u8(f);
			if (p)
				__atomic_store_n(p, v < 128 ? 1 : v < 160 ? 0 : v < 192 ? 3 : v < 224 ? 2 : v,
						 __ATOMIC_RELEASE);
		}
		if (sub & 0x80) {
			uint64_t *g = (uint64_t *)fd_ptr(gpa, 8);
			if (g && !(gpa & 7))
				__atomic_fetch_add(g, 1, __ATOMIC_RELEASE);
		}
		break;
	}
	case 2: case 3:
		h.now += (1 + (uint64_t)fz_u16(f)) * 1000;
		fd_xl_poll(h.now);
		break;
	case 4:
		fd_wr(VIRTIO_MMIO_STATUS, fd_rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FAILED);
		FZ_ASSERT(!balloon_xl_attached(fd.b), "FAILED left the map attached");
		break;
	}
}

/* A chain of n descriptors on queue qi, published. */
static void add_chain(struct fz *f, unsigned qi)
{
	struct shadow *s = &h.q[qi];
	enum balloon_queue_role role = balloon_queue_role(fd.b, qi);
	unsigned n = 1 + fz_below(f, 8);
	uint8_t quirks = fz_u8(f);	/* rare malformations */
	uint16_t head = s->next_desc % s->num;

	for (unsigned k = 0; k < n; k++) {
		uint16_t i = s->next_desc++ % s->num;
		struct vring_desc *d = desc_at(qi, i);
		uint64_t addr;
		uint32_t len;
		bool write;
		if (!d)
			return;
		role_buffer(f, role, &addr, &len, &write);
		if ((quirks & 0xe0) == 0xe0 && k == n - 1)
			write = !write;
		/* a message split over two descriptors at any byte, inside
		 * an entry too: the device reads the chain as one */
		if (!write && len > 1 && k + 1 < n && (quirks & 0x1f) != 0x1f && fz_u8(f) < 64) {
			uint32_t cut = 1 + fz_below(f, len - 1);
			*d = (struct vring_desc){ htole64(addr), htole32(cut),
						  htole16(VRING_DESC_F_NEXT),
						  htole16((uint16_t)(s->next_desc % s->num)) };
			i = s->next_desc++ % s->num;
			d = desc_at(qi, i);
			if (!d)
				return;
			addr += cut;
			len -= cut;
			k++;
		}
		uint16_t flags = write ? VRING_DESC_F_WRITE : 0;
		uint16_t next = (uint16_t)(s->next_desc % s->num);
		if (k + 1 < n)
			flags |= VRING_DESC_F_NEXT;
		if ((quirks & 0x1f) == 0x1f && k == n - 1) {
			/* loop back, or point anywhere */
			flags |= VRING_DESC_F_NEXT;
			next = (quirks & 0x20) ? head : fz_u16(f);
		}
		d->addr = htole64(addr);
		d->len = htole32(len);
		d->flags = htole16(flags);
		d->next = htole16(next);
	}
	publish(qi, head);
}

/* One descriptor pointing at an indirect table of n entries. */
static void add_indirect(struct fz *f, unsigned qi)
{
	struct shadow *s = &h.q[qi];
	enum balloon_queue_role role = balloon_queue_role(fd.b, qi);
	unsigned n = 1 + fz_below(f, 8);
	uint64_t ta = data_alloc(16 * n);
	struct vring_desc *t = (void *)fd_ptr(ta, 16ULL * n);
	uint8_t quirks = fz_u8(f);

	for (unsigned k = 0; k < n; k++) {
		uint64_t addr;
		uint32_t len;
		bool write;
		role_buffer(f, role, &addr, &len, &write);
		uint16_t flags = (write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0);
		if ((quirks & 7) == 7 && k == n - 1)
			flags |= VRING_DESC_F_INDIRECT;		/* nested */
		t[k] = (struct vring_desc){ htole64(addr), htole32(len), htole16(flags),
					    htole16((uint16_t)(k + 1)) };
		if ((quirks & 0x18) == 0x18 && k == n - 1)
			t[k].next = htole16(0), t[k].flags |= htole16(VRING_DESC_F_NEXT); /* loop */
	}
	uint16_t i = s->next_desc++ % s->num;
	struct vring_desc *d = desc_at(qi, i);
	if (!d)
		return;
	uint32_t len = 16 * n;
	if ((quirks & 0x60) == 0x60)
		len = fd_len(f);			/* bad table length */
	d->addr = htole64((quirks & 0x80) && fz_u8(f) < 64 ? fd_addr(f) : ta);
	d->len = htole32(len);
	d->flags = htole16(VRING_DESC_F_INDIRECT | ((quirks & 0x61) == 0x41 ? VRING_DESC_F_NEXT : 0));
	d->next = 0;
	publish(qi, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t c = fz_u8(&f);
	static const uint32_t nums[8] = { 4, 8, 16, 32, 64, 256, 2, 1 };

	uint8_t c2 = fz_u8(&f);
	fd_create((c & 1) ? BALLOON_PROTO_SEED_V8 : BALLOON_PROTO_VIRTIO, c & 2, c & 4);
	memset(&h, 0, sizeof(h));
	h.xl = c2 & 1;
	h.now = 1;
	h.num = nums[c >> 5];
	h.features = 1ULL << VIRTIO_F_VERSION_1;
	if (!(c & 2))
		h.features |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	if (!(c & 4))
		h.features |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
	if (c & 8)
		h.features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (c & 16)
		h.features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (h.xl)
		h.features |= 1ULL << PH_VIRTIO_BALLOON_F_PH_EXITLESS;
	h.nq = 2 + !(c & 2) + !(c & 4) + h.xl;
	h.data_next = FD_DATA_BASE;
	bringup();
	fd_check();

	for (unsigned a = 0; a < MAX_ACTIONS && !fz_empty(&f); a++) {
		uint8_t op = fz_u8(&f);
		unsigned qi = fz_below(&f, h.nq);

		switch (op % 14) {
		case 0: case 1: case 2:
			add_chain(&f, qi);
			break;
		case 3: case 4:
			fd_wr(VIRTIO_MMIO_QUEUE_NOTIFY, qi);
			break;
		case 5: {	/* raw bytes into a descriptor table, an avail ring or data */
			struct vmmio_queue *q = &fd.t->q[qi];
			uint32_t off = fz_u32(&f);
			uint64_t base, span;
			switch (fz_below(&f, 3)) {
			case 0: base = q->desc; span = 16 * h.num; break;
			case 1: base = q->avail; span = 6 + 2 * h.num; break;
			default: base = FD_DATA_BASE; span = DATA_END - FD_DATA_BASE; break;
			}
			uint64_t at = base + off % span;
			unsigned n = 1 + fz_below(&f, 16);
			if (n > base + span - at)	/* not into the used ring */
				n = (unsigned)(base + span - at);
			uint8_t *p = fd_ptr(at, n);
			for (unsigned i = 0; p && i < n; i++)
				p[i] = fz_u8(&f);
			break;
		}
		case 6:
			add_indirect(&f, qi);
			break;
		case 7: {	/* avail idx jumps */
			struct vmmio_queue *q = &fd.t->q[qi];
			struct vring_avail *av = (void *)fd_ptr(q->avail, 4);
			if (av)
				av->idx = htole16((uint16_t)(le16toh(av->idx) + fz_u16(&f)));
			break;
		}
		case 8:
			if (op & 0x80)
				balloon_request_stats(fd.b);
			else
				balloon_set_target(fd.b, fz_u16(&f));
			break;
		case 9:		/* reset and bring up again */
			bringup();
			break;
		case 10:	/* QueueReady off (and maybe on again) mid-use */
			fd_wr(VIRTIO_MMIO_QUEUE_SEL, qi);
			fd_wr(VIRTIO_MMIO_QUEUE_READY, 0);
			if (op & 0x80) {
				fd_queue_default(qi, h.num);
				h.q[qi].next_desc = 0;
			}
			break;
		case 11: {	/* what the device returned: ids in range, length 0 (1: a map status) */
			struct vmmio_queue *q = &fd.t->q[qi];
			struct vring_used *u = (void *)fd_ptr(q->used, 4 + 8ULL * h.num);
			if (!u || !q->num)
				break;
			bool map = balloon_queue_role(fd.b, qi) == BQ_MAP;
			for (unsigned i = 0; i < q->num; i++) {
				FZ_ASSERT(le32toh(u->ring[i].id) < q->num, "used id %u",
					  le32toh(u->ring[i].id));
				FZ_ASSERT(u->ring[i].len == 0 || (map && le32toh(u->ring[i].len) == 1),
					  "used len %u", le32toh(u->ring[i].len));
			}
			break;
		}
		case 12:
			if (h.xl)
				post_map(&f);
			break;
		case 13:
			if (h.xl)
				map_action(&f);
			break;
		}
		fd_check();
	}
	fd_destroy();
	return 0;
}
