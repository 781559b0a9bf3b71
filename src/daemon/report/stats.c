#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define COUNTERS_MAX 256u

const struct counter *stats_find(const struct stats *s, const char *name)
{
	for (size_t i = 0; i < s->n_counters; i++)
		if (strcmp(s->counters[i].name, name) == 0)
			return &s->counters[i];
	return NULL;
}

/* NAME: a service, or any name a registration used.  Past a fixed
 * number of distinct names (a hostile host can make up any number) new
 * names go uncounted rather than grow memory. */
void stats_count(struct stats *s, const char *name, enum stats_counter k)
{
	struct counter *c = (struct counter *)stats_find(s, name);

	if (!c) {
		struct counter *n;

		if (s->n_counters >= COUNTERS_MAX)
			return;
		n = realloc(s->counters, (s->n_counters + 1) * sizeof(*n));
		if (!n)
			return;
		s->counters = n;
		c = &s->counters[s->n_counters++];
		*c = (struct counter){0};
		snprintf(c->name, sizeof(c->name), "%s", name);
	}
	c->n[k]++;
	s->dirty = true;
}

void stats_action(struct stats *s, bool acted, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->last_action, sizeof(s->last_action), fmt, ap);
	va_end(ap);
	if (acted)
		s->n_acted++;
	s->dirty = true;
}

void stats_finish(struct stats *s)
{
	free(s->counters);
	*s = (struct stats){0};
}
