/* The verdict applied: the one place where the facts of a late process
 * are read (verdict_read.c), decided on (verdict.c, pure) and turned into
 * a state, a journal record and a count.  kill.c asks here before acting
 * and before SIGKILL; the native and the classic scans ask where a
 * deadline counts from. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "duration.h"
#include "hold.h"
#include "log.h"
#include "state.h"
#include "triage.h"
#include "verdict.h"
#include "verdict_read.h"
#include "view.h"

/* One deadline-deferred record per process per this long at most (the
 * counter counts every deferral). */
#define DEFER_TELL_NS (1000u * 1000000ull)
/* While frozen or debugged: looked at again every timeout, within these. */
#define HOLD_POLL_MIN_NS (100u * 1000000ull)
#define HOLD_POLL_MAX_NS (1000u * 1000000ull)
/* While the core is written: looked at again this often. */
#define DUMP_POLL_NS (100u * 1000000ull)

static uint64_t grace_of(const struct service *svc, uint64_t timeout_ns)
{
	return svc->starve_grace_ns == HB_GRACE_AUTO ? timeout_ns : svc->starve_grace_ns;
}

static uint64_t poll_of(uint64_t timeout_ns)
{
	return timeout_ns < HOLD_POLL_MIN_NS   ? HOLD_POLL_MIN_NS
	       : timeout_ns > HOLD_POLL_MAX_NS ? HOLD_POLL_MAX_NS
					       : timeout_ns;
}

static void set_why(struct watch *w, const char *why)
{
	size_t n = strnlen(why, sizeof(w->why) - 1);

	memcpy(w->why, why, n);
	w->why[n] = '\0';
}

/* Held: looked at again at RETRY_AT, or when it beats. */
static void hold_set(struct watch *w, enum verdict_hold h, const char *why, uint64_t retry_at)
{
	w->hold = h;
	set_why(w, why);
	watch_set_state(w, WATCH_LOGGED); /* touches the view: all of this goes with it */
	w->retry_at_ns = retry_at;
}

static void hold_clear(struct watch *w)
{
	if (w->hold == HOLD_NONE)
		return;
	w->hold = HOLD_NONE;
	w->why[0] = '\0';
	view_touch(w);
}

/* The triage's fields, then the verdict's, into V (NULL-terminated). */
static void merge_fields(const char *const *a, const struct verdict_fields *b, char extra[2][96],
			 const char **v, size_t max)
{
	size_t n = 0;

	for (; a && *a && n + 1 < max; a++)
		v[n++] = *a;
	for (const char *const *p = b->v; *p && n + 1 < max; p++)
		v[n++] = *p;
	for (unsigned i = 0; i < 2 && extra[i][0] && n + 1 < max; i++)
		v[n++] = extra[i];
	v[n] = NULL;
}

static void tell_deferred(struct watch *w, uint64_t timeout_ns, uint64_t late_ns, uint64_t grace,
			  const char *why, const char *words, const char *const *fields,
			  const struct verdict_facts *f, uint64_t now)
{
	struct event e = {.kind = EVENT_DEFERRED, .who = w->subject};
	struct verdict_fields vf;
	const char *v[TRIAGE_FIELDS_MAX + VERDICT_FIELDS_MAX + 3];
	char extra[2][96] = {"", ""}, gr[DURATION_FORMAT_MAX];

	e.timeout_ns = timeout_ns;
	e.late_ns = late_ns ? late_ns : 1;
	e.task = w->missed_task[0] ? w->missed_task : NULL;
	verdict_fields(f, &vf);
	snprintf(extra[0], sizeof(extra[0]), "HBWATCH_STARVE_GRACE_USEC=%llu",
		 (unsigned long long)(grace / 1000u));
	merge_fields(fields, &vf, extra, v, sizeof(v) / sizeof(v[0]));
	e.extra = v;
	duration_format(grace, gr, sizeof(gr));
	if (w->deferred_told_ns && now - w->deferred_told_ns < DEFER_TELL_NS) {
		event_count(&w->d->stats, &e);
		return;
	}
	w->deferred_told_ns = now;
	event_emit(&w->d->stats, &e,
		   "%s (pid %d, {record}) missed the deadline of %s%s (timeout {timeout}) but "
		   "is %s; not acted on for starve_grace=%s, unless it beats; %s",
		   w->name, (int)w->pid, e.task ? "its task " : "its heartbeat",
		   e.task ? e.task : "", why, gr, words ? words : "");
}

