#include <errno.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "doorbell.h"
#include "intake.h"

/* Every wait is bounded: a stop request is seen within this, even if a
 * group member requeued the waiter onto another futex word. */
#define DOORBELL_WAIT_MS 500u
#define DOORBELL_JOIN_S	 3
/* At most one batch per this: a process ringing in a loop cannot keep the
 * loop busy, and a burst of registrations is taken up in batches. */
#define DOORBELL_GAP_NS (1000u * 1000u)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Until the loop has read the ring it was told of (doorbell_done()). */
static void wait_done(struct doorbell *b)
{
	struct timespec ts = {.tv_nsec = 100 * 1000000L};

	while (atomic_load(&b->pending) && !atomic_load(&b->stop))
		syscall(SYS_futex, &b->pending, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0);
}

/* Asleep only while the loop has nothing to read: "awake" in the registry
 * tells clients not to wake us meanwhile (registry_announce()).  Clearing
 * it and then looking at the doorbell, both sequentially consistent,
 * pairs with a client's bump and look: no announcement is left unread. */
static void *doorbell_thread(void *arg)
{
	struct doorbell *b = arg;
	struct hb_registry_header *h = b->reg->hdr;
	uint32_t seen = b->seen;
	uint64_t told = 0;

	while (!atomic_load(&b->stop)) {
		wait_done(b);
		atomic_store(&h->awake, 0);
		if (atomic_load(&h->doorbell) == seen &&
		    registry_doorbell_wait(b->reg, seen, DOORBELL_WAIT_MS) < 0)
			break; /* the census still finds new records */
		atomic_store(&h->awake, 1);
		uint32_t now = atomic_load(&h->doorbell);
		if (now == seen)
			continue;
		uint64_t t = mono_ns();
		if (t - told < DOORBELL_GAP_NS) {
			struct timespec gap = {.tv_nsec = (long)(told + DOORBELL_GAP_NS - t)};
			nanosleep(&gap, NULL);
		}
		seen = atomic_load(&h->doorbell);
		told = mono_ns();
		atomic_store(&b->pending, 1);
		eventfd_write(b->efd, 1);
	}
	atomic_store(&h->awake, 0);
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
	if (r >= 0)
		r = sd_event_source_set_priority(b->source, INTAKE_PRIORITY);
	if (r < 0)
		goto fail;
	/* Taken here, not when the thread first runs: the loop reads the
	 * ring after this, and a ring between the two (a client that
	 * registers as soon as READY=1 is sent, before a loaded machine ran
	 * the new thread) would otherwise be taken for one already told, and
	 * its record left for the next scan, up to a scan period later. */
	b->seen = atomic_load(&reg->hdr->doorbell);
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

void doorbell_done(struct doorbell *b)
{
	if (!b->running || !atomic_exchange(&b->pending, 0))
		return;
	syscall(SYS_futex, &b->pending, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void doorbell_stop(struct doorbell *b)
{
	if (b->running) {
		struct timespec ts;

		atomic_store(&b->stop, true);
		atomic_store(&b->pending, 0);
		syscall(SYS_futex, &b->pending, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
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
