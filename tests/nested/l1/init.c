/* SPDX-License-Identifier: MIT */
/* /init for tests/nested/l1/run.sh and tests/nested/kvm.sh: load KVM, run
 * pagehint per command (the lines of /cmds if the initrd has one, else the
 * ';'-separated PH= of the kernel command line), possibly under a wrapper
 * such as valgrind, a run in the background with `pagehint ctl` steps
 * against its control API, power off. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
static void load(const char *p, const char *params) {
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || syscall(SYS_finit_module, fd, params, 0) < 0) perror(p);
	else printf("init: loaded %s\n", p);
	if (fd >= 0) close(fd);
}
static void on_alarm(int sig) { (void)sig; }
static void still_running(pid_t pid, unsigned secs) {
	char path[320], wchan[64], sc[128];
	printf("init: run still going after %u s; threads (wchan, syscall):", secs);
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		wchan[0] = sc[0] = 0;
		snprintf(path, sizeof path, "/proc/%d/task/%s/wchan", pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (f) { if (!fgets(wchan, sizeof wchan, f)) wchan[0] = 0; fclose(f); }
		snprintf(path, sizeof path, "/proc/%d/task/%s/syscall", pid, e->d_name);
		f = fopen(path, "r");
		if (f) { if (!fgets(sc, sizeof sc, f)) sc[0] = 0; fclose(f); }
		sc[strcspn(sc, " \n")] = 0;	/* the syscall number */
		printf(" %s=%s/%s", e->d_name, wchan, sc);
	}
	if (d) closedir(d);
	printf("\n");
	fflush(stdout);
}
/* A child with its stdout and stderr in the file out. */
static pid_t spawn(char **argv, const char *out) {
	pid_t pid = fork();
	if (!pid) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
		execv(argv[0], argv); perror("execv"); _exit(127);
	}
	return pid;
}
static void print_file(const char *path) {
	FILE *f = fopen(path, "r");
	if (f) {
		char buf[4096]; size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
		fclose(f);
		fflush(stdout);
	}
}
/* Wait for pid: a run that hangs is told apart from an L1 that hangs by a
 * line from here every 60 s, with where each of its threads waits; one
 * still going after limit s (0: none) is killed, so one stuck run costs
 * the batch a minute, not the rest of its runs. Its exit status. */
