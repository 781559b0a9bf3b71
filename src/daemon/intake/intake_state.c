/* What intake knows between passes, and the only code that writes it
 * (struct intake in daemon.h): where the ring is read to, whether a
 * census is due, the records turned down, what was said once. */
#include <stdatomic.h>

#include "intake_state.h"

void intake_restart(struct daemon *d)
{
	/* Hints older than us are covered by the census that follows. */
	d->intake.head = atomic_load(&d->reg.r.hdr->tail);
	d->intake.pending_since = 0;
	d->intake.census_soon = true;
	d->intake.census_last_ns = 0;
}

void intake_census_soon(struct daemon *d)
{
	d->intake.census_soon = true;
}

void intake_turn_down(struct daemon *d, int shmid, uint64_t ctime)
{
	idmap_put(&d->intake.turned_down, shmid, ctime);
}

bool intake_is_turned_down(const struct daemon *d, int shmid, uint64_t ctime)
{
	uint64_t was;

	return idmap_get(&d->intake.turned_down, shmid, &was) && was == ctime;
}

void intake_reconsider(struct daemon *d)
{
	idmap_free(&d->intake.turned_down);
	d->intake.census_soon = true;
}

bool intake_say_full(struct daemon *d)
{
	if (d->intake.full_warned)
		return false;
	d->intake.full_warned = true;
	return true;
}

bool intake_say_unreadable(struct daemon *d)
{
	if (d->intake.unreadable_warned)
		return false;
	d->intake.unreadable_warned = true;
	return true;
}

void intake_finish(struct daemon *d)
{
	idmap_free(&d->intake.turned_down);
}
