/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the control API's request handling (vmm/api.c's
 * api_session: llhttp's parsing, our callbacks and limits, routing, the
 * JSON bodies through jansson) against a fake VM, with no socket. The
 * input's first byte picks the mode: the rest as raw bytes from a client,
 * or as the JSON body of a well-formed PATCH /balloon, PATCH
 * /balloon/statistics or PUT /actions, so the JSON side is reached on
 * most runs. The bytes go in chunks whose sizes come from the input, each
 * answer drained (sometimes a few bytes at a time) before more is fed, as
 * the server does. Checks: every answer is an HTTP/1.1 status line with
 * a known status; output stays bounded; a closing session takes no more.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static void snapshot(void *opaque, struct api_snapshot *s)
{
	(void)opaque;
	s->state = "Running";
	s->vcpus = 2;
	s->mem_bytes = 1ull << 30;
	s->target_pages = 1000;
	s->actual_pages = 900;
	s->stats_present = 0x3ff;
	s->have_resident = true;
}

static int set_target(void *opaque, uint64_t pages, char *err, size_t n)
{
	(void)opaque;
	if (pages > (1ull << 30) / 4096)
		__builtin_trap();	/* the API checks the RAM size first */
	if (pages == 4096) {
		snprintf(err, n, "refused");
		return -1;
	}
	return 0;
}

static int set_interval(void *opaque, unsigned s, char *err, size_t n)
{
	(void)opaque;
	(void)err;
	(void)n;
	if (s == 0)
		__builtin_trap();
	return 0;
}

static void shutdown_vm(void *opaque)
{
	(void)opaque;
}

static const struct api_ops ops = {
	.snapshot = snapshot, .set_target = set_target, .set_stats_interval = set_interval,
	.shutdown = shutdown_vm,
};

/* Drain the session's output; check each answer's status line. */
static void drain(struct api_session *s, unsigned step)
{
	size_t len;
	const char *o = api_session_output(s, &len);

	if (len > (256u << 10))
		__builtin_trap();
	/* Answers start at the front: checked when one begins there. */
	if (len && (len < 13 || memcmp(o, "HTTP/1.1 ", 9) || o[9] < '1' || o[9] > '5'))
		__builtin_trap();
	while (len) {
		size_t n = step && step < len ? step : len;
		api_session_consume(s, n);
		api_session_output(s, &len);
	}
}

static const char *const heads[] = {
	"PATCH /balloon", "PATCH /balloon/statistics", "PUT /actions",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t mode = data[0], chunking = data[1];
	const char *in = (const char *)data + 2;
	size_t n = size - 2;
	char *req = NULL;

	if (mode & 1) {
		char head[160];
		int hl = snprintf(head, sizeof(head), "%s HTTP/1.1\r\nContent-Type: application/json\r\n"
				  "Content-Length: %zu\r\n\r\n", heads[(mode >> 1) % 3], n);
		req = malloc((size_t)hl + n);
		if (!req)
			return 0;
		memcpy(req, head, (size_t)hl);
		memcpy(req + hl, in, n);
		in = req;
		n += (size_t)hl;
	}

	struct api_session *s = api_session_new(&ops);
	size_t chunk = chunking & 0x3f ? chunking & 0x3f : n;
	unsigned step = chunking >> 6;
	while (n) {
		size_t k = chunk < n ? chunk : n;
		size_t used = api_session_feed(s, in, k);
		if (used > k)
			__builtin_trap();
		if (api_session_closing(s) && api_session_feed(s, in, k) != k)
			__builtin_trap();
		size_t pending;
		api_session_output(s, &pending);
		if (!used && !pending)
			__builtin_trap();	/* no progress and nothing to send */
		drain(s, step);
		in += used;
		n -= used;
		if (api_session_closing(s))
			break;
	}
	if (api_session_in_request(s) && !api_session_closing(s)) {
		api_session_timeout(s);
		drain(s, 0);
	}
	api_session_free(s);
	free(req);
	return 0;
}
