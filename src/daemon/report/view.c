#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>

#include "deadline.h"
#include "view.h"

int view_setup(struct daemon *d)
{
	struct shmid_ds ds;
	gid_t gid = d->settings.has_gid ? d->settings.gid : (gid_t)-1;

	/* The registry's group: those who may announce may read verdicts. */
	if (d->reg.r.hdr && shmctl(d->reg.r.shmid, IPC_STAT, &ds) == 0)
		gid = ds.shm_perm.gid;
	/* Room for the refused too (a budget of slots= of their own, and a
	 * few being judged): hbctl shows why each is not watched. */
	int r = status_create(2u * d->settings.slots + 64u, gid, &d->view);

	if (r < 0)
		log_warning("cannot make the status segment for hbctl: %s (hbctl status shows "
			    "records without hbwatch's verdicts)",
			    strerror(-r));
	d->view_dirty = d->view_all = true;
	return r;
}

void view_touch(struct watch *w)
{
	struct daemon *d = w->d;

	/* Native registrations only, and only while there is a view (not
	 * after view_finish(), when the watches are being torn down). */
	if (w->legacy || !d->view.hdr)
		return;
	d->view_dirty = true;
	if (w->view_listed || d->view_all)
		return;
	if (d->view_n_stale == d->view_cap_stale) {
		size_t ncap = d->view_cap_stale ? 2 * d->view_cap_stale : 256;
		uint32_t *n = realloc(d->view_stale, ncap * sizeof(*n));
		if (!n) {
			d->view_all = true; /* rewritten whole instead */
			return;
		}
		d->view_stale = n;
		d->view_cap_stale = ncap;
	}
	d->view_stale[d->view_n_stale++] = w->slot;
	w->view_listed = true;
}

void view_announce(struct daemon *d)
{
	if (d->reg.r.hdr && d->view.hdr)
		atomic_store(&d->reg.r.hdr->status_shmid, d->view.shmid);
}

static uint32_t state_of(const struct watch *w)
{
	switch (w->state) {
	case WATCH_ACTIVE:
		return HB_STATUS_OK;
	case WATCH_KILLING:
		if (w->hold == HOLD_DUMPING)
			return HB_STATUS_DUMPING;
		return w->triage.unkillable ? HB_STATUS_UNKILLABLE : HB_STATUS_ACTED;
	case WATCH_LOGGED:
		if (w->hold == HOLD_STARVED)
			return HB_STATUS_DEFERRED;
		if (w->hold == HOLD_FROZEN)
			return HB_STATUS_FROZEN;
		if (w->hold == HOLD_DEBUGGED)
			return HB_STATUS_DEBUGGED;
		return w->retry_at_ns ? HB_STATUS_RATE_LIMITED : HB_STATUS_LOGGED;
	case WATCH_REFUSED:
	case WATCH_FREE:
		break;
	}
	return HB_STATUS_REFUSED;
}

static void entry_write(struct daemon *d, uint32_t i)
{
	struct watch *w = d->ws.v[i];
	const struct service *svc = settings_find(&d->settings, w->v.name);
	struct hb_status_entry *e = &d->view.e[i];

	w->view_listed = false;
	e->shmid = w->shmid;
	e->pid = w->pid;
	e->state = state_of(w);
	e->seq = w->seq;
	e->timeout_ns = svc && e->state != HB_STATUS_REFUSED
			    ? deadline_timeout(w->v.timeout_ns, svc->timeout_ns)
			    : 0;
	e->since_ns = w->retry_at_ns;
	memcpy(e->reason, w->why, sizeof(e->reason));
	e->cap_ns = svc ? svc->timeout_ns : 0;
	e->extend_max_ns = svc ? svc->extend_max_ns : HB_EXTEND_AUTO;
	e->missed_task = w->handled_heartbeat == WATCH_BEAT_PROCESS || e->state == HB_STATUS_OK
			     ? -1
			     : (int32_t)(w->handled_heartbeat >> 32);
	e->missed_gen = (uint32_t)w->handled_heartbeat;
	e->triage = w->triage.last;
}

/* Entry I is watch I of d->ws.v.  Only the entries of watches that
 * changed are written (a registration costs one entry, not a rewrite of
 * thousands); all of them after a reload or a failed allocation. */
void view_update(struct daemon *d, uint64_t now)
{
	uint32_t n = d->ws.n < d->view.capacity ? (uint32_t)d->ws.n : d->view.capacity;

	if (!d->view.hdr || !d->view_dirty)
		return;
	status_write_begin(&d->view);
	if (d->view_all) {
		for (uint32_t i = 0; i < n; i++)
			entry_write(d, i);
		for (size_t i = n; i < d->ws.n; i++)
			d->ws.v[i]->view_listed = false;
	} else {
		for (size_t k = 0; k < d->view_n_stale; k++) {
			uint32_t i = d->view_stale[k];
			if (i < n)
				entry_write(d, i);
			else if (i < d->ws.n)
				d->ws.v[i]->view_listed = false;
		}
	}
	status_write_end(&d->view, n, now);
	d->view_n_stale = 0;
	d->view_dirty = d->view_all = false;
}

void view_finish(struct daemon *d)
{
	if (d->reg.r.hdr && d->view.hdr &&
	    atomic_load(&d->reg.r.hdr->status_shmid) == d->view.shmid)
		atomic_store(&d->reg.r.hdr->status_shmid, 0);
	status_destroy(&d->view);
	free(d->view_stale);
	d->view_stale = NULL;
	d->view_n_stale = d->view_cap_stale = 0;
}
