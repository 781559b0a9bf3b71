/* The native registrations: heartbeat records, verified with the kernel
 * and pinned to their process by a pidfd, and the deadline of each. */
#include <errno.h>
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
#include "duration.h"
#include "hold.h"
#include "identity.h"
#include "intake.h"
#include "intake_state.h"
#include "kill.h"
#include "log.h"
#include "pidinfo.h"
#include "proc.h"
#include "state.h"
#include "timens.h"
#include "view.h"
#include "watch.h"

static struct watch *watch_new(struct daemon *d, int shmid)
{
	struct watch *w;

	if (d->ws.n == d->ws.cap) {
		size_t ncap = d->ws.cap ? d->ws.cap * 2 : 64;
		struct watch **n = realloc(d->ws.v, ncap * sizeof(*n));
		if (!n)
			return NULL;
		d->ws.v = n;
		d->ws.cap = ncap;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	*w = (struct watch){.d = d,
			    .shmid = shmid,
			    .pidfd = -1,
			    .slot = (uint32_t)d->ws.n,
			    .handled_heartbeat = WATCH_BEAT_PROCESS};
	if (idmap_put(&d->ws.by_shmid, shmid, (uint64_t)(uintptr_t)w) < 0) {
		free(w);
		return NULL;
	}
	d->ws.v[d->ws.n++] = w;
	view_touch(w);
	return w;
}

/* W no longer stands for its process (refused, gone). */
static void by_pid_drop(struct watch *w)
{
	uint64_t v;

	if (idmap_get(&w->d->ws.by_pid, w->pid, &v) && (struct watch *)(uintptr_t)v == w)
		idmap_del(&w->d->ws.by_pid, w->pid);
}

/* Forget W entirely.  A record handed to us (hbctl's) is removed too: its
 * process is gone or it was closed, and nobody else will. */
static void watch_destroy(struct watch *w)
{
	struct daemon *d = w->d;
	struct watch *last;

	watch_release(w);
	record_unmap(&w->record);
	if (w->remove_when_done)
		shmctl(w->shmid, IPC_RMID, NULL);
	idmap_del(&d->ws.by_shmid, w->shmid);
	by_pid_drop(w);
	last = d->ws.v[--d->ws.n];
	d->ws.v[w->slot] = last;
	d->view_dirty = true; /* one entry fewer */
	if (last != w) {
		last->slot = w->slot;
		last->view_listed = false; /* listed, if at all, where it was */
		view_touch(last);
	}
	free(w->tasks);
	free(w);
}

void watch_finish(struct daemon *d)
{
	while (d->ws.n > 0) {
		struct watch *w = d->ws.v[d->ws.n - 1];
		/* Leave hbctl's records be: the next start adopts them. */
		w->remove_when_done = false;
		watch_destroy(w);
	}
	free(d->ws.v);
	d->ws.v = NULL;
	d->ws.cap = 0;
	idmap_free(&d->ws.by_shmid);
	idmap_free(&d->ws.by_pid);
	share_free(&d->ws.shares);
}

static int on_exit_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct watch *w = userdata;
	struct event e = {.kind = EVENT_PROCESS_GONE, .who = w->subject};
	bool was_killing = w->state == WATCH_KILLING;
	struct hb_record_view v;

	/* A process that unregistered before exiting: nothing to say. */
	if (record_read(&w->record, &v) == 0 && v.state != HB_RECORD_OPEN) {
		watch_destroy(w);
		return 0;
	}
	if (was_killing || w->state == WATCH_ACTIVE || w->state == WATCH_LOGGED) {
		e.kind = was_killing ? EVENT_SIGNALLED_GONE : EVENT_PROCESS_GONE;
		event_emit(&w->d->stats, &e, "%s (pid %d, record %d) exited%s", w->name,
			   (int)w->pid, w->shmid,
			   w->triage.unkillable ? " at last, after it was unkillable"
			   : was_killing	? " after being signalled"
						: " without unregistering");
	}
	watch_destroy(w);
	return 0;
}

/* A transient failure: forget the record for now, the next census finds
 * it again. */
static void watch_retry(struct watch *w, const char *why)
{
	struct event e = {.kind = EVENT_ODD, .who = w->subject};

	e.who.verified = false;
	event_emit(&w->d->stats, &e, "cannot watch %s (pid %d, record %d) yet: %s; trying again",
		   w->name, (int)w->pid, w->shmid, why);
	intake_census_soon(w->d);
	w->remove_when_done = false; /* it is looked at again */
	watch_destroy(w);
}