static int reap(pid_t pid, unsigned limit) {
	int st = 0;
	unsigned secs = 0;
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	alarm(60);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
		still_running(pid, secs += 60);
		if (limit && secs >= limit) {
			printf("init: run killed after %u s (its --timeout + 60 s)\n", secs);
			fflush(stdout);
			kill(pid, SIGKILL);
		}
		alarm(60);
	}
	alarm(0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
/* A run of pagehint: started (foreground or background), then finished.
 * Its output goes to a file first and is printed after it: under TCG a
 * busy L1 can lose or reorder console output written while KVM_RUN is
 * busy, and the tests parse it. */
static struct job { pid_t pid; unsigned limit; struct timespec t0; } bg;
static void finish_run(struct job *j) {
	int rc = reap(j->pid, j->limit);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->pid = 0;
	print_file("/out.txt");
	printf("init: run took %.2f s\n", (t1.tv_sec - j->t0.tv_sec) + (t1.tv_nsec - j->t0.tv_nsec) / 1e9);
	printf("init: pagehint exit status %d\n", rc);
	fflush(stdout);
	FILE *f = fopen("/s.json", "r");
	if (f) { int c; while ((c = fgetc(f)) != EOF) putchar(c); fclose(f); }
	/* --trace /t.csv: header and the last rows */
	f = fopen("/t.csv", "r");
	if (f) {
		char rows[4][512]; unsigned nr = 0;
		if (fgets(rows[0], sizeof rows[0], f)) fputs(rows[0], stdout);
		while (fgets(rows[1 + nr % 3], sizeof rows[0], f)) nr++;
		for (unsigned i = nr > 3 ? nr - 3 : 0; i < nr; i++) fputs(rows[1 + i % 3], stdout);
		printf("(%u rows)\n", nr);
		fclose(f);
	}
	/* a wrapper's log (valgrind --log-file=/vg.log) */
	if (!access("/vg.log", R_OK)) {
		printf("init: begin /vg.log\n");
		print_file("/vg.log");
		printf("init: end /vg.log\n");
	}
	printf("init: end of run\n");
	fflush(stdout);
}
/* A background run has started once its API answers: /api.sock is
 * there, or the run ended (left to wait to reap), or 120 s went by. */
static void api_up(pid_t pid) {
	for (unsigned ms = 0; ms < 120000 && access("/api.sock", F_OK); ms += 50) {
		siginfo_t si = { 0 };
		if (!waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid)
			break;
		usleep(50000);
	}
}
/* cmd: pagehint's arguments separated by ','; a background run also
 * serves its control API at /api.sock for the ctl steps. */
static void start_run(char *cmd, int background) {
	static char *argv[64];
	char *save2; int n = 0;
	if (bg.pid)
		finish_run(&bg);	/* one run at a time */
	/* Fields before "run" are a wrapper and the pagehint to run under it
	 * ("/usr/bin/valgrind.bin,--error-exitcode=99,/pagehint-dyn,run,..."). */
	char *first = strtok_r(cmd, ",", &save2);
	while (first && strcmp(first, "run") && n < 16) {
		argv[n++] = first;
		first = strtok_r(NULL, ",", &save2);
	}
	if (!n) argv[n++] = "/pagehint";
	if (first) argv[n++] = first;	/* "run" */
	argv[n++] = "--kernel"; argv[n++] = "/guest.elf";
	argv[n++] = "--summary-json"; argv[n++] = "/s.json";
	argv[n++] = "--quiet";
	if (background) { argv[n++] = "--api-sock"; argv[n++] = "/api.sock"; }
	for (char *t = strtok_r(NULL, ",", &save2); t && n < 60; t = strtok_r(NULL, ",", &save2)) argv[n++] = t;
	argv[n] = NULL;
	unlink("/s.json");
	unlink("/t.csv");
	unlink("/vg.log");
	unlink("/api.sock");
	printf("init: running%s", background ? " in the background" : "");
	for (int i = 0; i < n; i++) printf(" %s", argv[i]);
	printf("\n"); fflush(stdout);
	struct job j = { 0 };
	for (int i = 0; argv[i] && argv[i + 1]; i++)
		if (!strcmp(argv[i], "--timeout"))
			j.limit = (unsigned)strtoul(argv[i + 1], NULL, 10) + 60;
	clock_gettime(CLOCK_MONOTONIC, &j.t0);
	j.pid = spawn(argv, "/out.txt");
	if (background) {
		bg = j;
		api_up(j.pid);
	} else {
		finish_run(&j);
	}
}
/* copies clients at once of `pagehint ctl --api-sock /api.sock WORDS`
 * (words separated by ','); each one's output between
 * "init: ctl begin WORDS" and "init: ctl end status N". */
static void ctl_step(char *words, unsigned copies) {
	char *argv[40], *save, out[8][32];
	pid_t pid[8];
	int n = 0;
	argv[n++] = "/pagehint"; argv[n++] = "ctl"; argv[n++] = "--api-sock"; argv[n++] = "/api.sock";
	for (char *t = strtok_r(words, ",", &save); t && n < 39; t = strtok_r(NULL, ",", &save)) argv[n++] = t;
	argv[n] = NULL;
	if (copies < 1) copies = 1;
	if (copies > 8) copies = 8;
	for (unsigned i = 0; i < copies; i++) {
		snprintf(out[i], sizeof out[i], "/ctl%u.txt", i);
		pid[i] = spawn(argv, out[i]);
	}
	for (unsigned i = 0; i < copies; i++) {
		int rc = reap(pid[i], 600);
		printf("init: ctl begin");
		for (int k = 4; k < n; k++) printf(" %s", argv[k]);
		printf("\n"); fflush(stdout);
		print_file(out[i]);
		printf("init: ctl end status %d\n", rc);
		fflush(stdout);
	}
}
int main(void) {
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	load("/modules/irqbypass.ko", "");
	load("/modules/kvm.ko", "");
	load("/modules/ccp.ko", "");
	load("/modules/kvm-amd.ko", getenv("KVM_AMD_PARAMS") ? getenv("KVM_AMD_PARAMS") : "");
	static char line[65536];
	FILE *f = fopen("/cmds", "r");
	char *args = line;
	if (f) {
		size_t n = fread(line, 1, sizeof line - 1, f);
		line[n] = 0;
		fclose(f);
	} else {
		f = fopen("/proc/cmdline", "r");
		if (!f || !fgets(line, sizeof line, f)) return 1;
		fclose(f);
		args = strstr(line, "PH=");
		if (!args) return 1;
		args += 3;
	}
	/* A step per line (or ';'): "run,..." a run, "&run,..." one in the
	 * background, "ctl,WORDS" and "ctls,N,WORDS" (N clients at once) ask
	 * its API, "sleep,S", "wait" for it to end (printed as a run). */
	char *save1;
	for (char *cmd = strtok_r(args, ";\n", &save1); cmd; cmd = strtok_r(NULL, ";\n", &save1)) {
		if (!strncmp(cmd, "ctl,", 4))
			ctl_step(cmd + 4, 1);
		else if (!strncmp(cmd, "ctls,", 5))
			ctl_step(strchr(cmd + 5, ',') ? strchr(cmd + 5, ',') + 1 : cmd + 5,
				 (unsigned)strtoul(cmd + 5, NULL, 10));
		else if (!strncmp(cmd, "sleep,", 6))
			sleep((unsigned)strtoul(cmd + 6, NULL, 10));
		else if (!strcmp(cmd, "wait")) {
			if (bg.pid) finish_run(&bg);
			else printf("init: wait: no run in the background\n");
		} else if (cmd[0] == '&')
			start_run(cmd + 1, 1);
		else
			start_run(cmd, 0);
	}
	if (bg.pid)
		finish_run(&bg);
	printf("init: all runs done\n");
	fflush(stdout);
	sync();
	/* The console's UART sends after write() returns, and the exit below
	 * drops what is still queued (a last run's valgrind log and the line
	 * above were seen cut off). */
	tcdrain(STDOUT_FILENO);
	usleep(200000);
	/* QEMU's isa-debug-exit at 0xf4 (not 0x501: the L2 guest exits there), if the machine has one, ends QEMU
	 * at once (power-off has been seen to hang under TCG + SVM). */
	if (ioperm(0xf4, 1, 1) == 0) {
		unsigned char v = 0;
		__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"((unsigned short)0xf4));
	}
	reboot(RB_POWER_OFF);
	return 0;
}
