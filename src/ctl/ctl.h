/* hbctl internals: the command table and the pure formatting helpers that
 * the commands share (kept apart from I/O so they can be unit tested). */
#ifndef HBCTL_CTL_H
#define HBCTL_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes, listed in --help and hbctl(1). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,  /* the operation failed: no table, not permitted, foreign segment */
	CTL_EXIT_USAGE = 2, /* unknown command or option, bad key */
};

/* What every command gets: the key chosen by -k or $HBWATCH_KEY. */
struct ctl {
	int key;
};

struct command {
	const char *name;
	const char *args; /* synopsis of the command's own arguments, for --help */
	const char *help; /* one line for --help */
	/* ARGV[0] is the command name.  Returns a CTL_EXIT_* code. */
	int (*run)(const struct ctl *ctl, int argc, char **argv);
};

int cmd_status(const struct ctl *ctl, int argc, char **argv);
int cmd_remove(const struct ctl *ctl, int argc, char **argv);

/* Print "hbctl: <message>\n" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write a duration of MS milliseconds readably ("350ms", "1.2s", "4m05s",
 * "2h10m", "3d04h") into BUF.  Truncates silently to LEN; pure. */
void format_duration_ms(char *buf, size_t len, uint64_t ms);

/* Write the LEN bytes of S to F as the inside of a JSON string: '"', '\\'
 * and every byte below 0x20 or from 0x7f up are escaped, so the output is
 * plain ASCII and valid JSON whatever S holds. */
void json_write_escaped(FILE *f, const char *s, size_t len);

/* Like json_write_escaped() but for terminals: printable ASCII stays,
 * everything else (and '\\') becomes \xNN, so a hostile name cannot send
 * control sequences or break the column layout. */
void text_write_escaped(FILE *f, const char *s, size_t len);

/* Bytes text_write_escaped() writes for S. */
size_t text_escaped_len(const char *s, size_t len);

#endif