/* The budgets of slots=: at most that many processes watched, and, apart
 * from them, at most that many registrations kept though refused (so a
 * user making records hbwatch refuses cannot crowd out anyone it would
 * watch).  Over budget, the new record is dropped: a watchable one is
 * found again by a census once room is free; a refused one is turned down
 * until it changes or the configuration is reloaded.  Returns false if W
 * was dropped. */
static bool budget_allows(struct watch *w, enum identity_verdict verdict)
{
	struct daemon *d = w->d;
	bool watched = verdict == IDENTITY_OK;
	unsigned used = watched ? d->ws.n_active : d->ws.n_refused;
	struct shmid_ds ds;

	if ((verdict != IDENTITY_OK && verdict != IDENTITY_UNWATCHED &&
	     verdict != IDENTITY_MISMATCH) ||
	    used < d->settings.slots)
		return true;
	if (watched && intake_say_full(d)) {
		struct event e = {.kind = EVENT_ODD, .who.slot = -1};
		event_emit(&d->stats, &e,
			   "watching %u processes, the limit set by slots=%u: newer registrations "
			   "wait until others end (raise slots= in [hbwatch])",
			   d->ws.n_active, d->settings.slots);
	}
	if (watched)
		intake_census_soon(d);
	else if (w->over_share)
		; /* never turned down for good: the periodic census looks again */
	else if (shmctl(w->shmid, IPC_STAT, &ds) == 0)
		intake_turn_down(d, w->shmid, (uint64_t)ds.shm_ctime);
	w->remove_when_done = false;
	watch_destroy(w);
	return false;
}

/* Learn how far W's process's CLOCK_MONOTONIC runs from ours (timens.h),
 * and put the view on our clock: read once the pidfd holds the process
 * (a reused pid is caught by the start-time check, and read again before
 * any action).  Returns 0, or -errno if W was given up for now. */
static int watch_clock_learn(struct watch *w)
{
	int64_t rel = 0;
	/* Our own time namespace, as the kernel says through the pidfd: no
	 * offsets to read (two /proc reads saved per registration). */
	int r = pidinfo_same_timens(w->pidfd) == 1 ? 0 : timens_relative(w->pid, &rel);

	if (r == -ESRCH)
		return 0; /* gone: the pidfd says so */
	if (r < 0) {
		char e[96];
		snprintf(e, sizeof(e), "cannot read its clock's offset (timens_offsets): %s",
			 strerror(-r));
		watch_retry(w, e);
		return r;
	}
	timens_view_to_ours(&w->v, rel - w->clock_rel_ns);
	w->clock_rel_ns = rel;
	return 0;
}

/* Just before acting on a missed deadline: whether W's process still runs
 * on the clock its beats were read on.  A single-threaded process may
 * setns() into another time namespace; then its clock is learnt anew, and
 * the next scan, due at once, reads its record on it. */
static bool watch_clock_moved(struct watch *w)
{
	int64_t rel;

	if (timens_relative(w->pid, &rel) < 0 || rel == w->clock_rel_ns)
		return false;
	w->clock_rel_ns = rel;
	return true;
}

static bool counts_watched(const struct watch *w)
{
	return w->state == WATCH_ACTIVE || w->state == WATCH_KILLING || w->state == WATCH_LOGGED;
}

/* One registration per process: more records naming the same process
 * (its own word, but one is enough) would let one process take every
 * slot.  VERDICT, or MISMATCH (and WHY) if another record has W's. */
static enum identity_verdict one_per_process(struct watch *w, enum identity_verdict verdict,
					     char *why, size_t why_len)
{
	struct daemon *d = w->d;

	if (verdict == IDENTITY_OK) {
		uint64_t v;
		struct watch *o =
		    idmap_get(&d->ws.by_pid, w->pid, &v) ? (void *)(uintptr_t)v : NULL;
		if (o && o != w && o->start_time == w->start_time) {
			snprintf(why, why_len, "pid %d already has a registration (record %d)",
				 (int)w->pid, o->shmid);
			verdict = IDENTITY_MISMATCH;
		}
	}
	return verdict;
}

/* A user's share of slots=: VERDICT, or MISMATCH (and WHY) if W's uid,
 * RUID, has no room left (W->over_share then). */
