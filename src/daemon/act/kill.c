/* Acting on a missed deadline: prove the slot's process is a legitimate
 * target, then signal it through its pidfd (never by pid), escalate to
 * SIGKILL after kill_grace on a timer of its own, or ask systemd to restart
 * its unit, or only log. */
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/shm.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "deadline.h"
#include "duration.h"
#include "handover.h"
#include "hold.h"
#include "identity.h"
#include "kill.h"
#include "log.h"
#include "proc.h"
#include "signame.h"
#include "state.h"
#include "target.h"
#include "thread.h"
#include "triage.h"
#include "view.h"

static const char *sig_name(int sig)
{
	const char *n = signal_name(sig);

	return n ? n : "signal";
}

/* Count one action on a process of SVC in UNIT (NULL: none); false if
 * that would exceed the section's kill_burst per kill_interval for that
 * unit instance, and then *REOPENS gets the end of the window.  Per
 * instance: one flapping worker@1 must not use up worker@2's budget. */
static bool rate_allow(struct daemon *d, const struct service *svc, const char *unit, uint64_t now,
		       struct rate **rate, uint64_t *reopens)
{
	struct rate *r = NULL;
	char key[sizeof(r->key)];

	snprintf(key, sizeof(key), "%s %s", svc->name, unit ? unit : "");
	for (size_t i = 0; i < d->rl.n; i++)
		if (strcmp(d->rl.v[i].key, key) == 0)
			r = &d->rl.v[i];
	if (!r) {
		struct rate *n = realloc(d->rl.v, (d->rl.n + 1) * sizeof(*n));
		if (!n) {
			*rate = NULL;
			return true; /* out of memory: fail open, the kill is the safe side */
		}
		d->rl.v = n;
		r = &d->rl.v[d->rl.n++];
		*r = (struct rate){.window_start_ns = now};
		snprintf(r->key, sizeof(r->key), "%s", key);
	}
	*rate = r;
	if (now - r->window_start_ns >= svc->kill_interval_ns) {
		r->window_start_ns = now;
		r->count = 0;
		r->handed_over = false;
	}
	if (r->count >= svc->kill_burst) {
		*reopens = r->window_start_ns + svc->kill_interval_ns;
		return false;
	}
	r->count++;
	return true;
}

/* An action that could not be taken: look at W again in a while, and act
 * then if it still has not beaten. */
static void retry_later(struct watch *w, uint64_t at)
{
	watch_set_state(w, WATCH_LOGGED); /* touches the view: retry_at_ns goes with it */
	w->retry_at_ns = at;
	w->retried_beat = w->handled_beat;
}

/* A failure on the way to systemd (no bus, a refused job): said again at
 * every retry, so rate-limited like any repeated record. */
