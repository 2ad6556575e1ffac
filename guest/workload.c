/* SPDX-License-Identifier: MIT */
/*
 * The workloads. Each runs a phase on every CPU at once (on_each_cpu()),
 * the boot CPU printing the events in between. Data integrity: every
 * word of every allocated block gets a pattern derived from its address
 * and a key; before a block is freed every word is checked. Blocks a
 * CPU holds are chained through their first word (checked as a link).
 */
#include "cmdline.h"
#include "console.h"
#include "exit.h"
#include "lib.h"
#include "mem.h"
#include "sched.h"
#include "smp.h"
#include "workload.h"

#define WORDS_PER_PAGE (PH_PAGE_SIZE / 8)
#define GOLD 0x9e3779b97f4a7c15ull

static const char *wl_name;

/* ---- patterns ---- */

static void fill(uint64_t *w, uint64_t from, uint64_t n, uint64_t key)
{
	uint64_t v = mix64((uintptr_t)w ^ key) + from * GOLD;
	for (uint64_t i = from; i < n; i++, v += GOLD)
		w[i] = v;
}

__attribute__((noreturn)) static void fail(const uint64_t *w, uint64_t i, uint64_t got,
					   uint64_t want)
{
	panic_status(EXIT_FAIL, "@fail workload=%s cpu=%u addr=0x%lx word=%lu got=0x%lx want=0x%lx",
		     wl_name, ph_cpu_id(), (uint64_t)(uintptr_t)w, i, got, want);
}

static void check(const uint64_t *w, uint64_t from, uint64_t n, uint64_t key)
{
	uint64_t v = mix64((uintptr_t)w ^ key) + from * GOLD;
	for (uint64_t i = from; i < n; i++, v += GOLD)
		if (__builtin_expect(w[i] != v, 0))
			fail(w, i, w[i], v);
}

/* A chain link must be another page of the zone, or the end. */
static uint64_t *next_of(const uint64_t *w)
{
	uint64_t n = w[0], pfn = n >> PH_PAGE_SHIFT;
	if (n && ((n & (PH_PAGE_SIZE - 1)) || pfn < zone.base_pfn ||
		  pfn >= zone.base_pfn + zone.npages))
		fail(w, 0, n, 0);
	return (uint64_t *)(uintptr_t)n;
}

static uint64_t round_key(uint64_t round)
{
	return mix64(cfg.seed * GOLD + round + 1);
}

static uint64_t mib(uint64_t pages)
{
	return pages >> (20 - PH_PAGE_SHIFT);
}

/* Per-CPU chains of order-0 pages, each page filled but for its link. */
struct chains {
	uint64_t key;
	uint64_t want;			/* pages per CPU to allocate */
	uint64_t *head[MAX_CPUS];
	uint64_t pages[MAX_CPUS];
	uint64_t freed[MAX_CPUS];
	unsigned keep;			/* fragment: percent of pages kept */
	uint64_t *kept[MAX_CPUS];
	uint64_t nkept[MAX_CPUS];
};

static uint64_t sum(const uint64_t *v)
{
	uint64_t s = 0;
	for (unsigned c = 0; c < nr_cpus; c++)
		s += v[c];
	return s;
}

static void chain_alloc(unsigned cpu, void *arg)
{
	struct chains *ch = arg;
	uint64_t *head = 0, n;
	for (n = 0; n < ch->want; n++) {
		uint64_t *p = page_alloc(0);
		if (!p)
			break;
		p[0] = (uintptr_t)head;
		fill(p, 1, WORDS_PER_PAGE, ch->key);
		head = p;
		if ((n & 255) == 255)
			cond_resched();
	}
	ch->head[cpu] = head;
	ch->pages[cpu] = n;
}

/* Check and free a chain; with keep, keep that percentage of pfns. */
static void chain_free(unsigned cpu, void *arg)
{
	struct chains *ch = arg;
	uint64_t *p = ch->head[cpu], n = 0, *kept = 0, nkept = 0;
	while (p) {
		uint64_t *next = next_of(p), pfn = (uintptr_t)p >> PH_PAGE_SHIFT;
		check(p, 1, WORDS_PER_PAGE, ch->key);
		if (ch->keep && pfn * ch->keep % 100 < ch->keep) {
			p[0] = (uintptr_t)kept;
			kept = p;
			nkept++;
		} else {
			page_free(p, 0);
			n++;
		}
		if ((n & 255) == 255)
			cond_resched();
		p = next;
	}
	ch->head[cpu] = 0;
	ch->freed[cpu] = n;
	ch->kept[cpu] = kept;
	ch->nkept[cpu] = nkept;
}