static enum identity_verdict share_admits(struct watch *w, enum identity_verdict verdict,
					  uid_t ruid, const struct service *svc, char *why,
					  size_t why_len)
{
	struct daemon *d = w->d;

	w->over_share = false;
	if (verdict == IDENTITY_OK) {
		/* Root's and those a section names with user= count against
		 * no share; the others, not yet watched, need room in theirs. */
		bool shared = ruid != 0 && !(svc && svc->has_user);

		if (shared && !counts_watched(w) &&
		    !share_allows(&d->ws.shares, &d->settings, ruid, why, why_len)) {
			verdict = IDENTITY_MISMATCH;
			w->over_share = true;
			w->share_uid = ruid; /* not counted while refused */
		} else {
			watch_set_share(w, shared, ruid);
		}
	}
	return verdict;
}

/* W refused by the settings (VERDICT, WHY): kept, never acted on, and
 * said when it becomes so. */
static void watch_refuse(struct watch *w, enum identity_verdict verdict, const char *why)
{
	struct daemon *d = w->d;
	bool was = w->state == WATCH_REFUSED;
	by_pid_drop(w);
	/* Cut to the entry's size: hbctl shows the start of the reason. */
	size_t n = strnlen(why, sizeof(w->why) - 1);
	memcpy(w->why, why, n);
	w->why[n] = '\0';
	watch_set_state(w, WATCH_REFUSED);
	if (!was) {
		struct event e = {.kind = EVENT_REFUSED, .who = w->subject};
		e.kind = verdict == IDENTITY_MISMATCH ? EVENT_REFUSED : EVENT_UNWATCHED;
		event_emit(&d->stats, &e, "%s (pid %d, record %d) is not watched: %s", w->name,
			   (int)w->pid, w->shmid, why);
	}
}

/* W is not the word of one who may signal its process (WHY; DS its
 * record's status): turned down and forgotten, said once. */
static void watch_distrust(struct watch *w, const char *why, struct shmid_ds ds)
{
	struct daemon *d = w->d;
	struct event e = {.kind = EVENT_UNTRUSTED, .who = w->subject};
	e.who.verified = false;
	event_emit(&d->stats, &e,
		   "not trusting record %d (name \"%s\", pid %d, created by uid %u pid %d): "
		   "%s; never acted on",
		   w->shmid, w->name, (int)w->pid, (unsigned)ds.shm_perm.cuid, (int)ds.shm_cpid,
		   why);
	intake_turn_down(d, w->shmid, (uint64_t)ds.shm_ctime);
	w->remove_when_done = false; /* not ours to clean up: evidence */
	watch_destroy(w);
}

/* Put W in the state VERDICT says (WHY), saying so; DS is its record's
 * status (a copy: W may be destroyed).  Returns false if W was. */
static bool watch_apply(struct watch *w, enum identity_verdict verdict, const char *why,
			struct shmid_ds ds)
{
	struct daemon *d = w->d;

	switch (verdict) {
	case IDENTITY_OK:
		w->why[0] = '\0';
		idmap_put(&d->ws.by_pid, w->pid, (uint64_t)(uintptr_t)w);
		if (w->state == WATCH_FREE || w->state == WATCH_REFUSED)
			watch_set_state(w, WATCH_ACTIVE);
		break;
	case IDENTITY_UNWATCHED:
	case IDENTITY_MISMATCH:
		watch_refuse(w, verdict, why);
		break;
	case IDENTITY_STALE: {
		struct event e = {.kind = EVENT_STALE_RECORD, .who = w->subject};
		/* Not ours to remove: remember it, or every census says it again. */
		if (!w->remove_when_done)
			intake_turn_down(d, w->shmid, (uint64_t)ds.shm_ctime);
		e.who.verified = false;
		event_emit(&d->stats, &e, "stale record %d (%s, pid %d): %s; dropped", w->shmid,
			   w->name, (int)w->pid, why);
		watch_destroy(w);
		return false;
	}
	case IDENTITY_UNTRUSTED:
		watch_distrust(w, why, ds);
		return false;
	case IDENTITY_RETRY:
		watch_retry(w, why);
		return false;
	}
	return true;
}

/* A newly attached W, watched or refused: its first CPU sample (from
 * facts F just read) and its exit through the pidfd.  Returns false if W
 * was given up for now. */
