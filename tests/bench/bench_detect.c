/* bench_detect: how long after its deadline a hung process receives
 * hbwatch's signal, and what the teaching design's guardian would have
 * done on the same hangs.
 *
 *   bench_detect HBWATCH [HANGS [WAVE [BACKGROUND [OUTDIR]]]]
 *   (defaults: 200 hangs, waves of 25, 1000 background beaters)
 *
 * hbwatch (measured).  Starts the real hbwatch on a private key in a
 * private IPC namespace.  BACKGROUND processes register ("background",
 * timeout 3 s, action = log) and beat once a second, each at its own phase,
 * for the whole run.  Then HANGS workers run in waves of WAVE concurrent
 * processes.  Each registers with a timeout drawn log-uniformly from
 * 50 ms..2 s, beats every timeout/4 for a random 0..500 ms, notes the time
 * of its last beat, and stops beating.  Its SIGABRT handler reads
 * CLOCK_MONOTONIC on arrival and reports arrival - (last beat + timeout)
 * through a pipe: the latency as the victim sees it, including hbwatch's
 * timer wake-up, scan, checks and signal delivery.  The next wave starts
 * when every worker of the last one is gone.
 *
 * The guardian (simulated, same hangs).  The teaching design's checkproc,
 * run in a loop "scan; sleep 10 s": a pass walks the table in slot order,
 * and for each expired process sends SIGTERM, waits 5 s, sends SIGKILL, and
 * only then looks at the next slot.  Running it for real would take hours,
 * and its timeline is fully determined by the schedule, so we replay the
 * measured schedule (each hang's deadline as an offset from its wave's
 * start, its slot order = fork order) through that loop as a discrete-event
 * simulation: a wave starts when the guardian has signalled every hang of
 * the previous one (the victim dies on the signal), passes are 10 s after
 * the previous pass ended, each signalled victim costs the pass 5 s.  The
 * guardian's phase relative to the first hang is unknowable, so the
 * simulation is run for 100 phases spread evenly over the 10 s and the
 * latencies pooled.  It is generous to the guardian: its deadlines are
 * exact here (the original compares whole seconds of time(0)).  A second
 * variant uses checkproc's literal wait (poll once a second for up to 5 s,
 * so a victim that dies on SIGTERM costs 1 s).
 *
 * With OUTDIR, writes OUTDIR/schedule.txt (idx wave offset_ms timeout_ms
 * beat_for_ms), OUTDIR/hbwatch.dat and OUTDIR/guardian.dat (one latency in
 * ms per line) for bench_detect.sh (systemd's WatchdogSec= on the same
 * schedule, the plot).  Prints a table and a final RESULT {json} line.
 * Not a test: it never fails on a figure.
 */
#include <math.h>
#include <poll.h>
#include <stdbool.h>

#include <hbwatch.h>

#include "bench_common.h"

#define BENCH_KEY	0x4bd7e7c7u
#define GUARD_PERIOD_NS (10000000000ull)
#define GUARD_WAIT_NS	(5000000000ull)
#define GUARD_POLL_NS	(1000000000ull)
#define GUARD_PHASES	100u
#define BG_TIMEOUT_MS	3000u
#define BG_PERIOD_NS	(1000000000ull)

struct report {
	int32_t idx;
	int32_t pad;
	int64_t late_ns;
};

struct hang {
	unsigned wave;
	unsigned timeout_ms;
	unsigned beat_for_ms;
	uint64_t offset_ns; /* deadline - wave start, measured */
	int64_t late_ns;
	bool got;
};

static volatile uint64_t worker_deadline;
static volatile int32_t worker_idx;
static int worker_report_fd = -1;

