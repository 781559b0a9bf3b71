/* bench_escalate: N processes hang at once and all ignore the first signal;
 * how long until the last one is gone?
 *
 *   bench_escalate HBWATCH [N [KILL_GRACE_MS [ROUNDS]]]   (100, 1000, 3)
 *
 * Each round starts the real hbwatch (private IPC namespace, private key)
 * with signal = SIGTERM and kill_grace = KILL_GRACE_MS, forks N workers
 * that set SIGTERM to SIG_IGN, register with a 200 ms timeout and beat
 * every 20 ms at a barrier; on "go" each beats once more (reporting the
 * time) and hangs.
 * hbwatch must send SIGTERM to all, then SIGKILL to all after kill_grace,
 * in parallel.  The parent reaps them and notes when the last one is gone.
 *   overhead = last gone - (latest deadline + kill_grace)
 * Target: last gone within kill_grace + 50 ms of the deadline (overhead
 * < 50 ms).  The serial guardian (SIGTERM, 5 s wait, SIGKILL, one victim
 * after another) would need N x its wait for the same.
 * Prints figures and RESULT {json}; never asserts.
 */
#include <poll.h>
#include <stdbool.h>

#include <hbwatch.h>

#include "bench_common.h"

#define BENCH_KEY  0x4bd7e7c8u
#define TIMEOUT_MS 200u

static void worker(int ready_fd, int go_fd, int report_fd)
{
	char c;

	signal(SIGTERM, SIG_IGN);
	if (hb_register("esc", TIMEOUT_MS) < 0)
		_exit(2);
	hb_beat();
	if (write(ready_fd, "r", 1) != 1)
		_exit(3);
	/* Beat while waiting for "go" (EOF on the pipe), so nobody's deadline
	 * passes before the common start. */
	for (;;) {
		struct pollfd p = {.fd = go_fd, .events = POLLIN};
		int r = poll(&p, 1, 20);
		if (r > 0) {
			if (read(go_fd, &c, 1) <= 0)
				break;
		} else if (r < 0 && errno != EINTR) {
			_exit(4);
		}
		hb_beat();
	}
	uint64_t last = now_ns();
	hb_beat();
	if (write(report_fd, &last, sizeof(last)) != sizeof(last))
		_exit(5);
	for (;;)
		pause();
}

struct round {
	double first_ms, last_ms, overhead_ms;
	unsigned gone, by_sigkill;
};

static int one_round(const char *hbwatch, unsigned n, unsigned grace_ms, struct round *out)
{
	struct bench_daemon d = {0};
	char conf[512];
	int ready[2], go[2], rep[2];
	pid_t *pids = calloc(n, sizeof(*pids));
	uint64_t max_dl = 0, min_dl = UINT64_MAX, last_gone = 0;

	snprintf(conf, sizeof(conf),
		 "[hbwatch]\nkey = 0x%x\nslots = %u\ngroup =\nkill_grace = %ums\n\n"
		 "[esc]\naction = kill\nsignal = SIGTERM\nkill_burst = 1000\n"
		 "kill_interval = 1ms\n",
		 BENCH_KEY, n + 64, grace_ms);
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		return -1;
	if (bench_daemon_start(&d, hbwatch, conf, BENCH_KEY, n + 256) < 0) {
		bench_daemon_stop(&d, 1);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(go[1]);
			worker(ready[1], go[0], rep[1]);
		}
	}
	close(ready[1]);
	close(go[0]);
	close(rep[1]);
	char c;
	unsigned ready_n = 0;
	while (ready_n < n && read(ready[0], &c, 1) == 1)
		ready_n++;
	bench_sleep(300000000u); /* the daemon adopts them (doorbell) */
	close(go[1]);		 /* go */
	for (unsigned i = 0; i < ready_n; i++) {
		uint64_t t;
		if (read(rep[0], &t, sizeof(t)) != sizeof(t))
			break;
		if (t + TIMEOUT_MS * 1000000ull > max_dl)
			max_dl = t + TIMEOUT_MS * 1000000ull;
		if (t + TIMEOUT_MS * 1000000ull < min_dl)
			min_dl = t + TIMEOUT_MS * 1000000ull;
	}
	out->gone = out->by_sigkill = 0;
	uint64_t first_gone = 0,
		 give_up = now_ns() + (uint64_t)grace_ms * 1000000u + 10000000000ull;
	while (out->gone < n && now_ns() < give_up) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p == d.pid)
			break; /* the daemon died: stop */
		if (p <= 0) {
			bench_sleep(200000u);
			continue;
		}
		uint64_t t = now_ns();
		if (!first_gone)
			first_gone = t;
		last_gone = t;
		out->gone++;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			out->by_sigkill++;
	}
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0 && kill(pids[i], 0) == 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	bench_daemon_stop(&d, out->gone < n);
	bench_remove_ipc(BENCH_KEY);
	close(ready[0]);
	close(rep[0]);
	free(pids);
	out->first_ms = ((double)first_gone - (double)min_dl) / 1e6;
	out->last_ms = ((double)last_gone - (double)max_dl) / 1e6;
	out->overhead_ms = out->last_ms - grace_ms;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 100;
	unsigned grace = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1000;
	unsigned rounds = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 3;
	double last[32], over[32];
	unsigned ok = 0, all_gone = 1;

	if (argc < 2 || n == 0 || rounds == 0 || rounds > 32) {
		fprintf(stderr, "usage: bench_escalate HBWATCH [N [KILL_GRACE_MS [ROUNDS]]]\n");
		return 2;
	}
	int ns = bench_isolate(BENCH_KEY);
	printf("escalation: %u processes hang at once and ignore SIGTERM; kill_grace %u ms%s\n\n",
	       n, grace, ns ? "; private IPC namespace" : "");
	printf("%-6s %8s %10s %16s %18s %14s\n", "round", "gone", "by SIGKILL", "first gone, ms",
	       "last gone, ms", "overhead, ms");
	for (unsigned r = 0; r < rounds; r++) {
		struct round x;
		if (one_round(argv[1], n, grace, &x) < 0) {
			fprintf(stderr, "round %u: cannot start hbwatch\n", r + 1);
			continue;
		}
		printf("%-6u %8u %10u %16.1f %18.1f %14.1f\n", r + 1, x.gone, x.by_sigkill,
		       x.first_ms, x.last_ms, x.overhead_ms);
		if (x.gone < n)
			all_gone = 0;
		last[ok] = x.last_ms;
		over[ok] = x.overhead_ms;
		ok++;
	}
	if (!ok)
		return 1;
	double lmed = bench_median_d(last, ok), omed = bench_median_d(over, ok);
	double omax = over[ok - 1];
	double serial_s = (double)n * 5.0;
	printf(
	    "\n(times after the deadline; first = earliest deadline to first reap, last = latest "
	    "deadline to last reap)\nmedian last gone %.1f ms = kill_grace + %.1f ms (target < "
	    "kill_grace + 50 ms; worst round + %.1f ms)\n",
	    lmed, omed, omax);
	printf("a serial guardian (5 s wait per victim) needs ~%.0f s for the same %u\n", serial_s,
	       n);
	printf("RESULT {\"bench\":\"escalate\",\"n\":%u,\"kill_grace_ms\":%u,\"rounds\":%u,"
	       "\"all_gone\":%s,\"last_gone_median_ms\":%.1f,\"overhead_median_ms\":%.1f,"
	       "\"overhead_max_ms\":%.1f,\"serial_guardian_s\":%.0f}\n",
	       n, grace, ok, all_gone ? "true" : "false", lmed, omed, omax, serial_s);
	return 0;
}
