#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus (tests/fuzz/corpus/<target>/) and the hand-made
regression inputs (tests/fuzz/regressions/<target>/) of the fuzz targets.

Each input is spelled as the actions the target decodes (see the decoders
in tests/fuzz/fuzz_*.c and fuzz_dev.h: every value is read little-endian,
a selector byte first), so a seed reaches the device logic instead of
being rejected. Run from the repository root; rewrites the files it owns
(names starting with "seed-" or "hand-"), leaves others alone.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)))


def u8(v): return struct.pack("<B", v & 0xff)
def u16(v): return struct.pack("<H", v & 0xffff)
def u32(v): return struct.pack("<I", v & 0xffffffff)
def u64(v): return struct.pack("<Q", v & 0xffffffffffffffff)


# fuzz_dev.h: fd_addr() and fd_len()
def addr_page(region, off):
    """Page-aligned address inside region 0..2 (selector < 160)."""
    return u8(region) + u32(off)


def addr_edge(case):
    """One of the edge cases (selector >= 200, sel % 12 == case)."""
    extra = {8: u32(0), 11: u64(0)}.get(case, b"")
    return u8(204 + case) + u32(0) + extra


def len_pages(n):
    return u8(0) + u8(n - 1)


def len_raw16(v):
    return u8(160) + u16(v)


# ---- fuzz_mmio ------------------------------------------------------------
REGS = ("MAGIC_VALUE VERSION DEVICE_ID VENDOR_ID DEVICE_FEATURES DEVICE_FEATURES_SEL "
        "DRIVER_FEATURES DRIVER_FEATURES_SEL GUEST_PAGE_SIZE QUEUE_SEL QUEUE_NUM_MAX QUEUE_NUM "
        "QUEUE_ALIGN QUEUE_PFN QUEUE_READY QUEUE_NOTIFY INTERRUPT_STATUS INTERRUPT_ACK STATUS "
        "QUEUE_DESC_LOW QUEUE_DESC_HIGH QUEUE_AVAIL_LOW QUEUE_AVAIL_HIGH QUEUE_USED_LOW "
        "QUEUE_USED_HIGH SHM_SEL SHM_LEN_LOW SHM_LEN_HIGH SHM_BASE_LOW SHM_BASE_HIGH "
        "CONFIG_GENERATION CONFIG CONFIG4 CONFIG8 CONFIG12").split()


def m_wr(reg, val, size_sel=0):
    """Write val (raw u32) to a register: op 0, register, size, value."""
    return u8(0) + u8(REGS.index(reg)) + u8(size_sel) + u8(128) + u32(val)


def m_rd(reg, size_sel=0):
    return u8(4) + u8(REGS.index(reg)) + u8(size_sel)


def m_bringup(feat_lo, ring_bits, num_log2):
    """op 8: features (VERSION_1 | lo & 0x23 | ring bits), queues of 2^n."""
    return u8(8) + u8(feat_lo) + u8(ring_bits) + u8(num_log2)


def m_chain(q, descs, n0=0):
    """op 7: publish a chain on queue q; descs: (addr bytes, len bytes, flags)."""
    b = u8(7) + u8(q) + u8(len(descs) - 1) + u8(n0)
    for a, l, fl in descs:
        b += a + l + u8(fl)
    return b


def m_notify(q):
    return m_wr("QUEUE_NOTIFY", q)


def m_queue(q, desc, avail, used, num):
    return (m_wr("QUEUE_SEL", q) + m_wr("QUEUE_NUM", num) + m_wr("QUEUE_DESC_LOW", desc) +
            m_wr("QUEUE_DESC_HIGH", 0) + m_wr("QUEUE_AVAIL_LOW", avail) +
            m_wr("QUEUE_AVAIL_HIGH", 0) + m_wr("QUEUE_USED_LOW", used) +
            m_wr("QUEUE_USED_HIGH", 0) + m_wr("QUEUE_READY", 1))


