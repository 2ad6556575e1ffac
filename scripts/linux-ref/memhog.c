/*
 * memhog for the Linux reference guest (scripts/linux-ref): the same
 * scenario as the pagehint guest's workload=memhog, as a static Linux
 * program run by the initramfs's /init.
 *
 *   memhog MIB [HOLD_S [IDLE_S [ROUNDS]]]
 *   memhog churn MIB ROUNDS [THREADS [NOHUGE]]
 *
 * memhog: ROUNDS times (default 1), maps MIB MiB of anonymous memory,
 * writes a pattern into every 8-byte word (the address xor a seed that
 * differs each round, so a page that comes back zeroed, from elsewhere or
 * from an earlier round is caught), verifies it, holds it HOLD_S seconds,
 * verifies it again (the hold is when the kernel reports free memory
 * around it), prints
 *
 *   @event free mib=MIB t_ms=T round=R
 *
 * on the console right before munmap (the host times reclaim from the
 * line's arrival), then idles IDLE_S seconds while the kernel reports the
 * freed memory. Lines use the pagehint guest's console protocol
 * (docs/guest.md): @event, @info, @done, @fail.
 *
 * churn: will-it-scale's page_fault1 with threads: each of THREADS threads
 * (default 2) ROUNDS times maps MIB MiB, writes one byte in every 4 KiB
 * page (a page fault each, or one per 2 MiB where THP maps huge pages;
 * NOHUGE=1 asks for 4 KiB pages with MADV_NOHUGEPAGE), reads the bytes
 * back, and unmaps it. Prints "@event churn ..." before and
 *
 *   @done workload=churn threads=T mib=M rounds=R pages=P ms=MS pages_per_s=X
 *
 * after, the lines a host counting guest instructions (QEMU -icount)
 * brackets.
 *
 * Exit status 0 when verified, 1 on a mismatch (after an @fail line),
 * 2 on bad arguments or a failed mmap.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SEED 0x9e3779b97f4a7c15ull
#define PAGE 4096ul

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

/* A positive decimal (or 0x) count, or 0 when ARG is not one. */
static unsigned long count(const char *arg)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 0);

	return *arg && !*end ? v : 0;
}

static uint64_t pattern(const uint64_t *w, uint64_t seed)
{
	return (uintptr_t)w ^ seed;
}

/* 0 when all NWORDS words at P hold the pattern; else says @fail, 1. */
static int verify(const uint64_t *p, unsigned long nwords, uint64_t seed,
		  unsigned long round, const char *when)
{
	unsigned long i;

	for (i = 0; i < nwords; i++) {
		if (p[i] != pattern(&p[i], seed)) {
			say("@fail workload=memhog round=%lu when=%s addr=%p word=%lu got=%#llx want=%#llx\n",
			    round, when, (const void *)&p[i], i, (unsigned long long)p[i],
			    (unsigned long long)pattern(&p[i], seed));
			return 1;
		}
	}
	return 0;
}

static int memhog(unsigned long mib, double hold_s, double idle_s, unsigned long rounds)
{
	unsigned long r, i, nwords = (mib << 20) / sizeof(uint64_t);
	double t0, t1;
	uint64_t *p, seed;

	for (r = 1; r <= rounds; r++) {
		seed = SEED * (2 * r + 1);
		t0 = now_ms();
		p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			say("@fail workload=memhog round=%lu mmap of %lu MiB failed\n", r, mib);
			return 2;
		}
		for (i = 0; i < nwords; i++)
			p[i] = pattern(&p[i], seed);
		t1 = now_ms();
		say("@event alloc mib=%lu t_ms=%.1f write_mib_s=%.0f round=%lu\n", mib, t1,
		    mib / ((t1 - t0) / 1e3), r);

		t0 = now_ms();
		if (verify(p, nwords, seed, r, "written"))
			return 1;
		t1 = now_ms();
		say("@info verified mib=%lu check_mib_s=%.0f round=%lu\n", mib,
		    mib / ((t1 - t0) / 1e3), r);

		sleep_s(hold_s);
		if (verify(p, nwords, seed, r, "held"))
			return 1;
		say("@info verified mib=%lu when=held round=%lu\n", mib, r);
		say("@event free mib=%lu t_ms=%.1f round=%lu\n", mib, now_ms(), r);
		munmap(p, mib << 20);

		sleep_s(idle_s);
	}
	say("@done workload=memhog mib=%lu rounds=%lu t_ms=%.1f\n", mib, rounds, now_ms());
	return 0;
}

