/* SPDX-License-Identifier: MIT */
/*
 * Small pieces every bench front end needs (bench.c, bench_peers.c,
 * bench_report.c): usage errors, the files they must read, directories, JSON scalars, the
 * machine's description and whether KVM can be used.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "bench_int.h"
#include "clock.h"

int bench_bad(const char *who, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return BENCH_EXIT_USAGE;
}

int bench_need_file(const char *who, const char *what, const char *path)
{
	return access(path, R_OK) ? bench_bad(who, "%s %s: %s", what, path, strerror(errno)) : 0;
}

int bench_mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(buf, 0777) && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	return mkdir(buf, 0777) && errno != EEXIST ? -errno : 0;
}

int bench_run_dir(const char *who, const char *out, const char *prefix, char *dir, size_t cap,
		  bool *temp)
{
	*temp = false;
	if (out) {
		snprintf(dir, cap, "%.*s/runs", (int)(cap - 8), out);
		int e = bench_mkdir_p(dir);
		return e ? bench_bad(who, "--out %s: %s", out, strerror(-e)) : 0;
	}
	snprintf(dir, cap, "%s/%s.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", prefix);
	if (!mkdtemp(dir))
		return bench_bad(who, "cannot make a temporary directory: %s", strerror(errno));
	*temp = true;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void bench_rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

void bench_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void bench_json_num(FILE *f, double v)
{
	if (v == BENCH_NULL || !isfinite(v))
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

void bench_machine_info(struct bench_machine *m)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ", &tm);

	snprintf(m->cpu_model, sizeof(m->cpu_model), "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && v) {
			v += 1 + strspn(v + 1, " \t");
			v[strcspn(v, "\n")] = 0;
			snprintf(m->cpu_model, sizeof(m->cpu_model), "%s", v);
			break;
		}
	}
	if (f)
		fclose(f);
	struct utsname u;
	m->kernel[0] = 0;
	if (!uname(&u))
		snprintf(m->kernel, sizeof(m->kernel), "%s %s", u.sysname, u.release);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	m->host_cpus = n > 0 ? (unsigned)n : 0;
}

void bench_json_machine(FILE *f, const struct bench_machine *m)
{
	fputs("{\"date\": ", f);
	bench_json_str(f, m->date);
	fputs(", \"cpu\": ", f);
	bench_json_str(f, m->cpu_model);
	fputs(", \"kernel\": ", f);
	bench_json_str(f, m->kernel);
	fprintf(f, ", \"host_cpus\": %u", m->host_cpus);
}

void bench_csv_columns(char *header, const char *const *names, int n, int *col)
{
	char *save;
	int i = 0;

	for (int k = 0; k < n; k++)
		col[k] = -1;
	for (char *t = strtok_r(header, ",\r\n", &save); t; t = strtok_r(NULL, ",\r\n", &save), i++)
		for (int k = 0; k < n; k++)
			if (col[k] < 0 && !strcmp(t, names[k]))
				col[k] = i;
}

bool bench_csv_row(const char *line, const int *col, int n, double *v)
{
	int want = 0, found = 0;
	const char *p = line;

	for (int k = 0; k < n; k++)
		want += col[k] >= 0;
	for (int i = 0; p && *p && *p != '\n'; i++) {
		char *end;
		double x = strtod(p, &end);
		for (int k = 0; k < n; k++)
			if (col[k] == i && end != p) {
				v[k] = x;
				found++;
			}
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return found == want;
}

/* Why /dev/kvm can't be used, or NULL if it can. */
const char *bench_kvm_unusable(char *buf, size_t cap)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(buf, cap, "no usable /dev/kvm (open: %s)", strerror(errno));
		return buf;
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (v != KVM_API_VERSION) {
		snprintf(buf, cap, "/dev/kvm does not answer KVM_GET_API_VERSION (%d)", v);
		return buf;
	}
	return NULL;
}
