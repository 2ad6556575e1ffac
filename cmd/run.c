/* SPDX-License-Identifier: MIT */
/*
 * `pagehint run` boots a PVH guest under KVM with a virtio-balloon device
 * that gives reported free memory back to the host: the options (vmm/cli.c),
 * then vmm/'s parts put together in the init order spelled out below, one
 * step per comment.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "balloon.h"
#include "boot.h"
#include "cli.h"
#include "console.h"
#include "front.h"
#include "kernel.h"
#include "guest_mem.h"
#include "kvm_vm.h"
#include "log.h"
#include "run.h"
#include "serial.h"
#include "telemetry.h"
#include "virtio_mmio.h"
#include "clock.h"

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

/* The balloon's queue roles, for counting exits by cause. */
static enum balloon_queue_role queue_role(void *balloon, unsigned q)
{
	return balloon_queue_role(balloon, q);
}

/* build/pagehint-guest.elf beside this program. */
static const char *default_kernel(char *buf, size_t cap)
{
	char self[PATH_MAX];
	return front_guest_kernel(front_self_path(self, sizeof(self)) ? self : NULL, buf, cap);
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

/* One run, from setup to teardown. */
struct run {
	struct vmm_opts o;
	char kpath[PATH_MAX];
	FILE *trace, *summary;
	struct guest_mem gm;
	bool have_ram;
	struct vm_entry entry;		/* where the boot CPU starts */
	struct boot_device dev;
	struct balloon_dev *balloon;
	struct virtio_mmio_dev *vmmio;
	struct telemetry tel;
	struct console_sink sink;
	struct serial serial;
	struct vm vm;
	bool have_vm;			/* vm and tel to destroy */
	char fault_modes[64];
	uint64_t start;			/* mono_ns() at the start of the guest */
	struct api *api;		/* --api-sock's server, while it runs */
	int status;
};

/* The control API's view of the run (vmm/api.h): atomics and the
 * telemetry's last sample, so its thread never waits on a vCPU or the
 * device worker. */
static void api_snapshot(void *opaque, struct api_snapshot *s)
{
	struct run *r = opaque;
	const struct balloon_counters *c = balloon_counters(r->balloon);
	struct sample last;

	s->state = atomic_load(&r->vm.stopping) ? "Stopping" : "Running";
	s->vcpus = r->o.cpus;
	s->mem_bytes = r->o.mem;
	s->uptime_ns = mono_ns() - r->start;
	s->features_offered = balloon_features(r->balloon, false);
	s->features_negotiated = balloon_features(r->balloon, true);
	s->target_pages = balloon_target(r->balloon);
	s->actual_pages = balloon_actual(r->balloon);
	s->stats_interval_s = (unsigned)(atomic_load(&r->tel.stats_every_ns) / 1000000000u);
	for (unsigned tag = 0; tag < VIRTIO_BALLOON_S_NR; tag++)
		if (balloon_stat(r->balloon, tag, &s->stats[tag]))
			s->stats_present |= 1ull << tag;
	s->reported_bytes = atomic_load(&c->reported_bytes);
	s->discarded_bytes = atomic_load(&c->discarded_bytes);
	s->report_requests = atomic_load(&c->report_requests);
	s->report_ranges = atomic_load(&c->report_ranges);
	s->discard_calls = atomic_load(&c->discard_calls);
	s->inflate_pages = atomic_load(&c->inflate_pages);
	s->deflate_pages = atomic_load(&c->deflate_pages);
	s->bad_inputs = atomic_load(&c->bad_inputs);
	s->stats_updates = atomic_load(&c->stats_updates);
	s->xl_reclaimed_bytes = (uint64_t)atomic_load(&c->xl.reclaimed_frames) << 21;
	lat_hist_read(&c->report_latency, &s->report_latency);
	s->target_latencies = atomic_load(&c->target_latencies);
	s->target_latency_ns = atomic_load(&c->target_latency_ns);
	exit_stats_read(&r->vm.exits, &s->exits);
	s->have_resident = telemetry_last(&r->tel, &last);
	s->resident_bytes = s->have_resident ? last.resident : 0;
}

/* The API checked pages against the RAM size. */
static int api_set_target(void *opaque, uint64_t pages, char *err, size_t errlen)
{
	struct run *r = opaque;

	(void)err;
	(void)errlen;
	balloon_set_target(r->balloon, (uint32_t)pages);
	return 0;
}

static int api_set_stats_interval(void *opaque, unsigned seconds, char *err, size_t errlen)
{
	struct run *r = opaque;

	(void)err;
	(void)errlen;
	telemetry_set_stats_interval(&r->tel, seconds * 1000000000ull);
	return 0;
}

/* PUT /actions Shutdown: its own end, "shutdown" (docs/vmm.md). */
static void api_shutdown(void *opaque)
{
	vm_shutdown(&((struct run *)opaque)->vm);
}

/* Steps 2-4: guest RAM, the kernel in it, the boot data. */
static bool setup_memory(struct run *r)
{
	const struct vmm_opts *o = &r->o;
	const char *kernel = o->kernel ? o->kernel : default_kernel(r->kpath, sizeof(r->kpath));
	char err[512];

	/* 2. Guest RAM: one host mapping, split around the MMIO hole. */
	struct gm_options gmo = { .ram_bytes = o->mem, .backing = o->backing, .discard = o->discard,
				  .thp = o->thp, .populate = o->populate };
	int e = gm_create(&r->gm, &gmo);
	if (e) {
		vmm_log("cannot map %llu MiB of guest RAM: %s", (unsigned long long)(o->mem >> 20),
			strerror(-e));
		r->status = VMM_EXIT_ERROR;
		return false;
	}
	r->have_ram = true;
	if (o->backing == GM_BACKING_MEMFD && o->discard == GM_DISCARD_DONTNEED)
		vmm_log("note: MADV_DONTNEED on a shared memfd keeps the pages in the file; "
			"memory comes back only with --discard punch");

	/* 3-4. The kernel (a PVH ELF or a bzImage) and what it finds at
	 * boot: memory map, command line, MP and ACPI tables. */
	r->dev = (struct boot_device){ .base = VIRTIO_MMIO_BASE, .size = VIRTIO_MMIO_WINDOW,
				       .irq = VIRTIO_MMIO_IRQ };
	struct kernel_boot kb = {
		.kernel = kernel, .initrd = o->initrd,
		.bp = { .ncpus = o->cpus, .user_cmdline = o->cmdline, .dev = &r->dev, .ndev = 1 },
	};
	if (kernel_boot(&r->gm, &kb, &r->entry, err, sizeof(err))) {
		fprintf(stderr, "pagehint: %s\n", err);
		r->status = CLI_EXIT_USAGE;
		return false;
	}
	return true;
}

/* Step 5: the balloon device behind its virtio-mmio transport. */
static bool setup_device(struct run *r)
{
	const struct vmm_opts *o = &r->o;
	struct balloon_config bc = {
		.protocol = o->protocol,
		.target_pages = o->has_target ? (uint32_t)(o->target / GM_PAGE_SIZE) : 0,
		.fault = o->fault,
		.no_exitless = o->no_exitless,
	};

	r->balloon = balloon_create(&r->gm, &bc);
	if (r->balloon)
		r->vmmio = virtio_mmio_create(&r->gm, &balloon_ops, r->balloon, r->dev.base);
	if (!r->vmmio) {
		vmm_log("out of memory creating the balloon device");
		r->status = VMM_EXIT_ERROR;
		return false;
	}
	return true;
}

/* Steps 6-9: console, KVM, telemetry, signals. */
static bool setup_vm(struct run *r)
{
	const struct vmm_opts *o = &r->o;
	struct vm *vm = &r->vm;
	struct telemetry *tel = &r->tel;
	char err[512];

	/* 6. Console: the serial port's lines, timestamped and parsed. */
	telemetry_init(tel);
	r->sink.tel = tel;
	serial_init(&r->serial, on_line, &r->sink);

	/* 7. KVM: VM, irqchip, slots, vCPUs, boot CPU state; then the device
	 * wiring (ioeventfd per queue, irqfd) and the serial port. */
	r->have_vm = true;
	if (vm_create(vm, &r->gm, o->cpus, &r->entry, err, sizeof(err)) ||
	    vm_add_virtio_mmio(vm, r->vmmio, r->dev.base, r->dev.irq, balloon_ops.max_queues, err,
			       sizeof(err))) {
		vmm_log("KVM: %s", err);
		r->status = VMM_EXIT_ERROR;
		return false;
	}
	vm_set_serial(vm, &r->serial);
	vm->queue_role = queue_role;
	vm->queue_role_opaque = r->balloon;
	if (o->fault.modes) {
		/* Faulty-device mode: the worker runs the delayed requests. */
		vm->worker_tick = fault_tick;
		vm->worker_tick_opaque = r->balloon;
		vmm_log("faulty device: %s on %.0f%% of report requests (seed %llu, delays up to %u ms)",
			fault_modes_str(o->fault.modes, r->fault_modes, sizeof(r->fault_modes)),
			o->fault.rate * 100, (unsigned long long)o->fault.seed, o->fault.delay_max_ms);
	}

	/* 8. Telemetry reads the device and exit counters. */
	tel->gm = &r->gm;
	tel->balloon = r->balloon;
	tel->transport = r->vmmio;
	tel->exits = &vm->exits;
	tel->ioeventfd_notifies = &vm->notifications;
	tel->trace = r->trace;
	tel->exact = r->trace != NULL;	/* a trace has every sample by mincore */
	tel->live = !o->quiet && isatty(STDOUT_FILENO);

	/* 9. Ctrl-C ends the run cleanly. */
	front_catch_stop_signals(false);
	return true;
}

/* Steps 10-12: run the guest to its end; false if it could not start. */
static bool run_guest(struct run *r)
{
	struct vm *vm = &r->vm;
	char err[512];

	/* 10. Go: the control API, sampler, device worker, vCPUs. The API
	 * first: its socket is made under a umask no other thread sees. */
	r->start = mono_ns();
	if (r->o.api_sock) {
		static const struct api_ops ops = {
			.snapshot = api_snapshot, .set_target = api_set_target,
			.set_stats_interval = api_set_stats_interval, .shutdown = api_shutdown,
		};
		struct api_ops o = ops;
		o.opaque = r;
		r->api = api_start(r->o.api_sock, &o, NULL, err, sizeof(err));
		if (!r->api) {
			fprintf(stderr, "pagehint: %s\n", err);
			r->status = CLI_EXIT_USAGE;
			return false;
		}
	}
	if (telemetry_start(&r->tel) || vm_start(vm, err, sizeof(err))) {
		vmm_log("%s", err);
		vm_join(vm);
		telemetry_stop(&r->tel);
		r->status = VMM_EXIT_ERROR;
		return false;
	}

	/* 11. Wait for the guest's exit, a crash, the timeout or a signal. */
	uint64_t deadline = r->o.timeout > 0 ? r->start + (uint64_t)(r->o.timeout * 1e9) : 0;
	for (;;) {
		uint64_t now = mono_ns(), slice = now + 50 * 1000000ull;
		if (vm_wait(vm, deadline && deadline < slice ? deadline : slice))
			break;
		if (front_stop_signal) {
			vm_stop(vm, VM_END_SIGNAL, VMM_EXIT_SIGNAL, "stopped by signal %d",
				(int)front_stop_signal);
			break;
		}
		if (deadline && mono_ns() >= deadline) {
			vm_stop(vm, VM_END_TIMEOUT, VMM_EXIT_TIMEOUT,
				"guest did not finish within %g s (--timeout); stopped it", r->o.timeout);
			break;
		}
	}

	/* 12. Stop everything: the API first (its answers are out), then
	 * the VM. */
	api_stop(r->api);
	r->api = NULL;
	vm_join(vm);
	serial_flush(&r->serial);
	if (vm->end == VM_END_TIMEOUT || vm->end == VM_END_SIGNAL)
		vm_log_cpus(vm);
	telemetry_stop(&r->tel);
	r->status = vm->status;
	return true;
}

/* Step 13: the summary, the last log lines, the output files. */
static void report(struct run *r)
{
	struct telemetry *tel = &r->tel;
	struct reclaim rec[CONSOLE_MAX_FREE_EVENTS];
	struct summary s = {
		.guest_exit = r->vm.guest_exit,
		.cpus = r->o.cpus,
		.mem_mib = r->o.mem >> 20,
		.data_errors = console_data_errors(&r->sink.cs),
		.end_reason = vm_end_name(r->vm.end),
		.fault_modes = r->o.fault.modes ? r->fault_modes : NULL,
		.nreclaim = r->sink.cs.nfree,
		.reclaim = rec,
	};

	s.xl.offered = !r->o.no_exitless;
	s.balloon_target_pages = balloon_target(r->balloon);
	s.balloon_actual_pages = balloon_actual(r->balloon);
	telemetry_summarize(tel, &s, r->o.fault.modes);
	telemetry_reclaim(tel->s, tel->n, tel->t0_ns, r->sink.cs.free, r->sink.cs.nfree, rec);

	vmm_log("%s; %.2f s, resident peak %.0f MiB, end %.0f MiB, discarded %.0f MiB in %llu "
		"requests, %llu exits", r->vm.end_msg, (mono_ns() - r->start) / 1e9,
		s.resident_peak_mib, s.resident_end_mib, s.discarded_mib,
		(unsigned long long)s.report_requests, (unsigned long long)exit_counts_total(&s.exits));
	/* Its own line: what `pagehint bench` leaves out of the VMM's CPU. */
	vmm_log("telemetry: samples=%zu mincore=%llu cpu_ms=%.1f", tel->n,
		(unsigned long long)tel->full_scans, tel->cpu_ns / 1e6);
	if (r->summary) {
		telemetry_write_summary(r->summary, &s);
		if (fclose(r->summary))
			vmm_log("--summary-json %s: %s", r->o.summary, strerror(errno));
		r->summary = NULL;
	}
	if (r->trace && fclose(r->trace))
		vmm_log("--trace %s: %s", r->o.trace, strerror(errno));
	r->trace = NULL;
}

/* Unwind in reverse of the setup, from the step it reached. */
static void teardown(struct run *r)
{
	api_stop(r->api);
	r->api = NULL;
	if (r->have_vm) {
		vm_destroy(&r->vm);
		telemetry_destroy(&r->tel);
	}
	if (r->vmmio)
		virtio_mmio_destroy(r->vmmio);
	if (r->balloon)
		balloon_destroy(r->balloon);
	if (r->have_ram)
		gm_destroy(&r->gm);
	if (r->summary)
		fclose(r->summary);
	if (r->trace)
		fclose(r->trace);
}

int run_main(int argc, const char *const *argv)
{
	static struct run r;

	/* 1. Options: a bad one is one line and status 64; the files they
	 * name are opened now, so a bad path is too. */
	int status = cli_read(argc, argv, &r.o, stdout, stderr);
	if (status >= 0)
		return status;
	r.trace = r.o.trace ? open_out(r.o.trace, "--trace") : NULL;
	r.summary = r.o.summary ? open_out(r.o.summary, "--summary-json") : NULL;

	/* 2-12: setup, the run; 13: its report. */
	if (setup_memory(&r) && setup_device(&r) && setup_vm(&r) && run_guest(&r))
		report(&r);
	teardown(&r);
	return r.status;
}