/* Frozen or debugged, said once until it ends. */
static void tell_left(struct watch *w, enum event_kind kind, const char *why, uint64_t timeout_ns,
		      const char *words, const char *const *fields, const struct verdict_facts *f)
{
	struct event e = {.kind = kind, .who = w->subject};
	struct verdict_fields vf;
	const char *v[TRIAGE_FIELDS_MAX + VERDICT_FIELDS_MAX + 3];
	char extra[2][96] = {"", ""};

	e.timeout_ns = timeout_ns;
	e.task = w->missed_task[0] ? w->missed_task : NULL;
	verdict_fields(f, &vf);
	if (f->tracer)
		snprintf(extra[0], sizeof(extra[0]), "HBWATCH_TRACER_PID=%d", (int)f->tracer);
	merge_fields(fields, &vf, extra, v, sizeof(v) / sizeof(v[0]));
	e.extra = v;
	event_emit(&w->d->stats, &e,
		   "%s (pid %d, {record}) missed its deadline but is %s: not acted on, still "
		   "watched; its deadline restarts when it %s; %s",
		   w->name, (int)w->pid, why, kind == EVENT_FROZEN ? "thaws" : "is let go",
		   words ? words : "");
}

/* The facts of the verdict on W's late process, read NOW into F. */
static void deadline_facts(struct watch *w, uint64_t now, struct verdict_facts *f)
{
	/* The late thread: the main one until the record names the thread
	 * that last beat (then: that TID here). */
	(void)verdict_read(w->pid, 0, &w->vmark, now, f);
	/* The CPU figure of the triage just taken (kill.c), for the same
	 * window. */
	if (w->triage.last.cpu_usec != UINT64_MAX && w->triage.last.window_usec) {
		f->have_cpu = true;
		f->cpu_ns = w->triage.last.cpu_usec * 1000u;
		f->cpu_window_ns = w->triage.last.window_usec * 1000u;
	}
}

/* W was held (WAS: frozen or traced) and verdict V says it is no longer:
 * thawed, or let go, it could not beat until NOW, so its deadline
 * (TIMEOUT_NS) counts from now.  True if so. */
static bool hold_released(struct watch *w, enum verdict_hold was, enum verdict v,
			  uint64_t timeout_ns, uint64_t now)
{
	struct event e;
	char tmo[DURATION_FORMAT_MAX];

	if (!((was == HOLD_FROZEN && v != VERDICT_LEAVE_FROZEN) ||
	      (was == HOLD_DEBUGGED && v != VERDICT_LEAVE_DEBUGGED)))
		return false;
	e = (struct event){.kind = was == HOLD_FROZEN ? EVENT_THAWED : EVENT_RELEASED,
			   .who = w->subject};
	duration_format(timeout_ns, tmo, sizeof(tmo));
	event_emit(&w->d->stats, &e, "%s (pid %d) %s: watched again, its deadline is %s from now",
		   w->name, (int)w->pid,
		   was == HOLD_FROZEN ? "thawed" : "is no longer held by a tracer", tmo);
	hold_clear(w);
	w->rearm_ns = now;
	w->retry_at_ns = 0;
	watch_set_state(w, WATCH_ACTIVE);
	return true;
}

