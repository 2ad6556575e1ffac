/* SPDX-License-Identifier: MIT */
#include "reclaim_marks.h"

const double reclaim_mark_share[RECLAIM_NMARKS] = { 0.50, 0.90, 0.99 };

/* The last sample at or before t_ms; 0 if none is (n > 0). */
static size_t at_or_before(const struct reclaim_sample *s, size_t n, double t_ms)
{
	size_t lo = 0, hi = n;	/* s[lo - 1] <= t_ms < s[hi], bar the ends */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s[mid].t_ms <= t_ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

static size_t baseline(const struct reclaim_sample *s, size_t n, const struct reclaim_free *f)
{
	size_t i = at_or_before(s, n, f->start_ms);

	if (i + 1 < n && s[i].t_ms < f->start_ms &&
	    s[i + 1].t_ms <= f->start_ms + f->start_slack_ms && s[i + 1].mib > s[i].mib)
		i++;
	return i;
}

void reclaim_marks(const struct reclaim_sample *s, size_t n, const struct reclaim_free *f,
		   struct reclaim_marks *m)
{
	m->base_mib = RECLAIM_NEVER;
	for (int k = 0; k < RECLAIM_NMARKS; k++)
		m->ms[k] = m->after_end_ms[k] = RECLAIM_NEVER;
	if (!n)
		return;
	size_t i = baseline(s, n, f);
	m->base_mib = s[i].mib;
	if (!(f->freed_mib > 0))
		return;
	for (size_t j = i; j < n && s[j].t_ms <= f->until_ms; j++) {
		double drop = m->base_mib - s[j].mib;
		for (int k = 0; k < RECLAIM_NMARKS; k++) {
			if (m->ms[k] >= 0 || drop < reclaim_mark_share[k] * f->freed_mib)
				continue;
			m->ms[k] = s[j].t_ms > f->start_ms ? s[j].t_ms - f->start_ms : 0;
			if (f->end_ms >= f->start_ms)
				m->after_end_ms[k] = s[j].t_ms > f->end_ms ? s[j].t_ms - f->end_ms : 0;
		}
	}
}

double reclaim_returned_at(const struct reclaim_sample *s, size_t n, const struct reclaim_free *f,
			   double at_ms, double period_ms)
{
	double t = f->start_ms + at_ms;

	if (!n || !(f->freed_mib > 0) || s[n - 1].t_ms < t - 2 * period_ms)
		return RECLAIM_NEVER;
	double share = (s[baseline(s, n, f)].mib - s[at_or_before(s, n, t)].mib) / f->freed_mib;
	return share < 0 ? 0 : share > 1 ? 1 : share;
}
