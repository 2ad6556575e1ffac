/* SPDX-License-Identifier: MIT */
/*
 * The serial console (COM1, port 0x3f8) and printf. Each kprintf() call is
 * formatted into a buffer first and written under a lock, so lines from
 * different CPUs never interleave. On PVM every character is a VM exit
 * (~30 us): keep output terse; kinfo() is the chatter `quiet` silences.
 */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

extern bool console_quiet;

__attribute__((format(printf, 1, 2))) void kprintf(const char *fmt, ...);
__attribute__((format(printf, 3, 0)))
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
__attribute__((format(printf, 3, 4)))
int ksnprintf(char *buf, size_t size, const char *fmt, ...);

/* Write s as-is; force breaks a lock held by a CPU that faulted. */
void console_write(const char *s, size_t n, bool force);

#define kinfo(...) do { if (!console_quiet) kprintf(__VA_ARGS__); } while (0)

#endif
