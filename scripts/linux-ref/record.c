/*
 * record: run a VM's process and record, on the host, what the reclaim
 * comparison needs (scripts/linux-ref/run.sh, docs/interop.md):
 *
 *   record --out DIR [--period-ms N] [--timeout S] [--echo] -- CMD ARGS...
 *
 * Runs CMD with stdin from /dev/null and stdout+stderr into a pipe, and
 * writes
 *
 *   DIR/rss_raw.csv   t_us,rss_kib: CMD's resident memory (/proc/PID/statm,
 *                     resident pages) every N ms (default 20)
 *   DIR/console.log   t_us line: each console line as it arrived, '\r'
 *                     and other control bytes removed
 *   DIR/exit          CMD's exit status (128+signal if killed)
 *
 * t_us is CLOCK_REALTIME in microseconds, the clock QEMU's "log" trace
 * backend stamps its events with (pid@sec.usec), so the three files and
 * QEMU's trace line up. --timeout S sends SIGTERM after S seconds and
 * SIGKILL 5 s later. --echo copies the console lines that start with '@'
 * (the guests' protocol lines) to stderr as they come. Exits with CMD's
 * status.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
	perror(what);
	exit(125);
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		die(path);
	return f;
}

/* Resident KiB of PID, or -1 once it has exited. */
static long rss_kib(int statm_fd)
{
	char buf[128];
	unsigned long size, resident;
	ssize_t n = pread(statm_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* a process that has exited (a zombie) reads as all zeros */
	if (sscanf(buf, "%lu %lu", &size, &resident) != 2 || size == 0)
		return -1;
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

struct console {
	FILE *log;
	int echo;
	char line[8192];
	size_t len;
};

static void console_flush_line(struct console *c, int64_t t)
{
	c->line[c->len] = 0;
	fprintf(c->log, "%lld %s\n", (long long)t, c->line);
	fflush(c->log);
	if (c->echo) {
		char *at = strchr(c->line, '@');

		if (at)
			fprintf(stderr, "  guest: %s\n", at);
	}
	c->len = 0;
}

static void console_feed(struct console *c, const char *buf, size_t n, int64_t t)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = buf[i];

		if (ch == '\n') {
			console_flush_line(c, t);
		} else if (ch >= 0x20 && ch != 0x7f && c->len < sizeof(c->line) - 1) {
			c->line[c->len++] = ch;
		}
	}
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	long period_ms = 20;
	double timeout_s = 0;
	struct console con = { 0 };
	int i, pfd[2], statm_fd, status = 0, killed = 0, reaped = 0;
	int64_t t_start, t_next, t_kill = 0, t_end = 0;
	char path[64];
	FILE *rss;
	pid_t pid;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--period-ms") && i + 1 < argc)
			period_ms = atol(argv[++i]);
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--echo"))
			con.echo = 1;
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else
			break;
	}
	if (!out || i >= argc || period_ms <= 0) {
		fprintf(stderr, "usage: record --out DIR [--period-ms N] [--timeout S] [--echo] -- CMD ARGS...\n");
		return 125;
	}
	mkdir(out, 0777);
	rss = open_out(out, "rss_raw.csv");
	con.log = open_out(out, "console.log");
	fprintf(rss, "t_us,rss_kib\n");

	if (pipe(pfd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(127);
		close(pfd[0]);
		close(pfd[1]);
		execvp(argv[i], &argv[i]);
		perror(argv[i]);
		_exit(127);
	}
	close(pfd[1]);
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	statm_fd = open(path, O_RDONLY);
	if (statm_fd < 0)
		die(path);

	t_start = now_us(CLOCK_MONOTONIC);
	t_next = t_start;
	for (;;) {
		int64_t t = now_us(CLOCK_MONOTONIC);
		int wait_ms = t_next > t ? (int)((t_next - t + 999) / 1000) : 0;
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int r = poll(&p, 1, wait_ms);

		if (r < 0 && errno != EINTR)
			die("poll");
		if (r > 0) {
			char buf[65536];
			ssize_t n = read(pfd[0], buf, sizeof(buf));

			if (n > 0)
				console_feed(&con, buf, n, now_us(CLOCK_REALTIME));
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				break; /* CMD closed its output: it is ending */
		}
		t = now_us(CLOCK_MONOTONIC);
		if (t >= t_next) {
			long kib = rss_kib(statm_fd);

			if (kib >= 0)
				fprintf(rss, "%lld,%ld\n", (long long)now_us(CLOCK_REALTIME), kib);
			/* the next tick on the grid; skip ticks missed while busy */
			while (t_next <= t)
				t_next += period_ms * 1000;
		}
		if (timeout_s > 0 && !killed && t - t_start >= (int64_t)(timeout_s * 1e6)) {
			fprintf(stderr, "record: %s still running after %.0f s: SIGTERM\n", argv[i], timeout_s);
			kill(pid, SIGTERM);
			killed = 1;
			t_kill = t;
		}
		if (killed == 1 && t - t_kill >= 5000000) {
			kill(pid, SIGKILL);
			killed = 2;
		}
		/* CMD ended while something it started still holds the pipe:
		 * take what is already there, then stop */
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = 1;
			t_end = t + 200000;
		} else if (reaped && t >= t_end) {
			break;
		}
	}
	if (con.len)
		console_flush_line(&con, now_us(CLOCK_REALTIME));
	if (!reaped && waitpid(pid, &status, 0) < 0)
		die("waitpid");
	status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (killed)
		status = 124;
	fclose(rss);
	fclose(con.log);
	{
		FILE *f = open_out(out, "exit");

		fprintf(f, "%d\n", status);
		fclose(f);
	}
	return status;
}
