/* Deadline arithmetic, pure so it is tested without processes. */
#ifndef HBWATCH_DEADLINE_H
#define HBWATCH_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

/* extend_max= unset: an extension reaches at most this many times the
 * heartbeat's own timeout past its last beat. */
#define HB_EXTEND_AUTO	     UINT64_MAX
#define HB_EXTEND_AUTO_TIMES 10u

/* Shortest and longest sleep between scans when no deadline is nearer:
 * the longest bounds how late a new registration is first seen. */
#define DEADLINE_SCAN_MIN_NS (10u * 1000000u)
#define DEADLINE_SCAN_MAX_NS (1000u * 1000000u)
/* A beat stamped this far in the future is not from this boot's clock. */
#define DEADLINE_FUTURE_NS (1000u * 1000000u)

/* The timeout that applies: the client's, capped by the service's CAP_NS
 * (0: no cap).  Returns 0 if the client's is out of range (0 or above
 * HB_TIMEOUT_MAX_MS): such a slot is malformed. */
uint64_t deadline_timeout(uint64_t client_ns, uint64_t cap_ns);

/* BEAT_NS + TIMEOUT_NS, saturating at UINT64_MAX. */
uint64_t deadline_at(uint64_t beat_ns, uint64_t timeout_ns);

/* The deadline of a heartbeat that last beat at BEAT_NS with TIMEOUT_NS,
 * asked at EXT_AT_NS (0: never) to be carried until EXT_UNTIL_NS.  A
 * beat after the request ends it.  An extension never brings the
 * deadline forward, and reaches at most EXT_MAX_NS past the beat (0:
 * extensions ignored): so a process whose work is stuck while some thread
 * keeps extending is still caught, EXT_MAX_NS after its last beat.
 * *EXTENDED (may be NULL) tells whether the extension moved the deadline. */
uint64_t deadline_extended(uint64_t beat_ns, uint64_t timeout_ns, uint64_t ext_at_ns,
			   uint64_t ext_until_ns, uint64_t ext_max_ns, bool *extended);

/* The cap on extensions of a heartbeat with TIMEOUT_NS: the service's
 * extend_max= (EXTEND_MAX_NS), or HB_EXTEND_AUTO_TIMES the timeout when
 * it is unset (HB_EXTEND_AUTO). */
uint64_t deadline_extend_max(uint64_t extend_max_ns, uint64_t timeout_ns);

/* How long the loop may sleep when no deadline is nearer: half the
 * shortest service timeout cap (MIN_CAP_NS, 0 if none), within
 * [DEADLINE_SCAN_MIN_NS, DEADLINE_SCAN_MAX_NS]. */
uint64_t deadline_scan_period(uint64_t min_cap_ns);

/* Round nanoseconds up to microseconds, the unit of sd-event timers. */
uint64_t deadline_usec_ceil(uint64_t ns);

#endif
