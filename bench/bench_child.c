/* SPDX-License-Identifier: MIT */
/*
 * One guest run as a child process (QEMU or `pagehint run`). The parent
 * reads the child's console from a pipe and timestamps each line as it
 * arrives, and every 10 ms samples the child's resident memory
 * (/proc/PID/statm) and CPU time (/proc/PID/stat, less excluded
 * threads' /proc/PID/task/TID/stat), until the child exits,
 * its timeout expires or the bench is told to stop. The child runs in its
 * own process group, which is what gets killed; PR_SET_PDEATHSIG kills it
 * should the bench itself die.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_child.h"
#include "clock.h"

#define PERIOD_MS 10.0
#define KILL_GRACE_MS 2000.0
#define LINE_MAX_LEN 4096

static double real_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Resident MiB of pid, or < 0. */
static double read_rss_mib(pid_t pid)
{
	char path[64];
	unsigned long long size, res;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int k = fscanf(f, "%llu %llu", &size, &res);
	fclose(f);
	if (k != 2)
		return -1;
	return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

/* User + system CPU ms of a /proc/.../stat file, or < 0. */
static double read_stat_cpu_ms(const char *path)
{
	char buf[1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* Fields after the command name, which may hold anything: from the
	 * last ')'. utime and stime are fields 14 and 15. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long long ut, st;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* User + system CPU ms of pid so far, or < 0. */
static double read_cpu_ms(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return read_stat_cpu_ms(path);
}

/* The id of pid's thread called name, or 0. */
static pid_t find_thread(pid_t pid, const char *name)
{
	char path[96], comm[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	pid_t tid = 0;
	if (!d)
		return 0;
	while (!tid && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm", (int)pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = 0;
			if (!strcmp(comm, name))
				tid = (pid_t)atoi(e->d_name);
		}
		fclose(f);
	}
	closedir(d);
	return tid;
}

/* "[    1.234567] text": the time in ms and the text; false if no prefix. */
static bool split_prefix(const char *line, double *t_ms, const char **text)
{
	char *end;
	if (line[0] != '[')
		return false;
	double s = strtod(line + 1, &end);
	if (end == line + 1 || end[0] != ']' || end[1] != ' ')
		return false;
	*t_ms = s * 1e3;
	*text = end + 2;
	return true;
}

struct reader {
	char buf[LINE_MAX_LEN];
	size_t len;
};

static void take_line(struct bench_child *c, struct bench_run *r, char *line, double t_ms,
		      double cpu_ms)
{
	size_t l = strlen(line);
	while (l && (line[l - 1] == '\r' || line[l - 1] == '\n'))
		line[--l] = 0;
	const char *text = line;
	double t = t_ms;
	if (c->prefix_times && !split_prefix(line, &t, &text)) {
		t = t_ms;
		text = line;
	}
	bench_run_parse_line(r, text, t, cpu_ms);
	if (c->on_line)
		c->on_line(c->arg, text);
}

/* Read what the pipe has; false at EOF or error. */
static bool pump(struct bench_child *c, struct bench_run *r, int fd, struct reader *rd,
		 double t0, double cpu_ms)
{
	for (;;) {
		ssize_t n = read(fd, rd->buf + rd->len, sizeof(rd->buf) - 1 - rd->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0) {
			if (rd->len) {
				rd->buf[rd->len] = 0;
				take_line(c, r, rd->buf, mono_ms() - t0, cpu_ms);
				rd->len = 0;
			}
			return false;
		}
		rd->len += (size_t)n;
		double t = mono_ms() - t0;
		char *start = rd->buf, *nl;
		while ((nl = memchr(start, '\n', rd->len - (size_t)(start - rd->buf)))) {
			*nl = 0;
			take_line(c, r, start, t, cpu_ms);
			start = nl + 1;
		}
		rd->len -= (size_t)(start - rd->buf);
		memmove(rd->buf, start, rd->len);
		if (rd->len == sizeof(rd->buf) - 1) {	/* an overlong line: cut */
			rd->buf[rd->len] = 0;
			take_line(c, r, rd->buf, t, cpu_ms);
			rd->len = 0;
		}
	}
}

/* The CPU ms of pid's thread named name (NULL: none), found once it
 * exists; *ms keeps the highest reading, its last once it has gone. */
static void thread_cpu(pid_t pid, const char *name, pid_t *tid, double *ms)
{
	if (name && !*tid)
		*tid = find_thread(pid, name);
	if (!*tid)
		return;
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)*tid);
	double e = read_stat_cpu_ms(path);
	if (e > *ms)
		*ms = e;
}

/* The watched child and what the watch has found so far. */
struct watch {
	pid_t pid;
	int fd;				/* the console pipe's read end */
	struct reader *rd;		/* NULL: the console is not read */
	bool open_pipe, reaped;
	double t0;			/* mono_ms() at the start */
	double next;			/* the next sample's time */
	double deadline;		/* the timeout: then SIGTERM */
	double kill_at;			/* 0, or when SIGTERM turns to SIGKILL */
	double cpu;			/* the child's CPU ms less the excluded threads' */
	double excl, excl2;		/* exclude_thread's and exclude_thread2's CPU ms */
	double counted;			/* count_thread's CPU ms, or -1 */
	pid_t excl_tid, excl2_tid, count_tid;
	int wstatus;
	struct rusage ru;
};

/* In the forked child: its own process group, killed should the bench
 * die, stdin from /dev/null, stdout and stderr to out_fd, then c->argv. */
__attribute__((noreturn)) static void exec_child(const struct bench_child *c, int out_fd,
						  pid_t parent)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	dup2(out_fd, STDERR_FILENO);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	execvp(c->argv[0], (char *const *)c->argv);	/* exec takes no const */
	dprintf(STDERR_FILENO, "bench: cannot run %s: %s\n", c->argv[0], strerror(errno));
	_exit(127);
}