def mmio_inputs():
    W = 2  # VRING_DESC_F_WRITE
    seeds = {}
    ident = b"".join(m_rd(r) for r in ("MAGIC_VALUE", "VERSION", "DEVICE_ID", "VENDOR_ID"))
    seeds["seed-identity"] = u8(0) + ident + m_rd("CONFIG", 1) + m_rd("STATUS", 2)
    seeds["seed-bringup-report"] = (u8(0) + m_bringup(0x22, 1, 5) +
                                    m_chain(3, [(addr_page(0, 0x80000), len_pages(4), W)]) +
                                    m_notify(3) + m_rd("INTERRUPT_STATUS") +
                                    m_wr("INTERRUPT_ACK", 1))
    seeds["seed-bringup-seed-v8"] = u8(1) + m_bringup(0x20, 0, 3) + m_notify(2)
    seeds["seed-by-hand"] = (u8(0) + m_wr("STATUS", 0) + m_wr("STATUS", 3) +
                             m_wr("DRIVER_FEATURES_SEL", 1) + m_wr("DRIVER_FEATURES", 1) +
                             m_wr("DRIVER_FEATURES_SEL", 0) + m_wr("DRIVER_FEATURES", 0x22) +
                             m_wr("STATUS", 0xb) + m_queue(0, 0x1000, 0x1100, 0x1200, 16) +
                             m_wr("STATUS", 0xf) + m_wr("QUEUE_NUM", 8) +
                             m_wr("QUEUE_READY", 0) + m_wr("QUEUE_SEL", 0xffffffff) +
                             m_rd("QUEUE_NUM_MAX"))
    seeds["seed-legacy-and-widths"] = (u8(0) + m_wr("GUEST_PAGE_SIZE", 4096) +
                                       m_wr("QUEUE_PFN", 1) + m_rd("STATUS", 4) +
                                       m_rd("CONFIG4", 6) + m_wr("CONFIG4", 7, 4))
    # The driver never set FEATURES_OK, yet sets DRIVER_OK with a buffer
    # waiting on queue 3: the balloon has no role for queue 3 without
    # negotiated features, consumes nothing, and the transport's
    # "more arrived meanwhile" loop spins forever (vmm/virtio_mmio.c
    # process()). Found by fuzz_mmio; see docs/hardening.md.
    hang = (u8(0) + m_wr("STATUS", 3) + m_queue(3, 0x1000, 0x1100, 0x1200, 8) +
            m_chain(3, [(addr_page(0, 0x80000), len_pages(1), W)]) + m_wr("STATUS", 7))
    return seeds, {"hand-driver-ok-without-features-ok": hang}


# ---- fuzz_balloon_dev -------------------------------------------------------
def cfg(seed_v8=False, no_stats=False, no_report=False, event_idx=False, indirect=False, num_sel=3,
        xl=False):
    return u8(seed_v8 | no_stats << 1 | no_report << 2 | event_idx << 3 | indirect << 4 |
              num_sel << 5) + u8(xl)


# Actions are op % 14; ops 8 and 10 with bit 7 set are their variants.
OP_STATS_REQ = 0x86     # 8 | 0x80
OP_READY_REARM = 0x88   # 10 | 0x80


def b_map(where=1, first=0, nr=5, sel=0, quirk=6, extra=b""):
    """op 12: a map descriptor (fuzz_balloon_dev.c post_map): places[where & 3]
    unless where & 4; first and nr as bytes (where & 0x60 clear)."""
    return u8(12) + u8(0) + u8(sel) + u8(where) + u8(quirk) + extra + u8(first) + u8(nr)


def b_entries(pairs, bump=True):
    """op 13 sub 0: (index, value byte) pairs (value < 128: FREE, 128-159 USED,
    160-191 RECLAIMED, 192-223 RECLAIMING, else raw); bump free_gen."""
    b = u8(13) + u8(0) + u8(0x82 if bump else 0) + u8(len(pairs) - 1)
    for i, v in pairs:
        b += u8(i) + u8(v)
    return b


def b_poll(us=1000):
    return u8(13) + u8(0) + u8(2) + u16(us)


def b_failed():
    return u8(13) + u8(0) + u8(4)


def b_chain_report(q, ranges, quirks=0):
    """add_chain on a virtio reporting queue: ranges of (addr bytes, len bytes)."""
    b = u8(0) + u8(q) + u8(len(ranges) - 1) + u8(quirks)
    for a, l in ranges:
        b += u8(0) + a + l   # role_buffer() reads a count byte first
    return b


def b_chain_pfns(q, pfn_addrs):
    """add_chain of one buffer of pfns (inflate/deflate)."""
    b = u8(0) + u8(q) + u8(0) + u8(0) + u8(len(pfn_addrs) - 1)
    for a in pfn_addrs:
        b += a
    return b


def b_chain_seed(q, hints):
    """add_chain of one seed-v8 buffer: hints of (order, addr bytes)."""
    b = u8(0) + u8(q) + u8(0) + u8(0) + u8(len(hints) - 1)
    for order, a in hints:
        b += u8(order) + a + u8(0)
    return b


def b_notify(q):
    return u8(3) + u8(q)


