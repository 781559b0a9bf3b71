/* The daemon's view for hbctl (status.h): what it does with each
 * heartbeat record, published in a segment only it can write. */
#ifndef HBWATCH_VIEW_H
#define HBWATCH_VIEW_H

#include "daemon.h"

/* Make the status segment for D's slots.  Returns 0 or -errno (hbctl then
 * shows what the records say, without hbwatch's verdicts). */
int view_setup(struct daemon *d);

/* Point the registry at it (again, after the registry was made anew). */
void view_announce(struct daemon *d);

/* W changed (or moved in d->ws.v): write its entry at the next update. */
void view_touch(struct watch *w);

/* Write the entries that changed since the last time. */
void view_update(struct daemon *d, uint64_t now);

/* Drop the segment. */
void view_finish(struct daemon *d);

#endif
