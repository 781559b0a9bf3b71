/* Acting on a missed deadline: prove the slot's process is a legitimate
 * target, then signal it through its pidfd (never by pid), escalate to
 * SIGKILL after kill_grace on a timer of its own, or ask systemd to restart
 * its unit, or only log. */
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <systemd/sd-login.h>

#include "daemon.h"
#include "deadline.h"
#include "duration.h"
#include "log.h"
#include "proc.h"

static const char *sig_name(int sig)
{
	const char *n = signal_name(sig);

	return n ? n : "signal";
}

static void fmt_ms(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%llu.%03llu ms", (unsigned long long)(ns / 1000000u),
		 (unsigned long long)(ns / 1000u % 1000u));
}

/* Count one kill of SVC; false if that would exceed its kill_burst per
 * kill_interval. */
static bool rate_allow(struct daemon *d, const struct service *svc, uint64_t now)
{
	struct rate *r = NULL;

	for (size_t i = 0; i < d->n_rates; i++)
		if (strcmp(d->rates[i].name, svc->name) == 0)
			r = &d->rates[i];
	if (!r) {
		struct rate *n = realloc(d->rates, (d->n_rates + 1) * sizeof(*n));
		if (!n)
			return true; /* out of memory: fail open, the kill is the safe side */
		d->rates = n;
		r = &d->rates[d->n_rates++];
		*r = (struct rate){.window_start_ns = now};
		snprintf(r->name, sizeof(r->name), "%s", svc->name);
	}
	if (now - r->window_start_ns >= svc->kill_interval_ns) {
		r->window_start_ns = now;
		r->count = 0;
	}
	if (r->count >= svc->kill_burst)
		return false;
	r->count++;
	return true;
}

/* The checks that must all hold before anything is sent to W's process.
 * On failure, WHY says which one failed.  UNIT receives the process's unit
 * (caller frees) when it has one. */
static int target_verify(struct watch *w, const struct service *svc, char **unit, char *why,
			 size_t why_len)
{
	uint64_t start_time;
	int r;

	*unit = NULL;
	if (w->pid <= 1 || w->pid == w->d->self) {
		snprintf(why, why_len, "pid %d is never signalled", (int)w->pid);
		return -EPERM;
	}
	r = sd_pid_get_unit(w->pid, unit);
	if (r < 0 && svc->unit) {
		snprintf(why, why_len, "it runs in no systemd unit (%s), but [%s] requires unit %s",
			 strerror(-r), svc->name, svc->unit);
		return -EPERM;
	}
	if (svc->unit && fnmatch(svc->unit, *unit, 0) != 0) {
		snprintf(why, why_len, "it runs in %s, but [%s] requires unit %s", *unit, svc->name,
			 svc->unit);
		return -EPERM;
	}
	if (svc->has_user) {
		uid_t uid;
		r = proc_uid(w->pid, &uid);
		if (r < 0 || uid != svc->uid) {
			if (r < 0)
				snprintf(why, why_len, "cannot read its user: %s", strerror(-r));
			else
				snprintf(why, why_len,
					 "it runs as uid %u, but [%s] requires user %s",
					 (unsigned)uid, svc->name, svc->user);
			return -EPERM;
		}
	}
	/* Last: the unit and uid above were read by pid.  If the start time
	 * still matches, they were read from the process the pidfd holds. */
	r = proc_starttime(w->pid, &start_time);
	if (r < 0 || start_time != w->start_time) {
		snprintf(why, why_len, "its pid now belongs to another process");
		return -ESRCH;
	}
	return 0;
}

static int on_escalate(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct watch *w = userdata;
	struct event e = {.kind = EVENT_ESCALATED,
			  .name = w->name,
			  .slot = (int)w->slot,
			  .pid = w->pid,
			  .signal = SIGKILL,
			  .legacy = w->legacy};

	w->escalate_source = sd_event_source_disable_unref(w->escalate_source);
	if (pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0) < 0) {
		if (errno != ESRCH)
			log_error("cannot send SIGKILL to %s (pid %d): %s", w->name, (int)w->pid,
				  strerror(errno));
		return 0; /* ESRCH: it is exiting; the pidfd event follows */
	}
	log_event(LOG_WARNING, &e, "%s (pid %d) still there after kill_grace: sent SIGKILL",
		  w->name, (int)w->pid);
	daemon_count(w->d, w->name, EVENT_ESCALATED);
	daemon_set_last_action(w->d, "SIGKILL to %s (pid %d)", w->name, (int)w->pid);
	return 0;
}

static void action_kill(struct watch *w, const struct service *svc)
{
	struct daemon *d = w->d;
	struct event e = {.kind = EVENT_SIGNAL_SENT,
			  .name = w->name,
			  .slot = (int)w->slot,
			  .pid = w->pid,
			  .signal = svc->signal,
			  .legacy = w->legacy};
	int r;

	if (pidfd_send_signal(w->pidfd, svc->signal, NULL, 0) < 0) {
		if (errno == ESRCH)
			return; /* already exiting: on_exit frees the slot */
		log_error("cannot send %s to %s (pid %d): %s", sig_name(svc->signal), w->name,
			  (int)w->pid, strerror(errno));
		w->state = WATCH_LOGGED;
		return;
	}
	w->state = WATCH_KILLING;
	d->n_killed++;
	daemon_count(d, w->name, EVENT_SIGNAL_SENT);
	log_event(LOG_WARNING, &e, "sent %s to %s (pid %d)", sig_name(svc->signal), w->name,
		  (int)w->pid);
	daemon_set_last_action(d, "%s to %s (pid %d)", sig_name(svc->signal), w->name, (int)w->pid);
	if (svc->signal == SIGKILL)
		return;
	r = sd_event_add_time_relative(d->event, &w->escalate_source, CLOCK_MONOTONIC,
				       deadline_usec_ceil(d->settings.kill_grace_ns), 1,
				       on_escalate, w);
	if (r < 0)
		log_error("cannot arm the SIGKILL timer for pid %d: %s", (int)w->pid, strerror(-r));
}

