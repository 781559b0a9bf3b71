/* The classic CPActive table of a [legacy] section. */
#ifndef HBWATCH_LEGACY_H
#define HBWATCH_LEGACY_H

#include "daemon.h"

/* The classic table ([legacy]): look for it, adopt its records, act on
 * missed deadlines.  Returns the CLOCK_MONOTONIC time of its next
 * deadline, or UINT64_MAX. */
uint64_t legacy_scan(struct daemon *d);

/* Forget every legacy record except those being killed (after a reload);
 * ALL: every one, and detach the table. */
void legacy_reset(struct daemon *d, bool all);

#endif
