/* SPDX-License-Identifier: MIT */
/*
 * `pagehint ctl --api-sock PATH watch [--interval MS]`: a running VM's
 * live view built from its control API alone (docs/vmm.md, "Control
 * API"). GET /vm once for the RAM size and the uptime, then one line per
 * interval from GET /balloon/statistics: uptime, guest RAM resident on the
 * host, MiB reported and discarded, report requests, the balloon's actual
 * size. A VM that goes away (its socket removed, or no longer listening)
 * ends the watch with status 0; one that never answers is an error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "cli.h"
#include "clock.h"
#include "ctl.h"
#include "ctl_watch.h"
#include "options.h"

#define RETRY_MS 100u		/* between tries for the first answer */
#define STRIKES 3		/* failed requests in a row to a listening socket */
#define BAR_WIDTH 30		/* '#' for the whole RAM resident */

struct watch_opts {
	unsigned interval_ms;
};

static const struct opt options[] = {
	{ "--interval", "MS", OPT_UINT, OPT_AT(struct watch_opts, interval_ms), .min = 50,
	  .max = 60000, .help = "one line every MS ms, 50-60000 (default 500)" },
	{ "--help", NULL, OPT_HELP, .help = "this text" },
};

static const struct opt_cmd watch_cmd = {
	.cmd = "pagehint ctl watch",
	.opts = options,
	.n = sizeof(options) / sizeof(options[0]),
};