/* Fork the child with its console on a non-blocking pipe: 0 with w->pid,
 * w->fd, w->t0 and c->t0_real_s set, or -errno. */
static int start_child(struct bench_child *c, struct watch *w)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -errno;

	pid_t parent = getpid();
	w->t0 = mono_ms();
	c->t0_real_s = real_s();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0)
		exec_child(c, p[1], parent);
	setpgid(pid, pid);	/* also here: no race with the kill in end_when_due */
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	w->pid = pid;
	w->fd = p[0];
	return 0;
}

/* At the deadline or on *stop, SIGTERM to the child's group; SIGKILL once
 * the grace after it is over. */
static void end_when_due(struct bench_child *c, struct watch *w, double now,
			 volatile sig_atomic_t *stop)
{
	if (!w->kill_at && (now >= w->deadline || (stop && *stop))) {
		if (now >= w->deadline)
			c->timed_out = true;
		else
			c->stopped = true;
		kill(-w->pid, SIGTERM);
		w->kill_at = now + KILL_GRACE_MS;
	}
	if (w->kill_at && now >= w->kill_at)
		kill(-w->pid, SIGKILL);
}

/* One sample: the threads' and the child's CPU, its resident memory (if
 * sample_rss) into r, and on_sample; then the next sample's time. */
static void take_sample(struct bench_child *c, struct bench_run *r, struct watch *w, double now)
{
	/* a thread may start late (the exitless scanner: at the map's attach) */
	thread_cpu(w->pid, c->exclude_thread, &w->excl_tid, &w->excl);
	thread_cpu(w->pid, c->exclude_thread2, &w->excl2_tid, &w->excl2);
	thread_cpu(w->pid, c->count_thread, &w->count_tid, &w->counted);
	double v = read_cpu_ms(w->pid);
	if (v >= 0)
		w->cpu = v > w->excl + w->excl2 ? v - w->excl - w->excl2 : 0;
	/* After @done the child tears down: its memory goes for reasons
	 * that are not reporting. */
	if (c->sample_rss && !r->done) {
		double rss = read_rss_mib(w->pid);
		if (rss >= 0)
			bench_run_add_sample(r, now - w->t0, rss, -1);
	}
	if (c->on_sample)
		c->on_sample(c->arg, now - w->t0, r->n ? r->s[r->n - 1].rss_mib : -1);
	while (w->next <= now)
		w->next += PERIOD_MS;
}

/* Wait for console output until the next sample is due (10 ms at most)
 * and take its lines; without a pipe, a 2 ms pause. */
static void read_console(struct bench_child *c, struct bench_run *r, struct watch *w)
{
	if (!w->open_pipe) {
		usleep(2000);
		return;
	}
	struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
	int wait = (int)(w->next - mono_ms()) + 1;
	if (poll(&pfd, 1, wait < 0 ? 0 : wait > 10 ? 10 : wait) > 0)
		w->open_pipe = pump(c, r, w->fd, w->rd, w->t0, w->cpu);
}

/* Reap the child if it has exited, and kill its group: grandchildren
 * (none expected) go too. */
static void reap_if_exited(struct watch *w)
{
	if (wait4(w->pid, &w->wstatus, WNOHANG, &w->ru) == w->pid) {
		w->reaped = true;
		kill(-w->pid, SIGKILL);
	}
}

/* r's wall time, CPU time (rusage less the excluded threads'), scanner
 * CPU and end; c's exit status. */
static void finish(struct bench_child *c, struct bench_run *r, struct watch *w)
{
	r->wall_ms = mono_ms() - w->t0;
	r->cpu_ms = (w->ru.ru_utime.tv_sec + w->ru.ru_stime.tv_sec) * 1e3 +
		    (w->ru.ru_utime.tv_usec + w->ru.ru_stime.tv_usec) / 1e3;
	/* The child's own count covers its sampling to the end. */
	if (c->exclude_thread && r->telemetry_cpu_ms > w->excl)
		w->excl = r->telemetry_cpu_ms;
	if (c->exclude_thread || c->exclude_thread2)
		r->cpu_ms = r->cpu_ms > w->excl + w->excl2 ? r->cpu_ms - w->excl - w->excl2 : 0;
	if (c->count_thread)
		r->xl_cpu_ms = w->counted;
	c->wstatus = w->wstatus;
	r->end = c->timed_out ? "timeout" : c->stopped ? "signal" : "exit";
}

int bench_child_run(struct bench_child *c, struct bench_run *r, volatile sig_atomic_t *stop)
{
	struct watch w = { .counted = -1 };
	int e = start_child(c, &w);
	if (e)
		return e;
	w.rd = calloc(1, sizeof(*w.rd));
	w.open_pipe = w.rd != NULL;
	w.next = w.t0;
	w.deadline = w.t0 + c->timeout_s * 1e3;

	c->timed_out = c->stopped = false;
	while (!w.reaped || w.open_pipe) {
		double now = mono_ms();
		if (!w.reaped)
			end_when_due(c, &w, now, stop);
		if (!w.reaped && now >= w.next)
			take_sample(c, r, &w, now);
		read_console(c, r, &w);
		if (!w.reaped)
			reap_if_exited(&w);
		/* A child that closed its output but lives on is still
		 * bounded by the deadline; one that exited but whose pipe is
		 * held open by a grandchild is killed with its group above. */
		if (w.reaped && w.open_pipe &&
		    mono_ms() > (w.kill_at ? w.kill_at : w.deadline) + KILL_GRACE_MS)
			break;
	}
	close(w.fd);
	free(w.rd);
	finish(c, r, &w);
	return 0;
}
