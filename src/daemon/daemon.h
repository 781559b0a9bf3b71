/* The daemon's state: the registry it owns, the settings in force, and
 * what it knows about each registration it watches. */
#ifndef HBWATCH_DAEMON_H
#define HBWATCH_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/shm.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "doorbell.h"
#include "event.h"
#include "idmap.h"
#include "lift.h"
#include "log.h"
#include "notify.h"
#include "ownership.h"
#include "record.h"
#include "registry.h"
#include "settings.h"
#include "share.h"
#include "stats.h"
#include "status.h"
#include "target.h"
#include "triage.h"
#include "verdict.h"

enum watch_state {
	WATCH_FREE,    /* nothing tracked */
	WATCH_ACTIVE,  /* adopted: deadlines are enforced */
	WATCH_REFUSED, /* registered under no watched service, or against its section */
	WATCH_KILLING, /* signalled, waiting for it to exit */
	WATCH_LOGGED,  /* deadline handled without a kill; rearms on a new beat */
};

/* A task of a native registration, as last read, by slot. */
struct watch_task {
	struct hb_task_view v;
	uint64_t told_ext_at; /* the extension last logged */
	bool open;
};

/* Which heartbeat of a watch a deadline belongs to: its process's, or a
 * task's (slot << 32 | generation). */
#define WATCH_BEAT_PROCESS UINT64_MAX

/* A missed deadline, the one fact a watch hands to act/
 * (kill_deadline_missed()): whose heartbeat, which beat, how late. */
struct deadline_miss {
	uint64_t heartbeat; /* WATCH_BEAT_PROCESS or a task's (slot << 32 | generation) */
	uint64_t beat_ns;   /* the beat whose deadline it was */
	uint64_t timeout_ns;
	uint64_t late_ns;
	uint64_t seen_ns; /* when the scan found it missed */
	const char *task; /* the task's label; NULL: the process's own heartbeat */
	pid_t tid;	  /* the thread the record says beat it last, 0: none */
};

/* One registration: a heartbeat record (native) or a record of the classic
 * table (legacy), pinned to its process by a pidfd. */
struct watch {
	struct daemon *d;
	enum watch_state state;
	bool legacy;		     /* a record of the classic table: never written */
	uint32_t slot;		     /* legacy: the record's index; native: index in d->ws.v */
	int shmid;		     /* native: the record's segment */
	struct hb_record_map record; /* native: attached read-only, and how to read it */
	bool remove_when_done;	     /* native: a record handed to us (hbctl's) */
	struct hb_record_view v;     /* native: the last consistent view, on our clock */
	int64_t clock_rel_ns;	     /* native: how far its process's clock is ahead of ours */
	uint32_t seq;		     /* native: the registration evaluated */
	pid_t pid;
	uint64_t start_time;
	uint64_t handled_beat;	    /* beat_ns of the deadline acted on (LOGGED) */
	uint64_t handled_heartbeat; /* whose: WATCH_BEAT_PROCESS or a task */
	struct watch_task *tasks;   /* native: by slot, N_TASKS of them; NULL: none yet */
	uint32_t n_tasks;
	uint64_t told_ext_at;		      /* native: the process's extension last logged */
	char missed_task[HB_TASK_LABEL_SIZE]; /* the task whose deadline was acted on, or "" */
	pid_t missed_tid;		      /* the thread the record says beat it last, 0: none */
	pid_t stuck_tid;		      /* ... once /proc showed it a thread of the process */
	uint64_t retry_at_ns;	 /* LOGGED: act again then if still no beat; 0: never */
	uint64_t retried_beat;	 /* handled_beat when an action was put off to a retry */
	char name[HB_NAME_SIZE]; /* printable copy, safe for logs */
	/* Who its events are about (state.c keeps it current). */
	struct event_subject subject;
	int pidfd;
	struct target_group group; /* kill_group: the members met, group.pgrp 0: none */
	sd_event_source *exit_source;
	sd_event_source *escalate_source;
	bool warned_future;
	bool warned_timeout;
	char why[HB_STATUS_REASON]; /* REFUSED: why it is not watched */
	struct triage_mark triage;  /* CPU near the last beat; why it hung (triage.h) */
	bool view_listed;	    /* native: its index is in d->view_stale */
	/* The verdict (hold.c): why its action is held back, if it is. */
	enum verdict_hold hold;
	bool deferred;		     /* starvation deferred the deadline of ... */
	uint64_t deferred_beat;	     /* ... this beat (handled_beat) ... */
	uint64_t deferred_heartbeat; /* ... of this heartbeat (handled_heartbeat) */
	uint64_t deferred_told_ns;   /* the last deadline-deferred record (rate limit) */
	uint64_t rearm_ns;	     /* a deadline counts from here at the earliest (thaw) */
	uint64_t dump_from_ns;	     /* HOLD_DUMPING: SIGKILL waits since then */
	uint64_t dump_done_ns;	     /* ... and the dump ended then (0: not yet) */
	uint64_t near_beat;	     /* warn_at: the beat deadline-near was said for */
	struct verdict_mark vmark;   /* run-queue wait and throttling near the last beat */
	bool shared;		     /* native: counted in its uid's share while active */
	bool over_share;	     /* native: REFUSED for want of room in the share */
	uid_t share_uid;	     /* the uid whose share it counts against */
};