def balloon_inputs():
    s = {}
    R = 3
    s["seed-report"] = (cfg() + b_chain_report(R, [(addr_page(0, 0x40000), len_pages(2)),
                                                  (addr_page(0, 0x42000), len_pages(2)),
                                                  (addr_page(1, 0x0), len_pages(4))]) +
                        b_notify(R) + u8(11) + u8(R))
    s["seed-report-edges"] = (cfg(event_idx=True) +
                              b_chain_report(R, [(addr_page(0, 0xff000), len_pages(2)),
                                                 (addr_edge(4), len_pages(2)),
                                                 (addr_page(2, 0x1000), len_raw16(0x123))]) +
                              b_notify(R))
    s["seed-report-loop"] = (cfg() + b_chain_report(R, [(addr_page(0, 0x50000), len_pages(1))] * 3,
                                                     quirks=0x3f) + b_notify(R))
    s["seed-report-no-stats"] = (cfg(no_stats=True, num_sel=5) +
                                 b_chain_report(2, [(addr_page(0, 0x60000), len_pages(16))]) +
                                 b_notify(2))
    s["seed-inflate-deflate"] = (cfg() + b_chain_pfns(0, [addr_page(0, 0x70000), addr_page(1, 0x1000)]) +
                                 b_notify(0) + b_chain_pfns(1, [addr_page(0, 0x70000)]) + b_notify(1))
    s["seed-stats"] = (cfg() + u8(0) + u8(2) + u8(0) + u8(0) + u8(2) +
                       u8(4) + u64(12345) + u8(5) + u64(1 << 30) + u8(11) + u64(7) +
                       b_notify(2) + u8(OP_STATS_REQ) + u8(2) + u8(0x08) + u8(2) + u16(100))
    s["seed-seed-v8"] = (cfg(seed_v8=True) +
                         b_chain_seed(R, [(0, addr_page(0, 0x80000)), (3, addr_page(0, 0x88000)),
                                          (11, addr_page(0, 0)), (9, addr_page(1, 0))]) +
                         b_notify(R))
    s["seed-indirect"] = (cfg(indirect=True) + u8(6) + u8(R) + u8(1) + u8(0) +
                          u8(0) + addr_page(0, 0x90000) + len_pages(1) +
                          u8(0) + addr_page(0, 0x92000) + len_pages(1) + b_notify(R))
    s["seed-reset-ready-flip"] = (cfg() + b_chain_report(R, [(addr_page(0, 0x40000), len_pages(1))]) +
                                  u8(10) + u8(R) + b_notify(R) + u8(OP_READY_REARM) + u8(R) +
                                  u8(9) + u8(0) + b_chain_report(R, [(addr_page(0, 0x40000), len_pages(1))]) +
                                  b_notify(R) + u8(7) + u8(R) + u16(300) + b_notify(R))
    # The exitless map (queue 4 with stats and reporting): attach in region
    # 3 (frames 0-4: 2 and 3 wholly in RAM), mark everything FREE, poll;
    # flip, poll again; FAILED; post again; reset and post again.
    s["seed-xl-attach-scan"] = (cfg(xl=True) + b_map() +
                                b_entries([(i, 0) for i in range(5)]) + b_poll() +
                                b_entries([(2, 0), (3, 130), (4, 200)]) + b_poll(2000) +
                                b_failed() + b_map() + b_entries([(2, 0)]) + b_poll() +
                                u8(9) + u8(0) + b_map() + b_poll() + u8(11) + u8(4))
    # The map in region 0 (frames 0 and 1 only partly RAM): nothing but 2, 3.
    s["seed-xl-holes"] = (cfg(xl=True, no_stats=True) + b_map(where=0) +
                          b_entries([(i, 0) for i in range(5)]) + b_poll() + b_poll(2_000_000))
    # Refusals: bad magic, misaligned, nr 0, past the top, bad shapes, busy.
    s["seed-xl-refused"] = (cfg(xl=True) + b_map(sel=7, extra=u32(0x12345678)) +
                            b_map(where=0x19, extra=u8(8)) + b_map(nr=0) + b_map(first=1) +
                            b_map(quirk=0) + b_map(quirk=1) + b_map(quirk=2) + b_map(quirk=3) +
                            b_map() + b_map() + u8(11) + u8(4))
    return s, {}


# ---- fuzz_virtq_driver ------------------------------------------------------
def vq_inputs():
    s = {}
    # op 0 add: n selector, n, then per buffer: sel (len/write), addr
    def add(n, write=True):
        b = u8(0) + u8(0) + u8(n - 1)
        for i in range(n):
            b += u8(2 * i + (1 if write else 0)) + u64(0x100000 + 0x10000 * i)
        return b

    def used(k, length=0, step=1):
        # op 2: sel < 170: head of token k; len selector < 200: len*256
        return u8(2) + u8(0) + u8(k) + u8(0) + u8(0) + u8(length) + u8(0 if step == 1 else 250) + \
            (u16(step) if step != 1 else b"")

    def harvest():
        return u8(4)

    s["seed-add-use-harvest"] = u8(4) + add(3) + used(0, 1) + harvest() + u8(7)
    s["seed-event-idx"] = u8(0x0d) + add(2) + add(1, False) + u8(7) + used(0) + used(1) + \
        harvest() + harvest() + u8(0x12) + u8(0x26) + harvest()
    s["seed-hostile-id"] = u8(3) + add(1) + u8(2) + u8(240) + u32(0xffff) + u8(0) + u8(5) + u8(0) + \
        harvest() + u8(9)
    s["seed-double-return"] = u8(2) + add(1) + used(0) + used(0) + harvest() + harvest() + u8(9)
    s["seed-index-jump"] = u8(5) + add(2) + used(0, 0, 500) + harvest() + u8(9)
    s["seed-full-queue"] = u8(1) + add(1) + add(1) + add(2) + used(0) + harvest() + add(2) + u8(0xf9)
    return s, {}


def write(target, kind, files):
    d = os.path.join(ROOT, kind, target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    for target, gen in (("fuzz_mmio", mmio_inputs), ("fuzz_balloon_dev", balloon_inputs),
                        ("fuzz_virtq_driver", vq_inputs)):
        seeds, regressions = gen()
        write(target, "corpus", seeds)
        if regressions:
            write(target, "regressions", regressions)
