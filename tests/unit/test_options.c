/* SPDX-License-Identifier: MIT */
/* The option reader (vmm/options.c) on a table of every kind: values in
 * both spellings into fields of every width, one-line errors that name
 * the option, "--" and stray words, and the help laid out from the same
 * table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

struct t {
	bool flag;
	const char *path;
	uint64_t size;
	uint8_t u8;
	uint32_t u32;
	long l;
	double real;
	int word;
	unsigned called;
};

static int count(void *dst, const char *val, char *err, size_t n)
{
	struct t *t = dst;
	if (!strcmp(val, "no")) {
		snprintf(err, n, "'%s' is refused", val);
		return -1;
	}
	t->called++;
	return 0;
}

static const struct opt_word words[] = { { "one", 1 }, { "two", 2 }, { "three", 3 }, { NULL, 0 } };

#define AT(f) OPT_AT(struct t, f)
static const struct opt opts[] = {
	{ "--flag", NULL, OPT_FLAG, AT(flag), .help = "a flag" },
	{ "--path", "FILE", OPT_PATH, AT(path), .help = "a path" },
	{ "--size", "SIZE", OPT_SIZE, AT(size), .min = 1 << 20, .max = 1ULL << 30, .align = 4096,
	  .help = "a size\non two lines" },
	{ "--u8", "N", OPT_UINT, AT(u8), .max = 255, .help = "a byte" },
	{ "--u32", "N", OPT_UINT, AT(u32), .min = 1, .max = 100000, .help = "a number" },
	{ "--long", "N", OPT_UINT, AT(l), .max = 3600000, .help = "into a long" },
	{ "--real", "X", OPT_REAL, AT(real), .lo = 0, .hi = 1, .help = "a fraction" },
	{ "--word", "one|two|three", OPT_WORD, AT(word), .words = words, .help = "a word" },
	{ "--call", "V", OPT_CALL, .call = count, .help = "its own reader" },
	{ "--a-rather-long-option", "VALUE", OPT_PATH, AT(path), .help = "its help below" },
	{ "--help", NULL, OPT_HELP, .help = "this text" },
};
static const struct opt_cmd cmd = { "test", opts, sizeof(opts) / sizeof(opts[0]), "rest" };
static const struct opt_cmd cmd_no_rest = { "test", opts, sizeof(opts) / sizeof(opts[0]), NULL };

#define ARGV(...) ((const char *[]){ "x", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((const char *[]){ "x", __VA_ARGS__ }) / sizeof(char *)))

static char err[256];

static enum opt_result read_from(const struct opt_cmd *c, int argc, const char *const *argv,
				 struct t *t, int *i, uint64_t *given)
{
	memset(t, 0, sizeof(*t));
	t->l = -1;
	*i = 1;
	err[0] = 0;
	return opt_read(c, argc, argv, i, t, given, err, sizeof(err));
}
#define READ(t, i, given, ...) read_from(&cmd, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), t, i, given)

static void every_kind(void **state)
{
	(void)state;
	struct t t;
	uint64_t given = 0;
	int i;
	assert_int_equal(READ(&t, &i, &given, "--flag", "--path=p", "--size", "2M", "--u8=255",
			      "--u32", "100000", "--long", "3600000", "--real", "0.25", "--word=two",
			      "--call", "a", "--call=b", "--", "guest", "args"), OPT_DONE);
	assert_true(t.flag);
	assert_string_equal(t.path, "p");
	assert_int_equal(t.size, 2 << 20);
	assert_int_equal(t.u8, 255);
	assert_int_equal(t.u32, 100000);
	assert_int_equal(t.l, 3600000);
	assert_true(t.real == 0.25);
	assert_int_equal(t.word, 2);
	assert_int_equal(t.called, 2);
	assert_int_equal(i, 17);	/* "guest" */
	assert_true(opt_given(&cmd, given, "--word"));
	assert_false(opt_given(&cmd, given, "--help"));
	assert_false(opt_given(&cmd, given, "--nonesuch"));
}

static void defaults_stay_unless_given(void **state)
{
	(void)state;
	struct t t;
	uint64_t given = 0;
	int i;
	assert_int_equal(READ(&t, &i, &given, "--u8", "7"), OPT_DONE);
	assert_int_equal(t.l, -1);
	assert_int_equal(t.u8, 7);
	assert_int_equal(given, 1ULL << 3);
	assert_int_equal(i, 3);
}

