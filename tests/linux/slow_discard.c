/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD library for QEMU: a slow balloon device. QEMU answers a free
 * page report only after discarding its ranges (madvise DONTNEED/REMOVE on
 * anonymous RAM, fallocate PUNCH_HOLE on file-backed RAM), so delaying
 * those calls delays the answer the guest waits for.
 *
 *   SLOW_DISCARD_MS_FILE=F  F holds the delay in ms, read at every call
 *                           (the test changes it while the guest runs);
 *                           missing, empty or 0: no delay
 *   SLOW_DISCARD_LOG=L      a line "t_ms len delay_ms" per delayed call,
 *                           written before the delay
 *
 * Only calls of 2 MiB or more are delayed (reports are of pageblocks);
 * the process must be a qemu-system-* (the test's shell and tools inherit
 * LD_PRELOAD too and are left alone).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIN_LEN (2ul << 20)

static int active = -1;	/* -1 not decided yet */

static int is_qemu(void)
{
	char comm[64] = "";
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, comm, sizeof(comm) - 1);

		comm[n > 0 ? n : 0] = 0;
		close(fd);
	}
	return !strncmp(comm, "qemu-system", 11);
}

static unsigned long delay_ms(void)
{
	const char *path = getenv("SLOW_DISCARD_MS_FILE");
	char buf[32] = "";
	int fd;

	if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strtoul(buf, NULL, 10);
}

static void maybe_delay(size_t len)
{
	int saved = errno;

	if (active < 0)
		active = is_qemu();
	unsigned long ms = active && len >= MIN_LEN ? delay_ms() : 0;
	if (ms) {
		const char *log = getenv("SLOW_DISCARD_LOG");
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		if (log) {
			FILE *f = fopen(log, "a");

			if (f) {
				fprintf(f, "%.1f %zu %lu\n", now.tv_sec * 1e3 + now.tv_nsec / 1e6, len, ms);
				fclose(f);
			}
		}
		struct timespec d = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
		while (nanosleep(&d, &d) < 0 && errno == EINTR)
			;
	}
	errno = saved;
}

int madvise(void *addr, size_t len, int advice)
{
	static int (*next)(void *, size_t, int);

	if (!next)
		next = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "madvise");
	if (advice == MADV_DONTNEED || advice == MADV_REMOVE)
		maybe_delay(len);
	return next(addr, len, advice);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	static int (*next)(int, int, off_t, off_t);

	if (!next)
		next = (int (*)(int, int, off_t, off_t))dlsym(RTLD_NEXT, "fallocate");
	if (mode & FALLOC_FL_PUNCH_HOLE)
		maybe_delay((size_t)len);
	return next(fd, mode, off, len);
}

/* QEMU is built with _FILE_OFFSET_BITS=64: its calls bind to this name */
int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}