/* ---- memhog: allocate, touch, hold, free, idle; ROUNDS times (or for MS) ---- */

static void memhog(void)
{
	static struct chains ch;
	uint64_t want = cfg.memhog.mib << (20 - PH_PAGE_SHIFT);
	if (!want)
		want = mem_free_pages() / 4 * 3;
	ch.want = want / nr_cpus;

	uint64_t alloc_ns = 0, free_ns = 0, got = 0, checked = 0, r;
	uint64_t end = cfg.memhog.ms ? ph_now_ns() + cfg.memhog.ms * 1000000 : UINT64_MAX;
	for (r = 0; r < cfg.memhog.rounds && (r == 0 || ph_now_ns() < end); r++) {
		ch.key = round_key(r);
		uint64_t t0 = ph_now_ns();
		on_each_cpu(chain_alloc, &ch);
		uint64_t t1 = ph_now_ns();
		got = sum(ch.pages);
		if (cfg.test == TEST_CORRUPT && ch.head[0])
			ch.head[0][7] ^= 1;	/* what a wrongly discarded page would look like */
		kprintf("@event alloc mib=%lu round=%lu\n", mib(got), r + 1);
		if (got < ch.want * nr_cpus)
			kprintf("@warn memhog: got %lu of %lu MiB\n", mib(got), mib(ch.want * nr_cpus));
		msleep(cfg.memhog.hold_ms);
		kprintf("@event freeing mib=%lu round=%lu\n", mib(got), r + 1);
		uint64_t t2 = ph_now_ns();
		on_each_cpu(chain_free, &ch);
		uint64_t t3 = ph_now_ns();
		checked += sum(ch.freed);	/* chain_free checked every page it freed */
		kprintf("@event free mib=%lu round=%lu\n", mib(sum(ch.freed)), r + 1);
		alloc_ns += t1 - t0;
		free_ns += t3 - t2;
		msleep(cfg.memhog.idle_ms);
	}
	uint64_t total = mib(got) * r;
	kprintf("@done workload=memhog cpus=%u rounds=%lu mib=%lu alloc_mib_s=%lu free_mib_s=%lu "
		"checked_mib=%lu\n", nr_cpus, r, mib(got), total * 1000000000 / (alloc_ns ? alloc_ns : 1),
		total * 1000000000 / (free_ns ? free_ns : 1), mib(checked));
}

/*
 * ---- churn: order-0 alloc/write/check/free as fast as possible ----
 * Two shapes. churn.batch (16): take a batch, free it: the per-CPU lists
 * absorb it all, so this times the allocator's fast path alone.
 * churn.mib=N: will-it-scale's page_fault1 (each task maps, touches and
 * unmaps 128 MiB): every CPU takes N MiB a page at a time, then frees it
 * all, round after round, so the pages go through the buddy lists,
 * merge into large blocks and meet the reporting engine on every round.
 */

/* Rounds timed per CPU; later rounds are counted but not timed. */
#define CHURN_TIMED_MAX 4096

struct churn {
	uint64_t key, end_ns;
	uint64_t pages[MAX_CPUS];
	uint32_t round_us[MAX_CPUS][CHURN_TIMED_MAX];
	unsigned timed[MAX_CPUS];
};

static uint64_t *churn_page(unsigned cpu)
{
	uint64_t *p = page_alloc(0);
	if (!p)
		panic_status(EXIT_FAIL, "@fail workload=churn cpu=%u out of memory", cpu);
	return p;
}

static void churn_batches(unsigned cpu, struct churn *c)
{
	uint64_t *batch[256], n = 0;
	unsigned b = (unsigned)cfg.churn.batch;

	while (ph_now_ns() < c->end_ns) {
		for (unsigned i = 0; i < b; i++) {
			uint64_t *p = churn_page(cpu);
			p[0] = (uintptr_t)p ^ c->key;
			p[WORDS_PER_PAGE - 1] = ~((uintptr_t)p ^ c->key);
			batch[i] = p;
		}
		for (unsigned i = 0; i < b; i++) {
			uint64_t *p = batch[i], want = (uintptr_t)p ^ c->key;
			if (p[0] != want)
				fail(p, 0, p[0], want);
			if (p[WORDS_PER_PAGE - 1] != ~want)
				fail(p, WORDS_PER_PAGE - 1, p[WORDS_PER_PAGE - 1], ~want);
			page_free(p, 0);
		}
		n += b;
		cond_resched();
	}
	c->pages[cpu] = n;
}

