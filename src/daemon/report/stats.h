/* What the daemon has done, for STATUS=, the metrics and hbctl: events
 * counted per service name, how many processes were acted on, the last
 * action.  Knows nothing of watches, events or the loop; event.c counts
 * through it, and it calls nothing back. */
#ifndef HBWATCH_STATS_H
#define HBWATCH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "name.h"

/* The counters of the metrics (textfile.c), per name; which events add to
 * which is event.c's table. */
enum stats_counter {
	STATS_NONE, /* not counted */
	STATS_DEADLINES_MISSED,
	STATS_KILLS,
	STATS_ESCALATIONS,
	STATS_RESTARTS,
	STATS_HANDOVERS,
	STATS_REFUSED,
	STATS_UNTRUSTED,
	STATS_RATE_LIMITED,
	STATS_UNKILLABLE,
	STATS_DEFERRED_STARVED,
	STATS_DEFERRED_FROZEN,
	STATS_DEFERRED_DEBUGGED,
	STATS_DEFERRED_DUMPING,
	STATS_COUNTER_MAX,
};

/* The counters of one name ("hbwatch_kills_total{service=...}", ...). */
struct counter {
	char name[HB_NAME_SIZE];
	uint64_t n[STATS_COUNTER_MAX];
};

struct stats {
	struct counter *counters;
	size_t n_counters;
	unsigned n_acted; /* processes signalled or restarted */
	char last_action[160];
	bool dirty; /* something changed since the metrics were written */
};

/* Add one to counter C of NAME (event_emit() does, as its table says). */
void stats_count(struct stats *s, const char *name, enum stats_counter c);

/* Record an action for STATUS=; ACTED: it signalled or restarted. */
void stats_action(struct stats *s, bool acted, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The counter of NAME, or NULL. */
const struct counter *stats_find(const struct stats *s, const char *name);

/* Free what S holds and zero it. */
void stats_finish(struct stats *s);

#endif
