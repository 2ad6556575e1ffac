/* SPDX-License-Identifier: MIT */
/* The control API without KVM: the server on a temporary socket against a
 * fake VM, every endpoint and error, the socket's safety, concurrent and
 * pipelined clients, and clients that abuse it (byte by byte, never
 * finishing, 1 MiB of headers, endless bodies, too many, not reading)
 * while others are still served; the metrics checked against the text
 * exposition format; `pagehint ctl watch` (cmd/ctl_watch.c) against it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "api_balloon_wait.h"
#include "clock.h"
#include "ctl.h"
#include "ctl_watch.h"

#define REQUEST_MS 1000
#define IDLE_MS 1500

struct fake {
	atomic_ullong target_pages;
	atomic_uint interval;
	atomic_int shutdowns;
	atomic_int snapshots;
	/* A guest that follows the target: actual moves 512 pages towards it
	 * per snapshot; else actual stays 1024. */
	atomic_bool follows;
	atomic_ullong actual_pages;
	atomic_ullong target_latencies;	/* 0 at first: none measured yet */
};

static void fake_snapshot(void *opaque, struct api_snapshot *s)
{
	struct fake *f = opaque;

	atomic_fetch_add(&f->snapshots, 1);
	s->state = "Running";
	s->vcpus = 2;
	s->mem_bytes = 2048ull << 20;
	s->uptime_ns = 12500000000ull;
	s->features_offered = 1u << 1 | 1u << 5 | 1u << 23;
	s->features_negotiated = 1u << 1 | 1u << 5 | 1ull << 32;
	s->target_pages = atomic_load(&f->target_pages);
	s->actual_pages = 1024;
	if (atomic_load(&f->follows)) {
		uint64_t a = atomic_load(&f->actual_pages), t = s->target_pages;
		a = a < t ? (t - a > 512 ? a + 512 : t) : (a - t > 512 ? a - 512 : t);
		atomic_store(&f->actual_pages, a);
		s->actual_pages = a;
	}
	s->stats_interval_s = atomic_load(&f->interval);
	s->stats_present = 1u << VIRTIO_BALLOON_S_MEMFREE | 1u << VIRTIO_BALLOON_S_MEMTOT;
	s->stats[VIRTIO_BALLOON_S_MEMFREE] = 1500ull << 20;
	s->stats[VIRTIO_BALLOON_S_MEMTOT] = 2000ull << 20;
	s->reported_bytes = 3ull << 20;
	s->discarded_bytes = 5ull << 20;
	s->report_requests = 7;
	s->report_ranges = 11;
	s->discard_calls = 9;
	s->target_latencies = atomic_load(&f->target_latencies);
	s->target_latency_ns = s->target_latencies ? 12500000 : 0;
	s->exits.cause[EXIT_HLT] = 42;
	s->exits.notify[BQ_REPORT] = 6;
	s->have_resident = true;
	s->resident_bytes = 300ull << 20;
	/* 3 at 8 µs, 5 at 60 µs, 1 at 3 s (above the largest bound) */
	s->report_latency.bucket[1] = 3;
	s->report_latency.bucket[4] = 5;
	s->report_latency.bucket[LAT_HIST_BOUNDS] = 1;
	s->report_latency.count = 9;
	s->report_latency.sum_ns = 3 * 8000 + 5 * 60000 + 3000000000ull;
	s->report_latency.max_ns = 3000000000ull;
}

static int fake_set_target(void *opaque, uint64_t pages, char *err, size_t n)
{
	struct fake *f = opaque;

	if (pages == 256) {	/* 1 MiB: the fake's own refusal */
		snprintf(err, n, "the fake refuses 1 MiB");
		return -1;
	}
	atomic_store(&f->target_pages, pages);
	return 0;
}

static int fake_set_interval(void *opaque, unsigned s, char *err, size_t n)
{
	(void)err;
	(void)n;
	atomic_store(&((struct fake *)opaque)->interval, s);
	return 0;
}

static void fake_shutdown(void *opaque)
{
	atomic_fetch_add(&((struct fake *)opaque)->shutdowns, 1);
}

struct env {
	char dir[64], path[96];
	struct fake f;
	struct api *api;
};

static struct api *start(struct env *e, bool with_interval)
{
	struct api_ops ops = {
		.opaque = &e->f, .snapshot = fake_snapshot, .set_target = fake_set_target,
		.set_stats_interval = with_interval ? fake_set_interval : NULL,
		.shutdown = fake_shutdown,
	};
	struct api_limits lim = { .request_ms = REQUEST_MS, .idle_ms = IDLE_MS };
	char err[256];

	struct api *a = api_start(e->path, &ops, &lim, err, sizeof(err));
	if (!a)
		fail_msg("api_start: %s", err);
	return a;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	strcpy(e->dir, "/tmp/ph-api-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/api.sock", e->dir);
	atomic_store(&e->f.interval, 1);
	e->api = start(e, true);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	api_stop(e->api);
	rmdir(e->dir);
	free(e);
	return 0;
}

/* --- helpers ----------------------------------------------------------------- */

static struct api_reply ask(struct env *e, const char *method, const char *target, const char *body)
{
	struct api_reply r;
	char err[256];

	if (api_request(e->path, method, target, body, &r, err, sizeof(err)))
		fail_msg("%s %s: %s", method, target, err);
	return r;
}

