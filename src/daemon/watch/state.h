/* A watch's state and who its journal events are about (state.c). */
#ifndef HBWATCH_STATE_H
#define HBWATCH_STATE_H

#include "daemon.h"

/* Stop tracking W: close its pidfd and drop its timers (W stays allocated). */
void watch_release(struct watch *w);

/* Set W's state, keeping the count of active registrations right. */
void watch_set_state(struct watch *w, enum watch_state s);

/* Count W, while it is active, in UID's share (SHARED) or in none. */
void watch_set_share(struct watch *w, bool shared, uid_t uid);

/* W's pid or name changed (or W is new): its events' subject follows.
 * watch_set_state() keeps the rest of it current. */
void watch_subject_update(struct watch *w);

#endif
