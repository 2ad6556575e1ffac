/* SPDX-License-Identifier: MIT */
/*
 * `pagehint run` boots a PVH guest under KVM with a virtio-balloon device
 * that gives reported free memory back to the host: the options (vmm/cli.c),
 * then vmm/'s parts put together in the init order spelled out below, one
 * step per comment.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "balloon.h"
#include "boot.h"
#include "cli.h"
#include "console.h"
#include "elf_loader.h"
#include "guest_mem.h"
#include "kvm_vm.h"
#include "log.h"
#include "run.h"
#include "serial.h"
#include "telemetry.h"
#include "virtio_mmio.h"
#include "clock.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* The serial port hands us each guest line (under the serial lock). */
struct console_sink {
	struct telemetry *tel;
	struct console_state cs;
};

static void on_line(void *opaque, const char *line, size_t len, uint64_t host_ns)
{
	struct console_sink *c = opaque;
	(void)len;
	unsigned nfree = c->cs.nfree;
	bool freeing = c->cs.freeing;
	console_parse_line(&c->cs, line, host_ns);
	/* A line is guest activity: sample now, before the guest goes on,
	 * and at the full rate a while; after a free, for its reclaim. */
	bool free_line = c->cs.nfree != nfree || (c->cs.freeing && !freeing);
	telemetry_kick(c->tel, free_line ? TELEMETRY_FREE_HOLD_NS : TELEMETRY_HOLD_NS);
	telemetry_print_line(c->tel, line, host_ns);
}

/* The device worker's timer in faulty-device mode: run what is due, then
 * sleep until the next delayed request (or a notification). */
static int fault_tick(void *balloon)
{
	balloon_fault_tick(balloon, mono_ns());
	return balloon_fault_next_ms(balloon, mono_ns());
}

/* build/pagehint-guest.elf beside this program. */
/* The balloon's queue roles, for counting exits by cause. */
static enum balloon_queue_role queue_role(void *balloon, unsigned q)
{
	return balloon_queue_role(balloon, q);
}

static const char *default_kernel(char *buf, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "pagehint-guest.elf";
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	if ((size_t)snprintf(buf, cap, "%.*s/pagehint-guest.elf", (int)(cap - 32), self) >= cap)
		return "pagehint-guest.elf";
	return buf;
}

static FILE *open_out(const char *path, const char *flag)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "pagehint: %s %s: %s\n", flag, path, strerror(errno));
		exit(CLI_EXIT_USAGE);
	}
	return f;
}

