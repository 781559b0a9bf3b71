/* bench_sdwd_victim: the main process of a Type=notify unit under a real
 * systemd, for systemd's own WatchdogSec= on bench_detect's hang schedule.
 *
 *   bench_sdwd_victim SCHEDULE INSTANCE K N OUTFILE STATEDIR
 *
 * Instance I (1..K) plays hangs I-1, I-1+K, I-1+2K, ... of the first N
 * lines of SCHEDULE ("idx wave offset_ms timeout_ms beat_for_ms"), one per
 * start of the unit (a counter in STATEDIR says which; the unit restarts on
 * failure).  It sets its watchdog timeout to the hang's timeout with
 * WATCHDOG_USEC=, pings WATCHDOG=1 every timeout/4 for beat_for, then stops.
 * systemd's WatchdogSignal= (SIGABRT, the default) arrives in the handler,
 * which appends "idx timeout_ms late_ms" to OUTFILE: arrival - (last
 * WATCHDOG=1 + timeout), the same measure as bench_detect's.  (systemd
 * stamps the ping when it reads it, a few µs after we send it: that delay
 * is counted against systemd here.)  When its share is done it exits 0, a
 * clean exit that Restart=on-failure does not restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t deadline_ns;
static volatile int hang_idx;
static volatile unsigned hang_timeout_ms;
static int out_fd = -1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_abort(int sig)
{
	int64_t late = (int64_t)(now_ns() - deadline_ns);
	char line[96];
	int n;

	(void)sig;
	/* snprintf is not async-signal-safe in theory; the main thread is in
	 * pause() and touches nothing, so nothing can be interrupted. */
	n = snprintf(line, sizeof(line), "%d %u %.6f\n", hang_idx, hang_timeout_ms,
		     (double)late / 1e6);
	if (write(out_fd, line, (size_t)n) != n)
		_exit(3);
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned inst, k, n, count = 0, timeout_ms = 0, beat_for_ms = 0;
	char path[512], line[256];
	FILE *f;
	int idx;

	if (argc != 7) {
		fprintf(stderr,
			"usage: bench_sdwd_victim SCHEDULE INSTANCE K N OUTFILE STATEDIR\n");
		return 2;
	}
	inst = (unsigned)strtoul(argv[2], NULL, 10);
	k = (unsigned)strtoul(argv[3], NULL, 10);
	n = (unsigned)strtoul(argv[4], NULL, 10);
	snprintf(path, sizeof(path), "%s/count-%u", argv[6], inst);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%u", &count) != 1)
			count = 0;
		fclose(f);
	}
	idx = (int)(inst - 1 + count * k);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%u\n", count + 1);
	fclose(f);
	if ((unsigned)idx >= n) {
		sd_notify(0, "READY=1");
		return 0; /* share done: a clean exit, not restarted */
	}
	f = fopen(argv[1], "r");
	if (!f)
		return 1;
	for (int i = 0; fgets(line, sizeof(line), f); i++) {
		unsigned li, wave;
		double off;
		if (i == idx && sscanf(line, "%u %u %lf %u %u", &li, &wave, &off, &timeout_ms,
				       &beat_for_ms) == 5)
			break;
		timeout_ms = 0;
	}
	fclose(f);
	if (timeout_ms == 0)
		return 1;
	out_fd = open(argv[5], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (out_fd < 0)
		return 1;
	hang_idx = idx;
	hang_timeout_ms = timeout_ms;
	struct sigaction sa = {.sa_handler = on_abort};
	sigaction(SIGABRT, &sa, NULL);

	char msg[64];
	snprintf(msg, sizeof(msg), "READY=1\nWATCHDOG_USEC=%llu",
		 (unsigned long long)timeout_ms * 1000u);
	sd_notify(0, msg);
	uint64_t start = now_ns(), period = (uint64_t)timeout_ms * 1000000u / 4;
	while (now_ns() - start < (uint64_t)beat_for_ms * 1000000u) {
		sd_notify(0, "WATCHDOG=1");
		struct timespec ts = {.tv_sec = (time_t)(period / 1000000000u),
				      .tv_nsec = (long)(period % 1000000000u)};
		nanosleep(&ts, NULL);
	}
	uint64_t last = now_ns();
	sd_notify(0, "WATCHDOG=1");
	deadline_ns = last + (uint64_t)timeout_ms * 1000000u;
	for (;;)
		pause();
}
