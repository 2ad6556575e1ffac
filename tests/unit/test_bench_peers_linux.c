/* SPDX-License-Identifier: MIT */
/* `pagehint peers`' row "Linux 6.1 on pagehint" (bench/bench_peers_linux.c):
 * where it runs and why not, its pagehint run command line, and its
 * verdict and figures from a synthetic run's console lines and trace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench.h"
#include "bench_int.h"
#include "bench_peers.h"

static FILE *text(const char *s)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	fputs(s, f);
	rewind(f);
	return f;
}

static bool virt_of(const char *cpuinfo)
{
	FILE *f = text(cpuinfo);
	bool v = peers_cpu_virt(f);
	fclose(f);
	return v;
}

static void cpu_virt_is_a_vmx_or_svm_flag(void **state)
{
	(void)state;
	assert_true(virt_of("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
			    "flags\t\t: fpu vme de pse svm extapic cr8_legacy\n"));
	assert_true(virt_of("flags\t\t: fpu vmx\nbugs\t\t: spectre_v1\n"));
	/* PVM: a hypervisor flag, no VMX/SVM; words that only contain them */
	assert_false(virt_of("flags\t\t: fpu hypervisor svm_lock vmxe xsvm\n"));
	/* the first CPU's flags decide */
	assert_false(virt_of("flags\t\t: fpu\nflags\t\t: fpu svm\n"));
	assert_false(virt_of("processor\t: 0\n"));
	assert_false(virt_of(""));
}

static void not_run_without_kvm_or_on_pvm(void **state)
{
	(void)state;
	char why[320];
	const char *r = peers_linux_vmm_unrunnable("no usable /dev/kvm (open: No such file or directory)",
						   true, why, sizeof(why));
	assert_ptr_equal(r, why);
	assert_non_null(strstr(why, "no usable /dev/kvm (open: No such file or directory)"));
	assert_non_null(strstr(why, "pagehint run needs KVM"));
	/* no KVM is the reason even when the flags are there or not */
	assert_non_null(peers_linux_vmm_unrunnable("no usable /dev/kvm", false, why, sizeof(why)));
	assert_non_null(strstr(why, "needs KVM"));

	r = peers_linux_vmm_unrunnable(NULL, false, why, sizeof(why));
	assert_ptr_equal(r, why);
	assert_non_null(strstr(why, "PVM"));
	assert_non_null(strstr(why, "CPL0"));

	assert_null(peers_linux_vmm_unrunnable(NULL, true, why, sizeof(why)));
}

static void run_command_is_the_bzimage_initrd_and_memhog(void **state)
{
	(void)state;
	char cmd[256];
	peers_linux_vmm_cmdline(cmd, sizeof(cmd), 2048, 20000, 37000);
	assert_string_equal(cmd, "loglevel=4 panic=-1 memhog.mib=2048 memhog.hold=20 memhog.idle=37");

	struct bench_host h = {
		.hv = BENCH_HV_PAGEHINT, .kvm = true, .guest_elf = "/ref/vmlinuz",
		.initrd = "/ref/initramfs.cpio.gz", .self_exe = "/b/pagehint", .cpus = 2,
		.mem_mib = 4096, .tmpdir = "/runs",
	};
	struct bench_job j = { .cmdline = cmd, .tag = "linux-on-pagehint", .timeout_s = 297 };
	struct bench_vmm_argv a = { 0 };
	bench_vmm_argv(&h, &j, &a);
	const char *const want[] = {
		"/b/pagehint", "run", "--mem", "4096M", "--cpus", "2", "--quiet",
		"--kernel", "/ref/vmlinuz", "--timeout", "297",
		"--trace", "/runs/linux-on-pagehint.trace.csv",
		"--summary-json", "/runs/linux-on-pagehint.summary.json", "--populate", "off",
		"--initrd", "/ref/initramfs.cpio.gz", "--", cmd, NULL,
	};
	size_t n = sizeof(want) / sizeof(want[0]);
	for (size_t i = 0; i + 1 < n; i++)
		assert_string_equal(a.argv[i], want[i]);
	assert_null(a.argv[n - 1]);

	/* our guest's rows: no --initrd */
	h.initrd = NULL;
	bench_vmm_argv(&h, &j, &a);
	for (size_t i = 0; a.argv[i]; i++)
		assert_string_not_equal(a.argv[i], "--initrd");
	assert_string_equal(a.argv[n - 5], "--");
	assert_string_equal(a.argv[n - 4], cmd);
	assert_null(a.argv[n - 3]);
}

