/* The native registrations: heartbeat records found by intake.c, verified,
 * pinned to their process by a pidfd, and their deadlines. */
#ifndef HBWATCH_WATCH_H
#define HBWATCH_WATCH_H

#include "daemon.h"

/* Scan every native registration: re-read each record, drop the closed,
 * act on missed deadlines.  Returns the CLOCK_MONOTONIC time of the next
 * deadline (or of the next periodic scan, whichever is first). */
uint64_t watch_scan(struct daemon *d);

/* Re-evaluate every registration against the settings now in force (after
 * a reload); processes already being killed keep their escalation. */
void watch_reevaluate(struct daemon *d);

/* Stop watching every native registration and free them. */
void watch_finish(struct daemon *d);

/* Consider record SHMID (announced, or found by a census): verify it and
 * watch it, or turn it down.  DS is what IPC_STAT says of it, or NULL.
 * Returns the new watch, or NULL if none was made (known, turned down,
 * refused, or gone). */
struct watch *watch_consider(struct daemon *d, int shmid, const struct shmid_ds *ds);

/* Check W's deadlines (acting on a missed one) and return the earliest
 * still ahead, or UINT64_MAX if it has none. */
uint64_t watch_check(struct daemon *d, struct watch *w, uint64_t now);

#endif
