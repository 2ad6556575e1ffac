/* SPDX-License-Identifier: MIT */
/*
 * Logging for the VMM: one line per message, prefixed "pagehint: ".
 * The sink defaults to stderr; tests point it at a buffer or /dev/null.
 * Messages about the guest's misbehaviour go through a per-device
 * "once" mask so a broken guest cannot flood the log.
 */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stddef.h>
#include <stdio.h>

void vmm_log_set_stream(FILE *f);
void vmm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A one-line reason into err (errlen bytes, truncated), for functions
 * that return -1 and say why in a caller's buffer; returns -1. */
int vmm_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
