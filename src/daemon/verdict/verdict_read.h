/* The one reader of a verdict's facts (verdict.h): what /proc and the
 * process's cgroups say now. */
#ifndef HBWATCH_VERDICT_READ_H
#define HBWATCH_VERDICT_READ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "verdict.h"

/* The reading near a beat that the deadline's figures count from: the
 * run-queue wait of thread TID of PID (0: its main thread) and its cpu
 * cgroup's throttling, at NOW (CLOCK_MONOTONIC). */
void verdict_sample(struct verdict_mark *m, pid_t pid, pid_t tid, uint64_t now);

/* Read every fact of PID into F at NOW, the waits counted from M; TID is
 * the thread whose run-queue wait counts (0: the main thread, until the
 * record names the thread that last beat).  Returns 0 or -ESRCH (then
 * F->read is false). */
int verdict_read(pid_t pid, pid_t tid, const struct verdict_mark *m, uint64_t now,
		 struct verdict_facts *f);

/* Is PID writing its core (CoreDumping: 1)?  Returns 0 or -ESRCH. */
int verdict_read_dumping(pid_t pid, bool *dumping);

#endif
