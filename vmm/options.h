/* SPDX-License-Identifier: MIT */
/*
 * Command-line options from one table per command. An entry names the
 * option, says how its value is read and into which field of the
 * caller's struct, and gives its help. The same table reads argv and
 * prints the help, so the two cannot disagree.
 *
 * Options are "--name value" or "--name=value"; "-h" is "--help". A bad
 * one is one line of reason that begins with the option's name.
 */
#ifndef VMM_OPTIONS_H
#define VMM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_kind {
	OPT_FLAG,	/* no value: sets a bool */
	OPT_HELP,	/* no value: opt_read returns OPT_HELP_ASKED */
	OPT_PATH,	/* a non-empty string, kept as a const char * into argv */
	OPT_SIZE,	/* "2G", "512M": bytes into a uint64_t, min..max, a multiple of align */
	OPT_UINT,	/* a decimal number, min..max, a multiple of align, into an
			 * unsigned field of any width */
	OPT_REAL,	/* a number, lo..hi, into a double */
	OPT_WORD,	/* one of words: its value into an integer, enum or bool field */
	OPT_CALL,	/* call() reads it */
};

struct opt_word {
	const char *word;
	int value;
};

struct opt {
	const char *name;		/* "--mem" */
	const char *arg;		/* the value in the help ("SIZE"); NULL without one */
	enum opt_kind kind;
	size_t off, size;		/* the field (OPT_AT) */
	uint64_t min, max, align;	/* OPT_SIZE, OPT_UINT; align 0: any */
	double lo, hi;			/* OPT_REAL */
	const struct opt_word *words;	/* OPT_WORD: ends with a NULL word */
	/* OPT_CALL: the whole struct and the value; 0, or -1 with the
	 * reason (without the option's name) in err. */
	int (*call)(void *dst, const char *val, char *err, size_t errlen);
	const char *what;		/* the error's "'VALUE' is not WHAT"; NULL: from the kind */
	const char *help;		/* '\n' starts a line under the first */
};

/* The field an entry sets: .off and .size of field in type. */
#define OPT_AT(type, field) .off = offsetof(type, field), .size = sizeof(((type *)0)->field)

struct opt_cmd {
	const char *cmd;		/* "pagehint run": for "try 'CMD --help'" */
	const struct opt *opts;
	size_t n;			/* at most 64 */
	const char *rest;		/* what goes after "--" ("guest arguments"); NULL: nothing */
};

#define OPT_HELP_COL 26		/* where the help text begins */

enum opt_result { OPT_DONE, OPT_HELP_ASKED, OPT_BAD };

/*
 * Read argv[*i] onwards into dst, to the end or to "--" (when c->rest
 * allows one; *i is then the word after it). given (may be NULL) gets
 * bit k for each opts[k] seen. OPT_BAD: err holds one line naming the
 * option or word at fault.
 */
enum opt_result opt_read(const struct opt_cmd *c, int argc, const char *const *argv, int *i,
			 void *dst, uint64_t *given, char *err, size_t errlen);
/* Was the option named name among those given? */
bool opt_given(const struct opt_cmd *c, uint64_t given, const char *name);
/* One entry per option: "  --name ARG", padded to OPT_HELP_COL, its help. */
void opt_help(FILE *f, const struct opt_cmd *c);

/* "2G", "512M", "4096", "1.5G", "64KiB": bytes; false if not a size. */
bool opt_parse_size(const char *s, uint64_t *out);

#endif