static void say_bus_error(const char *unit, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say_bus_error(const char *unit, const char *fmt, ...)
{
	struct event e = {.kind = EVENT_BUS_ERROR, .who.slot = -1, .unit = unit};
	va_list ap;

	va_start(ap, fmt);
	event_emitv(NULL, &e, fmt, ap);
	va_end(ap);
}

/* The facts about W's registration that the kernel vouches for, read now:
 * who created and owns its record, and who may write it.  For the classic
 * table, the table's.  Returns false if the record is gone. */
static bool registration_ownership(const struct watch *w, struct ownership_facts *own)
{
	struct shmid_ds ds;

	if (w->legacy) {
		*own = w->d->legacy.own;
		return true;
	}
	if (shmctl(w->shmid, IPC_STAT, &ds) < 0)
		return false;
	*own = (struct ownership_facts){
	    .cuid = ds.shm_perm.cuid, .uid = ds.shm_perm.uid, .mode = ds.shm_perm.mode};
	return true;
}

/* Every check again, on facts read now, before anything is sent to W's
 * process: the decision at adoption may be old (a record's mode changed,
 * the process changed its uid, its unit).  On failure, WHY says which
 * check failed.  UNIT receives the process's unit (caller frees). */
static enum identity_verdict target_verify(struct watch *w, char **unit, char *why, size_t why_len)
{
	struct identity_facts f = {.recorded = w->start_time, .name_ok = true, .name = w->name};
	const struct service *svc;
	enum identity_verdict v;

	*unit = NULL;
	f.have_ownership = registration_ownership(w, &f.own);
	if (!f.have_ownership) {
		snprintf(why, why_len, "its record is gone");
		return IDENTITY_STALE;
	}
	/* Last: the facts were read by pid.  If the start time still matches,
	 * they were read from the process the pidfd holds. */
	identity_build(&f, w->pid, w->d->self, true);
	v = identity_decide(&f, &w->d->settings, &svc, why, why_len);
	*unit = (char *)f.unit;
	return v;
}

/* What /proc says of W's process now, within BUDGET_NS, kept in W for
 * hbctl; F gets the facts, FL the journal fields and WORDS (of LEN) what
 * the message says (FL and WORDS may be NULL). */
static void triage_take(struct watch *w, uint64_t budget_ns, struct triage_facts *f,
			struct triage_fields *fl, char *words, size_t len)
{
	uint64_t cpu = UINT64_MAX, window = 0, now;
	const struct triage_mark *m = &w->triage;

	(void)triage_read(w->pid, w->start_time, budget_ns, f);
	now = now_ns();
	if (f->read && m->at_ns && f->cpu_ticks >= m->cpu_ticks && now > m->at_ns) {
		cpu = triage_ticks_usec(f->cpu_ticks - m->cpu_ticks, sysconf(_SC_CLK_TCK));
		window = (now - m->at_ns) / 1000u;
	}
	triage_summarize(f, cpu, window, &w->triage.last);
	if (fl)
		triage_fields(f, &w->triage.last, fl);
	if (words)
		triage_words(f, cpu, window, words, len);
	view_touch(w);
}

/* The thread the record says beat the late heartbeat last, read now if
 * /proc shows it a thread of W's process (the record's word is only a
 * hint): W->stuck_tid is then set for the first signal, TH the facts,
 * WORDS what the message says of it. */
static void stuck_thread_take(struct watch *w, struct thread_facts *th, char *words, size_t len)
{
	w->stuck_tid = 0;
	words[0] = '\0';
	if (thread_read(w->pid, w->missed_tid, th) < 0) {
		if (w->missed_tid > 0)
			snprintf(words, len, "the thread %d its record names is not one of its; ",
				 (int)w->missed_tid);
		return;
	}
	w->stuck_tid = th->tid;
	snprintf(words, len, "its thread %d (%c%s%s) beat it last; ", (int)th->tid, th->state,
		 th->wchan[0] ? ", in " : "", th->wchan);
}

/* Looked at again every kill_grace (at least a second) while it stays. */
static uint64_t unkillable_recheck_usec(const struct daemon *d)
{
	uint64_t ns =
	    d->settings.kill_grace_ns < 1000000000u ? 1000000000u : d->settings.kill_grace_ns;

	return deadline_usec_ceil(ns);
}

/* kill_grace after SIGKILL, and then rarely: a process still there is
 * one the kernel holds.  Said once, with its state and wchan; later looks
 * only refresh what hbctl shows.  Its exit comes through the pidfd. */
static int on_unkillable(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct watch *w = userdata;
	struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
	struct triage_facts f;
	struct triage_fields fl;
	char why[512], grace[DURATION_FORMAT_MAX];
	int r;

	w->escalate_source = sd_event_source_disable_unref(w->escalate_source);
	if (poll(&p, 1, 0) == 1)
		return 0; /* gone: on_exit_pidfd tells */
	/* Off the kill path: no budget, every thread is read. */
	triage_take(w, UINT64_MAX, &f, &fl, NULL, 0);
	if (triage_after_sigkill(&f, why, sizeof(why)) == TRIAGE_UNKILLABLE &&
	    !w->triage.unkillable) {
		struct event e = {.kind = EVENT_UNKILLABLE, .who = w->subject};
		e.signal = SIGKILL;
		e.extra = fl.v;
		w->triage.unkillable = true;
		view_touch(w);
		duration_format(w->d->settings.kill_grace_ns, grace, sizeof(grace));
		event_emit(&w->d->stats, &e,
			   "%s (pid %d) is still there %s after SIGKILL: %s; hbwatch leaves it "
			   "and sees its exit when it comes",
			   w->name, (int)w->pid, grace, why);
	}
	r = sd_event_add_time_relative(w->d->event, &w->escalate_source, CLOCK_MONOTONIC,
				       unkillable_recheck_usec(w->d), 1000000, on_unkillable, w);
	if (r < 0)
		w->escalate_source = NULL;
	return 0;
}

/* Not signalled after all: WHY says why.  Once per signal decided, so not
 * limited, as the signal itself would not have been. */
static void say_refused(struct watch *w, int sig, const char *when, const char *why)
{
	struct event e = {.kind = EVENT_NOT_SENT, .who = w->subject};

	e.signal = sig;
	e.who.verified = false;
	event_emit(&w->d->stats, &e, "not sending %s to %s (pid %d)%s: %s", sig_name(sig), w->name,
		   (int)w->pid, when, why);
}

/* HBWATCH_SKIPPED= in FIELD (then *EXTRA points at it) and what the
 * message says in WORDS of the members of a group that T left out; ""
 * and NULL if none. */
static void skipped_fields(const struct target_tally *t, char *field, size_t flen, char *words,
			   size_t wlen, const char *fields[2], const char *const **extra)
{
	words[0] = '\0';
	*extra = NULL;
	if (!t->skipped)
		return;
	snprintf(field, flen, "HBWATCH_SKIPPED=%s", t->skipped_list);
	snprintf(words, wlen, "; not to %u member%s of its process group (%s): %s", t->skipped,
		 t->skipped == 1 ? "" : "s", t->skipped_list, t->why);
	fields[0] = field;
	fields[1] = NULL;
	*extra = fields;
}

static int on_escalate(sd_event_source *s, uint64_t usec, void *userdata);

/* A core being written: SIGKILL would cut it short (hold.h).  True if
 * W's escalation was put off until it is written. */
static bool escalation_waits_for_dump(struct watch *w)
{
	uint64_t dump_wait = hold_dump_wait_ns(w);

	if (dump_wait) {
		if (sd_event_add_time_relative(w->d->event, &w->escalate_source, CLOCK_MONOTONIC,
					       deadline_usec_ceil(dump_wait), 1000, on_escalate,
					       w) >= 0)
			return true;
		w->escalate_source = NULL;
	}
	return false;
}

/* Whether W's process may still have SIGKILL, on facts read now; OWN
 * gets its record's writers.  If not, said (while it lives). */
static bool escalation_allowed(struct watch *w, struct ownership_facts *own)
{
	char why[512];
	char *unit = NULL;

	/* As the first signal was: kill_grace is long enough for the process
	 * to have become another uid's (a setuid program exec'd). */
	if (target_verify(w, &unit, why, sizeof(why)) != IDENTITY_OK ||
	    !registration_ownership(w, own)) {
		free(unit);
		if (pidfd_send_signal(w->pidfd, 0, NULL, 0) == 0)
			say_refused(w, SIGKILL, " after kill_grace", why);
		return false;
	}
	free(unit);
	return true;
}

static int on_escalate(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct watch *w = userdata;
	struct event e = {.kind = EVENT_ESCALATED, .who = w->subject};
	struct target_tally t = {0};
	struct ownership_facts own;
	char why[512], field[sizeof(t.skipped_list) + 32], words[sizeof(t.skipped_list) + 320];
	const char *fields[2];
	bool alive;
	int r;

	e.signal = SIGKILL;
	w->escalate_source = sd_event_source_disable_unref(w->escalate_source);
	if (escalation_waits_for_dump(w))
		return 0;
	if (!escalation_allowed(w, &own))
		return 0;
	/* Members met at the first signal; others only while the leader
	 * lives, which keeps the group number the same group's. */
	alive = pidfd_send_signal(w->pidfd, 0, NULL, 0) == 0;
	if (w->group.pgrp)
		target_group_signal(&own, &w->group, w->pid, alive, SIGKILL, &t);
	skipped_fields(&t, field, sizeof(field), words, sizeof(words), fields, &e.extra);
	r = target_signal(&own, w->pidfd, w->pid, w->start_time, SIGKILL, why, sizeof(why));
	if (r == -EPERM) {
		say_refused(w, SIGKILL, " after kill_grace", why);
		return 0;
	}
	if (r < 0) {
		if (r != -ESRCH)
			log_error("cannot send SIGKILL to %s (pid %d): %s", w->name, (int)w->pid,
				  strerror(-r));
		return 0; /* ESRCH: it is exiting; the pidfd event follows */
	}
	event_emit(&w->d->stats, &e, "%s (pid %d) still there after kill_grace: sent SIGKILL%s",
		   w->name, (int)w->pid, words);
	stats_action(&w->d->stats, false, "SIGKILL to %s (pid %d)", w->name, (int)w->pid);
	if (sd_event_add_time_relative(w->d->event, &w->escalate_source, CLOCK_MONOTONIC,
				       deadline_usec_ceil(w->d->settings.kill_grace_ns), 1000,
				       on_unkillable, w) < 0)
		w->escalate_source = NULL;
	return 0;
}

/* kill_group: the process's whole process group, for shell jobs whose
 * hung child would outlive the shell (KillMode=process, cron).  Only when
 * the registered process leads its group: only its leader's identity is
 * pinned (by the pidfd, just checked alive), which keeps the number from
 * being anyone else's.  Each member is signalled through a pidfd of its
 * own, and only if OWN's writers could signal it (a setuid member, sudo's
 * child, is not theirs to signal).  Returns the group, or 0. */
static pid_t signal_group(struct watch *w, const struct service *svc,
			  const struct ownership_facts *own, int sig, struct target_tally *t)
{
	pid_t pg;

	if (!svc->kill_group || proc_pgrp(w->pid, &pg) < 0)
		return 0;
	if (pg != w->pid) {
		struct event e = {.kind = EVENT_ODD, .who = w->subject};
		event_emit(
		    &w->d->stats, &e,
		    "kill_group: %s (pid %d) does not lead its process group (%d): only it is "
		    "signalled",
		    w->name, (int)w->pid, (int)pg);
		return 0;
	}
	if (pidfd_send_signal(w->pidfd, 0, NULL, 0) < 0)
		return 0;
	w->group.pgrp = pg;
	target_group_signal(own, &w->group, w->pid, true, sig, t);
	return pg;
}

/* A pidfd of W's stuck thread for the first signal, so that a SIGABRT
 * core dump's crashing thread is the one that hung; NOTE says which way
 * the signal goes.  -1: the process pidfd (no thread known, the thread is
 * gone, or the kernel has no thread pidfds: before Linux 6.9). */
static int stuck_thread_pidfd(struct watch *w, char *note, size_t len)
{
	int fd;

	note[0] = '\0';
	if (!w->stuck_tid)
		return -1;
	fd = thread_pidfd(w->pid, w->stuck_tid);
	if (fd >= 0)
		snprintf(note, len, " through its thread %d", (int)w->stuck_tid);
	else if (fd == -EINVAL)
		snprintf(note, len, " to the process, not its thread %d (no thread pidfds here)",
			 (int)w->stuck_tid);
	return fd;
}

/* The leader was not signalled (R, WHY): retried later, unless it is
 * exiting.  True if that ends the action: no member was signalled
 * either (T). */
static bool leader_unsignalled(struct watch *w, const struct service *svc, int r,
			       const struct target_tally *t, const char *why)
{
	if (r == -EPERM) {
		/* Changed since it was verified, an instant ago. */
		say_refused(w, svc->signal, "", why);
		retry_later(w, now_ns() + ACTION_RETRY_NS);
		if (!t->sent)
			return true;
	} else if (r < 0 && !t->sent) {
		if (r == -ESRCH)
			return true; /* already exiting: on_exit frees the slot */
		log_error("cannot send %s to %s (pid %d): %s; trying again in %llu ms",
			  sig_name(svc->signal), w->name, (int)w->pid, strerror(-r),
			  (unsigned long long)(ACTION_RETRY_NS / 1000000u));
		retry_later(w, now_ns() + ACTION_RETRY_NS);
		return true;
	}
	return false;
}

/* After SVC's signal, SIGCONT to the leader (if R says it had the
 * signal) and to group PG's members, each checked again like it. */
static void cont_after(struct watch *w, const struct service *svc,
		       const struct ownership_facts *own, int r, pid_t pg)
{
	struct target_tally tc = {0};
	char why[512];

	/* As systemd does after its kill signal: a stopped process would keep
	 * the signal pending until the SIGKILL escalation, and SIGABRT would
	 * leave no core dump of where it hung.  After the signal, so that the
	 * process never runs on between the two; checked again, like it. */
	if (svc->signal != SIGKILL) {
		if (r == 0)
			(void)target_signal(own, w->pidfd, w->pid, w->start_time, SIGCONT, why,
					    sizeof(why));
		if (pg)
			target_group_signal(own, &w->group, w->pid, false, SIGCONT, &tc);
	}
}

/* The journal record of the signal E sent to W (and T's members; the
 * stuck thread's THREAD_NOTE), and the action counted. */
static void say_signalled(struct watch *w, const struct service *svc, struct event e,
			  const struct target_tally *t, const char *thread_note)
{
	struct daemon *d = w->d;
	char field[sizeof(t->skipped_list) + 32], words[sizeof(t->skipped_list) + 320];
	const char *fields[2];
	char members[64] = "";

	skipped_fields(t, field, sizeof(field), words, sizeof(words), fields, &e.extra);
	if (t->sent)
		snprintf(members, sizeof(members), " and %u member%s of its process group", t->sent,
			 t->sent == 1 ? "" : "s");
	event_emit(&d->stats, &e, "sent %s to %s (pid %d%s)%s%s%s%s%s", sig_name(svc->signal),
		   w->name, (int)w->pid, members, thread_note,
		   svc->signal != SIGKILL ? ", then SIGCONT" : "", e.task ? ": its task " : "",
		   e.task ? e.task : "", words);
	stats_action(&d->stats, true, "%s to %s (pid %d)", sig_name(svc->signal), w->name,
		     (int)w->pid);
}

static void action_kill(struct watch *w, const struct service *svc)
{
	struct daemon *d = w->d;
	struct event e = {.kind = EVENT_SIGNAL_SENT, .who = w->subject};
	struct target_tally t = {0};
	struct ownership_facts own;
	char why[512], thread_note[96] = "";
	pid_t pg;
	int r, tfd;

	e.signal = svc->signal;
	e.task = w->missed_task[0] ? w->missed_task : NULL;
	if (!registration_ownership(w, &own))
		return; /* the record is gone: the exit event or the next scan tells */

	/* The group first, while its leader is known to be there; then the
	 * leader itself through its pidfd, whatever the group did: to the
	 * stuck thread, where there is one. */
	pg = signal_group(w, svc, &own, svc->signal, &t);
	tfd = stuck_thread_pidfd(w, thread_note, sizeof(thread_note));
	r = target_signal(&own, tfd >= 0 ? tfd : w->pidfd, w->pid, w->start_time, svc->signal, why,
			  sizeof(why));
	if (tfd >= 0)
		close(tfd);
	if (leader_unsignalled(w, svc, r, &t, why))
		return;
	cont_after(w, svc, &own, r, pg);
	if (r == 0)
		watch_set_state(w, WATCH_KILLING);
	say_signalled(w, svc, e, &t, thread_note);
	if (r != 0)
		return;
	/* SIGKILL at once: what stays kill_grace after it is unkillable. */
	r = sd_event_add_time_relative(d->event, &w->escalate_source, CLOCK_MONOTONIC,
				       deadline_usec_ceil(d->settings.kill_grace_ns), 1,
				       svc->signal == SIGKILL ? on_unkillable : on_escalate, w);
	if (r < 0)
		log_error("cannot arm the SIGKILL timer for pid %d: %s", (int)w->pid, strerror(-r));
}

/* The reply to a unit job asked of systemd: USERDATA is "METHOD UNIT". */
static int on_unit_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	char *what = userdata;
	const sd_bus_error *err = sd_bus_message_get_error(m);

	if (err)
		say_bus_error(strchr(what, ' ') + 1, "systemd refused %s: %s", what, err->message);
	free(what);
	return 0;
}