struct churner {
	pthread_t tid;
	unsigned long id, bytes, rounds, pages;
	int nohuge, status;
};

static void *churn_thread(void *arg)
{
	struct churner *c = arg;
	unsigned long r, off;
	unsigned char *p, want;

	for (r = 0; r < c->rounds; r++) {
		p = mmap(NULL, c->bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			say("@fail workload=churn thread=%lu round=%lu mmap of %lu MiB failed\n",
			    c->id, r + 1, c->bytes >> 20);
			c->status = 2;
			return NULL;
		}
		if (c->nohuge)
			madvise(p, c->bytes, MADV_NOHUGEPAGE);
		want = (unsigned char)(1 + (c->id * 31 + r) % 255);
		for (off = 0; off < c->bytes; off += PAGE)
			p[off] = want;
		for (off = 0; off < c->bytes; off += PAGE) {
			if (p[off] != want) {
				say("@fail workload=churn thread=%lu round=%lu addr=%p got=%#x want=%#x\n",
				    c->id, r + 1, (void *)&p[off], p[off], want);
				c->status = 1;
				return NULL;
			}
		}
		munmap(p, c->bytes);
		c->pages += c->bytes / PAGE;
	}
	return NULL;
}

static int churn(unsigned long mib, unsigned long rounds, unsigned long threads, int nohuge)
{
	struct churner c[64];
	unsigned long i, pages = 0;
	double t0, ms;
	int status = 0;

	say("@event churn threads=%lu mib=%lu rounds=%lu nohuge=%d t_ms=%.1f\n", threads, mib,
	    rounds, nohuge, now_ms());
	t0 = now_ms();
	for (i = 0; i < threads; i++) {
		c[i] = (struct churner){ .id = i, .bytes = mib << 20, .rounds = rounds,
					 .nohuge = nohuge };
		if (pthread_create(&c[i].tid, NULL, churn_thread, &c[i])) {
			say("@fail workload=churn pthread_create failed\n");
			return 2;
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(c[i].tid, NULL);
		pages += c[i].pages;
		if (c[i].status > status)
			status = c[i].status;
	}
	ms = now_ms() - t0;
	if (status)
		return status;
	say("@done workload=churn threads=%lu mib=%lu rounds=%lu pages=%lu ms=%.0f pages_per_s=%.0f\n",
	    threads, mib, rounds, pages, ms, pages / (ms / 1e3));
	return 0;
}

static int usage(void)
{
	say("usage: memhog MIB [HOLD_S [IDLE_S [ROUNDS]]]\n"
	    "       memhog churn MIB ROUNDS [THREADS [NOHUGE]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long mib, rounds, threads;
	double hold_s, idle_s;

	if (argc >= 2 && !strcmp(argv[1], "churn")) {
		if (argc < 4 || argc > 6)
			return usage();
		mib = count(argv[2]);
		rounds = count(argv[3]);
		threads = argc > 4 ? count(argv[4]) : 2;
		if (mib == 0 || rounds == 0 || threads == 0 || threads > 64 ||
		    mib > (~0ul >> 21)) {
			say("memhog: bad arguments\n");
			return 2;
		}
		return churn(mib, rounds, threads, argc > 5 && !strcmp(argv[5], "1"));
	}
	if (argc < 2 || argc > 5)
		return usage();
	mib = count(argv[1]);
	hold_s = argc > 2 ? atof(argv[2]) : 1;
	idle_s = argc > 3 ? atof(argv[3]) : 35;
	rounds = argc > 4 ? count(argv[4]) : 1;
	if (mib == 0 || mib > (~0ul >> 21) || rounds == 0 || hold_s < 0 || idle_s < 0) {
		say("memhog: bad arguments\n");
		return 2;
	}
	return memhog(mib, hold_s, idle_s, rounds);
}
