/* SPDX-License-Identifier: MIT */
/*
 * The virtio 1.x wire layout the driver side needs: split-ring structures,
 * virtio-mmio register offsets, status bits, feature bits and the balloon's
 * config space, mirrored from the Linux UAPI headers (<linux/virtio_ring.h>,
 * <linux/virtio_mmio.h>, <linux/virtio_config.h>, <linux/virtio_balloon.h>,
 * <linux/virtio_ids.h>) because core/ is built with -nostdinc and cannot
 * include them. Every name is the UAPI name with a PH_ prefix (structs:
 * ph_<uapi name>), and tests/unit/test_virtq_uapi.c checks each value and
 * each struct offset against the real headers, so this file cannot drift.
 *
 * All multi-byte fields are little-endian on the wire (virtio 1.x); use
 * ph_le16/32/64() to convert (identity on x86).
 */
#ifndef PH_VIRTIO_DEFS_H
#define PH_VIRTIO_DEFS_H

#include <stddef.h>
#include <stdint.h>

/* ---- error codes returned (negated) by the virtio driver files ---- */
/* Same numbers as Linux errno, so a log line reads the same either way. */
#define PH_EIO        5   /* device broken, reset, or misbehaved */
#define PH_ENOMEM     12  /* caller's memory too small */
#define PH_EBUSY      16  /* resource in use */
#define PH_ENODEV     19  /* no (such) virtio device */
#define PH_EINVAL     22  /* bad argument */
#define PH_ENOSPC     28  /* no free descriptors */
#define PH_ENOENT     2   /* queue does not exist */
#define PH_EOPNOTSUPP 95  /* feature not negotiated */
#define PH_ETIMEDOUT  110 /* device did not answer in time */

/* ---- endianness ---- */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pagehint's virtio driver assumes a little-endian CPU (x86-64)"
#endif
static inline uint16_t ph_le16(uint16_t v) { return v; }
static inline uint32_t ph_le32(uint32_t v) { return v; }
static inline uint64_t ph_le64(uint64_t v) { return v; }

/* ---- <linux/virtio_ring.h>: split virtqueue (spec 2.7) ---- */
#define PH_VRING_DESC_F_NEXT        1 /* chain continues via next */
#define PH_VRING_DESC_F_WRITE       2 /* device writes (else reads) */
#define PH_VRING_DESC_F_INDIRECT    4 /* not used by this driver */
#define PH_VRING_USED_F_NO_NOTIFY   1 /* device: don't kick me */
#define PH_VRING_AVAIL_F_NO_INTERRUPT 1 /* driver: don't interrupt me */
#define PH_VIRTIO_RING_F_INDIRECT_DESC 28
#define PH_VIRTIO_RING_F_EVENT_IDX  29
#define PH_VRING_AVAIL_ALIGN_SIZE   2
#define PH_VRING_USED_ALIGN_SIZE    4
#define PH_VRING_DESC_ALIGN_SIZE    16

struct ph_vring_desc {
	uint64_t addr;  /* le64 guest-physical */
	uint32_t len;   /* le32 */
	uint16_t flags; /* le16 PH_VRING_DESC_F_* */
	uint16_t next;  /* le16 */
};

struct ph_vring_avail {
	uint16_t flags; /* le16 PH_VRING_AVAIL_F_* */
	uint16_t idx;   /* le16 free-running */
	uint16_t ring[]; /* [num], then le16 used_event */
};

struct ph_vring_used_elem {
	uint32_t id;  /* le32 head of the used chain */
	uint32_t len; /* le32 bytes the device wrote */
};

struct ph_vring_used {
	uint16_t flags; /* le16 PH_VRING_USED_F_* */
	uint16_t idx;   /* le16 free-running */
	struct ph_vring_used_elem ring[]; /* [num], then le16 avail_event */
};

_Static_assert(sizeof(struct ph_vring_desc) == 16, "vring_desc");
_Static_assert(offsetof(struct ph_vring_desc, addr) == 0, "desc.addr");
_Static_assert(offsetof(struct ph_vring_desc, len) == 8, "desc.len");
_Static_assert(offsetof(struct ph_vring_desc, flags) == 12, "desc.flags");
_Static_assert(offsetof(struct ph_vring_desc, next) == 14, "desc.next");
_Static_assert(sizeof(struct ph_vring_avail) == 4, "vring_avail");
_Static_assert(offsetof(struct ph_vring_avail, idx) == 2, "avail.idx");
_Static_assert(offsetof(struct ph_vring_avail, ring) == 4, "avail.ring");
_Static_assert(sizeof(struct ph_vring_used_elem) == 8, "vring_used_elem");
_Static_assert(offsetof(struct ph_vring_used_elem, len) == 4, "used_elem.len");
_Static_assert(sizeof(struct ph_vring_used) == 4, "vring_used");
_Static_assert(offsetof(struct ph_vring_used, idx) == 2, "used.idx");
_Static_assert(offsetof(struct ph_vring_used, ring) == 4, "used.ring");