static bool watch_start(struct watch *w, const struct identity_facts *f, const struct service *svc)
{
	struct daemon *d = w->d;
	int r;

	/* The first CPU sample, from the read just made (triage.h). */
	if (!f->gone) {
		uint64_t now = now_ns();
		triage_baseline(&w->triage, w->v.beat_ns, now, f->cpu_ticks);
		hold_sample(w, svc, now);
	}
	/* Edge-triggered: the exit is told once (on_exit_pidfd() ends the
	 * watch), and the loop does not fetch every exited pidfd again at
	 * each turn while a mass exit is worked through.  A mass exit is
	 * bulk work: after any deadline due meanwhile. */
	r = sd_event_add_io(d->event, &w->exit_source, w->pidfd, EPOLLIN | EPOLLET, on_exit_pidfd,
			    w);
	if (r >= 0)
		r = sd_event_source_set_priority(w->exit_source, INTAKE_PRIORITY);
	if (r < 0) {
		char e[96];
		snprintf(e, sizeof(e), "cannot watch its pidfd: %s", strerror(-r));
		watch_retry(w, e);
		return false;
	}
	return true;
}

/* Decide W's state from facts gathered now.  FIRST: W was just attached
 * and has no pidfd yet.  Returns false if W was destroyed. */
static bool watch_evaluate(struct watch *w, bool first)
{
	struct daemon *d = w->d;
	const struct service *pre = w->v.name_ok ? settings_find(&d->settings, w->v.name) : NULL;
	struct identity_facts f = {.recorded = w->start_time,
				   .started_by = w->start_time ? 0 : record_started_by(&w->v),
				   .name_ok = w->v.name_ok,
				   .name = w->v.name,
				   .have_ownership = true,
				   .skip_unit = !pre || !pre->unit};
	const struct service *svc;
	struct shmid_ds ds;
	char why[512];
	enum identity_verdict verdict;

	/* After the attach: who may write what was read.  The same size as
	 * before it, or the id names another segment now, which was mapped
	 * with the wrong bounds. */
	if (shmctl(w->shmid, IPC_STAT, &ds) < 0 || (first && ds.shm_segsz != w->record.size)) {
		watch_destroy(w);
		return false;
	}
	f.own = (struct ownership_facts){
	    .cuid = ds.shm_perm.cuid, .uid = ds.shm_perm.uid, .mode = ds.shm_perm.mode};
	if (identity_pin(w->pid, d->self, &w->pidfd) < 0) {
		char e[96];
		snprintf(e, sizeof(e), "cannot open a pidfd: %s", strerror(errno));
		watch_retry(w, e);
		return false;
	}
	/* Facts about the process after its pidfd: if the start time still
	 * matches, the pidfd holds the registered process, not a later one.
	 * From then on exactly this process: every later look (the kill
	 * path's too) compares start times. */
	identity_build_pidfd(&f, w->pid, d->self, w->pidfd);
	w->start_time = f.recorded = identity_pinned_start(&f);
	/* Pinned (identity_pin()): a process hbwatch may act on. */
	if (first && !f.gone && w->pidfd >= 0 && watch_clock_learn(w) < 0)
		return false;
	verdict = identity_decide(&f, &d->settings, &svc, why, sizeof(why));
	free((char *)f.unit);
	verdict = one_per_process(w, verdict, why, sizeof(why));
	verdict = share_admits(w, verdict, f.ruid, svc, why, sizeof(why));
	if (first && !budget_allows(w, verdict))
		return false;
	if (!watch_apply(w, verdict, why, ds))
		return false;
	return !first || watch_start(w, &f, svc);
}

/* How long a segment whose magic is still zero may be a record its maker
 * is finishing (preempted, on a loaded host) before it counts as some
 * other program's empty segment. */
#define UNFINISHED_S 60u

/* Is segment SHMID (DS) worth attaching: a record's size, not turned down
 * before, and room in memory for one more watch? */
static bool worth_attaching(struct daemon *d, int shmid, const struct shmid_ds *ds)
{
	if (!record_size_ok(ds->shm_segsz))
		return false;
	if (intake_is_turned_down(d, shmid, (uint64_t)ds->shm_ctime))
		return false;
	/* Memory's bound; the budgets proper are applied once the record is
	 * judged (watch_evaluate()). */
	if (d->ws.n >= 2u * d->settings.slots + 64u) {
		intake_census_soon(d);
		return false;
	}
	return true;
}

