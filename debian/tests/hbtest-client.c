/* The watched service of debian/tests/guest.sh, compiled inside the guest
 * against the installed libhbwatch-dev (pkg-config hbwatch), so the test
 * proves the -dev package is enough to build a client.
 *
 * Usage: hbtest-client NAME TIMEOUT_MS HANG_FLAG
 * Registers under NAME and beats every 100 ms.  When the file HANG_FLAG
 * exists it removes it and stops beating while staying alive, as a hung
 * process does; the process systemd restarts finds no flag and beats on. */
/* Strict C11 (-std=c11, as the test builds it) with POSIX for nanosleep(),
 * pause() and unlink(): hbwatch.h must need nothing more. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <hbwatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const struct timespec tick = {0, 100 * 1000 * 1000L};
	unsigned long timeout_ms;
	char *end;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: %s NAME TIMEOUT_MS HANG_FLAG\n", argv[0]);
		return 2;
	}
	errno = 0;
	timeout_ms = strtoul(argv[2], &end, 10);
	if (errno || *end || timeout_ms == 0 || timeout_ms > HB_TIMEOUT_MAX_MS) {
		fprintf(stderr, "bad timeout '%s'\n", argv[2]);
		return 2;
	}
	r = hb_register(argv[1], (unsigned int)timeout_ms);
	if (r < 0) {
		fprintf(stderr, "hb_register(%s): %s\n", argv[1], strerror(-r));
		return 1;
	}
	printf("pid %d registered as %s, timeout %lu ms\n", (int)getpid(), argv[1], timeout_ms);
	fflush(stdout);
	for (;;) {
		if (unlink(argv[3]) == 0) {
			printf("pid %d stops beating\n", (int)getpid());
			fflush(stdout);
			for (;;)
				pause();
		}
		r = hb_beat();
		if (r < 0) {
			fprintf(stderr, "hb_beat: %s\n", strerror(-r));
			return 1;
		}
		nanosleep(&tick, NULL);
	}
}
