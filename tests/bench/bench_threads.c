/* bench_threads: per-beat cost as beating threads grow, and what keeping
 * each heartbeat on a cache line of its own buys.
 *
 *   bench_threads [ROUNDS [ROUND_MS]]       (defaults: 7 rounds of 200 ms)
 *
 * hb_beat() is one registration per process, so threads beat through the
 * internal API: one real heartbeat record per thread (record_create(), in
 * a private IPC namespace), and each thread runs exactly hb_beat()'s body
 * on its record: an acquire load of the published record pointer (NULL
 * when not registered), then a release store of CLOCK_MONOTONIC into the
 * record's beat_ns (record_beat()).
 *
 * Layouts:
 *   records  the real layout: each thread's beat_ns is in a record segment
 *            of its own, alone on its cache line (no two threads write the
 *            same line);
 *   packed   an artificial packed layout for contrast: 16-byte cells, four
 *            to a cache line, so neighbouring threads write the same line
 *            (false sharing).
 * Modes: "beat" (the clock read + store, what a beat costs) and "store"
 * (the store alone, a counter instead of the clock, which makes the cache
 * line traffic visible without the ~20 ns clock read in front of it).
 *
 * Threads: 1, 2 and 64; threads are pinned round-robin to the CPUs, so the
 * 2-thread cases really run at the same time on both cores.  Cost per beat
 * = the threads' CPU time (CLOCK_THREAD_CPUTIME_ID) / beats, so 64 threads
 * on 2 cores are compared fairly with 1.  Rounds rotate the order of the
 * cases; the report is the median of the rounds.  Flat across 1/2/64 means
 * no false sharing; "packed, 2" shows what sharing a line costs.
 * Prints a table and RESULT {json}; never asserts.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bench_common.h"
#include "clock.h"
#include "proc.h"
#include "record.h"

#define BENCH_KEY 0x4bd7e7c9u
#define MAX_THR	  64

struct packed_cell {
	_Atomic uint64_t beat_ns;
	uint64_t pad;
};
_Static_assert(sizeof(struct packed_cell) == 16, "packed cell");

static _Alignas(64) struct packed_cell packed[MAX_THR];
static struct hb_record *records[MAX_THR];
/* What each thread's "hb_beat()" loads first, as client.c loads its
 * published record: read-only while threads run, so shared clean. */
static _Alignas(64) _Atomic(_Atomic uint64_t *) published[2][MAX_THR];

enum layout { L_RECORDS, L_PACKED };
enum mode { M_BEAT, M_STORE };