/* The attach of SHMID failed with R: remember what it says about the
 * segment (not a record, not ours to read, or worth another look). */
static void attach_failed(struct daemon *d, int shmid, const struct shmid_ds *ds, int r)
{
	if (r == -EPROTO || r == -EINPROGRESS) {
		/* Not a heartbeat record: some other program's segment. */
		intake_turn_down(d, shmid, (uint64_t)ds->shm_ctime);
		return;
	}
	if (r == -EACCES && intake_say_unreadable(d)) {
		/* Records are mode 0640 in the registry's group: without
		 * CAP_IPC_OWNER hbwatch must be in that group. */
		log_warning("cannot read heartbeat record %d (uid %u, group %u, mode %03o): "
			    "hbwatch needs CAP_IPC_OWNER or membership of group %u "
			    "(SupplementaryGroups= in its unit)",
			    shmid, (unsigned)ds->shm_perm.uid, (unsigned)ds->shm_perm.gid,
			    (unsigned)ds->shm_perm.mode & 0777u, (unsigned)ds->shm_perm.gid);
	}
	if (r == -EACCES)
		intake_turn_down(d, shmid, (uint64_t)ds->shm_ctime);
	else if (r != -EINVAL && r != -EIDRM)
		intake_census_soon(d);
}

/* Map SHMID and read it once into *REC and *V.  Returns 0 for an open
 * record (mapped), or -errno with nothing mapped and what it said noted. */
static int attach_open_record(struct daemon *d, int shmid, const struct shmid_ds *ds,
			      struct hb_record_map *rec, struct hb_record_view *v)
{
	int r = record_attach_sized(shmid, ds->shm_segsz, true, rec);

	if (r == -EINPROGRESS && (uint64_t)time(NULL) < (uint64_t)ds->shm_ctime + UNFINISHED_S) {
		/* Caught between its maker's shmget() and the magic: not
		 * turned down (its segment's ctime will not change, so that
		 * would be for good, and its announcement ignored).  Its
		 * announcement takes it up, or the periodic census; no
		 * earlier census, or anybody's empty segments would make
		 * them come every second. */
		return r;
	}
	if (r < 0) {
		attach_failed(d, shmid, ds, r);
		return r;
	}
	r = record_read(rec, v);
	if (r == -EPROTO) /* rewritten since the attach a moment ago: not a record */
		intake_turn_down(d, shmid, (uint64_t)ds->shm_ctime);
	else if (r < 0)
		intake_census_soon(d);
	else if (v->state != HB_RECORD_OPEN)
		r = -ESRCH; /* closed already: nothing to watch */
	if (r < 0)
		record_unmap(rec);
	return r;
}

struct watch *watch_consider(struct daemon *d, int shmid, const struct shmid_ds *ds)
{
	struct shmid_ds st;
	struct hb_record_map rec;
	struct hb_record_view v;
	struct watch *w;

	if (shmid < 0 || idmap_get(&d->ws.by_shmid, shmid, NULL))
		return NULL;
	if (!ds) {
		if (shmctl(shmid, IPC_STAT, &st) < 0)
			return NULL; /* a hint to nothing */
		ds = &st;
	}
	if (!worth_attaching(d, shmid, ds) || attach_open_record(d, shmid, ds, &rec, &v) < 0)
		return NULL;
	w = watch_new(d, shmid);
	if (!w) {
		record_unmap(&rec);
		intake_census_soon(d);
		return NULL;
	}
	w->record = rec;
	w->v = v;
	w->seq = v.seq;
	w->pid = (v.flags & HB_RECORD_SELF) ? ds->shm_cpid : v.pid;
	w->start_time = v.start_time;
	w->remove_when_done = !(v.flags & HB_RECORD_SELF) && ds->shm_perm.uid == geteuid();
	name_printable(w->name, v.name);
	watch_subject_update(w);
	return watch_evaluate(w, true) ? w : NULL;
}

/* W's owner rewrote how its record is laid out since it was attached:
 * whatever the record says now is not followed, and nothing is read past
 * what was decided then (record.h).  Turned down until it changes hands. */