/*
 * A Linux guest's run on pagehint run, as bench_vmm_run leaves it: 10 ms
 * samples; resident 100 MiB, 356 from the alloc at 10 s, memhog's free
 * line at 30 s, the 256 MiB back linearly from 31 s to 33 s. Requests:
 * Linux's initial flush at 5 s (2 ranges, 8 MiB), then 8 requests of
 * 8 x 4 MiB every 250 ms from 31 s.
 */
#define FREE_MS 30000.0

static double resident_at(int t)
{
	if (t < 10000)
		return 100;
	if (t < 31000)
		return 356;
	if (t < 33000)
		return 356 - 256.0 * (t - 31000) / 2000;
	return 100;
}

static FILE *linux_trace(void)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	fputs("t_ms,resident_mib,discarded_mib,reported_mib,report_requests,report_ranges,exits,"
	      "device_exits,notifications\n", f);
	unsigned req = 0, rng = 0;
	double mib = 0;
	for (int t = 0; t <= 70000; t += 10) {
		if (t == 5000) {
			req++;
			rng += 2;
			mib += 8;
		}
		if (t >= 31000 && t < 33000 && (t - 31000) % 250 == 0) {
			req++;
			rng += 8;
			mib += 32;
		}
		fprintf(f, "%d.000,%.3f,%.1f,%.1f,%u,%u,%u,%u,%u\n", t, resident_at(t), mib, mib, req, rng,
			req * 3, req * 2, req);
	}
	rewind(f);
	return f;
}

/* The run: console lines and samples; exit_line NULL leaves @exit out,
 * free_line false the free. */
static void linux_run(struct bench_run *r, const char *balloon, const char *exit_line, bool free_line)
{
	bench_run_init(r);
	bench_run_parse_line(r, "@boot kernel=6.1.0-56-amd64 cpus=2 mem_kib=4028000 uptime_s=0.9", 900, 0);
	bench_run_parse_line(r, balloon, 1200, 0);
	bench_run_parse_line(r, "@event alloc mib=256 t_ms=9100.0 write_mib_s=900 round=1", 10000, 0);
	if (free_line)
		bench_run_parse_line(r, "@event free mib=256 t_ms=29100.0 round=1", FREE_MS, 0);
	if (exit_line)
		bench_run_parse_line(r, exit_line, 67000, 0);
	FILE *f = linux_trace();
	assert_int_equal(bench_vmm_read_trace(f, r, -1), 0);
	fclose(f);
	r->end = "exit";	/* pagehint run exited 0: the guest powered off */
	r->guest_exit = 0;
}

#define BALLOON_OK "@balloon driver=virtio_balloon device=virtio0 features=0x130000026 reporting=1 " \
		   "page_reporting_order=9"

