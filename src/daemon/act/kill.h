/* Acting on a missed deadline: verify the target again, then signal it,
 * restart its unit, or only log. */
#ifndef HBWATCH_KILL_H
#define HBWATCH_KILL_H

#include "daemon.h"

/* W missed the deadline M says: check W is a legitimate target and apply
 * the service's action, unless the verdict holds it back (hold.h).
 * Returns when W is due next: UINT64_MAX unless it is still active
 * (thawed, or let go by its tracer: a whole timeout on). */
uint64_t kill_deadline_missed(struct watch *w, const struct service *svc,
			      const struct deadline_miss *m);

#endif