static void watch_header_changed(struct watch *w)
{
	struct daemon *d = w->d;
	struct event e = {.kind = EVENT_UNTRUSTED, .who = w->subject};
	struct shmid_ds ds;
	char why[256] = "its header changed after it was attached";

	record_check(&w->record, why, sizeof(why));
	e.who.verified = false;
	event_emit(&d->stats, &e,
		   "not trusting record %d (name \"%s\", pid %d) any more: %s; no longer "
		   "watched",
		   w->shmid, w->name, (int)w->pid, why);
	if (shmctl(w->shmid, IPC_STAT, &ds) == 0)
		intake_turn_down(d, w->shmid, (uint64_t)ds.shm_ctime);
	w->remove_when_done = false; /* not ours to clean up: evidence */
	watch_destroy(w);
}

/* Take up W's tasks from its record: only the slots below the record's
 * task_high are read, so a process without tasks costs nothing more. */
static void watch_tasks_refresh(struct watch *w)
{
	struct hb_task_view tv[HB_TASK_SLOTS];
	uint32_t high = w->v.task_high;
	unsigned n;

	for (uint32_t i = 0; i < w->n_tasks; i++)
		w->tasks[i].open = false;
	if (high == 0)
		return;
	if (high > w->n_tasks) {
		struct watch_task *t = realloc(w->tasks, high * sizeof(*t));
		if (!t)
			return; /* the tasks wait for memory; the process is still watched */
		memset(t + w->n_tasks, 0, (high - w->n_tasks) * sizeof(*t));
		w->tasks = t;
		w->n_tasks = high;
	}
	n = record_read_tasks(&w->record, high, tv, HB_TASK_SLOTS);
	for (unsigned i = 0; i < n; i++) {
		struct watch_task *t = &w->tasks[tv[i].index];

		if (t->v.gen != tv[i].gen)
			t->told_ext_at = 0; /* a new task in the slot */
		timens_task_to_ours(&tv[i], w->clock_rel_ns);
		t->v = tv[i];
		t->open = true;
	}
}

/* The current beat of the heartbeat WHICH of W, or 0 if it is gone. */
static uint64_t beat_of(const struct watch *w, uint64_t which)
{
	uint32_t slot = (uint32_t)(which >> 32);

	if (which == WATCH_BEAT_PROCESS)
		return w->v.beat_ns;
	if (slot < w->n_tasks && w->tasks[slot].open && w->tasks[slot].v.gen == (uint32_t)which)
		return w->tasks[slot].v.beat_ns;
	return 0;
}

/* NS rounded to milliseconds, formatted. */
static void fmt_ms_round(uint64_t ns, char *buf, size_t len)
{
	duration_format((ns + 500000u) / 1000000u * 1000000u, buf, len);
}

/* Say once per extension that a heartbeat of W (TASK, or the process's if
 * NULL) asked for more time, and until when hbwatch waits. */
static void tell_extension(struct watch *w, const struct watch_task *task, uint64_t ext_until,
			   uint64_t deadline, bool moved, uint64_t ext_max, uint64_t now)
{
	struct event e = {.kind = EVENT_EXTENDED, .who = w->subject};
	char asked[DURATION_FORMAT_MAX], wait[DURATION_FORMAT_MAX], cap[DURATION_FORMAT_MAX];
	char who[HB_TASK_LABEL_SIZE + 16] = "";

	if (task) {
		e.task = task->v.label;
		snprintf(who, sizeof(who), " task %s", task->v.label);
	}
	fmt_ms_round(ext_until > now ? ext_until - now : 0, asked, sizeof(asked));
	fmt_ms_round(deadline > now ? deadline - now : 0, wait, sizeof(wait));
	fmt_ms_round(ext_max, cap, sizeof(cap));
	if (!moved)
		event_emit(&w->d->stats, &e,
			   "%s (pid %d, record %d)%s asked to extend its deadline to %s from now: "
			   "ignored (extend_max=%s)",
			   w->name, (int)w->pid, w->shmid, who, asked, cap);
	else if (deadline < ext_until)
		event_emit(&w->d->stats, &e,
			   "%s (pid %d, record %d)%s extended its deadline: asked for %s from now, "
			   "capped to %s (extend_max=%s)",
			   w->name, (int)w->pid, w->shmid, who, asked, wait, cap);
	else
		event_emit(&w->d->stats, &e,
			   "%s (pid %d, record %d)%s extended its deadline to %s from now "
			   "(extend_max=%s)",
			   w->name, (int)w->pid, w->shmid, who, wait, cap);
}

