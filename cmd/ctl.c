/* SPDX-License-Identifier: MIT */
/*
 * `pagehint ctl --api-sock PATH WHAT...`: one request to a running VM's
 * control API (vmm/api.h, docs/vmm.md "Control API"), its answer on
 * stdout: JSON indented, the metrics as they come. A refusal is the
 * API's fault_message on stderr and status 1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "api_balloon_wait.h"
#include "cli.h"
#include "ctl.h"
#include "ctl_watch.h"
#include "options.h"

struct ctl_opts {
	const char *sock;
};

static const struct opt options[] = {
	{ "--api-sock", "PATH", OPT_PATH, OPT_AT(struct ctl_opts, sock),
	  .help = "the socket `pagehint run --api-sock` serves" },
	{ "--help", NULL, OPT_HELP, .help = "this text" },
};

static const struct opt_cmd ctl_opts = {
	.cmd = "pagehint ctl",
	.opts = options,
	.n = sizeof(options) / sizeof(options[0]),
};

static void usage(FILE *f)
{
	fputs("usage: pagehint ctl --api-sock PATH WHAT\n"
	      "       pagehint ctl --api-sock PATH watch [--interval MS]\n"
	      "\n"
	      "Ask a running VM's control API (pagehint run --api-sock PATH).\n"
	      "\n"
	      "WHAT:\n"
	      "  vm                  state, vCPUs, RAM, uptime, device features\n"
	      "  balloon             the balloon's target and actual size\n"
	      "  balloon set SIZE    a new target (e.g. 512M, 1G; whole MiB); the\n"
	      "                      guest inflates or deflates to it\n"
	      "  balloon set SIZE --wait SECS\n"
	      "                      and wait until the guest holds it (GET /balloon\n"
	      "                      until actual is the target; at most SECS)\n"
	      "  stats               the guest's balloon stats and the host's counters\n"
	      "  stats interval N    ask the guest for stats every N seconds\n"
	      "  metrics             Prometheus text exposition\n"
	      "  shutdown            end the run (end \"shutdown\", status 0)\n"
	      "  watch               a line every interval until the VM goes away\n"
	      "                      (pagehint ctl watch --help)\n"
	      "\n"
	      "options:\n", f);
	opt_help(f, &ctl_opts);
	fputs("\nExit status: 0; 1 the API refused the request; 64 bad usage; 69 the\n"
	      "socket could not be reached; 75 --wait: the guest did not reach the\n"
	      "target in time.\n", f);
}

/* The request WHAT means: method, target, body (static or into buf). */
struct request {
	const char *method, *target, *body;
};

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	va_list ap;

	fputs("pagehint: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try 'pagehint ctl --help')\n", stderr);
	return CLI_EXIT_USAGE;
}

static int what_of(int argc, const char *const *w, struct request *rq, char *buf, size_t cap)
{
	uint64_t v;

	if (argc == 0)
		return bad("ctl needs WHAT to ask");
	if (argc == 1 && !strcmp(w[0], "vm"))
		*rq = (struct request){ "GET", "/vm", NULL };
	else if (argc == 1 && !strcmp(w[0], "balloon"))
		*rq = (struct request){ "GET", "/balloon", NULL };
	else if (argc == 1 && !strcmp(w[0], "stats"))
		*rq = (struct request){ "GET", "/balloon/statistics", NULL };
	else if (argc == 1 && !strcmp(w[0], "metrics"))
		*rq = (struct request){ "GET", "/metrics", NULL };
	else if (argc == 1 && !strcmp(w[0], "shutdown"))
		*rq = (struct request){ "PUT", "/actions", "{\"action_type\": \"Shutdown\"}" };
	else if (argc == 3 && !strcmp(w[0], "balloon") && !strcmp(w[1], "set")) {
		if (!opt_parse_size(w[2], &v) || v % (1u << 20))
			return bad("balloon set: '%s' is not a size in whole MiB (e.g. 512M, 1G)", w[2]);
		snprintf(buf, cap, "{\"amount_mib\": %llu}", (unsigned long long)(v >> 20));
		*rq = (struct request){ "PATCH", "/balloon", buf };
	} else if (argc == 3 && !strcmp(w[0], "stats") && !strcmp(w[1], "interval")) {
		char *end;
		unsigned long n = strtoul(w[2], &end, 10);
		if (*w[2] < '0' || *w[2] > '9' || *end || n > 86400)
			return bad("stats interval: '%s' is not a number of seconds", w[2]);
		snprintf(buf, cap, "{\"stats_polling_interval_s\": %lu}", n);
		*rq = (struct request){ "PATCH", "/balloon/statistics", buf };
	} else {
		return bad("'%s' is not something ctl asks", w[0]);
	}
	return 0;
}

