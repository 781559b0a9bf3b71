/* Time namespaces: a process's CLOCK_MONOTONIC may run ahead of or behind
 * ours by a fixed offset (CRIU, some container runtimes).  Every time in a
 * heartbeat record (beats, extensions) is on its process's clock; readers
 * turn them into ours with the offset the kernel reports.
 *
 * What the kernel tells (Linux 5.6 on, checked on 6.18):
 * - /proc/PID/timens_offsets is mode 0444 with no ptrace check: any user,
 *   and hbwatch without CAP_SYS_PTRACE, reads it for any process.  It
 *   lists the offsets of PID's time_for_children namespace, relative to
 *   the host's clocks (a nested namespace starts from its parent's).
 * - That is PID's own namespace too, except between its own
 *   unshare(CLONE_NEWTIME) and its next execve() (which enters it); only
 *   then do /proc/PID/ns/time and time_for_children differ, and reading
 *   those links needs ptrace access, which hbwatch does not have.
 * - The offsets are written once, before any process enters the
 *   namespace, by a holder of CAP_SYS_TIME in its user namespace through
 *   /proc/PID/timens_offsets, which needs ptrace access to PID.
 * So the offset of a process's namespace is the word of the process, its
 * own user (through a user namespace of its own) or root: those who may
 * signal it anyway.  And the one case where the file does not describe its
 * clock is of the process's own making.  Either way a wrong offset moves
 * only that process's own deadlines: it is seen late (as it could have by
 * writing beats in the future into its own record) or killed early (as
 * it could by not beating, or by killing itself).  Nobody else can use it
 * to aim hbwatch at a process. */
#ifndef HBWATCH_TIMENS_H
#define HBWATCH_TIMENS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record.h"

/* Parse the CLOCK_MONOTONIC offset out of the text of timens_offsets in
 * BUF (LEN bytes, need not be NUL-terminated): lines "CLOCK SECONDS
 * NANOSECONDS", the clock by name or number.  Pure.  Returns 0 with
 * *OFF_NS set (0 if the line is missing), or -EINVAL. */
int timens_parse_monotonic(const char *buf, size_t len, int64_t *off_ns);

/* How far PID's CLOCK_MONOTONIC runs ahead of ours (negative: behind).  A
 * kernel without time namespaces has no timens_offsets: 0 for everyone.
 * Returns 0, -ESRCH (no such process) or -errno. */
int timens_relative(pid_t pid, int64_t *rel_ns);

/* T, a time on a clock REL_NS ahead of ours, on ours; 0 ("never")
 * stays 0, and the result saturates within 1..UINT64_MAX. */
uint64_t timens_to_ours(uint64_t t, int64_t rel_ns);

/* Now on a clock REL_NS ahead of ours: what a writer of another process's
 * record stamps, so that the record keeps to its process's clock. */
uint64_t timens_now_for(int64_t rel_ns);

/* Turn the times of a record's view V (beat, extension) and of a task T
 * into ours. */
void timens_view_to_ours(struct hb_record_view *v, int64_t rel_ns);
void timens_task_to_ours(struct hb_task_view *t, int64_t rel_ns);

#endif
