/* SPDX-License-Identifier: MIT */
/* The guest's results lines (vmm/guest_line.c): each "@event" name, its
 * mib= and alloc_us= fields, and key=N fields in general. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "guest_line.h"

static void events_by_name(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum guest_event kind;
	} t[] = {
		{ "@event alloc mib=768 round=1", GUEST_EVENT_ALLOC },
		{ "@event freeing", GUEST_EVENT_FREEING },
		{ "@event freeing mib=768 round=1", GUEST_EVENT_FREEING },
		{ "@event free mib=768 round=1", GUEST_EVENT_FREE },
		{ "@event free", GUEST_EVENT_FREE },
		{ "@event churn", GUEST_EVENT_CHURN },
		{ "@event churn ms=2000 mib=128", GUEST_EVENT_CHURN },
		{ "@event bursts count=8 mib=64 period_ms=500", GUEST_EVENT_BURSTS },
		{ "@event burst n=1 mib=64 alloc_us=5000 free_us=900", GUEST_EVENT_BURST },
		{ "@event", GUEST_EVENT_OTHER },
		{ "@event freed mib=3", GUEST_EVENT_OTHER },	/* a name is a whole word */
		{ "@event frees", GUEST_EVENT_OTHER },
		{ "@events free mib=3", GUEST_EVENT_NONE },
		{ "@done workload=memhog", GUEST_EVENT_NONE },
		{ "x @event free mib=3", GUEST_EVENT_NONE },
		{ "", GUEST_EVENT_NONE },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (guest_event_parse(t[i].line).kind != t[i].kind)
			fail_msg("'%s': kind %d, want %d", t[i].line, guest_event_parse(t[i].line).kind,
				 t[i].kind);
}

static void event_fields(void **state)
{
	(void)state;
	struct guest_event_line ev = guest_event_parse("@event free mib=1536 round=2");
	assert_true(ev.mib == 1536);
	assert_true(ev.alloc_us < 0);
	ev = guest_event_parse("@event burst n=3 mib=64 alloc_us=5123 free_us=900");
	assert_true(ev.mib == 64 && ev.alloc_us == 5123);
	/* absent, not a number, or negative: none */
	assert_true(guest_event_parse("@event freeing").mib < 0);
	assert_true(guest_event_parse("@event free mib=12x").mib < 0);
	assert_true(guest_event_parse("@event free mib=").mib < 0);
	assert_true(guest_event_parse("@event free mib=-4").mib < 0);
	/* another key that ends in the name is not the field */
	assert_true(guest_event_parse("@event free total_mib=9").mib < 0);
	assert_true(guest_event_parse("@event free total_mib=9 mib=8").mib == 8);
}

static void fields(void **state)
{
	(void)state;
	double v = 0;
	assert_true(guest_line_field("@done pages=100 pages_per_s=3000000.5", "pages_per_s", &v));
	assert_true(v == 3000000.5);
	assert_true(guest_line_field("@done pages=100 pages_per_s=3000000.5", "pages", &v));
	assert_true(v == 100);
	assert_true(guest_line_field("errors=7 at the start", "errors", &v));
	assert_true(v == 7);
	assert_true(guest_line_field("@x d=-2.5", "d", &v));
	assert_true(v == -2.5);
	v = 42;
	assert_false(guest_line_field("@x a=1", "b", &v));
	assert_false(guest_line_field("@x a=1,", "a", &v));	/* ends at a space or the line's end */
	assert_false(guest_line_field("@x a= 1", "a", &v));
	assert_false(guest_line_field("@x a=inf", "a", &v));
	assert_false(guest_line_field("@x a=nan", "a", &v));
	assert_false(guest_line_field("@x a", "a", &v));
	assert_true(v == 42);	/* untouched when false */
}

static void words(void **state)
{
	(void)state;
	assert_true(guest_line_word("@fail", "@fail"));
	assert_true(guest_line_word("@fail verify: page 0x1234", "@fail"));
	assert_false(guest_line_word("@failed", "@fail"));
	assert_false(guest_line_word("@fai", "@fail"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(events_by_name),
		cmocka_unit_test(event_fields),
		cmocka_unit_test(fields),
		cmocka_unit_test(words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