/* A round's pages are chained through their first word; the second and
 * the last carry the pattern (page_fault1 touches a byte a page: not
 * chain_alloc/chain_free, which fill and check every word and would time
 * memory writes, not the allocator). The clock is read between rounds. */
static void churn_rounds(unsigned cpu, struct churn *c)
{
	uint64_t per_round = (cfg.churn.mib << 20) / PH_PAGE_SIZE, n = 0;

	c->timed[cpu] = 0;
	for (uint64_t t0 = ph_now_ns(); t0 < c->end_ns;) {
		uint64_t *head = 0;
		for (uint64_t i = 0; i < per_round; i++) {
			uint64_t *p = churn_page(cpu);
			p[0] = (uintptr_t)head;
			p[1] = (uintptr_t)p ^ c->key;
			p[WORDS_PER_PAGE - 1] = ~((uintptr_t)p ^ c->key);
			head = p;
			if ((i & 1023) == 1023)
				cond_resched();
		}
		for (uint64_t i = 0; head; i++) {
			uint64_t *p = head, want = (uintptr_t)p ^ c->key;
			head = next_of(p);
			if (p[1] != want)
				fail(p, 1, p[1], want);
			if (p[WORDS_PER_PAGE - 1] != ~want)
				fail(p, WORDS_PER_PAGE - 1, p[WORDS_PER_PAGE - 1], ~want);
			page_free(p, 0);
			if ((i & 1023) == 1023)
				cond_resched();
		}
		n += per_round;
		uint64_t t1 = ph_now_ns();
		if (c->timed[cpu] < CHURN_TIMED_MAX)
			c->round_us[cpu][c->timed[cpu]++] = (uint32_t)((t1 - t0) / 1000);
		t0 = t1;
	}
	c->pages[cpu] = n;
}

/*
 * The median round, over every CPU's rounds but its first (which warms
 * the per-CPU lists up): a figure a host that stalls a vCPU now and then
 * moves far less than the run's mean rate. 0 when no round was timed.
 */
static uint64_t churn_median_us(struct churn *c)
{
	static uint32_t all[MAX_CPUS * CHURN_TIMED_MAX];
	unsigned n = 0;

	for (unsigned cpu = 0; cpu < nr_cpus; cpu++)
		for (unsigned k = 1; k < c->timed[cpu]; k++)
			all[n++] = c->round_us[cpu][k];
	/* insertion sort: a bench run times a few thousand rounds (at most
	 * MAX_CPUS x CHURN_TIMED_MAX), after the timed part */
	for (unsigned i = 1; i < n; i++) {
		uint32_t v = all[i];
		unsigned j = i;
		for (; j && all[j - 1] > v; j--)
			all[j] = all[j - 1];
		all[j] = v;
	}
	return n ? (n & 1 ? all[n / 2] : ((uint64_t)all[n / 2 - 1] + all[n / 2]) / 2) : 0;
}

static void churn_cpu(unsigned cpu, void *arg)
{
	if (cfg.churn.mib)
		churn_rounds(cpu, arg);
	else
		churn_batches(cpu, arg);
}

static void churn(void)
{
	static struct churn c;
	/* every CPU's round at once, with room to spare for the kernel */
	if (cfg.churn.mib && cfg.churn.mib * nr_cpus > mib(mem_free_pages()) / 2)
		panic_status(EXIT_CMDLINE, "pagehint: bad command line: churn.mib=%lu: %u CPUs x %lu MiB "
			     "is more than half the free memory (%lu MiB)", cfg.churn.mib, nr_cpus,
			     cfg.churn.mib, mib(mem_free_pages()));
	c.key = round_key(0);
	if (cfg.churn.mib)
		kprintf("@event churn ms=%lu mib=%lu\n", cfg.churn.ms, cfg.churn.mib);
	else
		kprintf("@event churn ms=%lu batch=%lu\n", cfg.churn.ms, cfg.churn.batch);
	uint64_t t0 = ph_now_ns();
	c.end_ns = t0 + cfg.churn.ms * 1000000;
	on_each_cpu(churn_cpu, &c);
	uint64_t ns = ph_now_ns() - t0, pages = sum(c.pages);
	if (!cfg.churn.mib) {
		kprintf("@done workload=churn cpus=%u ms=%lu pages=%lu pages_per_s=%lu\n", nr_cpus,
			ns / 1000000, pages, pages * 1000000000 / ns);
		return;
	}
	/* Every CPU runs rounds at once: the rate is theirs together. */
	uint64_t med_us = churn_median_us(&c), per_round = (cfg.churn.mib << 20) / PH_PAGE_SIZE;
	kprintf("@done workload=churn cpus=%u ms=%lu pages=%lu pages_per_s=%lu round_us_med=%lu "
		"pages_per_s_med=%lu\n", nr_cpus, ns / 1000000, pages, pages * 1000000000 / ns, med_us,
		med_us ? nr_cpus * per_round * 1000000 / med_us : 0);
}