/* Ask systemd for METHOD on UNIT (RestartUnit, or KillUnit of every
 * process with SIG), without waiting for the answer.  Returns 0 or -errno,
 * having logged why. */
static int unit_call(struct daemon *d, const char *method, const char *unit, int sig)
{
	char *what;
	int r;

	if (!d->bus) {
		r = sd_bus_open_system(&d->bus);
		if (r >= 0)
			r = sd_bus_attach_event(d->bus, d->event, 0);
		if (r < 0) {
			say_bus_error(unit,
				      "cannot connect to the system bus for %s of %s: %s (under "
				      "hbwatch.service, add the drop-in "
				      "hbwatch-restart-unit.conf.example)",
				      method, unit, strerror(-r));
			d->bus = sd_bus_flush_close_unref(d->bus);
			return r;
		}
	}
	if (asprintf(&what, "%s %s", method, unit) < 0)
		return -ENOMEM;
	if (sig)
		r = sd_bus_call_method_async(d->bus, NULL, "org.freedesktop.systemd1",
					     "/org/freedesktop/systemd1",
					     "org.freedesktop.systemd1.Manager", method,
					     on_unit_reply, what, "ssi", unit, "all", sig);
	else
		r = sd_bus_call_method_async(d->bus, NULL, "org.freedesktop.systemd1",
					     "/org/freedesktop/systemd1",
					     "org.freedesktop.systemd1.Manager", method,
					     on_unit_reply, what, "ss", unit, "replace");
	if (r < 0) {
		say_bus_error(unit, "cannot ask systemd for %s: %s", what, strerror(-r));
		free(what);
	}
	return r;
}

