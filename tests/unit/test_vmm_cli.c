/* SPDX-License-Identifier: MIT */
/* `pagehint run` option parsing (vmm/cli.c): defaults, every option in
 * both spellings, --help listing the whole table, and a one-line error and
 * status 64 for each bad flag or value. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define ARGV(...) ((const char *[]){ "pagehint", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((const char *[]){ "pagehint", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err), sizeof(err))

static void defaults(void **state)
{
	(void)state;
	struct vmm_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "run"), CLI_RUN);
	assert_int_equal(o.mem, 2ULL << 30);
	assert_int_equal(o.cpus, 2);
	assert_int_equal(o.backing, GM_BACKING_ANON);
	assert_true(o.thp);
	assert_false(o.populate);
	assert_int_equal(o.discard, GM_DISCARD_DONTNEED);
	assert_int_equal(o.protocol, BALLOON_PROTO_VIRTIO);
	assert_null(o.kernel);
	assert_null(o.trace);
	assert_null(o.summary);
	assert_false(o.has_target);
	assert_true(o.timeout == 0);
	assert_false(o.no_exitless);	/* offered unless turned off */
	assert_string_equal(o.cmdline, "");
}

static void every_option(void **state)
{
	(void)state;
	struct vmm_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "run", "--kernel", "k.elf", "--mem=4G", "--cpus", "4",
			       "--backing", "memfd", "--thp=off", "--populate", "on", "--discard", "punch",
			       "--balloon-protocol", "seed-v8", "--balloon-target", "512M",
			       "--trace", "t.csv", "--summary-json=s.json", "--timeout", "2.5", "--quiet",
			       "--no-exitless", "--", "workload=memhog", "memhog.mib=64"), CLI_RUN);
	assert_string_equal(o.kernel, "k.elf");
	assert_int_equal(o.mem, 4ULL << 30);
	assert_int_equal(o.cpus, 4);
	assert_int_equal(o.backing, GM_BACKING_MEMFD);
	assert_false(o.thp);
	assert_true(o.populate);
	assert_int_equal(o.discard, GM_DISCARD_PUNCH);
	assert_int_equal(o.protocol, BALLOON_PROTO_SEED_V8);
	assert_true(o.has_target);
	assert_int_equal(o.target, 512ULL << 20);
	assert_string_equal(o.trace, "t.csv");
	assert_string_equal(o.summary, "s.json");
	assert_true(o.timeout == 2.5);
	assert_true(o.quiet);
	assert_true(o.no_exitless);
	assert_string_equal(o.cmdline, "workload=memhog memhog.mib=64");
}

static void memfd_defaults_to_punch(void **state)
{
	(void)state;
	struct vmm_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "run", "--backing", "memfd"), CLI_RUN);
	assert_int_equal(o.discard, GM_DISCARD_PUNCH);
	assert_int_equal(PARSE(&o, err, "run", "--backing", "memfd", "--discard", "dontneed"), CLI_RUN);
	assert_int_equal(o.discard, GM_DISCARD_DONTNEED);
}

static void help(void **state)
{
	(void)state;
	struct vmm_opts o;
	char err[256];
	assert_int_equal(PARSE(&o, err, "--help"), CLI_HELP);
	assert_int_equal(PARSE(&o, err, "run", "--mem", "1G", "--help"), CLI_HELP);
}

static void expect_error(int argc, const char *const *argv, const char *needle)
{
	struct vmm_opts o;
	char err[256];
	assert_int_equal(cli_parse(argc, argv, &o, err, sizeof(err)), CLI_ERROR);
	assert_null(strchr(err, '\n'));
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
}
#define ERR(needle, ...) expect_error(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), needle)