/* Bytes of each ring part for a queue of num entries (spec 2.7, incl. the
 * event-index word at the end of avail and used). */
#define PH_VRING_DESC_BYTES(num)  ((size_t)(num) * sizeof(struct ph_vring_desc))
#define PH_VRING_AVAIL_BYTES(num) (sizeof(struct ph_vring_avail) + ((size_t)(num) + 1) * 2)
#define PH_VRING_USED_BYTES(num)  (sizeof(struct ph_vring_used) + \
	(size_t)(num) * sizeof(struct ph_vring_used_elem) + 2)

/* Largest split queue size (spec: Queue Size is at most 32768). */
#define PH_VIRTQ_MAX_NUM 32768u

/* ---- <linux/virtio_config.h>: status and transport features ---- */
#define PH_VIRTIO_CONFIG_S_ACKNOWLEDGE 1
#define PH_VIRTIO_CONFIG_S_DRIVER      2
#define PH_VIRTIO_CONFIG_S_DRIVER_OK   4
#define PH_VIRTIO_CONFIG_S_FEATURES_OK 8
#define PH_VIRTIO_CONFIG_S_NEEDS_RESET 0x40
#define PH_VIRTIO_CONFIG_S_FAILED      0x80
#define PH_VIRTIO_F_VERSION_1          32
#define PH_VIRTIO_F_ACCESS_PLATFORM    33
#define PH_VIRTIO_F_RING_PACKED        34

/* ---- <linux/virtio_ids.h> ---- */
#define PH_VIRTIO_ID_BALLOON 5

/* ---- <linux/virtio_mmio.h>: virtio-mmio version 2 (spec 4.2.2) ---- */
#define PH_VIRTIO_MMIO_MAGIC           0x74726976u /* "virt" */
#define PH_VIRTIO_MMIO_MAGIC_VALUE     0x000
#define PH_VIRTIO_MMIO_VERSION         0x004
#define PH_VIRTIO_MMIO_DEVICE_ID       0x008
#define PH_VIRTIO_MMIO_VENDOR_ID       0x00c
#define PH_VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define PH_VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define PH_VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define PH_VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define PH_VIRTIO_MMIO_QUEUE_SEL       0x030
#define PH_VIRTIO_MMIO_QUEUE_NUM_MAX   0x034
#define PH_VIRTIO_MMIO_QUEUE_NUM       0x038
#define PH_VIRTIO_MMIO_QUEUE_READY     0x044
#define PH_VIRTIO_MMIO_QUEUE_NOTIFY    0x050
#define PH_VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define PH_VIRTIO_MMIO_INTERRUPT_ACK   0x064
#define PH_VIRTIO_MMIO_STATUS          0x070
#define PH_VIRTIO_MMIO_QUEUE_DESC_LOW  0x080
#define PH_VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define PH_VIRTIO_MMIO_QUEUE_AVAIL_LOW 0x090
#define PH_VIRTIO_MMIO_QUEUE_AVAIL_HIGH 0x094
#define PH_VIRTIO_MMIO_QUEUE_USED_LOW  0x0a0
#define PH_VIRTIO_MMIO_QUEUE_USED_HIGH 0x0a4
#define PH_VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define PH_VIRTIO_MMIO_CONFIG          0x100
#define PH_VIRTIO_MMIO_INT_VRING       (1 << 0)
#define PH_VIRTIO_MMIO_INT_CONFIG      (1 << 1)

/* ---- <linux/virtio_balloon.h> (spec 5.5) ---- */
#define PH_VIRTIO_BALLOON_F_MUST_TELL_HOST  0
#define PH_VIRTIO_BALLOON_F_STATS_VQ        1
#define PH_VIRTIO_BALLOON_F_DEFLATE_ON_OOM  2
#define PH_VIRTIO_BALLOON_F_FREE_PAGE_HINT  3
#define PH_VIRTIO_BALLOON_F_PAGE_POISON     4
#define PH_VIRTIO_BALLOON_F_REPORTING       5
#define PH_VIRTIO_BALLOON_PFN_SHIFT         12

