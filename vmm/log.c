/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "log.h"

/* The stream is set once before threads start; reads are relaxed. */
static _Atomic(FILE *) log_stream;

void vmm_log_set_stream(FILE *f)
{
	atomic_store(&log_stream, f);
}

int vmm_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void vmm_log(const char *fmt, ...)
{
	FILE *f = atomic_load(&log_stream);
	char buf[512];
	va_list ap;

	if (!f)
		f = stderr;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One fprintf call per line: stdio locks the stream around it. */
	fprintf(f, "pagehint: %s\n", buf);
	fflush(f);
}
