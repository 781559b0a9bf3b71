/* Logging.  Under journald (stderr is the journal stream named by
 * $JOURNAL_STREAM) every line is a structured record sent with sd-journal;
 * otherwise a readable line on stderr.  Events (a deadline missed, a signal
 * sent, ...) carry a MESSAGE_ID per kind and the fields of the slot they
 * concern, so `journalctl MESSAGE_ID=...` and, through OBJECT_PID=,
 * `journalctl -u VICTIM.service` find them.  errno is preserved. */
#ifndef HBWATCH_LOG_H
#define HBWATCH_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

enum event_kind {
	EVENT_DEADLINE_MISSED,
	EVENT_SIGNAL_SENT,
	EVENT_ESCALATED,
	EVENT_PROCESS_GONE,
	EVENT_STALE_RECORD,
	EVENT_REFUSED,
	EVENT_RELOADED,
	EVENT_RATE_LIMITED,
	EVENT_RESTART_UNIT,
	EVENT_STARTED,
	EVENT_UNTRUSTED,   /* a registration that is not the word of one who may signal */
	EVENT_SUPPRESSED,  /* how many records the rate limit held back */
	EVENT_REGISTRY,	   /* the registry at the key was removed, recreated, refused */
	EVENT_ODD,	   /* a registration looks wrong (future beat, bad timeout) or waits */
	EVENT_HANDED_OVER, /* limit_action: a unit handed to systemd after kill_burst */
	EVENT_EXTENDED,	   /* a process or task extended its deadline */
	EVENT_UNKILLABLE,  /* still there kill_grace after SIGKILL */
	EVENT_DEFERRED,	   /* a missed deadline deferred: the process was starved */
	EVENT_FROZEN,	   /* a missed deadline left alone: its cgroup is frozen */
	EVENT_DEBUGGED,	   /* a missed deadline left alone: a tracer holds it */
	EVENT_DUMPING,	   /* SIGKILL waits: the process is writing its core */
	EVENT_NEAR,	   /* warn_at: a deadline near, with the triage */
	EVENT_KIND_MAX,
};

/* What an event concerns; unset fields are 0/NULL and are left out. */
struct event {
	enum event_kind kind;
	const char *name;
	const char *task; /* the task's label, for a task's deadline */
	int slot;	  /* classic table record index; -1: none */
	int shmid;	  /* heartbeat record segment; 0 or -1: none */
	pid_t pid;
	uint64_t timeout_ns;
	uint64_t late_ns;
	int signal;
	const char *unit;
	bool legacy;		  /* concerns a record of the classic table ([legacy]) */
	bool verified;		  /* PID is a verified registrant: OBJECT_PID= may point at it */
	bool limited;		  /* subject to the rate limit (warnings, refusals); records
				   * of kills, signals and restarts never are */
	const char *const *extra; /* more fields, "HBWATCH_X=value", NULL-terminated;
				   * NULL: none.  On stderr: after the message */
};

/* The rate limit of limited events: at most LOG_LIMIT_BURST per
 * LOG_LIMIT_INTERVAL_NS, then one summary per interval, far below
 * journald's default of 10000 per 30 s for the whole service. */
#define LOG_LIMIT_BURST	      200u
#define LOG_LIMIT_INTERVAL_NS (30u * 1000000000ull)

/* Choose the sink: the journal if stderr is connected to it. */
void log_init(void);

/* Log at syslog LEVEL; never fails, keeps errno. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log event E at LEVEL with a message. */
void log_event(int level, const struct event *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* log_event() with a va_list. */
void log_eventv(int level, const struct event *e, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* If limited events were held back and their interval is over, log how
 * many.  Called from the loop now and then. */
void log_flush_suppressed(void);

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
