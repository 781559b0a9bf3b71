/* hbstuck NAME OUTFILE: a two-thread service.  The main thread registers
 * as NAME (timeout 10 s) and beats every 50 ms for ever; a second thread
 * opens the task "stuck" (timeout 300 ms), beats it a few times, prints
 * "stuck TID" and hangs in pause().  On SIGABRT, whichever thread runs the
 * handler writes "abort TID" to OUTFILE and aborts: the TID tells which
 * thread the signal was sent to.  With HBSTUCK_CORE=1 in its environment,
 * it allows core dumps (up to the hard limit), so that abort dumps the
 * stuck thread's core. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <hbwatch.h>

static int out_fd = -1;

static void on_abrt(int sig)
{
	char buf[32] = "abort ", digits[16];
	int n = 0, tid = (int)gettid();
	size_t len = strlen(buf);

	(void)sig;
	do
		digits[n++] = (char)('0' + tid % 10);
	while ((tid /= 10) > 0);
	while (n > 0)
		buf[len++] = digits[--n];
	buf[len++] = '\n';
	(void)!write(out_fd, buf, len);
	signal(SIGABRT, SIG_DFL); /* abort() would run this handler again */
	abort();
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void *stuck(void *arg)
{
	hb_task *t;

	(void)arg;
	if (hb_task_open(&t, "stuck", 300) < 0) {
		fprintf(stderr, "hbstuck: hb_task_open failed\n");
		exit(2);
	}
	for (int i = 0; i < 4; i++) {
		hb_task_beat(t);
		sleep_ms(50);
	}
	printf("stuck %d\n", (int)gettid());
	fflush(stdout);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: hbstuck NAME OUTFILE\n");
		return 2;
	}
	out_fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out_fd < 0)
		return 2;
	if (getenv("HBSTUCK_CORE")) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_CORE, &rl) < 0 || (rl.rlim_cur = rl.rlim_max) == 0 ||
		    setrlimit(RLIMIT_CORE, &rl) < 0)
			return 2;
	}
	signal(SIGABRT, on_abrt);
	r = hb_register_wait(argv[1], 10000, 5000);
	if (r < 0) {
		fprintf(stderr, "hbstuck: hb_register_wait: %s\n", strerror(-r));
		return 2;
	}
	if (pthread_create(&th, NULL, stuck, NULL) != 0)
		return 2;
	for (;;) {
		hb_beat();
		sleep_ms(50);
	}
}
