/* Finding registrations: the registry's ring of hints and the census. */
#ifndef HBWATCH_INTAKE_H
#define HBWATCH_INTAKE_H

#include "daemon.h"

/* Read the registry's ring: take up the records it names (at most a
 * pass's budget).  Returns the earliest deadline taken up, or when to come
 * back for the rest of the ring, or UINT64_MAX. */
uint64_t intake_ring(struct daemon *d, uint64_t now);

/* Read the registry's ring and, when due and no deadline is near (the
 * earliest is DEADLINE), take a census of the host's records.  Returns
 * when to come back. */
uint64_t intake_run(struct daemon *d, uint64_t now, uint64_t deadline);

#endif
