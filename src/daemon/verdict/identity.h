/* Who may be acted on: the one place that decides whether a registration
 * (a heartbeat record or a classic table record) is a legitimate target.
 * Pure: the facts are gathered elsewhere (identity_gather() reads /proc and
 * asks systemd for the unit), so every refusal is unit-tested. */
#ifndef HBWATCH_IDENTITY_H
#define HBWATCH_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ownership.h"
#include "settings.h"

/* Everything the decision looks at. */
struct identity_facts {
	pid_t pid;		    /* the process named (in our PID namespace) */
	pid_t self;		    /* hbwatch's own pid */
	bool gone;		    /* no such process */
	uint64_t start_time;	    /* its start time now (when not gone) */
	uint64_t recorded;	    /* the start time the registration recorded, or 0 */
	uint64_t started_by;	    /* else: the latest it may be (proc_started_by()) */
	bool kthread;		    /* a kernel thread */
	int uids_err;		    /* 0, or -errno reading its uids */
	uid_t ruid, suid;	    /* its real and saved uids */
	bool have_ownership;	    /* OWN describes who wrote the registration */
	struct ownership_facts own; /* ruid/suid are filled in by identity_decide() */
	bool name_ok;		    /* NAME is a valid service name */
	const char *name;
	const char *unit;   /* its systemd unit, NULL if none */
	int unit_err;	    /* -errno of the unit look-up, 0 if found */
	bool skip_unit;	    /* in: no section it could fall under asks for a unit */
	uint64_t cpu_ticks; /* its utime + stime when the facts were read */
	/* A classic table's record holds no start time, only the wall-clock
	 * second of its last beat: its process must have started by then. */
	bool have_atime;	/* in: the rule applies */
	int64_t atime;		/* in: time(0) of its last beat */
	uint64_t start_real_ns; /* its start on CLOCK_REALTIME (identity_gather()) */
	int start_real_err;	/* -errno reading it, 0 if read */
};

/* Slack of the started-after-its-heartbeat rule: start times are in clock
 * ticks and are converted to wall time by reading two clocks. */
#define IDENTITY_START_SLACK_NS (100u * 1000000u)

enum identity_verdict {
	IDENTITY_OK,	    /* watch it: deadlines are enforced */
	IDENTITY_STALE,	    /* its process is gone or is another one now */
	IDENTITY_UNTRUSTED, /* not the word of someone who may signal it: never acted on */
	IDENTITY_UNWATCHED, /* its name is no watched service */
	IDENTITY_MISMATCH,  /* its section's unit= or user= does not match */
	IDENTITY_RETRY,	    /* a transient failure: look again later */
};

/* Decide about F under settings S.  *SVC gets the matching section (for
 * OK and MISMATCH), WHY a sentence for the log (always set).  Pure. */
enum identity_verdict identity_decide(const struct identity_facts *f, const struct settings *s,
				      const struct service **svc, char *why, size_t why_len);

/* May hbwatch pin and ever signal PID (hbwatch being SELF)?  Not init, not
 * itself, not a group or nothing.  Pure. */
bool identity_pid_ok(pid_t pid, pid_t self);

/* Does F's classic record name a process that started after its last
 * beat (or whose start cannot be read)?  Pure. */
bool identity_atime_stale(const struct identity_facts *f);

/* The start time that ties a registration to its process from now on, of
 * the facts F just built: the recorded one; for a classic record (which
 * holds none), the start of the process the pidfd holds (identity_decide()
 * checks that it started by its last beat); for a record holding only a
 * bound, the process's start if it started by then; else 0 (gone, or
 * never acted on: nothing was read).  Pure. */
uint64_t identity_pinned_start(const struct identity_facts *f);

/* Pin PID with a pidfd in *PIDFD, unless it holds one already or hbwatch
 * may never act on PID (identity_pid_ok()): what identity_build() is then
 * told.  Returns 0 (*PIDFD still -1 if PID is gone or never acted on), or
 * -errno of a transient failure (EMFILE ...), errno kept. */
int identity_pin(pid_t pid, pid_t self, int *pidfd);

/* The one builder of a verdict's identity facts: for PID (hbwatch being
 * SELF), read now if hbwatch may act on it and PINNED (a pidfd holds it);
 * else named as gone (or as init / hbwatch, which the decider refuses).
 * The registration's own facts (recorded, ownership, name, atime) are the
 * caller's.  The caller frees F->unit. */
void identity_build(struct identity_facts *f, pid_t pid, pid_t self, bool pinned);

/* identity_build() for a process PIDFD pins (-1: none, nothing read):
 * what the kernel can say through the pidfd (its uids) is asked there,
 * the rest is read from /proc. */
void identity_build_pidfd(struct identity_facts *f, pid_t pid, pid_t self, int pidfd);

/* Fill the process facts of F for PID: start time, kernel thread, CPU,
 * uids, the start on the wall clock if F->have_atime and, unless
 * F->skip_unit, unit (the caller frees F->unit).  Leaves the
 * registration's own facts (recorded, ownership, name) alone. */
void identity_gather(struct identity_facts *f, pid_t pid);

/* identity_gather() with the uids asked of PIDFD (>= 0), which pins PID,
 * where the kernel answers (pidinfo.h). */
void identity_gather_pinned(struct identity_facts *f, pid_t pid, int pidfd);

/* What is read just before a signal goes to one process: the registered
 * process itself (RECORDED set) or a member of its process group. */
struct signal_facts {
	pid_t pid;	     /* the target (in our PID namespace) */
	pid_t self;	     /* hbwatch's own pid */
	bool gone;	     /* no such process */
	uint64_t start_time; /* its start time now (when not gone) */
	uint64_t recorded;   /* the start time it must have, 0: any */
	bool kthread;	     /* a kernel thread */
	int uids_err;	     /* 0, or -errno reading its uids */
	uid_t ruid, suid;    /* its real and saved uids */
};

/* May a signal go to the process F describes on the word of WRITER (the
 * creator and the owner of the record: both must be able to signal it, as
 * kill(2) decides)?  OK, STALE (gone, or another process), UNTRUSTED (pid
 * 1, hbwatch, a kernel thread, or a process the writer could not signal),
 * RETRY (its uids could not be read).  WHY is always set.  Pure. */
enum identity_verdict identity_may_signal(const struct ownership_facts *writer,
					  const struct signal_facts *f, char *why, size_t why_len);

/* Fill F for PID: start time, kernel thread and uids, read now.  Leaves
 * F->recorded alone. */
void identity_gather_signal(struct signal_facts *f, pid_t pid);

#endif
