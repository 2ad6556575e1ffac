/* SPDX-License-Identifier: MIT */
/*
 * A control API client's wait for the balloon (`pagehint ctl balloon set
 * SIZE --wait SECS`): GET /balloon on a fresh connection every poll_ms
 * until the guest's actual size is the wanted target, or the deadline.
 */
#ifndef VMM_API_BALLOON_WAIT_H
#define VMM_API_BALLOON_WAIT_H

#include <stddef.h>
#include <stdint.h>

enum api_wait_result {
	API_WAIT_REACHED,	/* actual_pages == want_pages */
	API_WAIT_DEADLINE,	/* timeout_ms went by first */
	API_WAIT_UNREACHABLE,	/* no answer from the socket (err says why) */
	API_WAIT_BAD_ANSWER,	/* GET /balloon refused or malformed (err says why) */
};

/* The balloon as the last answer gave it, in 4 KiB pages. */
struct api_balloon_seen {
	uint64_t target_pages, actual_pages;
	unsigned polls;
};

enum api_wait_result api_balloon_wait(const char *path, uint64_t want_pages, unsigned timeout_ms,
				      unsigned poll_ms, struct api_balloon_seen *seen, char *err,
				      size_t errlen);

#endif
