/* The cost of triage_read() on the kill path: a target with 1 and with 64
 * threads (asleep, one of them blocked on a pipe, or spinning), read in
 * full (no budget) and with the daemon's budget (TRIAGE_BUDGET_NS).  Then
 * what the verdict adds at a miss (verdict_read() and verdict_decide():
 * status, schedstat, cgroups, freezer, cpu.stat, PSI) and per CPU sample
 * (verdict_sample()).
 * Prints figures and a final RESULT {json} line; never asserts.
 *
 * bench_triage [ITERATIONS]   (default 2000) */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "triage.h"
#include "verdict.h"
#include "verdict_read.h"

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return arg;
}

/* A child with THREADS threads in all, asleep.  Returns its pid. */
static pid_t target(unsigned threads)
{
	int ready[2];
	char c;
	pid_t pid;

	if (pipe(ready) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (unsigned i = 1; i < threads; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, sleeper, NULL) != 0)
				_exit(1);
		}
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		exit(1);
	close(ready[0]);
	close(ready[1]);
	usleep(50000); /* every thread asleep */
	return pid;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct figure {
	double median_us, p99_us, mean_us;
	double seen; /* threads read, on average */
};

static struct figure run(pid_t pid, uint64_t start, uint64_t budget, unsigned n)
{
	uint64_t *t = calloc(n, sizeof(*t)), sum = 0, seen = 0;
	struct triage_facts f;
	struct figure fig;

	if (!t)
		exit(1);
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now();
		if (triage_read(pid, start, budget, &f) < 0) {
			fprintf(stderr, "bench_triage: triage_read failed: %s\n", f.why);
			exit(1);
		}
		t[i] = now() - t0;
		sum += t[i];
		seen += f.seen;
	}
	qsort(t, n, sizeof(*t), cmp);
	fig = (struct figure){.median_us = (double)t[n / 2] / 1e3,
			      .p99_us = (double)t[n * 99 / 100] / 1e3,
			      .mean_us = (double)sum / n / 1e3,
			      .seen = (double)seen / n};
	free(t);
	return fig;
}

/* What the verdict adds at a miss (READ: verdict_read() then
 * verdict_decide()) or per sample (verdict_sample()), N times. */
static struct figure run_verdict(pid_t pid, bool read, unsigned n)
{
	uint64_t *t = calloc(n, sizeof(*t)), sum = 0;
	struct verdict_mark m = {0};
	struct verdict_policy p = {.starve_grace_ns = 1000000000u};
	struct verdict_facts f;
	struct figure fig;
	char why[160];

	if (!t)
		exit(1);
	verdict_sample(&m, pid, 0, now());
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now();
		if (read) {
			(void)verdict_read(pid, 0, &m, now(), &f);
			(void)verdict_decide(&f, &p, why, sizeof(why));
		} else {
			verdict_sample(&m, pid, 0, t0);
		}
		t[i] = now() - t0;
		sum += t[i];
	}
	qsort(t, n, sizeof(*t), cmp);
	fig = (struct figure){.median_us = (double)t[n / 2] / 1e3,
			      .p99_us = (double)t[n * 99 / 100] / 1e3,
			      .mean_us = (double)sum / n / 1e3};
	free(t);
	return fig;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000;
	static const unsigned threads[] = {1, 64};
	struct figure full[2], budget[2];
	double cold[2];
	unsigned cold_seen[2];

	if (n < 100)
		n = 100;
	for (int k = 0; k < 2; k++) {
		pid_t pid = target(threads[k]);
		uint64_t start;
		int st;

		if (proc_starttime(pid, &start) < 0)
			return 1;
		/* The first look at a process makes the kernel's /proc entries
		 * for it: the price of a process never looked at before. */
		struct triage_facts f;
		uint64_t t0 = now();
		(void)triage_read(pid, start, TRIAGE_BUDGET_NS, &f);
		cold[k] = (double)(now() - t0) / 1e3;
		cold_seen[k] = f.seen;
		printf("%2u thread%s: first look (cold) %.1f us, %u threads read\n", threads[k],
		       threads[k] == 1 ? " " : "s", cold[k], f.seen);
		full[k] = run(pid, start, UINT64_MAX, n);
		budget[k] = run(pid, start, TRIAGE_BUDGET_NS, n);
		printf("%2u thread%s: full read   median %7.1f us  p99 %7.1f us  mean %7.1f us  "
		       "(%.1f threads read)\n",
		       threads[k], threads[k] == 1 ? " " : "s", full[k].median_us, full[k].p99_us,
		       full[k].mean_us, full[k].seen);
		printf("%2u thread%s: with budget median %7.1f us  p99 %7.1f us  mean %7.1f us  "
		       "(%.1f threads read, budget %u us)\n",
		       threads[k], threads[k] == 1 ? " " : "s", budget[k].median_us,
		       budget[k].p99_us, budget[k].mean_us, budget[k].seen,
		       (unsigned)(TRIAGE_BUDGET_NS / 1000u));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	pid_t pid = target(1);
	int st;
	struct figure vr = run_verdict(pid, true, n), vs = run_verdict(pid, false, n);

	printf("verdict at a miss:    median %7.1f us  p99 %7.1f us  mean %7.1f us  (status, "
	       "schedstat, cgroups, freezer, cpu.stat, PSI; decided)\n",
	       vr.median_us, vr.p99_us, vr.mean_us);
	printf("verdict per sample:   median %7.1f us  p99 %7.1f us  mean %7.1f us  (schedstat, "
	       "cgroup, cpu.stat)\n",
	       vs.median_us, vs.p99_us, vs.mean_us);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	printf("RESULT {\"bench\":\"triage\",\"iterations\":%u,"
	       "\"full_1_median_us\":%.1f,\"full_64_median_us\":%.1f,"
	       "\"budget_1_median_us\":%.1f,\"budget_64_median_us\":%.1f,"
	       "\"budget_64_threads_read\":%.1f,\"cold_1_us\":%.1f,\"cold_64_us\":%.1f,"
	       "\"cold_64_threads_read\":%u,\"verdict_median_us\":%.1f,\"verdict_p99_us\":%.1f,"
	       "\"verdict_sample_median_us\":%.1f,\"verdict_sample_p99_us\":%.1f}\n",
	       n, full[0].median_us, full[1].median_us, budget[0].median_us, budget[1].median_us,
	       budget[1].seen, cold[0], cold[1], cold_seen[1], vr.median_us, vr.p99_us,
	       vs.median_us, vs.p99_us);
	return 0;
}
