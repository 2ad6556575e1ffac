/* SPDX-License-Identifier: MIT */
/* Loading a Linux bzImage without KVM: a synthetic image with a real
 * setup header (<asm/bootparam.h>) goes to 1 MiB, the zero page carries
 * the header, command line, e820 map, RSDP and initrd as the 64-bit boot
 * protocol says; hostile or oversized headers are refused with a reason. */
#include <asm/bootparam.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bzimage.h"
#include "guest_mem.h"

#define MEM (64u << 20)
#define KSIZE 8192u

struct fixture {
	uint8_t *mem;
	struct guest_mem gm;
	uint8_t *img;
	size_t size;
	struct bz_e820 e820[3];
	struct bz_boot b;
	char err[256];
};

static struct setup_header *hdr(struct fixture *f)
{
	return (struct setup_header *)(f->img + 0x1f1);
}

/* setup_sects = 1: 1024 bytes of setup, then KSIZE bytes of "kernel". */
static void make_image(struct fixture *f)
{
	f->size = 1024 + KSIZE;
	f->img = calloc(1, f->size);
	struct setup_header *h = hdr(f);
	h->setup_sects = 1;
	h->syssize = KSIZE / 16;
	h->boot_flag = 0xaa55;
	f->img[0x200] = 0xeb;				/* jmp over the header */
	f->img[0x201] = (uint8_t)(0x1f1 + sizeof(*h) - 0x202);
	h->header = 0x53726448;				/* "HdrS" */
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 2u << 20;
	h->relocatable_kernel = 1;
	h->xloadflags = XLF_KERNEL_64;
	h->cmdline_size = 2047;
	h->pref_address = 16u << 20;
	h->init_size = 24u << 20;
	for (unsigned i = 0; i < KSIZE; i++)
		f->img[1024 + i] = (uint8_t)(i * 7);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->mem = calloc(1, MEM);
	gm_init_buffer(&f->gm, f->mem, 0, MEM);
	make_image(f);
	f->e820[0] = (struct bz_e820){ 0, 0x3000, 2 };
	f->e820[1] = (struct bz_e820){ 0x3000, 0x9fc00 - 0x3000, 1 };
	f->e820[2] = (struct bz_e820){ 0x100000, MEM - 0x100000, 1 };
	strcpy((char *)f->mem + 0x2000, "console=ttyS0");
	f->b = (struct bz_boot){ .zero_page = 0x7000, .cmdline = 0x2000, .cmdline_len = 13,
				 .acpi_rsdp = 0xe0000, .e820 = f->e820, .ne820 = 3 };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	free(f->img);
	free(f->mem);
	free(f);
	return 0;
}

static int load(struct fixture *f, struct bz_info *info)
{
	return bz_load(&f->gm, f->img, f->size, &f->b, info, f->err, sizeof(f->err));
}

static void detects_bzimage(void **state)
{
	struct fixture *f = *state;
	assert_true(bz_is_bzimage(f->img, f->size));
	assert_false(bz_is_bzimage(f->img, 0x205));
	static const uint8_t elf[0x300] = { 0x7f, 'E', 'L', 'F' };
	assert_false(bz_is_bzimage(elf, sizeof(elf)));
}