static json_t *ask_json(struct env *e, const char *method, const char *target, const char *body,
			int status)
{
	struct api_reply r = ask(e, method, target, body);

	if (r.status != status)
		fail_msg("%s %s: %d, not %d: %s", method, target, r.status, status, r.body ? r.body : "");
	json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	free(r.body);
	return j;
}

/* A fault's status and message (which must contain `has`). */
static void expect_fault(struct env *e, const char *method, const char *target, const char *body,
			 int status, const char *has)
{
	json_t *j = ask_json(e, method, target, body, status);
	const char *msg = json_string_value(json_object_get(j, "fault_message"));

	assert_non_null(msg);
	if (!strstr(msg, has))
		fail_msg("%s %s: '%s' does not say '%s'", method, target, msg, has);
	json_decref(j);
}

static int connect_to(const struct env *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, e->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Send what fits (the server may close early: errors ignored). */
static void send_some(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

/* Read until EOF or wait_ms of silence; NUL-terminated. */
static size_t read_all(int fd, char *out, size_t cap, int wait_ms)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, wait_ms) <= 0)
			break;
		ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = 0;
	return n;
}

/* One raw exchange: the bytes, then what came back until EOF. */
static void raw(const struct env *e, const char *req, char *out, size_t cap)
{
	int fd = connect_to(e);

	send_some(fd, req, strlen(req));
	read_all(fd, out, cap, 3000);
	close(fd);
}

static bool closed_by_server(int fd, int wait_ms)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, wait_ms) <= 0)
			return false;
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0)
			return true;
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static uint64_t ms_since(uint64_t t0)
{
	return (mono_ns() - t0) / 1000000u;
}

/* --- the socket ---------------------------------------------------------------- */

