/* SPDX-License-Identifier: MIT */
/* The few C library functions the kernel needs (lib.c). */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* Parse an unsigned decimal or 0x-hex number filling [s, s+n) exactly
 * (optionally followed by a K/M/G multiplier when units). */
bool parse_u64(const char *s, size_t n, bool units, uint64_t *out);

/* A pointer to physical (= virtual) address a, hidden from GCC's
 * array-bounds reasoning about small constant addresses. */
static inline void *phys_ptr(uint64_t a)
{
	void *p;
	asm("" : "=r"(p) : "0"(a));
	return p;
}

/* xorshift64* PRNG, one state per user. */
static inline uint64_t rand64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

#endif
