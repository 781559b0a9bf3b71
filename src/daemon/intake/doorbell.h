/* The doorbell: hb_register() bumps a futex word in the registry header
 * and wakes it if the daemon sleeps.  A thread of the daemon sleeps on
 * that futex and turns a ring into an eventfd event for the loop, so a new
 * registration is seen within microseconds without any polling.  Then it
 * stays awake (and says so in the header) until the loop has read the
 * ring: a burst of registrations costs one wake-up per batch, not one per
 * registration. */
#ifndef HBWATCH_DOORBELL_H
#define HBWATCH_DOORBELL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "registry.h"

struct doorbell {
	struct hb_registry *reg;
	int efd;
	pthread_t thread;
	bool running;
	_Atomic bool stop;
	_Atomic uint32_t pending; /* told the loop, which has not read the ring yet */
	uint32_t seen;		  /* the doorbell's count at the start */
	sd_event_source *source;
};

/* Start listening on REG's doorbell; CALLBACK runs on EVENT for each batch of
 * rings.  Returns 0 or -errno. */
int doorbell_start(struct doorbell *b, struct hb_registry *reg, sd_event *event,
		   sd_event_io_handler_t callback, void *userdata);

/* Stop the thread (it notices within a second, since it never waits
 * longer, whatever a group member does to the futex word) and close the
 * eventfd.  Safe on a zeroed doorbell. */
void doorbell_stop(struct doorbell *b);

/* Consume the pending rings (call from the callback). */
void doorbell_drain(struct doorbell *b);

/* The loop has read the ring up to its tail: the thread may sleep again. */
void doorbell_done(struct doorbell *b);

#endif
