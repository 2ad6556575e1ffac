/* SPDX-License-Identifier: MIT */
/*
 * The control API of a running VM (`pagehint run --api-sock PATH`):
 * HTTP/1.1 over a Unix socket, JSON bodies, Firecracker's balloon shapes
 * where they fit (docs/vmm.md, "Control API").
 *
 * One thread of its own polls the listening socket and every client; it
 * never takes a lock a vCPU or the device worker holds for long. It sees
 * the VM only through struct api_ops: a snapshot of what the VM counts
 * (atomics and telemetry's last sample) and three actions (a new balloon
 * target, a new stats interval, shutdown), each safe to call from another
 * thread. Tests drive it against fake ops.
 *
 * Bounds, so a client cannot stall the VM or the other clients, nor grow
 * memory: at most API_MAX_CLIENTS connections (more get 503), request
 * line and headers within API_MAX_HEADER bytes (431), a body within
 * API_MAX_BODY (413), a URL within API_MAX_URL (414), the whole request
 * within request_ms of its first byte and an idle connection closed after
 * idle_ms (408), a response the client does not read dropped after
 * request_ms.
 *
 * The parsing and answering (struct api_session) needs no socket: the
 * server feeds it what a client sends, and so does the fuzzer.
 */
#ifndef VMM_API_H
#define VMM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_balloon.h>

#include "exits.h"
#include "latency_hist.h"

#define API_MAX_CLIENTS 16
#define API_MAX_HEADER (16u << 10)
#define API_MAX_BODY (16u << 10)
#define API_MAX_URL 256u
#define API_REQUEST_MS 5000u
#define API_IDLE_MS 60000u

/* What GET answers: one consistent read of the VM's counters. */
struct api_snapshot {
	const char *state;		/* "Running", "Stopping" */
	unsigned vcpus;
	uint64_t mem_bytes;
	uint64_t uptime_ns;
	uint64_t features_offered;	/* the balloon's device feature bits */
	uint64_t features_negotiated;	/* what the driver accepted; 0 before */
	uint64_t target_pages, actual_pages;	/* 4 KiB pages */
	unsigned stats_interval_s;	/* 0: the host does not ask for stats */
	/* The guest's latest stats (VIRTIO_BALLOON_S_*), bit per tag present. */
	uint64_t stats_present;
	uint64_t stats[VIRTIO_BALLOON_S_NR];
	/* The host side, cumulative. */
	uint64_t reported_bytes, discarded_bytes, report_requests, report_ranges;
	uint64_t discard_calls, inflate_pages, deflate_pages, bad_inputs, stats_updates;
	uint64_t xl_reclaimed_bytes;
	struct lat_hist_snap report_latency;	/* balloon_counters' report_latency */
	uint64_t target_latencies, target_latency_ns;	/* balloon_counters' too */
	struct exit_counts exits;
	bool have_resident;
	uint64_t resident_bytes;	/* guest RAM resident on the host now */
};

struct api_ops {
	void *opaque;
	void (*snapshot)(void *opaque, struct api_snapshot *s);
	/* New balloon target in 4 KiB pages (already checked against the
	 * RAM size): 0, or -1 with a reason in err. */
	int (*set_target)(void *opaque, uint64_t pages, char *err, size_t errlen);
	/* NULL: the interval cannot be changed (PATCH answers 400). */
	int (*set_stats_interval)(void *opaque, unsigned seconds, char *err, size_t errlen);
	/* End the run; the answer (204) goes out first. */
	void (*shutdown)(void *opaque);
};

struct api_limits {
	unsigned request_ms;		/* 0: API_REQUEST_MS */
	unsigned idle_ms;		/* 0: API_IDLE_MS */
};

/* --- one connection's parsing and answering, without a socket ----------- */

struct api_session;

struct api_session *api_session_new(const struct api_ops *ops);
void api_session_free(struct api_session *s);
/*
 * Feed len bytes the client sent. Returns how many were taken: fewer than
 * len when a request is complete and answered (the rest is the next
 * pipelined request: feed it again once the answer is sent). Answers are
 * appended to the session's output.
 */
size_t api_session_feed(struct api_session *s, const char *data, size_t len);
/* Answer 408 (the client was too slow) and close. */
void api_session_timeout(struct api_session *s);
/* The answer not sent yet; consume what was. */
const char *api_session_output(const struct api_session *s, size_t *len);
void api_session_consume(struct api_session *s, size_t n);
/* After the output: close the connection (an error, or Connection: close). */
bool api_session_closing(const struct api_session *s);
/* A request has begun and not been answered yet. */
bool api_session_in_request(const struct api_session *s);

/* --- the server ------------------------------------------------------------ */

struct api;

/* Create the socket at path (mode 0600; an existing path is refused) and
 * start the thread. NULL with a one-line reason in err. lim may be NULL. */
struct api *api_start(const char *path, const struct api_ops *ops, const struct api_limits *lim,
		      char *err, size_t errlen);
/* Stop the thread, close every connection, remove the socket (if it is
 * still the one we made). */
void api_stop(struct api *a);

/* --- the client (pagehint ctl, tests) --------------------------------------- */

struct api_reply {
	int status;			/* HTTP status, or 0 */
	char *body;			/* NUL-terminated, malloc'd; NULL if none */
	size_t len;
};

/* One request on a fresh connection (Connection: close); body may be NULL.
 * 0, or -1 with a reason in err. Free reply->body. */
int api_request(const char *path, const char *method, const char *target, const char *body,
		struct api_reply *reply, char *err, size_t errlen);

#endif
