/* Events: every happening the daemon tells of (a deadline missed, a
 * signal sent, ...), each of one kind, and one table (event.c) that says
 * for each kind how the journal knows it (HBWATCH_EVENT= and MESSAGE_ID=),
 * its priority, whether the log's rate limit may hold it back, and which
 * counter of the metrics it adds to, if any.  Call sites name the kind;
 * event_emit() writes the record and counts it, so nothing about how an
 * event is told is decided where it happens. */
#ifndef HBWATCH_EVENT_H
#define HBWATCH_EVENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "stats.h"

/* What the journal knows a record by: HBWATCH_EVENT= and MESSAGE_ID=, one
 * entry of hbwatch.catalog each.  Several event kinds may share one (a
 * thaw is told as a "frozen" record, at a lower priority, uncounted). */
enum journal_kind {
	JOURNAL_DEADLINE_MISSED,
	JOURNAL_SIGNAL_SENT,
	JOURNAL_ESCALATED,
	JOURNAL_PROCESS_GONE,
	JOURNAL_STALE_RECORD,
	JOURNAL_REFUSED,
	JOURNAL_RELOADED,
	JOURNAL_RATE_LIMITED,
	JOURNAL_RESTART_UNIT,
	JOURNAL_STARTED,
	JOURNAL_UNTRUSTED,
	JOURNAL_SUPPRESSED,
	JOURNAL_REGISTRY,
	JOURNAL_ODD,
	JOURNAL_HANDED_OVER,
	JOURNAL_EXTENDED,
	JOURNAL_UNKILLABLE,
	JOURNAL_DEFERRED,
	JOURNAL_FROZEN,
	JOURNAL_DEBUGGED,
	JOURNAL_DUMPING,
	JOURNAL_NEAR,
	JOURNAL_KIND_MAX,
};

/* The kinds of event; event.c's table says how each is told. */
enum event_kind {
	EVENT_DEADLINE_MISSED,	       /* an action follows: always told */
	EVENT_DEADLINE_MISSED_LIMITED, /* action=log, or the same deadline at a retry */
	EVENT_SIGNAL_SENT,
	EVENT_ESCALATED,
	EVENT_PROCESS_GONE,	 /* exited while watched, without unregistering */
	EVENT_SIGNALLED_GONE,	 /* exited after being signalled */
	EVENT_STALE_RECORD,	 /* its process is gone or its pid was reused */
	EVENT_STALE_BEAT,	 /* classic: the process started after the record's beat */
	EVENT_STALE_UNWATCHABLE, /* classic: its pidfd cannot be watched */
	EVENT_REFUSED,		 /* a registration against its section */
	EVENT_UNWATCHED,	 /* a registration under no watched service */
	EVENT_RELOADED,
	EVENT_RATE_LIMITED,
	EVENT_RESTART_UNIT,
	EVENT_STARTED,
	EVENT_UNTRUSTED,	 /* a registration that is not the word of one who may signal */
	EVENT_NOT_SENT,		 /* a signal not sent after all: its target changed */
	EVENT_NOT_HANDED_OVER,	 /* a unit action not asked: not all the unit is theirs */
	EVENT_TABLE_UNTRUSTED,	 /* the classic table may be written by others */
	EVENT_SUPPRESSED,	 /* how many records the rate limit held back */
	EVENT_REGISTRY_REPAIRED, /* the registry's header was rewritten, and put back */
	EVENT_REGISTRY_REMOVED,	 /* the registry was removed from under hbwatch */
	EVENT_REGISTRY_REMADE,	 /* ... and made again */
	EVENT_REGISTRY_FAILED,	 /* the registry cannot be made */
	EVENT_ODD,	   /* a registration looks wrong (future beat, bad timeout) or waits */
	EVENT_BUS_ERROR,   /* systemd could not be asked, or refused */
	EVENT_HANDED_OVER, /* limit_action: a unit handed to systemd after kill_burst */
	EVENT_EXTENDED,	   /* a process or task extended its deadline */
	EVENT_UNKILLABLE,  /* still there kill_grace after SIGKILL */
	EVENT_DEFERRED,	   /* a missed deadline deferred: the process was starved */
	EVENT_FROZEN,	   /* a missed deadline left alone: its cgroup is frozen */
	EVENT_THAWED,	   /* ... and the cgroup thawed */
	EVENT_DEBUGGED,	   /* a missed deadline left alone: a tracer holds it */
	EVENT_RELEASED,	   /* ... and the tracer let it go */
	EVENT_DUMPING,	   /* SIGKILL waits: the process is writing its core */
	EVENT_NEAR,	   /* warn_at: a deadline near, with the triage */
	EVENT_KIND_MAX,
};

/* How a kind of event is told: the row of the table. */
struct event_kind_info {
	enum journal_kind journal;
	int priority;		    /* syslog level */
	bool limited;		    /* the log's rate limit may hold it back (warnings,
				     * refusals); records of actions never are */
	enum stats_counter counter; /* STATS_NONE: not counted */
};

/* Who an event is about: a registration as the daemon knows it.  A watch
 * keeps its own (state.c keeps it current), so that telling an event
 * about it takes no more than naming the kind beside it. */
struct event_subject {
	const char *name;
	int slot;  /* classic table record index; -1: none */
	int shmid; /* heartbeat record segment; 0 or -1: none */
	pid_t pid;
	bool legacy;   /* a record of the classic table ([legacy]) */
	bool verified; /* PID is a verified registrant: OBJECT_PID= may point at it */
};

/* What an event concerns; unset fields are 0/NULL and are left out. */
struct event {
	enum event_kind kind;
	struct event_subject who;
	const char *task; /* the task's label, for a task's deadline */
	uint64_t timeout_ns;
	uint64_t late_ns;
	int signal;
	const char *unit;
	const char *const *extra; /* more fields, "HBWATCH_X=value", NULL-terminated;
				   * NULL: none.  On stderr: after the message */
};

/* In the format of event_emit(), these words stand for what the event
 * itself says, written the same way by every caller: "{record}" for
 * "record SHMID" or "legacy record SLOT", "{timeout}" for TIMEOUT_NS as a
 * duration ("1.5 s"), "{late}" for LATE_NS in milliseconds ("12.345 ms"). */

/* Tell event E: write its record (unless the rate limit holds it back)
 * and count it, under its subject's name, as its kind says.  S may be NULL only for
 * events that concern no service. */
void event_emit(struct stats *s, const struct event *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* event_emit() with a va_list. */
void event_emitv(struct stats *s, const struct event *e, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Count E as its kind says without a record: one its caller holds back
 * by a limit of its own. */
void event_count(struct stats *s, const struct event *e);

/* If limited events were held back and their interval is over, say how
 * many (a record never held back).  Called from the loop now and then. */
void event_flush_suppressed(void);

/* The row of kind K (K must be a kind). */
const struct event_kind_info *event_kind_info(enum event_kind k);

/* The short name of journal kind J ("deadline-missed", ...), the
 * HBWATCH_EVENT= field and the tag of stderr lines. */
const char *journal_kind_name(enum journal_kind j);

/* The MESSAGE_ID of journal kind J, 32 hex digits. */
const char *journal_kind_id(enum journal_kind j);

#endif
