/* SPDX-License-Identifier: MIT */
/*
 * Decoding a libFuzzer input into values, as QEMU's virtio fuzzers do:
 * every read succeeds (0 once the input is used up), so a short input is a
 * short but well-formed action sequence. Header-only, one per fuzzer.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer's entry point, which each fuzzer defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_empty(const struct fz *f) { return f->n == 0; }

static inline uint64_t fz_bytes(struct fz *f, unsigned k)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < k; i++) {
		uint64_t b = 0;
		if (f->n) {
			b = *f->p++;
			f->n--;
		}
		v |= b << (8 * i);
	}
	return v;
}

static inline uint8_t fz_u8(struct fz *f) { return (uint8_t)fz_bytes(f, 1); }
static inline uint16_t fz_u16(struct fz *f) { return (uint16_t)fz_bytes(f, 2); }
static inline uint32_t fz_u32(struct fz *f) { return (uint32_t)fz_bytes(f, 4); }
static inline uint64_t fz_u64(struct fz *f) { return fz_bytes(f, 8); }

/* A value in [0, n). */
static inline unsigned fz_below(struct fz *f, unsigned n)
{
	return n ? fz_u8(f) % n : 0;
}

/* An invariant of the code under test broke: say which, then abort so
 * libFuzzer keeps the input as a crash. */
#define FZ_ASSERT(cond, ...) do {                                          \
	if (!(cond)) {                                                     \
		fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__,  \
			__LINE__, #cond);                                  \
		fprintf(stderr, __VA_ARGS__);                              \
		fputc('\n', stderr);                                       \
		abort();                                                   \
	}                                                                  \
} while (0)

#endif
