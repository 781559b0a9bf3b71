/* bench_register: N processes register at once.
 *
 *   bench_register HBWATCH [N [ROUNDS]]        (defaults: 1000, 3)
 *
 * Each round starts the real hbwatch (private IPC namespace, private key,
 * a table of 1024 slots, the default) and forks N processes that wait at a
 * barrier (a pipe whose write end the parent closes); released together,
 * each times hb_register() with CLOCK_MONOTONIC and reports it, then holds
 * its registration until killed.  The daemon runs throughout (it is woken
 * by every registration's doorbell and adopts the slots as they come).
 *   total  = last registration done - release
 *   per registration: median, p99, max (as each client saw it)
 * Then the table is read back (internal API) and checked: every child in
 * exactly one slot, no slot for anyone else: duplicates and lost slots
 * must be 0.  Prints figures and RESULT {json}; never asserts.
 */
#include <stdbool.h>

#include "bench_common.h"
#include "table.h"

#define BENCH_KEY 0x4bd7e7cau

struct rep {
	int32_t pid;
	int32_t r;
	uint64_t t0, t1;
};

static void child(int ready_fd, int go_fd, int rep_fd)
{
	struct rep x = {.pid = getpid()};
	char c;

	if (write(ready_fd, "r", 1) != 1)
		_exit(3);
	if (read(go_fd, &c, 1) < 0)
		_exit(4);
	x.t0 = bench_now();
	x.r = hb_register("reg", 60000);
	x.t1 = bench_now();
	if (write(rep_fd, &x, sizeof(x)) != sizeof(x))
		_exit(5);
	for (;;)
		pause();
}

static int cmp_pid(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

struct round {
	double total_ms, med_us, p99_us, max_us;
	unsigned ok, failed, dup, lost, foreign;
};

static int one_round(const char *hbwatch, unsigned n, struct round *o)
{
	struct bench_daemon d = {0};
	char conf[256];
	int ready[2], go[2], rep[2];
	pid_t *pids = calloc(n, sizeof(*pids));
	struct rep *reps = calloc(n, sizeof(*reps));
	int64_t *dur = calloc(n, sizeof(*dur));
	unsigned got = 0;

	*o = (struct round){0};
	snprintf(conf, sizeof(conf),
		 "[hbwatch]\nkey = 0x%x\nslots = 1024\ngroup =\n\n[reg]\naction = log\n",
		 BENCH_KEY);
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
			child(ready[1], go[0], rep[1]);
		}
	}
	close(ready[1]);
	close(go[0]);
	close(rep[1]);
	char c;
	for (unsigned k = 0; k < n && read(ready[0], &c, 1) == 1; k++)
		;
	bench_sleep(200000000u);
	uint64_t release = bench_now(), last = release;
	close(go[1]);
	while (got < n && read(rep[0], &reps[got], sizeof(reps[got])) == sizeof(reps[got]))
		got++;
	for (unsigned i = 0; i < got; i++) {
		if (reps[i].r < 0) {
			o->failed++;
			continue;
		}
		dur[o->ok++] = (int64_t)(reps[i].t1 - reps[i].t0);
		if (reps[i].t1 > last)
			last = reps[i].t1;
	}
	/* Verify the table: every successful child exactly once, nobody else. */
	struct hb_table t;
	int *seen = calloc(n + 1, sizeof(*seen));
	int *sorted = calloc(n, sizeof(*sorted));
	for (unsigned i = 0; i < n; i++)
		sorted[i] = pids[i];
	qsort(sorted, n, sizeof(*sorted), cmp_pid);
	if (table_attach((int)BENCH_KEY, true, &t, NULL, 0) == 0) {
		for (uint32_t i = 0; i < t.slot_count; i++) {
			struct hb_slot_view v;
			if (table_slot_read(&t, i, &v) < 0 || v.pid == 0)
				continue;
			int *p = bsearch(&v.pid, sorted, n, sizeof(*sorted), cmp_pid);
			if (!p)
				o->foreign++;
			else if (seen[p - sorted]++)
				o->dup++;
		}
		table_detach(&t);
		for (unsigned i = 0; i < got; i++) {
			if (reps[i].r < 0)
				continue;
			int *p = bsearch(&reps[i].pid, sorted, n, sizeof(*sorted), cmp_pid);
			if (!p || !seen[p - sorted])
				o->lost++;
		}
	} else {
		o->lost = o->ok;
	}
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	bench_daemon_stop(&d, 0);
	bench_remove_ipc(BENCH_KEY);
	close(ready[0]);
	close(rep[0]);
	qsort(dur, o->ok, sizeof(*dur), bench_cmp_i64);
	o->total_ms = (double)(last - release) / 1e6;
	o->med_us = (double)bench_pct_i64(dur, o->ok, 50) / 1e3;
	o->p99_us = (double)bench_pct_i64(dur, o->ok, 99) / 1e3;
	o->max_us = o->ok ? (double)dur[o->ok - 1] / 1e3 : 0;
	free(pids);
	free(reps);
	free(dur);
	free(seen);
	free(sorted);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000;
	unsigned rounds = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 3;
	double tot[32], med[32], p99[32], mx[32];
	unsigned ok = 0, dup = 0, lost = 0, foreign = 0, failed = 0;

	if (argc < 2 || n == 0 || n > 1024 || rounds == 0 || rounds > 32) {
		fprintf(stderr, "usage: bench_register HBWATCH [N (1..1024) [ROUNDS]]\n");
		return 2;
	}
	int ns = bench_isolate(BENCH_KEY);
	printf("registration: %u processes released at once, table of 1024 slots, hbwatch "
	       "running%s\n\n",
	       n, ns ? "; private IPC namespace" : "");
	printf("%-6s %10s %12s %12s %12s %6s %6s %6s %7s\n", "round", "total ms", "median us",
	       "p99 us", "max us", "ok", "dup", "lost", "failed");
	for (unsigned r = 0; r < rounds; r++) {
		struct round x;
		if (one_round(argv[1], n, &x) < 0) {
			fprintf(stderr, "round %u: cannot start hbwatch\n", r + 1);
			continue;
		}
		printf("%-6u %10.1f %12.1f %12.1f %12.1f %6u %6u %6u %7u\n", r + 1, x.total_ms,
		       x.med_us, x.p99_us, x.max_us, x.ok, x.dup, x.lost, x.failed);
		tot[ok] = x.total_ms;
		med[ok] = x.med_us;
		p99[ok] = x.p99_us;
		mx[ok] = x.max_us;
		dup += x.dup;
		lost += x.lost;
		foreign += x.foreign;
		failed += x.failed;
		ok++;
	}
	if (!ok)
		return 1;
	double mt = bench_median_d(tot, ok), mm = bench_median_d(med, ok),
	       mp = bench_median_d(p99, ok), mmax = bench_median_d(mx, ok);
	printf("\nmedian of rounds: total %.1f ms, per registration median %.1f us, p99 %.1f us, "
	       "max %.1f us\nslots: %u duplicate, %u lost, %u foreign; %u registrations failed\n",
	       mt, mm, mp, mmax, dup, lost, foreign, failed);
	printf("RESULT {\"bench\":\"register\",\"n\":%u,\"rounds\":%u,\"total_ms\":%.1f,"
	       "\"median_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"duplicates\":%u,\"lost\":%u,"
	       "\"foreign\":%u,\"failed\":%u}\n",
	       n, ok, mt, mm, mp, mmax, dup, lost, foreign, failed);
	return 0;
}
