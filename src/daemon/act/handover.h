/* Unit-wide actions inside the invariant: systemd's RestartUnit and
 * KillUnit reach every process of a unit, whatever its uid, so hbwatch
 * asks for one only when the record's writer could signal every one of
 * them itself, as read from the unit's cgroup just before the call. */
#ifndef HBWATCH_HANDOVER_H
#define HBWATCH_HANDOVER_H

#include <stddef.h>
#include <sys/types.h>

#include "ownership.h"

/* The directory of UNIT's cgroup, from PID's cgroup path CG (systemd's
 * view, as sd_pid_get_cgroup() gives it): CG cut after its component
 * UNIT, under ROOT.  Pure.  Returns 0 or -ENOENT (UNIT is not in CG),
 * -ENAMETOOLONG. */
int handover_unit_dir(const char *root, const char *cg, const char *unit, char *out, size_t len);

/* May UNIT, which PID runs in, be handed to systemd on WRITER's word?
 * Every process in the unit's cgroup and below it, read now, must be one
 * WRITER could signal.  Returns 0 (yes), or -EPERM with WHY naming the
 * processes that stopped it, or another -errno with WHY saying what
 * could not be read (which refuses too). */
int handover_check(const struct ownership_facts *writer, pid_t pid, const char *unit, char *why,
		   size_t why_len);

#endif
