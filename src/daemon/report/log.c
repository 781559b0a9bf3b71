#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static bool log_to_journal;

static const struct {
	const char *name;
	const char *id;
} kinds[EVENT_KIND_MAX] = {
    [EVENT_DEADLINE_MISSED] = {"deadline-missed", "a3e1e2b08efe4f97be2db085ea452ff1"},
    [EVENT_SIGNAL_SENT] = {"signal-sent", "1c1cbbc12a14442e9494fb5aa67076a7"},
    [EVENT_ESCALATED] = {"escalated", "b6d1c204c06544eb90dea92ff05fa1d2"},
    [EVENT_PROCESS_GONE] = {"process-gone", "890115bb3aff42508ef3763d1270cd7d"},
    [EVENT_STALE_RECORD] = {"stale-record", "a83e0800df1749b8956afa12e2d65b23"},
    [EVENT_REFUSED] = {"refused", "47262b2a8caa4797b6269ac0d582ad1f"},
    [EVENT_RELOADED] = {"reloaded", "1621d1e0e3e2421094bec8dbcc3f5d8b"},
    [EVENT_RATE_LIMITED] = {"rate-limited", "9c606b8a3cfa413f9f03b19855a65a95"},
    [EVENT_RESTART_UNIT] = {"restart-unit", "c9fb70243fe44ac28334a5410930a592"},
    [EVENT_STARTED] = {"started", "1545d77a0a9f4afb9394ed3d34791d05"},
    [EVENT_UNTRUSTED] = {"untrusted", "5e0b8ad2c4a74c0f9b4f0e3f6d2a71c8"},
    [EVENT_SUPPRESSED] = {"suppressed", "c2f7e1a94d3b4e6a8f05b7d1e9a3c640"},
    [EVENT_REGISTRY] = {"registry", "7a4d2e9c1b8f4a35a6e0d3c7b2f19e84"},
    [EVENT_ODD] = {"odd-registration", "0e8f3c2a7b5d4e19a6c4f1b2d3e5a7c9"},
    [EVENT_HANDED_OVER] = {"handed-over", "3f7e56018a3247b091fdcc5e6aa5bdd3"},
    [EVENT_EXTENDED] = {"deadline-extended", "6f2b9d4e8a1c4d7b9e3f5a0c2d4b6e81"},
    [EVENT_UNKILLABLE] = {"unkillable", "6b0f4d7e2c914a58b3e1d9a07c5f2e36"},
    [EVENT_DEFERRED] = {"deadline-deferred", "f43f94c012a04dfc9117ebabc6df151c"},
    [EVENT_FROZEN] = {"frozen", "85d6b8689f474e50aab39f7a9684d0db"},
    [EVENT_DEBUGGED] = {"being-debugged", "aed481540ae74e05a17f1b72fd7a262e"},
    [EVENT_DUMPING] = {"dumping-core", "ed02499c769f4b83b76cdd4f55e59412"},
    [EVENT_NEAR] = {"deadline-near", "f41e7a669ebc4a09a0c53dd07320048b"},
};

/* The rate limit of limited events (see log.h). */
static struct {
	uint64_t window_start_ns;
	unsigned used;
	uint64_t held; /* held back in this window */
} limit;

static const char *const level_names[] = {"emerg",   "alert",  "crit", "error",
					  "warning", "notice", "info", "debug"};

const char *event_kind_name(enum event_kind k)
{
	return k < EVENT_KIND_MAX ? kinds[k].name : "unknown";
}

const char *event_kind_id(enum event_kind k)
{
	return k < EVENT_KIND_MAX ? kinds[k].id : "00000000000000000000000000000000";
}

void log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets JOURNAL_STREAM=DEV:INO for the stream it connected;
	 * only if it is still our stderr do we talk to the journal directly. */
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
		log_to_journal =
		    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* One line; EXTRA fields (may be NULL) follow the message as
 * [NAME="value" ...], the journal's fields in a form a script can split. */
static void log_stderr(int level, const char *tag, const char *msg, const char *const *extra)
{
	char fields[1024] = "";
	size_t at = 0;

	if (level < 0 || level > LOG_DEBUG)
		level = LOG_INFO;
	for (size_t i = 0; extra && extra[i] && at < sizeof(fields); i++) {
		const char *eq = strchr(extra[i], '=');
		int n;
		if (!eq)
			continue;
		n = snprintf(fields + at, sizeof(fields) - at, "%s%.*s=\"%s\"", i ? " " : " [",
			     (int)(eq - extra[i]), extra[i], eq + 1);
		if (n > 0)
			at += (size_t)n;
	}
	/* Cut short (never in practice: the fields are bounded) or closed. */
	if (at >= sizeof(fields) - 1)
		at = sizeof(fields) - 2;
	if (at > 0) {
		fields[at] = ']';
		fields[at + 1] = '\0';
	}
	if (tag)
		fprintf(stderr, "hbwatch: %s: %s: %s%s\n", level_names[level], tag, msg, fields);
	else
		fprintf(stderr, "hbwatch: %s: %s%s\n", level_names[level], msg, fields);
}

