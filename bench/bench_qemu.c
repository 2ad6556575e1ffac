/* SPDX-License-Identifier: MIT */
/*
 * The QEMU backend: our guest on QEMU's microvm with its virtio-balloon
 * (free-page-reporting=on), as tests/qemu/guest.bash runs it; -enable-kvm
 * when KVM is usable, else TCG. The bench samples QEMU's resident memory
 * itself (bench_child.c).
 *
 * Exits: every access to a virtio-mmio register is a VM exit under KVM (a
 * userspace MMIO exit, or an in-kernel ioeventfd exit for QueueNotify).
 * QEMU's trace events virtio_mmio_read and virtio_mmio_write_offset see
 * each one, with a wall-clock timestamp (-msg timestamp=on), under KVM and
 * TCG alike, so the bench counts those: the exits the device costs the
 * guest. (TCG itself has no VM exits; other exits a KVM guest would take,
 * e.g. hlt or the timer, are not in this count.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_child.h"
#include "bench_int.h"

#define QEMU "qemu-system-x86_64"

bool bench_qemu_version(char *buf, size_t cap)
{
	/* NOLINTNEXTLINE(cert-env33-c): a fixed command, nothing from input in it */
	FILE *p = popen(QEMU " --version 2>/dev/null", "r");
	char line[256];
	bool ok = false;
	if (!p)
		return false;
	if (fgets(line, sizeof(line), p)) {
		char *v = strstr(line, "version ");
		if (v) {
			v += 8;
			v[strcspn(v, " \n")] = 0;
			snprintf(buf, cap, "%s", v);
			ok = true;
		}
	}
	while (fgets(line, sizeof(line), p))
		;
	pclose(p);
	return ok;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Device register accesses from QEMU's trace log, as cumulative counts on
 * the samples. False if the log has none (tracing did not work). */
static bool count_exits(const char *log, double t0_real_s, struct bench_run *r)
{
	FILE *f = fopen(log, "r");
	if (!f)
		return false;
	size_t n = 0, cap = 0;
	double *t = NULL;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		/* "PID@SEC.USEC:virtio_mmio_read ..." */
		char *at = strchr(line, '@'), *colon = at ? strchr(at, ':') : NULL;
		if (!colon || (strncmp(colon + 1, "virtio_mmio_read ", 17) &&
			       strncmp(colon + 1, "virtio_mmio_write_offset ", 25)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			double *nt = realloc(t, cap * sizeof(*nt));
			if (!nt)
				break;
			t = nt;
		}
		t[n++] = (strtod(at + 1, NULL) - t0_real_s) * 1e3;
	}
	fclose(f);
	if (!n) {
		free(t);
		return false;
	}
	qsort(t, n, sizeof(*t), cmp_double);
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		while (k < n && t[k] <= r->s[i].t_ms)
			k++;
		r->s[i].exits = (double)k;
	}
	free(t);
	return true;
}

int bench_qemu_run(const struct bench_host *h, const struct bench_job *j, struct bench_run *r,
		   volatile sig_atomic_t *stop)
{
	char smp[16], mem[32], log[4096];
	snprintf(smp, sizeof(smp), "%u", h->cpus);
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)h->mem_mib);
	snprintf(log, sizeof(log), "%s/%s.qemu-trace", h->tmpdir, j->tag);
	unlink(log);

	const char *argv[] = {
		QEMU, "-M", "microvm,acpi=off", "-smp", smp, "-m", mem,
		"-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-kernel", (char *)h->guest_elf,
		"-device", "isa-debug-exit,iobase=0x501,iosize=2",
		"-device", "virtio-balloon-device,free-page-reporting=on",
		"-global", "virtio-mmio.force-legacy=false",
		"-accel", h->kvm ? "kvm" : "tcg",
		"-msg", "timestamp=on", "-D", log,
		"-trace", "virtio_mmio_read", "-trace", "virtio_mmio_write_offset",
		"-append", (char *)j->cmdline,
		/* the options below, if any, take the NULLs' places */
		NULL, NULL, NULL, NULL,
	};
	size_t na = sizeof(argv) / sizeof(argv[0]) - 4;
	if (j->icount && !h->kvm) {
		argv[na++] = "-icount";
		argv[na++] = BENCH_ICOUNT_OPTS;
	}
	if (j->populate)
		argv[na++] = "-mem-prealloc";
	struct bench_child c = {
		.argv = argv, .timeout_s = j->timeout_s, .sample_rss = true,
		.on_line = j->on_line, .on_sample = j->on_sample, .arg = j->arg,
	};
	int e = bench_child_run(&c, r, stop);
	if (e) {
		unlink(log);
		return e;
	}
	r->exits_known = count_exits(log, c.t0_real_s, r);
	unlink(log);

	/* isa-debug-exit: QEMU exits with (V << 1) | 1. */
	if (!c.timed_out && !c.stopped && WIFEXITED(c.wstatus)) {
		int code = WEXITSTATUS(c.wstatus);
		if (code & 1) {
			r->guest_exit = code >> 1;
		} else {
			r->end = "error";
			if (!r->first_error[0])
				snprintf(r->first_error, sizeof(r->first_error),
					 "QEMU exited with %d without a guest exit status", code);
		}
	} else if (!c.timed_out && !c.stopped) {
		r->end = "error";
		snprintf(r->first_error, sizeof(r->first_error), "QEMU died of signal %d",
			 WIFSIGNALED(c.wstatus) ? WTERMSIG(c.wstatus) : 0);
	}
	return 0;
}
