/* The daemon's state: the table it owns, the settings in force, and what
 * it knows about each slot. */
#ifndef HBWATCH_DAEMON_H
#define HBWATCH_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "doorbell.h"
#include "log.h"
#include "notify.h"
#include "settings.h"
#include "table.h"

enum watch_state {
	WATCH_FREE,    /* nothing tracked for this slot */
	WATCH_ACTIVE,  /* adopted: deadlines are enforced */
	WATCH_REFUSED, /* never acted on (reason logged once) */
	WATCH_KILLING, /* signalled, waiting for it to exit */
	WATCH_LOGGED,  /* deadline handled without a kill; rearms on a new beat */
};

/* One registration, identified by (slot, seq, pid, start time). */
struct watch {
	struct daemon *d;
	uint32_t slot;
	enum watch_state state;
	uint32_t seq;
	pid_t pid;
	uint64_t start_time;
	uint64_t handled_beat;	 /* beat_ns of the deadline acted on (LOGGED) */
	char name[HB_NAME_SIZE]; /* printable copy, safe for logs */
	int pidfd;
	sd_event_source *exit_source;
	sd_event_source *escalate_source;
	bool free_pending; /* slot must be freed once the lock is free */
	bool warned_future;
	bool warned_busy;
	bool legacy; /* a record of the classic table: never written, slot = record */
};

/* Events counted per name for the metrics ("hbwatch_kills_total", ...). */
struct counter {
	char name[HB_NAME_SIZE];
	uint64_t n[EVENT_KIND_MAX];
};

struct legacy_watch;

/* The classic CPActive table of [legacy], attached read-only. */
struct legacy {
	int key;	/* attached or looked for; 0: none */
	int shmid;	/* -1: not attached */
	int bad_shmid;	/* a segment refused (wrong size), not reported again */
	int last_errno; /* of the last failed look-up, reported once */
	const void *mem;
	struct legacy_watch *recs;
	uint64_t next_look_ns;
	int64_t clock_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC at the last scan */
	bool have_offset;
};

/* Kill rate-limit state of one service, kept across reloads by name. */
struct rate {
	char name[HB_NAME_SIZE];
	uint64_t window_start_ns;
	unsigned count;
};

struct daemon {
	sd_event *event;
	sd_event_source *timer;
	uint64_t timer_at_ns; /* when the timer is armed for */
	uint64_t last_scan_ns;
	struct doorbell doorbell;
	struct notifier notify;
	sd_event_source *status_timer; /* pending STATUS= retry */
	uint64_t status_sent_ns;
	uint64_t watchdog_usec; /* WatchdogSec= of our unit, 0: none */
	sd_bus *bus;		/* opened on first restart-unit */
	const char *config_path;
	struct settings settings;
	struct hb_table table;
	struct watch *watches; /* table.slot_count entries */
	struct rate *rates;
	size_t n_rates;
	pid_t self;
	uint64_t scan_period_ns;
	uint64_t lock_busy_since_ns; /* 0: the lock was free last time */
	bool lock_warned;
	unsigned n_active;
	unsigned n_killed;
	struct counter *counters;
	size_t n_counters;
	struct legacy legacy;
	sd_event_source *textfile_timer;
	uint64_t textfile_written_ns;
	uint64_t textfile_generation;
	bool textfile_dirty;
	bool textfile_warned;
	char last_action[160];
	char status[256];
};

/* Scan the whole table: adopt new slots, drop gone ones, act on missed
 * deadlines.  Returns the CLOCK_MONOTONIC time of the next deadline (or of
 * the next periodic scan, whichever is first). */
uint64_t watch_scan(struct daemon *d);

/* Forget every registration (pidfds closed, timers dropped) except those
 * being killed; the next scan adopts them again under the settings in
 * force.  Used after a reload. */
void watch_reset(struct daemon *d, bool all);

/* Free slot W->slot in the table if it still holds W's registration.
 * Tries the lock without waiting; if it is held, retried on the next scan. */
void watch_free_slot(struct watch *w);

/* Stop tracking W: close its pidfd and drop its timers. */
void watch_release(struct watch *w);

/* Deadline of W missed by LATE_NS: check W is a legitimate target and apply
 * the service's action. */
void kill_deadline_missed(struct watch *w, const struct service *svc, uint64_t timeout_ns,
			  uint64_t late_ns);

/* Refuse W for good (logged once as a possible forgery): it is never
 * signalled while its registration stays the same. */
void watch_refuse(struct watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "slot" or "legacy record", for messages about W. */
const char *watch_what(const struct watch *w);

/* Count event K for NAME (a service or a refused name) in the metrics. */
void daemon_count(struct daemon *d, const char *name, enum event_kind k);

/* The classic table ([legacy]): look for it, adopt its records, act on
 * missed deadlines.  Returns the CLOCK_MONOTONIC time of its next
 * deadline, or UINT64_MAX. */
uint64_t legacy_scan(struct daemon *d);

/* Forget every legacy record except those being killed (after a reload);
 * ALL: every one, and detach the table. */
void legacy_reset(struct daemon *d, bool all);

/* The textfile for node_exporter (metrics_dir): rewrite it if something
 * changed, at most once a second. */
void textfile_update(struct daemon *d);

/* Stop the textfile's timer. */
void textfile_finish(struct daemon *d);

/* Record an action for STATUS= and log messages. */
void daemon_set_last_action(struct daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
