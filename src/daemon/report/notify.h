/* The sd_notify protocol without blocking the loop.  libsystemd's
 * sd_notify() sends with a blocking sendmsg(): when the manager's notify
 * queue is full (PID 1 busy, other services chatty) the caller stalls, and
 * a stalled watchdog kills nothing.  Here every send is non-blocking;
 * callers say how long a message may wait for room. */
#ifndef HBWATCH_NOTIFY_H
#define HBWATCH_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct notifier {
	int fd; /* -1: not under a service manager ($NOTIFY_SOCKET unset) */
};

/* Connect to $NOTIFY_SOCKET if set.  Returns 0 (also when unset) or
 * -errno for a malformed or unreachable socket. */
int notify_open(struct notifier *n);

/* Send MSG, waiting at most WAIT_MS for room in the manager's queue.
 * Returns 0, -EAGAIN (dropped: queue full) or -errno.  A no-op returning
 * 0 outside a service manager. */
int notify_send(struct notifier *n, unsigned wait_ms, const char *msg);

/* Close the socket.  Safe on a zeroed or closed notifier. */
void notify_close(struct notifier *n);

#endif
