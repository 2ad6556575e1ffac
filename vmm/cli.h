/* SPDX-License-Identifier: MIT */
/*
 * `pagehint run [options] [-- guest command line]`: parsing and checking
 * of every option. A bad flag or value is one line on stderr and exit
 * status 64 (CLI_EXIT_USAGE, sysexits' EX_USAGE): not 2, which is the
 * guest's own "bad command line" status passed through (guest/exit.h), so
 * a script can tell which side refused its words.
 */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "balloon.h"
#include "guest_mem.h"
#include "options.h"

#define CLI_EXIT_USAGE 64
#define CLI_CMDLINE_MAX 3800	/* user part of the guest command line */
#define CLI_MAX_CPUS 64

struct vmm_opts {
	const char *kernel;		/* NULL: default beside the binary */
	const char *initrd;		/* NULL: none */
	uint64_t mem;
	unsigned cpus;
	enum gm_backing backing;
	bool thp;
	bool populate;
	enum gm_discard discard;
	enum balloon_protocol protocol;
	bool has_target;
	uint64_t target;		/* bytes */
	const char *trace;
	const char *summary;
	const char *api_sock;		/* the control API's socket; NULL: none */
	double timeout;			/* seconds; 0: none */
	bool quiet;			/* no live status line */
	bool no_exitless;		/* don't offer the exitless map (bit 23) */
	struct fault_config fault;	/* --fault*: faulty-device mode */
	char cmdline[CLI_CMDLINE_MAX];
};

enum cli_result { CLI_RUN, CLI_HELP, CLI_ERROR };

/* Every option of `pagehint run`: what cli_parse reads, what cli_usage lists. */
extern const struct opt_cmd cli_run_opts;

/* argv[0] is the program, argv[1] the command ("run"). On CLI_ERROR err
 * holds the one-line message (without "pagehint: "). */
enum cli_result cli_parse(int argc, const char *const *argv, struct vmm_opts *o, char *err, size_t errlen);
void cli_usage(FILE *f);
/* cli_parse, then what main does about it: -1 to run the guest, else the
 * exit status now (0 after the help on out; CLI_EXIT_USAGE after one
 * "pagehint: " line on errf). */
int cli_read(int argc, const char *const *argv, struct vmm_opts *o, FILE *out, FILE *errf);

#endif
