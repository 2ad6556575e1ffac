/* SPDX-License-Identifier: MIT */
/* /init for tests/nested/l1/run.sh and tests/nested/kvm.sh: load KVM, run
 * pagehint per command (the lines of /cmds if the initrd has one, else the
 * ';'-separated PH= of the kernel command line), possibly under a wrapper
 * such as valgrind, power off. */
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
/* The run's output goes to a file first and is printed after it: under
 * TCG a busy L1 can lose or reorder console output written while KVM_RUN
 * is busy, and the tests parse it. */
static int run(char **argv) {
	pid_t pid = fork();
	if (!pid) {
		int fd = open("/out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
		execv(argv[0], argv); perror("execv"); _exit(127);
	}
	/* A run that hangs is told apart from an L1 that hangs: every 60 s a
	 * line from here, with where each pagehint thread waits. */
	/* A run still going 60 s past its own --timeout is killed, so one
	 * stuck run costs the batch a minute, not the rest of its runs. */
	unsigned limit = 0;
	for (int i = 0; argv[i] && argv[i + 1]; i++)
		if (!strcmp(argv[i], "--timeout"))
			limit = (unsigned)strtoul(argv[i + 1], NULL, 10) + 60;
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
	FILE *f = fopen("/out.txt", "r");
	if (f) {
		char buf[4096]; size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
		fclose(f);
		fflush(stdout);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
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
	char *save1;
	for (char *cmd = strtok_r(args, ";\n", &save1); cmd; cmd = strtok_r(NULL, ";\n", &save1)) {
		char *argv[64], *save2; int n = 0;
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
		for (char *t = strtok_r(NULL, ",", &save2); t && n < 60; t = strtok_r(NULL, ",", &save2)) argv[n++] = t;
		argv[n] = NULL;
		unlink("/s.json");
		unlink("/t.csv");
		unlink("/vg.log");
		printf("init: running"); for (int i = 0; i < n; i++) printf(" %s", argv[i]); printf("\n"); fflush(stdout);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rc = run(argv);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("init: run took %.2f s\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
		printf("init: pagehint exit status %d\n", rc);
		fflush(stdout);
		f = fopen("/s.json", "r");
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
		f = fopen("/vg.log", "r");
		if (f) {
			int c;
			printf("init: begin /vg.log\n");
			while ((c = fgetc(f)) != EOF) putchar(c);
			printf("init: end /vg.log\n");
			fclose(f);
		}
		printf("init: end of run\n");
		fflush(stdout);
	}
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