/* "balloon set SIZE --wait SECS": takes the last two words off (*argc),
 * the seconds into *secs (0: no wait). A usage error's status, or 0. */
static int wait_of(int *argc, const char *const *w, unsigned *secs)
{
	int i;

	*secs = 0;
	for (i = 0; i < *argc && strcmp(w[i], "--wait"); i++)
		;
	if (i == *argc)
		return 0;
	if (i != 3 || *argc != 5 || strcmp(w[0], "balloon") || strcmp(w[1], "set"))
		return bad("--wait goes after balloon set SIZE, with the seconds to wait");
	char *end;
	unsigned long n = strtoul(w[4], &end, 10);
	if (*w[4] < '0' || *w[4] > '9' || *end || n < 1 || n > 86400)
		return bad("--wait: '%s' is not a number of seconds (1 to 86400)", w[4]);
	*secs = (unsigned)n;
	*argc = 3;
	return 0;
}

/* After a new target is taken: wait until the guest holds it; a line
 * saying so on stdout, or why not on stderr. */
static int wait_for_balloon(const char *sock, const char *size, unsigned secs)
{
	struct api_balloon_seen seen;
	char err[512];
	uint64_t bytes;

	opt_parse_size(size, &bytes);	/* what_of checked it */
	uint64_t want = bytes >> 12;
	switch (api_balloon_wait(sock, want, secs * 1000u, 200, &seen, err, sizeof(err))) {
	case API_WAIT_REACHED:
		printf("balloon: target %llu MiB reached (actual %llu pages) after %u polls\n",
		       (unsigned long long)(want >> 8), (unsigned long long)seen.actual_pages, seen.polls);
		return 0;
	case API_WAIT_DEADLINE:
		fprintf(stderr, "pagehint: ctl: balloon set %s --wait %u: the guest holds %llu MiB "
			"(%llu pages), not the target %llu MiB, after %u s (target now %llu MiB)\n",
			size, secs, (unsigned long long)(seen.actual_pages >> 8),
			(unsigned long long)seen.actual_pages, (unsigned long long)(want >> 8), secs,
			(unsigned long long)(seen.target_pages >> 8));
		return CTL_EXIT_NOT_REACHED;
	case API_WAIT_UNREACHABLE:
		fprintf(stderr, "pagehint: ctl: waiting for the balloon: %s\n", err);
		return CTL_EXIT_UNAVAILABLE;
	case API_WAIT_BAD_ANSWER:
		break;
	}
	fprintf(stderr, "pagehint: ctl: waiting for the balloon: %s\n", err);
	return 1;
}

/* The reply's body: JSON indented, anything else as it is. */
static void print_body(const struct api_reply *r)
{
	json_t *j = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

	if (text)
		printf("%s\n", text);
	else if (r->body)
		fwrite(r->body, 1, r->len, stdout);
	free(text);
	json_decref(j);
}

int ctl_main(int argc, const char *const *argv)
{
	struct ctl_opts o = { 0 };
	struct request rq = { 0 };
	struct api_reply r;
	char err[512], body[96];
	int i = 2, end = 2;

	/* The options end at the first word that is not one (or its value). */
	while (end < argc && argv[end][0] == '-')
		end += !strcmp(argv[end], "--api-sock") ? 2 : 1;
	if (end > argc)
		end = argc;
	switch (opt_read(&ctl_opts, end, argv, &i, &o, NULL, err, sizeof(err))) {
	case OPT_HELP_ASKED:
		usage(stdout);
		return 0;
	case OPT_BAD:
		fprintf(stderr, "pagehint: %s\n", err);
		return CLI_EXIT_USAGE;
	case OPT_DONE:
		break;
	}
	if (end < argc && !strcmp(argv[end], "watch"))
		return ctl_watch_main(o.sock, argc - end - 1, argv + end + 1);
	if (!o.sock)
		return bad("ctl needs --api-sock PATH");
	int words = argc - end;
	unsigned wait_s;
	int st = wait_of(&words, argv + end, &wait_s);
	if (!st)
		st = what_of(words, argv + end, &rq, body, sizeof(body));
	if (st)
		return st;
	if (api_request(o.sock, rq.method, rq.target, rq.body, &r, err, sizeof(err))) {
		fprintf(stderr, "pagehint: ctl: %s\n", err);
		return CTL_EXIT_UNAVAILABLE;
	}
	if (r.status >= 200 && r.status < 300) {
		print_body(&r);
		free(r.body);
		return wait_s ? wait_for_balloon(o.sock, argv[end + 2], wait_s) : 0;
	}
	json_t *j = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "fault_message"));
	fprintf(stderr, "pagehint: ctl: %s %s: %d: %s\n", rq.method, rq.target, r.status,
		msg ? msg : r.body ? r.body : "(no message)");
	json_decref(j);
	free(r.body);
	return 1;
}
