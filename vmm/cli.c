/* SPDX-License-Identifier: MIT */
#include <float.h>
#include <string.h>

#include "boot.h"
#include "cli.h"
#include "log.h"

#define AT(field) OPT_AT(struct vmm_opts, field)

static const struct opt_word on_off[] = { { "on", 1 }, { "off", 0 }, { NULL, 0 } };
static const struct opt_word backings[] = {
	{ "anon", GM_BACKING_ANON }, { "memfd", GM_BACKING_MEMFD }, { NULL, 0 },
};
static const struct opt_word discards[] = {
	{ "dontneed", GM_DISCARD_DONTNEED }, { "free", GM_DISCARD_FREE },
	{ "punch", GM_DISCARD_PUNCH }, { NULL, 0 },
};
static const struct opt_word protocols[] = {
	{ "virtio", BALLOON_PROTO_VIRTIO }, { "seed-v8", BALLOON_PROTO_SEED_V8 }, { NULL, 0 },
};

static int read_fault(void *dst, const char *val, char *err, size_t n)
{
	struct vmm_opts *o = dst;
	char bad[80];

	if (fault_parse_modes(val, &o->fault.modes, bad, sizeof(bad)))
		return vmm_fail(err, n, "'%s' is not delay-acks, drop-acks, reset, all or none", bad);
	return 0;
}

static const struct opt options[] = {
	{ "--kernel", "FILE", OPT_PATH, AT(kernel),
	  .help = "guest kernel: an ELF with a PVH note, or a Linux\nbzImage (default: pagehint-guest.elf beside this\nprogram)" },
	{ "--initrd", "FILE", OPT_PATH, AT(initrd), .help = "initial ramdisk (a bzImage's, or a PVH kernel's first module)" },
	{ "--mem", "SIZE", OPT_SIZE, AT(mem), .min = BOOT_MIN_RAM, .max = 1ULL << 40,
	  .align = GM_PAGE_SIZE, .help = "guest RAM, e.g. 2G, 512M (default 2G)" },
	{ "--cpus", "N", OPT_UINT, AT(cpus), .min = 1, .max = CLI_MAX_CPUS,
	  .help = "vCPUs, 1-64 (default 2)" },
	{ "--backing", "anon|memfd", OPT_WORD, AT(backing), .words = backings,
	  .help = "private anonymous memory (default) or a shared memfd" },
	{ "--thp", "on|off", OPT_WORD, AT(thp), .words = on_off,
	  .help = "madvise(MADV_HUGEPAGE) on guest RAM (default on)" },
	{ "--populate", "on|off", OPT_WORD, AT(populate), .words = on_off,
	  .help = "pre-fault guest RAM before boot (default off)" },
	{ "--discard", "dontneed|free|punch", OPT_WORD, AT(discard), .words = discards,
	  .help = "how reported memory goes back: MADV_DONTNEED\n"
		  "(default with anon), MADV_FREE (anon only), or\n"
		  "fallocate PUNCH_HOLE (memfd only; its default)" },
	{ "--balloon-protocol", "virtio|seed-v8", OPT_WORD, AT(protocol), .words = protocols,
	  .help = "feature bit 5 is virtio free page reporting\n"
		  "(default) or the seed RFC v8 hinting queue" },
	{ "--balloon-target", "SIZE", OPT_SIZE, AT(target),
	  .help = "ask the guest to inflate the balloon to SIZE" },
	{ "--no-exitless", NULL, OPT_FLAG, AT(no_exitless),
	  .help = "don't offer the exitless mode (feature bit 23, a\n"
		  "state map in guest memory the host scans and\n"
		  "reclaims with no request; docs/exitless.md);\n"
		  "offered by default, used only by a guest that\n"
		  "asks for it" },
	{ "--trace", "FILE.csv", OPT_PATH, AT(trace), .help = "telemetry samples every 10 ms" },
	{ "--summary-json", "FILE", OPT_PATH, AT(summary), .help = "a summary of the run at exit" },
	{ "--api-sock", "PATH", OPT_PATH, AT(api_sock),
	  .help = "serve the control API (HTTP over this Unix\nsocket, made 0600; refused if the path\nexists; removed at exit): balloon target\nand stats, metrics, shutdown; pagehint ctl\nspeaks it (docs/vmm.md)" },
	{ "--timeout", "SECONDS", OPT_REAL, AT(timeout), .lo = DBL_TRUE_MIN, .hi = 1e7,
	  .what = "a positive number of seconds",
	  .help = "stop a guest that runs longer (exit status 124)" },
	{ "--quiet", NULL, OPT_FLAG, AT(quiet), .help = "no live status line on a terminal" },
	{ "--fault", "MODE[,MODE...]", OPT_CALL, .call = read_fault,
	  .help = "faulty device, for testing the guest's recovery;\n"
		  "free page reports are, at random:\n"
		  "  delay-acks  discarded and returned only after\n"
		  "              a delay (1 ms to --fault-delay-ms)\n"
		  "  drop-acks   never discarded nor returned (the\n"
		  "              guest times out and resets us)\n"
		  "  reset       half discarded, then the device\n"
		  "              sets DEVICE_NEEDS_RESET\n"
		  "'all' is all three; a reset cancels every\n"
		  "discard not yet done. On the exitless map they\n"
		  "apply to each discard run: a delayed run keeps\n"
		  "its frames RECLAIMING meanwhile, a dropped one\n"
		  "for good" },
	{ "--fault-rate", "P", OPT_REAL, AT(fault.rate), .lo = 0, .hi = 1,
	  .what = "a probability from 0 to 1",
	  .help = "probability per report request, 0-1 (default 0.05)" },
	{ "--fault-seed", "N", OPT_UINT, AT(fault.seed), .max = UINT64_MAX, .what = "a number",
	  .help = "seed of the fault choices (default 1)" },
	{ "--fault-delay-ms", "N", OPT_UINT, AT(fault.delay_max_ms), .min = 1,
	  .max = FAULT_MAX_DELAY_MS, .help = "delay-acks' longest delay (default 200)" },
	{ "--help", NULL, OPT_HELP, .help = "this text" },
};

