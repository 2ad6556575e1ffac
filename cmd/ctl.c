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
	      "  stats               the guest's balloon stats and the host's counters\n"
	      "  stats interval N    ask the guest for stats every N seconds\n"
	      "  metrics             Prometheus text exposition\n"
	      "  shutdown            end the run (as SIGTERM does)\n"
	      "  watch               a line every interval until the VM goes away\n"
	      "                      (pagehint ctl watch --help)\n"
	      "\n"
	      "options:\n", f);
	opt_help(f, &ctl_opts);
	fputs("\nExit status: 0; 1 the API refused the request; 64 bad usage; 69 the\n"
	      "socket could not be reached.\n", f);
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
	int st = what_of(argc - end, argv + end, &rq, body, sizeof(body));
	if (st)
		return st;
	if (api_request(o.sock, rq.method, rq.target, rq.body, &r, err, sizeof(err))) {
		fprintf(stderr, "pagehint: ctl: %s\n", err);
		return CTL_EXIT_UNAVAILABLE;
	}
	if (r.status >= 200 && r.status < 300) {
		print_body(&r);
		free(r.body);
		return 0;
	}
	json_t *j = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "fault_message"));
	fprintf(stderr, "pagehint: ctl: %s %s: %d: %s\n", rq.method, rq.target, r.status,
		msg ? msg : r.body ? r.body : "(no message)");
	json_decref(j);
	free(r.body);
	return 1;
}
