/* SPDX-License-Identifier: MIT */
/*
 * reclaim_marks() over a samples CSV, for what computes reclaim figures
 * outside a pagehint process: make demo's QEMU path (scripts/demo.sh) and
 * tests/figures/analyze_py.sh, which holds scripts/linux-ref/analyze.py
 * against it:
 *
 *   marks SAMPLES.csv START_MS END_MS FREED_MIB [UNTIL_MS [PERIOD_MS [AT_MS...]]]
 *
 * SAMPLES.csv: a header line, then "t_ms,resident_mib" per sample, in
 * time order. END_MS < START_MS: the free's end is not known; UNTIL_MS
 * "inf": to the end. Prints one JSON object: base_mib, t50_ms, t90_ms,
 * t99_ms, the same after the end, and "returned" {AT_MS: share}; null
 * for never or not known.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "reclaim_marks.h"

static void num(const char *key, double v, const char *sep)
{
	if (v < 0)
		printf("\"%s\": null%s", key, sep);
	else
		printf("\"%s\": %.17g%s", key, v, sep);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: marks SAMPLES.csv START_MS END_MS FREED_MIB "
			"[UNTIL_MS [PERIOD_MS [AT_MS...]]]\n");
		return 64;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	struct reclaim_sample *s = NULL;
	size_t n = 0, cap = 0;
	char line[256];
	double t, mib;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;	/* the header */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lf,%lf", &t, &mib) != 2)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			struct reclaim_sample *ns = realloc(s, cap * sizeof(*ns));
			if (!ns) {
				perror("marks");
				return 1;
			}
			s = ns;
		}
		s[n++] = (struct reclaim_sample){ t, mib };
	}
	fclose(f);

	struct reclaim_free fr = {
		.start_ms = strtod(argv[2], NULL), .end_ms = strtod(argv[3], NULL),
		.freed_mib = strtod(argv[4], NULL),
		.until_ms = argc > 5 ? strtod(argv[5], NULL) : INFINITY,
	};
	double period = argc > 6 ? strtod(argv[6], NULL) : 10;
	struct reclaim_marks m;
	reclaim_marks(s, n, &fr, &m);

	static const char *const ms[RECLAIM_NMARKS] = { "t50_ms", "t90_ms", "t99_ms" };
	static const char *const after[RECLAIM_NMARKS] = {
		"t50_after_end_ms", "t90_after_end_ms", "t99_after_end_ms",
	};
	printf("{");
	num("base_mib", m.base_mib, ", ");
	for (int k = 0; k < RECLAIM_NMARKS; k++) {
		num(ms[k], m.ms[k], ", ");
		num(after[k], m.after_end_ms[k], ", ");
	}
	printf("\"returned\": {");
	for (int i = 7; i < argc; i++)
		num(argv[i], reclaim_returned_at(s, n, &fr, strtod(argv[i], NULL), period),
		    i + 1 < argc ? ", " : "");
	printf("}}\n");
	free(s);
	return 0;
}