static void figures_from_the_runs_trace_and_free_line(void **state)
{
	(void)state;
	struct bench_run r;
	linux_run(&r, BALLOON_OK, "@exit status=0", true);
	struct peers_trace tr;
	peers_trace_init(&tr);
	FILE *f = linux_trace();
	char why[320];
	double t0 = -1;
	assert_null(peers_linux_vmm_result(&r, f, &tr, &t0, why, sizeof(why)));
	fclose(f);
	assert_float_equal(t0, FREE_MS, 1e-9);
	assert_int_equal(tr.nreq, 9);

	struct bench_reclaim_fig rf;
	struct peers_fig fig;
	peers_run_figures(&r, &tr, t0, &rf, &fig);
	/* 50/90/99% of 256 MiB below the 356 at t0: 2000, 2800, 2980 ms */
	assert_float_equal(rf.t_ms[0], 2000, 10.01);
	assert_float_equal(rf.t_ms[1], 2800, 10.01);
	assert_float_equal(rf.t_ms[2], 2980, 10.01);
	assert_float_equal(rf.returned_10s, 1.0, 1e-9);
	assert_float_equal(rf.returned_35s, 1.0, 1e-9);
	assert_float_equal(rf.freed_mib, 256, 1e-9);
	/* the initial flush is before t0; the free's 8 requests one pass */
	assert_int_equal(fig.requests_before, 1);
	assert_int_equal(fig.requests, 8);
	assert_int_equal(fig.ranges, 64);
	assert_float_equal(fig.requests_per_gib, 32, 1e-9);
	assert_float_equal(fig.ranges_per_gib, 256, 1e-9);
	assert_float_equal(fig.reported_mib, 256, 1e-6);
	assert_int_equal(fig.passes, 1);
	assert_string_equal(fig.per_pass, "8");
	char sizes[64];
	peers_sizes_str(&fig, sizes, sizeof(sizes));
	assert_string_equal(sizes, "4Mx64");
	peers_trace_free(&tr);
	bench_run_free(&r);
}

/* The reason peers_linux_vmm_result gives for r, which must fail. */
static void fails_with(struct bench_run *r, const char *reason)
{
	struct peers_trace tr;
	peers_trace_init(&tr);
	FILE *f = linux_trace();
	char why[320] = "";
	double t0 = -1;
	const char *got = peers_linux_vmm_result(r, f, &tr, &t0, why, sizeof(why));
	fclose(f);
	if (!got || !strstr(got, reason))
		fail_msg("want a failure with '%s', got '%s'", reason, got ? got : "(none)");
	assert_float_equal(t0, -1, 0);
	peers_trace_free(&tr);
	bench_run_free(r);
}

static void a_run_without_its_figures_fails_with_the_reason(void **state)
{
	(void)state;
	struct bench_run r;

	linux_run(&r, BALLOON_OK, "@exit status=0", true);
	r.end = "timeout";
	r.guest_exit = -1;
	fails_with(&r, "pagehint run: end timeout");

	linux_run(&r, BALLOON_OK, "@exit status=0", true);
	r.guest_exit = 2;
	fails_with(&r, "status 2");

	linux_run(&r, BALLOON_OK, NULL, true);
	fails_with(&r, "the Linux guest did not finish");

	linux_run(&r, BALLOON_OK, "@exit status=1", true);
	fails_with(&r, "ended with an error");

	linux_run(&r, "@balloon driver=virtio_balloon device=virtio0 features=0x26 reporting=0 "
		  "page_reporting_order=9", "@exit status=0", true);
	fails_with(&r, "free page reporting not negotiated");

	linux_run(&r, "@warn no balloon", "@exit status=0", true);
	fails_with(&r, "no '@balloon' line");

	linux_run(&r, BALLOON_OK, "@exit status=0", false);
	fails_with(&r, "no '@event free' line");

	/* a trace without samples */
	linux_run(&r, BALLOON_OK, "@exit status=0", true);
	r.n = 0;
	fails_with(&r, "no resident-memory samples");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cpu_virt_is_a_vmx_or_svm_flag),
		cmocka_unit_test(not_run_without_kvm_or_on_pvm),
		cmocka_unit_test(run_command_is_the_bzimage_initrd_and_memhog),
		cmocka_unit_test(figures_from_the_runs_trace_and_free_line),
		cmocka_unit_test(a_run_without_its_figures_fails_with_the_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