/* A unit-wide action reaches every process of UNIT, whatever its uid:
 * only on the word of one who could signal each of them (handover.c).
 * Otherwise a record naming the processes that stopped it.  Returns true
 * if UNIT may be handed to systemd. */
static bool handover_allowed(struct watch *w, const char *unit, const char *what)
{
	struct event e = {.kind = EVENT_NOT_HANDED_OVER, .who = w->subject};
	struct ownership_facts own;
	char why[1024];

	if (!registration_ownership(w, &own))
		snprintf(why, sizeof(why), "its record is gone");
	else if (handover_check(&own, w->pid, unit, why, sizeof(why)) == 0)
		return true;
	e.unit = unit;
	event_emit(&w->d->stats, &e,
		   "not asking systemd to %s %s for %s (pid %d): %s; acting on the process alone",
		   what, unit, w->name, (int)w->pid, why);
	return false;
}

static void action_restart_unit(struct watch *w, const struct service *svc, const char *unit)
{
	struct daemon *d = w->d;
	struct event e = {.kind = EVENT_RESTART_UNIT, .who = w->subject};

	e.unit = unit;
	e.task = w->missed_task[0] ? w->missed_task : NULL;
	retry_later(w, now_ns() + ACTION_RETRY_NS);
	if (!unit) {
		say_bus_error(NULL,
			      "cannot restart the unit of %s (pid %d): it runs in no systemd unit",
			      w->name, (int)w->pid);
		return;
	}
	if (!handover_allowed(w, unit, "restart")) {
		w->retry_at_ns = 0;
		action_kill(w, svc);
		return;
	}
	if (unit_call(d, "RestartUnit", unit, 0) < 0)
		return;
	watch_set_state(w, WATCH_KILLING);
	event_emit(&d->stats, &e, "asked systemd to restart %s for %s (pid %d)", unit, w->name,
		   (int)w->pid);
	stats_action(&d->stats, true, "restart of %s for %s (pid %d)", unit, w->name, (int)w->pid);
}

