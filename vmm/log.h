/* SPDX-License-Identifier: MIT */
/*
 * Logging for the VMM: one line per message, prefixed "pagehint: ".
 * The sink defaults to stderr; tests point it at a buffer or /dev/null.
 * Messages about the guest's misbehaviour go through a per-device
 * "once" mask so a broken guest cannot flood the log.
 */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdio.h>

void vmm_log_set_stream(FILE *f);
void vmm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
