/* What intake knows between passes (struct intake in daemon.h), behind
 * calls: the watches ask for a census or turn a record down through
 * here, and intake.c reads it.  Calls nothing of the loop. */
#ifndef HBWATCH_INTAKE_STATE_H
#define HBWATCH_INTAKE_STATE_H

#include "daemon.h"

/* A registry was made or adopted: read its ring from the tail on, and
 * take a census soon for what was announced before. */
void intake_restart(struct daemon *d);

/* Hints were lost, or a record must be looked at again: a census as soon
 * as one is allowed. */
void intake_census_soon(struct daemon *d);

/* Turn record SHMID down while its segment's CTIME stays the same: no
 * census looks at it again until it changes (or a reload). */
void intake_turn_down(struct daemon *d, int shmid, uint64_t ctime);

/* Was record SHMID, with segment change time CTIME, turned down? */
bool intake_is_turned_down(const struct daemon *d, int shmid, uint64_t ctime);

/* After a reload: the records turned down may be welcome under the new
 * rules; a census soon looks at them again. */
void intake_reconsider(struct daemon *d);

/* True the first time, per census, that slots= turns a registration away:
 * then it is said. */
bool intake_say_full(struct daemon *d);

/* True the first time a record cannot be read for want of rights: then
 * it is said, once. */
bool intake_say_unreadable(struct daemon *d);

/* Free what intake keeps. */
void intake_finish(struct daemon *d);

#endif