static void loads_and_fills_zero_page(void **state)
{
	struct fixture *f = *state;
	struct bz_info info;
	static const uint8_t initrd[5000] = { 1, 2, 3 };
	f->b.initrd = initrd;
	f->b.initrd_size = sizeof(initrd);

	assert_int_equal(load(f, &info), 0);
	assert_int_equal(info.entry64, 0x100200);
	assert_int_equal(info.kernel_size, KSIZE);
	assert_memory_equal(f->mem + 0x100000, f->img + 1024, KSIZE);
	/* The initrd at the top of low RAM, page-aligned, above the kernel's
	 * running area (16 MiB + init_size). */
	assert_int_equal(info.initrd_addr, (MEM - sizeof(initrd)) & ~0xfffull);
	assert_memory_equal(f->mem + info.initrd_addr, initrd, sizeof(initrd));

	struct boot_params *zp = (struct boot_params *)(f->mem + 0x7000);
	assert_int_equal(zp->hdr.header, 0x53726448);
	assert_int_equal(zp->hdr.version, 0x020f);
	assert_int_equal(zp->hdr.type_of_loader, 0xff);
	assert_int_equal(zp->hdr.cmd_line_ptr, 0x2000);
	assert_int_equal(zp->ext_cmd_line_ptr, 0);
	assert_int_equal(zp->hdr.ramdisk_image, info.initrd_addr);
	assert_int_equal(zp->hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(zp->acpi_rsdp_addr, 0xe0000);
	assert_int_equal(zp->e820_entries, 3);
	assert_int_equal(zp->e820_table[2].addr, 0x100000);
	assert_int_equal(zp->e820_table[2].size, MEM - 0x100000);
	assert_int_equal(zp->e820_table[2].type, 1);
	assert_int_equal(zp->e820_table[0].type, 2);
}

static void refuses_bad_headers(void **state)
{
	struct fixture *f = *state;
	struct bz_info info;
	struct setup_header *h = hdr(f);
	struct setup_header good = *h;
	static const struct { const char *what; const char *msg; } cases[] = {
		{ "magic", "not a bzImage" },
		{ "boot flag", "boot flag" },
		{ "old protocol", "boot protocol 2.11" },
		{ "32-bit only", "no 64-bit entry" },
		{ "zImage", "not a high-loaded" },
		{ "setup beyond the file", "truncated" },
		{ "syssize beyond the file", "truncated" },
		{ "alignment", "kernel_alignment" },
		{ "init_size", "needs RAM up to" },
		{ "cmdline_size", "command line of 13 bytes" },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		*h = good;
		switch (i) {
		case 0: h->header = 0x12345678; break;
		case 1: h->boot_flag = 0; break;
		case 2: h->version = 0x020b; break;
		case 3: h->xloadflags = 0; break;
		case 4: h->loadflags = 0; break;
		case 5: h->setup_sects = 255; break;
		case 6: h->syssize = KSIZE; break;
		case 7: h->kernel_alignment = 3u << 20; break;
		case 8: h->init_size = 0xffffffff; break;
		case 9: h->cmdline_size = 12; break;
		}
		f->err[0] = 0;
		assert_int_equal(load(f, &info), -1);
		if (!strstr(f->err, cases[i].msg))
			fail_msg("%s: error '%s' lacks '%s'", cases[i].what, f->err, cases[i].msg);
	}
	*h = good;
	assert_int_equal(load(f, &info), 0);
}

static void refuses_initrd_that_does_not_fit(void **state)
{
	struct fixture *f = *state;
	struct bz_info info;
	/* 64 MiB of RAM, the kernel runs at 16 MiB with 24 MiB: 24 MiB left. */
	size_t big = 30u << 20;
	f->b.initrd = f->img;	/* contents don't matter: refused before the copy */
	f->b.initrd_size = big;
	assert_int_equal(load(f, &info), -1);
	assert_non_null(strstr(f->err, "initrd of 30 MiB does not fit"));
	/* Below initrd_addr_max too. */
	hdr(f)->initrd_addr_max = (20u << 20) - 1;
	f->b.initrd_size = 4096;
	assert_int_equal(load(f, &info), -1);
	assert_non_null(strstr(f->err, "does not fit"));
}

static void truncated_header_refused(void **state)
{
	struct fixture *f = *state;
	struct bz_info info;
	/* The header says it runs to 0x202 + 0xff; the file ends before. */
	f->img[0x201] = 0xff;
	assert_int_equal(bz_load(&f->gm, f->img, 0x210, &f->b, &info, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "truncated"));
	/* Every prefix of a valid image is refused, never read past. */
	f->img[0x201] = (uint8_t)(0x1f1 + sizeof(struct setup_header) - 0x202);
	for (size_t n = 0; n < f->size; n += 97)
		assert_int_equal(bz_load(&f->gm, f->img, n, &f->b, &info, f->err, sizeof(f->err)), -1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(detects_bzimage),
		T(loads_and_fills_zero_page),
		T(refuses_bad_headers),
		T(refuses_initrd_that_does_not_fit),
		T(truncated_header_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
