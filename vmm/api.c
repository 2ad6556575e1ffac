/* SPDX-License-Identifier: MIT */
/*
 * The control API: llhttp parses HTTP/1.1 (requests here, responses in
 * api_request), jansson reads and writes the JSON, and a poll() loop on
 * one thread serves the clients (docs/vmm.md, "Control API", says why
 * these two and no server library).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <llhttp.h>

#include "api.h"
#include "clock.h"
#include "virtio_defs.h"

#define MiB (1ULL << 20)
#define PAGES_PER_MIB (MiB / 4096)
#define READ_CHUNK 4096u
#define CLIENT_TIMEOUT_MS 10000

/* --- the session: one connection's requests -------------------------------- */

struct api_session {
	const struct api_ops *ops;
	llhttp_t p;
	bool in_request;		/* bytes of a request seen, not answered */
	bool headers_done;
	bool complete;			/* the parser paused at a message's end */
	bool closing;
	bool dead;			/* answered an error: nothing more is read */
	bool shutdown_pending;		/* call ops->shutdown once the output is out */
	bool oom;			/* an answer could not be built: close */
	int fail;			/* the status a callback stopped the parser for */
	size_t header_bytes;		/* request line and headers, raw */
	char url[API_MAX_URL + 1];
	size_t url_len;
	bool field_ctype;		/* the header being read is Content-Type */
	char field[16];
	size_t field_len;
	char ctype[64];
	size_t ctype_len;
	bool have_ctype;
	char *body;
	size_t body_len;
	char *out;
	size_t out_len, out_cap, out_off;
};

static struct api_session *session_of(llhttp_t *p)
{
	return p->data;
}

static int on_message_begin(llhttp_t *p)
{
	struct api_session *s = session_of(p);

	s->in_request = true;
	s->headers_done = false;
	s->url_len = 0;
	s->field_len = 0;
	s->field_ctype = false;
	s->ctype_len = 0;
	s->have_ctype = false;
	s->body_len = 0;
	return 0;
}

static int stop_with(struct api_session *s, int status)
{
	s->fail = status;
	return -1;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct api_session *s = session_of(p);

	if (len > API_MAX_URL - s->url_len)
		return stop_with(s, 414);
	memcpy(s->url + s->url_len, at, len);
	s->url_len += len;
	s->url[s->url_len] = 0;
	return 0;
}

/* Header names are kept only as far as telling Content-Type apart. */
static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct api_session *s = session_of(p);
	size_t k = len < sizeof(s->field) - 1 - s->field_len ? len : sizeof(s->field) - 1 - s->field_len;

	memcpy(s->field + s->field_len, at, k);
	s->field_len += k;
	s->field[s->field_len] = 0;
	if (k < len)	/* longer than "content-type": some other header */
		s->field[0] = 0;
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct api_session *s = session_of(p);

	s->field_ctype = !strcasecmp(s->field, "content-type");
	s->field_len = 0;
	if (s->field_ctype) {
		s->have_ctype = true;
		s->ctype_len = 0;
	}
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct api_session *s = session_of(p);

	if (!s->field_ctype)
		return 0;
	size_t k = len < sizeof(s->ctype) - 1 - s->ctype_len ? len : sizeof(s->ctype) - 1 - s->ctype_len;
	memcpy(s->ctype + s->ctype_len, at, k);
	s->ctype_len += k;
	s->ctype[s->ctype_len] = 0;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct api_session *s = session_of(p);

	s->headers_done = true;
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > API_MAX_BODY)
		return stop_with(s, 413);
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct api_session *s = session_of(p);

	if (len > API_MAX_BODY - s->body_len)
		return stop_with(s, 413);
	memcpy(s->body + s->body_len, at, len);
	s->body_len += len;
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	session_of(p)->complete = true;
	return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

struct api_session *api_session_new(const struct api_ops *ops)
{
	struct api_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->body = malloc(API_MAX_BODY + 1);
	if (!s->body) {
		free(s);
		return NULL;
	}
	s->ops = ops;
	llhttp_init(&s->p, HTTP_REQUEST, &parser_settings);
	s->p.data = s;
	return s;
}

void api_session_free(struct api_session *s)
{
	if (!s)
		return;
	free(s->body);
	free(s->out);
	free(s);
}

const char *api_session_output(const struct api_session *s, size_t *len)
{
	*len = s->out_len - s->out_off;
	return s->out ? s->out + s->out_off : "";
}