void log_msg(int level, const char *fmt, ...)
{
	int saved = errno;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_to_journal)
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level,
				"SYSLOG_IDENTIFIER=hbwatch", NULL);
	else
		log_stderr(level, NULL, msg, NULL);
	errno = saved;
}

#define MAX_FIELDS 16
#define MAX_EXTRA  12

struct fields {
	struct iovec iov[MAX_FIELDS];
	char buf[MAX_FIELDS][160];
	int n;
};

static void field_add(struct fields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void field_add(struct fields *f, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (f->n >= MAX_FIELDS)
		return;
	va_start(ap, fmt);
	len = vsnprintf(f->buf[f->n], sizeof(f->buf[0]), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(f->buf[0]))
		len = sizeof(f->buf[0]) - 1;
	f->iov[f->n] = (struct iovec){.iov_base = f->buf[f->n], .iov_len = (size_t)len};
	f->n++;
}

static void log_event_raw(int level, const struct event *e, const char *msg);

void log_flush_suppressed(void)
{
	uint64_t now = now_ns();
	char msg[160];

	if (now - limit.window_start_ns < LOG_LIMIT_INTERVAL_NS)
		return;
	if (limit.held) {
		struct event e = {.kind = EVENT_SUPPRESSED, .slot = -1};
		snprintf(msg, sizeof(msg),
			 "rate limit: %llu warning%s held back in the last %llu s (at most %u per "
			 "interval; kills are always logged)",
			 (unsigned long long)limit.held, limit.held == 1 ? " was" : "s were",
			 (unsigned long long)(LOG_LIMIT_INTERVAL_NS / 1000000000u),
			 LOG_LIMIT_BURST);
		log_event_raw(LOG_WARNING, &e, msg);
	}
	limit.window_start_ns = now;
	limit.used = 0;
	limit.held = 0;
}

static bool limit_allow(void)
{
	log_flush_suppressed();
	if (limit.used < LOG_LIMIT_BURST) {
		limit.used++;
		return true;
	}
	limit.held++;
	return false;
}

void log_eventv(int level, const struct event *e, const char *fmt, va_list ap)
{
	char msg[1024];

	if (e->limited && !limit_allow())
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_event_raw(level, e, msg);
}

void log_event(int level, const struct event *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_eventv(level, e, fmt, ap);
	va_end(ap);
}

static void log_event_raw(int level, const struct event *e, const char *msg)
{
	int saved = errno;
	struct fields f = {.n = 0};

	if (!log_to_journal) {
		log_stderr(level, event_kind_name(e->kind), msg, e->extra);
		errno = saved;
		return;
	}
	/* MESSAGE= may be long; it gets its own iovec rather than a buffer. */
	struct iovec iov[MAX_FIELDS + 1 + MAX_EXTRA];
	char mbuf[1100];
	int mlen = snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", msg);
	iov[0] = (struct iovec){
	    .iov_base = mbuf,
	    .iov_len = (size_t)(mlen < (int)sizeof(mbuf) ? mlen : (int)sizeof(mbuf) - 1)};
	field_add(&f, "MESSAGE_ID=%s", event_kind_id(e->kind));
	field_add(&f, "PRIORITY=%d", level);
	field_add(&f, "SYSLOG_IDENTIFIER=hbwatch");
	field_add(&f, "HBWATCH_EVENT=%s", event_kind_name(e->kind));
	if (e->name)
		field_add(&f, "HBWATCH_NAME=%s", e->name);
	if (e->task)
		field_add(&f, "HBWATCH_TASK=%s", e->task);
	if (e->slot >= 0)
		field_add(&f, "HBWATCH_SLOT=%d", e->slot);
	if (e->shmid > 0)
		field_add(&f, "HBWATCH_SHMID=%d", e->shmid);
	if (e->legacy)
		field_add(&f, "HBWATCH_TABLE=legacy");
	if (e->pid != 0)
		field_add(&f, "HBWATCH_PID=%d", (int)e->pid);
	/* Only for a verified registrant: an unverified record names whatever
	 * process its writer chose, and must not land in that unit's log. */
	if (e->pid > 0 && e->verified)
		field_add(&f, "OBJECT_PID=%d", (int)e->pid);
	if (e->timeout_ns)
		field_add(&f, "HBWATCH_TIMEOUT_USEC=%llu",
			  (unsigned long long)(e->timeout_ns / 1000));
	if (e->late_ns)
		field_add(&f, "HBWATCH_LATE_USEC=%llu", (unsigned long long)(e->late_ns / 1000));
	if (e->signal > 0) {
		const char *sig = sigabbrev_np(e->signal);
		field_add(&f, "HBWATCH_SIGNAL=SIG%s", sig ? sig : "?");
	}
	if (e->unit)
		field_add(&f, "HBWATCH_UNIT=%s", e->unit);
	memcpy(&iov[1], f.iov, sizeof(struct iovec) * (size_t)f.n);
	int n = f.n + 1;
	for (size_t i = 0; e->extra && e->extra[i] && i < MAX_EXTRA; i++)
		iov[n++] = (struct iovec){.iov_base = (void *)(uintptr_t)e->extra[i],
					  .iov_len = strlen(e->extra[i])};
	sd_journal_sendv(iov, n);
	errno = saved;
}
