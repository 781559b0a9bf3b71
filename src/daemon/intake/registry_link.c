#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "intake_state.h"
#include "log.h"
#include "registry_link.h"
#include "view.h"

/* Once a second: is the registry still there?  Only root (or our uid) can
 * remove it, but then clients could no longer announce: say so and make a
 * new one.  Watching goes on meanwhile, records do not need it. */
#define REGISTRY_CHECK_NS (1000u * 1000000ull)

int registry_link_setup(struct daemon *d)
{
	struct settings *s = &d->settings;
	char why[768] = "";
	bool adopted;
	int r;

	r = registry_create(s->key, s->slots, s->has_gid ? s->gid : (gid_t)-1, &d->reg.r, &adopted,
			    why, sizeof(why));
	if (r < 0) {
		if (r != d->reg.last_errno) {
			struct event e = {.kind = EVENT_REGISTRY_FAILED, .who.slot = -1};
			event_emit(&d->stats, &e, "cannot set up the registry at key 0x%x: %s",
				   s->key, why[0] ? why : strerror(-r));
		}
		d->reg.last_errno = r;
		registry_detach(&d->reg.r);
		return r;
	}
	d->reg.last_errno = 0;
	view_announce(d);
	intake_restart(d);
	if (d->event) {
		r = doorbell_start(&d->doorbell, &d->reg.r, d->event, d->reg.on_doorbell, d);
		if (r < 0)
			log_error("cannot listen on the registry's doorbell: %s (new records are "
				  "found by the census, within seconds)",
				  strerror(-r));
	}
	struct event e = {.kind = EVENT_STARTED, .who.slot = -1};
	event_emit(&d->stats, &e,
		   "%s the registry at key 0x%x; watching up to %u processes of %zu "
		   "services",
		   adopted ? "adopted" : "created", s->key, s->slots, s->n_services);
	return 0;
}

void registry_link_check(struct daemon *d, uint64_t now)
{
	struct event e = {.kind = EVENT_REGISTRY_REMOVED, .who.slot = -1};
	int r;

	if (now - d->reg.checked_ns < REGISTRY_CHECK_NS)
		return;
	d->reg.checked_ns = now;
	if (d->reg.r.hdr) {
		r = registry_check(&d->reg.r);
		if (r != -EIDRM) {
			/* Its group may write all of it: the header included. */
			if (r == 0 && registry_repair(&d->reg.r)) {
				e.kind = EVENT_REGISTRY_REPAIRED;
				event_emit(
				    &d->stats, &e,
				    "the registry's header at key 0x%x was rewritten (by a member "
				    "of its group); put back",
				    d->settings.key);
			}
			return;
		}
		event_emit(&d->stats, &e,
			   "the registry at key 0x%x was removed from under hbwatch; making a new "
			   "one (watched processes stay watched)",
			   d->settings.key);
		doorbell_stop(&d->doorbell);
		registry_detach(&d->reg.r);
	}
	r = registry_link_setup(d);
	if (r < 0)
		return;
	e.kind = EVENT_REGISTRY_REMADE;
	event_emit(&d->stats, &e, "made a new registry at key 0x%x", d->settings.key);
}

uint64_t registry_link_next(const struct daemon *d, uint64_t now, uint64_t next)
{
	if (!d->reg.r.hdr && now + REGISTRY_CHECK_NS < next)
		return now + REGISTRY_CHECK_NS;
	return next;
}

void registry_link_finish(struct daemon *d)
{
	if (d->reg.r.hdr) {
		/* The registry stays for the next start (no registration is
		 * lost), but clients learn at once that nobody watches: they
		 * take a registry that names no live hbwatch as "not running". */
		int32_t self = (int32_t)getpid();
		atomic_compare_exchange_strong(&d->reg.r.hdr->owner_pid, &self, 0);
	}
	registry_detach(&d->reg.r);
}