void api_session_consume(struct api_session *s, size_t n)
{
	s->out_off += n < s->out_len - s->out_off ? n : s->out_len - s->out_off;
	if (s->out_off < s->out_len)
		return;
	s->out_off = s->out_len = 0;
	if (s->shutdown_pending) {
		s->shutdown_pending = false;
		s->ops->shutdown(s->ops->opaque);
	}
}

bool api_session_closing(const struct api_session *s)
{
	return s->closing;
}

bool api_session_in_request(const struct api_session *s)
{
	return s->in_request;
}

/* Append to the output; on no memory the connection just closes. */
static void out_add(struct api_session *s, const char *data, size_t len)
{
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 4096;
		while (cap < s->out_len + len)
			cap *= 2;
		char *o = realloc(s->out, cap);
		if (!o) {
			s->oom = s->closing = true;
			return;
		}
		s->out = o;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
}

static void out_printf(struct api_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct api_session *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_add(s, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* One response; allow: the Allow header's value for a 405, else NULL. */
static void respond(struct api_session *s, int status, const char *ctype, const char *body,
		    size_t len, const char *allow)
{
	out_printf(s, "HTTP/1.1 %d %s\r\nServer: pagehint\r\n", status, reason_phrase(status));
	if (allow)
		out_printf(s, "Allow: %s\r\n", allow);
	if (s->closing)
		out_printf(s, "Connection: close\r\n");
	if (status != 204)
		out_printf(s, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, len);
	out_add(s, "\r\n", 2);
	if (len)
		out_add(s, body, len);
}

static void respond_json(struct api_session *s, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!text) {
		s->closing = true;
		respond(s, 500, "application/json", "{\"fault_message\":\"out of memory\"}", 33, NULL);
		return;
	}
	respond(s, status, "application/json", text, strlen(text), NULL);
	free(text);
}

static void fault(struct api_session *s, int status, const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fault(struct api_session *s, int status, const char *allow, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *j = json_pack("{s:s}", "fault_message", msg);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text)
		respond(s, status, "application/json", text, strlen(text), allow);
	else
		respond(s, status, "application/json", "{}", 2, allow);
	free(text);
}

/* --- the resources ----------------------------------------------------------- */

static const char *const stat_names[VIRTIO_BALLOON_S_NR] = {
	/* Firecracker's names for the virtio stats tags */
	[VIRTIO_BALLOON_S_SWAP_IN] = "swap_in",
	[VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
	[VIRTIO_BALLOON_S_MAJFLT] = "major_faults",
	[VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
	[VIRTIO_BALLOON_S_MEMFREE] = "free_memory",
	[VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
	[VIRTIO_BALLOON_S_AVAIL] = "available_memory",
	[VIRTIO_BALLOON_S_CACHES] = "disk_caches",
	[VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
	[VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
};

static const struct { unsigned bit; const char *name; } feature_names[] = {
	{ VIRTIO_BALLOON_F_MUST_TELL_HOST, "must_tell_host" },
	{ VIRTIO_BALLOON_F_STATS_VQ, "stats_vq" },
	{ VIRTIO_BALLOON_F_DEFLATE_ON_OOM, "deflate_on_oom" },
	{ VIRTIO_BALLOON_F_FREE_PAGE_HINT, "free_page_hint" },
	{ VIRTIO_BALLOON_F_PAGE_POISON, "page_poison" },
	{ VIRTIO_BALLOON_F_REPORTING, "free_page_reporting" },
	{ PH_VIRTIO_BALLOON_F_PH_EXITLESS, "exitless_map" },
	{ 28, "ring_indirect_desc" },
	{ 29, "ring_event_idx" },
	{ 32, "version_1" },
};

static json_t *feature_list(uint64_t f)
{
	json_t *a = json_array();
	char other[16];

	for (unsigned bit = 0; a && bit < 64; bit++) {
		if (!(f >> bit & 1))
			continue;
		const char *name = NULL;
		for (size_t k = 0; k < sizeof(feature_names) / sizeof(feature_names[0]); k++)
			if (feature_names[k].bit == bit)
				name = feature_names[k].name;
		if (!name) {
			snprintf(other, sizeof(other), "bit_%u", bit);
			name = other;
		}
		json_array_append_new(a, json_string(name));
	}
	return a;
}

static json_int_t jint(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v;
}

static void get_vm(struct api_session *s, const struct api_snapshot *v)
{
	respond_json(s, 200, json_pack("{s:s, s:I, s:I, s:f, s:{s:s, s:o, s:o}}",
		"state", v->state ? v->state : "Running",
		"vcpus", (json_int_t)v->vcpus,
		"mem_mib", jint(v->mem_bytes / MiB),
		"uptime_s", v->uptime_ns / 1e9,
		"balloon", "device", "virtio-balloon",
		"features_offered", feature_list(v->features_offered),
		"features_negotiated", feature_list(v->features_negotiated)));
}

static void get_balloon(struct api_session *s, const struct api_snapshot *v)
{
	respond_json(s, 200, json_pack("{s:I, s:b, s:I, s:I, s:I, s:I}",
		"amount_mib", jint(v->target_pages / PAGES_PER_MIB),
		"deflate_on_oom", 0,
		"stats_polling_interval_s", (json_int_t)v->stats_interval_s,
		"target_pages", jint(v->target_pages),
		"actual_pages", jint(v->actual_pages),
		"actual_mib", jint(v->actual_pages / PAGES_PER_MIB)));
}

static json_t *exits_object(const struct exit_counts *x)
{
	json_t *o = json_object();

	for (unsigned i = 0; o && i < EXIT_CAUSE_COUNT; i++)
		json_object_set_new(o, exit_cause_names[i], json_integer(jint(x->cause[i])));
	return o;
}

/* A latency histogram in brief: quantiles are the upper bound of the
 * bucket they fall in (lat_hist_quantile_ns), null while it is empty. */
static json_t *latency_object(const struct lat_hist_snap *h)
{
	json_t *o = json_pack("{s:I, s:f}", "count", jint(h->count), "sum_s", h->sum_ns / 1e9);
	const struct lat_hist_quantile *qs = lat_hist_quantiles;

	for (unsigned i = 0; o && i < LAT_HIST_QUANTILES; i++)
		json_object_set_new(o, qs[i].name, h->count ? json_real(lat_hist_quantile_ns(h, qs[i].q) / 1e9)
							    : json_null());
	if (o)
		json_object_set_new(o, "max_s", h->count ? json_real(h->max_ns / 1e9) : json_null());
	return o;
}

static void get_statistics(struct api_session *s, const struct api_snapshot *v)
{
	json_t *j = json_pack("{s:I, s:I, s:I, s:I}",
		"target_pages", jint(v->target_pages), "actual_pages", jint(v->actual_pages),
		"target_mib", jint(v->target_pages / PAGES_PER_MIB),
		"actual_mib", jint(v->actual_pages / PAGES_PER_MIB));

	for (unsigned t = 0; j && t < VIRTIO_BALLOON_S_NR; t++)
		if (v->stats_present >> t & 1)
			json_object_set_new(j, stat_names[t], json_integer(jint(v->stats[t])));
	json_t *host = json_pack("{s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:o}",
		"reported_mib", v->reported_bytes / (double)MiB,
		"discarded_mib", v->discarded_bytes / (double)MiB,
		"report_requests", jint(v->report_requests),
		"report_ranges", jint(v->report_ranges),
		"discard_calls", jint(v->discard_calls),
		"inflated_pages", jint(v->inflate_pages),
		"deflated_pages", jint(v->deflate_pages),
		"bad_inputs", jint(v->bad_inputs),
		"stats_updates", jint(v->stats_updates),
		"exitless_reclaimed_mib", v->xl_reclaimed_bytes / (double)MiB,
		"exits_total", jint(exit_counts_total(&v->exits)),
		"exits", exits_object(&v->exits));
	if (host)
		json_object_set_new(host, "report_latency", latency_object(&v->report_latency));
	if (host)
		json_object_set_new(host, "target_latency",
				    json_pack("{s:I, s:o}", "count", jint(v->target_latencies), "last_s",
					      v->target_latencies ? json_real(v->target_latency_ns / 1e9)
								  : json_null()));
	if (host)
		json_object_set_new(host, "resident_mib",
				    v->have_resident ? json_real(v->resident_bytes / (double)MiB) : json_null());
	if (j && host)
		json_object_set_new(j, "host", host);
	else
		json_decref(host);
	respond_json(s, 200, j);
}

/* Prometheus' text exposition format, version 0.0.4. */
static void metric(struct api_session *s, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	out_printf(s, "# HELP pagehint_%s %s\n# TYPE pagehint_%s %s\npagehint_%s %" PRIu64 "\n", name,
		   help, name, type, name, v);
}

/* A histogram family: cumulative buckets by upper bound in seconds, the
 * last "+Inf" (equal to _count, which is the sum of the buckets). */
static void histogram(struct api_session *s, const char *name, const char *help,
		      const struct lat_hist_snap *h)
{
	uint64_t cum = 0;

	out_printf(s, "# HELP pagehint_%s %s\n# TYPE pagehint_%s histogram\n", name, help, name);
	for (unsigned i = 0; i < LAT_HIST_BOUNDS; i++) {
		cum += h->bucket[i];
		out_printf(s, "pagehint_%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
			   lat_hist_bound_ns[i] / 1e9, cum);
	}
	out_printf(s, "pagehint_%s_bucket{le=\"+Inf\"} %" PRIu64 "\npagehint_%s_sum %.9f\n"
		      "pagehint_%s_count %" PRIu64 "\n", name, h->count, name, h->sum_ns / 1e9, name,
		   h->count);
}

static void get_metrics(struct api_session *s, const struct api_snapshot *v)
{
	/* The body goes after the headers, whose length it gives: built in
	 * the output buffer, then moved behind them. */
	size_t start = s->out_len;

	metric(s, "balloon_reported_bytes_total", "counter", "Bytes the guest reported free.",
	       v->reported_bytes);
	metric(s, "balloon_discarded_bytes_total", "counter",
	       "Bytes the device gave back to the host (reports and inflation).", v->discarded_bytes);
	metric(s, "balloon_report_requests_total", "counter", "Free page report requests handled.",
	       v->report_requests);
	metric(s, "balloon_report_ranges_total", "counter", "Valid ranges in those requests.",
	       v->report_ranges);
	metric(s, "balloon_discard_calls_total", "counter", "Host discard calls.", v->discard_calls);
	metric(s, "balloon_inflated_pages_total", "counter", "4 KiB pages inflated.", v->inflate_pages);
	metric(s, "balloon_deflated_pages_total", "counter", "4 KiB pages deflated.", v->deflate_pages);
	metric(s, "balloon_bad_inputs_total", "counter", "Driver input the device refused.",
	       v->bad_inputs);
	metric(s, "balloon_stats_updates_total", "counter", "Stats buffers the guest sent.",
	       v->stats_updates);
	metric(s, "balloon_exitless_reclaimed_bytes_total", "counter",
	       "Bytes the exitless scanner reclaimed.", v->xl_reclaimed_bytes);
	histogram(s, "balloon_report_latency_seconds",
		  "Free page report requests by time from the device taking one off its queue "
		  "to its ranges discarded and the chain returned.", &v->report_latency);
	out_printf(s, "# HELP pagehint_vm_exits_total VM exits to userspace, by cause.\n"
		      "# TYPE pagehint_vm_exits_total counter\n");
	for (unsigned i = 0; i < EXIT_CAUSE_COUNT; i++)
		out_printf(s, "pagehint_vm_exits_total{cause=\"%s\"} %" PRIu64 "\n", exit_cause_names[i],
			   v->exits.cause[i]);
	out_printf(s, "# HELP pagehint_ioeventfd_notifies_total Queue notifies KVM signalled "
		      "without an exit, by queue.\n# TYPE pagehint_ioeventfd_notifies_total counter\n");
	for (unsigned i = 0; i < EXIT_ROLES; i++)
		out_printf(s, "pagehint_ioeventfd_notifies_total{queue=\"%s\"} %" PRIu64 "\n",
			   exit_role_names[i], v->exits.notify[i]);
	if (v->have_resident)
		metric(s, "guest_resident_bytes", "gauge", "Guest RAM resident on the host.",
		       v->resident_bytes);
	metric(s, "guest_memory_bytes", "gauge", "Guest RAM size.", v->mem_bytes);
	metric(s, "balloon_target_bytes", "gauge", "Balloon size the host asks for.",
	       v->target_pages * 4096);
	metric(s, "balloon_actual_bytes", "gauge", "Balloon size the guest reports.",
	       v->actual_pages * 4096);
	if (v->stats_present >> VIRTIO_BALLOON_S_MEMFREE & 1)
		metric(s, "guest_free_bytes", "gauge", "Free memory the guest last reported.",
		       v->stats[VIRTIO_BALLOON_S_MEMFREE]);
	metric(s, "uptime_seconds", "gauge", "Seconds since the guest started.", v->uptime_ns / 1000000000u);
	if (s->oom)
		return;

	size_t blen = s->out_len - start;
	char *body = malloc(blen ? blen : 1);
	if (!body) {
		s->oom = s->closing = true;
		return;
	}
	memcpy(body, s->out + start, blen);
	s->out_len = start;
	respond(s, 200, "text/plain; version=0.0.4; charset=utf-8", body, blen, NULL);
	free(body);
}

/* The request's JSON object, whose keys must all be in keys (NULL-ended).
 * NULL after answering 400/415. */
static json_t *read_object(struct api_session *s, const char *const *keys)
{
	json_error_t e;

	if (!s->body_len) {
		fault(s, 400, NULL, "this request needs a JSON body");
		return NULL;
	}
	/* "application/json", parameters (charset) allowed after a ';' */
	size_t n = strcspn(s->ctype, "; \t");
	if (!s->have_ctype || n != 16 || strncasecmp(s->ctype, "application/json", 16)) {
		fault(s, 415, NULL, "the body must be application/json (Content-Type: %s)",
		      s->have_ctype ? s->ctype : "none given");
		return NULL;
	}
	json_t *j = json_loadb(s->body, s->body_len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		fault(s, 400, NULL, "the body is not JSON: %s (line %d, column %d)", e.text, e.line,
		      e.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		fault(s, 400, NULL, "the body must be a JSON object");
		return NULL;
	}
	const char *key;
	json_t *val;
	json_object_foreach(j, key, val) {
		bool known = false;
		for (const char *const *k = keys; *k; k++)
			known = known || !strcmp(key, *k);
		if (!known) {
			fault(s, 400, NULL, "unknown field '%s'", key);
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

/* An integer field from lo to hi; false after answering 400. */
static bool read_uint(struct api_session *s, json_t *j, const char *key, uint64_t lo, uint64_t hi,
		      uint64_t *out)
{
	json_t *v = json_object_get(j, key);

	if (!v) {
		fault(s, 400, NULL, "missing field '%s'", key);
		return false;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < lo ||
	    (uint64_t)json_integer_value(v) > hi) {
		fault(s, 400, NULL, "'%s' must be a whole number from %" PRIu64 " to %" PRIu64, key, lo, hi);
		return false;
	}
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static void patch_balloon(struct api_session *s, const struct api_snapshot *v)
{
	static const char *const keys[] = { "amount_mib", "deflate_on_oom", "stats_polling_interval_s", NULL };
	json_t *j = read_object(s, keys);
	uint64_t mib;
	char err[200];

	if (!j)
		return;
	/* Firecracker's other fields are fixed at boot there too. */
	if (json_object_get(j, "deflate_on_oom") || json_object_get(j, "stats_polling_interval_s")) {
		json_decref(j);
		fault(s, 400, NULL, "only amount_mib can change here "
			  "(stats_polling_interval_s: PATCH /balloon/statistics)");
		return;
	}
	bool ok = read_uint(s, j, "amount_mib", 0, v->mem_bytes / MiB, &mib);
	json_decref(j);
	if (!ok)
		return;
	if (s->ops->set_target(s->ops->opaque, mib * PAGES_PER_MIB, err, sizeof(err))) {
		fault(s, 400, NULL, "%s", err);
		return;
	}
	respond(s, 204, NULL, NULL, 0, NULL);
}

#define STATS_INTERVAL_MAX 86400

static void patch_statistics(struct api_session *s)
{
	static const char *const keys[] = { "stats_polling_interval_s", NULL };
	json_t *j;
	uint64_t sec;
	char err[200];

	if (!s->ops->set_stats_interval) {
		fault(s, 400, NULL, "this device's stats polling interval cannot be changed");
		return;
	}
	if (!(j = read_object(s, keys)))
		return;
	bool ok = read_uint(s, j, "stats_polling_interval_s", 1, STATS_INTERVAL_MAX, &sec);
	json_decref(j);
	if (!ok)
		return;
	if (s->ops->set_stats_interval(s->ops->opaque, (unsigned)sec, err, sizeof(err))) {
		fault(s, 400, NULL, "%s", err);
		return;
	}
	respond(s, 204, NULL, NULL, 0, NULL);
}

static void put_actions(struct api_session *s)
{
	static const char *const keys[] = { "action_type", NULL };
	json_t *j = read_object(s, keys);

	if (!j)
		return;
	const char *action = json_string_value(json_object_get(j, "action_type"));
	if (!action || strcmp(action, "Shutdown")) {
		fault(s, 400, NULL, "action_type must be \"Shutdown\"");
		json_decref(j);
		return;
	}
	json_decref(j);
	s->closing = true;
	s->shutdown_pending = true;
	respond(s, 204, NULL, NULL, 0, NULL);
}

enum { M_GET = 1, M_PUT = 2, M_PATCH = 4 };

static const struct route {
	const char *path;
	unsigned methods;
	const char *allow;
} routes[] = {
	{ "/vm", M_GET, "GET" },
	{ "/balloon", M_GET | M_PATCH, "GET, PATCH" },
	{ "/balloon/statistics", M_GET | M_PATCH, "GET, PATCH" },
	{ "/metrics", M_GET, "GET" },
	{ "/actions", M_PUT, "PUT" },
};

static void answer(struct api_session *s)
{
	unsigned m = s->p.method == HTTP_GET ? M_GET : s->p.method == HTTP_PUT ? M_PUT
		   : s->p.method == HTTP_PATCH ? M_PATCH : 0;
	size_t plen = strcspn(s->url, "?#");
	const struct route *r = NULL;

	if (!llhttp_should_keep_alive(&s->p))
		s->closing = true;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strlen(routes[i].path) == plen && !strncmp(routes[i].path, s->url, plen))
			r = &routes[i];
	if (!r) {
		fault(s, 404, NULL, "no such resource: %.*s", (int)plen, s->url);
		return;
	}
	if (!(r->methods & m)) {
		fault(s, 405, r->allow, "%s %s: allowed are %s", llhttp_method_name(s->p.method), r->path,
		      r->allow);
		return;
	}

	struct api_snapshot v = { 0 };
	s->ops->snapshot(s->ops->opaque, &v);
	if (m == M_GET && r->path[1] == 'v')
		get_vm(s, &v);
	else if (m == M_GET && !strcmp(r->path, "/balloon"))
		get_balloon(s, &v);
	else if (m == M_PATCH && !strcmp(r->path, "/balloon"))
		patch_balloon(s, &v);
	else if (m == M_GET && r->path[1] == 'b')
		get_statistics(s, &v);
	else if (m == M_PATCH)
		patch_statistics(s);
	else if (m == M_GET)
		get_metrics(s, &v);
	else
		put_actions(s);
}

/* The parser stopped on an error: answer it and close. */
static void answer_error(struct api_session *s, llhttp_errno_t e)
{
	s->dead = true;
	s->closing = true;
	switch (s->fail) {
	case 413:
		fault(s, 413, NULL, "the body is larger than %u bytes", API_MAX_BODY);
		return;
	case 414:
		fault(s, 414, NULL, "the URL is longer than %u bytes", API_MAX_URL);
		return;
	case 431:
		fault(s, 431, NULL, "the request line and headers are longer than %u bytes", API_MAX_HEADER);
		return;
	default:
		fault(s, 400, NULL, "not an HTTP/1.1 request: %s", e == HPE_USER ? "" : llhttp_get_error_reason(&s->p));
	}
}

size_t api_session_feed(struct api_session *s, const char *data, size_t len)
{
	if (s->dead || s->closing || !len)
		return len;
	if (!s->in_request)
		s->header_bytes = 0;
	s->complete = false;
	s->in_request = true;
	llhttp_errno_t e = llhttp_execute(&s->p, data, len);
	size_t used = len;

	if (e == HPE_PAUSED && s->complete) {
		used = (size_t)(llhttp_get_error_pos(&s->p) - data);
		llhttp_resume(&s->p);
	} else if (e != HPE_OK) {
		answer_error(s, e);
		return len;
	}
	/* Raw bytes, as a client may pad headers with whitespace no
	 * callback sees; checked per chunk, so a chunk's size over. */
	if (!s->headers_done) {
		s->header_bytes += used;
		if (s->header_bytes > API_MAX_HEADER) {
			s->fail = 431;
			answer_error(s, HPE_USER);
			return len;
		}
	}
	if (s->complete) {
		s->complete = false;
		s->in_request = false;
		answer(s);
	}
	return used;
}

void api_session_timeout(struct api_session *s)
{
	if (s->dead || s->closing)
		return;
	s->dead = true;
	s->closing = true;
	fault(s, 408, NULL, "the request did not arrive whole within the time allowed");
}

/* --- the server ------------------------------------------------------------- */

struct conn {
	int fd;				/* -1: free */
	struct api_session *s;
	char in[READ_CHUNK];
	size_t in_len;
	uint64_t deadline;		/* mono_ns */
	bool timed;			/* deadline is a request's (else idle) */
};

struct api {
	int lfd, wake;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct api_ops ops;
	uint64_t request_ns, idle_ns;
	pthread_t thread;
	atomic_bool stop;
	struct conn c[API_MAX_CLIENTS];
};

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	api_session_free(c->s);
	c->s = NULL;
	c->in_len = 0;
}

/* Send what the session has; false if the connection is gone. */
static bool conn_flush(struct conn *c)
{
	size_t n;
	const char *o = api_session_output(c->s, &n);

	while (n) {
		ssize_t w = send(c->fd, o, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (w <= 0) {
			conn_close(c);
			return false;
		}
		api_session_consume(c->s, (size_t)w);
		o = api_session_output(c->s, &n);
	}
	if (api_session_closing(c->s)) {
		conn_close(c);
		return false;
	}
	return true;
}

/* Answer what is in c->in as far as the output lets us. */
static void conn_pump(struct api *a, struct conn *c)
{
	for (;;) {
		size_t pending;
		if (!conn_flush(c))
			return;
		api_session_output(c->s, &pending);
		if (pending || !c->in_len)
			break;
		if (!c->timed) {
			/* a request begins: it has request_ns to arrive and be answered */
			c->timed = true;
			c->deadline = mono_ns() + a->request_ns;
		}
		size_t used = api_session_feed(c->s, c->in, c->in_len);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		api_session_output(c->s, &pending);
		if (!pending)
			break;		/* the request goes on in the next read */
	}
	size_t pending;
	api_session_output(c->s, &pending);
	if (!pending && !c->in_len && !api_session_in_request(c->s)) {
		c->timed = false;
		c->deadline = mono_ns() + a->idle_ns;
	}
}

static void conn_read(struct api *a, struct conn *c)
{
	ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)r;
	conn_pump(a, c);
}

static void accept_all(struct api *a)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nServer: pagehint\r\n"
				   "Connection: close\r\nContent-Type: application/json\r\n"
				   "Content-Length: 45\r\n\r\n{\"fault_message\":\"too many clients; retry\"}\n ";

	for (;;) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = NULL;
		for (unsigned i = 0; i < API_MAX_CLIENTS && !c; i++)
			if (a->c[i].fd < 0)
				c = &a->c[i];
		struct api_session *s = c ? api_session_new(&a->ops) : NULL;
		if (!s) {
			/* best effort; a full socket buffer just loses it */
			ssize_t w = send(fd, busy, sizeof(busy) - 2, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			close(fd);
			continue;
		}
		*c = (struct conn){ .fd = fd, .s = s, .deadline = mono_ns() + a->idle_ns };
	}
}

static void expire(struct api *a, uint64_t now)
{
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
		struct conn *c = &a->c[i];
		if (c->fd < 0 || now < c->deadline)
			continue;
		size_t pending;
		api_session_output(c->s, &pending);
		if (!pending && (c->in_len || api_session_in_request(c->s))) {
			api_session_timeout(c->s);
			conn_flush(c);
		}
		if (c->fd >= 0)
			conn_close(c);
	}
}

static void *serve(void *arg)
{
	struct api *a = arg;
	struct pollfd pfd[API_MAX_CLIENTS + 2];
	int who[API_MAX_CLIENTS + 2];

	while (!atomic_load(&a->stop)) {
		uint64_t now = mono_ns(), next = now + a->idle_ns;
		nfds_t n = 0;

		pfd[n++] = (struct pollfd){ .fd = a->wake, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = a->lfd, .events = POLLIN };
		for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
			struct conn *c = &a->c[i];
			size_t pending;
			if (c->fd < 0)
				continue;
			api_session_output(c->s, &pending);
			/* no reading while an answer waits or the buffer is full */
			short ev = pending ? POLLOUT : c->in_len < sizeof(c->in) ? POLLIN : 0;
			who[n] = (int)i;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
			if (c->deadline < next)
				next = c->deadline;
		}
		int ms = next > now ? (int)((next - now + 999999) / 1000000) : 0;
		if (poll(pfd, n, ms) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			accept_all(a);
		for (nfds_t k = 2; k < n; k++) {
			struct conn *c = &a->c[who[k]];
			if (c->fd != pfd[k].fd || !pfd[k].revents)
				continue;
			if (pfd[k].revents & POLLOUT)
				conn_pump(a, c);
			else if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(a, c);
		}
		expire(a, mono_ns());
	}
	return NULL;
}

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

static int listen_at(struct api *a, const char *path, char *err, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(err, n, "--api-sock %s: longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0)
		return fail(err, n, "--api-sock: socket: %s", strerror(errno));
	/* Made 0600 from the start: the umask is the process's, but this
	 * runs before any other thread that creates files. bind() never
	 * replaces an existing path, so that refusal is atomic. */
	mode_t old = umask(0177);
	int r = bind(a->lfd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (r) {
		if (e == EADDRINUSE)
			return fail(err, n, "--api-sock %s: the path exists (another VM's socket, or a "
				    "stale one: remove it if no VM uses it)", path);
		return fail(err, n, "--api-sock %s: %s", path, strerror(e));
	}
	strcpy(a->path, path);
	if (stat(path, &st) == 0) {
		a->dev = st.st_dev;
		a->ino = st.st_ino;
	}
	if (listen(a->lfd, API_MAX_CLIENTS))
		return fail(err, n, "--api-sock %s: listen: %s", path, strerror(errno));
	return 0;
}

static void unlink_ours(struct api *a)
{
	struct stat st;

	if (a->path[0] && stat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
		unlink(a->path);
	a->path[0] = 0;
}

static void api_free(struct api *a)
{
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		conn_close(&a->c[i]);
	unlink_ours(a);
	if (a->lfd >= 0)
		close(a->lfd);
	if (a->wake >= 0)
		close(a->wake);
	free(a);
}

struct api *api_start(const char *path, const struct api_ops *ops, const struct api_limits *lim,
		      char *err, size_t n)
{
	struct api *a = calloc(1, sizeof(*a));

	if (!a) {
		fail(err, n, "--api-sock: out of memory");
		return NULL;
	}
	a->lfd = a->wake = -1;
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		a->c[i].fd = -1;
	a->ops = *ops;
	a->request_ns = (uint64_t)(lim && lim->request_ms ? lim->request_ms : API_REQUEST_MS) * 1000000u;
	a->idle_ns = (uint64_t)(lim && lim->idle_ms ? lim->idle_ms : API_IDLE_MS) * 1000000u;
	if (listen_at(a, path, err, n)) {
		api_free(a);
		return NULL;
	}
	a->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = a->wake < 0 ? errno : pthread_create(&a->thread, NULL, serve, a);
	if (r) {
		fail(err, n, "--api-sock: cannot start its thread: %s", strerror(r));
		api_free(a);
		return NULL;
	}
	pthread_setname_np(a->thread, "ph-api");
	return a;
}

void api_stop(struct api *a)
{
	uint64_t one = 1;

	if (!a)
		return;
	atomic_store(&a->stop, true);
	if (write(a->wake, &one, sizeof(one)) < 0)
		(void)0;	/* the counter is non-zero already: the thread wakes anyway */
	pthread_join(a->thread, NULL);
	api_free(a);
}

/* --- the client ---------------------------------------------------------------- */

struct reply_parse {
	struct api_reply *r;
	size_t cap;
	bool done, oom;
};

static int reply_body(llhttp_t *p, const char *at, size_t len)
{
	struct reply_parse *rp = p->data;
	struct api_reply *r = rp->r;

	if (r->len + len + 1 > rp->cap) {
		size_t cap = rp->cap ? rp->cap : 4096;
		while (cap < r->len + len + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b) {
			rp->oom = true;
			return -1;
		}
		r->body = b;
		rp->cap = cap;
	}
	memcpy(r->body + r->len, at, len);
	r->len += len;
	r->body[r->len] = 0;
	return 0;
}

static int reply_done(llhttp_t *p)
{
	((struct reply_parse *)p->data)->done = true;
	return 0;
}

static const llhttp_settings_t reply_settings = {
	.on_body = reply_body,
	.on_message_complete = reply_done,
};

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int api_request(const char *path, const char *method, const char *target, const char *body,
		struct api_reply *reply, char *err, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct reply_parse rp = { .r = reply };
	char head[512], buf[4096];
	llhttp_t p;
	int fd;

	*reply = (struct api_reply){ 0 };
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(err, n, "%s: longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, n, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fail(err, n, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	size_t blen = body ? strlen(body) : 0;
	int hl = snprintf(head, sizeof(head),
			  "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s"
			  "Content-Length: %zu\r\n\r\n", method, target,
			  body ? "Content-Type: application/json\r\n" : "", blen);
	if (hl < 0 || (size_t)hl >= sizeof(head) || send_all(fd, head, (size_t)hl) ||
	    send_all(fd, body ? body : "", blen)) {
		fail(err, n, "%s: cannot send the request: %s", path, strerror(errno));
		close(fd);
		return -1;
	}

	llhttp_init(&p, HTTP_RESPONSE, &reply_settings);
	p.data = &rp;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, CLIENT_TIMEOUT_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			fail(err, n, "%s: no answer within %d s", path, CLIENT_TIMEOUT_MS / 1000);
			break;
		}
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail(err, n, "%s: %s", path, strerror(errno));
			break;
		}
		llhttp_errno_t e = r ? llhttp_execute(&p, buf, (size_t)r) : llhttp_finish(&p);
		if (e != HPE_OK) {
			fail(err, n, "%s: %s", path, rp.oom ? "out of memory" : "not an HTTP answer");
			break;
		}
		if (rp.done || !r)
			break;
	}
	close(fd);
	if (!rp.done) {
		if (!rp.oom && !err[0])
			fail(err, n, "%s: the connection closed before the answer", path);
		free(reply->body);
		reply->body = NULL;
		reply->len = 0;
		return -1;
	}
	reply->status = p.status_code;
	return 0;
}