static void on_abort(int sig)
{
	struct report r = {.idx = worker_idx, .late_ns = (int64_t)(now_ns() - worker_deadline)};

	(void)sig;
	if (write(worker_report_fd, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	_exit(0);
}

/* A worker: register, beat for BEAT_FOR_MS, then hang until signalled.
 * Also reports its deadline (as a negative idx record) for the schedule. */
static void worker(int idx, unsigned timeout_ms, unsigned beat_for_ms, int report_fd, int sched_fd)
{
	struct sigaction sa = {.sa_handler = on_abort};
	uint64_t start, last, period = (uint64_t)timeout_ms * 1000000u / 4;

	worker_report_fd = report_fd;
	worker_idx = idx;
	sigaction(SIGABRT, &sa, NULL);
	if (hb_register("bench", timeout_ms) < 0)
		_exit(2);
	start = now_ns();
	while (now_ns() - start < (uint64_t)beat_for_ms * 1000000u) {
		hb_beat();
		bench_sleep(period);
	}
	/* Read the clock before the beat: the deadline we compute is never
	 * later than the one hbwatch sees, so latencies are not flattered. */
	last = now_ns();
	hb_beat();
	worker_deadline = last + (uint64_t)timeout_ms * 1000000u;
	uint64_t dl[2] = {(uint64_t)idx, worker_deadline};
	if (write(sched_fd, dl, sizeof(dl)) != sizeof(dl))
		_exit(4);
	for (;;)
		pause();
}

/* A background process that beats once a second until killed. */
static void beater(int ready_fd, unsigned i)
{
	if (hb_register("background", BG_TIMEOUT_MS) < 0)
		_exit(2);
	if (write(ready_fd, "r", 1) != 1)
		_exit(3);
	close(ready_fd);
	bench_sleep((uint64_t)(i * 7919u % 1000u) * 1000000u); /* spread the phases */
	uint64_t next = now_ns();
	for (;;) {
		hb_beat();
		next += BG_PERIOD_NS;
		bench_sleep_until(next);
	}
}

/* The guardian loop on the schedule, first pass at PHASE after the first
 * wave's start; WAIT_NS is what each signalled victim costs the pass.
 * Appends one latency per hang to OUT (ns). */
static void guardian_sim(const struct hang *h, unsigned n, unsigned wave, uint64_t phase,
			 uint64_t wait_ns, int64_t *out, size_t *n_out)
{
	uint64_t t = 0, pass = phase;
	bool *sig = calloc(n, sizeof(*sig));

	for (unsigned w0 = 0; w0 < n; w0 += wave) {
		unsigned w1 = w0 + wave < n ? w0 + wave : n, left = w1 - w0;
		uint64_t last_signal = t;

		while (left) {
			uint64_t c = pass;
			for (unsigned i = w0; i < w1; i++) {
				if (sig[i] || t + h[i].offset_ns > c)
					continue;
				sig[i] = true;
				left--;
				out[(*n_out)++] = (int64_t)(c - (t + h[i].offset_ns));
				last_signal = c;
				c += wait_ns;
			}
			pass = c + GUARD_PERIOD_NS;
		}
		t = last_signal; /* the wave's last victim died on its signal */
	}
	free(sig);
}

struct stats {
	double min, med, p99, max;
	size_t n;
};

static struct stats stats_of(int64_t *v, size_t n)
{
	struct stats s = {.n = n};

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), bench_cmp_i64);
	s.min = (double)v[0] / 1e6;
	s.med = (double)bench_pct_i64(v, n, 50) / 1e6;
	s.p99 = (double)bench_pct_i64(v, n, 99) / 1e6;
	s.max = (double)v[n - 1] / 1e6;
	return s;
}

static void write_dat(const char *dir, const char *name, const int64_t *v, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%.6f\n", (double)v[i] / 1e6);
	fclose(f);
}