static void usage(FILE *f)
{
	fputs("usage: pagehint ctl --api-sock PATH watch [--interval MS]\n"
	      "\n"
	      "A running VM's live view from its control API: one line per interval\n"
	      "(GET /balloon/statistics): uptime, guest RAM resident on the host, MiB\n"
	      "reported and discarded, report requests, the balloon's actual size.\n"
	      "Waits up to 10 s for a VM that is still starting; ends when the VM\n"
	      "goes away.\n"
	      "\n"
	      "options:\n", f);
	opt_help(f, &watch_cmd);
	fputs("\nExit status: 0 the VM went away; 1 the API refused a request or its\n"
	      "answer was not understood; 64 bad usage; 69 the VM did not answer\n"
	      "within 10 s, or stopped answering while its socket still listens.\n", f);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Why the VM is gone (its socket removed or not listening), or NULL if
 * the socket still takes connections or cannot be judged. */
static const char *gone_because(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (stat(path, &st) && errno == ENOENT)
		return "its socket was removed";
	if (strlen(path) >= sizeof(sa.sun_path))
		return NULL;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	if (rc && (e == ECONNREFUSED || e == ENOENT))
		return "its socket no longer listens";
	return NULL;
}

/* GET target as JSON: 0 and *j; 1 the API answered but not with 200 and
 * JSON (said on err); -1 no answer (why in why). */
static int get_json(const char *sock, const char *target, json_t **j, char *why, size_t n,
		    FILE *err)
{
	struct api_reply r;

	why[0] = 0;
	*j = NULL;
	if (api_request(sock, "GET", target, NULL, &r, why, n))
		return -1;
	json_t *v = r.status == 200 && r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	if (!json_is_object(v)) {
		json_t *f = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
		const char *msg = json_string_value(json_object_get(f, "fault_message"));
		fprintf(err, "pagehint: ctl watch: GET %s: %d: %s\n", target, r.status,
			msg ? msg : r.status == 200 ? "not a JSON object" : "(no message)");
		json_decref(f);
		json_decref(v);
		free(r.body);
		return 1;
	}
	free(r.body);
	*j = v;
	return 0;
}

static double num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static void print_header(FILE *out, const char *sock, json_t *vm, unsigned interval_ms)
{
	fprintf(out, "== ctl watch %s: %lld vCPUs, %lld MiB; GET /balloon/statistics every %u ms\n",
		sock, json_integer_value(json_object_get(vm, "vcpus")),
		json_integer_value(json_object_get(vm, "mem_mib")), interval_ms);
	fprintf(out, "%9s%14s%14s%15s%10s%13s\n", "uptime s", "resident MiB", "reported MiB",
		"discarded MiB", "requests", "balloon MiB");
}

/* One line of the view from a statistics answer; resident null: "-". */
static void print_line(FILE *out, double uptime_s, json_t *st, double mem_mib)
{
	json_t *host = json_object_get(st, "host");
	json_t *res = json_object_get(host, "resident_mib");
	char bar[BAR_WIDTH + 1] = "";

	fprintf(out, "%9.1f", uptime_s);
	if (json_is_number(res)) {
		double share = mem_mib > 0 ? json_number_value(res) / mem_mib : 0;
		int w = (int)(share * BAR_WIDTH + 0.5);
		w = w < 0 ? 0 : w > BAR_WIDTH ? BAR_WIDTH : w;
		memset(bar, '#', (size_t)w);
		bar[w] = 0;
		fprintf(out, "%14.1f", json_number_value(res));
	} else {
		fprintf(out, "%14s", "-");
	}
	fprintf(out, "%14.1f%15.1f%10lld%13lld  %s\n", num(host, "reported_mib"),
		num(host, "discarded_mib"), json_integer_value(json_object_get(host, "report_requests")),
		json_integer_value(json_object_get(st, "actual_mib")), bar);
	fflush(out);
}

int ctl_watch(const struct ctl_watch *w, FILE *out, FILE *err)
{
	char why[512];
	json_t *vm = NULL;
	uint64_t deadline = mono_ns() + (uint64_t)w->first_answer_ms * 1000000u;
	int rc;

	/* The first answer: the VM may still be starting (no socket yet). */
	while ((rc = get_json(w->sock, "/vm", &vm, why, sizeof(why), err)) < 0) {
		if (mono_ns() >= deadline) {
			fprintf(err, "pagehint: ctl watch: no answer within %u ms: %s\n",
				w->first_answer_ms, why);
			return CTL_EXIT_UNAVAILABLE;
		}
		sleep_ms(RETRY_MS);
	}
	if (rc)
		return 1;
	uint64_t t_first = mono_ns();
	double uptime0 = num(vm, "uptime_s"), mem_mib = num(vm, "mem_mib");
	print_header(out, w->sock, vm, w->interval_ms);
	json_decref(vm);

	unsigned strikes = 0;
	uint64_t next = t_first;
	for (;;) {
		json_t *st;
		double uptime = uptime0 + (double)(mono_ns() - t_first) / 1e9;

		rc = get_json(w->sock, "/balloon/statistics", &st, why, sizeof(why), err);
		if (rc > 0)
			return 1;
		if (rc == 0) {
			print_line(out, uptime, st, mem_mib);
			json_decref(st);
			strikes = 0;
		} else {
			const char *gone = gone_because(w->sock);
			if (gone) {
				fprintf(out, "== the VM is gone: %s\n", gone);
				fflush(out);
				return 0;
			}
			if (++strikes == STRIKES) {
				fprintf(err, "pagehint: ctl watch: the VM stopped answering: %s\n", why);
				return CTL_EXIT_UNAVAILABLE;
			}
		}
		/* The next line on the interval's grid, or one interval from now
		 * if a slow answer made us miss it. */
		uint64_t now = mono_ns(), step = (uint64_t)w->interval_ms * 1000000u;
		next += step;
		if (next <= now)
			next = now + step;
		sleep_ms((unsigned)((next - now) / 1000000u));
	}
}

int ctl_watch_main(const char *sock, int argc, const char *const *argv)
{
	struct watch_opts o = { .interval_ms = CTL_WATCH_INTERVAL_MS };
	char err[512];
	int i = 0;

	switch (opt_read(&watch_cmd, argc, argv, &i, &o, NULL, err, sizeof(err))) {
	case OPT_HELP_ASKED:
		usage(stdout);
		return 0;
	case OPT_BAD:
		fprintf(stderr, "pagehint: %s\n", err);
		return CLI_EXIT_USAGE;
	case OPT_DONE:
		break;
	}
	if (!sock) {
		fputs("pagehint: ctl watch needs --api-sock PATH before it "
		      "(try 'pagehint ctl watch --help')\n", stderr);
		return CLI_EXIT_USAGE;
	}
	struct ctl_watch w = { .sock = sock, .interval_ms = o.interval_ms,
			       .first_answer_ms = CTL_WATCH_FIRST_ANSWER_MS };
	return ctl_watch(&w, stdout, stderr);
}