bool hold_at_deadline(struct watch *w, const struct service *svc, uint64_t timeout_ns,
		      uint64_t late_ns, const char *words, const char *const *fields)
{
	uint64_t now = now_ns(), grace = grace_of(svc, timeout_ns);
	struct verdict_policy p = {
	    .starve_grace_ns = grace,
	    .deferred = w->deferred && w->deferred_beat == w->handled_beat &&
			w->deferred_heartbeat == w->handled_heartbeat,
	    .debugged_kill = svc->debugged_kill,
	};
	struct verdict_facts f;
	enum verdict_hold was = w->hold;
	enum verdict v;
	char why[160];

	deadline_facts(w, now, &f);
	v = verdict_decide(&f, &p, why, sizeof(why));
	if (hold_released(w, was, v, timeout_ns, now))
		return true;
	switch (v) {
	case VERDICT_ACT:
		hold_clear(w);
		return false;
	case VERDICT_DEFER_STARVED:
		w->deferred = true;
		w->deferred_beat = w->handled_beat;
		w->deferred_heartbeat = w->handled_heartbeat;
		tell_deferred(w, timeout_ns, late_ns, grace, why, words, fields, &f, now);
		hold_set(w, HOLD_STARVED, why, now + grace);
		return true;
	case VERDICT_LEAVE_FROZEN:
	case VERDICT_LEAVE_DEBUGGED: {
		enum verdict_hold h = v == VERDICT_LEAVE_FROZEN ? HOLD_FROZEN : HOLD_DEBUGGED;
		if (was != h)
			tell_left(w, h == HOLD_FROZEN ? EVENT_FROZEN : EVENT_DEBUGGED, why,
				  timeout_ns, words, fields, &f);
		hold_set(w, h, why, now + poll_of(timeout_ns));
		return true;
	}
	}
	return false;
}

uint64_t hold_dump_wait_ns(struct watch *w)
{
	uint64_t now = now_ns(), max = w->d->settings.dump_max_ns;
	uint64_t grace = w->d->settings.kill_grace_ns;
	struct verdict_facts f = {.read = true};
	char mx[DURATION_FORMAT_MAX];

	if (verdict_read_dumping(w->pid, &f.core_dumping) < 0)
		f.read = false;
	if (w->hold != HOLD_DUMPING && verdict_wait_dump(&f, 0, max)) {
		struct event e = {.kind = EVENT_DUMPING, .who = w->subject};

		w->hold = HOLD_DUMPING;
		w->dump_from_ns = now;
		w->dump_done_ns = 0;
		view_touch(w);
		/* Off the scans (a timer of its own): hbctl hears it now. */
		view_update(w->d, now);
		duration_format(max, mx, sizeof(mx));
		event_emit(&w->d->stats, &e,
			   "%s (pid %d) is writing its core dump: SIGKILL waits until it is "
			   "done, at most dump_max=%s",
			   w->name, (int)w->pid, mx);
	}
	if (w->hold == HOLD_DUMPING) {
		uint64_t waited = now - w->dump_from_ns;

		if (verdict_wait_dump(&f, waited, max))
			return max - waited < DUMP_POLL_NS ? max - waited : DUMP_POLL_NS;
		/* Written: a process that dumped its core is exiting (freeing
		 * a large memory on a slowed CPU takes a while), and SIGKILL
		 * would change nothing: it gets the rest of dump_max, and
		 * kill_grace at least, to go. */
		if (f.read && !f.core_dumping) {
			if (!w->dump_done_ns)
				w->dump_done_ns = now;
			if (waited < max || now - w->dump_done_ns < grace)
				return DUMP_POLL_NS;
		}
	}
	hold_clear(w);
	return 0;
}

void hold_beat(struct watch *w)
{
	if (w->hold != HOLD_DUMPING)
		hold_clear(w);
}

