/* The host's System V shared memory running out: every registration makes
 * a segment, so once kernel.shmmni segments or kernel.shmall pages are in
 * use, new ones fail with ENOSPC, and segments kept by anyone outlive
 * their maker.  hbwatch says so before, naming who holds the most. */
#ifndef HBWATCH_SHMROOM_H
#define HBWATCH_SHMROOM_H

#include "daemon.h"

/* Look (a system call and two small reads); warn once per episode, from
 * 90% of either limit until use falls below 80% of both, naming the uids
 * that hold the most segments in OWNERS (counted by the census's walk). */
void shmroom_check(struct daemon *d, const struct shares *owners);

#endif
