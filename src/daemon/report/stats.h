/* What the daemon has done, for STATUS=, the metrics and hbctl: events
 * counted per service name, how many processes were acted on, the last
 * action.  Knows nothing of watches or the loop; everything that counts
 * calls into it, and it calls nothing back. */
#ifndef HBWATCH_STATS_H
#define HBWATCH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "name.h"

/* Events counted per name ("hbwatch_kills_total{service=...}", ...). */
struct counter {
	char name[HB_NAME_SIZE];
	uint64_t n[EVENT_KIND_MAX];
};

struct stats {
	struct counter *counters;
	size_t n_counters;
	unsigned n_acted; /* processes signalled or restarted */
	char last_action[160];
	bool dirty; /* something changed since the metrics were written */
};

/* One happening, told once: log event E at LEVEL (subject to the rate
 * limit if E is limited) and count it for E's name in the metrics (always,
 * held back or not). */
void stats_event(struct stats *s, int level, const struct event *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Count event K for NAME without a record (one the caller rate-limits). */
void stats_count(struct stats *s, const char *name, enum event_kind k);

/* Record an action for STATUS=; ACTED: it signalled or restarted. */
void stats_action(struct stats *s, bool acted, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The counter of NAME, or NULL. */
const struct counter *stats_find(const struct stats *s, const char *name);

/* Free what S holds and zero it. */
void stats_finish(struct stats *s);

#endif
