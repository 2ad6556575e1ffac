/* SPDX-License-Identifier: MIT */
/*
 * A 16550A UART as far as a guest console needs it: the transmitter is
 * always empty (LSR THRE|TEMT), no receive data; DLAB, IER, LCR, MCR,
 * scratch are kept so a driver that programs them reads back what it
 * wrote, and loopback (MCR bit 4) mirrors the modem lines into MSR as
 * Linux's probe expects. The one interrupt is "transmitter empty": with
 * IER bit 1 set it is pending after each byte written and when the bit is
 * turned on, IIR reports (and clears) it, and each time it becomes pending
 * the irq callback raises an edge on the UART's line (Linux's 8250 driver
 * sends a tty's output from that interrupt). Output is assembled into lines
 * (CR dropped, LF ends a line, overlong lines are split) and handed to a
 * callback with the host time the line ended.
 */
#ifndef VMM_SERIAL_H
#define VMM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1 0x3f8
#define SERIAL_PORTS 8
#define SERIAL_LINE_MAX 1024

typedef void serial_line_fn(void *opaque, const char *line, size_t len, uint64_t host_ns);

struct serial {
	pthread_mutex_t lock;	/* vCPUs may print at once */
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	bool thre_pending;
	void (*irq)(void *opaque);	/* may be NULL: no interrupt line */
	void *irq_opaque;
	size_t len;
	char line[SERIAL_LINE_MAX + 1];
	serial_line_fn *emit;
	void *opaque;
};

void serial_init(struct serial *s, serial_line_fn *emit, void *opaque);
/* Wire the interrupt line: irq raises an edge on it. */
void serial_set_irq(struct serial *s, void (*irq)(void *opaque), void *opaque);
/* An access to port base + off (off < 8), one byte. */
void serial_out(struct serial *s, unsigned off, uint8_t v);
uint8_t serial_in(struct serial *s, unsigned off);
/* Emit a partial last line, if any (at exit). */
void serial_flush(struct serial *s);

#endif
