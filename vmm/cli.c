/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "boot.h"
#include "cli.h"
#include "log.h"

void cli_usage(FILE *f)
{
	fputs(
"usage: pagehint run [options] [-- guest command line]\n"
"\n"
"Boot a PVH guest under KVM with a virtio-balloon device that discards the\n"
"memory the guest reports free.\n"
"\n"
"  --kernel ELF            guest kernel (default: pagehint-guest.elf beside\n"
"                          this program)\n"
"  --mem SIZE              guest RAM, e.g. 2G, 512M (default 2G)\n"
"  --cpus N                vCPUs, 1-64 (default 2)\n"
"  --backing anon|memfd    private anonymous memory (default) or a shared memfd\n"
"  --thp on|off            madvise(MADV_HUGEPAGE) on guest RAM (default on)\n"
"  --populate on|off       pre-fault guest RAM before boot (default off)\n"
"  --discard dontneed|free|punch\n"
"                          how reported memory goes back: MADV_DONTNEED\n"
"                          (default with anon), MADV_FREE (anon only), or\n"
"                          fallocate PUNCH_HOLE (memfd only; its default)\n"
"  --balloon-protocol virtio|seed-v8\n"
"                          feature bit 5 is virtio free page reporting\n"
"                          (default) or the seed RFC v8 hinting queue\n"
"  --balloon-target SIZE   ask the guest to inflate the balloon to SIZE\n"
"  --no-exitless           don't offer the exitless mode (feature bit 23, a\n"
"                          state map in guest memory the host scans and\n"
"                          reclaims with no request; docs/exitless.md);\n"
"                          offered by default, used only by a guest that\n"
"                          asks for it\n"
"  --trace FILE.csv        telemetry samples every 10 ms\n"
"  --summary-json FILE     a summary of the run at exit\n"
"  --timeout SECONDS       stop a guest that runs longer (exit status 124)\n"
"  --quiet                 no live status line on a terminal\n"
"  --fault MODE[,MODE...]  faulty device, for testing the guest's recovery;\n"
"                          free page reports are, at random:\n"
"                            delay-acks  discarded and returned only after\n"
"                                        a delay (1 ms to --fault-delay-ms)\n"
"                            drop-acks   never discarded nor returned (the\n"
"                                        guest times out and resets us)\n"
"                            reset       half discarded, then the device\n"
"                                        sets DEVICE_NEEDS_RESET\n"
"                          'all' is all three; a reset cancels every\n"
"                          discard not yet done. On the exitless map they\n"
"                          apply to each discard run: a delayed run keeps\n"
"                          its frames RECLAIMING meanwhile, a dropped one\n"
"                          for good\n"
"  --fault-rate P          probability per report request, 0-1 (default 0.05)\n"
"  --fault-seed N          seed of the fault choices (default 1)\n"
"  --fault-delay-ms N      delay-acks' longest delay (default 200)\n"
"  --help                  this text\n"
"\n"
"Exit status: the guest's (the value it writes to port 0x501); 64 bad\n"
"usage; 124 timeout; 125 VMM or KVM error; 126 the guest crashed (triple\n"
"fault, KVM internal error) without writing an exit status.\n", f);
}

bool cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mul = 1;

	if (!*s || !(isdigit((unsigned char)*s) || *s == '.'))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return false;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': mul = 1ULL << 10; end++; break;
	case 'M': mul = 1ULL << 20; end++; break;
	case 'G': mul = 1ULL << 30; end++; break;
	case 'T': mul = 1ULL << 40; end++; break;
	default: return false;
	}
	if (mul > 1 && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
		end += strlen(end);
	if (*end)
		return false;
	v *= (double)mul;
	if (v >= 18446744073709551616.0 || v != floor(v))
		return false;
	*out = (uint64_t)v;
	return true;
}

/* vmm_fail's reason, as the parser's result */
#define fail(...) (vmm_fail(__VA_ARGS__), CLI_ERROR)

static bool on_off(const char *v, bool *out)
{
	if (!strcmp(v, "on")) {
		*out = true;
		return true;
	}
	if (!strcmp(v, "off")) {
		*out = false;
		return true;
	}
	return false;
}

enum cli_result cli_parse(int argc, const char *const *argv, struct vmm_opts *o, char *err, size_t n)
{
	bool discard_set = false;
	size_t cl = 0;
	int i;

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

	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		char name[64];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return CLI_HELP;
		if (!strcmp(a, "--quiet")) {
			o->quiet = true;
			continue;
		}
		if (!strcmp(a, "--no-exitless")) {
			o->no_exitless = true;
			continue;
		}
		if (strncmp(a, "--", 2))
			return fail(err, n, "unexpected argument '%s' (guest arguments go after '--')", a);
		/* --name=value or --name value */
		eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		if (nl >= sizeof(name))
			return fail(err, n, "unknown option '%s' (try 'pagehint run --help')", a);
		memcpy(name, a, nl);
		name[nl] = 0;

		static const char *const known[] = {
			"--kernel", "--mem", "--cpus", "--backing", "--thp", "--populate",
			"--discard", "--balloon-protocol", "--balloon-target", "--trace",
			"--summary-json", "--timeout", "--fault", "--fault-rate", "--fault-seed",
			"--fault-delay-ms",
		};
		bool ok = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			ok |= !strcmp(name, known[k]);
		if (!ok)
			return fail(err, n, "unknown option '%s' (try 'pagehint run --help')", name);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return fail(err, n, "%s needs a value", name);