static int on_restart_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	char *unit = userdata;
	const sd_bus_error *err = sd_bus_message_get_error(m);

	if (err)
		log_error("systemd refused to restart %s: %s", unit, err->message);
	free(unit);
	return 0;
}

static void action_restart_unit(struct watch *w, const char *unit)
{
	struct daemon *d = w->d;
	struct event e = {.kind = EVENT_RESTART_UNIT,
			  .name = w->name,
			  .slot = (int)w->slot,
			  .pid = w->pid,
			  .unit = unit,
			  .legacy = w->legacy};
	char *copy;
	int r;

	w->state = WATCH_LOGGED;
	if (!unit) {
		log_error("cannot restart the unit of %s (pid %d): it runs in no systemd unit",
			  w->name, (int)w->pid);
		return;
	}
	if (!d->bus) {
		r = sd_bus_open_system(&d->bus);
		if (r >= 0)
			r = sd_bus_attach_event(d->bus, d->event, 0);
		if (r < 0) {
			log_error("cannot connect to the system bus to restart %s: %s", unit,
				  strerror(-r));
			d->bus = sd_bus_flush_close_unref(d->bus);
			return;
		}
	}
	copy = strdup(unit);
	if (!copy)
		return;
	r = sd_bus_call_method_async(d->bus, NULL, "org.freedesktop.systemd1",
				     "/org/freedesktop/systemd1",
				     "org.freedesktop.systemd1.Manager", "RestartUnit",
				     on_restart_reply, copy, "ss", unit, "replace");
	if (r < 0) {
		log_error("cannot ask systemd to restart %s: %s", unit, strerror(-r));
		free(copy);
		return;
	}
	w->state = WATCH_KILLING;
	d->n_killed++;
	daemon_count(d, w->name, EVENT_RESTART_UNIT);
	log_event(LOG_WARNING, &e, "asked systemd to restart %s for %s (pid %d)", unit, w->name,
		  (int)w->pid);
	daemon_set_last_action(d, "restart of %s for %s (pid %d)", unit, w->name, (int)w->pid);
}

void kill_deadline_missed(struct watch *w, const struct service *svc, uint64_t timeout_ns,
			  uint64_t late_ns)
{
	struct daemon *d = w->d;
	struct event e = {.kind = EVENT_DEADLINE_MISSED,
			  .name = w->name,
			  .slot = (int)w->slot,
			  .pid = w->pid,
			  .timeout_ns = timeout_ns,
			  .late_ns = late_ns ? late_ns : 1,
			  .legacy = w->legacy};
	char late[32], tmo[DURATION_FORMAT_MAX], why[256];
	char *unit = NULL;

	fmt_ms(late, sizeof(late), late_ns);
	duration_format(timeout_ns, tmo, sizeof(tmo));
	log_event(LOG_WARNING, &e,
		  "%s (pid %d, %s %u) missed its heartbeat deadline: timeout %s, %s late", w->name,
		  (int)w->pid, watch_what(w), w->slot, tmo, late);
	daemon_count(d, w->name, EVENT_DEADLINE_MISSED);

	if (target_verify(w, svc, &unit, why, sizeof(why)) < 0) {
		struct event f = e;
		f.kind = EVENT_REFUSED;
		f.late_ns = 0;
		log_event(LOG_WARNING, &f,
			  "not acting on %s %u (%s, pid %d): %s; possible forged entry",
			  watch_what(w), w->slot, w->name, (int)w->pid, why);
		daemon_count(d, w->name, EVENT_REFUSED);
		w->state = WATCH_REFUSED;
		d->n_active--;
		free(unit);
		return;
	}
	if (svc->action != ACTION_LOG && !rate_allow(d, svc, now_ns())) {
		struct event f = e;
		f.kind = EVENT_RATE_LIMITED;
		log_event(LOG_WARNING, &f,
			  "not acting on %s (pid %d): [%s] reached kill_burst=%u per kill_interval",
			  w->name, (int)w->pid, svc->name, svc->kill_burst);
		daemon_count(d, w->name, EVENT_RATE_LIMITED);
		w->state = WATCH_LOGGED;
		free(unit);
		return;
	}
	switch (svc->action) {
	case ACTION_KILL:
		action_kill(w, svc);
		break;
	case ACTION_RESTART_UNIT:
		action_restart_unit(w, unit);
		break;
	case ACTION_LOG:
		w->state = WATCH_LOGGED;
		daemon_set_last_action(d, "logged missed deadline of %s (pid %d)", w->name,
				       (int)w->pid);
		break;
	}
	free(unit);
}
