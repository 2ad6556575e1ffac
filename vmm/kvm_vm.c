/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_mmio.h>

#include "acpi.h"
#include "boot.h"
#include "kvm_vm.h"
#include "log.h"

#define TSS_ADDR 0xfffbd000u		/* 3 pages KVM needs on VMX, in the MMIO hole */
#define KICK_SIGNAL SIGUSR1
#define STOP_TOKEN 0xffffffffu


/* ioctl, retried when a signal interrupts it (not for KVM_RUN). */
static int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r;
	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

static int kvm_ioctl_val(int fd, unsigned long req, unsigned long arg)
{
	int r;
	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

/* --- CPUID ---------------------------------------------------------------- */

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = nent;
		if (kvm_ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		int e = errno;
		free(c);
		if (e != E2BIG) {
			errno = e;
			return NULL;
		}
	}
	errno = E2BIG;
	return NULL;
}

/* This vCPU's view: its APIC id in leaves 1, 0xb, 0x1f; the hypervisor
 * bit; the TSC frequency in leaf 0x40000010 (as QEMU and VMware give it). */
static int set_cpuid(struct vm *vm, struct vcpu *v, const struct kvm_cpuid2 *sup,
		     char *err, size_t n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (sup->nent + 1) * sizeof(c->entries[0]));
	int tsc_khz = kvm_ioctl_val(v->fd, KVM_GET_TSC_KHZ, 0);
	bool have_kvm_leaf = false;

	if (!c)
		return vmm_fail(err, n, "out of memory");
	c->nent = sup->nent;
	memcpy(c->entries, sup->entries, sup->nent * sizeof(c->entries[0]));
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (v->id << 24) | ((vm->ncpus & 0xff) << 16);
			e->ecx |= 1u << 31;	/* hypervisor present */
			break;
		case 0xb:
		case 0x1f:
			e->edx = v->id;		/* x2APIC id */
			break;
		case 0x40000000:
			have_kvm_leaf = true;
			if (tsc_khz > 0 && e->eax < 0x40000010)
				e->eax = 0x40000010;
			break;
		}
	}
	if (have_kvm_leaf && tsc_khz > 0) {
		c->entries[c->nent++] = (struct kvm_cpuid_entry2){
			.function = 0x40000010,
			.eax = (uint32_t)tsc_khz,	/* TSC kHz */
			.ebx = 1000000,			/* LAPIC timer kHz (KVM: 1 GHz) */
		};
	}
	int r = kvm_ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (r < 0)
		return vmm_fail(err, n, "KVM_SET_CPUID2 on vCPU %u: %s", v->id, strerror(errno));
	return 0;
}

/* --- boot CPU state: PVH 32-bit entry, or Linux's 64-bit entry ------------- */

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
}

