/* A fleet: N forked processes that call hb_register() at the same moment
 * (header-only, internal API; bench_register and bench_stampede).
 *
 * With no name (f->name NULL) the children time nothing instead: what
 * waking N processes once costs this machine, the floor under any
 * registration's figures.
 *
 * Each child waits at a gate: a futex word in memory shared with the
 * parent, which sets it and wakes every waiter with one FUTEX_WAKE, the
 * closest thing to "the same moment" user space can make.  (Not a pipe:
 * readers woken by its EOF queue on the pipe's mutex and leave one by one,
 * which spreads the release over seconds at 10 000 processes.)  The child
 * then times hb_register() with CLOCK_MONOTONIC, reports into its own
 * entry of a shared array (not a pipe either: 10 000 writers queued on
 * its mutex, and that contention of the benchmark's own was in the
 * figures), and lives on until the parent kills it by pid: pausing, or (f->beat)
 * waiting at a second gate and then beating once a second at a phase of
 * its own.  The second gate keeps the registration stampede apart from
 * the beating, so that each is measured alone.  A child also dies with
 * the parent (PR_SET_PDEATHSIG): a benchmark that crashes leaves no
 * process behind.
 *
 * Afterwards the census (every record in the IPC namespace, as the daemon
 * takes it) says whether each child that registered holds exactly one
 * open record and nobody else holds one under the fleet's name.
 */
#ifndef HBWATCH_BENCH_FLEET_H
#define HBWATCH_BENCH_FLEET_H

#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <hbwatch.h>

#include "bench_common.h"
#include "census.h"

struct fleet_rep {
	int32_t pid;
	int32_t r; /* hb_register()'s result */
	uint64_t t0, t1;
};

/* The gates, in a MAP_SHARED page: futexes shared across processes. */
struct fleet_gates {
	_Atomic uint32_t go, beat_go;
	_Atomic uint32_t reported; /* children whose entry of shared is written */
	_Atomic uint32_t want;	   /* children started: the last to report ... */
	_Atomic uint32_t all_in;   /* ... sets this and wakes the parent */
};

struct fleet {
	const char *name;
	unsigned timeout_ms;
	bool beat; /* beat once a second after registering */
	unsigned n, started;
	int fork_errno; /* why fewer than N were started, or 0 */
	pid_t *pids;
	struct fleet_gates *gates;
	int ready[2];
	struct fleet_rep *shared;	  /* MAP_SHARED: child I writes entry I */
	uint64_t release_ns, released_ns; /* the gate opened; its FUTEX_WAKE returned */
	struct fleet_rep *reps;
	unsigned got;
};

static inline void gate_wait(_Atomic uint32_t *g)
{
	while (!atomic_load(g))
		syscall(SYS_futex, g, FUTEX_WAIT, 0, NULL, NULL, 0);
}

