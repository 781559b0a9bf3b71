/* The classic heartbeat table ([legacy]): 1000 records of the teaching
 * code's CPActive class, { int pid; char pname[51]; int timeout; time_t
 * atime; } as laid out on x86_64 (72 bytes), timeout in seconds and atime
 * from time(0).  Unchanged programs keep publishing there; hbwatch watches
 * them with the same checks and actions as its own slots.
 *
 * hbwatch never writes that table or touches its semaphore: it attaches
 * read-only (SHM_RDONLY) and reads records without the lock, keeping a
 * copy only when two reads agree.  The classic guardian zeroes the record
 * of a dead process; hbwatch leaves it to its owner (the lesson code reuses
 * a record by pid, and its destructor clears it at exit), so a dead
 * record only shows as stale and is never a target.
 *
 * Time: atime is wall-clock seconds.  Each new atime is converted once, when
 * it is first seen, into an age on CLOCK_MONOTONIC, and the deadline runs on
 * that clock from then on, so stepping the wall clock later moves no
 * deadline.  An atime in the future, or one first seen in a scan right after
 * the wall clock jumped, counts from now (re-baselined): a jump costs a hung
 * process at most one extra timeout and never kills a healthy one. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "deadline.h"
#include "hold.h"
#include "identity.h"
#include "kill.h"
#include "legacy.h"
#include "log.h"
#include "proc.h"
#include "state.h"

#define LEGACY_RECORDS	   1000u
#define LEGACY_PNAME	   51
#define LEGACY_TIMEOUT_MAX 86400 /* seconds, as HB_TIMEOUT_MAX_MS */
#define NS_S		   UINT64_C(1000000000)
/* The wall clock moving this much more than the monotonic one between two
 * scans is a step (settimeofday, NTP), not drift. */
#define LEGACY_JUMP_NS (NS_S)
#define LEGACY_LOOK_NS (NS_S) /* how often to look for the segment */

struct legacy_record {
	int32_t pid;
	char pname[LEGACY_PNAME];
	int32_t timeout;
	int64_t atime;
};

_Static_assert(offsetof(struct legacy_record, pname) == 4, "classic layout");
_Static_assert(offsetof(struct legacy_record, timeout) == 56, "classic layout");
_Static_assert(offsetof(struct legacy_record, atime) == 64, "classic layout");
_Static_assert(sizeof(struct legacy_record) == 72, "classic layout");
_Static_assert(LEGACY_RECORDS * sizeof(struct legacy_record) == HB_LEGACY_TABLE_SIZE,
	       "classic table size");

struct legacy_watch {
	struct watch w; /* w.slot is the record index, w.legacy is true */
	int32_t timeout_s;
	int64_t atime;	       /* the last atime seen */
	uint64_t base_mono_ns; /* when it was seen ... */
	uint64_t base_age_ns;  /* ... and how old the beat was then */
	bool recheck;	       /* stale or gone: look again when atime moves */
	bool name_ok;	       /* the record holds a valid service name */
	bool by_config;	       /* REFUSED by the settings (unit, user, section) */
	bool warned_future;
	bool warned_retry;
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_S + (uint64_t)ts.tv_nsec;
}

/* A consistent copy of record I: two reads that agree (the writer holds a
 * lock we do not take).  Returns false if it kept changing. */