/* limit_action: the unit instance used up kill_burst and W hangs again, so
 * killing its processes one by one is not helping.  Hand the unit to
 * systemd, once per window: a kill of every process ends the unit in
 * failure (Restart=, StartLimitBurst=, OnFailure= and 'systemctl --failed'
 * take it from there), or a restart.  W is looked at again when the window
 * reopens, in case systemd could not help. */
static void limit_hand_over(struct watch *w, const struct service *svc, const char *unit,
			    struct rate *rate, uint64_t reopens)
{
	struct daemon *d = w->d;
	struct event e = {.kind = EVENT_HANDED_OVER, .who = w->subject};
	bool kill_all = svc->limit_action == LIMIT_KILL_UNIT;

	e.unit = unit;
	e.signal = kill_all ? svc->signal : 0;
	retry_later(w, reopens);
	if (!handover_allowed(w, unit, kill_all ? "kill every process of" : "restart")) {
		/* Once per window, like the hand-over: then the window's wait. */
		rate->handed_over = true;
		w->retry_at_ns = 0;
		action_kill(w, svc);
		return;
	}
	if (unit_call(d, kill_all ? "KillUnit" : "RestartUnit", unit, kill_all ? svc->signal : 0) <
	    0) {
		/* Try again in a while, within the window. */
		w->retry_at_ns = now_ns() + ACTION_RETRY_NS;
		view_touch(w);
		return;
	}
	rate->handed_over = true;
	if (kill_all)
		event_emit(&d->stats, &e,
			   "%s reached kill_burst=%u per kill_interval and %s (pid %d) hangs "
			   "again: limit_action = kill-unit, asked systemd to send %s to every "
			   "process of %s",
			   unit, svc->kill_burst, w->name, (int)w->pid, sig_name(svc->signal),
			   unit);
	else
		event_emit(&d->stats, &e,
			   "%s reached kill_burst=%u per kill_interval and %s (pid %d) hangs "
			   "again: limit_action = restart-unit, asked systemd to restart %s",
			   unit, svc->kill_burst, w->name, (int)w->pid, unit);
	stats_action(&d->stats, true, "%s handed to systemd for %s (pid %d)", unit, w->name,
		     (int)w->pid);
}

