/* SPDX-License-Identifier: MIT */
/* VM exits by cause (vmm/exits.c): which counter a register access, a
 * port or a KVM exit reason goes to; the stats queue's interrupts told
 * apart through the transport; the total as the sum of the causes; the
 * summary JSON's and the trace CSV's exit fields; the device's counters
 * in the summary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "balloon.h"
#include "exits.h"
#include "guest_mem.h"
#include "kvm_vm.h"
#include "telemetry.h"
#include "test_vmm_driver.h"

#define SQ 2	/* the stats queue, reporting 3, with both negotiated */
#define RQ 3

static void balloon_register_classes(void **state)
{
	(void)state;
	static const struct { uint64_t off; enum exit_cause c; } w[] = {
		{ VIRTIO_MMIO_MAGIC_VALUE, EXIT_BALLOON_OTHER },
		{ VIRTIO_MMIO_VERSION, EXIT_BALLOON_OTHER },
		{ VIRTIO_MMIO_DEVICE_ID, EXIT_BALLOON_OTHER },
		{ VIRTIO_MMIO_DEVICE_FEATURES, EXIT_BALLOON_FEATURES },
		{ VIRTIO_MMIO_DEVICE_FEATURES_SEL, EXIT_BALLOON_FEATURES },
		{ VIRTIO_MMIO_DRIVER_FEATURES, EXIT_BALLOON_FEATURES },
		{ VIRTIO_MMIO_DRIVER_FEATURES_SEL, EXIT_BALLOON_FEATURES },
		{ VIRTIO_MMIO_GUEST_PAGE_SIZE, EXIT_BALLOON_OTHER },
		{ VIRTIO_MMIO_QUEUE_SEL, EXIT_BALLOON_QUEUE },
		{ VIRTIO_MMIO_QUEUE_NUM_MAX, EXIT_BALLOON_QUEUE },
		{ VIRTIO_MMIO_QUEUE_NUM, EXIT_BALLOON_QUEUE },
		{ VIRTIO_MMIO_QUEUE_PFN, EXIT_BALLOON_OTHER },
		{ VIRTIO_MMIO_QUEUE_READY, EXIT_BALLOON_QUEUE },
		{ VIRTIO_MMIO_QUEUE_DESC_HIGH, EXIT_BALLOON_QUEUE },
		{ VIRTIO_MMIO_QUEUE_USED_LOW, EXIT_BALLOON_QUEUE },
		{ VIRTIO_MMIO_INTERRUPT_STATUS, EXIT_BALLOON_IRQ },
		{ VIRTIO_MMIO_INTERRUPT_ACK, EXIT_BALLOON_IRQ },
		{ VIRTIO_MMIO_STATUS, EXIT_BALLOON_STATUS },
		{ VIRTIO_MMIO_STATUS + 2, EXIT_BALLOON_STATUS },	/* a byte inside it */
		{ VIRTIO_MMIO_SHM_SEL, EXIT_BALLOON_OTHER },
		{ VIRTIO_MMIO_CONFIG_GENERATION, EXIT_BALLOON_CONFIG },
		{ VIRTIO_MMIO_CONFIG, EXIT_BALLOON_CONFIG },
		{ VIRTIO_MMIO_CONFIG + 7, EXIT_BALLOON_CONFIG },
		{ 0xf0, EXIT_BALLOON_OTHER },	/* a hole */
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (exit_cause_balloon(w[i].off, i % 2, BQ_NONE) != w[i].c)
			fail_msg("offset %#llx: cause %s, want %s", (unsigned long long)w[i].off,
				 exit_cause_names[exit_cause_balloon(w[i].off, i % 2, BQ_NONE)],
				 exit_cause_names[w[i].c]);
}

static void notifies_by_queue_role(void **state)
{
	(void)state;
	static const enum exit_cause want[EXIT_ROLES] = {
		[BQ_INFLATE] = EXIT_BALLOON_NOTIFY_INFLATE, [BQ_DEFLATE] = EXIT_BALLOON_NOTIFY_DEFLATE,
		[BQ_STATS] = EXIT_BALLOON_NOTIFY_STATS, [BQ_REPORT] = EXIT_BALLOON_NOTIFY_REPORT,
		[BQ_MAP] = EXIT_BALLOON_NOTIFY_MAP, [BQ_NONE] = EXIT_BALLOON_NOTIFY_OTHER,
	};
	for (unsigned r = 0; r < EXIT_ROLES; r++)
		assert_int_equal(exit_cause_balloon(VIRTIO_MMIO_QUEUE_NOTIFY, true, r), want[r]);
	/* reading QueueNotify notifies nothing */
	assert_int_equal(exit_cause_balloon(VIRTIO_MMIO_QUEUE_NOTIFY, false, BQ_REPORT),
			 EXIT_BALLOON_OTHER);
	/* the interrupt registers: the stats queue's own class when only it raised it */
	assert_int_equal(exit_cause_balloon(VIRTIO_MMIO_INTERRUPT_STATUS, false, BQ_STATS),
			 EXIT_BALLOON_IRQ_STATS);
	assert_int_equal(exit_cause_balloon(VIRTIO_MMIO_INTERRUPT_ACK, true, BQ_STATS),
			 EXIT_BALLOON_IRQ_STATS);
	assert_int_equal(exit_cause_balloon(VIRTIO_MMIO_INTERRUPT_ACK, true, BQ_REPORT),
			 EXIT_BALLOON_IRQ);
}

static void ports_and_reasons(void **state)
{
	(void)state;
	for (uint16_t p = SERIAL_COM1; p < SERIAL_COM1 + SERIAL_PORTS; p++)
		assert_int_equal(exit_cause_port(p), EXIT_IO_SERIAL);
	assert_int_equal(exit_cause_port(SERIAL_COM1 - 1), EXIT_IO_OTHER);
	assert_int_equal(exit_cause_port(SERIAL_COM1 + SERIAL_PORTS), EXIT_IO_OTHER);
	assert_int_equal(exit_cause_port(EXIT_PORT), EXIT_IO_EXIT_PORT);
	assert_int_equal(exit_cause_port(EXIT_PORT + 1), EXIT_IO_EXIT_PORT);
	assert_int_equal(exit_cause_port(EXIT_PORT + EXIT_PORT_SIZE), EXIT_IO_OTHER);
	assert_int_equal(exit_cause_port(0x80), EXIT_IO_OTHER);
	assert_int_equal(exit_cause_reason(KVM_EXIT_HLT), EXIT_HLT);
	assert_int_equal(exit_cause_reason(KVM_EXIT_INTR), EXIT_INTR);
	assert_int_equal(exit_cause_reason(KVM_EXIT_SHUTDOWN), EXIT_OTHER);
	assert_int_equal(exit_cause_reason(KVM_EXIT_INTERNAL_ERROR), EXIT_OTHER);
	assert_int_equal(exit_cause_reason(KVM_EXIT_SYSTEM_EVENT), EXIT_OTHER);
	assert_int_equal(exit_cause_reason(12345), EXIT_OTHER);
}

static void names_are_distinct(void **state)
{
	(void)state;
	for (unsigned i = 0; i < EXIT_CAUSE_COUNT; i++) {
		assert_non_null(exit_cause_names[i]);
		for (unsigned j = 0; j < i; j++)
			assert_string_not_equal(exit_cause_names[i], exit_cause_names[j]);
	}
	for (unsigned i = 0; i < EXIT_ROLES; i++)
		assert_non_null(exit_role_names[i]);
}

static enum balloon_queue_role role_of(void *b, unsigned q)
{
	return balloon_queue_role(b, q);
}

/* Stats request, then a report: whose interrupt the driver acknowledges. */
static void interrupts_told_apart_by_queue(void **state)
{
	(void)state;
	struct t_dev *d = t_dev_new(NULL);
	t_bringup(d, T_FEAT_DEFAULT, 32);
	struct exit_stats x = { 0 };
#define ACCESS(off, wr, val) exit_stats_count(&x, exit_cause_vmmio(d->t, off, wr, val, role_of, d->b))

	/* the driver queues its stats buffer: a stats notify */
	uint64_t gpa = 0x3a0000;
	uint32_t len = 16;
	t_add_ranges(d, SQ, &gpa, &len, 1, false);
	ACCESS(VIRTIO_MMIO_QUEUE_NOTIFY, true, SQ);
	t_kick(d, SQ);
	/* the host asks for fresh stats: an interrupt only the stats queue raised */
	balloon_request_stats(d->b);
	assert_int_equal(virtio_mmio_irq_queues(d->t), 1u << SQ);
	ACCESS(VIRTIO_MMIO_INTERRUPT_STATUS, false, 0);
	ACCESS(VIRTIO_MMIO_INTERRUPT_ACK, true, VIRTIO_MMIO_INT_VRING);
	t_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(virtio_mmio_irq_queues(d->t), 0);

	/* a report: its notify and interrupt are the device's */
	uint64_t r = 0x400000;
	uint32_t rl = 4096;
	t_add_ranges(d, RQ, &r, &rl, 1, true);
	ACCESS(VIRTIO_MMIO_QUEUE_NOTIFY, true, RQ);
	t_kick(d, RQ);
	assert_int_equal(virtio_mmio_irq_queues(d->t), 1u << RQ);
	/* a stats interrupt on top of it: both queues, not the stats queue's alone */
	balloon_request_stats(d->b);
	t_add_ranges(d, SQ, &gpa, &len, 1, false);
	t_kick(d, SQ);
	balloon_request_stats(d->b);
	assert_int_equal(virtio_mmio_irq_queues(d->t), (1u << RQ) | (1u << SQ));
	ACCESS(VIRTIO_MMIO_INTERRUPT_STATUS, false, 0);
	ACCESS(VIRTIO_MMIO_INTERRUPT_ACK, true, VIRTIO_MMIO_INT_VRING);
	t_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	/* a queue index beyond any queue */
	ACCESS(VIRTIO_MMIO_QUEUE_NOTIFY, true, 1000);
#undef ACCESS

	struct exit_counts c;
	exit_stats_read(&x, &c);
	assert_int_equal(c.cause[EXIT_BALLOON_NOTIFY_STATS], 1);
	assert_int_equal(c.cause[EXIT_BALLOON_IRQ_STATS], 2);
	assert_int_equal(c.cause[EXIT_BALLOON_NOTIFY_REPORT], 1);
	assert_int_equal(c.cause[EXIT_BALLOON_IRQ], 2);
	assert_int_equal(c.cause[EXIT_BALLOON_NOTIFY_OTHER], 1);
	assert_int_equal(exit_counts_total(&c), 7);
	assert_int_equal(exit_counts_device(&c), 4);
	/* without a role lookup nothing is the stats queue's */
	assert_int_equal(exit_cause_vmmio(d->t, VIRTIO_MMIO_QUEUE_NOTIFY, true, SQ, NULL, NULL),
			 EXIT_BALLOON_NOTIFY_OTHER);
	t_dev_free(d);
}

static void total_is_the_sum_of_the_causes(void **state)
{
	(void)state;
	struct exit_stats x = { 0 };
	uint64_t n = 0, stats = 0, notifies = 0;
	for (unsigned i = 0; i < 1000; i++) {
		enum exit_cause c = (enum exit_cause)((i * 7 + i / 3) % EXIT_CAUSE_COUNT);
		exit_stats_count(&x, c);
		n++;
		stats += c == EXIT_BALLOON_NOTIFY_STATS || c == EXIT_BALLOON_IRQ_STATS;
	}
	exit_stats_notify(&x, BQ_REPORT, 5);
	exit_stats_notify(&x, BQ_STATS, 3);
	exit_stats_notify(&x, (enum balloon_queue_role)99, 1);	/* no such role: other */
	notifies = 9;
	struct exit_counts c;
	exit_stats_read(&x, &c);
	/* ioeventfd notifies are no exits to userspace */
	assert_int_equal(exit_counts_total(&c), n);
	uint64_t by_kind = exit_counts_io(&c) + exit_counts_mmio(&c) + c.cause[EXIT_HLT] +
			   c.cause[EXIT_INTR] + c.cause[EXIT_OTHER];
	assert_int_equal(by_kind, n);
	assert_int_equal(exit_counts_notifies(&c), notifies);
	assert_int_equal(c.notify[BQ_NONE], 1);
	uint64_t balloon = 0;
	for (unsigned i = EXIT_BALLOON_NOTIFY_INFLATE; i <= EXIT_BALLOON_OTHER; i++)
		balloon += c.cause[i];
	assert_int_equal(exit_counts_device(&c), balloon - stats + notifies - 3);
}

static char *summary_text(const struct summary *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	telemetry_write_summary(f, s);
	fclose(f);
	return buf;
}

static void summary_json_fields(void **state)
{
	(void)state;
	struct summary s = { .guest_exit = 0, .cpus = 2, .end_reason = "exit" };
	s.exits.cause[EXIT_BALLOON_NOTIFY_REPORT] = 2;
	s.exits.cause[EXIT_BALLOON_IRQ] = 10;
	s.exits.cause[EXIT_BALLOON_IRQ_STATS] = 20;
	s.exits.cause[EXIT_IO_SERIAL] = 100;
	s.exits.cause[EXIT_INTR] = 3;
	s.exits.notify[BQ_REPORT] = 40;
	s.exits.notify[BQ_STATS] = 9;
	char *buf = summary_text(&s);
	static const char *const want[] = {
		"\"exits_total\": 135,",
		"\"exits\": {\"balloon_notify_inflate\": 0, ",
		"\"balloon_notify_report\": 2, ",
		"\"balloon_irq\": 10, \"balloon_irq_stats\": 20, ",
		"\"io_serial\": 100, \"io_exit_port\": 0, \"io_acpi\": 0, \"io_other\": 0, \"hlt\": 0, "
		"\"intr\": 3, \"other_reason\": 0},",
		"\"ioeventfd_notifies\": {\"total\": 49, \"inflate\": 0, \"deflate\": 0, "
		"\"stats\": 9, \"report\": 40, \"map\": 0, \"other\": 0},",
		"\"device_exits\": 52,",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(buf, want[i]))
			fail_msg("summary lacks %s:\n%s", want[i], buf);
	for (unsigned i = 0; i < EXIT_CAUSE_COUNT; i++) {
		char key[64];
		snprintf(key, sizeof(key), "\"%s\": ", exit_cause_names[i]);
		assert_non_null(strstr(buf, key));
	}
	free(buf);
}

/* The device's counters reach the summary: the report queue's, the
 * exitless map's, and the faults of both, only in faulty-device mode. */
static void summary_counters_from_the_device(void **state)
{
	(void)state;
	enum { MEM = 4 << 20 };
	struct guest_mem gm;
	void *mem = calloc(1, MEM);
	assert_non_null(mem);
	gm_init_buffer(&gm, mem, 0, MEM);
	struct balloon_config bc = { .protocol = BALLOON_PROTO_VIRTIO };
	fault_config_init(&bc.fault);
	struct balloon_dev *b = balloon_create(&gm, &bc);
	assert_non_null(b);
	/* the counters are the device's to write; the test stands in for it */
	struct balloon_counters *c = (struct balloon_counters *)balloon_counters(b);
	atomic_store(&c->report_requests, 7);
	atomic_store(&c->discarded_bytes, 3ul << 20);
	atomic_store(&c->xl.throttled, 5);
	atomic_store(&c->faults_dropped, 2);
	atomic_store(&c->xl.faults_dropped, 1);
	atomic_store(&c->canceled_bytes, 1ul << 20);
	atomic_store(&c->xl.canceled_bytes, 1ul << 19);

	struct telemetry t;
	telemetry_init(&t);
	t.balloon = b;
	struct summary s = { 0 };
	telemetry_summarize(&t, &s, false);
	assert_int_equal(s.report_requests, 7);
	assert_true(s.discarded_mib == 3.0);
	assert_int_equal(s.xl.throttled, 5);
	assert_int_equal(s.faults_dropped, 0);
	telemetry_summarize(&t, &s, true);
	assert_int_equal(s.faults_dropped, 3);
	assert_true(s.faults_canceled_mib == 1.5);

	telemetry_destroy(&t);
	balloon_destroy(b);
	free(mem);
}

/* The CSV's columns by name: as many names as values, the exit columns
 * where their names say. */
static void csv_columns_by_name(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct sample s = { .t_ns = 10000000, .notifies = 41 };
	s.x.cause[EXIT_BALLOON_NOTIFY_STATS] = 1;
	s.x.cause[EXIT_BALLOON_QUEUE] = 20;
	s.x.cause[EXIT_IO_EXIT_PORT] = 1;
	s.x.cause[EXIT_OTHER] = 2;
	s.x.notify[BQ_REPORT] = 40;
	s.x.notify[BQ_STATS] = 1;
	telemetry_csv_header(f);
	telemetry_csv_row(f, &s);
	fclose(f);

	char *nl = strchr(buf, '\n');
	assert_non_null(nl);
	*nl = 0;
	char *names[96], *vals[96], *sp1, *sp2;
	unsigned nn = 0, nv = 0;
	for (char *t = strtok_r(buf, ",", &sp1); t && nn < 96; t = strtok_r(NULL, ",", &sp1))
		names[nn++] = t;
	for (char *t = strtok_r(nl + 1, ",\n", &sp2); t && nv < 96; t = strtok_r(NULL, ",\n", &sp2))
		vals[nv++] = t;
	assert_int_equal(nn, nv);
	static const struct { const char *name, *val; } want[] = {
		{ "exits", "24" }, { "exits_io", "1" }, { "exits_mmio", "21" }, { "exits_other", "2" },
		{ "notifications", "41" }, { "exits_balloon_notify_stats", "1" },
		{ "exits_balloon_queue", "20" }, { "exits_io_exit_port", "1" },
		{ "exits_other_reason", "2" },
		{ "notifications_report", "40" }, { "notifications_stats", "1" },
		{ "device_exits", "60" },
	};
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		unsigned i = 0;
		/* cppcheck-suppress uninitvar ; names[0, nn) were filled above */
		while (i < nn && strcmp(names[i], want[k].name))
			i++;
		if (i == nn)
			fail_msg("no column %s", want[k].name);
		/* A failed cmocka assert ends the test; the analyzer goes on.
		 * NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
		if (strcmp(vals[i], want[k].val))
			fail_msg("%s: %s, want %s", want[k].name, vals[i], want[k].val);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(balloon_register_classes),
		cmocka_unit_test(notifies_by_queue_role),
		cmocka_unit_test(ports_and_reasons),
		cmocka_unit_test(names_are_distinct),
		cmocka_unit_test(interrupts_told_apart_by_queue),
		cmocka_unit_test(total_is_the_sum_of_the_causes),
		cmocka_unit_test(summary_json_fields),
		cmocka_unit_test(summary_counters_from_the_device),
		cmocka_unit_test(csv_columns_by_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