/* ---- fragment: keep a scattered fraction, free the rest, then it ---- */

static void chain_take_kept(unsigned cpu, void *arg)
{
	struct chains *ch = arg;
	ch->head[cpu] = ch->kept[cpu];
	ch->kept[cpu] = 0;
	chain_free(cpu, arg);
}

static void fragment(void)
{
	static struct chains ch;
	ch.key = round_key(0);
	ch.want = (cfg.fragment.mib << (20 - PH_PAGE_SHIFT)) / nr_cpus;
	ch.keep = (unsigned)cfg.fragment.keep;
	on_each_cpu(chain_alloc, &ch);
	kprintf("@event alloc mib=%lu\n", mib(sum(ch.pages)));
	kprintf("@event freeing\n");
	on_each_cpu(chain_free, &ch);
	uint64_t freed = sum(ch.freed), kept = sum(ch.nkept);
	kprintf("@event free mib=%lu\n", mib(freed));

	char line[160];
	int n = ksnprintf(line, sizeof(line), "@info free_blocks");
	for (unsigned o = 0; o < PH_MAX_ORDER; o++)
		n += ksnprintf(line + n, sizeof(line) - n, " o%u=%lu", o, ph_zone_nr_free(&zone, o));
	kprintf("%s\n", line);

	msleep(cfg.fragment.hold_ms);
	ch.keep = 0;
	kprintf("@event freeing\n");
	on_each_cpu(chain_take_kept, &ch);
	kprintf("@event free mib=%lu\n", mib(sum(ch.freed)));
	kprintf("@done workload=fragment cpus=%u keep=%u%% freed_mib=%lu kept_mib=%lu\n", nr_cpus,
		(unsigned)cfg.fragment.keep, mib(freed), mib(kept));
}

/* ---- verify: random sizes and lifetimes, every byte checked ---- */

#define VSLOTS 128

struct verify {
	uint64_t end_ns, budget, round;
	uint64_t ops[MAX_CPUS], checked[MAX_CPUS], oom[MAX_CPUS], left[MAX_CPUS];
};

static unsigned pick_order(uint64_t r)
{
	unsigned x = r % 100;
	if (x < 60)
		return 0;
	if (x < 85)
		return 1 + (unsigned)(r >> 8) % 3;
	return 4 + (unsigned)(r >> 8) % 6;
}

static void verify_cpu(unsigned cpu, void *arg)
{
	struct verify *v = arg;
	struct { uint64_t *p; unsigned order; } slot[VSLOTS] = { { 0, 0 } };
	uint64_t rng = mix64(cfg.seed * GOLD + (v->round << 8) + cpu + 1) | 1;
	uint64_t used = 0, ops = 0, checked = 0, oom = 0, key = round_key((v->round << 8) + cpu);

	while (ph_now_ns() < v->end_ns) {
		uint64_t r = rand64(&rng);
		unsigned i = r % VSLOTS;
		if (slot[i].p) {
			uint64_t words = WORDS_PER_PAGE << slot[i].order;
			check(slot[i].p, 0, words, key);
			page_free(slot[i].p, slot[i].order);
			used -= 1ull << slot[i].order;
			checked += words * 8;
			slot[i].p = 0;
		} else {
			unsigned order = pick_order(r >> 16);
			if (used + (1ull << order) > v->budget)
				continue;
			uint64_t *p = page_alloc(order);
			if (!p) {
				oom++;
				continue;
			}
			fill(p, 0, WORDS_PER_PAGE << order, key);
			slot[i].p = p;
			slot[i].order = order;
			used += 1ull << order;
		}
		if ((++ops & 15) == 0)
			cond_resched();
	}
	v->left[cpu] = used;
	for (unsigned i = 0; i < VSLOTS; i++)
		if (slot[i].p) {
			uint64_t words = WORDS_PER_PAGE << slot[i].order;
			check(slot[i].p, 0, words, key);
			page_free(slot[i].p, slot[i].order);
			checked += words * 8;
		}
	v->ops[cpu] += ops;
	v->checked[cpu] += checked;
	v->oom[cpu] += oom;
}

