/*
 * memhog for the Linux reference guest (scripts/linux-ref): the same
 * scenario as the pagehint guest's workload=memhog, as a static Linux
 * program run by the initramfs's /init.
 *
 *   memhog MIB [HOLD_S [IDLE_S]]
 *
 * Maps MIB MiB of anonymous memory, writes a pattern into every 8-byte
 * word (the address xor a seed, so a page that comes back zeroed or from
 * elsewhere is caught), verifies it, holds it HOLD_S seconds, prints
 *
 *   @event free mib=MIB t_ms=T
 *
 * on the console right before munmap (the host times reclaim from the
 * line's arrival), then idles IDLE_S seconds while the kernel reports the
 * freed memory. Lines use the pagehint guest's console protocol
 * (docs/guest.md): @event, @done, @fail. Exit status 0 when verified,
 * 1 on a mismatch, 2 on bad arguments or a failed mmap.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SEED 0x9e3779b97f4a7c15ull

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One line, one write(2): the console gets it whole and unbuffered. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (write(STDOUT_FILENO, buf, n) < 0)
		_exit(2);
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv)
{
	unsigned long mib, i, nwords;
	double hold_s, idle_s, t0, t1;
	uint64_t *p;

	if (argc < 2 || argc > 4) {
		say("usage: memhog MIB [HOLD_S [IDLE_S]]\n");
		return 2;
	}
	mib = strtoul(argv[1], NULL, 0);
	hold_s = argc > 2 ? atof(argv[2]) : 1;
	idle_s = argc > 3 ? atof(argv[3]) : 35;
	if (mib == 0 || hold_s < 0 || idle_s < 0) {
		say("memhog: bad arguments\n");
		return 2;
	}
	nwords = (mib << 20) / sizeof(uint64_t);

	t0 = now_ms();
	p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		say("@fail workload=memhog mmap of %lu MiB failed\n", mib);
		return 2;
	}
	for (i = 0; i < nwords; i++)
		p[i] = (uintptr_t)&p[i] ^ SEED;
	t1 = now_ms();
	say("@event alloc mib=%lu t_ms=%.1f write_mib_s=%.0f\n", mib, t1,
	    mib / ((t1 - t0) / 1e3));

	t0 = now_ms();
	for (i = 0; i < nwords; i++) {
		if (p[i] != ((uintptr_t)&p[i] ^ SEED)) {
			say("@fail workload=memhog addr=%p word=%lu got=%#llx want=%#llx\n",
			    (void *)&p[i], i, (unsigned long long)p[i],
			    (unsigned long long)((uintptr_t)&p[i] ^ SEED));
			return 1;
		}
	}
	t1 = now_ms();
	say("@info verified mib=%lu check_mib_s=%.0f\n", mib, mib / ((t1 - t0) / 1e3));

	sleep_s(hold_s);
	say("@event free mib=%lu t_ms=%.1f\n", mib, now_ms());
	munmap(p, mib << 20);

	sleep_s(idle_s);
	say("@done workload=memhog mib=%lu t_ms=%.1f\n", mib, now_ms());
	return 0;
}
