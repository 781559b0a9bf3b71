#include <string.h>

#include "deadline.h"
#include "view.h"

int view_setup(struct daemon *d)
{
	int r = status_create(d->settings.slots, &d->view);

	if (r < 0)
		log_warning("cannot make the status segment for hbctl: %s (hbctl status shows "
			    "records without hbwatch's verdicts)",
			    strerror(-r));
	d->view_dirty = true;
	return r;
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
		return HB_STATUS_ACTED;
	case WATCH_LOGGED:
		return w->retry_at_ns ? HB_STATUS_RATE_LIMITED : HB_STATUS_LOGGED;
	case WATCH_REFUSED:
	case WATCH_FREE:
		break;
	}
	return HB_STATUS_REFUSED;
}

void view_update(struct daemon *d, uint64_t now)
{
	uint32_t n = 0;

	if (!d->view.hdr || !d->view_dirty)
		return;
	status_write_begin(&d->view);
	for (size_t i = 0; i < d->ws.n && n < d->view.capacity; i++) {
		const struct watch *w = d->ws.v[i];
		const struct service *svc = settings_find(&d->settings, w->v.name);
		struct hb_status_entry *e = &d->view.e[n++];

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
		e->missed_task = w->handled_which == WATCH_BEAT_PROCESS || e->state == HB_STATUS_OK
				     ? -1
				     : (int32_t)(w->handled_which >> 32);
		e->missed_gen = (uint32_t)w->handled_which;
	}
	status_write_end(&d->view, n, now);
	d->view_dirty = false;
}

void view_finish(struct daemon *d)
{
	if (d->reg.r.hdr && d->view.hdr &&
	    atomic_load(&d->reg.r.hdr->status_shmid) == d->view.shmid)
		atomic_store(&d->reg.r.hdr->status_shmid, 0);
	status_destroy(&d->view);
}
