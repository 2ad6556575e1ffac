/* SPDX-License-Identifier: MIT */
/* `pagehint ctl --api-sock PATH watch`: a running VM's live view from its
 * control API alone (cmd/ctl_watch.c). */
#ifndef CMD_CTL_WATCH_H
#define CMD_CTL_WATCH_H

#include <stdio.h>

#define CTL_WATCH_INTERVAL_MS 500u	/* default line period */
#define CTL_WATCH_FIRST_ANSWER_MS 10000u	/* how long a VM has to answer at first */

struct ctl_watch {
	const char *sock;
	unsigned interval_ms;
	unsigned first_answer_ms;
};

/* Lines on out until the VM goes away (0); errors on err: 1 the API
 * refused or answered nonsense, CTL_EXIT_UNAVAILABLE it never answered or
 * stopped answering while its socket still listens. */
int ctl_watch(const struct ctl_watch *w, FILE *out, FILE *err);

/* The words after "watch" (argv[0] is the first of them); sock from ctl's
 * --api-sock. Returns the exit status. */
int ctl_watch_main(const char *sock, int argc, const char *const *argv);

#endif
