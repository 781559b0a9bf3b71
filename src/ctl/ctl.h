/* hbctl internals: the command table and the pure formatting helpers that
 * the commands share (kept apart from I/O so they can be unit tested). */
#ifndef HBCTL_CTL_H
#define HBCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit codes, listed in --help and hbctl(1). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,     /* the operation failed: no table, not permitted, foreign segment */
	CTL_EXIT_USAGE = 2,    /* unknown command or option, bad key */
	CTL_CHECK_UNKNOWN = 3, /* check only: its usage errors, as monitoring plugins do */
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
int cmd_register(const struct ctl *ctl, int argc, char **argv);
int cmd_beat(const struct ctl *ctl, int argc, char **argv);
int cmd_unregister(const struct ctl *ctl, int argc, char **argv);
/* Returns a monitoring-plugin code (0 OK .. 3 UNKNOWN), not CTL_EXIT_*. */
int cmd_check(const struct ctl *ctl, int argc, char **argv);
int cmd_metrics(const struct ctl *ctl, int argc, char **argv);
int cmd_wait_ready(const struct ctl *ctl, int argc, char **argv);

struct census_entry;

/* What hbwatch says of its registrations (status.h), as hbctl reads it. */
struct hb_status_entry;
struct ctl_view {
	pid_t owner;		   /* the registry's owner pid, 0 if none */
	bool alive;		   /* it runs */
	bool have;		   /* its verdicts were read */
	bool unreadable;	   /* it published verdicts we could not trust or read */
	struct hb_status_entry *e; /* N of them */
	uint32_t n;
	bool denied;	/* the kernel let us not read the verdicts: not root, not in GROUP */
	bool has_group; /* the registry's group is known: */
	gid_t group;	/* hbwatch's */
};

/* Does this reader see every registration (root, hbwatch's group), or
 * only what /proc shows it (visible.c)? */
bool ctl_sees_all(const struct ctl_view *v);

/* census_collect(), less what V's reader may not see of other uids. */
int ctl_census_collect(const struct ctl_view *v, struct census_entry **out, size_t *n);

/* Load the view of the hbwatch at KEY.  Returns 0, or -errno from
 * registry_attach() with the reason in WHY (may be NULL); *V is always
 * set (empty on error) and must be freed. */
int ctl_view_load(int key, struct ctl_view *v, char *why, size_t why_len);

/* Free what *V holds. */
void ctl_view_free(struct ctl_view *v);

/* hbwatch's entry for record SHMID, or NULL. */
const struct hb_status_entry *ctl_view_find(const struct ctl_view *v, int shmid);

/* Does hbwatch watch E?  False only if it refused E; true when its
 * verdicts are unknown or it has not seen E yet. */
bool ctl_watched(const struct census_entry *e, const struct ctl_view *v);

/* Time since E's last beat as of NOW. */
uint64_t ctl_entry_age(const struct census_entry *e, uint64_t now);

/* The timeout hbwatch applies to E (the section's cap applied), or the
 * one E asked for when hbwatch's verdict is not known. */
uint64_t ctl_entry_timeout(const struct census_entry *e, const struct ctl_view *v);

/* What status shows for E: "ok", "late", "acted-on", "logged",
 * "rate-limited", "unkillable", "refused", "untrusted", "unseen" (hbwatch
 * has not picked it up yet), "stale", "busy", "bad-name".  *WHY gets the
 * reason for refused and untrusted, and why it hung (hbwatch's triage) for
 * the states of a missed deadline (else NULL). */
const char *ctl_entry_state(const struct census_entry *e, const struct ctl_view *v, uint64_t now,
			    const char **why);

struct hb_task_view;

/* The open tasks of E, read from its record now: at most CAP into OUT.
 * Returns how many (0 if the record cannot be read any more). */
unsigned ctl_entry_tasks(const struct census_entry *e, struct hb_task_view *out, unsigned cap);

/* How long E's own deadline extension still holds as of NOW (hbwatch's
 * extend_max= applied), 0 if none. */
uint64_t ctl_entry_extended(const struct census_entry *e, const struct ctl_view *v, uint64_t now);

/* What status shows for task T of E: "ok", "late", "extended" (then
 * *EXT_LEFT_NS says for how long), or hbwatch's state of E if the deadline
 * it acted on was T's ("acted-on", "logged", "rate-limited").  *TIMEOUT_NS
 * gets the timeout that applies to T (the section's cap applied). */
const char *ctl_task_state(const struct census_entry *e, const struct hb_task_view *t,
			   const struct ctl_view *v, uint64_t now, uint64_t *timeout_ns,
			   uint64_t *ext_left_ns);

/* What hbwatch saw when E missed its deadline (see status.h), or NULL:
 * only while hbwatch is acting on that deadline (acted-on, logged,
 * rate-limited, unkillable). */
struct hb_status_triage;
const struct hb_status_triage *ctl_entry_triage(const struct census_entry *e,
						const struct ctl_view *v);

/* Parse a pid for --pid: strict decimal, 2 to INT_MAX.  Returns 0 or -EINVAL. */
int ctl_parse_pid(const char *s, pid_t *pid);

/* The state "hbctl check" reports for one process: 0 OK, 1 WARNING (beat
 * older than half of TIMEOUT_NS), 2 CRITICAL (older than TIMEOUT_NS).  Pure. */
int check_state(uint64_t age_ns, uint64_t timeout_ns);

/* Write NS as seconds with at most three decimals and no trailing zeros
 * ("15", "0.25", "1.234"), as performance data wants.  Pure. */
void format_seconds(char *buf, size_t len, uint64_t ns);

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
