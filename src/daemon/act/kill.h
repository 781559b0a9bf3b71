/* Acting on a missed deadline: verify the target again, then signal it,
 * restart its unit, or only log. */
#ifndef HBWATCH_KILL_H
#define HBWATCH_KILL_H

#include "daemon.h"

/* Deadline of W missed by LATE_NS: check W is a legitimate target and apply
 * the service's action. */
void kill_deadline_missed(struct watch *w, const struct service *svc, uint64_t timeout_ns,
			  uint64_t late_ns);

#endif
