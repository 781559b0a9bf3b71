/* A watch's state and the journal event about it (state.c). */
#ifndef HBWATCH_STATE_H
#define HBWATCH_STATE_H

#include "daemon.h"

/* Stop tracking W: close its pidfd and drop its timers (W stays allocated). */
void watch_release(struct watch *w);

/* Set W's state, keeping the count of active registrations right. */
void watch_set_state(struct watch *w, enum watch_state s);

/* Count W, while it is active, in UID's share (SHARED) or in none. */
void watch_set_share(struct watch *w, bool shared, uid_t uid);

/* "record" or "legacy record", for messages about W. */
const char *watch_record_kind(const struct watch *w);

/* The event of kind KIND about W, with its fields filled in. */
struct event watch_event(const struct watch *w, enum event_kind kind);

#endif