		if (!strcmp(name, "--kernel")) {
			if (!*val)
				return fail(err, n, "--kernel needs a file name");
			o->kernel = val;
		} else if (!strcmp(name, "--mem")) {
			if (!cli_parse_size(val, &o->mem))
				return fail(err, n, "--mem: '%s' is not a size (e.g. 2G, 512M)", val);
			if (o->mem < BOOT_MIN_RAM || o->mem > (1ULL << 40) || o->mem % GM_PAGE_SIZE)
				return fail(err, n, "--mem: '%s' must be a multiple of 4 KiB from 16M to 1T", val);
		} else if (!strcmp(name, "--cpus")) {
			char *end;
			errno = 0;
			unsigned long c = strtoul(val, &end, 10);
			if (errno || !*val || *end || !isdigit((unsigned char)*val) || c < 1 || c > CLI_MAX_CPUS)
				return fail(err, n, "--cpus: '%s' is not a number from 1 to %d", val, CLI_MAX_CPUS);
			o->cpus = (unsigned)c;
		} else if (!strcmp(name, "--backing")) {
			if (!strcmp(val, "anon"))
				o->backing = GM_BACKING_ANON;
			else if (!strcmp(val, "memfd"))
				o->backing = GM_BACKING_MEMFD;
			else
				return fail(err, n, "--backing: '%s' is not anon or memfd", val);
		} else if (!strcmp(name, "--thp")) {
			if (!on_off(val, &o->thp))
				return fail(err, n, "--thp: '%s' is not on or off", val);
		} else if (!strcmp(name, "--populate")) {
			if (!on_off(val, &o->populate))
				return fail(err, n, "--populate: '%s' is not on or off", val);
		} else if (!strcmp(name, "--discard")) {
			if (!strcmp(val, "dontneed"))
				o->discard = GM_DISCARD_DONTNEED;
			else if (!strcmp(val, "free"))
				o->discard = GM_DISCARD_FREE;
			else if (!strcmp(val, "punch"))
				o->discard = GM_DISCARD_PUNCH;
			else
				return fail(err, n, "--discard: '%s' is not dontneed, free or punch", val);
			discard_set = true;
		} else if (!strcmp(name, "--balloon-protocol")) {
			if (!strcmp(val, "virtio"))
				o->protocol = BALLOON_PROTO_VIRTIO;
			else if (!strcmp(val, "seed-v8"))
				o->protocol = BALLOON_PROTO_SEED_V8;
			else
				return fail(err, n, "--balloon-protocol: '%s' is not virtio or seed-v8", val);
		} else if (!strcmp(name, "--balloon-target")) {
			if (!cli_parse_size(val, &o->target))
				return fail(err, n, "--balloon-target: '%s' is not a size (e.g. 512M)", val);
			o->has_target = true;
		} else if (!strcmp(name, "--trace")) {
			if (!*val)
				return fail(err, n, "--trace needs a file name");
			o->trace = val;
		} else if (!strcmp(name, "--summary-json")) {
			if (!*val)
				return fail(err, n, "--summary-json needs a file name");
			o->summary = val;
		} else if (!strcmp(name, "--timeout")) {
			char *end;
			errno = 0;
			double t = strtod(val, &end);
			if (errno || end == val || *end || !(t > 0) || t > 1e7)
				return fail(err, n, "--timeout: '%s' is not a positive number of seconds", val);
			o->timeout = t;
		} else if (!strcmp(name, "--fault")) {
			char bad[80];
			if (fault_parse_modes(val, &o->fault.modes, bad, sizeof(bad)))
				return fail(err, n, "--fault: '%s' is not delay-acks, drop-acks, reset, all or none", bad);
		} else if (!strcmp(name, "--fault-rate")) {
			char *end;
			errno = 0;
			double p = strtod(val, &end);
			if (errno || end == val || *end || !(p >= 0 && p <= 1))
				return fail(err, n, "--fault-rate: '%s' is not a probability from 0 to 1", val);
			o->fault.rate = p;
		} else if (!strcmp(name, "--fault-seed")) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(val, &end, 0);
			if (errno || !*val || *end || !isdigit((unsigned char)*val))
				return fail(err, n, "--fault-seed: '%s' is not a number", val);
			o->fault.seed = v;
		} else if (!strcmp(name, "--fault-delay-ms")) {
			char *end;
			errno = 0;
			unsigned long v = strtoul(val, &end, 10);
			if (errno || !*val || *end || !isdigit((unsigned char)*val) || v < 1 ||
			    v > FAULT_MAX_DELAY_MS)
				return fail(err, n, "--fault-delay-ms: '%s' is not a number from 1 to %d",
					    val, FAULT_MAX_DELAY_MS);
			o->fault.delay_max_ms = (uint32_t)v;
		}
	}

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

	if (o->backing == GM_BACKING_MEMFD && !discard_set)
		o->discard = GM_DISCARD_PUNCH;
	if (o->discard == GM_DISCARD_PUNCH && o->backing != GM_BACKING_MEMFD)
		return fail(err, n, "--discard punch needs --backing memfd");
	if (o->discard == GM_DISCARD_FREE && o->backing != GM_BACKING_ANON)
		return fail(err, n, "--discard free works only with --backing anon (MADV_FREE needs private anonymous memory)");
	if (o->has_target && (o->target > o->mem || o->target % GM_PAGE_SIZE))
		return fail(err, n, "--balloon-target must be a multiple of 4 KiB no larger than --mem");
	return CLI_RUN;
}