static void socket_safety(void **state)
{
	struct env *e = *state;
	struct stat st;
	char err[256], other[128];
	struct api_ops ops = { .opaque = &e->f, .snapshot = fake_snapshot,
			       .set_target = fake_set_target, .shutdown = fake_shutdown };

	assert_int_equal(stat(e->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	/* A second server on the same path is refused; the first still answers. */
	assert_null(api_start(e->path, &ops, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "exists"));
	json_decref(ask_json(e, "GET", "/vm", NULL, 200));

	/* So is any other existing file, which stays. */
	snprintf(other, sizeof(other), "%s/file", e->dir);
	int fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_null(api_start(other, &ops, NULL, err, sizeof(err)));
	assert_int_equal(stat(other, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(other);

	/* A path too long for a socket address. */
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	assert_null(api_start(longp, &ops, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "longer"));

	/* Removed at stop; a new server can then take the path. */
	api_stop(e->api);
	assert_int_equal(stat(e->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	e->api = start(e, true);

	/* Not someone else's file put there after us. */
	api_stop(e->api);
	fd = open(e->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	unlink(e->path);
	e->api = start(e, true);
	unlink(e->path);
	fd = open(e->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	api_stop(e->api);
	assert_int_equal(stat(e->path, &st), 0);
	unlink(e->path);
	e->api = start(e, true);
}

/* --- the endpoints --------------------------------------------------------------- */

static void get_vm(void **state)
{
	struct env *e = *state;
	json_t *j = ask_json(e, "GET", "/vm", NULL, 200);

	assert_string_equal(json_string_value(json_object_get(j, "state")), "Running");
	assert_int_equal(json_integer_value(json_object_get(j, "vcpus")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "mem_mib")), 2048);
	assert_true(json_real_value(json_object_get(j, "uptime_s")) == 12.5);
	json_t *b = json_object_get(j, "balloon");
	json_t *off = json_object_get(b, "features_offered");
	json_t *neg = json_object_get(b, "features_negotiated");
	assert_int_equal(json_array_size(off), 3);
	assert_string_equal(json_string_value(json_array_get(off, 0)), "stats_vq");
	assert_string_equal(json_string_value(json_array_get(off, 1)), "free_page_reporting");
	assert_string_equal(json_string_value(json_array_get(off, 2)), "exitless_map");
	assert_string_equal(json_string_value(json_array_get(neg, 2)), "version_1");
	json_decref(j);
	/* A query string is not part of the path. */
	json_decref(ask_json(e, "GET", "/vm?pretty=1", NULL, 200));
}

static void balloon(void **state)
{
	struct env *e = *state;
	json_t *j = ask_json(e, "GET", "/balloon", NULL, 200);

	assert_int_equal(json_integer_value(json_object_get(j, "amount_mib")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "actual_mib")), 4);
	assert_int_equal(json_integer_value(json_object_get(j, "actual_pages")), 1024);
	assert_int_equal(json_integer_value(json_object_get(j, "stats_polling_interval_s")), 1);
	assert_true(json_is_false(json_object_get(j, "deflate_on_oom")));
	json_decref(j);

	assert_null(ask_json(e, "PATCH", "/balloon", "{\"amount_mib\": 512}", 204));
	assert_int_equal(atomic_load(&e->f.target_pages), 512 * 256);
	j = ask_json(e, "GET", "/balloon", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "amount_mib")), 512);
	assert_int_equal(json_integer_value(json_object_get(j, "target_pages")), 512 * 256);
	json_decref(j);
	/* The whole RAM, and back to none. */
	assert_null(ask_json(e, "PATCH", "/balloon", "{\"amount_mib\": 2048}", 204));
	assert_null(ask_json(e, "PATCH", "/balloon", "{\"amount_mib\": 0}", 204));
	assert_int_equal(atomic_load(&e->f.target_pages), 0);

	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": 2049}", 400, "from 0 to 2048");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": -1}", 400, "whole number");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": 1.5}", 400, "whole number");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": \"512\"}", 400, "whole number");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": 99999999999999999999}", 400, "not JSON");
	expect_fault(e, "PATCH", "/balloon", "{}", 400, "missing field 'amount_mib'");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": 1, \"colour\": 2}", 400, "unknown field 'colour'");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": 1, \"amount_mib\": 2}", 400, "not JSON");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}", 400,
		     "only amount_mib");
	expect_fault(e, "PATCH", "/balloon", "[512]", 400, "JSON object");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": ", 400, "not JSON");
	expect_fault(e, "PATCH", "/balloon", "", 400, "needs a JSON body");
	expect_fault(e, "PATCH", "/balloon", "{\"amount_mib\": 1}", 400, "the fake refuses");
	assert_int_equal(atomic_load(&e->f.target_pages), 0);

	/* The body must say it is JSON. */
	char out[2048];
	raw(e, "PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
	       "Content-Length: 17\r\n\r\n{\"amount_mib\": 8}", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 415 "));
	raw(e, "PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n{\"amount_mib\": 8}",
	    out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 415 "));
	raw(e, "PATCH /balloon HTTP/1.1\r\nHost: x\r\ncontent-type: Application/JSON; charset=utf-8\r\n"
	       "Content-Length: 17\r\n\r\n{\"amount_mib\": 8}", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 204 "));
	assert_int_equal(atomic_load(&e->f.target_pages), 8 * 256);
	/* A chunked body is read whole. */
	raw(e, "PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"amo\r\nd\r\nunt_mib\": 16}\r\n0\r\n\r\n",
	    out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 204 "));
	assert_int_equal(atomic_load(&e->f.target_pages), 16 * 256);
}

static void statistics(void **state)
{
	struct env *e = *state;
	json_t *j = ask_json(e, "GET", "/balloon/statistics", NULL, 200);

	assert_int_equal(json_integer_value(json_object_get(j, "actual_pages")), 1024);
	assert_int_equal(json_integer_value(json_object_get(j, "actual_mib")), 4);
	assert_int_equal(json_integer_value(json_object_get(j, "free_memory")), 1500ll << 20);
	assert_int_equal(json_integer_value(json_object_get(j, "total_memory")), 2000ll << 20);
	assert_null(json_object_get(j, "swap_in"));	/* not reported: left out */
	json_t *h = json_object_get(j, "host");
	assert_true(json_real_value(json_object_get(h, "reported_mib")) == 3.0);
	assert_true(json_real_value(json_object_get(h, "discarded_mib")) == 5.0);
	assert_true(json_real_value(json_object_get(h, "resident_mib")) == 300.0);
	assert_int_equal(json_integer_value(json_object_get(h, "report_requests")), 7);
	assert_int_equal(json_integer_value(json_object_get(h, "report_ranges")), 11);
	assert_int_equal(json_integer_value(json_object_get(h, "exits_total")), 42);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "exits"), "hlt")), 42);
	/* quantiles: the bound of their bucket, no more than the max */
	json_t *lat = json_object_get(h, "report_latency");
	assert_int_equal(json_integer_value(json_object_get(lat, "count")), 9);
	assert_true(json_real_value(json_object_get(lat, "sum_s")) == 3.000324);
	assert_true(json_real_value(json_object_get(lat, "p50_s")) == 0.0001);
	assert_true(json_real_value(json_object_get(lat, "p90_s")) == 3.0);
	assert_true(json_real_value(json_object_get(lat, "p99_s")) == 3.0);
	assert_true(json_real_value(json_object_get(lat, "max_s")) == 3.0);
	/* no target change answered yet: last_s null, not 0 */
	json_t *tl = json_object_get(h, "target_latency");
	assert_int_equal(json_integer_value(json_object_get(tl, "count")), 0);
	assert_true(json_is_null(json_object_get(tl, "last_s")));
	json_decref(j);
	atomic_store(&e->f.target_latencies, 2);
	j = ask_json(e, "GET", "/balloon/statistics", NULL, 200);
	tl = json_object_get(json_object_get(j, "host"), "target_latency");
	assert_int_equal(json_integer_value(json_object_get(tl, "count")), 2);
	assert_true(json_real_value(json_object_get(tl, "last_s")) == 0.0125);
	json_decref(j);

	assert_null(ask_json(e, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 5}", 204));
	assert_int_equal(atomic_load(&e->f.interval), 5);
	expect_fault(e, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 0}", 400,
		     "from 1 to 86400");
	expect_fault(e, "PATCH", "/balloon/statistics", "{\"amount_mib\": 5}", 400, "unknown field");

	/* A device whose interval cannot change says so. */
	api_stop(e->api);
	e->api = start(e, false);
	expect_fault(e, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 5}", 400,
		     "cannot be changed");
	api_stop(e->api);
	e->api = start(e, true);
}

/* A histogram family's samples as they go by: buckets by ascending le,
 * cumulative, the last +Inf; then _sum and _count, which is +Inf's. */
