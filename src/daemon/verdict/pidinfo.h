/* What the kernel tells of a process through a pidfd, without /proc
 * (Linux 6.11+ for its namespaces, 6.13+ for its credentials): adoption
 * asks here first, and reads /proc only where the kernel cannot say.
 * HBWATCH_NO_PIDFD_INFO=1 in the environment forces the /proc path (the
 * suite runs both). */
#ifndef HBWATCH_PIDINFO_H
#define HBWATCH_PIDINFO_H

#include <stdbool.h>
#include <sys/types.h>

/* The real and saved uids of the process PIDFD pins (PIDFD_GET_INFO), as
 * /proc/PID/status would say them.  Returns 0, -ESRCH (it has exited), or
 * -EOPNOTSUPP (this kernel cannot say, or forced off: read /proc). */
int pidinfo_uids(int pidfd, uid_t *ruid, uid_t *suid);

/* Whether the process PIDFD pins runs in hbwatch's own time namespace
 * (PIDFD_GET_TIME_NAMESPACE): then its CLOCK_MONOTONIC is ours.  Returns
 * 1 (the same), 0 (another one: read its offsets), or -errno (unknown:
 * read its offsets). */
int pidinfo_same_timens(int pidfd);

/* Whether the pidfd answers are used at all (not forced off). */
bool pidinfo_enabled(void);

#endif
