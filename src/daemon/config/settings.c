/* The INI loader.  inih (as Debian builds it) has traps that turn typos
 * into silently wrong settings: an indented line is glued to the previous
 * key, a line over 199 characters is split in two, '#' after a value is
 * kept as part of it, and the handler never learns line numbers.  So we
 * feed inih through our own reader, which counts lines, tracks [sections]
 * itself and refuses those lines with the right file:line before inih can
 * misread them. */
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "key.h"
#include "layers.h"
#include "name.h"
#include "registry.h"
#include "settings.h"
#include "signame.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NS_MS UINT64_C(1000000)
#define NS_S  UINT64_C(1000000000)
#define NS_H  (3600 * NS_S)

#define GROUP_DEFAULT	      "hbwatch"
#define KILL_GRACE_DEFAULT    (5 * NS_S)
#define KILL_BURST_DEFAULT    5u
#define KILL_BURST_MAX	      1000u
#define KILL_INTERVAL_DEFAULT (600 * NS_S)
#define SYNTAX_ERROR	      "expected 'key = value' or '[section]'"

/* How long SIGKILL waits for a core dump in progress.  A core of a few GB
 * written at disk speed, or piped to systemd-coredump and compressed,
 * takes tens of seconds; a minute stays within systemd's default
 * TimeoutAbortSec= (its TimeoutStopSec=, 90 s). */
#define DUMP_MAX_DEFAULT (60 * NS_S)
/* The lowest real-time priority: above every normal process, below any
 * real-time one the administrator runs. */
#define DEADLINE_PRIORITY_DEFAULT 1
#define DEADLINE_BUDGET_DEFAULT	  (500 * NS_MS)

enum {
	SECTION_LEGACY = -3, /* [legacy]: a classic CPActive table to watch too */
	SECTION_NONE = -2,   /* before the first [section] of a file */
	SECTION_GLOBAL = -1, /* [hbwatch]; >= 0 is an index into services */
};

/* Where a key may appear. */
enum where {
	IN_GLOBAL,
	IN_SERVICE,
	IN_LEGACY,
};

/* A place in a file, for messages.  LINE 0: the file as a whole. */
struct origin {
	const char *file;
	unsigned line;
};

/* A key met in the current file, to refuse a second one. */
struct seen {
	int section;
	size_t key;
	unsigned line;
};

struct loader {
	struct settings *s;
	char *err;
	size_t err_len;
	int error;		  /* the first error, 0 while none */
	unsigned error_line;	  /* its line, to rank it against inih's own */
	unsigned file_error_line; /* our first error in the file being read, 0: none */

	const char *file; /* the file being read, and where in it */
	FILE *f;
	unsigned line;
	char *buf;
	size_t buf_size;
	int section;
	struct seen *seen;
	size_t n_seen;

	/* Groups and users are looked up once every file is read (a drop-in
	 * may override them), so keep where their final values came from. */
	struct origin group_at;	 /* .file NULL: the default */
	struct origin legacy_at; /* first [legacy] line; .file NULL: none */
	struct origin legacy_key_at;
	bool legacy_off;	/* enabled = no */
	struct origin *user_at; /* parallel to s->services */
	char **files;		/* every path read; origins point here */
	size_t n_files;
};

struct key_def {
	const char *name;
	enum where where;
	bool empty_ok; /* an empty value means something */
	int (*set)(struct loader *l, struct service *svc, const char *key, const char *value);
};

static int fail(struct loader *l, struct origin at, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct loader *l, struct origin at, int r, const char *fmt, ...)
{
	va_list ap;
	size_t used;
	int n;

	/* Every mistake is reported, one line each, so that a check finds
	 * them all at once; the first one's errno is the result. */
	if (!l->error) {
		l->error = r;
		l->error_line = at.line;
	}
	if (at.file == l->file && at.line && !l->file_error_line)
		l->file_error_line = at.line;
	if (!l->err_len)
		return l->error;
	used = strnlen(l->err, l->err_len);
	if (used && used + 2 >= l->err_len)
		return l->error;
	if (used)
		l->err[used++] = '\n';
	if (at.line)
		n = snprintf(l->err + used, l->err_len - used, "%s:%u: ", at.file, at.line);
	else
		n = snprintf(l->err + used, l->err_len - used, "%s: ", at.file);
	if (n < 0 || (size_t)n >= l->err_len - used)
		return l->error;
	va_start(ap, fmt);
	vsnprintf(l->err + used + n, l->err_len - used - (size_t)n, fmt, ap);
	va_end(ap);
	return l->error;
}

static struct origin here(const struct loader *l)
{
	return (struct origin){l->file, l->line};
}

static const char *section_label(const struct loader *l)
{
	if (l->section == SECTION_LEGACY)
		return "legacy";
	return l->section >= 0 ? l->s->services[l->section].name : "hbwatch";
}

static int invalid(struct loader *l, const char *key, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int invalid(struct loader *l, const char *key, const char *value, const char *fmt, ...)
{
	char hint[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hint, sizeof(hint), fmt, ap);
	va_end(ap);
	return fail(l, here(l), -EINVAL, "invalid value '%s' for '%s' in [%s]: %s", value, key,
		    section_label(l), hint);
}

/* Whitespace as inih's isspace() sees it in the C locale. */
#define SPACE " \t\n\r\v\f"

static bool is_space(char c)
{
	return c && strchr(SPACE, c);
}

static const char *skip_space(const char *p)
{
	return p + strspn(p, SPACE);
}

/* Strict decimal in [MIN, MAX]: digits only, no sign, space or base prefix. */
static int parse_uint(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || *end || *v < min || *v > max)
		return -EINVAL;
	return 0;
}

