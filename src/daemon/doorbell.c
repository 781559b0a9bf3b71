#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "doorbell.h"

static void *doorbell_thread(void *arg)
{
	struct doorbell *b = arg;
	uint32_t seen = atomic_load(&b->table->hdr->doorbell);

	while (!atomic_load(&b->stop)) {
		if (table_doorbell_wait(b->table, seen) < 0)
			break; /* the loop's periodic scan still finds new slots */
		uint32_t now = atomic_load(&b->table->hdr->doorbell);
		if (now != seen) {
			seen = now;
			eventfd_write(b->efd, 1);
		}
	}
	return NULL;
}

int doorbell_start(struct doorbell *b, struct hb_table *t, sd_event *event,
		   sd_event_io_handler_t callback, void *userdata)
{
	int r;

	*b = (struct doorbell){.table = t, .efd = -1};
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
		atomic_store(&b->stop, true);
		table_ring(b->table);
		pthread_join(b->thread, NULL);
		b->running = false;
	}
	b->source = sd_event_source_disable_unref(b->source);
	if (b->efd >= 0)
		close(b->efd);
	b->efd = -1;
}