struct job {
	pthread_t th;
	int idx;
	enum layout layout;
	enum mode mode;
	_Atomic bool *go, *stop;
	uint64_t ops, cpu_ns;
	unsigned long fails;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *run(void *arg)
{
	struct job *j = arg;
	_Atomic(_Atomic uint64_t *) *pub = &published[j->layout][j->idx];
	uint64_t ops = 0, c0;
	unsigned long fails = 0;

	while (!atomic_load_explicit(j->go, memory_order_acquire))
		;
	c0 = thread_cpu_ns();
	while (!atomic_load_explicit(j->stop, memory_order_relaxed)) {
		/* 64 beats between checks of the stop flag. */
		for (int k = 0; k < 64; k++) {
			/* hb_beat()'s body. */
			_Atomic uint64_t *beat = atomic_load_explicit(pub, memory_order_acquire);

			if (!beat) {
				fails++;
				continue;
			}
			atomic_store_explicit(beat,
					      j->mode == M_BEAT ? now_ns() : ops + (uint64_t)k,
					      memory_order_release);
		}
		ops += 64;
	}
	j->cpu_ns = thread_cpu_ns() - c0;
	j->ops = ops;
	j->fails = fails;
	return NULL;
}

static double one_case(int nthr, enum layout l, enum mode m, unsigned ms, unsigned long *fails)
{
	static struct job jobs[MAX_THR];
	_Atomic bool go = false, stop = false;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t ops = 0, cpu = 0;

	for (int i = 0; i < nthr; i++) {
		pthread_attr_t a;
		cpu_set_t set;

		jobs[i] = (struct job){.idx = i, .layout = l, .mode = m, .go = &go, .stop = &stop};
		pthread_attr_init(&a);
		CPU_ZERO(&set);
		CPU_SET((int)(i % (ncpu > 0 ? ncpu : 1)), &set);
		pthread_attr_setaffinity_np(&a, sizeof(set), &set);
		pthread_create(&jobs[i].th, &a, run, &jobs[i]);
		pthread_attr_destroy(&a);
	}
	bench_sleep(5000000u);
	atomic_store_explicit(&go, true, memory_order_release);
	bench_sleep((uint64_t)ms * 1000000u);
	atomic_store(&stop, true);
	for (int i = 0; i < nthr; i++) {
		pthread_join(jobs[i].th, NULL);
		ops += jobs[i].ops;
		cpu += jobs[i].cpu_ns;
		*fails += jobs[i].fails;
	}
	return ops ? (double)cpu / (double)ops : 0;
}

struct kase {
	const char *name;
	int nthr;
	enum layout layout;
};

/* One registered record per thread, and what each thread's beat loads. */
static int records_make(void)
{
	uint64_t st;
	int r = proc_starttime(getpid(), &st);

	for (int i = 0; r >= 0 && i < MAX_THR; i++) {
		int shmid;

		r = record_create(getpid(), st, true, &records[i], &shmid);
		if (r < 0)
			break;
		record_set(records[i], HB_RECORD_OPEN, 60000000000ull, "thr");
		atomic_store(&published[L_RECORDS][i], &records[i]->beat_ns);
		atomic_store(&published[L_PACKED][i], &packed[i].beat_ns);
	}
	return r < 0 ? r : 0;
}

static void records_drop(void)
{
	/* Marked for removal at creation: detaching is enough. */
	for (int i = 0; i < MAX_THR; i++) {
		record_detach(records[i]);
		records[i] = NULL;
	}
}

int main(int argc, char **argv)
{
	static const struct kase cases[] = {
	    {"records, 1 thread", 1, L_RECORDS},    {"records, 2 threads", 2, L_RECORDS},
	    {"records, 64 threads", 64, L_RECORDS}, {"packed, 2 threads", 2, L_PACKED},
	    {"packed, 64 threads", 64, L_PACKED},
	};
	enum { NC = sizeof(cases) / sizeof(cases[0]) };
	unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 7;
	unsigned ms = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200;
	double res[2][NC][64], med[2][NC];
	unsigned long fails = 0;

	if (rounds == 0 || rounds > 64 || ms == 0) {
		fprintf(stderr, "usage: bench_threads [ROUNDS (1..64) [ROUND_MS]]\n");
		return 2;
	}
	int ns = bench_isolate(BENCH_KEY);
	int r = records_make();
	if (r < 0) {
		fprintf(stderr, "bench_threads: cannot create the records: %s\n", strerror(-r));
		records_drop();
		return 1;
	}
	for (unsigned k = 0; k < rounds; k++)
		for (int m = 0; m < 2; m++)
			for (int c0 = 0; c0 < NC; c0++) {
				int c = (int)((unsigned)c0 + k) % NC;
				res[m][c][k] = one_case(cases[c].nthr, cases[c].layout,
							(enum mode)m, ms, &fails);
			}
	records_drop();
	printf(
	    "per-beat cost (thread CPU time / beats), median of %u rounds of %u ms; %ld CPUs%s\n\n",
	    rounds, ms, sysconf(_SC_NPROCESSORS_ONLN), ns ? "; private IPC namespace" : "");
	printf("%-22s %14s %14s %14s %14s\n", "", "beat ns", "(min..max)", "store ns",
	       "(min..max)");
	for (int c = 0; c < NC; c++) {
		double lo[2], hi[2];
		for (int m = 0; m < 2; m++) {
			med[m][c] = bench_median_d(res[m][c], rounds);
			lo[m] = res[m][c][0];
			hi[m] = res[m][c][rounds - 1];
		}
		printf("%-22s %14.1f %6.1f..%-6.1f %14.1f %6.1f..%-6.1f\n", cases[c].name,
		       med[0][c], lo[0], hi[0], med[1][c], lo[1], hi[1]);
	}
	printf("\nrecords 64/1 threads: beat x%.2f, store x%.2f  (flat = no false sharing)\n",
	       med[0][2] / med[0][0], med[1][2] / med[1][0]);
	printf("packed/records, 2 threads: beat x%.2f, store x%.2f  (what a line of its own "
	       "buys)\n",
	       med[0][3] / med[0][1], med[1][3] / med[1][1]);
	printf("beats with no published record: %lu\n", fails);
	printf("RESULT {\"bench\":\"threads\",\"beat_ns\":{\"t1\":%.2f,\"t2\":%.2f,\"t64\":%.2f,"
	       "\"packed_t2\":%.2f,\"packed_t64\":%.2f},\"store_ns\":{\"t1\":%.2f,\"t2\":%.2f,"
	       "\"t64\":%.2f,\"packed_t2\":%.2f,\"packed_t64\":%.2f},\"beat_t64_over_t1\":%.3f,"
	       "\"beat_packed_over_records_t2\":%.3f,\"store_packed_over_records_t2\":%.3f}\n",
	       med[0][0], med[0][1], med[0][2], med[0][3], med[0][4], med[1][0], med[1][1],
	       med[1][2], med[1][3], med[1][4], med[0][2] / med[0][0], med[0][3] / med[0][1],
	       med[1][3] / med[1][1]);
	return 0;
}
