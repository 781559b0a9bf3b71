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
#include "event.h"
#include "log.h"

static bool log_to_journal;

/* The rate limit of limited events (see log.h). */
static struct {
	uint64_t window_start_ns;
	unsigned used;
	uint64_t held; /* held back in this window */
} limit;

static const char *const level_names[] = {"emerg",   "alert",  "crit", "error",
					  "warning", "notice", "info", "debug"};

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

bool log_limit_roll(uint64_t *held)
{
	uint64_t now = now_ns();

	if (now - limit.window_start_ns < LOG_LIMIT_INTERVAL_NS)
		return false;
	*held = limit.held;
	limit.window_start_ns = now;
	limit.used = 0;
	limit.held = 0;
	return true;
}

bool log_limit_take(void)
{
	if (limit.used < LOG_LIMIT_BURST) {
		limit.used++;
		return true;
	}
	limit.held++;
	return false;
}

void log_record(int level, const char *name, const char *id, const struct event *e, const char *msg)
{
	int saved = errno;
	struct fields f = {.n = 0};

	if (!log_to_journal) {
		log_stderr(level, name, msg, e->extra);
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
	field_add(&f, "MESSAGE_ID=%s", id);
	field_add(&f, "PRIORITY=%d", level);
	field_add(&f, "SYSLOG_IDENTIFIER=hbwatch");
	field_add(&f, "HBWATCH_EVENT=%s", name);
	if (e->who.name)
		field_add(&f, "HBWATCH_NAME=%s", e->who.name);
	if (e->task)
		field_add(&f, "HBWATCH_TASK=%s", e->task);
	if (e->who.slot >= 0)
		field_add(&f, "HBWATCH_SLOT=%d", e->who.slot);
	if (e->who.shmid > 0)
		field_add(&f, "HBWATCH_SHMID=%d", e->who.shmid);
	if (e->who.legacy)
		field_add(&f, "HBWATCH_TABLE=legacy");
	if (e->who.pid != 0)
		field_add(&f, "HBWATCH_PID=%d", (int)e->who.pid);
	/* Only for a verified registrant: an unverified record names whatever
	 * process its writer chose, and must not land in that unit's log. */
	if (e->who.pid > 0 && e->who.verified)
		field_add(&f, "OBJECT_PID=%d", (int)e->who.pid);
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
