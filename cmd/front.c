/* SPDX-License-Identifier: MIT */
/* The front ends' shared pieces: stop signals, files beside this program
 * (front.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "front.h"

volatile sig_atomic_t front_stop_signal;

static void on_stop_signal(int sig)
{
	front_stop_signal = sig;
}

void front_catch_stop_signals(bool hangup)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (hangup)
		sigaction(SIGHUP, &sa, NULL);
}

bool front_self_path(char *path, size_t cap)
{
	ssize_t n = cap > 1 ? readlink("/proc/self/exe", path, cap - 1) : -1;
	if (n <= 0)
		return false;
	path[n] = 0;
	return true;
}

bool front_beside(const char *self, const char *name, char *buf, size_t cap)
{
	const char *slash = strrchr(self, '/');
	int dirlen = slash ? (int)(slash - self) : 1;
	int n = snprintf(buf, cap, "%.*s/%s", dirlen, slash ? self : ".", name);
	return n >= 0 && (size_t)n < cap;
}

const char *front_guest_kernel(const char *self, char *buf, size_t cap)
{
	if (!self || !front_beside(self, FRONT_GUEST_KERNEL, buf, cap))
		snprintf(buf, cap, "%s", FRONT_GUEST_KERNEL);
	return buf;
}