static void help_asked(void **state)
{
	(void)state;
	struct t t;
	int i;
	assert_int_equal(READ(&t, &i, NULL, "--flag", "--help", "--bogus"), OPT_HELP_ASKED);
	assert_int_equal(READ(&t, &i, NULL, "-h"), OPT_HELP_ASKED);
}

static void expect_bad(const struct opt_cmd *c, int argc, const char *const *argv, const char *msg)
{
	struct t t;
	int i;
	assert_int_equal(read_from(c, argc, argv, &t, &i, NULL), OPT_BAD);
	assert_string_equal(err, msg);
}
#define BAD(msg, ...) expect_bad(&cmd, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), msg)

static void one_line_naming_the_option(void **state)
{
	(void)state;
	BAD("unknown option '--bogus' (try 'test --help')", "--bogus");
	BAD("unknown option '--bogus' (try 'test --help')", "--bogus=1");
	BAD("unknown option '--fla' (try 'test --help')", "--fla");
	BAD("unexpected argument 'word' (rest go after '--')", "word");
	expect_bad(&cmd_no_rest, ARGC("--"), ARGV("--"), "unknown option '--' (try 'test --help')");
	expect_bad(&cmd_no_rest, ARGC("w"), ARGV("w"), "unexpected argument 'w' (try 'test --help')");
	BAD("--u8 needs a value", "--u8");
	BAD("--flag takes no value", "--flag=yes");
	BAD("--path needs a file name", "--path=");
	BAD("--size: 'big' is not a size (e.g. 2G, 512M)", "--size", "big");
	BAD("--size: '4K' is not a multiple of 4K from 1M to 1G", "--size", "4K");
	BAD("--size: '1048577' is not a multiple of 4K from 1M to 1G", "--size", "1048577");
	BAD("--u8: '256' is not a number from 0 to 255", "--u8", "256");
	BAD("--u8: '-1' is not a number from 0 to 255", "--u8", "-1");
	BAD("--u32: '0' is not a number from 1 to 100000", "--u32", "0");
	BAD("--u32: '' is not a number from 1 to 100000", "--u32", "");
	BAD("--u32: '1x' is not a number from 1 to 100000", "--u32", "1x");
	BAD("--real: '1.5' is not a number from 0 to 1", "--real", "1.5");
	BAD("--real: 'nan' is not a number from 0 to 1", "--real", "nan");
	BAD("--word: 'four' is not one, two or three", "--word", "four");
	BAD("--call: 'no' is refused", "--call", "no");
}

static void help_from_the_table(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	opt_help(f, &cmd);
	fclose(f);
	static const char *const want[] = {
		"  --flag                  a flag\n",
		"  --size SIZE             a size\n                          on two lines\n",
		"  --word one|two|three    a word\n",
		"  --a-rather-long-option VALUE\n                          its help below\n",
		"  --help                  this text\n",
	};
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		if (!strstr(buf, want[k]))
			fail_msg("help lacks '%s':\n%s", want[k], buf);
	free(buf);
}

static void sizes(void **state)
{
	(void)state;
	uint64_t v;
	assert_true(opt_parse_size("2G", &v) && v == 2ULL << 30);
	assert_true(opt_parse_size("512m", &v) && v == 512ULL << 20);
	assert_true(opt_parse_size("64KiB", &v) && v == 64ULL << 10);
	assert_true(opt_parse_size("1.5G", &v) && v == 3ULL << 29);
	assert_true(opt_parse_size("4096", &v) && v == 4096);
	assert_true(opt_parse_size("1T", &v) && v == 1ULL << 40);
	assert_false(opt_parse_size("", &v));
	assert_false(opt_parse_size("G", &v));
	assert_false(opt_parse_size("2X", &v));
	assert_false(opt_parse_size("2GG", &v));
	assert_false(opt_parse_size("0.1", &v));
	assert_false(opt_parse_size("99999999999999999999T", &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_kind),
		cmocka_unit_test(defaults_stay_unless_given),
		cmocka_unit_test(help_asked),
		cmocka_unit_test(one_line_naming_the_option),
		cmocka_unit_test(help_from_the_table),
		cmocka_unit_test(sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
