/* The registry at the key, as the daemon keeps it: made (or adopted) at
 * start, looked at once a second, made again if it was removed, and left
 * for the next start with no owner named. */
#ifndef HBWATCH_REGISTRY_LINK_H
#define HBWATCH_REGISTRY_LINK_H

#include "daemon.h"

/* Make (or adopt our own) registry at the key, and listen on its doorbell
 * (D->reg.on_doorbell) once the loop is there.  At start a failure is
 * fatal; later (re-creation) it is said once per cause.  Returns 0 or
 * -errno. */
int registry_link_setup(struct daemon *d);

/* Once a second: is the registry still there, its header as we made it?
 * Put the header back, or make a new registry, and say so. */
void registry_link_check(struct daemon *d, uint64_t now);

/* When to look again if there is no registry at the moment: NEXT, or
 * sooner. */
uint64_t registry_link_next(const struct daemon *d, uint64_t now, uint64_t next);

/* Detach, telling clients that nobody watches; the registry stays. */
void registry_link_finish(struct daemon *d);

#endif