struct hist_check {
	const char *family;	/* NULL: the current family is not a histogram */
	double last_le;
	unsigned long long last_cum, inf;
	unsigned buckets;
	bool saw_inf, saw_sum, saw_count;
};

static void hist_sample(struct hist_check *h, const char *line, const char *name)
{
	size_t fl = strlen(h->family);
	const char *suffix = name + fl;
	unsigned long long v;

	if (strncmp(name, h->family, fl))
		fail_msg("sample %s is not of histogram %s", name, h->family);
	if (!strcmp(suffix, "_bucket")) {
		char le[32];
		if (sscanf(line + strlen(name), "{le=\"%31[^\"]\"} %llu", le, &v) != 2)
			fail_msg("bucket without a lone le label: '%s'", line);
		if (h->saw_inf)
			fail_msg("bucket after +Inf: '%s'", line);
		if (!strcmp(le, "+Inf")) {
			h->saw_inf = true;
			h->inf = v;
		} else {
			char *end;
			double b = strtod(le, &end);
			if (*end || (h->buckets && b <= h->last_le))
				fail_msg("le not a number above the last: '%s'", line);
			h->last_le = b;
		}
		if (v < h->last_cum)
			fail_msg("buckets not cumulative: '%s'", line);
		h->last_cum = v;
		h->buckets++;
	} else if (!strcmp(suffix, "_sum")) {
		h->saw_sum = true;
	} else if (!strcmp(suffix, "_count")) {
		if (sscanf(line + strlen(name), " %llu", &v) != 1 || !h->saw_inf || v != h->inf)
			fail_msg("%s is not its +Inf bucket's value: '%s'", name, line);
		h->saw_count = true;
	} else {
		fail_msg("sample %s: not _bucket, _sum or _count of %s", name, h->family);
	}
}

static void hist_end(struct hist_check *h)
{
	if (h->family && !(h->buckets >= 2 && h->saw_inf && h->saw_sum && h->saw_count))
		fail_msg("histogram %s lacks buckets, +Inf, _sum or _count", h->family);
	*h = (struct hist_check){ 0 };
}

/* The text exposition format (version 0.0.4), as promtool checks it:
 * HELP and TYPE once per family and before its samples, names and
 * labels well formed, counters named _total, values numbers; a
 * histogram's buckets cumulative by ascending le up to +Inf == _count. */
static void check_exposition(const char *text)
{
	regex_t help, type, sample;
	char families[64][80];
	char types[64][12];
	unsigned nf = 0, nhist = 0;
	struct hist_check hc = { 0 };

	assert_int_equal(regcomp(&help, "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\n]+$", REG_EXTENDED), 0);
	assert_int_equal(regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$",
				 REG_EXTENDED), 0);
	assert_int_equal(regcomp(&sample, "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
				 "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\n]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\n]*\")*\\})?"
				 " (-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?)$", REG_EXTENDED), 0);
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	char *copy = strdup(text), *save = NULL;
	const char *last_help = "";
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[3];
		char name[80];
		if (!regexec(&help, line, 2, m, 0)) {
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			for (unsigned k = 0; k < nf; k++)
				if (!strcmp(families[k], name))
					fail_msg("family %s described twice", name);
			last_help = line;
			continue;
		}
		if (!regexec(&type, line, 3, m, 0)) {
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			if (!strstr(last_help, name))
				fail_msg("TYPE %s without its HELP just before", name);
			assert_true(nf < 64);
			strcpy(families[nf], name);
			snprintf(types[nf], sizeof(types[nf]), "%.*s", (int)(m[2].rm_eo - m[2].rm_so),
				 line + m[2].rm_so);
			if (!strcmp(types[nf], "counter") && !strstr(name, "_total"))
				fail_msg("counter %s is not named _total", name);
			hist_end(&hc);
			if (!strcmp(types[nf], "histogram")) {
				hc.family = families[nf];
				nhist++;
			}
			nf++;
			continue;
		}
		if (regexec(&sample, line, 2, m, 0))
			fail_msg("not a sample line: '%s'", line);
		snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
		if (hc.family)
			hist_sample(&hc, line, name);
		else if (!nf || strcmp(families[nf - 1], name))
			fail_msg("sample %s is not under its family's TYPE", name);
	}
	hist_end(&hc);
	assert_true(nf >= 10);
	assert_int_equal(nhist, 1);
	free(copy);
	regfree(&help);
	regfree(&type);
	regfree(&sample);
}

