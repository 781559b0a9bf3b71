/* What /proc tells about a process: the identity that PID reuse cannot
 * fake (start time) and its owner. */
#ifndef HBWATCH_PROC_H
#define HBWATCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Parse field 22 (starttime, clock ticks since boot) out of the text of
 * /proc/PID/stat in BUF (LEN bytes, need not be NUL-terminated).  The comm
 * field may hold spaces and parentheses: parsing starts after the last ')'.
 * Pure.  Returns 0 or -EINVAL. */
int proc_parse_starttime(const char *buf, size_t len, uint64_t *start_time);

/* Numeric field FIELD (1-based as in proc(5), from 4 on) of the text of
 * /proc/PID/stat in BUF (LEN bytes, need not be NUL-terminated), parsed
 * after the last ')' like proc_parse_starttime().  Pure.  Returns 0 or
 * -EINVAL (also for a negative or non-numeric field). */
int proc_parse_stat_field(const char *buf, size_t len, unsigned field, unsigned long long *out);

/* The state letter (field 3: R, S, D, T, t, Z, X, I ...) of the text of
 * /proc/PID/stat in BUF.  Pure.  Returns 0 or -EINVAL. */
int proc_parse_state(const char *buf, size_t len, char *state);

/* Process group of PID (field 5 of /proc/PID/stat).  Returns 0, -ESRCH or
 * -errno. */
int proc_pgrp(pid_t pid, pid_t *pgrp);

/* Start time of PID.  Returns 0, -ESRCH (no such process) or -errno. */
int proc_starttime(pid_t pid, uint64_t *start_time);

/* Real, effective and saved uids of PID from /proc/PID/status.  Returns 0,
 * -ESRCH or -errno. */
int proc_uids(pid_t pid, uid_t *ruid, uid_t *euid, uid_t *suid);

/* Parse the "Uid:" line out of the text of /proc/PID/status in BUF (NUL-
 * terminated).  Pure.  Returns 0 or -EINVAL. */
int proc_parse_uids(const char *buf, uid_t *ruid, uid_t *euid, uid_t *suid);

/* What one read of /proc/PID/stat says of a process. */
struct proc_stat {
	uint64_t start_time; /* clock ticks after boot */
	uint64_t cpu_ticks;  /* utime + stime */
	bool kthread;	     /* a kernel thread */
};

/* Read PATH (relative to DIR, or AT_FDCWD) into BUF, at most SIZE - 1
 * bytes, NUL-terminated: the small /proc, /sys and cgroup files hbwatch
 * reads whole.  Returns the length, or -errno. */
ssize_t proc_read_at(int dir, const char *path, char *buf, size_t size);

/* Read /proc/PID/stat once into ST.  Returns 0, -ESRCH or -errno. */
int proc_stat_facts(pid_t pid, struct proc_stat *st);

/* The latest start time (field 22, clock ticks) the maker of a record can
 * have: the record was made at MADE_BOOT_NS on the maker's CLOCK_BOOTTIME
 * and is seen at NOW_BOOT_NS on ours.  The earlier of the two counts, so a
 * clock ahead of ours (another time namespace) never widens the bound.
 * 0 (no bound) if MADE_BOOT_NS is 0 or the tick rate is unknown. */
uint64_t proc_started_by(uint64_t made_boot_ns, uint64_t now_boot_ns);

/* Whether a process that started at START (clock ticks) is the one a
 * record names: exactly the start time the record holds (RECORDED), or,
 * for a record that holds none, no later than STARTED_BY
 * (proc_started_by()).  A later process can have the pid only after the
 * maker died, after it made the record: it started later.  A record with
 * neither names no process. */
bool proc_start_matches(uint64_t start, uint64_t recorded, uint64_t started_by);

/* When a process with START_TIME (field 22, clock ticks after boot) started,
 * in CLOCK_REALTIME nanoseconds as the wall clock reads now (so a clock
 * step since then moves it too).  Returns 0 or -errno. */
int proc_start_realtime(uint64_t start_time, uint64_t *realtime_ns);

#endif