static bool classic_read(const struct legacy *table, uint32_t i, struct legacy_record *out)
{
	const struct legacy_record *src = (const struct legacy_record *)table->mem + i;
	struct legacy_record again;

	for (int tries = 0; tries < 8; tries++) {
		memcpy(out, src, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		memcpy(&again, src, sizeof(again));
		if (memcmp(out, &again, sizeof(again)) == 0)
			return true;
	}
	return false;
}

/* A service name out of pname, or false if it holds none. */
static bool record_name(const struct legacy_record *r, char *name, char *printable)
{
	const char *nul = memchr(r->pname, '\0', sizeof(r->pname));
	size_t i, n = nul ? (size_t)(nul - r->pname) : sizeof(r->pname);

	for (i = 0; i < n && i < HB_NAME_SIZE - 1; i++) {
		unsigned char c = (unsigned char)r->pname[i];
		printable[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	printable[i] = '\0';
	if (!nul)
		return false;
	memcpy(name, r->pname, n + 1);
	return name_validate(name) == 0;
}

/* Fix where the deadline counts from: the beat of atime A (somewhere in
 * the second A, as time(0) truncates) is taken at its latest, A + 1 s, so
 * the age is never overstated; a record is late when time(0) - atime >
 * timeout, as the classic guardian has it. */
static void rebase(struct legacy_watch *lw, uint64_t real, uint64_t mono, bool jumped)
{
	uint64_t beat = lw->atime >= 0 ? ((uint64_t)lw->atime + 1) * NS_S : 0;

	lw->base_mono_ns = mono;
	lw->base_age_ns = 0;
	if (jumped)
		return;
	if (beat > real + NS_S) {
		if (!lw->warned_future) {
			struct event e = {.kind = EVENT_ODD, .who = lw->w.subject};
			event_emit(&lw->w.d->stats, &e,
				   "legacy record %u (%s, pid %d) has a heartbeat %llu s in the "
				   "future; its deadline counts from now",
				   lw->w.slot, lw->w.name, (int)lw->w.pid,
				   (unsigned long long)((beat - real) / NS_S));
			lw->warned_future = true;
		}
		return;
	}
	if (real > beat)
		lw->base_age_ns = real - beat;
}

static int on_legacy_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct legacy_watch *lw = userdata;
	struct event e = {.kind = EVENT_PROCESS_GONE, .who = lw->w.subject};
	bool was_killing = lw->w.state == WATCH_KILLING;

	e.kind = was_killing ? EVENT_SIGNALLED_GONE : EVENT_PROCESS_GONE;
	event_emit(&lw->w.d->stats, &e,
		   "%s (pid %d, legacy record %u) exited%s; the record is left to its owner",
		   lw->w.name, (int)lw->w.pid, lw->w.slot,
		   was_killing ? " after being signalled" : "");
	watch_release(&lw->w);
	/* Keep the identity: the record still names this pid and is stale
	 * until a process writes it again. */
	watch_set_state(&lw->w, WATCH_REFUSED);
	lw->recheck = true;
	return 0;
}

/* A record that is not a target now but may become one when it is written
 * again (a process gone, a pid reused): logged, never signalled. */
static void lw_stale(struct legacy_watch *lw, enum event_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void lw_stale(struct legacy_watch *lw, enum event_kind kind, const char *fmt, ...)
{
	struct event e = {.kind = kind, .who = lw->w.subject};
	char why[256];

	e.who.verified = false;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	event_emit(&lw->w.d->stats, &e,
		   "stale legacy record %u (%s, pid %d): %s; never signalled, left as it is",
		   lw->w.slot, lw->w.name, (int)lw->w.pid, why);
	watch_release(&lw->w);
	watch_set_state(&lw->w, WATCH_REFUSED);
	lw->recheck = true;
}

/* A record never acted on while it stays as it is: logged once. */
static void lw_refuse(struct legacy_watch *lw, enum event_kind kind, const char *why)
{
	struct event e = {.kind = kind, .who = lw->w.subject};

	e.who.verified = false;
	event_emit(&lw->w.d->stats, &e,
		   "%s legacy record %u (name \"%s\", pid %d): %s; it will never be signalled",
		   kind == EVENT_UNTRUSTED ? "not trusting" : "refused", lw->w.slot, lw->w.name,
		   (int)lw->w.pid, why);
	watch_set_state(&lw->w, WATCH_REFUSED);
}

/* LW, free (WATCH_FREE), starts over from record R (its service name in
 * NAME): nothing known of the process it named before carries over. */
static void lw_reset(struct legacy_watch *lw, const struct legacy_record *r, char *name,
		     uint64_t real, uint64_t mono, bool jumped)
{
	struct watch *w = &lw->w;

	lw->name_ok = record_name(r, name, w->name);
	lw->by_config = false;
	w->pid = r->pid;
	watch_subject_update(w);
	w->seq = 0;
	w->handled_beat = 0;
	w->triage = (struct triage_mark){0}; /* its samples were of another process */
	w->hold = HOLD_NONE;
	w->deferred = false;
	w->rearm_ns = 0;
	lw->timeout_s = r->timeout;
	lw->atime = r->atime;
	lw->recheck = false;
	lw->warned_future = false;
	rebase(lw, real, mono, jumped);
}

/* Pin R's process with a pidfd (identity_pin()).  False on a transient
 * failure (EMFILE ...), said once: looked at again next scan. */
static bool lw_pin(struct daemon *d, struct legacy_watch *lw, const struct legacy_record *r)
{
	struct watch *w = &lw->w;

	if (identity_pin(r->pid, d->self, &w->pidfd) < 0) {
		/* Transient (EMFILE ...): looked at again next scan. */
		if (!lw->warned_retry) {
			struct event e = {.kind = EVENT_ODD, .who = lw->w.subject};
			e.who.verified = false;
			event_emit(&d->stats, &e,
				   "cannot watch legacy record %u (pid %d) yet: cannot open a "
				   "pidfd: %s; trying again",
				   w->slot, (int)r->pid, strerror(errno));
			lw->warned_retry = true;
		}
		return false;
	}
	lw->warned_retry = false;
	return true;
}

/* Act on verdict V (WHY) about LW's record, on facts F: true if it is
 * to be watched, else it was refused or found stale (said so). */
static bool lw_judge(struct legacy_watch *lw, enum identity_verdict v, const char *why,
		     const struct identity_facts *f)
{
	switch (v) {
	case IDENTITY_OK:
		return true;
	case IDENTITY_STALE:
	case IDENTITY_RETRY:
		lw_stale(lw, identity_atime_stale(f) ? EVENT_STALE_BEAT : EVENT_STALE_RECORD, "%s",
			 why);
		return false;
	case IDENTITY_UNTRUSTED:
		lw_refuse(lw, EVENT_UNTRUSTED, why);
		return false;
	case IDENTITY_UNWATCHED:
	case IDENTITY_MISMATCH:
		lw_refuse(lw, EVENT_REFUSED, why);
		lw->by_config = true;
		return false;
	}
	return false;
}

/* Watch LW's pinned process: its exit through the pidfd. */
static void lw_watch(struct daemon *d, struct legacy_watch *lw)
{
	struct watch *w = &lw->w;
	char why[512];
	int rr;

	rr = sd_event_add_io(d->event, &w->exit_source, w->pidfd, EPOLLIN, on_legacy_exit, lw);
	if (rr < 0) {
		snprintf(why, sizeof(why), "cannot watch its pidfd: %s", strerror(-rr));
		lw_stale(lw, EVENT_STALE_UNWATCHABLE, "%s", why);
		return;
	}
	watch_set_state(w, WATCH_ACTIVE);
}

static void lw_adopt(struct daemon *d, struct legacy_watch *lw, const struct legacy_record *r,
		     uint64_t real, uint64_t mono, bool jumped)
{
	struct watch *w = &lw->w;
	char name[HB_NAME_SIZE] = "", why[512];
	struct identity_facts f = {.have_ownership = true, .own = d->legacy.own};
	const struct service *svc;
	enum identity_verdict v;

	lw_reset(lw, r, name, real, mono, jumped);
	f.name_ok = lw->name_ok;
	f.name = name;
	if (r->timeout <= 0 || r->timeout > LEGACY_TIMEOUT_MAX) {
		snprintf(why, sizeof(why), "timeout %d s is outside 1 s..24 h", (int)r->timeout);
		lw_refuse(lw, EVENT_REFUSED, why);
		return;
	}
	if (!lw_pin(d, lw, r))
		return;
	f.have_atime = true;
	f.atime = r->atime;
	identity_build(&f, r->pid, d->self, w->pidfd >= 0);
	/* The record has no start time: its process is the one the pidfd
	 * pins, if that started by its last beat (identity_decide()). */
	w->start_time = f.recorded = identity_pinned_start(&f);
	v = identity_decide(&f, &d->settings, &svc, why, sizeof(why));
	free((char *)f.unit);
	if (lw_judge(lw, v, why, &f))
		lw_watch(d, lw);
}

/* The deadline of an active record, or UINT64_MAX. */
static uint64_t lw_check(struct daemon *d, struct legacy_watch *lw, uint64_t now)
{
	struct watch *w = &lw->w;
	const struct service *svc = settings_find(&d->settings, w->name);
	struct deadline_miss m;
	uint64_t timeout, deadline;

	/* Rate-limited or a failed action: act again when the retry is due. */
	if (w->state == WATCH_LOGGED && w->retry_at_ns) {
		if (now < w->retry_at_ns)
			return w->retry_at_ns;
		watch_set_state(w, WATCH_ACTIVE);
		w->retry_at_ns = 0;
	}
	if (w->state != WATCH_ACTIVE || !svc)
		return UINT64_MAX;
	timeout = deadline_timeout((uint64_t)lw->timeout_s * NS_S, svc->timeout_ns);
	deadline = lw->base_age_ns >= timeout ? lw->base_mono_ns
					      : lw->base_mono_ns + (timeout - lw->base_age_ns);
	deadline = hold_deadline(w, deadline, timeout);
	if (now < deadline) {
		/* Its beats are its atime: one sample after each. */
		triage_sample(&w->triage, w->pid, w->start_time, (uint64_t)lw->atime + 1u, now,
			      triage_sample_gap(timeout), &w->d->triage_warm_left);
		hold_sample(w, svc, now);
		return deadline;
	}
	m = (struct deadline_miss){.heartbeat = WATCH_BEAT_PROCESS,
				   .beat_ns = (uint64_t)lw->atime + 1u, /* its beat is its atime */
				   .timeout_ns = timeout,
				   .late_ns = now - deadline,
				   .seen_ns = now};
	return kill_deadline_missed(w, svc, &m);
}

static void legacy_detach(struct daemon *d)
{
	struct legacy *table = &d->legacy;

	if (table->mem)
		shmdt(table->mem);
	table->mem = NULL;
	table->shmid = -1;
}

static void lw_init(struct daemon *d, struct legacy_watch *lw, uint32_t i)
{
	*lw = (struct legacy_watch){.w = {.d = d, .slot = i, .pidfd = -1, .legacy = true}};
	watch_subject_update(&lw->w);
}

/* Who may write the classic table decides whose records count: a table
 * others may write carries nobody's word, unless the admin opted in with
 * allow_shared_writers.  Keeps the facts for identity_decide(); false (and
 * said once) if the table is refused. */
static bool legacy_trust(struct daemon *d, const struct shmid_ds *ds, bool quiet)
{
	struct legacy *table = &d->legacy;
	unsigned mode = ds->shm_perm.mode & 0777u;

	if ((mode & 0022u) && !d->settings.legacy_shared) {
		struct event e = {.kind = EVENT_TABLE_UNTRUSTED,
				  .who = {.slot = -1, .legacy = true}};
		if (!quiet)
			event_emit(
			    &d->stats, &e,
			    "the classic table at key 0x%x has mode %03o: %s may write it, so its "
			    "records are nobody's word and could aim hbwatch at any process; not "
			    "watching it (fix its mode, or set allow_shared_writers = yes in "
			    "[legacy] to accept that risk)",
			    (unsigned)table->key, mode,
			    (mode & 0020u) && (mode & 0002u) ? "its group and everyone"
			    : (mode & 0020u)		     ? "its group"
							     : "everyone");
		return false;
	}
	/* Opted in: the group's and others' word is taken as the owner's, and
	 * a record still needs an owner and creator who could signal it. */
	table->own =
	    (struct ownership_facts){.cuid = ds->shm_perm.cuid,
				     .uid = ds->shm_perm.uid,
				     .mode = d->settings.legacy_shared ? mode & ~0022u : mode};
	return true;
}

/* What decides whether a segment is watched: its size, mode and owners. */
static uint64_t table_signature(const struct shmid_ds *ds)
{
	return ((uint64_t)(ds->shm_perm.mode & 0777u) << 48) ^ ((uint64_t)ds->shm_perm.uid << 16) ^
	       ((uint64_t)ds->shm_perm.cuid << 32) ^ (uint64_t)ds->shm_segsz;
}

/* No table at table's key (shmget() said E): one watched is gone; said when
 * E changes. */
static void legacy_missing(struct daemon *d, int e)
{
	struct legacy *table = &d->legacy;

	if (table->mem) {
		log_notice("the classic table at key 0x%x is gone", (unsigned)table->key);
		legacy_reset(d, false);
		legacy_detach(d);
	}
	if (e != table->last_errno) {
		if (e == ENOENT)
			log_info("no classic heartbeat table at key 0x%x ([legacy]) yet; "
				 "looking every second",
				 (unsigned)table->key);
		else
			log_error("cannot open the classic table at key 0x%x ([legacy]): %s",
				  (unsigned)table->key, strerror(e));
	}
	table->last_errno = e;
}

/* The table watched already, judged again (its segment's status DS,
 * signature SIG): its owner may have opened it to others since. */
static void legacy_rejudge(struct daemon *d, const struct shmid_ds *ds, int id, uint64_t sig)
{
	struct legacy *table = &d->legacy;

	if (legacy_trust(d, ds, false))
		return;
	legacy_reset(d, false);
	legacy_detach(d);
	table->bad_shmid = id;
	table->bad_sig = sig;
}

/* Whether a new segment DS may be the classic table: its size, and who
 * may write it (legacy_trust()); said unless QUIET. */
static bool legacy_acceptable(struct daemon *d, const struct shmid_ds *ds, bool quiet)
{
	struct legacy *table = &d->legacy;

	if (ds->shm_segsz != HB_LEGACY_TABLE_SIZE) {
		if (!quiet)
			log_error(
			    "the segment at key 0x%x ([legacy] key) is %zu bytes, not %u: it is "
			    "not a classic CPActive table (1000 records of { int pid; char "
			    "pname[51]; int timeout; time_t atime; }, 72 bytes each on x86_64); "
			    "not watching it",
			    (unsigned)table->key, (size_t)ds->shm_segsz, HB_LEGACY_TABLE_SIZE);
		return false;
	}
	return legacy_trust(d, ds, quiet);
}

/* Attach table ID read-only and watch its records. */
static void legacy_attach(struct daemon *d, int id)
{
	struct legacy *table = &d->legacy;
	void *mem;

	mem = shmat(id, NULL, SHM_RDONLY);
	if (mem == (void *)-1) {
		log_error("cannot attach the classic table at key 0x%x read-only: %s",
			  (unsigned)table->key, strerror(errno));
		table->bad_shmid = id;
		return;
	}
	if (!table->recs) {
		table->recs = calloc(LEGACY_RECORDS, sizeof(*table->recs));
		if (!table->recs) {
			shmdt(mem);
			log_error("out of memory for the classic table");
			return;
		}
		for (uint32_t i = 0; i < LEGACY_RECORDS; i++)
			lw_init(d, &table->recs[i], i);
	}
	table->mem = mem;
	table->shmid = id;
	table->bad_shmid = -1;
	table->bad_sig = 0;
	log_info("watching the classic heartbeat table at key 0x%x (read-only, 1000 records)",
		 (unsigned)table->key);
}

/* Find the segment (it appears when the first classic program starts, and
 * may be removed and made again) and attach it read-only. */
static void legacy_look(struct daemon *d, uint64_t now)
{
	struct legacy *table = &d->legacy;
	struct shmid_ds ds;
	uint64_t sig;
	bool quiet;
	int id;

	if (now < table->next_look_ns)
		return;
	table->next_look_ns = now + LEGACY_LOOK_NS;
	id = shmget(table->key, 0, 0);
	if (id < 0) {
		legacy_missing(d, errno);
		return;
	}
	table->last_errno = 0;
	if (shmctl(id, IPC_STAT, &ds) < 0) {
		if (id != table->bad_shmid)
			log_error("cannot inspect the classic table at key 0x%x: %s",
				  (unsigned)table->key, strerror(errno));
		table->bad_shmid = id;
		table->bad_sig = 0;
		return;
	}
	/* Judged again at every look (a mode can be fixed within the second
	 * that shm_ctime counts in); said again only when what is judged
	 * changes: the segment, its size, mode or owners. */
	sig = table_signature(&ds);
	quiet = id == table->bad_shmid && sig == table->bad_sig;
	if (id == table->shmid) {
		legacy_rejudge(d, &ds, id, sig);
		return;
	}
	if (table->mem) {
		log_notice("the classic table at key 0x%x was replaced; watching the new one",
			   (unsigned)table->key);
		legacy_reset(d, false);
		legacy_detach(d);
	}
	table->bad_shmid = id;
	table->bad_sig = sig;
	if (legacy_acceptable(d, &ds, quiet))
		legacy_attach(d, id);
}

/* Has the wall clock been stepped since the last scan? */
static bool clock_jumped(struct legacy *table, uint64_t real, uint64_t mono)
{
	int64_t off = (int64_t)(real - mono), delta = off - table->clock_offset_ns;
	bool jumped = table->have_offset &&
		      (delta > (int64_t)LEGACY_JUMP_NS || delta < -(int64_t)LEGACY_JUMP_NS);

	if (jumped)
		log_notice("the wall clock jumped by %+lld ms: heartbeats of the classic table "
			   "seen now count from now",
			   (long long)(delta / 1000000));
	table->clock_offset_ns = off;
	table->have_offset = true;
	return jumped;
}

/* Follow [legacy] of the settings: the table at another key, or none,
 * starts over.  False if no classic table is watched. */
static bool legacy_configured(struct daemon *d)
{
	struct legacy *table = &d->legacy;

	if (!d->settings.legacy || table->key != d->settings.legacy_key) {
		if (table->key) {
			legacy_reset(d, true);
			table->key = 0;
		}
		if (!d->settings.legacy)
			return false;
		table->key = d->settings.legacy_key;
		table->next_look_ns = 0;
		table->last_errno = 0;
		table->bad_shmid = -1;
	}
	return true;
}

uint64_t legacy_scan(struct daemon *d)
{
	struct legacy *table = &d->legacy;
	uint64_t next = UINT64_MAX, now, real;
	bool jumped;

	if (!legacy_configured(d))
		return UINT64_MAX;
	now = now_ns();
	legacy_look(d, now);
	if (!table->mem)
		return UINT64_MAX;
	real = realtime_ns();
	jumped = clock_jumped(table, real, now);
	for (uint32_t i = 0; i < LEGACY_RECORDS; i++) {
		struct legacy_watch *lw = &table->recs[i];
		struct watch *w = &lw->w;
		struct legacy_record r;
		char name[HB_NAME_SIZE], printable[HB_NAME_SIZE];

		if (!classic_read(table, i, &r))
			continue;
		if (w->state == WATCH_KILLING)
			continue; /* its exit (or the escalation) comes first */
		if (r.pid == 0) {
			if (w->state != WATCH_FREE)
				watch_release(w);
			continue;
		}
		record_name(&r, name, printable);
		if (w->state != WATCH_FREE &&
		    (r.pid != w->pid || r.timeout != lw->timeout_s || strcmp(printable, w->name) ||
		     (lw->recheck && r.atime != lw->atime)))
			watch_release(w);
		if (w->state == WATCH_FREE) {
			lw_adopt(d, lw, &r, real, now, jumped);
		} else if (r.atime != lw->atime) {
			lw->atime = r.atime;
			rebase(lw, real, now, jumped);
			hold_beat(w);
			if (w->state == WATCH_LOGGED)
				watch_set_state(w,
						WATCH_ACTIVE); /* it beat again: watch it afresh */
		}
		uint64_t deadline = lw_check(d, lw, now);
		if (deadline < next)
			next = deadline;
	}
	return next;
}

/* The verdict on LW's record under the settings in force, on facts read
 * now: what changes with a reload is the configuration, not the record. */
static enum identity_verdict lw_decide(struct daemon *d, struct legacy_watch *lw, char *why,
				       size_t why_len)
{
	struct watch *w = &lw->w;
	struct identity_facts f = {.have_ownership = true,
				   .own = d->legacy.own,
				   .name_ok = lw->name_ok,
				   .name = w->name,
				   .recorded = w->start_time};
	const struct service *svc;
	enum identity_verdict v;

	identity_build(&f, w->pid, d->self, true);
	v = identity_decide(&f, &d->settings, &svc, why, why_len);
	free((char *)f.unit);
	return v;
}

void legacy_reevaluate(struct daemon *d)
{
	struct legacy *table = &d->legacy;
	char why[512];

	/* A refused table is judged afresh (allow_shared_writers may be new). */
	table->bad_shmid = -1;
	table->next_look_ns = 0;
	/* Another key, or [legacy] gone: legacy_scan() starts over. */
	if (!table->recs || !d->settings.legacy || table->key != d->settings.legacy_key)
		return;
	for (uint32_t i = 0; i < LEGACY_RECORDS; i++) {
		struct legacy_watch *lw = &table->recs[i];
		struct watch *w = &lw->w;
		enum identity_verdict v;

		if (w->state == WATCH_FREE || w->state == WATCH_KILLING || lw->recheck)
			continue;
		if (w->state == WATCH_REFUSED && !lw->by_config)
			continue; /* refused for what the record says: no reload changes that */
		v = lw_decide(d, lw, why, sizeof(why));
		if (w->state == WATCH_REFUSED) {
			/* Welcome now: adopted afresh at the next scan. */
			if (v == IDENTITY_OK)
				watch_release(w);
			continue;
		}
		/* Watched, late, logged or rate-limited: kept as it is, unless
		 * the new rules turn it down (said once). */
		if (v == IDENTITY_UNWATCHED || v == IDENTITY_MISMATCH) {
			lw_refuse(lw, EVENT_REFUSED, why);
			lw->by_config = true;
		} else if (v == IDENTITY_UNTRUSTED) {
			lw_refuse(lw, EVENT_UNTRUSTED, why);
		}
	}
}

void legacy_reset(struct daemon *d, bool all)
{
	struct legacy *table = &d->legacy;

	if (table->recs)
		for (uint32_t i = 0; i < LEGACY_RECORDS; i++) {
			struct watch *w = &table->recs[i].w;

			if (w->state == WATCH_FREE || (!all && w->state == WATCH_KILLING))
				continue;
			watch_release(w);
		}
	/* Look at a refused table afresh: the settings that refused it may
	 * have changed (allow_shared_writers). */
	table->bad_shmid = -1;
	table->next_look_ns = 0;
	if (all) {
		legacy_detach(d);
		free(table->recs);
		table->recs = NULL;
	}
}