static void metrics(void **state)
{
	struct env *e = *state;
	char out[32768];

	raw(e, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));

	struct api_reply r = ask(e, "GET", "/metrics", NULL);
	assert_int_equal(r.status, 200);
	check_exposition(r.body);
	assert_non_null(strstr(r.body, "\npagehint_balloon_discarded_bytes_total 5242880\n"));
	assert_non_null(strstr(r.body, "\npagehint_balloon_report_requests_total 7\n"));
	assert_non_null(strstr(r.body, "\npagehint_vm_exits_total{cause=\"hlt\"} 42\n"));
	assert_non_null(strstr(r.body, "\npagehint_ioeventfd_notifies_total{queue=\"report\"} 6\n"));
	assert_non_null(strstr(r.body, "\n# TYPE pagehint_guest_resident_bytes gauge\n"
				       "pagehint_guest_resident_bytes 314572800\n"));
	assert_non_null(strstr(r.body, "\npagehint_balloon_actual_bytes 4194304\n"));
	/* the fake's latencies: 3 at 8 µs, 5 at 60 µs, 1 at 3 s */
	static const char *const hist[] = {
		"\n# TYPE pagehint_balloon_report_latency_seconds histogram\n"
		"pagehint_balloon_report_latency_seconds_bucket{le=\"5e-06\"} 0\n"
		"pagehint_balloon_report_latency_seconds_bucket{le=\"1e-05\"} 3\n",
		"\npagehint_balloon_report_latency_seconds_bucket{le=\"5e-05\"} 3\n"
		"pagehint_balloon_report_latency_seconds_bucket{le=\"0.0001\"} 8\n",
		"\npagehint_balloon_report_latency_seconds_bucket{le=\"2.5\"} 8\n"
		"pagehint_balloon_report_latency_seconds_bucket{le=\"+Inf\"} 9\n"
		"pagehint_balloon_report_latency_seconds_sum 3.000324000\n"
		"pagehint_balloon_report_latency_seconds_count 9\n",
	};
	for (size_t i = 0; i < sizeof(hist) / sizeof(hist[0]); i++)
		if (!strstr(r.body, hist[i]))
			fail_msg("/metrics lacks\n%s\nin\n%s", hist[i], r.body);
	/* promtool, where installed, checks the same text (tests/api/promtool.sh) */
	const char *dump = getenv("PH_API_METRICS_OUT");
	if (dump) {
		FILE *f = fopen(dump, "w");
		assert_non_null(f);
		fputs(r.body, f);
		fclose(f);
	}
	free(r.body);
}