static void bad_flags_and_values(void **state)
{
	(void)state;
	expect_error(1, (const char *[]){ "pagehint", NULL }, "no command");
	ERR("unknown command", "boot");
	ERR("unknown option '--frob'", "run", "--frob");
	ERR("unknown option '--frob'", "run", "--frob=1");
	ERR("unexpected argument", "run", "workload=x");
	ERR("--mem needs a value", "run", "--mem");
	ERR("--mem: '12x'", "run", "--mem", "12x");
	ERR("--mem", "run", "--mem", "1M");
	ERR("--mem", "run", "--mem", "100000001");
	ERR("--mem", "run", "--mem", "-1G");
	ERR("--cpus", "run", "--cpus", "0");
	ERR("--cpus", "run", "--cpus", "65");
	ERR("--cpus", "run", "--cpus", "2x");
	ERR("--cpus", "run", "--cpus", "");
	ERR("--backing", "run", "--backing", "file");
	ERR("--thp", "run", "--thp", "yes");
	ERR("--discard", "run", "--discard", "zap");
	ERR("--discard punch needs --backing memfd", "run", "--discard", "punch");
	ERR("--discard free", "run", "--backing", "memfd", "--discard", "free");
	ERR("--balloon-protocol", "run", "--balloon-protocol", "v9");
	ERR("--balloon-target", "run", "--balloon-target", "3G");
	ERR("--balloon-target", "run", "--balloon-target", "lots");
	ERR("--timeout", "run", "--timeout", "0");
	ERR("--timeout", "run", "--timeout", "-3");
	ERR("--timeout", "run", "--timeout", "soon");
	ERR("--kernel", "run", "--kernel=");
}

/* Every option in the table has its own entry in --help. */
static void help_lists_every_option(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cli_usage(f);
	fclose(f);
	for (size_t k = 0; k < cli_run_opts.n; k++) {
		char entry[64];
		snprintf(entry, sizeof(entry), "\n  %s ", cli_run_opts.opts[k].name);
		if (!strstr(buf, entry))
			fail_msg("--help lacks %s:\n%s", cli_run_opts.opts[k].name, buf);
	}
	free(buf);
}

/* What main does with argv: the status, and what it wrote to out and err. */
static int read_args(int argc, const char *const *argv, char **out, char **err)
{
	struct vmm_opts o;
	size_t no, ne;
	FILE *fo = open_memstream(out, &no), *fe = open_memstream(err, &ne);
	int status = cli_read(argc, argv, &o, fo, fe);
	fclose(fo);
	fclose(fe);
	return status;
}

/* exit 64, one "pagehint: " line on stderr that names the flag, nothing on stdout */
static void expect_exit_64(int argc, const char *const *argv, const char *flag)
{
	char *out, *err;
	assert_int_equal(read_args(argc, argv, &out, &err), CLI_EXIT_USAGE);
	assert_string_equal(out, "");
	assert_true(!strncmp(err, "pagehint: ", 10));
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
	if (!strstr(err, flag))
		fail_msg("'%s' does not name %s", err, flag);
	free(out);
	free(err);
}
#define EXIT64(flag, ...) expect_exit_64(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), flag)

static void bad_usage_exits_64(void **state)
{
	(void)state;
	EXIT64("--frobnicate", "run", "--frobnicate");
	EXIT64("--frobnicate", "run", "--mem", "1G", "--frobnicate=3");
	for (size_t k = 0; k < cli_run_opts.n; k++) {
		const struct opt *op = &cli_run_opts.opts[k];
		char with_value[64];
		snprintf(with_value, sizeof(with_value), "%s=1", op->name);
		if (op->arg)	/* a missing value */
			EXIT64(op->name, "run", op->name);
		else		/* a value for a flag */
			EXIT64(op->name, "run", with_value);
	}
	EXIT64("--cpus", "run", "--cpus", "many");
	EXIT64("--mem", "run", "--mem=12x");
	EXIT64("--discard", "run", "--discard", "zap");
	EXIT64("--fault-rate", "run", "--fault-rate", "2");
}

static void help_and_run_statuses(void **state)
{
	(void)state;
	char *out, *err;
	assert_int_equal(read_args(ARGC("run", "--help"), ARGV("run", "--help"), &out, &err), 0);
	assert_non_null(strstr(out, "usage: pagehint run"));
	assert_string_equal(err, "");
	free(out);
	free(err);
	assert_int_equal(read_args(ARGC("run", "--mem", "1G"), ARGV("run", "--mem", "1G"), &out, &err), -1);
	assert_string_equal(out, "");
	assert_string_equal(err, "");
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(every_option),
		cmocka_unit_test(memfd_defaults_to_punch),
		cmocka_unit_test(help),
		cmocka_unit_test(bad_flags_and_values),
		cmocka_unit_test(help_lists_every_option),
		cmocka_unit_test(bad_usage_exits_64),
		cmocka_unit_test(help_and_run_statuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
