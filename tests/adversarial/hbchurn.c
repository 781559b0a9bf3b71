/* hbchurn: heartbeat clients that come and go, for the daemon kill storm.
 *
 * hbchurn --concurrency N --ready-fd FD
 *
 * Keeps N client processes alive until SIGTERM.  Each registers as
 * "churn" (timeout 10 s) through the public API, beats every 20 ms for a
 * random 50..1500 ms, then ends one of three ways: returns from main (the
 * atexit handler unregisters), _exit() without unregistering, or SIGKILL
 * to itself (the last two leave the slot for the daemon to free).
 * Writes "CHURN <pid>\n" to FD once started.  On SIGTERM it stops
 * spawning, waits for its clients and prints
 *   "spawned S registered R failed F\n"
 * on stdout (F: registrations that failed; they must not).  Exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hbwatch.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void msleep(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};

	nanosleep(&ts, NULL);
}

static int client(unsigned seed)
{
	unsigned life = 50 + (unsigned)rand_r(&seed) % 1450u, how = (unsigned)rand_r(&seed) % 10u;
	int r = hb_register("churn", 10000);

	if (r < 0) {
		fprintf(stderr, "hbchurn: pid %d: hb_register: %s\n", (int)getpid(), strerror(-r));
		return 3;
	}
	for (unsigned t = 0; t < life; t += 20) {
		if (hb_beat() < 0)
			return 4;
		msleep(20);
	}
	if (how < 2)
		_exit(0); /* no unregistration */
	if (how < 4)
		raise(SIGKILL);
	return 0; /* atexit: hb_unregister() */
}

int main(int argc, char **argv)
{
	unsigned n = 0, spawned = 0, registered = 0, failed = 0, alive = 0;
	int fd = -1;
	pid_t parent = getpid();

	for (int a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--concurrency") == 0)
			n = (unsigned)atoi(argv[a + 1]);
		else if (strcmp(argv[a], "--ready-fd") == 0)
			fd = atoi(argv[a + 1]);
	}
	if (n == 0 || fd < 0) {
		fprintf(stderr, "Usage: hbchurn --concurrency N --ready-fd FD\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	dprintf(fd, "CHURN %d\n", (int)getpid());
	close(fd);
	while (!stop || alive > 0) {
		while (!stop && alive < n) {
			pid_t p = fork();
			if (p == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				if (getppid() != parent)
					_exit(127);
				signal(SIGTERM, SIG_DFL);
				exit(client(spawned * 2654435761u + (unsigned)getpid()));
			}
			if (p > 0) {
				spawned++;
				alive++;
			}
		}
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		alive--;
		if (WIFEXITED(st) && (WEXITSTATUS(st) == 3 || WEXITSTATUS(st) == 4))
			failed++;
		else
			registered++;
	}
	printf("spawned %u registered %u failed %u\n", spawned, registered, failed);
	return 0;
}