struct legacy_watch;

/* The classic CPActive table of [legacy], attached read-only. */
struct legacy {
	int key;		    /* attached or looked for; 0: none */
	int shmid;		    /* -1: not attached */
	int bad_shmid;		    /* a segment refused, not reported again */
	uint64_t bad_sig;	    /* its size, mode and owners then: said again on a change */
	int last_errno;		    /* of the last failed look-up, reported once */
	struct ownership_facts own; /* who may write the attached table */
	const void *mem;
	struct legacy_watch *recs;
	uint64_t next_look_ns;
	int64_t clock_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC at the last scan */
	bool have_offset;
};

/* Kill rate-limit state of one unit instance (or of one service for
 * processes in no unit), kept across reloads by key: "SERVICE UNIT". */
struct rate {
	char key[HB_NAME_SIZE + 256];
	uint64_t window_start_ns;
	unsigned count;
	bool handed_over; /* limit_action done in this window: once per window */
};

/* How often a failed action (no bus, EMFILE ...) is tried again. */
#define ACTION_RETRY_NS (1000u * 1000000ull)

/* STATUS= and WATCHDOG=1 to the service manager (manager.c). */
struct manager_link {
	sd_event_source *status_timer; /* pending STATUS= retry */
	uint64_t status_sent_ns;
	sd_event_source *watchdog_timer;
	uint64_t watchdog_usec;		 /* WatchdogSec= of our unit, 0: none */
	uint64_t watchdog_failing_since; /* first ping not delivered, 0: they are */
	bool watchdog_warned;
};

/* The node_exporter textfile (textfile.c). */
struct textfile {
	sd_event_source *timer;
	uint64_t timer_ns; /* when TIMER fires */
	uint64_t written_ns;
	int dirfd;	   /* metrics_dir, opened once (safedir_open), or -1 */
	char *dir;	   /* the metrics_dir= DIRFD was opened for */
	long long started; /* wall clock at start, for hbwatch_start_time_seconds */
	bool warned;
};

/* Finding registrations: the registry's ring of hints, and the census.
 * Written by intake/ only; others go through intake.h. */
struct intake {
	uint64_t head;		 /* next ring entry to read */
	uint64_t pending_since;	 /* head's entry was not written yet at ... */
	uint64_t census_next_ns; /* the next periodic census */
	uint64_t census_last_ns;
	bool census_soon;	  /* hints were lost: a census as soon as allowed */
	struct idmap turned_down; /* shmid -> shm_ctime of records refused */
	bool full_warned;
	bool shm_tight;		   /* System V shared memory nearly used up: warned (shmroom.h) */
	bool unreadable_warned;	   /* a record we may not read: said once */
	bool census_running;	   /* a census is walking the segments, in slices */
	int census_cursor;	   /* the kernel's index it goes on from */
	struct shares census_uids; /* every segment it passed, by owner (shmroom.h) */
};

/* The native registrations (watch.c). */
struct watchset {
	struct watch **v; /* N of them, in no order */
	size_t n, cap;
	struct idmap by_shmid; /* shmid -> struct watch * */
	struct idmap by_pid;   /* pid -> the watch hbwatch watches it through */
	unsigned n_active;     /* ACTIVE, KILLING or LOGGED: hbwatch watches them */
	unsigned n_refused;    /* native registrations kept as REFUSED */
	struct shares shares;  /* active ones under sections without user= (share.h) */
};

/* The kill rate limits (kill.c). */
struct ratelimits {
	struct rate *v;
	size_t n;
};

/* The loop's one deadline timer (main.c). */
struct scan_timer {
	sd_event_source *source;
	uint64_t at_ns;	    /* when it is armed for */
	uint64_t period_ns; /* the longest sleep when no deadline is nearer */
};

/* The registry at the key as the daemon keeps it (registry_link.c). */
struct registry_link {
	struct hb_registry r; /* r.hdr NULL: none at the moment */
	uint64_t checked_ns;
	int last_errno;			   /* of the last failed re-creation, reported once */
	sd_event_io_handler_t on_doorbell; /* the loop's handler of its doorbell (main.c) */
};

struct daemon {
	sd_event *event;
	struct scan_timer scan;
	struct lift lift; /* deadlines first (lift.h) */
	struct doorbell doorbell;
	struct notifier notify;
	struct manager_link mgr; /* what the service manager hears from us */
	sd_bus *bus;		 /* opened on first restart-unit */
	const char *config_path;
	struct settings settings;
	struct registry_link reg;
	struct intake intake;
	struct watchset ws;
	struct ratelimits rl;
	pid_t self;
	unsigned triage_warm_left; /* whole /proc reads of new processes left this pass */
	struct stats stats;
	struct hb_status view; /* what hbctl reads of our decisions (view.c) */
	bool view_dirty;       /* the view needs writing */
	bool view_all;	       /* ... all of it, not only the stale entries */
	uint32_t *view_stale;  /* indexes in ws.v whose entries are out of date */
	size_t view_n_stale, view_cap_stale;
	struct legacy legacy;
	struct textfile textfile; /* metrics_dir/hbwatch.prom */
	char status[256];
};

#endif
