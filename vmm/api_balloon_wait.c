/* SPDX-License-Identifier: MIT */
/* Polling GET /balloon until the guest holds the wanted target (api_balloon_wait.h). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "api_balloon_wait.h"
#include "clock.h"

/* One GET /balloon into seen; the result unless it answered. */
static enum api_wait_result poll_once(const char *path, struct api_balloon_seen *seen, char *err,
				      size_t n)
{
	struct api_reply r;

	if (api_request(path, "GET", "/balloon", NULL, &r, err, n))
		return API_WAIT_UNREACHABLE;
	json_t *j = r.status == 200 && r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	json_t *t = json_object_get(j, "target_pages"), *a = json_object_get(j, "actual_pages");
	enum api_wait_result res = API_WAIT_REACHED;	/* "answered" here */

	if (!json_is_integer(t) || !json_is_integer(a) || json_integer_value(t) < 0 ||
	    json_integer_value(a) < 0) {
		snprintf(err, n, "GET /balloon: status %d, no target_pages and actual_pages in %.80s",
			 r.status, r.body ? r.body : "(no body)");
		res = API_WAIT_BAD_ANSWER;
	} else {
		seen->target_pages = (uint64_t)json_integer_value(t);
		seen->actual_pages = (uint64_t)json_integer_value(a);
		seen->polls++;
	}
	json_decref(j);
	free(r.body);
	return res;
}

enum api_wait_result api_balloon_wait(const char *path, uint64_t want_pages, unsigned timeout_ms,
				      unsigned poll_ms, struct api_balloon_seen *seen, char *err,
				      size_t errlen)
{
	uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * 1000000u;
	struct timespec nap = { poll_ms / 1000, (long)(poll_ms % 1000) * 1000000 };

	*seen = (struct api_balloon_seen){ 0 };
	for (;;) {
		enum api_wait_result res = poll_once(path, seen, err, errlen);
		if (res != API_WAIT_REACHED)
			return res;
		if (seen->actual_pages == want_pages && seen->target_pages == want_pages)
			return API_WAIT_REACHED;
		if (mono_ns() >= deadline)
			return API_WAIT_DEADLINE;
		nanosleep(&nap, NULL);
	}
}
