/* SPDX-License-Identifier: MIT */
/*
 * The Linux guests of `pagehint peers` (bench_peers.h): their verdict from
 * the console, and Debian's Linux 6.1 on `pagehint run`: whether it can run
 * here, its command line, its result from the run's console and trace.
 * No I/O beyond the FILEs given, so tests feed it synthetic runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_peers.h"

const char *peers_linux_verdict(const struct bench_run *r, bool reporting, bool pagehint, char *why,
				size_t cap)
{
	const char *ex = NULL;
	for (const char *s = r->console; s && (s = strstr(s, "@exit status=")); s++)
		ex = s;
	int status = ex ? atoi(ex + 13) : -1;
	if (status != 0 || r->fail_lines) {
		snprintf(why, cap, "the Linux guest %s%s%.200s", status < 0 ? "did not finish" :
			 "ended with an error", r->first_error[0] ? ": " : "", r->first_error);
		return why;
	}
	const char *b = r->console ? strstr(r->console, "@balloon ") : NULL;
	if (!b) {
		snprintf(why, cap, "no '@balloon' line: the balloon driver did not bind");
		return why;
	}
	size_t bl = strcspn(b, "\n");
	const char *rep = strstr(b, " reporting=");
	if (!rep || rep > b + bl || rep[11] != (reporting ? '1' : '0')) {
		snprintf(why, cap, "free page reporting %snegotiated (%.*s)", reporting ? "not " : "",
			 (int)(bl > 200 ? 200 : bl), b);
		return why;
	}
	const char *eng = strstr(b, " engine=");
	if (pagehint && (!eng || eng > b + bl || strncmp(eng + 8, "pagehint", 8))) {
		snprintf(why, cap, "the kernel does not run the pagehint engine "
			 "(page_reporting.engine=pagehint not taken: %.*s)", (int)(bl > 200 ? 200 : bl), b);
		return why;
	}
	return NULL;
}

bool peers_cpu_virt(FILE *cpuinfo)
{
	char line[8192];
	while (fgets(line, sizeof(line), cpuinfo)) {
		const char *c = strchr(line, ':');
		if (strncmp(line, "flags", 5) || !c)
			continue;
		/* the words after the colon */
		for (const char *w = c + 1; *w;) {
			w += strspn(w, " \t\n");
			size_t l = strcspn(w, " \t\n");
			if (l == 3 && (!strncmp(w, "vmx", 3) || !strncmp(w, "svm", 3)))
				return true;
			w += l;
		}
		return false;	/* the first CPU's flags say it */
	}
	return false;
}

const char *peers_linux_vmm_unrunnable(const char *nokvm, bool virt, char *why, size_t cap)
{
	if (nokvm)
		snprintf(why, cap, "%.200s; pagehint run needs KVM (tests/nested/linux_guest.sh runs "
			 "Linux on pagehint under nested KVM)", nokvm);
	else if (!virt)
		snprintf(why, cap, "KVM without VMX/SVM (PVM): Linux's kernel would run at CPL0, "
			 "emulated instruction by instruction");
	else
		return NULL;
	return why;
}

void peers_linux_vmm_cmdline(char *buf, size_t cap, uint64_t hog_mib, long hold_ms, long idle_ms)
{
	snprintf(buf, cap, "loglevel=4 panic=-1 memhog.mib=%llu memhog.hold=%ld memhog.idle=%ld",
		 (unsigned long long)hog_mib, hold_ms / 1000, idle_ms / 1000);
}

const char *peers_linux_vmm_result(const struct bench_run *r, FILE *trace, struct peers_trace *tr,
				   double *t0_ms, char *why, size_t cap)
{
	if (strcmp(r->end, "exit") || r->guest_exit != 0) {
		snprintf(why, cap, "pagehint run: end %s, status %d%s%.200s", r->end, r->guest_exit,
			 r->first_error[0] ? ": " : "", r->first_error);
		return why;
	}
	if (peers_linux_verdict(r, true, false, why, cap))
		return why;
	if (!r->nfree) {
		snprintf(why, cap, "no '@event free' line from memhog");
		return why;
	}
	if (!r->n) {
		snprintf(why, cap, "no resident-memory samples in pagehint run's trace");
		return why;
	}
	int e = peers_trace_read_vmm(tr, trace);
	if (e) {
		snprintf(why, cap, "pagehint run's trace: %s", strerror(-e));
		return why;
	}
	/* Linux's memhog prints its free line right before munmap */
	*t0_ms = r->free_t_ms[0];
	return NULL;
}
