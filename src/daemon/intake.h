/* Finding registrations: the registry's ring of hints and the census. */
#ifndef HBWATCH_INTAKE_H
#define HBWATCH_INTAKE_H

#include "daemon.h"

/* Read the registry's ring and, when due, take a census of the host's
 * records.  Returns when the next census is due. */
uint64_t intake_run(struct daemon *d, uint64_t now);

#endif