static void actions(void **state)
{
	struct env *e = *state;

	expect_fault(e, "PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400, "Shutdown");
	expect_fault(e, "PUT", "/actions", "{\"action_type\": 1}", 400, "Shutdown");
	expect_fault(e, "PUT", "/actions", "{}", 400, "Shutdown");
	assert_int_equal(atomic_load(&e->f.shutdowns), 0);

	/* The answer goes out before the VM is told; then the connection ends. */
	char out[2048];
	raw(e, "PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	       "Content-Length: 27\r\n\r\n{\"action_type\": \"Shutdown\"}GET /vm HTTP/1.1\r\n\r\n",
	    out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 204 No Content\r\n"));
	assert_non_null(strstr(out, "Connection: close\r\n"));
	assert_null(strstr(out + 10, "HTTP/1.1"));	/* nothing after it was read */
	for (int i = 0; i < 100 && !atomic_load(&e->f.shutdowns); i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&e->f.shutdowns), 1);
}

static void errors(void **state)
{
	struct env *e = *state;
	char out[4096];

	expect_fault(e, "GET", "/nope", NULL, 404, "no such resource: /nope");
	expect_fault(e, "GET", "/", NULL, 404, "no such resource");
	expect_fault(e, "GET", "/balloon/", NULL, 404, "no such resource");
	expect_fault(e, "DELETE", "/balloon", NULL, 405, "allowed are GET, PATCH");
	expect_fault(e, "POST", "/actions", "{}", 405, "allowed are PUT");
	expect_fault(e, "PUT", "/vm", "{}", 405, "allowed are GET");

	raw(e, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(out, "\r\nAllow: GET\r\n"));

	raw(e, "hello\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(out, "\"fault_message\""));
	raw(e, "GET /vm HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 400 "));

	char url[400 + 64];
	snprintf(url, sizeof(url), "GET /%0400d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
	raw(e, url, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 414 "));

	/* After all that, the API still answers. */
	json_decref(ask_json(e, "GET", "/vm", NULL, 200));
}

/* Two requests in one write: two answers, in order, on one connection. */
static void pipelined(void **state)
{
	struct env *e = *state;
	char out[8192];

	raw(e, "GET /balloon HTTP/1.1\r\nHost: x\r\n\r\n"
	       "PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	       "Content-Length: 17\r\n\r\n{\"amount_mib\": 3}"
	       "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof(out));
	char *a = strstr(out, "HTTP/1.1 200 OK"), *b = strstr(out, "HTTP/1.1 204 "),
	     *c = strstr(out, "HTTP/1.1 404 ");
	assert_true(a && b && c && a < b && b < c);
	assert_int_equal(atomic_load(&e->f.target_pages), 3 * 256);
}

/* --- abuse --------------------------------------------------------------------------- */

/* While a client holds a connection open, another is served well before
 * the server would drop that client (with room for a loaded machine). */
static void served_meanwhile(struct env *e)
{
	uint64_t t0 = mono_ns();
	json_decref(ask_json(e, "GET", "/vm", NULL, 200));
	assert_true(ms_since(t0) < REQUEST_MS / 2);
}

static void slow_clients(void **state)
{
	struct env *e = *state;
	static const char req[] = "GET /vm HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n\r\n";
	char out[4096];

	/* Byte by byte, slower than the request time allows: 408, closed. */
	int fd = connect_to(e);
	uint64_t t0 = mono_ns();
	size_t i = 0;
	for (; i < sizeof(req) - 1 && ms_since(t0) < 2 * REQUEST_MS; i++) {
		send_some(fd, &req[i], 1);
		if (i == 3)
			served_meanwhile(e);
		sleep_ms(100);
	}
	assert_true(i < sizeof(req) - 1);
	read_all(fd, out, sizeof(out), 1000);
	assert_non_null(strstr(out, "HTTP/1.1 408 Request Timeout\r\n"));
	close(fd);

	/* Byte by byte but in time: answered. */
	fd = connect_to(e);
	for (i = 0; i < sizeof(req) - 1; i++)
		send_some(fd, &req[i], 1);
	read_all(fd, out, sizeof(out), 500);
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	close(fd);

	/* Never finishing: 408 after the request time. */
	fd = connect_to(e);
	send_some(fd, "GET /v", 6);
	served_meanwhile(e);
	t0 = mono_ns();
	read_all(fd, out, sizeof(out), 3000);
	assert_non_null(strstr(out, "HTTP/1.1 408 "));
	assert_true(ms_since(t0) < REQUEST_MS + 500);
	close(fd);

	/* Never saying anything: closed when idle too long, no answer. */
	fd = connect_to(e);
	t0 = mono_ns();
	assert_true(closed_by_server(fd, 3000));
	assert_true(ms_since(t0) >= IDLE_MS - 50 && ms_since(t0) < IDLE_MS + 1000);
	close(fd);
}

static void *flood(void *arg)
{
	int fd = *(int *)arg;
	char *junk = malloc(1 << 20);

	memset(junk, 'a', 1 << 20);
	send_some(fd, junk, 1 << 20);
	free(junk);
	return NULL;
}

/* The sender of a flood runs on a thread: the server stops reading it. */
static void flood_answer(struct env *e, const char *head, const char *want)
{
	char out[4096];
	pthread_t t;
	int fd = connect_to(e);

	send_some(fd, head, strlen(head));
	pthread_create(&t, NULL, flood, &fd);
	served_meanwhile(e);
	read_all(fd, out, sizeof(out), 3000);
	shutdown(fd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(fd);
	if (!strstr(out, want))
		fail_msg("'%.60s...': answer '%.60s', not '%s'", head, out, want);
}

static void big_requests(void **state)
{
	struct env *e = *state;
	char out[4096];

	/* 1 MiB of headers: 431 once past API_MAX_HEADER. */
	flood_answer(e, "GET /vm HTTP/1.1\r\nX-Big: ", "HTTP/1.1 431 ");
	/* A body longer than API_MAX_BODY: refused on its Content-Length ... */
	raw(e, "PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	       "Content-Length: 1000000000\r\n\r\n{", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 413 "));
	/* ... or, chunked, once it has grown past it. */
	flood_answer(e, "PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			"Transfer-Encoding: chunked\r\n\r\n100000\r\n", "HTTP/1.1 413 ");
	/* A body of exactly the limit is read. */
	char *req = malloc(API_MAX_BODY + 512);
	int n = snprintf(req, 512, "PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			 "Content-Length: %u\r\n\r\n{\"amount_mib\": 5", API_MAX_BODY);
	memset(req + n, ' ', API_MAX_BODY - 17);
	strcpy(req + n + API_MAX_BODY - 17, "}");
	raw(e, req, out, sizeof(out));
	free(req);
	assert_non_null(strstr(out, "HTTP/1.1 204 "));
	assert_int_equal(atomic_load(&e->f.target_pages), 5 * 256);
	served_meanwhile(e);
}

static void too_many_clients(void **state)
{
	struct env *e = *state;
	int fds[API_MAX_CLIENTS];
	char out[1024];

	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		fds[i] = connect_to(e);
	/* Each is taken: one request on the last answers. */
	send_some(fds[API_MAX_CLIENTS - 1], "GET /vm HTTP/1.1\r\nHost: x\r\n\r\n", 29);
	read_all(fds[API_MAX_CLIENTS - 1], out, sizeof(out), 300);
	assert_non_null(strstr(out, "HTTP/1.1 200 "));

	int extra = connect_to(e);
	read_all(extra, out, sizeof(out), 1000);
	assert_non_null(strstr(out, "HTTP/1.1 503 "));
	assert_non_null(strstr(out, "too many clients"));
	close(extra);

	close(fds[0]);
	sleep_ms(50);
	json_decref(ask_json(e, "GET", "/vm", NULL, 200));
	for (unsigned i = 1; i < API_MAX_CLIENTS; i++)
		close(fds[i]);
}

/* A client that sends requests and never reads: the server stops reading
 * it once an answer waits, and drops it at the request time. */
static void not_reading(void **state)
{
	struct env *e = *state;
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = connect_to(e);
	int flags = fcntl(fd, F_GETFL);
	size_t sent = 0;

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	uint64_t t0 = mono_ns();
	while (ms_since(t0) < 300) {
		ssize_t w = send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
		if (w > 0)
			sent += (size_t)w;
		else
			sleep_ms(5);
	}
	/* Bounded by the socket buffers, not by what we sent. */
	assert_true(sent < (8u << 20));
	served_meanwhile(e);
	fcntl(fd, F_SETFL, flags);
	sleep_ms(REQUEST_MS + 200);
	assert_true(closed_by_server(fd, 3000));
	close(fd);
}

struct hammer {
	struct env *e;
	int id, failures;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	char body[64], err[256];

	for (int i = 0; i < 40; i++) {
		struct api_reply r;
		snprintf(body, sizeof(body), "{\"amount_mib\": %d}", h->id * 100 + i);
		bool patch = i % 2;
		if (api_request(h->e->path, patch ? "PATCH" : "GET", patch ? "/balloon" : "/balloon/statistics",
				patch ? body : NULL, &r, err, sizeof(err)) ||
		    r.status != (patch ? 204 : 200))
			h->failures++;
		free(r.body);
	}
	return NULL;
}

static void concurrent_clients(void **state)
{
	struct env *e = *state;
	pthread_t t[8];
	struct hammer h[8];

	for (int i = 0; i < 8; i++) {
		h[i] = (struct hammer){ .e = e, .id = i + 1 };
		pthread_create(&t[i], NULL, hammer, &h[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(h[i].failures, 0);
	}
	assert_true(atomic_load(&e->f.snapshots) >= 8 * 20);
}

/* --- the session alone ----------------------------------------------------------------- */

static void session_byte_by_byte(void **state)
{
	struct env *e = *state;
	struct api_ops ops = { .opaque = &e->f, .snapshot = fake_snapshot,
			       .set_target = fake_set_target, .shutdown = fake_shutdown };
	static const char req[] = "PATCH /balloon HTTP/1.1\r\nContent-Type: application/json\r\n"
				  "Content-Length: 18\r\n\r\n{\"amount_mib\": 77}GET /vm HTTP/1.1\r\n\r\n";
	struct api_session *s = api_session_new(&ops);
	const char *answers[2] = { "HTTP/1.1 204 ", "HTTP/1.1 200 " };
	size_t n = 0, len;

	for (size_t i = 0; i < sizeof(req) - 1;) {
		i += api_session_feed(s, &req[i], 1);
		const char *o = api_session_output(s, &len);
		if (len) {	/* an answer: "send" it, then go on */
			assert_true(n < 2);
			assert_memory_equal(o, answers[n < 2 ? n : 1], 13);
			api_session_consume(s, len);
			n++;
		}
	}
	assert_int_equal(n, 2);
	assert_int_equal(atomic_load(&e->f.target_pages), 77 * 256);
	assert_false(api_session_in_request(s));
	assert_false(api_session_closing(s));
	api_session_free(s);
}

/* --- ctl watch ---------------------------------------------------------------------------- */

struct watcher {
	struct ctl_watch w;
	FILE *out, *err;
	int rc;
	pthread_t t;
};

static void *watch_thread(void *arg)
{
	struct watcher *wt = arg;

	wt->rc = ctl_watch(&wt->w, wt->out, wt->err);
	return NULL;
}

static void watch_start(struct watcher *wt, const struct env *e, unsigned interval_ms,
			unsigned first_answer_ms)
{
	*wt = (struct watcher){ .w = { e->path, interval_ms, first_answer_ms } };
	wt->out = tmpfile();
	wt->err = tmpfile();
	assert_non_null(wt->out);
	assert_non_null(wt->err);
	pthread_create(&wt->t, NULL, watch_thread, wt);
}

/* What the watch has written so far (it flushes each line), NUL-
 * terminated, into buf; pread leaves the writer's offset alone. */
static const char *text_of(FILE *f, char *buf, size_t cap)
{
	ssize_t n = pread(fileno(f), buf, cap - 1, 0);

	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void watch_end(struct watcher *wt, int want_rc, char *out, char *err, size_t cap)
{
	pthread_join(wt->t, NULL);
	fflush(wt->out);
	fflush(wt->err);
	text_of(wt->out, out, cap);
	text_of(wt->err, err, cap);
	fclose(wt->out);
	fclose(wt->err);
	if (wt->rc != want_rc)
		fail_msg("ctl watch: status %d, not %d; out:\n%s\nerr:\n%s", wt->rc, want_rc, out, err);
}

static unsigned count_of(const char *text, const char *s)
{
	unsigned n = 0;

	for (const char *p = strstr(text, s); p; p = strstr(p + 1, s))
		n++;
	return n;
}

/* Lines from the fake's counters until the VM goes away (its socket
 * removed): status 0, nothing on stderr. */
static void watch_lines(void **state)
{
	struct env *e = *state;
	struct watcher wt;
	char out[8192], err[8192];

	watch_start(&wt, e, 50, 2000);
	uint64_t t0 = mono_ns();
	while (count_of(text_of(wt.out, out, sizeof(out)), "\n") < 5 && ms_since(t0) < 5000)
		sleep_ms(20);
	api_stop(e->api);
	watch_end(&wt, 0, out, err, sizeof(out));
	e->api = start(e, true);

	assert_string_equal(err, "");
	assert_non_null(strstr(out, "2 vCPUs, 2048 MiB"));
	assert_non_null(strstr(out, "uptime s  resident MiB  reported MiB  discarded MiB  requests  balloon MiB\n"));
	/* uptime 12.5 s at the first line; 300 of 2048 MiB resident: 4 of 30 '#' */
	assert_non_null(strstr(out, "     12.5         300.0           3.0            5.0         7            4  ####\n"));
	assert_true(count_of(out, "         300.0           3.0            5.0         7            4  ####\n") >= 3);
	const char *last = strstr(out, "== the VM is gone: its socket was removed\n");
	assert_non_null(last);
	assert_string_equal(last, "== the VM is gone: its socket was removed\n");
}

/* A VM not up yet is waited for; once it has answered, a socket left
 * behind that no longer listens also means it is gone. */
static void watch_late_and_stale(void **state)
{
	struct env *e = *state;
	struct watcher wt;
	char out[8192], err[8192];

	api_stop(e->api);
	watch_start(&wt, e, 1000, 3000);
	sleep_ms(300);
	e->api = start(e, true);
	uint64_t t0 = mono_ns();
	while (!strstr(text_of(wt.out, out, sizeof(out)), "  ####\n") && ms_since(t0) < 3000)
		sleep_ms(10);
	/* Between two lines: the server goes, a socket nobody listens on stays. */
	api_stop(e->api);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, e->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	watch_end(&wt, 0, out, err, sizeof(out));
	unlink(e->path);
	e->api = start(e, true);

	assert_string_equal(err, "");
	assert_int_equal(count_of(out, "  ####\n"), 1);
	assert_non_null(strstr(out, "== the VM is gone: its socket no longer listens\n"));
}

/* No VM ever answers: status 69 within the wait, the reason on stderr. */
static void watch_never_answered(void **state)
{
	struct env *e = *state;
	struct watcher wt;
	char out[8192], err[8192];

	api_stop(e->api);
	uint64_t t0 = mono_ns();
	watch_start(&wt, e, 50, 300);
	watch_end(&wt, CTL_EXIT_UNAVAILABLE, out, err, sizeof(out));
	assert_true(ms_since(t0) >= 300 && ms_since(t0) < 2000);
	e->api = start(e, true);

	assert_string_equal(out, "");
	if (!strstr(err, "pagehint: ctl watch: no answer within 300 ms: "))
		fail_msg("stderr: %s", err);
	assert_non_null(strstr(err, e->path));
}

/* Bad words: status 64 before anything is asked. */
static void watch_usage(void **state)
{
	struct env *e = *state;
	const char *const bad_interval[] = { "--interval", "10" };
	const char *const extra[] = { "now" };

	assert_int_equal(ctl_watch_main(NULL, 0, NULL), 64);
	assert_int_equal(ctl_watch_main(e->path, 2, bad_interval), 64);
	assert_int_equal(ctl_watch_main(e->path, 1, extra), 64);
}

/* pagehint ctl's balloon set --wait: polls until the guest holds the
 * target; the deadline when it never does; an unreachable socket. */
static void balloon_wait(void **state)
{
	struct env *e = *state;
	struct api_balloon_seen seen;
	char err[256] = "";

	atomic_store(&e->f.actual_pages, 1024);
	atomic_store(&e->f.follows, true);
	json_decref(ask_json(e, "PATCH", "/balloon", "{\"amount_mib\": 64}", 204));
	assert_int_equal(api_balloon_wait(e->path, 64 * 256, 10000, 1, &seen, err, sizeof(err)),
			 API_WAIT_REACHED);
	assert_int_equal(seen.actual_pages, 64 * 256);
	assert_int_equal(seen.target_pages, 64 * 256);
	assert_true(seen.polls >= 2);	/* 1024 -> 16384 takes 30 steps of 512 */
	/* and back down to 0 */
	json_decref(ask_json(e, "PATCH", "/balloon", "{\"amount_mib\": 0}", 204));
	assert_int_equal(api_balloon_wait(e->path, 0, 10000, 1, &seen, err, sizeof(err)),
			 API_WAIT_REACHED);
	assert_int_equal(seen.actual_pages, 0);

	/* A guest that does not move: the deadline, with what it holds. */
	atomic_store(&e->f.follows, false);
	json_decref(ask_json(e, "PATCH", "/balloon", "{\"amount_mib\": 8}", 204));
	assert_int_equal(api_balloon_wait(e->path, 8 * 256, 200, 20, &seen, err, sizeof(err)),
			 API_WAIT_DEADLINE);
	assert_int_equal(seen.actual_pages, 1024);
	assert_int_equal(seen.target_pages, 8 * 256);
	assert_true(seen.polls >= 1);

	/* A target another client moved: never reached as asked. */
	atomic_store(&e->f.follows, true);
	assert_int_equal(api_balloon_wait(e->path, 4 * 256, 200, 20, &seen, err, sizeof(err)),
			 API_WAIT_DEADLINE);
	assert_int_equal(seen.target_pages, 8 * 256);

	char nowhere[128];
	snprintf(nowhere, sizeof(nowhere), "%s/none.sock", e->dir);
	assert_int_equal(api_balloon_wait(nowhere, 0, 200, 20, &seen, err, sizeof(err)),
			 API_WAIT_UNREACHABLE);
	assert_non_null(strstr(err, "none.sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(socket_safety, setup, teardown),
		cmocka_unit_test_setup_teardown(get_vm, setup, teardown),
		cmocka_unit_test_setup_teardown(balloon, setup, teardown),
		cmocka_unit_test_setup_teardown(balloon_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(statistics, setup, teardown),
		cmocka_unit_test_setup_teardown(metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(actions, setup, teardown),
		cmocka_unit_test_setup_teardown(errors, setup, teardown),
		cmocka_unit_test_setup_teardown(pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(big_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(too_many_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(not_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(session_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(watch_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(watch_late_and_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(watch_never_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(watch_usage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