/* Rounds, each ending with everything checked and freed: the idle between
 * them also runs the work queued on the other CPUs, which waits while
 * on_each_cpu() runs there (items do not nest). */
static void verify(void)
{
	static struct verify v;
	v.budget = (cfg.verify.mib << (20 - PH_PAGE_SHIFT)) / nr_cpus;
	for (v.round = 0; v.round < cfg.verify.rounds; v.round++) {
		if (v.round)
			msleep(cfg.verify.idle_ms);
		v.end_ns = ph_now_ns() + cfg.verify.ms * 1000000;
		on_each_cpu(verify_cpu, &v);
		kprintf("@event free mib=%lu\n", mib(sum(v.left)));
	}
	kprintf("@done workload=verify cpus=%u ops=%lu checked_mib=%lu oom=%lu rounds=%lu\n", nr_cpus,
		sum(v.ops), sum(v.checked) >> 20, sum(v.oom), cfg.verify.rounds);
}

/* ---- burst: a job runner's allocate-use-free every period ---- */

static bool never(void *arg)
{
	(void)arg;
	return false;
}

/*
 * Every period_ms a burst allocates mib MiB on all CPUs, writes it (the
 * allocation time, TSC, covers page_alloc and the first write of every
 * word: what a job pays when memory the host took back must be faulted
 * in again), checks it and frees it, then sleeps to the next period. A
 * burst that overruns its period starts the next at once and counts as
 * late. The host reads one line per burst and the mean resident memory
 * from the begin line to @done.
 */
static void burst(void)
{
	static struct chains ch;
	uint64_t period = cfg.burst.period_ms * 1000000, count = cfg.burst.count;
	uint64_t alloc_sum = 0, alloc_max = 0, free_sum = 0, late = 0, got = 0;

	ch.want = (cfg.burst.mib << (20 - PH_PAGE_SHIFT)) / nr_cpus;
	kprintf("@event bursts count=%lu mib=%lu period_ms=%lu\n", count, cfg.burst.mib,
		cfg.burst.period_ms);
	uint64_t next = ph_now_ns();
	for (uint64_t k = 0; k < count; k++) {
		ch.key = round_key(k);
		uint64_t t0 = ph_now_ns();
		on_each_cpu(chain_alloc, &ch);
		uint64_t t1 = ph_now_ns();
		got = sum(ch.pages);
		if (got < ch.want * nr_cpus)
			panic_status(EXIT_FAIL, "@fail workload=burst out of memory: got %lu of %lu MiB",
				     mib(got), mib(ch.want * nr_cpus));
		on_each_cpu(chain_free, &ch);
		uint64_t t2 = ph_now_ns();
		kprintf("@event burst n=%lu mib=%lu alloc_us=%lu free_us=%lu\n", k + 1, mib(got),
			(t1 - t0) / 1000, (t2 - t1) / 1000);
		/* The first burst touches never-used memory under every
		 * engine alike; the steady state starts with the second. */
		if (k) {
			alloc_sum += t1 - t0;
			free_sum += t2 - t1;
			if (t1 - t0 > alloc_max)
				alloc_max = t1 - t0;
		}
		next += period;
		if (next < t2) {
			late++;
			next = t2;
		}
		wait_until(never, 0, next);
	}
	uint64_t warm = count > 1 ? count - 1 : 1;
	kprintf("@done workload=burst cpus=%u count=%lu mib=%lu period_ms=%lu alloc_us_mean=%lu "
		"alloc_us_max=%lu free_us_mean=%lu late=%lu\n", nr_cpus, count, mib(got),
		cfg.burst.period_ms, alloc_sum / warm / 1000, alloc_max / 1000, free_sum / warm / 1000,
		late);
}

/* ---- the run ---- */

void workload_run(void)
{
	wl_name = workload_names[cfg.workload];
	switch (cfg.workload) {
	case WL_MEMHOG:
		memhog();
		break;
	case WL_CHURN:
		churn();
		break;
	case WL_FRAGMENT:
		fragment();
		break;
	case WL_VERIFY:
		verify();
		break;
	case WL_BURST:
		burst();
		break;
	case WL_NONE:
		return;
	}
	/* The allocator must agree: no warnings, consistent lists and counts. */
	unsigned problems = ph_zone_check(&zone);
	if (problems || atomic_load(&ph_warnings))
		panic_status(EXIT_FAIL, "@fail workload=%s allocator: %u check problems, %u warnings",
			     wl_name, problems, atomic_load(&ph_warnings));
}
