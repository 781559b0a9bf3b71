#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "doorbell.h"

/* Every wait is bounded: a stop request is seen within this, even if a
 * group member requeued the waiter onto another futex word. */
#define DOORBELL_WAIT_MS 500u
#define DOORBELL_JOIN_S	 3

static void *doorbell_thread(void *arg)
{
	struct doorbell *b = arg;
	uint32_t seen = atomic_load(&b->reg->hdr->doorbell);

	while (!atomic_load(&b->stop)) {
		if (registry_doorbell_wait(b->reg, seen, DOORBELL_WAIT_MS) < 0)
			break; /* the census still finds new records */
		uint32_t now = atomic_load(&b->reg->hdr->doorbell);
		if (now != seen) {
			seen = now;
			eventfd_write(b->efd, 1);
		}
	}
	return NULL;
}

int doorbell_start(struct doorbell *b, struct hb_registry *reg, sd_event *event,
		   sd_event_io_handler_t callback, void *userdata)
{
	int r;

	*b = (struct doorbell){.reg = reg, .efd = -1};
	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->efd < 0)
		return -errno;
	r = sd_event_add_io(event, &b->source, b->efd, EPOLLIN, callback, userdata);
	if (r < 0)
		goto fail;
	r = -pthread_create(&b->thread, NULL, doorbell_thread, b);
	if (r < 0)
		goto fail;
	b->running = true;
	return 0;
fail:
	doorbell_stop(b);
	return r;
}

void doorbell_drain(struct doorbell *b)
{
	eventfd_t v;

	(void)eventfd_read(b->efd, &v);
}

void doorbell_stop(struct doorbell *b)
{
	if (b->running) {
		struct timespec ts;

		atomic_store(&b->stop, true);
		registry_ring_doorbell(b->reg);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += DOORBELL_JOIN_S;
		/* Bounded even if the thread never returns: then it is left
		 * behind, and the process is about to exit or drop the registry. */
		if (pthread_timedjoin_np(b->thread, NULL, &ts) != 0)
			pthread_detach(b->thread);
		b->running = false;
	}
	b->source = sd_event_source_disable_unref(b->source);
	if (b->efd >= 0)
		close(b->efd);
	b->efd = -1;
}
