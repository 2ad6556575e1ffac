#!/usr/bin/env python3
"""Extract the ELF vmlinux from an x86 bzImage: the compressed payload the
setup header locates (payload_offset, payload_length; boot protocol 2.08+),
decompressed (xz, gzip or uncompressed). Checks that the result is an x86-64
ELF with the PVH entry note (Xen's XEN_ELFNOTE_PHYS32_ENTRY) and writes it.

usage: extract_vmlinux.py BZIMAGE OUT
Exit status: 0 written; 1 not a bzImage, unknown compression, or no PVH note.
"""
import gzip
import io
import lzma
import os
import struct
import sys

XEN_ELFNOTE_PHYS32_ENTRY = 18
PT_NOTE = 4


def payload(img):
    """The compressed kernel inside the bzImage, as its setup header says."""
    if len(img) < 0x250 or img[0x202:0x206] != b"HdrS":
        raise ValueError("no setup header (HdrS): not a bzImage")
    version = struct.unpack_from("<H", img, 0x206)[0]
    if version < 0x208:
        raise ValueError(f"boot protocol {version >> 8}.{version & 0xff} has no payload_offset")
    setup_sects = img[0x1f1] or 4
    offset, length = struct.unpack_from("<II", img, 0x248)
    start = (setup_sects + 1) * 512 + offset
    if start + length > len(img):
        raise ValueError("payload_offset/payload_length point past the file")
    return img[start:start + length]


def decompress(data):
    """The payload decompressed; the kernel appends its 4-byte size, ignored."""
    if data.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if data.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=io.BytesIO(data)).read()
    if data.startswith(b"\x7fELF"):
        return data
    raise ValueError(f"payload compressed as {data[:6].hex()}: only xz and gzip are handled")


def pvh_entry(elf):
    """The PHYS32_ENTRY address from the ELF64's note segments, or None."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("payload is not a little-endian ELF64")
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != PT_NOTE:
            continue
        off, end = p_offset, p_offset + p_filesz
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, off)
            name = elf[off + 12:off + 12 + namesz]
            desc = off + 12 + ((namesz + 3) & ~3)
            if ntype == XEN_ELFNOTE_PHYS32_ENTRY and name == b"Xen\0" and descsz in (4, 8):
                return struct.unpack_from("<I" if descsz == 4 else "<Q", elf, desc)[0]
            off = desc + ((descsz + 3) & ~3)
    return None


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} BZIMAGE OUT", file=sys.stderr)
        return 64
    with open(argv[1], "rb") as f:
        img = f.read()
    try:
        elf = decompress(payload(img))
        entry = pvh_entry(elf)
    except (ValueError, lzma.LZMAError, OSError, struct.error) as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 1
    if entry is None:
        print(f"{argv[1]}: the vmlinux has no XEN_ELFNOTE_PHYS32_ENTRY note (CONFIG_PVH off?)",
              file=sys.stderr)
        return 1
    with open(argv[2] + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(argv[2] + ".tmp", argv[2])
    print(f"{argv[2]}: {len(elf) >> 20} MiB, PVH entry {entry:#x}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