/* What is read of W's process at its missed deadline, before anything is
 * sent to it: what it does now, and the thread that beat it last. */
struct evidence {
	struct triage_facts tf;
	struct triage_fields tfl;
	struct thread_facts th;
	char words[256], th_buf[5][320], th_words[192];
	const char *extra[TRIAGE_FIELDS_MAX + 6]; /* the journal fields of both */
};

static void evidence_take(struct watch *w, struct evidence *ev)
{
	size_t n_extra = 0;

	ev->th_words[0] = '\0';
	triage_take(w, TRIAGE_BUDGET_NS, &ev->tf, &ev->tfl, ev->words, sizeof(ev->words));
	stuck_thread_take(w, &ev->th, ev->th_words, sizeof(ev->th_words));
	while (n_extra < TRIAGE_FIELDS_MAX && ev->tfl.v[n_extra]) {
		ev->extra[n_extra] = ev->tfl.v[n_extra];
		n_extra++;
	}
	n_extra += thread_fields(&ev->th, ev->th_buf, ev->extra + n_extra, 5);
	ev->extra[n_extra] = NULL;
}

/* The journal record of W's missed deadline (event E, its timeout and
 * lateness among its fields), with EV. */
static void say_missed(struct watch *w, const struct service *svc, struct event e,
		       const struct evidence *ev)
{
	struct daemon *d = w->d;
	const char *words = ev->words, *th_words = ev->th_words;

	/* A unit restart meets the same uninterruptible wait: systemd's
	 * SIGKILL cannot end it either. */
	const char *d_note = svc->action == ACTION_RESTART_UNIT && triage_has_d(&ev->tf)
				 ? "; restarting its unit, systemd will meet the same D state"
				 : "";
	if (e.task) {
		event_emit(&d->stats, &e,
			   "%s (pid %d, {record}) missed the heartbeat deadline of its task %s: "
			   "timeout {timeout}, {late} late; %s%s%s",
			   w->name, (int)w->pid, e.task, th_words, words, d_note);
	} else
		event_emit(
		    &d->stats, &e,
		    "%s (pid %d, {record}) missed its heartbeat deadline: timeout {timeout}, "
		    "{late} late; %s%s%s",
		    w->name, (int)w->pid, th_words, words, d_note);
}