static int set_duration(struct loader *l, const char *key, const char *value, uint64_t min,
			uint64_t max, uint64_t *out)
{
	char a[DURATION_FORMAT_MAX], b[DURATION_FORMAT_MAX];
	uint64_t ns;
	int r;

	r = duration_parse(value, &ns);
	if (r == -EINVAL)
		return invalid(l, key, value, "expected a duration such as 500ms, 30s or 2min");
	if (r < 0 || ns < min || ns > max) {
		duration_format(min, a, sizeof(a));
		duration_format(max, b, sizeof(b));
		return invalid(l, key, value, "must be between %s and %s", a, b);
	}
	*out = ns;
	return 0;
}

/* Replace *DST by a copy of VALUE. */
static int set_string(struct loader *l, char **dst, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return fail(l, here(l), -ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

static int set_key(struct loader *l, struct service *svc, const char *key, const char *value)
{
	if (key_parse(value, &l->s->key) < 0)
		return invalid(l, key, value, "expected a hex System V key such as 0x5098");
	return 0;
}

static int set_slots(struct loader *l, struct service *svc, const char *key, const char *value)
{
	unsigned long long v;

	if (parse_uint(value, 1, HB_SLOTS_MAX, &v) < 0)
		return invalid(l, key, value, "expected a number from 1 to %u", HB_SLOTS_MAX);
	l->s->slots = (uint32_t)v;
	return 0;
}

/* uid_share = N (registrations) or N% (of slots=): the most one uid may
 * have watched under sections without user= (share.h). */
static int set_uid_share(struct loader *l, struct service *svc, const char *key, const char *value)
{
	size_t len = strlen(value);
	unsigned long long v;

	if (len > 1 && value[len - 1] == '%') {
		char num[8];

		if (len - 1 >= sizeof(num))
			return invalid(l, key, value,
				       "expected a number, or a percentage of slots=");
		memcpy(num, value, len - 1);
		num[len - 1] = '\0';
		if (parse_uint(num, 1, 100, &v) < 0)
			return invalid(l, key, value, "expected a percentage from 1%% to 100%%");
		l->s->uid_share = 0;
		l->s->uid_share_pct = (uint32_t)v;
		return 0;
	}
	if (parse_uint(value, 1, HB_SLOTS_MAX, &v) < 0)
		return invalid(l, key, value, "expected a number from 1 to %u, or a percentage",
			       HB_SLOTS_MAX);
	l->s->uid_share = (uint32_t)v;
	l->s->uid_share_pct = 0;
	return 0;
}

static int set_group(struct loader *l, struct service *svc, const char *key, const char *value)
{
	l->group_at = here(l);
	return set_string(l, &l->s->group, value);
}

static int set_kill_grace(struct loader *l, struct service *svc, const char *key, const char *value)
{
	return set_duration(l, key, value, NS_MS, NS_H, &l->s->kill_grace_ns);
}

static int set_unit(struct loader *l, struct service *svc, const char *key, const char *value)
{
	/* Unit-name characters plus fnmatch's; anything else never matches
	 * a unit, so it is a typo better caught now. */
	if (value[strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789:-_.\\@*?[]!^")])
		return invalid(l, key, value,
			       "expected a systemd unit name or glob such as worker@*.service");
	/* "none" names no unit (a unit name has a suffix): the section
	 * knowingly leaves the unit unchecked, and is not warned about. */
	svc->no_unit = strcmp(value, "none") == 0;
	if (svc->no_unit) {
		free(svc->unit);
		svc->unit = NULL;
		return 0;
	}
	return set_string(l, &svc->unit, value);
}

static int set_user(struct loader *l, struct service *svc, const char *key, const char *value)
{
	l->user_at[svc - l->s->services] = here(l);
	return set_string(l, &svc->user, value);
}

static int set_timeout(struct loader *l, struct service *svc, const char *key, const char *value)
{
	return set_duration(l, key, value, NS_MS, 24 * NS_H, &svc->timeout_ns);
}

static int set_action(struct loader *l, struct service *svc, const char *key, const char *value)
{
	static const enum action actions[] = {ACTION_KILL, ACTION_RESTART_UNIT, ACTION_LOG};

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (strcmp(value, action_name(actions[i])) == 0) {
			svc->action = actions[i];
			svc->action_line = l->line;
			free(svc->action_file);
			svc->action_file = strdup(l->file);
			if (!svc->action_file)
				return fail(l, here(l), -ENOMEM, "out of memory");
			return 0;
		}
	return invalid(l, key, value, "expected kill, restart-unit or log");
}

static int set_limit_action(struct loader *l, struct service *svc, const char *key,
			    const char *value)
{
	static const enum limit_action actions[] = {LIMIT_WAIT, LIMIT_KILL_UNIT,
						    LIMIT_RESTART_UNIT};

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (strcmp(value, limit_action_name(actions[i])) == 0) {
			svc->limit_action = actions[i];
			svc->limit_line = l->line;
			free(svc->limit_file);
			svc->limit_file = strdup(l->file);
			if (!svc->limit_file)
				return fail(l, here(l), -ENOMEM, "out of memory");
			return 0;
		}
	return invalid(l, key, value, "expected wait, kill-unit or restart-unit");
}

static int set_signal(struct loader *l, struct service *svc, const char *key, const char *value)
{
	if (signal_parse(value, &svc->signal) < 0)
		return invalid(l, key, value,
			       "expected a signal that ends a process, such as SIGABRT, SIGTERM "
			       "or 6 (not SIGSTOP or SIGCONT)");
	return 0;
}

static int set_kill_burst(struct loader *l, struct service *svc, const char *key, const char *value)
{
	unsigned long long v;

	if (parse_uint(value, 1, KILL_BURST_MAX, &v) < 0)
		return invalid(l, key, value, "expected a number from 1 to %u", KILL_BURST_MAX);
	svc->kill_burst = (unsigned)v;
	return 0;
}

static int set_kill_interval(struct loader *l, struct service *svc, const char *key,
			     const char *value)
{
	return set_duration(l, key, value, NS_MS, 7 * 24 * NS_H, &svc->kill_interval_ns);
}

static int set_extend_max(struct loader *l, struct service *svc, const char *key, const char *value)
{
	return set_duration(l, key, value, 0, 24 * NS_H, &svc->extend_max_ns);
}

static int parse_bool(const char *value, bool *b);

static int set_kill_group(struct loader *l, struct service *svc, const char *key, const char *value)
{
	if (parse_bool(value, &svc->kill_group) < 0)
		return invalid(l, key, value, "expected yes or no");
	return 0;
}

static int set_metrics_dir(struct loader *l, struct service *svc, const char *key,
			   const char *value)
{
	if (!*value) {
		free(l->s->metrics_dir);
		l->s->metrics_dir = NULL;
		return 0;
	}
	/* Relative to what?  The daemon's working directory is not a place. */
	if (value[0] != '/')
		return invalid(l, key, value,
			       "expected an absolute directory such as "
			       "/var/lib/prometheus/node-exporter, or empty for none");
	return set_string(l, &l->s->metrics_dir, value);
}

static int set_legacy_key(struct loader *l, struct service *svc, const char *key, const char *value)
{
	if (key_parse(value, &l->s->legacy_key) < 0)
		return invalid(l, key, value,
			       "expected the hex System V key of the classic table, such as "
			       "0x5095");
	l->legacy_key_at = here(l);
	return 0;
}

/* A boolean as systemd spells them.  Returns 0 or -EINVAL. */
static int parse_bool(const char *value, bool *b)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(value, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcmp(value, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int set_legacy_enabled(struct loader *l, struct service *svc, const char *key,
			      const char *value)
{
	bool on;

	if (parse_bool(value, &on) < 0)
		return invalid(l, key, value, "expected yes or no");
	l->legacy_off = !on;
	return 0;
}

static int set_enabled(struct loader *l, struct service *svc, const char *key, const char *value)
{
	if (parse_bool(value, &svc->enabled) < 0)
		return invalid(l, key, value, "expected yes or no");
	svc->enabled_line = l->line;
	free(svc->enabled_file);
	svc->enabled_file = strdup(l->file);
	if (!svc->enabled_file)
		return fail(l, here(l), -ENOMEM, "out of memory");
	return 0;
}

static int set_legacy_shared(struct loader *l, struct service *svc, const char *key,
			     const char *value)
{
	if (parse_bool(value, &l->s->legacy_shared) < 0)
		return invalid(l, key, value, "expected yes or no");
	return 0;
}

/* deadline_priority = 0 (off) or a SCHED_RR priority, 1-99 (lift.h). */
static int set_deadline_priority(struct loader *l, struct service *svc, const char *key,
				 const char *value)
{
	unsigned long long v;

	if (parse_uint(value, 0, 99, &v) < 0)
		return invalid(l, key, value,
			       "expected 0 (off) or a SCHED_RR priority from 1 to 99");
	l->s->deadline_priority = (int)v;
	return 0;
}

/* deadline_budget = the CPU time lifted deadline work may take in any
 * second, 1ms to 1s (lift.h). */
static int set_deadline_budget(struct loader *l, struct service *svc, const char *key,
			       const char *value)
{
	return set_duration(l, key, value, NS_MS, NS_S, &l->s->deadline_budget_ns);
}

static int set_dump_max(struct loader *l, struct service *svc, const char *key, const char *value)
{
	return set_duration(l, key, value, 0, NS_H, &l->s->dump_max_ns);
}

static int set_starve_grace(struct loader *l, struct service *svc, const char *key,
			    const char *value)
{
	return set_duration(l, key, value, 0, 24 * NS_H, &svc->starve_grace_ns);
}

static int set_debugged(struct loader *l, struct service *svc, const char *key, const char *value)
{
	if (strcmp(value, "kill") == 0)
		svc->debugged_kill = true;
	else if (strcmp(value, "leave") == 0)
		svc->debugged_kill = false;
	else
		return invalid(l, key, value, "expected leave or kill");
	return 0;
}

static int set_warn_at(struct loader *l, struct service *svc, const char *key, const char *value)
{
	unsigned long long v;
	size_t n = strlen(value);
	char num[8];

	/* "50%" or "50 %": a share of the timeout; 0 turns it off. */
	if (n && value[n - 1] == '%')
		n--;
	while (n && value[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof(num))
		return invalid(l, key, value,
			       "expected a percentage of the timeout from 0%% to 99%%");
	memcpy(num, value, n);
	num[n] = '\0';
	if (parse_uint(num, 0, 99, &v) < 0)
		return invalid(l, key, value,
			       "expected a percentage of the timeout from 0%% to 99%%");
	svc->warn_at_pct = (unsigned)v;
	return 0;
}

static const struct key_def keys[] = {
    {"key", IN_GLOBAL, false, set_key},
    {"slots", IN_GLOBAL, false, set_slots},
    {"group", IN_GLOBAL, true, set_group},
    {"kill_grace", IN_GLOBAL, false, set_kill_grace},
    {"metrics_dir", IN_GLOBAL, true, set_metrics_dir},
    {"unit", IN_SERVICE, false, set_unit},
    {"user", IN_SERVICE, false, set_user},
    {"timeout", IN_SERVICE, false, set_timeout},
    {"action", IN_SERVICE, false, set_action},
    {"signal", IN_SERVICE, false, set_signal},
    {"kill_burst", IN_SERVICE, false, set_kill_burst},
    {"kill_interval", IN_SERVICE, false, set_kill_interval},
    {"kill_group", IN_SERVICE, false, set_kill_group},
    {"limit_action", IN_SERVICE, false, set_limit_action},
    {"enabled", IN_SERVICE, false, set_enabled},
    {"extend_max", IN_SERVICE, false, set_extend_max},
    {"key", IN_LEGACY, false, set_legacy_key},
    {"enabled", IN_LEGACY, false, set_legacy_enabled},
    {"allow_shared_writers", IN_LEGACY, false, set_legacy_shared},
    {"dump_max", IN_GLOBAL, false, set_dump_max},
    {"starve_grace", IN_SERVICE, false, set_starve_grace},
    {"debugged", IN_SERVICE, false, set_debugged},
    {"warn_at", IN_SERVICE, false, set_warn_at},
    {"uid_share", IN_GLOBAL, false, set_uid_share},
    {"deadline_priority", IN_GLOBAL, false, set_deadline_priority},
    {"deadline_budget", IN_GLOBAL, false, set_deadline_budget},
};

static int service_add(struct loader *l, const char *name)
{
	struct settings *s = l->s;
	struct service *svcs;
	struct origin *at;

	svcs = realloc(s->services, (s->n_services + 1) * sizeof(*svcs));
	if (!svcs)
		return fail(l, here(l), -ENOMEM, "out of memory");
	s->services = svcs;
	at = realloc(l->user_at, (s->n_services + 1) * sizeof(*at));
	if (!at)
		return fail(l, here(l), -ENOMEM, "out of memory");
	l->user_at = at;
	svcs[s->n_services] = (struct service){
	    .action = ACTION_KILL,
	    .signal = SIGABRT,
	    .kill_burst = KILL_BURST_DEFAULT,
	    .kill_interval_ns = KILL_INTERVAL_DEFAULT,
	    .enabled = true,
	    .extend_max_ns = HB_EXTEND_AUTO,
	    .starve_grace_ns = HB_GRACE_AUTO,
	    .file = strdup(l->file),
	    .line = l->line,
	};
	at[s->n_services] = (struct origin){NULL, 0};
	strcpy(svcs[s->n_services].name, name);
	if (!svcs[s->n_services].file)
		return fail(l, here(l), -ENOMEM, "out of memory");
	l->section = (int)s->n_services++;
	return 0;
}

/* A "[name]" line, seen by the reader before inih: inih would truncate a
 * name over 49 bytes and ignore text after ']', and calls no handler for a
 * section without keys. */
static int section_begin(struct loader *l, const char *p)
{
	const char *end = strchr(p, ']'), *rest;
	char name[HB_NAME_SIZE];
	size_t len;

	if (!end)
		return fail(l, here(l), -EINVAL, "expected ']' at the end of the section name");
	rest = skip_space(end + 1);
	if (*rest && *rest != ';')
		return fail(
		    l, here(l), -EINVAL,
		    "unexpected text after ']' (a comment after a section starts with ';')");
	len = (size_t)(end - p - 1);
	if (len > HB_NAME_MAX)
		goto bad_name;
	memcpy(name, p + 1, len);
	name[len] = '\0';
	if (strcmp(name, "hbwatch") == 0) {
		l->section = SECTION_GLOBAL;
		return 0;
	}
	if (strcmp(name, "legacy") == 0) {
		if (!l->legacy_at.file)
			l->legacy_at = here(l);
		l->section = SECTION_LEGACY;
		return 0;
	}
	if (name_validate(name) < 0)
		goto bad_name;
	for (size_t i = 0; i < l->s->n_services; i++)
		if (strcmp(l->s->services[i].name, name) == 0) {
			l->section = (int)i;
			return 0;
		}
	return service_add(l, name);

bad_name:
	return fail(l, here(l), -EINVAL,
		    "invalid service name '%.*s': use 1 to %d letters, digits and -_.:@", (int)len,
		    p + 1, HB_NAME_MAX);
}

/* Refuse what inih would misread; note sections.  LINE has no newline. */
static int line_check(struct loader *l, const char *line)
{
	const char *p = line;

	if (l->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* inih skips a UTF-8 byte order mark */
	if (is_space(*p)) {
		p = skip_space(p);
		if (*p && *p != ';' && *p != '#')
			return fail(l, here(l), -EINVAL,
				    "indented line: inih would join it to the previous key; "
				    "remove the indentation");
		return 0;
	}
	if (*p == '[')
		return section_begin(l, p);
	return 0;
}

/* inih's ini_reader: one whole line per call, so inih's line count is ours
 * and the handler runs while l->line is the line it came from. */
static char *line_read(char *str, int num, void *stream)
{
	struct loader *l = stream;
	ssize_t n;

	/* After a mistake in a value, read on: every one is reported.  A
	 * line inih cannot be given (below) ends the file's reading. */
	if (l->error == -ENOMEM)
		return NULL;
	errno = 0;
	n = getline(&l->buf, &l->buf_size, l->f);
	if (n < 0) {
		int e = errno ? errno : EIO;

		if (!feof(l->f))
			fail(l, (struct origin){l->file, 0}, -e, "%s", strerror(e));
		return NULL;
	}
	l->line++;
	if (n > 0 && l->buf[n - 1] == '\n')
		l->buf[--n] = '\0';
	if (strlen(l->buf) != (size_t)n) {
		fail(l, here(l), -EINVAL, "line contains a NUL byte");
		return NULL;
	}
	/* inih would read a longer line as two, the second a line of its own. */
	if (num < 1 || n > num - 1) {
		fail(l, here(l), -EINVAL, "line too long (max %d characters)", num - 1);
		return NULL;
	}
	if (line_check(l, l->buf) < 0)
		return NULL;
	memcpy(str, l->buf, (size_t)n + 1);
	return str;
}

static bool has_hash_comment(const char *value)
{
	if (value[0] == '#')
		return true;
	for (const char *p = value; *p; p++)
		if (is_space(p[0]) && p[1] == '#')
			return true;
	return false;
}

/* Check and apply one "NAME = VALUE" of the current section. */
/* Remember where KEY of the current section got its value. */
static int origin_note(struct loader *l, const char *key)
{
	struct settings *s = l->s;
	struct setting_origin *o = realloc(s->origins, (s->n_origins + 1) * sizeof(*o));

	if (!o)
		return fail(l, here(l), -ENOMEM, "out of memory");
	s->origins = o;
	o += s->n_origins;
	*o = (struct setting_origin){.key = key, .line = l->line};
	snprintf(o->section, sizeof(o->section), "%s", section_label(l));
	o->file = strdup(l->file);
	if (!o->file)
		return fail(l, here(l), -ENOMEM, "out of memory");
	s->n_origins++;
	return 0;
}

const struct setting_origin *settings_origin(const struct settings *s, const char *section,
					     const char *key)
{
	for (size_t i = s->n_origins; i-- > 0;)
		if (strcmp(s->origins[i].section, section) == 0 &&
		    strcmp(s->origins[i].key, key) == 0)
			return &s->origins[i];
	return NULL;
}

/* Edit distance of A and B (insert, delete, substitute, swap of two
 * neighbours), up to 32 bytes each; more is "far". */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	unsigned d[33][33];

	if (n > 32 || m > 32)
		return UINT_MAX;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			unsigned v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

/* The key of WHERE nearest to NAME, if it is near enough to be a typo (at
 * most 2 edits, and fewer than a third of the name), else NULL. */
static const char *key_nearest(const char *name, enum where where)
{
	const char *best = NULL;
	unsigned best_d = UINT_MAX;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		unsigned dist =
		    keys[i].where == where ? edit_distance(name, keys[i].name) : UINT_MAX;

		if (dist < best_d) {
			best_d = dist;
			best = keys[i].name;
		}
	}
	return best && best_d <= 2 && best_d * 3 <= strlen(name) ? best : NULL;
}

static int key_apply(struct loader *l, const char *name, const char *value)
{
	struct service *svc = l->section >= 0 ? &l->s->services[l->section] : NULL;
	enum where where = svc ? IN_SERVICE : l->section == SECTION_LEGACY ? IN_LEGACY : IN_GLOBAL;
	const struct key_def *k = NULL;
	struct seen *seen;

	if (!*name)
		return fail(l, here(l), -EINVAL, SYNTAX_ERROR);
	if (l->section == SECTION_NONE)
		return fail(l, here(l), -EINVAL,
			    "key '%s' outside any section: put it under [hbwatch] or a "
			    "service's [name]",
			    name);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (keys[i].where == where && strcmp(keys[i].name, name) == 0)
			k = &keys[i];
	if (!k) {
		const char *near = key_nearest(name, where);

		if (near)
			return fail(l, here(l), -EINVAL,
				    "unknown key '%s' in [%s] (did you mean '%s'?)", name,
				    section_label(l), near);
		return fail(l, here(l), -EINVAL, "unknown key '%s' in [%s]", name,
			    section_label(l));
	}
	for (size_t i = 0; i < l->n_seen; i++)
		if (l->seen[i].section == l->section && l->seen[i].key == (size_t)(k - keys))
			return fail(l, here(l), -EINVAL,
				    "duplicate key '%s' in [%s] (first set on line %u)", name,
				    section_label(l), l->seen[i].line);
	seen = realloc(l->seen, (l->n_seen + 1) * sizeof(*seen));
	if (!seen)
		return fail(l, here(l), -ENOMEM, "out of memory");
	l->seen = seen;
	seen[l->n_seen++] = (struct seen){l->section, (size_t)(k - keys), l->line};
	if (!*value && !k->empty_ok)
		return fail(l, here(l), -EINVAL, "empty value for '%s' in [%s]", name,
			    section_label(l));
	if (has_hash_comment(value))
		return fail(l, here(l), -EINVAL,
			    "'#' in the value of '%s' in [%s]: '#' starts a comment only at the "
			    "beginning of a line (use ' ; ' for a comment after a value)",
			    name, section_label(l));
	if (k->set(l, svc, name, value) < 0)
		return l->error;
	return origin_note(l, k->name);
}

/* inih's handler.  SECTION is inih's copy, truncated past 49 bytes: unused,
 * l->section is ours. */
static int key_set(void *user, const char *section, const char *name, const char *value)
{
	struct loader *l = user;

	/* Go on after a mistake: every one is reported. */
	return key_apply(l, name, value) == 0;
}

/* inih reports its (first) syntax error of a file only at its end: put it
 * in line order, before the file's other errors, which start at OFF. */
static void syntax_error_before(struct loader *l, size_t off, unsigned line)
{
	size_t used = strnlen(l->err, l->err_len);
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%s:%u: %s\n", l->file, line, SYNTAX_ERROR);

	if (n < 0 || (size_t)n >= sizeof(msg) || used + (size_t)n >= l->err_len)
		return;
	memmove(l->err + off + n, l->err + off, used - off + 1);
	memcpy(l->err + off, msg, (size_t)n);
}

static int file_load(struct loader *l, const char *path)
{
	char **files = realloc(l->files, (l->n_files + 1) * sizeof(*files));
	size_t err_off;
	int r, e;

	if (!files)
		return fail(l, (struct origin){path, 0}, -ENOMEM, "out of memory");
	l->files = files;
	files[l->n_files] = strdup(path);
	if (!files[l->n_files])
		return fail(l, (struct origin){path, 0}, -ENOMEM, "out of memory");
	l->file = files[l->n_files++];
	l->f = fopen(path, "re");
	if (!l->f) {
		e = errno;
		return fail(l, (struct origin){l->file, 0}, -e, "%s", strerror(e));
	}
	l->line = 0;
	l->section = SECTION_NONE;
	l->n_seen = 0;
	l->file_error_line = 0;
	err_off = l->err_len ? strnlen(l->err, l->err_len) : 0;
	r = ini_parse_stream(line_read, l, key_set, l);
	fclose(l->f);
	l->f = NULL;
	if (r == -2)
		return fail(l, (struct origin){l->file, 0}, -ENOMEM, "out of memory");
	/* inih goes on after a line it cannot parse and tells us only at the
	 * end; an error of ours later in the file must not hide it. */
	if (r > 0 && (!l->file_error_line || (unsigned)r < l->file_error_line)) {
		if (!l->file_error_line)
			fail(l, (struct origin){l->file, (unsigned)r}, -EINVAL, SYNTAX_ERROR);
		else
			syntax_error_before(l, err_off, (unsigned)r);
	}
	return l->error;
}

/* Read every file of the layers in order; masked ones hold nothing. */
static int layers_load(struct loader *l, const struct layer_files *files)
{
	for (size_t i = 0; i < files->n && l->error != -ENOMEM; i++)
		if (!files->v[i].masked)
			file_load(l, files->v[i].path);
	return l->error;
}

/* Look NAME up as a group (GROUP) or a user.  Returns 0 with *ID set,
 * -ENOENT if there is no such name, or another -errno. */
static int id_lookup(const char *name, bool group, unsigned *id)
{
	struct passwd pw, *pwr = NULL;
	struct group gr, *grr = NULL;
	size_t size = 1024;
	char *buf = NULL, *nb;
	int r;

	for (;;) {
		nb = realloc(buf, size);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		if (group)
			r = getgrnam_r(name, &gr, buf, size, &grr);
		else
			r = getpwnam_r(name, &pw, buf, size, &pwr);
		if (r != ERANGE || size >= (1u << 20))
			break;
		size *= 2;
	}
	free(buf);
	if (r == 0 && (grr || pwr)) {
		*id = group ? (unsigned)gr.gr_gid : (unsigned)pw.pw_uid;
		return 0;
	}
	/* getpwnam(3): these mean "not found" on one system or another. */
	if (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
		return -ENOENT;
	return -r;
}

/* Resolve VALUE (a name or a number) for KEY in [SECTION] set at AT. */
static int id_resolve(struct loader *l, struct origin at, const char *key, const char *section,
		      const char *value, unsigned *id)
{
	unsigned long long v;
	bool group = strcmp(key, "group") == 0;
	char how[128];
	int r;

	/* (uid_t)-1 and (gid_t)-1 mean "no change" to chown(2). */
	if (parse_uint(value, 0, UINT32_MAX - 1, &v) == 0) {
		*id = (unsigned)v;
		return 0;
	}
	r = id_lookup(value, group, id);
	if (r == 0)
		return 0;
	if (r != -ENOENT)
		return fail(l, at, r, "cannot look up %s '%s': %s", group ? "group" : "user", value,
			    strerror(-r));
	if (!group)
		return fail(l, at, -EINVAL, "invalid value '%s' for '%s' in [%s]: no such user",
			    value, key, section);
	if (strcmp(value, GROUP_DEFAULT) == 0)
		snprintf(how, sizeof(how), "'systemd-sysusers' or 'groupadd --system %s'", value);
	else
		snprintf(how, sizeof(how), "'groupadd --system %s'", value);
	if (!at.line)
		return fail(l, at, -EINVAL,
			    "group '%s' (the default of 'group' in [hbwatch]) does not exist: "
			    "create it with %s, or set 'group =' (empty) in [hbwatch] to keep the "
			    "daemon's own group",
			    value, how);
	return fail(l, at, -EINVAL,
		    "invalid value '%s' for 'group' in [hbwatch]: no such group (create it with "
		    "%s, or leave the value empty to keep the daemon's own group)",
		    value, how);
}

static int ids_resolve(struct loader *l)
{
	struct settings *s = l->s;
	struct origin at = l->group_at;
	unsigned id = 0; /* set by id_resolve() when it returns 0 */

	if (!at.file)
		at = (struct origin){s->path, 0};
	if (s->group[0]) {
		if (id_resolve(l, at, "group", "hbwatch", s->group, &id) < 0)
			return l->error;
		s->has_gid = true;
		s->gid = (gid_t)id;
	}
	for (size_t i = 0; i < s->n_services; i++) {
		struct service *svc = &s->services[i];

		if (!svc->user)
			continue;
		if (id_resolve(l, l->user_at[i], "user", svc->name, svc->user, &id) < 0)
			return l->error;
		svc->has_user = true;
		svc->uid = (uid_t)id;
	}
	return 0;
}

/* [legacy] as a whole, once every file is read: a drop-in may add the key. */
static int legacy_resolve(struct loader *l)
{
	struct settings *s = l->s;

	if (!l->legacy_at.file || l->legacy_off)
		return 0;
	if (!s->legacy_key)
		return fail(l, l->legacy_at, -EINVAL,
			    "[legacy] needs 'key', the hex System V key of the classic table "
			    "(0x5095 in production, 0x5098 in the lesson code)");
	if (s->legacy_key == s->key)
		return fail(l, l->legacy_key_at, -EINVAL,
			    "'key' in [legacy] is hbwatch's own key 0x%x: give hbwatch's table "
			    "another key with 'key' in [hbwatch]",
			    (unsigned)s->key);
	s->legacy = true;
	return 0;
}

/* No directory has the main file: say where it was looked for. */
static int no_main_file(struct loader *l, const char *const *dirs, size_t n_dirs, const char *main)
{
	char where[512] = "";
	size_t len = 0;

	for (size_t i = 0; i < n_dirs && len < sizeof(where); i++) {
		int n = snprintf(where + len, sizeof(where) - len, "%s%s/%s",
				 i == 0 ? "" : (i + 1 == n_dirs ? " or " : ", "), dirs[i], main);

		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (n_dirs == 1)
		return fail(l, (struct origin){where, 0}, -ENOENT, "%s", strerror(ENOENT));
	return fail(l, (struct origin){main, 0}, -ENOENT,
		    "no configuration: none of %s exists (the package ships one; "
		    "'ln -s /dev/null' in the first directory masks it instead)",
		    where);
}

/* limit_action and action = restart-unit hand a whole unit to systemd:
 * only one the admin named with unit=, since a process in no named unit
 * may run in cron.service or a login session.  Checked once every file is
 * read: a drop-in may add either key. */
static int limits_resolve(struct loader *l)
{
	for (size_t i = 0; i < l->s->n_services; i++) {
		const struct service *svc = &l->s->services[i];
		struct origin at = {svc->limit_file, svc->limit_line};

		if (svc->action == ACTION_RESTART_UNIT && !svc->unit)
			return fail(l, (struct origin){svc->action_file, svc->action_line}, -EINVAL,
				    "'action = restart-unit' in [%s] needs 'unit =': hbwatch "
				    "restarts only a unit named in the section",
				    svc->name);

		if (svc->limit_action == LIMIT_WAIT)
			continue;
		if (!svc->unit)
			return fail(l, at, -EINVAL,
				    "'limit_action = %s' in [%s] needs 'unit =': hbwatch hands "
				    "over to systemd only a unit named in the section",
				    limit_action_name(svc->limit_action), svc->name);
		if (svc->action == ACTION_LOG)
			return fail(l, at, -EINVAL,
				    "'limit_action = %s' in [%s] does nothing with 'action = log', "
				    "which no rate limit stops",
				    limit_action_name(svc->limit_action), svc->name);
	}
	return 0;
}

/* Set disabled sections (enabled = no) apart, once every file is read: a
 * later drop-in may disable what an earlier file defined, or enable it
 * again.  They are not watched, and their users are not looked up. */
static int services_enable(struct loader *l)
{
	struct settings *s = l->s;
	size_t kept = 0;

	/* user_at grows with the services (service_add()): never NULL with
	 * services, which ids_resolve() also relies on. */
	if (s->n_services && !l->user_at)
		return fail(l, (struct origin){s->path, 0}, -ENOMEM, "out of memory");
	for (size_t i = 0; i < s->n_services; i++) {
		if (s->services[i].enabled) {
			l->user_at[kept] = l->user_at[i];
			s->services[kept++] = s->services[i];
			continue;
		}
		struct service *v = realloc(s->disabled, (s->n_disabled + 1) * sizeof(*v));

		if (!v) {
			/* Keep every section owned by one of the arrays. */
			for (size_t j = i; j < s->n_services; j++)
				s->services[kept++] = s->services[j];
			s->n_services = kept;
			return fail(l, (struct origin){s->path, 0}, -ENOMEM, "out of memory");
		}
		s->disabled = v;
		v[s->n_disabled++] = s->services[i];
	}
	s->n_services = kept;
	return 0;
}

static void loader_finish(struct loader *l)
{
	if (l->f)
		fclose(l->f);
	free(l->buf);
	free(l->seen);
	free(l->user_at);
	for (size_t i = 0; i < l->n_files; i++)
		free(l->files[i]);
	free(l->files);
}

/* Load the files of DIRS (layers.h) into *S, naming the main file MAIN. */
static int settings_load_from(const char *const *dirs, size_t n_dirs, const char *main,
			      struct settings *s, char *err, size_t err_len)
{
	struct loader l = {.s = s, .err = err, .err_len = err_len};
	char *where = NULL;
	int r;

	*s = (struct settings){
	    .key = HB_KEY_DEFAULT,
	    .slots = HB_SLOTS_DEFAULT,
	    .kill_grace_ns = KILL_GRACE_DEFAULT,
	    .dump_max_ns = DUMP_MAX_DEFAULT,
	    .deadline_priority = DEADLINE_PRIORITY_DEFAULT,
	    .deadline_budget_ns = DEADLINE_BUDGET_DEFAULT,
	};
	if (err_len)
		err[0] = '\0';
	s->group = strdup(GROUP_DEFAULT);
	r = s->group ? layers_collect(dirs, n_dirs, main, &s->sources, &where) : -ENOMEM;
	if (r == 0)
		s->path = strdup(s->sources.v[0].path);
	else if (r == -ENOENT && !where)
		r = no_main_file(&l, dirs, n_dirs, main);
	else if (r != -ENOMEM)
		r = fail(&l, (struct origin){where, 0}, r, "%s", strerror(-r));
	if (r == 0 && !s->path)
		r = -ENOMEM;
	if (r == -ENOMEM)
		r = fail(&l, (struct origin){main, 0}, -ENOMEM, "out of memory");
	if (r == 0 && (r = layers_load(&l, &s->sources)) == 0 && (r = services_enable(&l)) == 0 &&
	    (r = ids_resolve(&l)) == 0 && (r = legacy_resolve(&l)) == 0)
		r = limits_resolve(&l);
	free(where);
	loader_finish(&l);
	if (r < 0)
		settings_finish(s);
	return r;
}

int settings_load(const char *path, struct settings *s, char *err, size_t err_len)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	const char *dirs[1] = {dir};
	int r;

	if (!dir) {
		*s = (struct settings){0};
		if (err_len)
			snprintf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (slash && slash == path)
		dir[0] = '\0'; /* "/hbwatch.ini": the root's "" + "/" + name */
	r = settings_load_from(dirs, 1, slash ? slash + 1 : path, s, err, err_len);
	free(dir);
	/* Name the file as it was given, as the admin typed it. */
	if (r == 0) {
		char *given = strdup(path);

		if (!given) {
			settings_finish(s);
			if (err_len)
				snprintf(err, err_len, "%s: out of memory", path);
			return -ENOMEM;
		}
		free(s->path);
		s->path = given;
	}
	return r;
}

int settings_load_dirs(const char *const *dirs, size_t n_dirs, struct settings *s, char *err,
		       size_t err_len)
{
	return settings_load_from(dirs, n_dirs, SETTINGS_MAIN_FILE, s, err, err_len);
}

/* Free the N services of V, and V. */
static void services_free(struct service *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].unit);
		free(v[i].user);
		free(v[i].file);
		free(v[i].enabled_file);
		free(v[i].limit_file);
		free(v[i].action_file);
	}
	free(v);
}

void settings_finish(struct settings *s)
{
	services_free(s->services, s->n_services);
	services_free(s->disabled, s->n_disabled);
	layers_free(&s->sources);
	free(s->path);
	free(s->group);
	free(s->metrics_dir);
	for (size_t i = 0; i < s->n_origins; i++)
		free(s->origins[i].file);
	free(s->origins);
	*s = (struct settings){0};
}

static const struct service *services_find(const struct service *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

const struct service *settings_find(const struct settings *s, const char *name)
{
	return services_find(s->services, s->n_services, name);
}

const struct service *settings_find_disabled(const struct settings *s, const char *name)
{
	return services_find(s->disabled, s->n_disabled, name);
}

const char *limit_action_name(enum limit_action a)
{
	switch (a) {
	case LIMIT_WAIT:
		return "wait";
	case LIMIT_KILL_UNIT:
		return "kill-unit";
	case LIMIT_RESTART_UNIT:
		return "restart-unit";
	}
	return "?";
}

const char *action_name(enum action a)
{
	switch (a) {
	case ACTION_KILL:
		return "kill";
	case ACTION_RESTART_UNIT:
		return "restart-unit";
	case ACTION_LOG:
		return "log";
	}
	return "?";
}