/* The deadline of one heartbeat: BEAT, TIMEOUT and an extension AT/UNTIL
 * as SVC allows; logs a new extension once (*TOLD). */
static uint64_t heartbeat_deadline(struct watch *w, const struct service *svc,
				   const struct watch_task *task, uint64_t beat, uint64_t timeout,
				   uint64_t at, uint64_t until, uint64_t *told, uint64_t now)
{
	uint64_t max = deadline_extend_max(svc->extend_max_ns, timeout);
	bool moved;
	uint64_t d = deadline_extended(beat, timeout, at, until, max, &moved);

	if (at && at >= beat && at != *told) {
		*told = at;
		tell_extension(w, task, until, d, moved, max, now);
	}
	return d;
}

/* A W that was only logged (WATCH_LOGGED): true, and *NEXT when to look
 * again, while it stays so; else it is active again. */
static bool logged_waits(struct watch *w, uint64_t now, uint64_t *next)
{
	/* Still silent: wait for the retry (a rate-limit window that
	 * reopens, a failed action), or for ever (action=log). */
	bool beat = beat_of(w, w->handled_heartbeat) != w->handled_beat;

	if (!beat && (!w->retry_at_ns || now < w->retry_at_ns)) {
		*next = w->retry_at_ns ? w->retry_at_ns : UINT64_MAX;
		return true;
	}
	if (beat)
		hold_beat(w);
	watch_set_state(w, WATCH_ACTIVE); /* it beat again, or its retry is due */
	w->retry_at_ns = 0;
	return false;
}

/* The timeout of W's process under SVC, or 0 (said once) if it asks for
 * one out of range, which is not enforced. */
static uint64_t process_timeout(struct watch *w, const struct service *svc)
{
	const struct hb_record_view *v = &w->v;
	uint64_t timeout = deadline_timeout(v->timeout_ns, svc->timeout_ns);

	if (timeout == 0) {
		/* Only its owner writes it: an owner can exempt only itself. */
		if (!w->warned_timeout) {
			struct event e = {.kind = EVENT_ODD, .who = w->subject};
			event_emit(&w->d->stats, &e,
				   "%s (pid %d, record %d) asks for a timeout of %llu ns, outside "
				   "1 ms..24 h: not enforced until it registers again",
				   w->name, (int)w->pid, w->shmid,
				   (unsigned long long)v->timeout_ns);
			w->warned_timeout = true;
		}
	}
	return timeout;
}

/* A beat of W's in the future counts from there: said once. */
static void future_beat_warn(struct watch *w, uint64_t now)
{
	const struct hb_record_view *v = &w->v;

	if (v->beat_ns > now && v->beat_ns - now > DEADLINE_FUTURE_NS && !w->warned_future) {
		struct event e = {.kind = EVENT_ODD, .who = w->subject};
		event_emit(&w->d->stats, &e,
			   "%s (pid %d, record %d) has a heartbeat %llu ms in the future; its "
			   "deadline counts from there",
			   w->name, (int)w->pid, w->shmid,
			   (unsigned long long)((v->beat_ns - now) / 1000000u));
		w->warned_future = true;
	}
}

/* The heartbeat of a watch whose deadline comes first. */
struct nearest {
	uint64_t deadline, timeout;
	uint64_t which;		       /* which heartbeat (beat_of()) */
	uint64_t which_beat;	       /* its last beat */
	const struct watch_task *task; /* NULL: the process's own */
};

/* Of W's process (its timeout TIMEOUT) and its open tasks, the heartbeat
 * due first under SVC. */
static struct nearest nearest_due(struct watch *w, const struct service *svc, uint64_t timeout,
				  uint64_t now)
{
	const struct hb_record_view *v = &w->v;
	struct nearest n = {
	    .timeout = timeout, .which = WATCH_BEAT_PROCESS, .which_beat = v->beat_ns};

	n.deadline = heartbeat_deadline(w, svc, NULL, v->beat_ns, timeout, v->ext_at_ns,
					v->ext_until_ns, &w->told_ext_at, now);
	for (uint32_t i = 0; i < w->n_tasks; i++) {
		struct watch_task *t = &w->tasks[i];
		uint64_t tt, td;

		if (!t->open)
			continue;
		/* A task's timeout is capped like its process's; out of range
		 * only where its owner wrote the slot by hand: not enforced. */
		tt = deadline_timeout((uint64_t)t->v.timeout_ms * 1000000u, svc->timeout_ns);
		if (tt == 0)
			continue;
		td = heartbeat_deadline(w, svc, t, t->v.beat_ns, tt, t->v.ext_at_ns,
					t->v.ext_until_ns, &t->told_ext_at, now);
		if (td < n.deadline) {
			n.deadline = td;
			n.timeout = tt;
			n.task = t;
			n.which = (uint64_t)i << 32 | t->v.gen;
			n.which_beat = t->v.beat_ns;
		}
	}
	return n;
}

