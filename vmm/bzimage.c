/* SPDX-License-Identifier: MIT */
#include <asm/bootparam.h>
#include <stdio.h>
#include <string.h>

#include "bzimage.h"
#include "log.h"

#define SETUP_HDR_OFF	0x1f1	/* struct setup_header in the file and the zero page */
#define BOOT_FLAG	0xaa55
#define HDRS_MAGIC	0x53726448u	/* "HdrS" */
#define ENTRY64_OFF	0x200	/* the 64-bit entry: startup_64 */

_Static_assert(sizeof(struct boot_params) == 4096, "zero page");
_Static_assert(offsetof(struct boot_params, hdr) == SETUP_HDR_OFF, "setup header offset");

bool bz_is_bzimage(const void *img, size_t size)
{
	uint32_t magic;

	if (size < 0x206)
		return false;
	memcpy(&magic, (const uint8_t *)img + 0x202, 4);
	return magic == HDRS_MAGIC;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* The end of the RAM region that holds gpa (which must be in one), or 0. */
static uint64_t ram_end(const struct bz_boot *b, uint64_t gpa)
{
	for (unsigned i = 0; i < b->ne820; i++)
		if (b->e820[i].type == 1 && gpa >= b->e820[i].addr &&
		    gpa - b->e820[i].addr < b->e820[i].size)
			return b->e820[i].addr + b->e820[i].size;
	return 0;
}

int bz_load(struct guest_mem *gm, const void *img, size_t size, const struct bz_boot *b,
	    struct bz_info *out, char *err, size_t n)
{
	const uint8_t *f = img;
	struct setup_header h;
	size_t hdr_len;

	memset(out, 0, sizeof(*out));
	if (!bz_is_bzimage(img, size))
		return vmm_fail(err, n, "not a bzImage (no \"HdrS\" setup header)");
	/* The byte after the jump at 0x200 says where the header ends. */
	hdr_len = 0x202 + (size_t)f[0x201] - SETUP_HDR_OFF;
	if (hdr_len > sizeof(h))
		hdr_len = sizeof(h);
	if (SETUP_HDR_OFF + hdr_len > size)
		return vmm_fail(err, n, "bzImage truncated in its setup header");
	memset(&h, 0, sizeof(h));
	memcpy(&h, f + SETUP_HDR_OFF, hdr_len);

	if (h.boot_flag != BOOT_FLAG)
		return vmm_fail(err, n, "bzImage boot flag %#x, not 0xaa55", h.boot_flag);
	if (h.version < BZ_MIN_VERSION)
		return vmm_fail(err, n, "bzImage boot protocol %u.%02u; the 64-bit entry needs 2.12 or later",
				h.version >> 8, h.version & 0xff);
	if (!(h.xloadflags & XLF_KERNEL_64))
		return vmm_fail(err, n, "bzImage has no 64-bit entry point (xloadflags %#x)", h.xloadflags);
	if (!(h.loadflags & LOADED_HIGH))
		return vmm_fail(err, n, "bzImage is not a high-loaded (bz) kernel");

	size_t setup_size = ((size_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (setup_size >= size)
		return vmm_fail(err, n, "bzImage truncated: %zu bytes, its setup alone is %zu", size,
				setup_size);
	uint64_t ksize = size - setup_size;
	if ((uint64_t)h.syssize * 16 > ksize)
		return vmm_fail(err, n, "bzImage truncated: its header says %llu bytes of kernel, the file has %llu",
				(unsigned long long)h.syssize * 16, (unsigned long long)ksize);

	/* Where the kernel decompresses and runs: startup_64 aligns its own
	 * address up to kernel_alignment and never goes below pref_address. */
	uint64_t run = h.pref_address;
	if (h.relocatable_kernel) {
		if (h.kernel_alignment < 4096 || (h.kernel_alignment & (h.kernel_alignment - 1)))
			return vmm_fail(err, n, "bzImage kernel_alignment %#x is not a power of two >= 4 KiB",
					h.kernel_alignment);
		uint64_t a = align_up(BZ_LOAD_ADDR, h.kernel_alignment);
		if (a > run)
			run = a;
	}
	uint64_t lo_end = ram_end(b, BZ_LOAD_ADDR);
	uint64_t need = run > BZ_LOAD_ADDR + ksize ? run : BZ_LOAD_ADDR + ksize;
	if (run + h.init_size > need)
		need = run + h.init_size;
	if (!lo_end || need > lo_end)
		return vmm_fail(err, n, "bzImage needs RAM up to %llu MiB (runs at %#llx, init_size %u MiB); the guest has %llu MiB there",
				(unsigned long long)((need + (1 << 20) - 1) >> 20), (unsigned long long)run,
				h.init_size >> 20, (unsigned long long)(lo_end >> 20));

	if (b->cmdline_len && h.cmdline_size && b->cmdline_len > h.cmdline_size)
		return vmm_fail(err, n, "command line of %u bytes; this kernel takes at most %u",
				b->cmdline_len, h.cmdline_size);

	uint64_t initrd_addr = 0;
	if (b->initrd) {
		uint64_t top = lo_end;
		if (h.initrd_addr_max && (uint64_t)h.initrd_addr_max + 1 < top)
			top = (uint64_t)h.initrd_addr_max + 1;
		if (b->initrd_size > top)
			return vmm_fail(err, n, "initrd of %zu MiB does not fit below %llu MiB",
					b->initrd_size >> 20, (unsigned long long)(top >> 20));
		initrd_addr = (top - b->initrd_size) & ~0xfffULL;
		if (initrd_addr < need)
			return vmm_fail(err, n, "initrd of %zu MiB does not fit between the kernel (up to %llu MiB) and %llu MiB",
					b->initrd_size >> 20, (unsigned long long)(need >> 20),
					(unsigned long long)(top >> 20));
	}

	struct boot_params *zp = gm_translate(gm, b->zero_page, sizeof(*zp));
	void *kdst = gm_translate(gm, BZ_LOAD_ADDR, ksize);
	void *idst = b->initrd ? gm_translate(gm, initrd_addr, b->initrd_size) : NULL;
	if (!zp || !kdst || (b->initrd && !idst))
		return vmm_fail(err, n, "bzImage: zero page, kernel or initrd outside guest RAM");
	if (b->ne820 > E820_MAX_ENTRIES_ZEROPAGE)
		return vmm_fail(err, n, "%u e820 entries; the zero page holds %d", b->ne820,
				E820_MAX_ENTRIES_ZEROPAGE);

	memcpy(kdst, f + setup_size, ksize);
	if (idst)
		memcpy(idst, b->initrd, b->initrd_size);

	memset(zp, 0, sizeof(*zp));
	memcpy(&zp->hdr, f + SETUP_HDR_OFF, hdr_len);
	zp->hdr.type_of_loader = 0xff;		/* undefined boot loader */
	zp->hdr.cmd_line_ptr = (uint32_t)b->cmdline;
	zp->ext_cmd_line_ptr = (uint32_t)(b->cmdline >> 32);
	zp->hdr.ramdisk_image = (uint32_t)initrd_addr;
	zp->ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
	zp->hdr.ramdisk_size = (uint32_t)b->initrd_size;
	zp->ext_ramdisk_size = (uint32_t)((uint64_t)b->initrd_size >> 32);
	zp->acpi_rsdp_addr = b->acpi_rsdp;
	for (unsigned i = 0; i < b->ne820; i++) {
		zp->e820_table[i].addr = b->e820[i].addr;
		zp->e820_table[i].size = b->e820[i].size;
		zp->e820_table[i].type = b->e820[i].type;
	}
	zp->e820_entries = (uint8_t)b->ne820;

	out->version = h.version;
	out->load_addr = BZ_LOAD_ADDR;
	out->kernel_size = ksize;
	out->entry64 = BZ_LOAD_ADDR + ENTRY64_OFF;
	out->init_size = h.init_size;
	out->initrd_addr = initrd_addr;
	out->initrd_size = b->initrd ? b->initrd_size : 0;
	return 0;
}
