/* Finding registrations: the registry's ring of hints and the census. */
#ifndef HBWATCH_INTAKE_H
#define HBWATCH_INTAKE_H

#include <systemd/sd-event.h>

#include "daemon.h"

/* The priority of bulk work on the loop (new registrations, exits): after
 * any deadline timer due at the same turn, so that a stampede or a mass
 * exit never makes a kill late by more than one slice of it. */
#define INTAKE_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)

/* Read the registry's ring and take up the records it names, then walk on
 * with a census under way, for at most a slice of work in all (the rest on
 * the doorbell's next event, or the timer's).  Returns the earliest
 * deadline taken up, or when to come back for the rest, or UINT64_MAX. */
uint64_t intake_ring(struct daemon *d, uint64_t now);

/* Read the registry's ring and, when due and no deadline is near (the
 * earliest is DEADLINE), take a census of the host's records.  Returns
 * when to come back. */
uint64_t intake_run(struct daemon *d, uint64_t now, uint64_t deadline);

/* Free what the intake holds (the census's backlog). */
void intake_free(struct intake *in);

#endif
