/* Logging.  Under journald (stderr is the journal stream named by
 * $JOURNAL_STREAM) every line is a structured record sent with sd-journal;
 * otherwise a readable line on stderr.  Events (a deadline missed, a signal
 * sent, ...) carry a MESSAGE_ID per kind and the fields of the slot they
 * concern, so `journalctl MESSAGE_ID=...` and, through OBJECT_PID=,
 * `journalctl -u VICTIM.service` find them.  errno is preserved. */
#ifndef HBWATCH_LOG_H
#define HBWATCH_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

enum event_kind {
	EVENT_DEADLINE_MISSED,
	EVENT_SIGNAL_SENT,
	EVENT_ESCALATED,
	EVENT_PROCESS_GONE,
	EVENT_STALE_SLOT,
	EVENT_REFUSED,
	EVENT_RELOADED,
	EVENT_RATE_LIMITED,
	EVENT_LOCK_HELD,
	EVENT_RESTART_UNIT,
	EVENT_STARTED,
	EVENT_KIND_MAX,
};

/* What an event concerns; unset fields are 0/NULL and are left out. */
struct event {
	enum event_kind kind;
	const char *name;
	int slot; /* -1: none */
	pid_t pid;
	uint64_t timeout_ns;
	uint64_t late_ns;
	int signal;
	const char *unit;
	bool legacy; /* concerns a record of the classic table ([legacy]) */
};

/* Choose the sink: the journal if stderr is connected to it. */
void log_init(void);

/* Log at syslog LEVEL; never fails, keeps errno. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log event E at LEVEL with a message. */
void log_event(int level, const struct event *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The short name of an event kind ("deadline-missed", ...), also the
 * HBWATCH_EVENT= field and the tag of stderr lines. */
const char *event_kind_name(enum event_kind k);

/* The MESSAGE_ID of an event kind, 32 hex digits. */
const char *event_kind_id(enum event_kind k);

#define log_error(...)	 log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	 log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	 log_msg(LOG_INFO, __VA_ARGS__)

#endif
