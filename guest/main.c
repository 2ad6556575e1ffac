/* SPDX-License-Identifier: MIT */
#include "bootinfo.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "exit.h"

__attribute__((noreturn)) void kmain(void)
{
	bootinfo_init();
	cmdline_parse(boot.cmdline);
	kinfo("pagehint guest: cmdline '%s'\n", boot.cmdline);
	if (cfg.test == TEST_FAULT)
		*(volatile int *)0x8000000000ull = 1;
	ph_exit(EXIT_OK);
}

__attribute__((noreturn)) void ap_main(unsigned id)
{
	(void)id;
	for (;;)
		;
}