int main(int argc, char **argv)
{
	unsigned hangs = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200;
	unsigned wave = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 25;
	unsigned background = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1000;
	const char *outdir = argc > 5 ? argv[5] : NULL;
	struct bench_daemon d = {0};
	struct hang *h;
	pid_t *bg, *wk;
	unsigned failed = 0, bg_ok = 0;
	int pipefd[2], schedfd[2], readyfd[2];
	char conf[1024];
	int ns;

	if (argc < 2 || hangs == 0 || wave == 0) {
		fprintf(stderr,
			"usage: bench_detect HBWATCH [HANGS [WAVE [BACKGROUND [OUTDIR]]]]\n");
		return 2;
	}
	ns = bench_isolate(BENCH_KEY);
	/* The daemon holds a pidfd per registration: room for all of them. */
	rlim_t nofile = background + wave + 256;
	if (nofile < 1024)
		nofile = 1024;
	snprintf(conf, sizeof(conf),
		 "[hbwatch]\nkey = 0x%x\nslots = %u\ngroup =\nkill_grace = 5s\n\n"
		 "[bench]\naction = kill\nsignal = SIGABRT\nkill_burst = 1000\n"
		 "kill_interval = 1ms\n\n[background]\naction = log\n",
		 BENCH_KEY, background + wave + 64 > 65536 ? 65536 : background + wave + 64);
	if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(schedfd, O_CLOEXEC) < 0 ||
	    pipe2(readyfd, O_CLOEXEC) < 0) {
		perror("pipe");
		return 1;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	fcntl(schedfd[0], F_SETFL, O_NONBLOCK);
	if (bench_daemon_start(&d, argv[1], conf, BENCH_KEY, nofile) < 0) {
		fprintf(stderr, "cannot start %s\n", argv[1]);
		bench_daemon_stop(&d, 1);
		bench_remove_ipc(BENCH_KEY);
		return 1;
	}

	bg = calloc(background + 1, sizeof(*bg));
	wk = calloc(wave, sizeof(*wk));
	h = calloc(hangs, sizeof(*h));
	for (unsigned i = 0; i < background; i++) {
		bg[i] = fork();
		if (bg[i] == 0) {
			close(readyfd[0]);
			beater(readyfd[1], i);
		}
	}
	close(readyfd[1]);
	{
		char c;
		while (bg_ok < background && read(readyfd[0], &c, 1) == 1)
			bg_ok++;
		close(readyfd[0]);
	}
	bench_sleep(1000000000u); /* let the daemon adopt them all */
	uint64_t cpu0 = bench_cpu_ns(d.pid);

	srand(42);
	for (unsigned i = 0; i < hangs; i++) {
		double u = (double)rand() / RAND_MAX;
		h[i].wave = i / wave;
		h[i].timeout_ms = (unsigned)lround(50.0 * exp(u * log(2000.0 / 50.0)));
		h[i].beat_for_ms = (unsigned)(rand() % 501);
	}
	uint64_t t_run = now_ns();
	for (unsigned w0 = 0; w0 < hangs; w0 += wave) {
		unsigned n = hangs - w0 < wave ? hangs - w0 : wave;
		uint64_t wave_start = now_ns();

		for (unsigned i = 0; i < n; i++) {
			struct hang *x = &h[w0 + i];
			wk[i] = fork();
			if (wk[i] == 0) {
				close(pipefd[0]);
				close(schedfd[0]);
				worker((int)(w0 + i), x->timeout_ms, x->beat_for_ms, pipefd[1],
				       schedfd[1]);
			}
		}
		for (unsigned i = 0; i < n; i++) {
			int status;
			if (wk[i] <= 0 || waitpid(wk[i], &status, 0) < 0) {
				failed++;
				continue;
			}
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed++;
		}
		uint64_t dl[2];
		while (read(schedfd[0], dl, sizeof(dl)) == sizeof(dl))
			if (dl[0] < hangs)
				h[dl[0]].offset_ns = dl[1] - wave_start;
		struct report r;
		while (read(pipefd[0], &r, sizeof(r)) == sizeof(r))
			if (r.idx >= 0 && (unsigned)r.idx < hangs) {
				h[r.idx].late_ns = r.late_ns;
				h[r.idx].got = true;
			}
	}
	uint64_t t_end = now_ns();
	uint64_t cpu1 = bench_cpu_ns(d.pid);
	unsigned long hwm = bench_status_kb(d.pid, "VmHWM");
	for (unsigned i = 0; i < background; i++)
		if (bg[i] > 0)
			kill(bg[i], SIGKILL);
	for (unsigned i = 0; i < background; i++)
		if (bg[i] > 0)
			waitpid(bg[i], NULL, 0);
	bench_daemon_stop(&d, failed > 0);
	bench_remove_ipc(BENCH_KEY);

	/* hbwatch's figures, and the schedule of the hangs it measured. */
	int64_t *lat = calloc(hangs, sizeof(*lat));
	size_t got = 0;
	for (unsigned i = 0; i < hangs; i++)
		if (h[i].got)
			lat[got++] = h[i].late_ns;
	if (got == 0) {
		fprintf(stderr, "no measurements (%u workers failed); see %s\n", failed, d.log);
		return 1;
	}
	if (outdir) {
		char path[512];
		snprintf(path, sizeof(path), "%s/schedule.txt", outdir);
		FILE *f = fopen(path, "w");
		for (unsigned i = 0; f && i < hangs; i++)
			fprintf(f, "%u %u %.3f %u %u\n", i, h[i].wave, (double)h[i].offset_ns / 1e6,
				h[i].timeout_ms, h[i].beat_for_ms);
		if (f)
			fclose(f);
		write_dat(outdir, "hbwatch.dat", lat, got);
	}
	struct stats hb = stats_of(lat, got);

	/* The guardian on the same schedule, two variants of its wait. */
	int64_t *g5 = calloc((size_t)hangs * GUARD_PHASES, sizeof(*g5));
	int64_t *g1 = calloc((size_t)hangs * GUARD_PHASES, sizeof(*g1));
	size_t n5 = 0, n1 = 0;
	for (unsigned k = 0; k < GUARD_PHASES; k++) {
		uint64_t phase = GUARD_PERIOD_NS * k / GUARD_PHASES;
		guardian_sim(h, hangs, wave, phase, GUARD_WAIT_NS, g5, &n5);
		guardian_sim(h, hangs, wave, phase, GUARD_POLL_NS, g1, &n1);
	}
	if (outdir)
		write_dat(outdir, "guardian.dat", g5, n5);
	struct stats gs = stats_of(g5, n5), gc = stats_of(g1, n1);

	double span = (double)(t_end - t_run) / 1e9;
	printf("detection latency, deadline -> signal arrival (ms); %u hangs in waves of %u,\n"
	       "timeouts 50 ms..2 s log-uniform, %u background processes beating 1/s%s\n\n",
	       hangs, wave, bg_ok, ns ? ", private IPC namespace" : "");
	printf("%-34s %7s %10s %10s %10s %10s\n", "", "n", "min", "median", "p99", "max");
	printf("%-34s %7zu %10.3f %10.3f %10.3f %10.3f\n", "hbwatch (measured)", hb.n, hb.min,
	       hb.med, hb.p99, hb.max);
	printf("%-34s %7zu %10.0f %10.0f %10.0f %10.0f\n", "guardian 10s scan, 5s wait (sim)", gs.n,
	       gs.min, gs.med, gs.p99, gs.max);
	printf("%-34s %7zu %10.0f %10.0f %10.0f %10.0f\n", "guardian, checkproc's 1s poll (sim)",
	       gc.n, gc.min, gc.med, gc.p99, gc.max);
	printf("\nworkers failed: %u; hbwatch CPU during the waves: %.1f ms in %.1f s (%.3f%% of a "
	       "core); VmHWM %lu kB\n",
	       failed, (double)(cpu1 - cpu0) / 1e6, span, (double)(cpu1 - cpu0) / 1e7 / span, hwm);
	printf("guardian/hbwatch: median x%.0f, p99 x%.0f\n", gs.med / hb.med, gs.p99 / hb.p99);
	printf("RESULT {\"bench\":\"detect\",\"hangs\":%zu,\"failed\":%u,\"background\":%u,"
	       "\"hbwatch\":{\"min_ms\":%.3f,\"median_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f},"
	       "\"guardian\":{\"median_ms\":%.0f,\"p99_ms\":%.0f,\"max_ms\":%.0f},"
	       "\"guardian_checkproc\":{\"median_ms\":%.0f,\"p99_ms\":%.0f,\"max_ms\":%.0f},"
	       "\"guardian_over_hbwatch_median\":%.0f,\"guardian_over_hbwatch_p99\":%.0f,"
	       "\"daemon_cpu_pct\":%.3f,\"daemon_hwm_kb\":%lu}\n",
	       hb.n, failed, bg_ok, hb.min, hb.med, hb.p99, hb.max, gs.med, gs.p99, gs.max, gc.med,
	       gc.p99, gc.max, gs.med / hb.med, gs.p99 / hb.p99, (double)(cpu1 - cpu0) / 1e7 / span,
	       hwm);
	return 0;
}
