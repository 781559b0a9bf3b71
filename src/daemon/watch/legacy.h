/* The classic CPActive table of a [legacy] section. */
#ifndef HBWATCH_LEGACY_H
#define HBWATCH_LEGACY_H

#include "daemon.h"

/* The classic table ([legacy]): look for it, adopt its records, act on
 * missed deadlines.  Returns the CLOCK_MONOTONIC time of its next
 * deadline, or UINT64_MAX. */
uint64_t legacy_scan(struct daemon *d);

/* After a reload: judge each known record again under the new settings,
 * keeping what is known of it (late, logged, rate-limited), refusing those
 * the new rules turn down (said once) and re-adopting those they welcome.
 * A refused table is looked at afresh. */
void legacy_reevaluate(struct daemon *d);

/* Forget every legacy record except those being killed; ALL: every one,
 * and detach the table. */
void legacy_reset(struct daemon *d, bool all);

#endif
