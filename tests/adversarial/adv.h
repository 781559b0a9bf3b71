/* Shared by the adversarial tests: writing slots the way a hostile or
 * crashed process could, and assertions every case makes. */
#ifndef HBWATCH_ADV_H
#define HBWATCH_ADV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "table.h"

/* A CLOCK_MONOTONIC beat well in the past: any deadline is missed. */
uint64_t adv_long_ago(void);

/* Write slot I raw, under the semaphore and the seqlock, as a forger with
 * write access could: NAME is copied byte for byte (HB_NAME_SIZE bytes,
 * no NUL added).  Returns I. */
int adv_forge_raw(uint32_t i, int32_t pid, uint64_t start_time, uint64_t timeout_ns,
		  uint64_t beat_ns, const char name[HB_NAME_SIZE]);

/* The first free slot (under the semaphore). */
uint32_t adv_free_slot(void);

/* Forge a slot for PID with its real start time, NAME (a C string),
 * TIMEOUT_NS and BEAT_NS.  Returns the slot. */
int adv_forge(pid_t pid, const char *name, uint64_t timeout_ns, uint64_t beat_ns);

/* PID must survive MS more milliseconds, and the log must never show a
 * signal sent to it (a missed deadline may be logged: some checks, such
 * as the user's, run when the deadline is missed). */
void adv_left_alone(pid_t pid, int ms);

/* Fork a child (tracked by the harness) that sleeps as uid/gid UID, or
 * as ours if UID is (uid_t)-1; in its own process group if PGRP; with
 * signal IGNORE ignored if > 0 (every other signal at its default). */
pid_t adv_sleeper_as(uid_t uid, bool pgrp, int ignore);

/* Number of slots in use (pid != 0); unreadable slots count as used. */
int adv_slots_used(void);

#endif