static inline void gate_open(_Atomic uint32_t *g)
{
	atomic_store(g, 1);
	syscall(SYS_futex, g, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static inline void fleet_live(const struct fleet *f, unsigned i, bool beat)
{
	uint64_t next;

	if (!beat)
		for (;;)
			pause();
	gate_wait(&f->gates->beat_go);
	/* Spread the phases over the second, as independent services are. */
	bench_sleep((uint64_t)(i * 7919u % 1000u) * 1000000u);
	next = now_ns();
	for (;;) {
		hb_beat();
		next += 1000000000u;
		bench_sleep_until(next);
	}
}

static inline void fleet_child(struct fleet *f, unsigned i, pid_t parent)
{
	struct fleet_rep x = {.pid = getpid()};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	close(f->ready[0]);
	if (write(f->ready[1], "r", 1) != 1)
		_exit(3);
	close(f->ready[1]);
	gate_wait(&f->gates->go);
	x.t0 = now_ns();
	x.r = f->name ? hb_register(f->name, f->timeout_ms) : 0;
	x.t1 = now_ns();
	f->shared[i] = x;
	if (atomic_fetch_add(&f->gates->reported, 1) + 1 == atomic_load(&f->gates->want))
		gate_open(&f->gates->all_in);
	fleet_live(f, i, f->beat && x.r == 0);
}

/* Fork N children waiting at the gate.  Fewer may start (fork() failing,
 * say EAGAIN at a process limit): f->started and f->fork_errno say so.
 * Returns 0, or -errno if not even the pipes could be made. */
static inline int fleet_start(struct fleet *f, unsigned n)
{
	pid_t parent = getpid();

	f->ready[0] = f->ready[1] = -1;
	f->n = n;
	f->started = f->got = 0;
	f->fork_errno = 0;
	/* + 1: N = 0 (hangs beside nobody) is a size too */
	f->pids = calloc(n + 1, sizeof(*f->pids));
	f->reps = calloc(n + 1, sizeof(*f->reps));
	if (!f->pids || !f->reps)
		return -ENOMEM;
	f->gates = mmap(NULL, sizeof(*f->gates), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (f->gates == MAP_FAILED) {
		f->gates = NULL;
		return -errno;
	}
	f->shared = mmap(NULL, (size_t)(n + 1) * sizeof(*f->shared), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f->shared == MAP_FAILED) {
		f->shared = NULL;
		return -errno;
	}
	if (pipe2(f->ready, O_CLOEXEC) < 0)
		return -errno;
	for (unsigned i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			fleet_child(f, i, parent);
		if (pid < 0) {
			f->fork_errno = errno;
			break;
		}
		f->pids[f->started++] = pid;
	}
	close(f->ready[1]);
	f->ready[1] = -1;
	return 0;
}

/* Wait until every started child is at the gate, or TIMEOUT_NS passes
 * (an overloaded machine may take long to run them all once).  Returns
 * how many are. */
static inline unsigned fleet_wait_ready(struct fleet *f, uint64_t timeout_ns)
{
	uint64_t end = now_ns() + timeout_ns;
	unsigned k = 0;
	char buf[4096];

	while (k < f->started) {
		struct pollfd p = {.fd = f->ready[0], .events = POLLIN};
		uint64_t now = now_ns();
		ssize_t got;

		if (now >= end || poll(&p, 1, (int)((end - now) / 1000000u) + 1) == 0)
			break;
		got = read(f->ready[0], buf, sizeof(buf));
		if (got == 0 || (got < 0 && errno != EINTR))
			break;
		if (got > 0)
			k += (unsigned)got;
	}
	return k;
}

/* Open the gate.  The FUTEX_WAKE of N waiters runs in our process, and
 * every child it wakes may preempt it: at nice 0 on two CPUs, waking 10 000
 * took 3.6 s, so the last child was released seconds after the first.
 * Run as SCHED_FIFO for the wake (root only; best effort), the release is
 * one short burst (190 ms at 10 000) and the figures are the children's. */
static inline void fleet_release(struct fleet *f)
{
	struct sched_param fifo = {.sched_priority = 1}, other = {.sched_priority = 0};
	int policy = sched_getscheduler(0);
	bool raised = policy >= 0 && sched_setscheduler(0, SCHED_FIFO, &fifo) == 0;

	atomic_store(&f->gates->want, f->started);
	f->release_ns = now_ns();
	gate_open(&f->gates->go);
	f->released_ns = now_ns();
	if (raised)
		(void)sched_setscheduler(0, policy, &other);
}

/* Let the children that registered start beating. */
static inline void fleet_start_beating(struct fleet *f)
{
	gate_open(&f->gates->beat_go);
}

/* Wait for the reports until all are in or TIMEOUT_NS passes.  The last
 * child to report wakes us; we look by ourselves only once a second (a
 * child that died unreported).  Not a poll every millisecond: each of our
 * wake-ups (at nice -10) preempted a client, which then waited for the
 * whole run queue, and that showed in the p99. */
static inline unsigned fleet_collect(struct fleet *f, uint64_t timeout_ns)
{
	uint64_t end = now_ns() + timeout_ns;

	while (atomic_load(&f->gates->reported) < f->started && now_ns() < end) {
		struct timespec ts = {.tv_sec = 1};

		if (!atomic_load(&f->gates->all_in))
			syscall(SYS_futex, &f->gates->all_in, FUTEX_WAIT, 0, &ts, NULL, 0);
	}
	f->got = 0;
	for (unsigned i = 0; i < f->started; i++)
		if (f->shared[i].pid != 0)
			f->reps[f->got++] = f->shared[i];
	return f->got;
}

struct fleet_check {
	unsigned dup, lost, foreign;
	int err; /* the census failed: -errno, and nothing was checked */
};

struct fleet_pid {
	pid_t pid;
	unsigned idx;
};

static inline int fleet_cmp_pid(const void *a, const void *b)
{
	pid_t x = ((const struct fleet_pid *)a)->pid, y = ((const struct fleet_pid *)b)->pid;

	return (x > y) - (x < y);
}

/* Every child that registered holds exactly one open record under the
 * fleet's name, and no other process does. */
static inline struct fleet_check fleet_verify(const struct fleet *f)
{
	struct fleet_check c = {0};
	struct fleet_pid *by_pid = calloc(f->got + 1, sizeof(*by_pid));
	unsigned *seen = calloc(f->got + 1, sizeof(*seen));
	struct census_entry *e = NULL;
	size_t n = 0;

	if (!by_pid || !seen) {
		c.err = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < f->got; i++)
		by_pid[i] = (struct fleet_pid){.pid = f->reps[i].pid, .idx = i};
	qsort(by_pid, f->got, sizeof(*by_pid), fleet_cmp_pid);
	c.err = census_collect(&e, &n);
	if (c.err < 0)
		goto out;
	for (size_t k = 0; k < n; k++) {
		struct fleet_pid key = {.pid = e[k].pid}, *p;

		if (strcmp(e[k].v.name, f->name) != 0)
			continue;
		p = bsearch(&key, by_pid, f->got, sizeof(*by_pid), fleet_cmp_pid);
		if (!p)
			c.foreign++;
		else if (seen[p->idx]++)
			c.dup++;
	}
	for (unsigned i = 0; i < f->got; i++)
		c.lost += f->reps[i].r == 0 && !seen[i];
out:
	free(e);
	free(by_pid);
	free(seen);
	return c;
}

/* Kill every child by pid, reap them, and free the fleet. */
static inline void fleet_stop(struct fleet *f)
{
	for (unsigned i = 0; i < f->started; i++)
		kill(f->pids[i], SIGKILL);
	for (unsigned i = 0; i < f->started; i++)
		waitpid(f->pids[i], NULL, 0);
	for (int j = 0; j < 2; j++)
		if (f->ready[j] >= 0) {
			close(f->ready[j]);
			f->ready[j] = -1;
		}
	if (f->gates)
		munmap(f->gates, sizeof(*f->gates));
	if (f->shared)
		munmap(f->shared, (size_t)(f->n + 1) * sizeof(*f->shared));
	f->shared = NULL;
	free(f->pids);
	free(f->reps);
	f->gates = NULL;
	f->pids = NULL;
	f->reps = NULL;
	f->started = f->got = 0;
}

#endif
