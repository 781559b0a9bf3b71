/* An external program of the installed libhbwatch, built by the test with
 * nothing but "cc $(pkg-config --cflags --libs hbwatch)".
 *
 * consumer NAME TIMEOUT_MS BEAT_FOR_MS: register, say "registered PID",
 * beat every TIMEOUT_MS/4 for BEAT_FOR_MS, then hang without beating. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, pause under -std=c11 */
#include <hbwatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned timeout_ms, beat_for_ms;
	int r;

	if (argc != 4)
		return 2;
	timeout_ms = (unsigned)strtoul(argv[2], NULL, 10);
	beat_for_ms = (unsigned)strtoul(argv[3], NULL, 10);
	r = hb_register(argv[1], timeout_ms);
	if (r < 0) {
		fprintf(stderr, "consumer: hb_register: %s\n", strerror(-r));
		return 1;
	}
	printf("registered %d\n", (int)getpid());
	fflush(stdout);
	for (unsigned t = 0; t < beat_for_ms; t += timeout_ms / 4) {
		struct timespec ts = {0, (long)(timeout_ms / 4) * 1000000L};

		if (hb_beat() < 0)
			return 3;
		nanosleep(&ts, NULL);
	}
	for (;;)
		pause();
}