void hold_sample(struct watch *w, const struct service *svc, uint64_t now)
{
	/* Only after a sample taken now, and only where starvation can
	 * defer anything: two small reads more per sample. */
	if (w->triage.at_ns != now || !svc || svc->starve_grace_ns == 0)
		return;
	verdict_sample(&w->vmark, w->pid, 0, now);
}

uint64_t hold_deadline(const struct watch *w, uint64_t deadline, uint64_t timeout_ns)
{
	if (w->rearm_ns && deadline < w->rearm_ns + timeout_ns)
		return w->rearm_ns + timeout_ns;
	return deadline;
}

/* warn_at: if W's heartbeat (beat BEAT_NS, TIMEOUT_NS) is past SVC's
 * warn_at share and not said yet, say so with the triage.  Returns when
 * it is due if still ahead, else UINT64_MAX. */
static uint64_t hold_near(struct watch *w, const struct service *svc, uint64_t beat_ns,
			  uint64_t timeout_ns, uint64_t now)
{
	struct event e = {.kind = EVENT_NEAR, .who = w->subject};
	struct triage_facts tf;
	struct hb_status_triage t;
	struct triage_fields fl;
	uint64_t at, cpu = UINT64_MAX, window = 0;
	char words[256], age[DURATION_FORMAT_MAX];

	if (!svc || !svc->warn_at_pct || w->near_beat == beat_ns)
		return UINT64_MAX;
	at = hold_deadline(w, beat_ns + timeout_ns / 100u * svc->warn_at_pct, timeout_ns);
	if (now < at)
		return at;
	w->near_beat = beat_ns;
	if (triage_read(w->pid, w->start_time, TRIAGE_BUDGET_NS, &tf) == 0 && w->triage.at_ns &&
	    tf.cpu_ticks >= w->triage.cpu_ticks && now > w->triage.at_ns) {
		cpu = triage_ticks_usec(tf.cpu_ticks - w->triage.cpu_ticks, sysconf(_SC_CLK_TCK));
		window = (now - w->triage.at_ns) / 1000u;
	}
	triage_summarize(&tf, cpu, window, &t);
	triage_fields(&tf, &t, &fl);
	triage_words(&tf, cpu, window, words, sizeof(words));
	e.extra = fl.v;
	e.timeout_ns = timeout_ns;
	e.task = w->missed_task[0] ? w->missed_task : NULL;
	duration_format(now > beat_ns ? (now - beat_ns) / 1000000u * 1000000u : 0, age,
			sizeof(age));
	event_emit(&w->d->stats, &e,
		   "%s (pid %d, {record}) has not beaten for %s, %u %% of its timeout {timeout} "
		   "(warn_at): %s",
		   w->name, (int)w->pid, age, svc->warn_at_pct, words);
	return UINT64_MAX;
}

uint64_t hold_ahead(struct watch *w, const struct service *svc, uint64_t beat_ns,
		    uint64_t timeout_ns, uint64_t *deadline, uint64_t now)
{
	uint64_t gap, look, near;

	*deadline = hold_deadline(w, *deadline, timeout_ns);
	if (now >= *deadline)
		return UINT64_MAX;
	gap = triage_sample_gap(timeout_ns);
	/* The CPU figure at a missed deadline counts from here: a sample
	 * after the last beat of the heartbeat nearest its deadline. */
	triage_sample(&w->triage, w->pid, w->start_time, beat_ns, now, gap,
		      &w->d->triage_warm_left);
	hold_sample(w, svc, now);
	/* Look again a quarter timeout on, beat or not: the deadline scans
	 * alone would see the last beat only at its deadline, too late for
	 * a sample.  On a grid, so that processes with the same timeout
	 * share the scans. */
	look = w->triage.at_ns + gap > now ? w->triage.at_ns + gap : now + gap;
	look = triage_sample_tick(look, gap);
	near = hold_near(w, svc, beat_ns, timeout_ns, now);
	if (near < look)
		look = near;
	return look < *deadline ? look : *deadline;
}