#define PH_VIRTIO_BALLOON_S_SWAP_IN      0
#define PH_VIRTIO_BALLOON_S_SWAP_OUT     1
#define PH_VIRTIO_BALLOON_S_MAJFLT       2
#define PH_VIRTIO_BALLOON_S_MINFLT       3
#define PH_VIRTIO_BALLOON_S_MEMFREE      4
#define PH_VIRTIO_BALLOON_S_MEMTOT       5
#define PH_VIRTIO_BALLOON_S_AVAIL        6
#define PH_VIRTIO_BALLOON_S_CACHES       7
#define PH_VIRTIO_BALLOON_S_HTLB_PGALLOC 8
#define PH_VIRTIO_BALLOON_S_HTLB_PGFAIL  9
#define PH_VIRTIO_BALLOON_S_NR           10

struct ph_virtio_balloon_config {
	uint32_t num_pages;             /* le32 target, written by device */
	uint32_t actual;                /* le32 pages in balloon, by driver */
	uint32_t free_page_hint_cmd_id; /* le32 (unused here) */
	uint32_t poison_val;            /* le32 (unused here) */
};
_Static_assert(sizeof(struct ph_virtio_balloon_config) == 16, "balloon config");
_Static_assert(offsetof(struct ph_virtio_balloon_config, actual) == 4, "actual");
_Static_assert(offsetof(struct ph_virtio_balloon_config, free_page_hint_cmd_id) == 8, "cmd_id");
_Static_assert(offsetof(struct ph_virtio_balloon_config, poison_val) == 12, "poison");

struct ph_virtio_balloon_stat {
	uint16_t tag; /* le16 PH_VIRTIO_BALLOON_S_* */
	uint64_t val; /* le64 */
} __attribute__((packed));
_Static_assert(sizeof(struct ph_virtio_balloon_stat) == 10, "balloon stat");
_Static_assert(offsetof(struct ph_virtio_balloon_stat, val) == 2, "stat.val");

/*
 * Not UAPI: the seed's (RFC v8) hinting_vq entry, one per isolated buddy
 * block. A seed-v8 request is one device-readable buffer holding an array of
 * these; its descriptor length is the array's size in bytes (n * 16).
 */
struct ph_seed_v8_entry {
	uint64_t pfn;      /* le64 4 KiB page frame number of the block */
	uint32_t order;    /* le32 block is 2^order pages, pfn aligned to it */
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct ph_seed_v8_entry) == 16, "seed-v8 entry");
_Static_assert(offsetof(struct ph_seed_v8_entry, order) == 8, "seed.order");
#define PH_SEED_V8_MAX_ORDER 10

/*
 * Not UAPI: pagehint's exitless mode (docs/exitless.md). Offered only by
 * pagehint's own device. Its queue comes after every other negotiated one;
 * the driver posts one chain there per device initialisation: this
 * descriptor (device-readable), then one status byte (device-writable).
 */
#define PH_VIRTIO_BALLOON_F_PH_EXITLESS 23
#define PH_XL_MAP_MAGIC   0x70686d31u /* "phm1" */
#define PH_XL_MAP_VERSION 1u

struct ph_exitless_map_desc {
	uint32_t magic;       /* le32 PH_XL_MAP_MAGIC */
	uint32_t version;     /* le32 PH_XL_MAP_VERSION */
	uint64_t map_gpa;     /* le64 guest-physical address of the map (header, then entries) */
	uint64_t first_frame; /* le64 frame 0 covers [first_frame << 21, +2 MiB) */
	uint32_t nr_frames;   /* le32 entries in the map */
	uint32_t entry_bytes; /* le32 1 */
};
_Static_assert(sizeof(struct ph_exitless_map_desc) == 32, "exitless map desc");
_Static_assert(offsetof(struct ph_exitless_map_desc, map_gpa) == 8, "xl.map_gpa");
_Static_assert(offsetof(struct ph_exitless_map_desc, nr_frames) == 24, "xl.nr_frames");

/* The status byte the device writes back. */
enum ph_xl_map_status {
	PH_XL_MAP_OK = 0,
	PH_XL_MAP_BAD_FORMAT = 1,	/* magic, version, entry_bytes, chain shape */
	PH_XL_MAP_BAD_RANGE = 2,	/* map or frames outside guest RAM, nr_frames */
	PH_XL_MAP_BUSY = 3,		/* a map is already attached */
};

#endif
