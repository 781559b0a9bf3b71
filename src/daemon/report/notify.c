#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

int notify_open(struct notifier *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	socklen_t salen;

	n->fd = -1;
	if (!path || !*path)
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0)
		return -errno;
	if (connect(n->fd, (struct sockaddr *)&sa, salen) < 0) {
		int r = -errno;
		notify_close(n);
		return r;
	}
	return 0;
}

int notify_send(struct notifier *n, unsigned wait_ms, const char *msg)
{
	size_t len = strlen(msg);

	if (n->fd < 0)
		return 0;
	for (;;) {
		if (send(n->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || wait_ms == 0)
			return -errno;
		struct pollfd p = {.fd = n->fd, .events = POLLOUT};
		int r = poll(&p, 1, (int)wait_ms);
		if (r <= 0)
			return r < 0 ? -errno : -EAGAIN;
		wait_ms = 0; /* one more try */
	}
}

void notify_close(struct notifier *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