int run_main(int argc, const char *const *argv)
{
	struct vmm_opts o;
	char err[512], kpath[PATH_MAX];
	int status;

	/* 1. Options: a bad one is one line and status 64. */
	status = cli_read(argc, argv, &o, stdout, stderr);
	if (status >= 0)
		return status;
	const char *kernel = o.kernel ? o.kernel : default_kernel(kpath, sizeof(kpath));
	FILE *trace = o.trace ? open_out(o.trace, "--trace") : NULL;
	FILE *summary_f = o.summary ? open_out(o.summary, "--summary-json") : NULL;

	/* 2. Guest RAM: one host mapping, split around the MMIO hole. */
	struct guest_mem gm;
	struct gm_options gmo = { .ram_bytes = o.mem, .backing = o.backing, .discard = o.discard,
				  .thp = o.thp, .populate = o.populate };
	int r = gm_create(&gm, &gmo);
	if (r) {
		vmm_log("cannot map %llu MiB of guest RAM: %s", (unsigned long long)(o.mem >> 20),
			strerror(-r));
		status = VMM_EXIT_ERROR;
		goto out_files;
	}
	if (o.backing == GM_BACKING_MEMFD && o.discard == GM_DISCARD_DONTNEED)
		vmm_log("note: MADV_DONTNEED on a shared memfd keeps the pages in the file; "
			"memory comes back only with --discard punch");

	/* 3. The kernel: PT_LOADs into RAM, the PVH entry from its note. */
	struct elf_info elf;
	if (elf_load_file(&gm, kernel, &elf, err, sizeof(err))) {
		fprintf(stderr, "pagehint: --kernel: %s\n", err);
		status = CLI_EXIT_USAGE;
		goto out_ram;
	}

	/* 4. Boot data: start info, memory map, command line, MP table. */
	struct boot_device dev = { .base = VIRTIO_MMIO_BASE, .size = VIRTIO_MMIO_WINDOW,
				   .irq = VIRTIO_MMIO_IRQ };
	struct boot_params bp = { .ncpus = o.cpus, .user_cmdline = o.cmdline, .dev = &dev, .ndev = 1 };
	if (boot_setup(&gm, &bp, err, sizeof(err))) {
		fprintf(stderr, "pagehint: %s\n", err);
		status = CLI_EXIT_USAGE;
		goto out_ram;
	}

	/* 5. The balloon device behind its virtio-mmio transport. */
	struct balloon_config bc = {
		.protocol = o.protocol,
		.target_pages = o.has_target ? (uint32_t)(o.target / GM_PAGE_SIZE) : 0,
		.fault = o.fault,
		.no_exitless = o.no_exitless,
	};
	struct balloon_dev *balloon = balloon_create(&gm, &bc);
	struct virtio_mmio_dev *vmmio = balloon ? virtio_mmio_create(&gm, &balloon_ops, balloon, dev.base) : NULL;
	if (!vmmio) {
		vmm_log("out of memory creating the balloon device");
		status = VMM_EXIT_ERROR;
		goto out_device;
	}

	/* 6. Console: the serial port's lines, timestamped and parsed. */
	struct telemetry tel;
	telemetry_init(&tel);
	struct console_sink sink = { .tel = &tel };
	struct serial serial;
	serial_init(&serial, on_line, &sink);

	/* 7. KVM: VM, irqchip, slots, vCPUs, boot CPU state; then the device
	 * wiring (ioeventfd per queue, irqfd) and the serial port. */
	struct vm vm;
	if (vm_create(&vm, &gm, o.cpus, elf.pvh_entry, BOOT_START_INFO, err, sizeof(err)) ||
	    vm_add_virtio_mmio(&vm, vmmio, dev.base, dev.irq, balloon_ops.max_queues, err, sizeof(err))) {
		vmm_log("KVM: %s", err);
		status = VMM_EXIT_ERROR;
		goto out_vm;
	}
	vm_set_serial(&vm, &serial);
	vm.queue_role = queue_role;
	vm.queue_role_opaque = balloon;
	char fault_modes[64];
	if (o.fault.modes) {
		/* Faulty-device mode: the worker runs the delayed requests. */
		vm.worker_tick = fault_tick;
		vm.worker_tick_opaque = balloon;
		vmm_log("faulty device: %s on %.0f%% of report requests (seed %llu, delays up to %u ms)",
			fault_modes_str(o.fault.modes, fault_modes, sizeof(fault_modes)),
			o.fault.rate * 100, (unsigned long long)o.fault.seed, o.fault.delay_max_ms);
	}

	/* 8. Telemetry reads the device and exit counters. */
	tel.gm = &gm;
	tel.balloon = balloon;
	tel.transport = vmmio;
	tel.exits = &vm.exits;
	tel.ioeventfd_notifies = &vm.notifications;
	tel.trace = trace;
	tel.exact = trace != NULL;	/* a trace has every sample by mincore */
	tel.live = !o.quiet && isatty(STDOUT_FILENO);

	/* 9. Ctrl-C ends the run cleanly. */
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* 10. Go: sampler, device worker, vCPUs. */
	uint64_t start = mono_ns();
	if (telemetry_start(&tel) || vm_start(&vm, err, sizeof(err))) {
		vmm_log("%s", err);
		vm_join(&vm);
		telemetry_stop(&tel);
		status = VMM_EXIT_ERROR;
		goto out_vm;
	}

	/* 11. Wait for the guest's exit, a crash, the timeout or a signal. */
	uint64_t deadline = o.timeout > 0 ? start + (uint64_t)(o.timeout * 1e9) : 0;
	for (;;) {
		uint64_t now = mono_ns(), slice = now + 50 * 1000000ull;
		if (vm_wait(&vm, deadline && deadline < slice ? deadline : slice))
			break;
		if (got_signal) {
			vm_stop(&vm, VM_END_SIGNAL, VMM_EXIT_SIGNAL, "stopped by signal %d", (int)got_signal);
			break;
		}
		if (deadline && mono_ns() >= deadline) {
			vm_stop(&vm, VM_END_TIMEOUT, VMM_EXIT_TIMEOUT,
				"guest did not finish within %g s (--timeout); stopped it", o.timeout);
			break;
		}
	}

	/* 12. Stop everything, then account. */
	vm_join(&vm);
	serial_flush(&serial);
	telemetry_stop(&tel);
	status = vm.status;

	struct summary s = {
		.guest_exit = vm.guest_exit,
		.cpus = o.cpus,
		.mem_mib = o.mem >> 20,
		.data_errors = console_data_errors(&sink.cs),
	};
	static const char *const end_names[] = {
		[VM_END_NONE] = "error", [VM_END_EXIT] = "exit", [VM_END_TIMEOUT] = "timeout",
		[VM_END_CRASH] = "crash", [VM_END_ERROR] = "error", [VM_END_SIGNAL] = "signal",
	};
	s.end_reason = end_names[vm.end];
	exit_stats_read(&vm.exits, &s.exits);
	for (size_t i = 0; i < tel.n; i++)
		if (tel.s[i].resident / 1048576.0 > s.resident_peak_mib)
			s.resident_peak_mib = tel.s[i].resident / 1048576.0;
	if (tel.n)
		s.resident_end_mib = tel.s[tel.n - 1].resident / 1048576.0;
	const struct balloon_counters *bcnt = balloon_counters(balloon);
	s.reported_mib = atomic_load(&bcnt->reported_bytes) / 1048576.0;
	s.discarded_mib = atomic_load(&bcnt->discarded_bytes) / 1048576.0;
	s.report_requests = atomic_load(&bcnt->report_requests);
	s.report_ranges = atomic_load(&bcnt->report_ranges);
	/* The transport counts every refused input, the device's included,
	 * and the reset faults we asked for ourselves: not those. */
	unsigned long terr = atomic_load(&vmmio->errors), fres = atomic_load(&bcnt->faults_reset) +
		atomic_load(&bcnt->xl.faults_reset);
	s.device_errors = terr > fres ? terr - fres : 0;
	if (o.fault.modes) {
		s.fault_modes = fault_modes;
		s.faults_delayed = atomic_load(&bcnt->faults_delayed);
		s.faults_dropped = atomic_load(&bcnt->faults_dropped);
		s.faults_reset = atomic_load(&bcnt->faults_reset);
		s.faults_canceled = atomic_load(&bcnt->canceled);
		s.faults_canceled_mib = atomic_load(&bcnt->canceled_bytes) / 1048576.0;
	}
	const struct xl_counters *xc = &bcnt->xl;
	s.xl.offered = !o.no_exitless;
	s.xl.attaches = atomic_load(&xc->attaches);
	s.xl.refused = atomic_load(&xc->refused);
	s.xl.detaches = atomic_load(&xc->detaches);
	s.xl.scans = atomic_load(&xc->scans);
	s.xl.reclaimed_frames = atomic_load(&xc->reclaimed_frames);
	s.xl.discard_calls = atomic_load(&xc->discard_calls);
	s.xl.skipped_frames = atomic_load(&xc->skipped_frames);
	s.xl.discard_errors = atomic_load(&xc->discard_errors);
	s.xl.violations = atomic_load(&xc->violations);
	s.xl.throttled = atomic_load(&xc->throttled);
	if (o.fault.modes) {
		/* the map's faults count with the report queue's */
		s.faults_delayed += atomic_load(&xc->faults_delayed);
		s.faults_dropped += atomic_load(&xc->faults_dropped);
		s.faults_reset += atomic_load(&xc->faults_reset);
		s.faults_canceled += atomic_load(&xc->canceled);
		s.faults_canceled_mib += atomic_load(&xc->canceled_bytes) / 1048576.0;
	}
	struct reclaim rec[CONSOLE_MAX_FREE_EVENTS];
	s.nreclaim = sink.cs.nfree;
	s.reclaim = rec;
	telemetry_reclaim(tel.s, tel.n, tel.t0_ns, sink.cs.free, sink.cs.nfree, rec);

	vmm_log("%s; %.2f s, resident peak %.0f MiB, end %.0f MiB, discarded %.0f MiB in %llu "
		"requests, %llu exits", vm.end_msg, (mono_ns() - start) / 1e9,
		s.resident_peak_mib, s.resident_end_mib, s.discarded_mib,
		(unsigned long long)s.report_requests, (unsigned long long)exit_counts_total(&s.exits));
	/* Its own line: what `pagehint bench` leaves out of the VMM's CPU. */
	vmm_log("telemetry: samples=%zu mincore=%llu cpu_ms=%.1f", tel.n,
		(unsigned long long)tel.full_scans, tel.cpu_ns / 1e6);
	if (summary_f) {
		telemetry_write_summary(summary_f, &s);
		if (fclose(summary_f))
			vmm_log("--summary-json %s: %s", o.summary, strerror(errno));
		summary_f = NULL;
	}
	if (trace && fclose(trace))
		vmm_log("--trace %s: %s", o.trace, strerror(errno));
	trace = NULL;

	/* Unwind in reverse; the error paths above enter at their step. */
out_vm:
	vm_destroy(&vm);
	telemetry_destroy(&tel);
out_device:
	if (vmmio)
		virtio_mmio_destroy(vmmio);
	if (balloon)
		balloon_destroy(balloon);
out_ram:
	gm_destroy(&gm);
out_files:
	if (summary_f)
		fclose(summary_f);
	if (trace)
		fclose(trace);
	return status;
}
