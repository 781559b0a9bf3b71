/* hblocker: take the table's semaphore and keep it, for tests of what
 * happens to others when a lock holder dies or is stopped.
 *
 * hblocker [--ready-fd FD]
 *
 * Attaches to the table at $HBWATCH_KEY, takes the semaphore (SEM_UNDO, as
 * the library does), writes "LOCKED <pid>\n" to FD and to stdout, then
 * sleeps until killed.  Exit status: 2 usage, 1 attach or lock failed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "sem.h"
#include "table.h"

int main(int argc, char **argv)
{
	struct hb_table t;
	char why[256] = "", line[32];
	int key, fd = -1, r, n;

	if (argc == 3 && strcmp(argv[1], "--ready-fd") == 0) {
		char *end;
		long v;

		errno = 0;
		v = strtol(argv[2], &end, 10);
		if (errno || end == argv[2] || *end || v < 0 || v > INT_MAX) {
			fprintf(stderr, "hblocker: bad fd '%s'\n", argv[2]);
			return 2;
		}
		fd = (int)v;
	} else if (argc != 1) {
		fprintf(stderr, "Usage: hblocker [--ready-fd FD]\n");
		return 2;
	}
	if (key_from_env(&key) < 0) {
		fprintf(stderr, "hblocker: bad $HBWATCH_KEY\n");
		return 2;
	}
	r = table_attach(key, false, &t, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "hblocker: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	r = sem_lock(t.semid, HB_SEM_WAIT_MS);
	if (r < 0) {
		fprintf(stderr, "hblocker: cannot lock: %s\n", strerror(-r));
		return 1;
	}
	n = snprintf(line, sizeof(line), "LOCKED %d\n", (int)getpid());
	fputs(line, stdout);
	fflush(stdout);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			return 1;
		close(fd);
	}
	for (;;)
		pause();
}