static int setup_bsp(struct vcpu *v, const struct vm_entry *e, char *err, size_t n)
{
	struct kvm_sregs sr;
	struct kvm_regs regs;

	if (kvm_ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return vmm_fail(err, n, "KVM_GET_SREGS: %s", strerror(errno));
	/* PVH ABI: CS flat 32-bit code, DS/ES/SS (and FS/GS) flat data,
	 * TR a 32-bit TSS with base 0 limit 0x67, CR0.PE set, paging off.
	 * Linux's 64-bit protocol: the same selectors, CS 64-bit, paging on
	 * with the identity map boot_page_tables() wrote. */
	flat_segment(&sr.cs, BOOT_SEL_CODE, 0xb);	/* execute/read, accessed */
	flat_segment(&sr.ds, BOOT_SEL_DATA, 0x3);	/* read/write, accessed */
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.tr = (struct kvm_segment){
		.base = 0, .limit = 0x67, .selector = BOOT_SEL_TSS, .type = 0xb, /* busy 32-bit TSS */
		.present = 1, .s = 0,
	};
	sr.gdt.base = BOOT_GDT;
	sr.gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr0 = 0x11;		/* PE | ET */
	sr.cr3 = 0;
	sr.cr4 = 0;
	sr.efer = 0;
	if (e->long_mode) {
		sr.cs.l = 1;
		sr.cs.db = 0;
		sr.cr0 = 0x80050033;	/* PG | AM | WP | NE | ET | MP | PE */
		sr.cr3 = BOOT_PML4;
		sr.cr4 = 0x20;		/* PAE */
		sr.efer = 0x500;	/* LMA | LME */
	}
	if (kvm_ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return vmm_fail(err, n, "KVM_SET_SREGS: %s", strerror(errno));

	memset(&regs, 0, sizeof(regs));
	regs.rip = e->rip;
	if (e->long_mode)
		regs.rsi = e->arg;
	else
		regs.rbx = e->arg;
	regs.rflags = 0x2;	/* reserved bit; IF clear */
	if (kvm_ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return vmm_fail(err, n, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

/* --- VM creation ----------------------------------------------------------- */

void vm_init(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->irq_efd = vm->stop_efd = -1;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		vm->notify_efd[i] = -1;
	vm->guest_exit = -1;
	pthread_mutex_init(&vm->end_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->end_cond, &ca);
	pthread_condattr_destroy(&ca);
}

int vm_create(struct vm *vm, struct guest_mem *gm, unsigned ncpus, const struct vm_entry *entry,
	      char *err, size_t n)
{
	struct kvm_cpuid2 *cpuid = NULL;
	int r;

	vm_init(vm);
	vm->gm = gm;
	vm->ncpus = ncpus;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return vmm_fail(err, n, "cannot open /dev/kvm: %s", strerror(errno));
	r = kvm_ioctl_val(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION)
		return vmm_fail(err, n, "/dev/kvm: KVM_GET_API_VERSION gave %d, want %d%s%s", r,
			    KVM_API_VERSION, r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
	static const struct { int cap; const char *name; } need[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (kvm_ioctl_val(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0)
			return vmm_fail(err, n, "KVM lacks %s", need[i].name);
	vm->immediate_exit = kvm_ioctl_val(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) > 0;
	r = kvm_ioctl_val(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r < (int)sizeof(struct kvm_run))
		return vmm_fail(err, n, "KVM_GET_VCPU_MMAP_SIZE: %s", r < 0 ? strerror(errno) : "too small");
	vm->run_size = (size_t)r;
	int max_vcpus = kvm_ioctl_val(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = kvm_ioctl_val(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max_vcpus > 0 && ncpus > (unsigned)max_vcpus)
		return vmm_fail(err, n, "KVM supports at most %d vCPUs", max_vcpus);

	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0UL);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0)
		return vmm_fail(err, n, "KVM_CREATE_VM: %s", strerror(errno));

	/* Needed before vCPUs exist on Intel VMX; other KVMs may refuse it. */
	if (kvm_ioctl_val(vm->vm_fd, KVM_SET_TSS_ADDR, TSS_ADDR) < 0)
		vmm_log("note: KVM_SET_TSS_ADDR: %s (continuing)", strerror(errno));
	if (kvm_ioctl_val(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return vmm_fail(err, n, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (kvm_ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		vmm_log("note: KVM_CREATE_PIT2: %s (continuing without a PIT)", strerror(errno));

	for (unsigned i = 0; i < gm->nr; i++) {
		struct kvm_userspace_memory_region mr = {
			.slot = i, .flags = 0,
			.guest_phys_addr = gm->r[i].gpa, .memory_size = gm->r[i].size,
			.userspace_addr = (uintptr_t)gm->r[i].host,
		};
		if (kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
			return vmm_fail(err, n, "KVM_SET_USER_MEMORY_REGION slot %u: %s", i, strerror(errno));
	}

	cpuid = supported_cpuid(vm->kvm_fd);
	if (!cpuid)
		return vmm_fail(err, n, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	vm->vcpus = calloc(ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		free(cpuid);
		return vmm_fail(err, n, "out of memory");
	}
	for (unsigned i = 0; i < ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->id = i;
		/* vCPU id = APIC id; vCPU 0 is the boot CPU. */
		do
			v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		while (v->fd < 0 && errno == EINTR);
		if (v->fd < 0) {
			free(cpuid);
			return vmm_fail(err, n, "KVM_CREATE_VCPU %u: %s", i, strerror(errno));
		}
		v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			free(cpuid);
			return vmm_fail(err, n, "mmap of vCPU %u's kvm_run: %s", i, strerror(errno));
		}
		if (set_cpuid(vm, v, cpuid, err, n)) {
			free(cpuid);
			return -1;
		}
	}
	free(cpuid);
	/* Application processors stay as KVM made them: with the in-kernel
	 * LAPIC they wait for the boot CPU's INIT/SIPI. */
	return setup_bsp(&vm->vcpus[0], entry, err, n);
}

/* --- devices ----------------------------------------------------------------- */

static void raise_irq(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t one = 1;

	/* An irqfd write is an edge on the device's GSI. EAGAIN means the
	 * counter is saturated: an interrupt is pending anyway. */
	if (write(vm->irq_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vmm_log("irqfd write: %s", strerror(errno));
}

int vm_add_virtio_mmio(struct vm *vm, struct virtio_mmio_dev *d, uint64_t base, unsigned irq,
		       unsigned nqueues, char *err, size_t n)
{
	vm->vmmio = d;
	vm->vmmio_base = base;
	vm->vmmio_irq = irq;

	vm->irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->irq_efd < 0)
		return vmm_fail(err, n, "eventfd: %s", strerror(errno));
	struct kvm_irqfd irqfd = { .fd = (uint32_t)vm->irq_efd, .gsi = irq };
	if (kvm_ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return vmm_fail(err, n, "KVM_IRQFD on GSI %u: %s", irq, strerror(errno));
	virtio_mmio_set_irq(d, raise_irq, vm);

	if (nqueues > VIRTIO_MMIO_MAX_QUEUES)
		nqueues = VIRTIO_MMIO_MAX_QUEUES;
	for (unsigned q = 0; q < nqueues; q++) {
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd < 0)
			return vmm_fail(err, n, "eventfd: %s", strerror(errno));
		vm->notify_efd[q] = efd;
		vm->nnotify = q + 1;
		/* A 4-byte write of q to QueueNotify signals efd in the
		 * kernel: no exit to userspace. */
		struct kvm_ioeventfd io = {
			.datamatch = q,
			.addr = base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = efd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (kvm_ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
			return vmm_fail(err, n, "KVM_IOEVENTFD for queue %u: %s", q, strerror(errno));
	}
	return 0;
}

static void log_once(struct vm *vm, unsigned bit, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The UART's line: an ISA IRQ, edge-triggered, so a pulse is one edge. */
static void raise_serial_irq(void *opaque)
{
	struct vm *vm = opaque;
	struct kvm_irq_level up = { .irq = SERIAL_IRQ, .level = 1 };
	struct kvm_irq_level down = { .irq = SERIAL_IRQ, .level = 0 };

	if (kvm_ioctl(vm->vm_fd, KVM_IRQ_LINE, &up) < 0 ||
	    kvm_ioctl(vm->vm_fd, KVM_IRQ_LINE, &down) < 0)
		log_once(vm, 1, "KVM_IRQ_LINE on IRQ %d: %s", SERIAL_IRQ, strerror(errno));
}

void vm_set_serial(struct vm *vm, struct serial *s)
{
	vm->serial = s;
	serial_set_irq(s, raise_serial_irq, vm);
}

/* --- the end of a run ---------------------------------------------------------- */

static void kick_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		/* immediate_exit makes a KVM_RUN that is about to start
		 * return at once; the signal interrupts one in progress. */
		if (vm->immediate_exit)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		pthread_kill(v->thread, KICK_SIGNAL);
	}
}

void vm_stop(struct vm *vm, enum vm_end end, int status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->end_lock);
	if (vm->end == VM_END_NONE) {
		vm->end = end;
		vm->status = status;
		va_start(ap, fmt);
		vsnprintf(vm->end_msg, sizeof(vm->end_msg), fmt, ap);
		va_end(ap);
		atomic_store(&vm->stopping, true);
		pthread_cond_broadcast(&vm->end_cond);
	}
	pthread_mutex_unlock(&vm->end_lock);
	kick_vcpus(vm);
}

void vm_shutdown(struct vm *vm)
{
	vm_stop(vm, VM_END_SHUTDOWN, VMM_EXIT_SHUTDOWN,
		"shut down through the control API (PUT /actions Shutdown)");
}

const char *vm_end_name(enum vm_end end)
{
	static const char *const names[VM_END__COUNT] = {
		[VM_END_NONE] = "error", [VM_END_EXIT] = "exit", [VM_END_TIMEOUT] = "timeout",
		[VM_END_CRASH] = "crash", [VM_END_ERROR] = "error", [VM_END_SIGNAL] = "signal",
		[VM_END_POWEROFF] = "poweroff", [VM_END_RESET] = "reset",
		[VM_END_SHUTDOWN] = "shutdown",
	};

	return (unsigned)end < VM_END__COUNT && names[end] ? names[end] : "error";
}

bool vm_wait(struct vm *vm, uint64_t deadline_ns)
{
	bool done;

	pthread_mutex_lock(&vm->end_lock);
	if (vm->end == VM_END_NONE) {
		if (deadline_ns) {
			struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000u),
					       .tv_nsec = (long)(deadline_ns % 1000000000u) };
			pthread_cond_timedwait(&vm->end_cond, &vm->end_lock, &ts);
		} else {
			pthread_cond_wait(&vm->end_cond, &vm->end_lock);
		}
	}
	done = vm->end != VM_END_NONE;
	pthread_mutex_unlock(&vm->end_lock);
	return done;
}

/* --- exits ------------------------------------------------------------------------ */

static void log_once(struct vm *vm, unsigned bit, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (atomic_fetch_or(&vm->logged, 1u << bit) & (1u << bit))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vmm_log("%s (further ones not logged)", buf);
}

static void handle_io(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint16_t port = run->io.port;
	unsigned size = run->io.size;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;

	exit_stats_count(&vm->exits, exit_cause_port(port));
	/* data_offset and count come from the kernel; bound them anyway. */
	if (run->io.data_offset + (uint64_t)run->io.count * size > vm->run_size)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (port >= SERIAL_COM1 && port < SERIAL_COM1 + SERIAL_PORTS && vm->serial) {
			if (out) {
				serial_out(vm->serial, port - SERIAL_COM1, data[0]);
			} else {
				memset(data, 0xff, size);
				data[0] = serial_in(vm->serial, port - SERIAL_COM1);
			}
		} else if (port == EXIT_PORT && out) {
			int status = data[0];
			pthread_mutex_lock(&vm->end_lock);
			if (vm->guest_exit < 0)
				vm->guest_exit = status;
			pthread_mutex_unlock(&vm->end_lock);
			vm_stop(vm, VM_END_EXIT, status, "guest exited with status %d (vCPU %u)",
				status, v->id);
			return;
		} else if (port == ACPI_SLEEP_CTL_PORT && out && (data[0] & ACPI_SLEEP_EN) &&
			   ACPI_SLEEP_TYPE(data[0]) == ACPI_S5_TYPE) {
			vm_stop(vm, VM_END_POWEROFF, 0, "guest powered off (ACPI S5, vCPU %u)", v->id);
			return;
		} else if (port == ACPI_RESET_PORT && out && data[0] == ACPI_RESET_VALUE) {
			vm_stop(vm, VM_END_RESET, 0, "guest reset (ACPI reset register, vCPU %u)", v->id);
			return;
		} else if (!out) {
			memset(data, 0xff, size);	/* nothing there: floating bus */
			if (port == ACPI_SLEEP_STS_PORT)
				data[0] = 0;		/* not woken */
		}
	}
}

static enum balloon_queue_role queue_role(struct vm *vm, unsigned q)
{
	return vm->queue_role ? vm->queue_role(vm->queue_role_opaque, q) : BQ_NONE;
}

/* Before the access: an InterruptACK forgets the queues it is for. */
static void count_vmmio(struct vm *vm, uint64_t off, bool write, uint32_t val)
{
	exit_stats_count(&vm->exits, exit_cause_vmmio(vm->vmmio, off, write, val, vm->queue_role,
						      vm->queue_role_opaque));
}

static void handle_mmio(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	uint64_t a = run->mmio.phys_addr;
	unsigned len = run->mmio.len;

	if (vm->vmmio && a >= vm->vmmio_base && a - vm->vmmio_base < VIRTIO_MMIO_WINDOW &&
	    len <= 8 && len <= VIRTIO_MMIO_WINDOW - (a - vm->vmmio_base)) {
		uint64_t off = a - vm->vmmio_base;
		if (run->mmio.is_write) {
			uint64_t val = 0;
			memcpy(&val, run->mmio.data, len);	/* x86: little-endian */
			count_vmmio(vm, off, true, (uint32_t)val);
			if (len == 8) {	/* a 64-bit access is two 32-bit ones (4.2.2.2) */
				virtio_mmio_write(vm->vmmio, off, 4, (uint32_t)val);
				virtio_mmio_write(vm->vmmio, off + 4, 4, (uint32_t)(val >> 32));
			} else {
				virtio_mmio_write(vm->vmmio, off, len, (uint32_t)val);
			}
		} else {
			uint64_t val;
			count_vmmio(vm, off, false, 0);
			if (len == 8)
				val = virtio_mmio_read(vm->vmmio, off, 4) |
				      (uint64_t)virtio_mmio_read(vm->vmmio, off + 4, 4) << 32;
			else
				val = virtio_mmio_read(vm->vmmio, off, len);
			memcpy(run->mmio.data, &val, len);
		}
		return;
	}
	exit_stats_count(&vm->exits, EXIT_MMIO_OTHER);
	log_once(vm, 0, "vCPU %u: MMIO %s of %u bytes at %#llx: nothing there", v->id,
		 run->mmio.is_write ? "write" : "read", len, (unsigned long long)a);
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!atomic_load(&vm->stopping)) {
		int r = ioctl(v->fd, KVM_RUN, 0);
		if (r < 0) {
			/* EINTR: kicked (or any signal). EAGAIN: an AP was
			 * just woken by INIT/SIPI; run it again. */
			if (errno == EINTR || errno == EAGAIN) {
				exit_stats_count(&vm->exits, EXIT_INTR);
				continue;
			}
			vm_stop(vm, VM_END_ERROR, VMM_EXIT_ERROR, "KVM_RUN on vCPU %u: %s", v->id,
				strerror(errno));
			break;
		}
		uint32_t reason = v->run->exit_reason;
		/* IO and MMIO exits are counted by their handlers, by device. */
		if (reason != KVM_EXIT_IO && reason != KVM_EXIT_MMIO)
			exit_stats_count(&vm->exits, exit_cause_reason(reason));
		switch (reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(v);
			break;
		case KVM_EXIT_HLT:	/* the in-kernel LAPIC handles hlt; not expected */
		case KVM_EXIT_INTR:	/* a signal interrupted KVM_RUN */
			break;
		case KVM_EXIT_SHUTDOWN:
			vm_stop(vm, VM_END_CRASH, VMM_EXIT_CRASH,
				"vCPU %u: guest shut down (triple fault) without an exit status", v->id);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			vm_stop(vm, VM_END_CRASH, VMM_EXIT_CRASH,
				"vCPU %u: KVM_EXIT_FAIL_ENTRY, reason %#llx", v->id,
				(unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			vm_stop(vm, VM_END_CRASH, VMM_EXIT_CRASH,
				"vCPU %u: KVM internal error, suberror %u", v->id,
				v->run->internal.suberror);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			vm_stop(vm, VM_END_CRASH, VMM_EXIT_CRASH,
				"vCPU %u: system event %u (shutdown/reset/crash) without an exit status",
				v->id, v->run->system_event.type);
			break;
		default:
			vm_stop(vm, VM_END_ERROR, VMM_EXIT_ERROR, "vCPU %u: unexpected KVM exit reason %u",
				v->id, v->run->exit_reason);
			break;
		}
	}
	return NULL;
}

/* The device worker: queue notifications arrive on the ioeventfds. */
static void *worker_thread(void *arg)
{
	struct vm *vm = arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		vm_stop(vm, VM_END_ERROR, VMM_EXIT_ERROR, "epoll_create1: %s", strerror(errno));
		return NULL;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = STOP_TOKEN };
	epoll_ctl(ep, EPOLL_CTL_ADD, vm->stop_efd, &ev);
	for (unsigned q = 0; q < vm->nnotify; q++) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = q };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, vm->notify_efd[q], &ev) < 0) {
			vm_stop(vm, VM_END_ERROR, VMM_EXIT_ERROR, "epoll_ctl: %s", strerror(errno));
			close(ep);
			return NULL;
		}
	}
	int sleep_ms = vm->worker_tick ? VM_TICK_MAX_MS : -1;
	for (;;) {
		struct epoll_event evs[VIRTIO_MMIO_MAX_QUEUES + 1];
		int n = epoll_wait(ep, evs, VIRTIO_MMIO_MAX_QUEUES + 1, sleep_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			vm_stop(vm, VM_END_ERROR, VMM_EXIT_ERROR, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t q = evs[i].data.u32;
			uint64_t cnt;
			if (q == STOP_TOKEN) {
				close(ep);
				return NULL;
			}
			/* Reading resets the counter: kicks that arrive
			 * while we process are seen on the next round. */
			if (read(vm->notify_efd[q], &cnt, sizeof(cnt)) != sizeof(cnt))
				continue;
			atomic_fetch_add(&vm->notifications, cnt);
			exit_stats_notify(&vm->exits, queue_role(vm, q), cnt);
			virtio_mmio_notify(vm->vmmio, q);
		}
		/* After the notifications, which may have added a timer. A
		 * request held by a notify on another thread is seen within
		 * VM_TICK_MAX_MS. */
		if (vm->worker_tick) {
			sleep_ms = vm->worker_tick(vm->worker_tick_opaque);
			if (sleep_ms < 0 || sleep_ms > VM_TICK_MAX_MS)
				sleep_ms = VM_TICK_MAX_MS;
		}
	}
	close(ep);
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vm_start(struct vm *vm, char *err, size_t n)
{
	struct sigaction sa;
	sigset_t set, old;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;	/* no SA_RESTART: KVM_RUN returns EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0)
		return vmm_fail(err, n, "sigaction: %s", strerror(errno));

	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return vmm_fail(err, n, "eventfd: %s", strerror(errno));

	/* Threads start with the kick signal blocked; vCPU threads unblock
	 * it themselves, so it only ever interrupts a KVM_RUN. */
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (vm->vmmio) {
		r = pthread_create(&vm->worker, NULL, worker_thread, vm);
		if (r) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return vmm_fail(err, n, "pthread_create: %s", strerror(r));
		}
		vm->worker_started = true;
	}
	for (unsigned i = 0; i < vm->ncpus; i++) {
		r = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (r) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			vm_stop(vm, VM_END_ERROR, VMM_EXIT_ERROR, "pthread_create: %s", strerror(r));
			return vmm_fail(err, n, "pthread_create: %s", strerror(r));
		}
		vm->vcpus[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/* The words on a stopped vCPU's stack that look like kernel text
 * addresses (x86-64 Linux maps its text at 0xffffffff8xxxxxxx): the call
 * chain, give or take stale frames, to name with the kernel's symbols. */
static void log_stack_text(struct vm *vm, struct vcpu *v, uint64_t rsp)
{
	char line[512];
	size_t len = 0;
	unsigned found = 0;

	for (unsigned i = 0; i < 512 && found < 24; i++) {
		struct kvm_translation t = { .linear_address = rsp + i * 8ULL };
		uint64_t w;
		if (kvm_ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
			break;
		const void *p = gm_translate(vm->gm, t.physical_address, 8);
		if (!p)
			break;
		memcpy(&w, p, 8);
		if ((w >> 31) != 0x1ffffffffULL || w < 0xffffffff81000000ULL)
			continue;
		int r = snprintf(line + len, sizeof(line) - len, " %llx", (unsigned long long)w);
		if (r < 0 || (size_t)r >= sizeof(line) - len)
			break;
		len += (size_t)r;
		found++;
	}
	if (found)
		vmm_log("vCPU %u: text addresses on the stack:%s", v->id, line);
}

void vm_log_cpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct kvm_regs r;
		struct kvm_sregs s;
		struct kvm_mp_state mp = { 0 };

		if (v->fd < 0 || v->started)
			continue;
		if (kvm_ioctl(v->fd, KVM_GET_REGS, &r) < 0 || kvm_ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
			continue;
		kvm_ioctl(v->fd, KVM_GET_MP_STATE, &mp);
		vmm_log("vCPU %u: RIP %#llx RSP %#llx CPL %u IF %u %s", i, (unsigned long long)r.rip,
			(unsigned long long)r.rsp, s.cs.dpl, (unsigned)(r.rflags >> 9) & 1,
			mp.mp_state == KVM_MP_STATE_HALTED ? "halted" :
			mp.mp_state == KVM_MP_STATE_RUNNABLE ? "runnable" : "waiting for INIT/SIPI");
		log_stack_text(vm, v, r.rsp);
	}
}

void vm_join(struct vm *vm)
{
	uint64_t one = 1;

	if (!atomic_load(&vm->stopping))
		vm_stop(vm, VM_END_ERROR, VMM_EXIT_ERROR, "stopped");
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		/* Without KVM_CAP_IMMEDIATE_EXIT a kick can land just before
		 * KVM_RUN: keep kicking until the thread is gone. */
		for (;;) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(v->thread, NULL, &ts) == 0)
				break;
			kick_vcpus(vm);
		}
		v->started = false;
	}
	if (vm->worker_started) {
		if (write(vm->stop_efd, &one, sizeof(one)) < 0)
			vmm_log("stop eventfd: %s", strerror(errno));
		pthread_join(vm->worker, NULL);
		vm->worker_started = false;
	}
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			munmap(v->run, vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		if (vm->notify_efd[q] >= 0)
			close(vm->notify_efd[q]);
	if (vm->irq_efd >= 0)
		close(vm->irq_efd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = vm->irq_efd = vm->stop_efd = -1;
}