/* W missed deadline N: what was late, handed to the kill path as one
 * fact.  Returns when to look again. */
static uint64_t deadline_passed(struct watch *w, const struct service *svc, const struct nearest *n,
				uint64_t now)
{
	if (watch_clock_moved(w))
		return now; /* read again and judged on its new clock */
	struct deadline_miss m = {
	    .heartbeat = n->which,
	    .beat_ns = n->which_beat,
	    .timeout_ns = n->timeout,
	    .late_ns = now - n->deadline,
	    .seen_ns = now,
	    .task = n->task ? n->task->v.label : NULL,
	    /* The record's word for which thread it was: checked before use. */
	    .tid = n->task ? record_task_tid(&w->record, n->task->v.index) : w->v.beat_tid,
	};
	return kill_deadline_missed(w, svc, &m);
}

/* The deadline of an active watch, or UINT64_MAX if it has none: the
 * earliest of its process's and its tasks'. */
uint64_t watch_check(struct daemon *d, struct watch *w, uint64_t now)
{
	const struct service *svc = settings_find(&d->settings, w->v.name);
	struct nearest n;
	uint64_t timeout, next;

	if (w->state == WATCH_LOGGED && logged_waits(w, now, &next))
		return next;
	if (w->state != WATCH_ACTIVE || !svc)
		return UINT64_MAX;
	timeout = process_timeout(w, svc);
	if (timeout == 0)
		return UINT64_MAX;
	future_beat_warn(w, now);
	n = nearest_due(w, svc, timeout, now);
	next = hold_ahead(w, svc, n.which_beat, n.timeout, &n.deadline, now);
	return now < n.deadline ? next : deadline_passed(w, svc, &n, now);
}

uint64_t watch_scan(struct daemon *d)
{
	uint64_t now = now_ns();
	uint64_t next = now + d->scan.period_ns;

	d->triage_warm_left = TRIAGE_WARM_PER_PASS;

	/* Backwards: destroying watches[i] moves the last one, already seen,
	 * into its place. */
	for (size_t i = d->ws.n; i-- > 0;) {
		struct watch *w = d->ws.v[i];
		struct hb_record_view v;
		int r = record_read(&w->record, &v);

		/* A record its owner keeps writing: the last good copy stands. */
		if (r == 0) {
			timens_view_to_ours(&v, w->clock_rel_ns);
			w->v = v;
			watch_tasks_refresh(w);
		} else if (r == -EPROTO && w->state != WATCH_KILLING) {
			watch_header_changed(w);
			continue;
		}
		if (w->v.state != HB_RECORD_OPEN && w->state != WATCH_KILLING) {
			watch_destroy(w); /* unregistered */
			continue;
		}
		if (w->v.seq != w->seq && w->state != WATCH_KILLING) {
			/* Registered again: a new name or timeout. */
			w->seq = w->v.seq;
			view_touch(w);
			w->warned_timeout = false;
			name_printable(w->name, w->v.name);
			if (!watch_evaluate(w, false))
				continue;
		} else if (w->over_share && w->state == WATCH_REFUSED) {
			char why[HB_STATUS_REASON];

			/* Room in its share again (one of its uid's ended). */
			if (share_allows(&d->ws.shares, &d->settings, w->share_uid, why,
					 sizeof(why)) &&
			    !watch_evaluate(w, false))
				continue;
		}
		uint64_t deadline = watch_check(d, w, now);
		if (deadline < next)
			next = deadline;
	}
	return next;
}

void watch_reevaluate(struct daemon *d)
{
	for (size_t i = d->ws.n; i-- > 0;) {
		struct watch *w = d->ws.v[i];

		if (w->state != WATCH_KILLING)
			watch_evaluate(w, false); /* may destroy W: see watch_scan() */
	}
}