/* W's process failed the checks made again before a signal (verdict V,
 * WHY): not acted on, said so. */
static void refuse_unverified(struct watch *w, enum identity_verdict v, const char *why)
{
	struct daemon *d = w->d;
	struct event f = {.kind = v == IDENTITY_UNTRUSTED ? EVENT_UNTRUSTED : EVENT_REFUSED,
			  .who = w->subject};

	f.who.verified = false;
	event_emit(&d->stats, &f, "not acting on {record} (%s, pid %d): %s", w->name, (int)w->pid,
		   why);
	/* Stale or transient: the exit event or the next beat decides. */
	watch_set_state(w,
			v == IDENTITY_STALE || v == IDENTITY_RETRY ? WATCH_LOGGED : WATCH_REFUSED);
}

/* kill_burst per kill_interval used up for UNIT: W is handed to systemd
 * (limit_action) or looked at again when the window reopens, said as
 * event E is.  False if the action may go ahead. */
static bool rate_holds_back(struct watch *w, const struct service *svc, const char *unit,
			    struct event e)
{
	struct daemon *d = w->d;
	struct rate *rate = NULL;
	uint64_t now = now_ns(), reopens = 0;
	struct event f = e;

	if (svc->action == ACTION_LOG || rate_allow(d, svc, unit, now, &rate, &reopens))
		return false;
	if (svc->limit_action != LIMIT_WAIT && unit && rate && !rate->handed_over) {
		limit_hand_over(w, svc, unit, rate, reopens);
		return true;
	}
	f.kind = EVENT_RATE_LIMITED;
	event_emit(&d->stats, &f,
		   "not acting on %s (pid %d) yet: %s reached kill_burst=%u per "
		   "kill_interval; looking again in %llu ms",
		   w->name, (int)w->pid, unit ? unit : svc->name, svc->kill_burst,
		   (unsigned long long)((reopens - now) / 1000000u));
	retry_later(w, reopens);
	return true;
}

