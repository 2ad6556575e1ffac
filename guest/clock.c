/* SPDX-License-Identifier: MIT */
#include <stdbool.h>

#include "apic.h"
#include "clock.h"
#include "console.h"
#include "x86.h"
#include "../core/platform.h"

uint64_t clock_tsc0, clock_mult = 1ull << 32, tsc_hz, lapic_hz;
const char *clock_source = "none";

#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)

/* pvclock_vcpu_time_info (Linux arch/x86/include/asm/pvclock-abi.h) */
struct pvclock {
	volatile uint32_t version;
	uint32_t pad0;
	volatile uint64_t tsc_timestamp;
	volatile uint64_t system_time;
	volatile uint32_t tsc_to_system_mul;
	volatile int8_t tsc_shift;
	volatile uint8_t flags;
	uint8_t pad[2];
} __attribute__((aligned(64)));

static struct pvclock pvclock;

static uint64_t from_kvmclock(void)
{
	uint32_t r[4];
	cpuid(0x40000000, 0, r);
	if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d) /* KVMKVMKVM */
		return 0;
	cpuid(0x40000001, 0, r);
	if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2))
		return 0;
	/* the one CPL0 operation the clock needs: point KVM at pvclock */
	sys_wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&pvclock | 1);
	uint32_t v, mul;
	int8_t shift;
	for (unsigned tries = 0;; tries++) {
		v = pvclock.version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		mul = pvclock.tsc_to_system_mul;
		shift = pvclock.tsc_shift;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (v && !(v & 1) && v == pvclock.version && mul)
			break;
		if (tries > 1000000)
			return 0;
	}
	/* ns = ((tsc << shift) * mul) >> 32, so hz = 1e9 * 2^32 / mul / 2^shift */
	uint64_t hz = (1000000000ull << 32) / mul;
	return shift >= 0 ? hz >> shift : hz << -shift;
}

static uint64_t from_cpuid(void)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	if (r[0] >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			return (uint64_t)r[2] * r[1] / r[0];
	}
	cpuid(0x40000000, 0, r);
	if (r[0] >= 0x40000010 && r[0] < 0x40010000) {
		cpuid(0x40000010, 0, r);
		if (r[0])
			return (uint64_t)r[0] * 1000;
	}
	return 0;
}

/*
 * PIT channel 0 as a free-running 1.193182 MHz down-counter (mode 2,
 * period 65536), read through latch commands, for 20 ms of TSC. Port 0x61
 * (channel 2's gate) is not used: microvm has no speaker port. IRQ0 stays
 * masked at the IOAPIC; channel 0 is left in one-shot mode afterwards.
 */
static unsigned pit_read(void)
{
	outb(0x43, 0x00);
	unsigned lo = inb(0x40);
	return lo | (unsigned)inb(0x40) << 8;
}

/* A PIT reading with the TSC at its middle; ok if the read was quick
 * (not preempted): 100k TSC ticks, tens of microseconds at any GHz. */
static unsigned pit_sample(uint64_t *tsc, bool *ok)
{
	uint64_t a = rdtsc();
	unsigned c = pit_read();
	uint64_t b = rdtsc();
	*tsc = a + (b - a) / 2;
	*ok = b - a < 100000;
	return c;
}

static uint64_t from_pit(void)
{
	const uint64_t want = 1193182 / 50;
	uint64_t ticks = 0, t0, t1, start = rdtsc();
	unsigned prev, cur;
	bool ok;

	outb(0x43, 0x34);
	outb(0x40, 0);
	outb(0x40, 0);
	do
		prev = pit_sample(&t0, &ok);
	while (!ok && rdtsc() - start < (1ull << 34));
	for (;;) {
		cur = pit_sample(&t1, &ok);
		ticks += (prev - cur) & 0xffff;
		prev = cur;
		if (ticks >= want && ok)
			break;
		if (t1 - start > (1ull << 34)) /* a dead PIT: seconds at any frequency */
			return 0;
	}
	outb(0x43, 0x30);
	outb(0x40, 1);
	outb(0x40, 0);
	return (t1 - t0) * 1193182 / ticks;
}

/* The APIC bus (timer) kHz in CPUID 0x40000010 EBX, as QEMU and our VMM
 * give it; 0 if absent. */
static uint64_t lapic_from_cpuid(void)
{
	uint32_t r[4];
	cpuid(0x40000000, 0, r);
	if (r[0] < 0x40000010 || r[0] >= 0x40010000)
		return 0;
	cpuid(0x40000010, 0, r);
	return (uint64_t)r[1] * 1000;
}

void clock_init(void)
{
	clock_tsc0 = rdtsc();
	lapic_hz = lapic_from_cpuid();
	if ((tsc_hz = from_kvmclock()))
		clock_source = "kvmclock";
	else if ((tsc_hz = from_cpuid()))
		clock_source = "cpuid";
	else if ((tsc_hz = from_pit()))
		clock_source = "pit";
	else {
		tsc_hz = 1000000000;
		clock_source = "guess";
	}
	clock_mult = (1000000000ull << 32) / tsc_hz;
}

void delay_ns(uint64_t ns)
{
	uint64_t end = ph_now_ns() + ns;
	while (ph_now_ns() < end)
		cpu_relax();
}

/*
 * The LAPIC timer against the TSC over 10 ms. Each count read is bracketed
 * by TSC reads and retried if the bracket is long (the vCPU was preempted),
 * so a descheduled moment cannot skew the rate.
 */
static uint32_t lapic_sample(uint64_t *tsc)
{
	uint64_t slack = tsc_hz / 50000;	/* 20 us */
	for (unsigned i = 0;; i++) {
		uint64_t a = rdtsc();
		uint32_t c = lapic_timer_count();
		uint64_t b = rdtsc();
		if (b - a < slack || i == 20) {
			*tsc = a + (b - a) / 2;
			return c;
		}
	}
}

void lapic_calibrate(void)
{
	uint64_t t0, t1;
	if (lapic_hz)	/* CPUID 0x40000010 said */
		return;
	lapic_timer_start_free();
	uint32_t c0 = lapic_sample(&t0);
	delay_ns(10000000);
	uint32_t c1 = lapic_sample(&t1);
	lapic_timer_stop();
	lapic_hz = (uint64_t)((unsigned __int128)(c0 - c1) * tsc_hz / (t1 - t0));
}
