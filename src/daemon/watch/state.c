/* A watch's state and what is said about it: the one place that moves a
 * watch from state to state (and keeps the count of active ones), and
 * keeps who its journal events are about (its subject) current.  Shared
 * by the native and the classic paths and by the actions, and calls none
 * of them. */
#include <unistd.h>

#include "daemon.h"
#include "state.h"
#include "view.h"

void watch_subject_update(struct watch *w)
{
	w->subject = (struct event_subject){.name = w->name,
					    .slot = w->legacy ? (int)w->slot : -1,
					    .shmid = w->legacy ? -1 : w->shmid,
					    .pid = w->pid,
					    .legacy = w->legacy,
					    .verified = w->state != WATCH_FREE};
}

static bool counts_active(enum watch_state s)
{
	return s == WATCH_ACTIVE || s == WATCH_KILLING || s == WATCH_LOGGED;
}

void watch_set_state(struct watch *w, enum watch_state s)
{
	if (counts_active(w->state) && !counts_active(s)) {
		w->d->ws.n_active--;
		if (w->shared)
			share_add(&w->d->ws.shares, w->share_uid, -1);
	} else if (!counts_active(w->state) && counts_active(s)) {
		w->d->ws.n_active++;
		if (w->shared)
			share_add(&w->d->ws.shares, w->share_uid, 1);
	}
	if (!w->legacy && (w->state == WATCH_REFUSED) != (s == WATCH_REFUSED))
		w->d->ws.n_refused += s == WATCH_REFUSED ? 1u : (unsigned)-1;
	w->state = s;
	w->subject.verified = s != WATCH_FREE;
	w->d->stats.dirty = true;
	view_touch(w);
}

void watch_set_share(struct watch *w, bool shared, uid_t uid)
{
	if (w->shared == shared && (!shared || w->share_uid == uid))
		return;
	if (counts_active(w->state) && w->shared)
		share_add(&w->d->ws.shares, w->share_uid, -1);
	w->shared = shared;
	w->share_uid = uid;
	if (counts_active(w->state) && shared)
		share_add(&w->d->ws.shares, uid, 1);
}

void watch_release(struct watch *w)
{
	w->exit_source = sd_event_source_disable_unref(w->exit_source);
	w->escalate_source = sd_event_source_disable_unref(w->escalate_source);
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
	target_group_release(&w->group);
	watch_set_state(w, WATCH_FREE);
	w->warned_future = false;
	w->warned_timeout = false;
	w->triage = (struct triage_mark){0};
	w->hold = HOLD_NONE;
	w->deferred = false;
	w->rearm_ns = 0;
	w->vmark = (struct verdict_mark){0};
}
