/* SPDX-License-Identifier: MIT */
/* /init for vmm/nested/run.sh: load KVM, run pagehint per PH= command, power off. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static void load(const char *p, const char *params) {
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || syscall(SYS_finit_module, fd, params, 0) < 0) perror(p);
	else printf("init: loaded %s\n", p);
	if (fd >= 0) close(fd);
}
static int run(char **argv) {
	pid_t pid = fork();
	if (!pid) { execv(argv[0], argv); perror("execv"); _exit(127); }
	int st; waitpid(pid, &st, 0);
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
	char line[512]; FILE *f = fopen("/proc/cmdline", "r"); fgets(line, sizeof line, f); fclose(f);
	char *args = strstr(line, "PH=");
	if (!args) return 1;
	args += 3;
	char *save1;
	for (char *cmd = strtok_r(args, ";\n", &save1); cmd; cmd = strtok_r(NULL, ";\n", &save1)) {
		char *argv[64], *save2; int n = 0;
		argv[n++] = "/pagehint";
		char *first = strtok_r(cmd, ",", &save2);
		if (first) argv[n++] = first;	/* "run" */
		argv[n++] = "--kernel"; argv[n++] = "/guest.elf";
		argv[n++] = "--summary-json"; argv[n++] = "/s.json";
		argv[n++] = "--quiet";
		for (char *t = strtok_r(NULL, ",", &save2); t && n < 60; t = strtok_r(NULL, ",", &save2)) argv[n++] = t;
		argv[n] = NULL;
		unlink("/s.json");
		unlink("/t.csv");
		printf("init: running"); for (int i = 0; i < n; i++) printf(" %s", argv[i]); printf("\n"); fflush(stdout);
		int rc = run(argv);
		printf("init: pagehint exit status %d\n", rc);
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
		fflush(stdout);
	}
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
