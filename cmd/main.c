/* SPDX-License-Identifier: MIT */
/*
 * pagehint: one program, one command table. `pagehint COMMAND [options]`
 * runs the command's function with main()'s argc and argv (argv[1] is the
 * command's name); `pagehint help`, `--help`, `-h` or no command list the
 * table. An unknown command is one line on stderr and status 64, as every
 * command's usage errors are (CLI_EXIT_USAGE, sysexits' EX_USAGE).
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "bench_peers.h"
#include "cli.h"
#include "ctl.h"
#include "run.h"

struct command {
	const char *name;
	const char *summary;	/* one line for the list */
	int (*fn)(int argc, const char *const *argv);
};

static int help_main(int argc, const char *const *argv);

static const struct command commands[] = {
	{ "run", "boot a guest under KVM; reported free memory goes back to the host", run_main },
	{ "bench", "every reporting engine side by side on the same scenarios", bench_main },
	{ "peers", "the reclaim scenario on Linux 6.1 and on our guest under QEMU and pagehint",
	  bench_peers_main },
	{ "ctl", "ask a running VM's control API (run --api-sock): balloon, stats, metrics, shutdown",
	  ctl_main },
	{ "help", "this list; `help COMMAND`: the command's options", help_main },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void list(FILE *f)
{
	fputs("usage: pagehint COMMAND [options]\n\ncommands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\n`pagehint COMMAND --help` lists a command's options.\n", f);
}

static int unknown(const char *name)
{
	fprintf(stderr, "pagehint: unknown command '%s' (pagehint help lists them)\n", name);
	return CLI_EXIT_USAGE;
}

/* `pagehint help [COMMAND]`: the list, or COMMAND's own --help. */
static int help_main(int argc, const char *const *argv)
{
	if (argc < 3) {
		list(stdout);
		return 0;
	}
	const struct command *c = find(argv[2]);
	if (!c || c->fn == help_main)
		return c ? help_main(2, argv) : unknown(argv[2]);
	const char *const help_argv[] = { argv[0], c->name, "--help", NULL };
	return c->fn(3, help_argv);
}

int main(int argc, char **argv_mutable)
{
	/* The commands never write their arguments. */
	const char *const *argv = (const char *const *)argv_mutable;

	if (argc < 2) {
		list(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help_main(2, argv);
	const struct command *c = find(argv[1]);
	return c ? c->fn(argc, argv) : unknown(argv[1]);
}