const struct opt_cmd cli_run_opts = {
	.cmd = "pagehint run",
	.opts = options,
	.n = sizeof(options) / sizeof(options[0]),
	.rest = "guest arguments",
};

void cli_usage(FILE *f)
{
	fputs("usage: pagehint run [options] [-- guest command line]\n"
	      "\n"
	      "Boot a guest under KVM with a virtio-balloon device that discards the\n"
	      "memory the guest reports free.\n"
	      "\n", f);
	opt_help(f, &cli_run_opts);
	fputs("\n"
	      "Exit status: the guest's (the value it writes to port 0x501); 64 bad\n"
	      "usage; 124 timeout; 125 VMM or KVM error; 126 the guest crashed (triple\n"
	      "fault, KVM internal error) without writing an exit status.\n", f);
}

/* vmm_fail's reason, as the parser's result */
#define fail(...) (vmm_fail(__VA_ARGS__), CLI_ERROR)

enum cli_result cli_parse(int argc, const char *const *argv, struct vmm_opts *o, char *err, size_t n)
{
	uint64_t given = 0;
	size_t cl = 0;
	int i = 2;

	memset(o, 0, sizeof(*o));
	o->mem = 2ULL << 30;
	o->cpus = 2;
	o->backing = GM_BACKING_ANON;
	o->thp = true;
	o->discard = GM_DISCARD_DONTNEED;
	o->protocol = BALLOON_PROTO_VIRTIO;
	fault_config_init(&o->fault);

	if (argc < 2)
		return fail(err, n, "no command given (try 'pagehint run --help')");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return CLI_HELP;
	if (strcmp(argv[1], "run"))
		return fail(err, n, "unknown command '%s' (try 'pagehint run --help')", argv[1]);

	switch (opt_read(&cli_run_opts, argc, argv, &i, o, &given, err, n)) {
	case OPT_HELP_ASKED:
		return CLI_HELP;
	case OPT_BAD:
		return CLI_ERROR;
	case OPT_DONE:
		break;
	}
	o->has_target = opt_given(&cli_run_opts, given, "--balloon-target");

	/* Everything after "--" is the guest's command line. */
	for (; i < argc; i++) {
		size_t al = strlen(argv[i]);
		if (cl + al + 2 > sizeof(o->cmdline))
			return fail(err, n, "guest command line is longer than %d bytes", CLI_CMDLINE_MAX - 1);
		if (cl)
			o->cmdline[cl++] = ' ';
		memcpy(o->cmdline + cl, argv[i], al + 1);
		cl += al;
	}

	if (o->backing == GM_BACKING_MEMFD && !opt_given(&cli_run_opts, given, "--discard"))
		o->discard = GM_DISCARD_PUNCH;
	if (o->discard == GM_DISCARD_PUNCH && o->backing != GM_BACKING_MEMFD)
		return fail(err, n, "--discard punch needs --backing memfd");
	if (o->discard == GM_DISCARD_FREE && o->backing != GM_BACKING_ANON)
		return fail(err, n, "--discard free works only with --backing anon (MADV_FREE needs private anonymous memory)");
	if (o->has_target && (o->target > o->mem || o->target % GM_PAGE_SIZE))
		return fail(err, n, "--balloon-target must be a multiple of 4 KiB no larger than --mem");
	return CLI_RUN;
}

int cli_read(int argc, const char *const *argv, struct vmm_opts *o, FILE *out, FILE *errf)
{
	char err[512];

	switch (cli_parse(argc, argv, o, err, sizeof(err))) {
	case CLI_HELP:
		cli_usage(out);
		return 0;
	case CLI_ERROR:
		fprintf(errf, "pagehint: %s\n", err);
		return CLI_EXIT_USAGE;
	case CLI_RUN:
		break;
	}
	return -1;
}
