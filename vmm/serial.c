/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <time.h>

#include "serial.h"
#include "clock.h"

/* Register offsets and bits (the 16550 data sheet). */
#define UART_RX_TX	0	/* DLAB=0: RBR / THR; DLAB=1: DLL */
#define UART_IER	1	/* DLAB=1: DLM */
#define UART_IIR_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7
#define LCR_DLAB	0x80
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IER_THRI	0x02
#define IIR_FIFO	0xc0
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_DCD		0x80
#define MCR_LOOP	0x10

void serial_init(struct serial *s, serial_line_fn *emit, void *opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->emit = emit;
	s->opaque = opaque;
	s->dll = 12;	/* 9600 baud, as after a BIOS */
	s->lcr = 0x03;	/* 8N1 */
}

void serial_set_irq(struct serial *s, void (*irq)(void *opaque), void *opaque)
{
	pthread_mutex_lock(&s->lock);
	s->irq = irq;
	s->irq_opaque = opaque;
	pthread_mutex_unlock(&s->lock);
}

/* Caller holds lock. */
static void emit_line(struct serial *s)
{
	s->line[s->len] = 0;
	if (s->emit)
		s->emit(s->opaque, s->line, s->len, mono_ns());
	s->len = 0;
}

static void put_char(struct serial *s, uint8_t c)
{
	if (c == '\r')
		return;
	if (c == '\n') {
		emit_line(s);
		return;
	}
	if (s->len == SERIAL_LINE_MAX)
		emit_line(s);
	s->line[s->len++] = (char)c;
}

void serial_out(struct serial *s, unsigned off, uint8_t v)
{
	bool raise = false;

	pthread_mutex_lock(&s->lock);
	switch (off) {
	case UART_RX_TX:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			break;
		}
		if (!(s->mcr & MCR_LOOP))
			put_char(s, v);
		/* The byte is gone at once: the holding register is empty again. */
		s->thre_pending = true;
		raise = s->ier & IER_THRI;
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			if (!(s->ier & IER_THRI) && (v & IER_THRI)) {
				s->thre_pending = true;
				raise = true;
			}
			s->ier = v & 0x0f;
		}
		break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR: s->mcr = v & 0x1f; break;
	case UART_SCR: s->scr = v; break;
	default: break;	/* FCR, LSR, MSR: nothing to keep */
	}
	void (*irq)(void *) = s->irq;
	void *opaque = s->irq_opaque;
	pthread_mutex_unlock(&s->lock);
	if (raise && irq)
		irq(opaque);
}

uint8_t serial_in(struct serial *s, unsigned off)
{
	uint8_t v = 0;

	pthread_mutex_lock(&s->lock);
	switch (off) {
	case UART_RX_TX: v = (s->lcr & LCR_DLAB) ? s->dll : 0; break;
	case UART_IER: v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier; break;
	case UART_IIR_FCR:
		if ((s->ier & IER_THRI) && s->thre_pending) {
			v = IIR_THRI | IIR_FIFO;
			s->thre_pending = false;	/* reading IIR clears it */
		} else {
			v = IIR_NO_INT | IIR_FIFO;
		}
		break;
	case UART_LCR: v = s->lcr; break;
	case UART_MCR: v = s->mcr; break;
	case UART_LSR: v = LSR_THRE | LSR_TEMT; break;
	case UART_MSR:
		if (s->mcr & MCR_LOOP)	/* RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD */
			v = (uint8_t)((s->mcr & 0x02) << 3 | (s->mcr & 0x01) << 5 |
				      (s->mcr & 0x0c) << 4);
		else
			v = MSR_CTS | MSR_DSR | MSR_DCD;
		break;
	case UART_SCR: v = s->scr; break;
	}
	pthread_mutex_unlock(&s->lock);
	return v;
}

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->len)
		emit_line(s);
	pthread_mutex_unlock(&s->lock);
}