/* Take SVC's action on W: a signal, its unit's restart, or only the log. */
static void act_on(struct watch *w, const struct service *svc, const char *unit)
{
	struct daemon *d = w->d;

	switch (svc->action) {
	case ACTION_KILL:
		action_kill(w, svc);
		break;
	case ACTION_RESTART_UNIT:
		action_restart_unit(w, svc, unit);
		break;
	case ACTION_LOG:
		/* Said once per missed beat: looked at again when it beats. */
		watch_set_state(w, WATCH_LOGGED);
		stats_action(&d->stats, false, "logged missed deadline of %s (pid %d)", w->name,
			     (int)w->pid);
		break;
	}
}

/* Note on W the deadline M it missed: what the verdict, the actions and
 * hbctl's view say it was. */
static void miss_note(struct watch *w, const struct deadline_miss *m)
{
	w->handled_beat = m->beat_ns;
	w->handled_heartbeat = m->heartbeat;
	snprintf(w->missed_task, sizeof(w->missed_task), "%s", m->task ? m->task : "");
	w->missed_tid = m->tid;
}

/* When W is due again after missed deadline M: thawed or let go by its
 * tracer, a whole timeout from then; else UINT64_MAX, its state and
 * retry time say when it is looked at again. */
static uint64_t due_after(const struct watch *w, const struct deadline_miss *m)
{
	return w->state == WATCH_ACTIVE ? hold_deadline(w, m->seen_ns, m->timeout_ns) : UINT64_MAX;
}

uint64_t kill_deadline_missed(struct watch *w, const struct service *svc,
			      const struct deadline_miss *m)
{
	struct event e = {.kind = EVENT_DEADLINE_MISSED, .who = w->subject};
	struct evidence ev;
	char why[512];
	enum identity_verdict v;
	char *unit = NULL;

	miss_note(w, m);
	/* First, before anything is sent to it: what it does now. */
	evidence_take(w, &ev);
	e.extra = ev.extra;
	e.timeout_ns = m->timeout_ns;
	e.late_ns = m->late_ns ? m->late_ns : 1;
	e.task = w->missed_task[0] ? w->missed_task : NULL;
	/* A deadline that only leads to a log line may be held back by the
	 * rate limit; one that leads to a kill is always told, once: the same
	 * deadline again at an action's retry (no bus) is a repeat. */
	if (svc->action == ACTION_LOG || (w->retried_beat && w->retried_beat == w->handled_beat))
		e.kind = EVENT_DEADLINE_MISSED_LIMITED;
	/* Late is not hung: starved, frozen or debugged, it is held back
	 * (and said so) instead. */
	if (hold_at_deadline(w, svc, m->timeout_ns, m->late_ns, ev.words, ev.tfl.v))
		return due_after(w, m);
	say_missed(w, svc, e, &ev);
	v = target_verify(w, &unit, why, sizeof(why));
	if (v != IDENTITY_OK) {
		refuse_unverified(w, v, why);
	} else if (!rate_holds_back(w, svc, unit, e)) {
		w->retry_at_ns = 0;
		view_touch(w);
		act_on(w, svc, unit);
	}
	free(unit);
	return due_after(w, m);
}
