/* SPDX-License-Identifier: MIT */
/*
 * The KVM side: a VM with guest RAM in memory slots, the in-kernel
 * irqchip (LAPIC + IOAPIC, and a PIT), one thread per vCPU, and the
 * devices wired the cheap way: the virtio-mmio QueueNotify register
 * through one ioeventfd per queue (datamatch = queue index) into a worker
 * thread, the device interrupt through an irqfd on its IOAPIC pin. The
 * serial port, the exit port and the virtio-mmio registers other than
 * QueueNotify are userspace exits.
 *
 * Threads: vCPU threads run KVM_RUN and handle exits; the worker thread
 * processes queues; whoever decides the run is over (exit port, a fatal
 * exit, the timeout in main) calls vm_stop(), which kicks every vCPU out
 * of KVM_RUN with immediate_exit + a signal.
 */
#ifndef VMM_KVM_VM_H
#define VMM_KVM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "exits.h"
#include "guest_mem.h"
#include "serial.h"
#include "telemetry.h"
#include "virtio_mmio.h"

#define EXIT_PORT 0x501		/* write V: the run ends with status V */
#define EXIT_PORT_SIZE 2

/* pagehint's own exit statuses (the guest's are whatever it writes). */
#define VMM_EXIT_TIMEOUT 124
#define VMM_EXIT_ERROR 125
#define VMM_EXIT_CRASH 126
#define VMM_EXIT_SIGNAL 130
/* An operator's stop through the control API: done as asked (docs/vmm.md, "Exit status"). */
#define VMM_EXIT_SHUTDOWN 0

/* How a run ended; POWEROFF and RESET are ACPI's (a Linux guest's poweroff,
 * reboot), SHUTDOWN the control API's PUT /actions Shutdown. */
enum vm_end { VM_END_NONE, VM_END_EXIT, VM_END_TIMEOUT, VM_END_CRASH, VM_END_ERROR, VM_END_SIGNAL,
	      VM_END_POWEROFF, VM_END_RESET, VM_END_SHUTDOWN, VM_END__COUNT };

/* The end's name in the summary ("exit", "signal", "shutdown", ...). */
const char *vm_end_name(enum vm_end end);

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

#define VM_TICK_MAX_MS 20	/* longest worker sleep with a worker_tick */

struct vm {
	int kvm_fd, vm_fd;
	size_t run_size;
	bool immediate_exit;		/* KVM_CAP_IMMEDIATE_EXIT */
	struct guest_mem *gm;
	unsigned ncpus;
	struct vcpu *vcpus;

	struct serial *serial;
	struct virtio_mmio_dev *vmmio;
	uint64_t vmmio_base;
	unsigned vmmio_irq;
	int irq_efd;
	int notify_efd[VIRTIO_MMIO_MAX_QUEUES];
	unsigned nnotify;
	int stop_efd;
	pthread_t worker;
	bool worker_started;
	atomic_ulong notifications;	/* ioeventfd wake-ups, kicks summed */
	/* If set (before vm_start), the worker also calls it on its own
	 * thread (the faulty-device mode's timers) after every wake-up; it
	 * returns how many ms the worker may sleep before the next call
	 * (-1: nothing pending; it sleeps VM_TICK_MAX_MS at most anyway). */
	int (*worker_tick)(void *opaque);
	void *worker_tick_opaque;
	/* If set (before vm_start): the role of the device's queue q, for
	 * counting its notifies and exits by cause; else BQ_NONE. */
	enum balloon_queue_role (*queue_role)(void *opaque, unsigned q);
	void *queue_role_opaque;

	struct exit_stats exits;

	/* The end of the run: first vm_stop() wins. */
	pthread_mutex_t end_lock;
	pthread_cond_t end_cond;
	atomic_bool stopping;
	enum vm_end end;
	int status;
	int guest_exit;			/* value written to EXIT_PORT, or -1 */
	char end_msg[256];
	atomic_uint logged;		/* log-once bits for odd exits */
};

/* Open /dev/kvm and create the VM, irqchip, memory slots and vCPUs, set
 * CPUID per vCPU and the boot CPU's PVH entry state. 0, or -1 with a
 * one-line reason in err. */
/* How the boot CPU starts. */
struct vm_entry {
	bool long_mode;		/* Linux's 64-bit boot protocol; else the PVH 32-bit entry */
	uint64_t rip;
	uint64_t arg;		/* PVH: EBX = hvm_start_info; 64-bit: RSI = zero page */
};
/* Every field empty (no fds, no vCPUs), the end's lock and condition
 * ready: how vm_create starts, and all a VM without KVM needs to end. */
void vm_init(struct vm *vm);
int vm_create(struct vm *vm, struct guest_mem *gm, unsigned ncpus, const struct vm_entry *entry,
	      char *err, size_t errlen);
/* Wire a virtio-mmio device: ioeventfds, irqfd, MMIO window. */
int vm_add_virtio_mmio(struct vm *vm, struct virtio_mmio_dev *d, uint64_t base, unsigned irq,
		       unsigned nqueues, char *err, size_t errlen);
void vm_set_serial(struct vm *vm, struct serial *s);
/* Start the worker and the vCPU threads. */
int vm_start(struct vm *vm, char *err, size_t errlen);
/* End the run (first caller wins): status becomes the exit status. */
void vm_stop(struct vm *vm, enum vm_end end, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The control API's Shutdown: vm_stop() with end shutdown and status
 * VMM_EXIT_SHUTDOWN; from any thread. */
void vm_shutdown(struct vm *vm);
/* Wait for the end or until deadline_ns (CLOCK_MONOTONIC; 0: none).
 * true if the run ended. */
bool vm_wait(struct vm *vm, uint64_t deadline_ns);
/* Stop and join every thread. */
void vm_join(struct vm *vm);
/* After vm_join: log where each vCPU stopped (RIP, CPL, IF, halted), for a
 * guest that had to be stopped. */
void vm_log_cpus(struct vm *vm);
void vm_destroy(struct vm *vm);

#endif
