/* The verdict applied (hold.c): at a missed deadline, before any action,
 * the facts are read (verdict_read.h) and decided on (verdict.h); a
 * starved, frozen or debugged process is held back and said so, once; and
 * after the signal, SIGKILL waits for a core dump in progress.  Shared by
 * native and classic records. */
#ifndef HBWATCH_HOLD_H
#define HBWATCH_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"

/* W missed the deadline of the heartbeat W->handled_heartbeat (beat
 * W->handled_beat) with TIMEOUT_NS, LATE_NS ago.  True if its action is
 * held back (deferred, left alone, or re-armed at a thaw): W's state and
 * retry time say when it is looked at again, and what was found is logged
 * and counted.  WORDS and FIELDS: the triage already taken, for the
 * record. */
bool hold_at_deadline(struct watch *w, const struct service *svc, uint64_t timeout_ns,
		      uint64_t late_ns, const char *words, const char *const *fields);

/* At the SIGKILL escalation: how long to wait before looking again (0: go
 * ahead with SIGKILL), while W's process writes its core, up to dump_max. */
uint64_t hold_dump_wait_ns(struct watch *w);

/* W beat again: whatever held it back is over. */
void hold_beat(struct watch *w);

/* A CPU sample of W was just taken (triage_sample()): take the reading the
 * starvation figures count from, if SVC can defer at all. */
void hold_sample(struct watch *w, const struct service *svc, uint64_t now);

/* The earliest a deadline of TIMEOUT_NS that would fall at DEADLINE may
 * fall, given a thaw or a tracer gone (W->rearm_ns). */
uint64_t hold_deadline(const struct watch *w, uint64_t deadline, uint64_t timeout_ns);

/* The one look at W before its deadline, at each check: W's heartbeat
 * due first (its last beat BEAT_NS, TIMEOUT_NS) falls at *DEADLINE, put
 * off by a thaw or a tracer gone (*DEADLINE then moves, hold_deadline()).
 * While it is ahead: a CPU sample after the beat (triage.h), the
 * starvation reading (hold_sample()), and warn_at's record once it is
 * due.  Returns when to look at W again, *DEADLINE at the latest; once
 * *DEADLINE has passed, UINT64_MAX: there is nothing ahead to look at. */
uint64_t hold_ahead(struct watch *w, const struct service *svc, uint64_t beat_ns,
		    uint64_t timeout_ns, uint64_t *deadline, uint64_t now);

#endif
