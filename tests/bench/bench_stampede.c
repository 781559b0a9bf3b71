/* bench_stampede: N processes call hb_register() at the same moment, then
 * beat once a second while hangs are timed beside them.
 *
 *   bench_stampede HBWATCH [-H HANGS] [-s STEADY_S] [-x] [-n NICE] [-r] [-R]
 *                  [-g STARVE_GRACE] [-P PRIO] [N...]
 *   (defaults: 30 hangs, 5 s steady window, N = 1000 2000 5000 10000 20000;
 *   N = 0 times the hangs beside nobody)
 *   -x: after step 1, the mass exit (bench_massexit.h) instead of steps 2-3.
 *   -n NICE: hbwatch's nice value (default 0, the clients' own).
 *   -P PRIO: hbwatch's deadline_priority (default: its default, 1).  Unless
 *       it is 0, hbwatch's deadline work runs at SCHED_RR, and so do the
 *       floors' senders.
 *   -r: every thread of hbwatch at SCHED_RR 1 all the time, registrations
 *       and exits included; the floors' senders then too.
 *   -R: the mass exit's hangs at SCHED_FIFO 1: what is timed is the
 *       sender alone, not the hang's own wait for a CPU.
 *   -g STARVE_GRACE: the hangs' starve_grace (default: the default).
 *
 * For each N, in a private IPC namespace with kernel.shmmni raised there
 * (a record per registration: the default 4096 segments would cap N), the
 * real hbwatch starts with slots = max(16384, N + HANGS + 64), and:
 *  1. N forked processes wait at a gate (bench_fleet.h); released
 *     together, each times hb_register("stampede", 60 s).  Figures:
 *     failures by errno; hb_register() p50/p99/max as each client timed
 *     it; release -> registered p50/p99/max (the wake-up of N processes
 *     included); time until all are registered; time until hbwatch holds
 *     a pidfd for every one (all watched); hbwatch's CPU time over that;
 *     the census check (every child exactly one open record, no
 *     duplicates, none lost).  "Watched" is what hbwatch's status view
 *     (hbctl status) shows: state OK for the child's pid.
 *  0. Before that, with no hbwatch running, the floor: as many processes,
 *     released the same way, that do nothing.  On a small VM waking 10 000
 *     processes once takes seconds of scheduling and page-table switching
 *     alone; the registration's own cost is what lies above it.
 *  2. Then all of them beat once a second, each at a phase of its own
 *     (they start together at a second gate, so the stampede above is
 *     measured without beats in its way): hbwatch's CPU share over a
 *     steady window.
 *  3. HANGS workers, in waves of 10, register after the N (so they are
 *     last in the daemon's scan order: the worst place), with a timeout
 *     drawn log-uniformly from 50 ms..1 s (the same schedule for every N),
 *     beat every timeout/4 for 0..300 ms and hang.  Their SIGABRT handler
 *     measures arrival - (last beat + timeout), as bench_detect does.
 *     Then the detection floor: the same schedule, unregistered, each hang
 *     signalled with kill(2) by a sleeper of its own at hbwatch's priority
 *     when its deadline falls due, and timed the same way.
 *  hbwatch's peak RSS (VmHWM) and RSS at the end.
 *
 * The machine is shared, so nothing here may run away with it.  A size
 * that cannot run (kernel.shmmni, pid_max, threads-max, memory) is
 * reported with the reason, never attempted.  Phases 2 and 3 stop, and
 * say so, if the run queue stays long (the machine cannot keep N
 * processes beating once a second); every process is killed by pid and
 * every child also dies with us (PR_SET_PDEATHSIG).  A daemon short of
 * fds (one pidfd per watched process; without CAP_SYS_RESOURCE the hard
 * RLIMIT_NOFILE cannot be raised) is run anyway and the shortfall said.
 * Targets, for N = 10 000: 0 failures, p99 <= 250 ms, all registered
 * within 1 s; detection median <= 1 ms, max <= 5 ms.  Prints figures,
 * progress on stderr and a final RESULT {json}; never asserts on a figure.
 */
#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/resource.h>

#include "bench_fleet.h"
#include "status.h"

#define BENCH_KEY	  0x4bd7e7ccu
#define SIZES_MAX	  16
#define HANGS_MAX	  300u
#define WAVE		  10u
#define SLOTS_MIN	  16384u
#define SLOTS_MAX	  65536u
#define BEATER_TIMEOUT_MS 60000u
#define HANG_MIN_MS	  50.0
#define HANG_MAX_MS	  1000.0
#define HANG_BEAT_MAX_MS  300u
#define PROC_KB		  256u /* memory one waiting, beating client needs, generously */
#define ERRS_MAX	  8
/* How long the registrations may take in all.  Generous: an overloaded
 * machine is reported as such, with the figures it did produce. */
#define COLLECT_NS (300000000000ull)

struct opts {
	const char *hbwatch;
	unsigned hangs;
	unsigned steady_s;
	unsigned overloaded_at;	  /* the N whose beating this machine could not carry */
	bool mass_exit;		  /* -x: the mass exit instead of the beating phase */
	int daemon_nice;	  /* -n: hbwatch's nice value (default 0, as the clients) */
	const char *starve_grace; /* -g: the hangs' starve_grace, or NULL: the default */
	bool daemon_rt;		  /* -r: every thread of hbwatch at SCHED_RR 1 */
	int deadline_prio;	  /* -P: deadline_priority, or -1: hbwatch's default */
	bool hangs_rt;		  /* -R: the mass exit's hangs at SCHED_FIFO 1 */
};

/* Whether hbwatch's deadline work runs at SCHED_RR: lifted (-P, by
 * default), or the whole daemon (-r).  The floors' senders then too. */
static bool deadlines_rt(const struct opts *op)
{
	return op->daemon_rt || op->deadline_prio != 0;
}

struct errcount {
	int err; /* positive errno */
	unsigned n;
};

struct ms3 {
	double p50, p99, max;
};

struct res {
	unsigned n;
	char skipped[320]; /* why it was not run, or "" */
	char notes[640];   /* what limited the run */
	unsigned started, got, registered, failed;
	struct errcount errs[ERRS_MAX];
	unsigned n_errs;
	struct ms3 reg, rel;
	double all_registered_ms, all_watched_ms;
	double release_ms;		       /* the gate's FUTEX_WAKE took */
	double floor_all_ms, floor_release_ms; /* the same, timing nothing (floor_run()) */
	unsigned watched;
	struct fleet_check check;
	unsigned hangs, detected, missed;
	double det_med, det_p99, det_max;
	/* The detection floor: the same schedule, each hang signalled at its
	 * deadline by a sleeper of its own instead of hbwatch (floor_worker()) */
	unsigned fl_detected;
	double fl_med, fl_p99, fl_max;
	double stampede_cpu_ms, steady_cpu_pct;
	unsigned long hwm_kb, rss_kb;
	unsigned long fd_limit;
	bool beat_ran;	    /* the beating phase ran to its end */
	bool overloaded;    /* it was stopped: the machine fell behind */
	long runnable_peak; /* most runnable tasks seen while they beat */
	bool mx_ran;	    /* the mass exit (bench_massexit.h) */
	unsigned mx_detected;
	double mx_med, mx_max, mx_cpu_ms, mx_kill_ms, mx_floor_med, mx_floor_max;
	double mx_sig_med, mx_sig_max; /* the signal's floor: kill(2) at the deadline */
};

static void note(struct res *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct res *o, const char *fmt, ...)
{
	size_t len = strlen(o->notes);
	va_list ap;

	if (len + 3 >= sizeof(o->notes))
		return;
	if (len) {
		o->notes[len++] = ';';
		o->notes[len++] = ' ';
	}
	va_start(ap, fmt);
	vsnprintf(o->notes + len, sizeof(o->notes) - len, fmt, ap);
	va_end(ap);
}

/* Where a long run is, on stderr (stdout holds the report). */
static void progress(unsigned n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void progress(unsigned n, const char *fmt, ...)
{
	static uint64_t t0;
	uint64_t now = now_ns();
	va_list ap;

	if (!t0)
		t0 = now;
	fprintf(stderr, "[%7.1f s] N=%u: ", (double)(now - t0) / 1e9, n);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *errname(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "E?";
}

/* ---- preflight: can this machine run N at all? ---- */

static long meminfo_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Tasks on the host now, runnable and in all, from the 4th field of
 * /proc/loadavg ("running/total").  Returns 0 or -1. */
static int tasks_now(long *running, long *total)
{
	FILE *f = fopen("/proc/loadavg", "r");
	int k;

	if (!f)
		return -1;
	k = fscanf(f, "%*s %*s %*s %ld/%ld", running, total);
	fclose(f);
	return k == 2 ? 0 : -1;
}

/* The machine is shared: if N beating processes are more than it can run,
 * the run queue grows without bound, everyone's work (ours included)
 * stalls, and the figures mean nothing.  So the beating phases stop once
 * more than OVERLOAD_PER_CPU tasks per CPU stay runnable for OVERLOAD_NS. */
#define OVERLOAD_PER_CPU 100L
#define OVERLOAD_NS	 3000000000ull

struct guard {
	long limit, peak;
	uint64_t over_since;
	bool tripped;
};

static void guard_init(struct guard *g)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	*g = (struct guard){.limit = OVERLOAD_PER_CPU * (ncpu > 0 ? ncpu : 1)};
}

/* Sample the run queue; true once it has been too long for too long. */
static bool guard_tripped(struct guard *g)
{
	long running, total;
	uint64_t now = now_ns();

	if (g->tripped || tasks_now(&running, &total) < 0)
		return g->tripped;
	if (running > g->peak)
		g->peak = running;
	if (running <= g->limit)
		g->over_since = 0;
	else if (!g->over_since)
		g->over_since = now;
	else if (now - g->over_since >= OVERLOAD_NS)
		g->tripped = true;
	return g->tripped;
}

/* Sleep NS, watching the run queue.  Returns false if the guard tripped. */
static bool guarded_sleep(struct guard *g, uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (now_ns() < end) {
		if (guard_tripped(g))
			return false;
		bench_sleep(100000000u);
	}
	return !guard_tripped(g);
}

/* The reason N processes cannot run here, in O->skipped; 0 if they can. */
static int preflight(struct res *o, unsigned n, unsigned hangs, int ns)
{
	unsigned need = n + hangs + 64;
	long shmmni = bench_shmmni(need, ns);
	long pid_max = bench_read_long("/proc/sys/kernel/pid_max");
	long thr_max = bench_read_long("/proc/sys/kernel/threads-max");
	long running, tasks = -1, avail = meminfo_kb("MemAvailable");

	if (tasks_now(&running, &tasks) < 0)
		tasks = -1;

	if (shmmni >= 0 && shmmni < (long)need && !ns)
		snprintf(o->skipped, sizeof(o->skipped),
			 "kernel.shmmni is %ld and %u records need %u segments; without a private "
			 "IPC namespace (root) it is the host's and is left alone",
			 shmmni, n + hangs, need);
	else if (shmmni >= 0 && shmmni < (long)need)
		snprintf(
		    o->skipped, sizeof(o->skipped),
		    "%u records need %u segments, kernel.shmmni is %ld even in our private IPC "
		    "namespace (the kernel caps it at %u unless booted with ipcmni_extend)",
		    n + hangs, need, shmmni, BENCH_SHMMNI_MAX);
	else if (pid_max > 0 && tasks > 0 && tasks + (long)need > pid_max)
		snprintf(o->skipped, sizeof(o->skipped),
			 "kernel.pid_max is %ld and %ld tasks run already: no room for %u more "
			 "(pid_max is host-wide; not raised by a benchmark)",
			 pid_max, tasks, need);
	else if (thr_max > 0 && tasks > 0 && tasks + (long)need > thr_max)
		snprintf(o->skipped, sizeof(o->skipped),
			 "kernel.threads-max is %ld and %ld tasks run already: no room for %u more",
			 thr_max, tasks, need);
	else if (avail > 0 && (long)need * PROC_KB > avail)
		snprintf(o->skipped, sizeof(o->skipped),
			 "%ld MiB available, %u processes need about %u MiB", avail / 1024, need,
			 need / 1024 * PROC_KB);
	return o->skipped[0] ? -1 : 0;
}

/* ---- step 1: the stampede ---- */

static void count_err(struct res *o, int err)
{
	for (unsigned i = 0; i < o->n_errs; i++)
		if (o->errs[i].err == err) {
			o->errs[i].n++;
			return;
		}
	if (o->n_errs < ERRS_MAX)
		o->errs[o->n_errs++] = (struct errcount){.err = err, .n = 1};
}

static struct ms3 ms3_of(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_i64);
	return (struct ms3){.p50 = (double)bench_pct_i64(v, n, 50) / 1e6,
			    .p99 = (double)bench_pct_i64(v, n, 99) / 1e6,
			    .max = n ? (double)v[n - 1] / 1e6 : 0};
}

static void register_figures(const struct fleet *f, struct res *o)
{
	int64_t *reg = calloc(f->got + 1, sizeof(*reg)), *rel = calloc(f->got + 1, sizeof(*rel));
	uint64_t last = f->release_ns;

	for (unsigned i = 0; i < f->got; i++) {
		const struct fleet_rep *x = &f->reps[i];

		if (x->r < 0) {
			count_err(o, -x->r);
			continue;
		}
		reg[o->registered] = (int64_t)(x->t1 - x->t0);
		rel[o->registered++] = (int64_t)(x->t1 - f->release_ns);
		if (x->t1 > last)
			last = x->t1;
	}
	o->failed = o->got - o->registered + (o->started - o->got);
	if (o->started > o->got)
		note(o, "%u clients never reported within %.0f s", o->started - o->got,
		     (double)COLLECT_NS / 1e9);
	o->reg = ms3_of(reg, o->registered);
	o->rel = ms3_of(rel, o->registered);
	o->all_registered_ms = (double)(last - f->release_ns) / 1e6;
	free(reg);
	free(rel);
}

/* How many of the fleet's registrations hbwatch shows as watched (state
 * OK) in its status view: what `hbctl status` would list.  *MISSING gets
 * up to MISS_MAX of the others, with what the view says of each. */
#define MISS_MAX 4

struct watched_count {
	unsigned ok;
	unsigned n_missing;
	char missing[MISS_MAX][HB_STATUS_REASON + 48];
};

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static int count_watched(const struct hb_status *st, struct hb_status_entry *buf, const pid_t *pids,
			 unsigned n, struct watched_count *c)
{
	int got = status_read(st, buf, st->capacity);
	unsigned char *seen = calloc(n + 1, 1);

	*c = (struct watched_count){0};
	if (got < 0 || !seen) {
		free(seen);
		return got < 0 ? got : -ENOMEM;
	}
	for (int k = 0; k < got; k++) {
		const pid_t *p = bsearch(&buf[k].pid, pids, n, sizeof(*pids), pid_cmp);

		if (!p)
			continue;
		seen[p - pids] = 1;
		if (buf[k].state == HB_STATUS_OK)
			c->ok++;
		else if (c->n_missing < MISS_MAX)
			snprintf(c->missing[c->n_missing++], sizeof(c->missing[0]),
				 "pid %d record %d: state %u %s", (int)buf[k].pid, buf[k].shmid,
				 buf[k].state, buf[k].reason);
	}
	for (unsigned i = 0; i < n && c->n_missing < MISS_MAX; i++)
		if (!seen[i])
			snprintf(c->missing[c->n_missing++], sizeof(c->missing[0]),
				 "pid %d: not in the status view", (int)pids[i]);
	free(seen);
	return 0;
}

/* Until hbwatch's status view shows every registered child watched, or
 * none more for 15 s (three periodic censuses).  Sets the time since the
 * release (0: never got there) and how many it watches; names a few of
 * those it does not. */
static void wait_watched(struct res *o, const struct fleet *f)
{
	struct hb_registry reg;
	struct hb_status st = {.shmid = -1};
	struct hb_status_entry *buf = NULL;
	struct watched_count c = {0};
	pid_t *pids = calloc(f->got + 1, sizeof(*pids));
	unsigned n = 0, prev = 0;
	uint64_t changed = now_ns();
	int r;

	r = registry_attach((int)BENCH_KEY, false, &reg, NULL, 0);
	if (r == 0 && (r = status_attach(&reg, &st)) < 0)
		registry_detach(&reg);
	if (r < 0 || !pids || !(buf = calloc(st.capacity + 1, sizeof(*buf)))) {
		note(o, "cannot read hbwatch's status view: %s", strerror(r < 0 ? -r : ENOMEM));
		goto out;
	}
	for (unsigned i = 0; i < f->got; i++)
		if (f->reps[i].r == 0)
			pids[n++] = f->reps[i].pid;
	qsort(pids, n, sizeof(*pids), pid_cmp);
	for (;;) {
		uint64_t now = now_ns();

		if (count_watched(&st, buf, pids, n, &c) == 0) {
			o->watched = c.ok;
			if (c.ok >= n) {
				o->all_watched_ms = (double)(now - f->release_ns) / 1e6;
				goto out;
			}
			if (c.ok != prev)
				changed = now;
			prev = c.ok;
		}
		if (now - changed > 15000000000ull || now - f->release_ns > 180000000000ull)
			break;
		bench_sleep(20000000u);
	}
	o->all_watched_ms = 0;
	note(o, "hbwatch's status view showed %u of %u watched after %.1f s", o->watched, n,
	     (double)(now_ns() - f->release_ns) / 1e9);
	for (unsigned i = 0; i < c.n_missing; i++)
		note(o, "%s", c.missing[i]);
out:
	if (st.hdr) {
		status_detach(&st);
		registry_detach(&reg);
	}
	free(buf);
	free(pids);
}

/* The machine's floor at N: the same fleet, released the same way, with
 * nothing to time.  No hbwatch runs meanwhile. */
static void floor_run(struct res *o)
{
	struct fleet f = {.name = NULL};
	uint64_t last;

	if (fleet_start(&f, o->n) < 0 || f.started < o->n ||
	    fleet_wait_ready(&f, 300000000000ull) < f.started) {
		note(o, "the floor fleet did not start");
		fleet_stop(&f);
		return;
	}
	bench_sleep(300000000u);
	fleet_release(&f);
	fleet_collect(&f, COLLECT_NS);
	last = f.release_ns;
	for (unsigned i = 0; i < f.got; i++)
		if (f.reps[i].t1 > last)
			last = f.reps[i].t1;
	o->floor_all_ms = f.got == f.started ? (double)(last - f.release_ns) / 1e6 : 0;
	o->floor_release_ms = (double)(f.released_ns - f.release_ns) / 1e6;
	progress(o->n, "floor: %u processes woken, the last ran %.0f ms after the release", f.got,
		 o->floor_all_ms);
	fleet_stop(&f);
}

/* ---- step 3: hangs beside the N ---- */

struct hang_rep {
	int32_t idx;
	int32_t kind; /* HANG_DEADLINE or HANG_LATE */
	int64_t v;    /* the deadline, or the signal's lateness, ns */
};

enum { HANG_DEADLINE = 1, HANG_LATE = 2 };

static volatile uint64_t hang_deadline;
static volatile int32_t hang_idx;
static int hang_fd = -1;

static void on_abort(int sig)
{
	struct hang_rep r = {
	    .idx = hang_idx, .kind = HANG_LATE, .v = (int64_t)(now_ns() - hang_deadline)};

	(void)sig;
	if (write(hang_fd, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	_exit(0);
}

static void hang_worker(int idx, unsigned timeout_ms, unsigned beat_for_ms, int fd)
{
	struct sigaction sa = {.sa_handler = on_abort};
	uint64_t start, last, period = (uint64_t)timeout_ms * 1000000u / 4;
	struct hang_rep r = {.idx = idx, .kind = HANG_DEADLINE};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	hang_fd = fd;
	hang_idx = idx;
	sigaction(SIGABRT, &sa, NULL);
	if (hb_register("hang", timeout_ms) < 0)
		_exit(2);
	start = now_ns();
	while (now_ns() - start < (uint64_t)beat_for_ms * 1000000u) {
		hb_beat();
		bench_sleep(period);
	}
	/* The clock before the beat: never later than the deadline hbwatch
	 * computes, so the figure is not flattered. */
	last = now_ns();
	hb_beat();
	hang_deadline = last + (uint64_t)timeout_ms * 1000000u;
	r.v = (int64_t)hang_deadline;
	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(4);
	for (;;)
		pause();
}

/* The detection floor's hang: the same schedule as hang_worker(), not
 * registered; a child of its own, at hbwatch's priority (POLICY), sleeps
 * to the deadline and sends SIGABRT with kill(2), and the handler times it
 * as on_abort() times hbwatch's. */
static void floor_worker(int idx, unsigned timeout_ms, unsigned beat_for_ms, int fd, int policy)
{
	struct sigaction sa = {.sa_handler = on_abort};
	uint64_t start, period = (uint64_t)timeout_ms * 1000000u / 4;
	struct hang_rep r = {.idx = idx, .kind = HANG_DEADLINE};
	pid_t me = getpid(), sender;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	hang_fd = fd;
	hang_idx = idx;
	sigaction(SIGABRT, &sa, NULL);
	start = now_ns();
	while (now_ns() - start < (uint64_t)beat_for_ms * 1000000u)
		bench_sleep(period);
	hang_deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	sender = fork();
	if (sender == 0) {
		struct sched_param sp = {.sched_priority = 1};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigaction(SIGABRT, &(struct sigaction){.sa_handler = SIG_DFL}, NULL);
		if (policy != SCHED_OTHER)
			sched_setscheduler(0, policy, &sp);
		bench_sleep_until(hang_deadline);
		kill(me, SIGABRT);
		_exit(0);
	}
	r.v = (int64_t)hang_deadline;
	if (sender < 0 || write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(4);
	for (;;)
		pause();
}

/* Reap PIDS[K] as they die, until LIMIT or the guard trips; kill the rest
 * (never signalled by hbwatch) by pid. */
static void reap_wave(pid_t *pids, unsigned k, uint64_t limit, struct guard *g)
{
	unsigned left = k;

	while (left && now_ns() < limit && !guard_tripped(g)) {
		for (unsigned i = 0; i < k; i++)
			if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) == pids[i]) {
				pids[i] = 0;
				left--;
			}
		bench_sleep(2000000u);
	}
	for (unsigned i = 0; i < k; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
}

static void hang_stats(int64_t *late, size_t n, double *med, double *p99, double *max)
{
	if (!n)
		return;
	qsort(late, n, sizeof(*late), bench_cmp_i64);
	*med = (double)bench_pct_i64(late, n, 50) / 1e6;
	*p99 = (double)bench_pct_i64(late, n, 99) / 1e6;
	*max = (double)late[n - 1] / 1e6;
}

/* FLOOR_POLICY < 0: hbwatch's hangs; else the detection floor's, its
 * senders at that policy. */
static void run_hangs(struct res *o, unsigned hangs, struct guard *g, int floor_policy)
{
	int64_t *late = calloc(hangs + 1, sizeof(*late));
	pid_t pids[WAVE];
	size_t n_late = 0;
	int p[2];

	if (!late || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		note(o, "no hangs: %s", strerror(errno));
		free(late);
		return;
	}
	srand(42); /* the same schedule for every N */
	for (unsigned w0 = 0; w0 < hangs && !g->tripped; w0 += WAVE) {
		unsigned k = hangs - w0 < WAVE ? hangs - w0 : WAVE;
		struct hang_rep r;

		for (unsigned i = 0; i < k; i++) {
			double u = (double)rand() / RAND_MAX;
			unsigned t =
			    (unsigned)lround(HANG_MIN_MS * exp(u * log(HANG_MAX_MS / HANG_MIN_MS)));
			unsigned beat_for = (unsigned)rand() % (HANG_BEAT_MAX_MS + 1);

			pids[i] = fork();
			if (pids[i] == 0) {
				close(p[0]);
				if (floor_policy >= 0)
					floor_worker((int)(w0 + i), t, beat_for, p[1],
						     floor_policy);
				hang_worker((int)(w0 + i), t, beat_for, p[1]);
			}
		}
		reap_wave(pids, k,
			  now_ns() + (uint64_t)(HANG_MAX_MS + HANG_BEAT_MAX_MS) * 1000000u +
			      5000000000ull,
			  g);
		while (read(p[0], &r, sizeof(r)) == sizeof(r))
			if (r.kind == HANG_LATE)
				late[n_late++] = r.v;
	}
	close(p[0]);
	close(p[1]);
	if (floor_policy >= 0) {
		o->fl_detected = (unsigned)n_late;
		hang_stats(late, n_late, &o->fl_med, &o->fl_p99, &o->fl_max);
	} else {
		o->hangs = hangs;
		o->detected = (unsigned)n_late;
		hang_stats(late, n_late, &o->det_med, &o->det_p99, &o->det_max);
		o->missed = hangs - o->detected;
	}
	free(late);
}

/* ---- the stampede's report ---- */

static void print_errs(FILE *out, const struct res *o, bool json)
{
	for (unsigned i = 0; i < o->n_errs; i++)
		fprintf(out, json ? "%s\"%s\":%u" : "%s%s x%u", i ? (json ? "," : ", ") : "",
			errname(o->errs[i].err), o->errs[i].n);
}

/* The stampede's figures, printed as soon as they exist: a later phase
 * that the machine cannot carry must not take them with it. */
static void print_register(const struct res *o)
{
	printf("\n== N = %u\n", o->n);
	printf("registered %u of %u started (%u asked); failed %u", o->registered, o->started, o->n,
	       o->failed);
	if (o->n_errs) {
		printf(" (");
		print_errs(stdout, o, false);
		printf(")");
	}
	printf("\nhb_register(), as each client timed it: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       o->reg.p50, o->reg.p99, o->reg.max);
	printf("release -> registered: p50 %.1f ms, p99 %.1f ms, max %.1f ms (all registered); "
	       "the release took %.1f ms\n",
	       o->rel.p50, o->rel.p99, o->rel.max, o->release_ms);
	if (o->floor_all_ms > 0)
		printf(
		    "floor: the same %u processes released the same way (in %.1f ms) with nothing "
		    "to do all ran %.1f ms after the release\n",
		    o->n, o->floor_release_ms, o->floor_all_ms);
	if (o->all_watched_ms > 0)
		printf("all watched by hbwatch %.1f ms after the release", o->all_watched_ms);
	else
		printf("hbwatch's status view never showed them all watched (%u of %u)", o->watched,
		       o->registered);
	printf("; hbwatch CPU meanwhile %.1f ms\n", o->stampede_cpu_ms);
	printf("census: %u duplicate, %u lost, %u foreign%s\n", o->check.dup, o->check.lost,
	       o->check.foreign, o->check.err < 0 ? " (census failed)" : "");
	fflush(stdout);
}

#include "bench_massexit.h"

/* ---- one size ---- */

static int start_daemon(struct bench_daemon *d, const struct opts *op, unsigned n)
{
	unsigned slots = n + op->hangs + 64;
	char conf[512], grace[96] = "", prio[48] = "";

	if (op->starve_grace)
		snprintf(grace, sizeof(grace), "starve_grace = %s\n", op->starve_grace);
	if (op->deadline_prio >= 0)
		snprintf(prio, sizeof(prio), "deadline_priority = %d\n", op->deadline_prio);
	if (slots < SLOTS_MIN)
		slots = SLOTS_MIN;
	if (slots > SLOTS_MAX)
		slots = SLOTS_MAX;
	snprintf(conf, sizeof(conf),
		 "[hbwatch]\nkey = 0x%x\nslots = %u\ngroup =\nkill_grace = 5s\n%s\n"
		 "[stampede]\naction = log\n\n"
		 "[hang]\naction = kill\nsignal = SIGABRT\nkill_burst = 1000\n"
		 "kill_interval = 1ms\n%s",
		 BENCH_KEY, slots, prio, grace);
	return bench_daemon_start(d, op->hbwatch, conf, BENCH_KEY, (rlim_t)slots + 256);
}

static void fd_limit_note(struct res *o, unsigned n, unsigned hangs)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	o->fd_limit = (unsigned long)rl.rlim_max;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)n + hangs + 32)
		note(o,
		     "hbwatch needs a pidfd per watched process and may open at most %lu files "
		     "here (hard RLIMIT_NOFILE; raising it needs CAP_SYS_RESOURCE)",
		     o->fd_limit);
}

/* Let the N beat, wait until the wake-up of all of them has drained, and
 * measure the daemon's CPU share over SECS.  Returns false if the machine
 * could not keep up (the guard tripped). */
static bool steady_window(struct res *o, struct fleet *f, pid_t daemon, unsigned secs,
			  struct guard *g)
{
	uint64_t c0, t0;

	fleet_start_beating(f);
	/* The second gate wakes all N at once, as the stampede's release did
	 * (unguarded there too): what the guard judges is the steady beating,
	 * from when that wake-up has drained (twice the floor's time to wake
	 * N once). */
	bench_sleep((uint64_t)(2 * o->floor_all_ms * 1e6));
	/* Every client past its first beat, the run queue back to normal. */
	if (!guarded_sleep(g, 1500000000u))
		return false;
	c0 = bench_cpu_ns(daemon);
	t0 = now_ns();
	if (!guarded_sleep(g, (uint64_t)secs * 1000000000u))
		return false;
	o->steady_cpu_pct = (double)(bench_cpu_ns(daemon) - c0) * 100.0 / (double)(now_ns() - t0);
	return true;
}

/* The beating phase: the steady window, then the hangs beside them. */
static void beating(struct res *o, const struct opts *op, struct fleet *f, pid_t daemon)
{
	struct guard g;

	guard_init(&g);
	if (steady_window(o, f, daemon, op->steady_s, &g)) {
		progress(o->n, "steady window done");
		if (o->fd_limit &&
		    (unsigned long)bench_count_fds(daemon) + op->hangs + 8 > o->fd_limit)
			note(o, "no hangs timed: hbwatch has no fd left to watch them");
		else {
			run_hangs(o, op->hangs, &g, -1);
			run_hangs(o, op->hangs, &g, deadlines_rt(op) ? SCHED_RR : SCHED_OTHER);
		}
	}
	o->runnable_peak = g.peak;
	o->beat_ran = !g.tripped;
	o->overloaded = g.tripped;
	if (g.tripped)
		note(o,
		     "stopped: with %u processes beating once a second this machine fell behind "
		     "(more than %ld tasks runnable for %.0f s, peak %ld); no steady or "
		     "detection figures",
		     o->registered, g.limit, (double)OVERLOAD_NS / 1e9, g.peak);
}

static void stampede(struct res *o, const struct opts *op, struct bench_daemon *d)
{
	struct fleet f = {.name = "stampede", .timeout_ms = BEATER_TIMEOUT_MS, .beat = true};
	int r = fleet_start(&f, o->n);
	unsigned ready;
	uint64_t c0;

	if (r < 0) {
		note(o, "cannot start the fleet: %s", strerror(-r));
		fleet_stop(&f);
		return;
	}
	o->started = f.started;
	progress(o->n, "%u processes forked", f.started);
	if (f.started < o->n)
		note(o, "fork() failed after %u processes: %s", f.started, errname(f.fork_errno));
	ready = fleet_wait_ready(&f, 300000000000ull);
	progress(o->n, "%u of %u processes at the gate", ready, f.started);
	if (ready < f.started)
		note(o, "only %u of %u processes reached the gate within 5 min", ready, f.started);
	bench_sleep(300000000u); /* the fork storm's aftermath settles */
	c0 = bench_cpu_ns(d->pid);
	fleet_release(&f);
	o->got = fleet_collect(&f, COLLECT_NS);
	register_figures(&f, o);
	progress(o->n, "%u registered, the last %.0f ms after the release", o->registered,
		 o->all_registered_ms);
	o->release_ms = (double)(f.released_ns - f.release_ns) / 1e6;
	wait_watched(o, &f);
	o->stampede_cpu_ms = (double)(bench_cpu_ns(d->pid) - c0) / 1e6;
	progress(o->n, "%u watched by hbwatch", o->watched);
	o->check = fleet_verify(&f);
	print_register(o);
	if (op->mass_exit) {
		progress(o->n, "census checked; %u exit at once", o->registered);
		mass_exit(o, &f, d->pid, deadlines_rt(op), op->hangs_rt);
	} else if (op->overloaded_at) {
		note(o,
		     "no beating phase: with %u processes beating once a second this machine "
		     "already fell behind",
		     op->overloaded_at);
	} else {
		progress(o->n, "census checked; %u start beating", o->registered);
		beating(o, op, &f, d->pid);
	}
	o->hwm_kb = bench_status_kb(d->pid, "VmHWM");
	o->rss_kb = bench_status_kb(d->pid, "VmRSS");
	progress(o->n, "%u hangs timed; stopping %u processes", o->hangs, f.started);
	fleet_stop(&f);
	progress(o->n, "stopped");
}

/* Every thread of hbwatch (the doorbell's too): a nice value and a
 * scheduling policy are per thread.  Calls SET(tid, ARG) for each, which
 * returns an error message or NULL. */
static void daemon_threads(struct res *o, pid_t pid, const char *what,
			   const char *(*set)(pid_t tid, int arg), int arg)
{
	char path[64];
	struct dirent *e;
	const char *err;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir) {
		note(o, "cannot set hbwatch's %s: %s", what, strerror(errno));
		return;
	}
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.' && (err = set((pid_t)atoi(e->d_name), arg)))
			note(o, "cannot set the %s of hbwatch's thread %s: %s", what, e->d_name,
			     err);
	closedir(dir);
}

static const char *thread_nice(pid_t tid, int nice)
{
	return setpriority(PRIO_PROCESS, (id_t)tid, nice) < 0 ? strerror(errno) : NULL;
}

/* -r: SCHED_RR 1, the policy its unit's drop-in gives it
 * (CPUSchedulingPolicy=rr). */
static const char *thread_realtime(pid_t tid, int prio)
{
	struct sched_param sp = {.sched_priority = prio};

	return sched_setscheduler(tid, SCHED_RR, &sp) < 0 ? strerror(errno) : NULL;
}

static void one_size(struct res *o, const struct opts *op, int ns)
{
	struct bench_daemon d = {0};

	fflush(stdout); /* children must not inherit unwritten output */
	if (preflight(o, o->n, op->hangs, ns) < 0)
		return;
	fd_limit_note(o, o->n, op->hangs);
	floor_run(o);
	if (start_daemon(&d, op, o->n) < 0) {
		snprintf(o->skipped, sizeof(o->skipped), "hbwatch did not start (log: %s)", d.log);
		bench_daemon_stop(&d, 1);
		bench_remove_ipc(BENCH_KEY);
		return;
	}
	if (op->daemon_nice)
		daemon_threads(o, d.pid, "nice value", thread_nice, op->daemon_nice);
	if (op->daemon_rt)
		daemon_threads(o, d.pid, "scheduling policy (SCHED_RR 1)", thread_realtime, 1);
	stampede(o, op, &d);
	/* HBWATCH_BENCH_KEEP_LOG=1 keeps hbwatch's log (its records of each
	 * deadline, with how late it saw it) and says where. */
	if (getenv("HBWATCH_BENCH_KEEP_LOG"))
		fprintf(stderr, "[%u] hbwatch's log kept: %s\n", o->n, d.log);
	bench_daemon_stop(&d, getenv("HBWATCH_BENCH_KEEP_LOG") != NULL);
	bench_remove_ipc(BENCH_KEY);
}

/* ---- report ---- */

static void print_rest(const struct res *o)
{
	if (o->skipped[0]) {
		printf("\n== N = %u\nnot run: %s\n", o->n, o->skipped);
		return;
	}
	if (!o->started)
		printf("\n== N = %u\n", o->n);
	if (o->beat_ran) {
		printf("detection of %u hangs beside them: %u signalled, median %.3f ms, p99 %.3f "
		       "ms, max %.3f ms; %u never signalled\n",
		       o->hangs, o->detected, o->det_med, o->det_p99, o->det_max, o->missed);
		printf("detection floor, the same schedule signalled by a sleeper of its own at "
		       "hbwatch's priority: %u signalled, median %.3f ms, p99 %.3f ms, max %.3f ms "
		       "(hbwatch's median %.2fx the floor's)\n",
		       o->fl_detected, o->fl_med, o->fl_p99, o->fl_max,
		       o->fl_med > 0 ? o->det_med / o->fl_med : 0);
		printf("hbwatch: %.3f%% of a core while %u beat once a second (at most %ld tasks "
		       "runnable meanwhile)\n",
		       o->steady_cpu_pct, o->registered, o->runnable_peak);
	}
	printf("hbwatch: VmHWM %lu kB, VmRSS %lu kB at the end\n", o->hwm_kb, o->rss_kb);
	if (o->notes[0])
		printf("notes: %s\n", o->notes);
}

static void print_table(const struct res *r, unsigned k)
{
	printf("\n%7s %7s %9s %9s %9s %10s %10s %10s %9s %9s %9s %8s %9s\n", "N", "failed",
	       "reg p50", "reg p99", "reg max", "all reg", "floor", "all watch", "det med",
	       "det max", "CPU ms", "steady%", "VmHWM kB");
	for (unsigned i = 0; i < k; i++) {
		const struct res *o = &r[i];

		if (o->skipped[0]) {
			printf("%7u  not run (see above)\n", o->n);
			continue;
		}
		printf("%7u %7u %9.2f %9.2f %9.2f %10.1f %10.1f %10.1f ", o->n, o->failed,
		       o->reg.p50, o->reg.p99, o->reg.max, o->all_registered_ms, o->floor_all_ms,
		       o->all_watched_ms);
		if (o->beat_ran)
			printf("%9.3f %9.3f ", o->det_med, o->det_max);
		else
			printf("%9s %9s ", "-", "-");
		printf("%9.1f ", o->stampede_cpu_ms);
		if (o->beat_ran)
			printf("%8.3f ", o->steady_cpu_pct);
		else
			printf("%8s ", "-");
		printf("%9lu\n", o->hwm_kb);
	}
	printf("(ms unless marked; reg = hb_register() as the client timed it; all reg/all watch "
	       "= release -> last registered / -> hbwatch's status view showing all watched, 0 = "
	       "never; floor = release -> the last of as many processes that do nothing; CPU = "
	       "hbwatch's over the stampede; - = not measured, see the notes)\n");
}

static void print_targets(const struct res *r, unsigned k)
{
	for (unsigned i = 0; i < k; i++) {
		const struct res *o = &r[i];

		if (o->n != 10000 || o->skipped[0])
			continue;
		printf("\ntargets at N = 10000 (informational):\n");
		printf("  failures %u (0) %s; hb_register p99 %.1f ms (<= 250) %s; all registered "
		       "%.0f ms (<= 1000) %s\n",
		       o->failed, o->failed ? "MISS" : "PASS", o->reg.p99,
		       o->reg.p99 <= 250 ? "PASS" : "MISS", o->all_registered_ms,
		       o->all_registered_ms <= 1000 ? "PASS" : "MISS");
		if (!o->beat_ran)
			printf("  detection not measured (see the notes)\n");
		else
			printf("  detection median %.3f ms (<= 1) %s; max %.3f ms (<= 5) %s\n",
			       o->det_med, o->detected && o->det_med <= 1 ? "PASS" : "MISS",
			       o->det_max, o->detected && o->det_max <= 5 ? "PASS" : "MISS");
	}
}

/* JSON strings here are our own messages: only '"' and '\\' need care. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void print_json_size(const struct res *o)
{
	printf("\"%u\":{", o->n);
	if (o->skipped[0]) {
		printf("\"ran\":false,\"why\":");
		json_str(o->skipped);
		printf("}");
		return;
	}
	printf("\"ran\":true,\"started\":%u,\"registered\":%u,\"failed\":%u,\"errors\":{",
	       o->started, o->registered, o->failed);
	print_errs(stdout, o, true);
	printf("},\"register_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
	       "\"release_to_registered_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
	       "\"all_registered_ms\":%.1f,\"release_ms\":%.1f,\"floor_all_ms\":%.1f,"
	       "\"floor_release_ms\":%.1f,\"all_watched_ms\":",
	       o->reg.p50, o->reg.p99, o->reg.max, o->rel.p50, o->rel.p99, o->rel.max,
	       o->all_registered_ms, o->release_ms, o->floor_all_ms, o->floor_release_ms);
	if (o->all_watched_ms > 0) /* 0: hbwatch never watched them all */
		printf("%.1f", o->all_watched_ms);
	else
		printf("null");
	printf(",\"watched\":%u,\"duplicates\":%u,\"lost\":%u,\"foreign\":%u,", o->watched,
	       o->check.dup, o->check.lost, o->check.foreign);
	if (o->beat_ran)
		printf("\"detect\":{\"hangs\":%u,\"signalled\":%u,\"missed\":%u,"
		       "\"median_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"floor\":{"
		       "\"signalled\":%u,\"median_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}},",
		       o->hangs, o->detected, o->missed, o->det_med, o->det_p99, o->det_max,
		       o->fl_detected, o->fl_med, o->fl_p99, o->fl_max);
	else
		printf("\"detect\":null,");
	if (o->mx_ran)
		printf("\"mass_exit\":{\"hangs\":%u,\"signalled\":%u,\"late_median_ms\":%.3f,"
		       "\"late_max_ms\":%.3f,\"cpu_ms\":%.1f,\"kill_ms\":%.1f,"
		       "\"floor_median_ms\":%.3f,\"floor_max_ms\":%.3f,"
		       "\"signal_floor_median_ms\":%.3f,\"signal_floor_max_ms\":%.3f},",
		       MX_HANGS, o->mx_detected, o->mx_med, o->mx_max, o->mx_cpu_ms, o->mx_kill_ms,
		       o->mx_floor_med, o->mx_floor_max, o->mx_sig_med, o->mx_sig_max);
	printf("\"runnable_peak\":%ld,\"daemon\":{\"stampede_cpu_ms\":%.1f,\"steady_cpu_pct\":",
	       o->runnable_peak, o->stampede_cpu_ms);
	if (o->beat_ran)
		printf("%.4f", o->steady_cpu_pct);
	else
		printf("null");
	printf(",\"hwm_kb\":%lu,\"rss_kb\":%lu,\"fd_limit\":%lu},\"notes\":", o->hwm_kb, o->rss_kb,
	       o->fd_limit);
	json_str(o->notes);
	printf("}");
}

static void print_json(const struct res *r, unsigned k, const struct opts *op)
{
	printf("RESULT {\"bench\":\"stampede\",\"hangs\":%u,\"n\":{", op->hangs);
	for (unsigned i = 0; i < k; i++) {
		if (i)
			putchar(',');
		print_json_size(&r[i]);
	}
	printf("}}\n");
}

/* ---- main ---- */

/* With thousands of runnable processes a nice-0 controller waits seconds
 * for the CPU, and so would the guard that is to stop an overload.  So we
 * run at nice -10; SCHED_RESET_ON_FORK gives every child (clients, hangs,
 * the daemon) the default nice 0 again.  Best effort. */
static void controller_priority(void)
{
	struct sched_param sp = {.sched_priority = 0};

	if (sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &sp) == 0)
		(void)setpriority(PRIO_PROCESS, 0, -10);
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *op, unsigned *sizes, unsigned *k)
{
	static const unsigned def[] = {1000, 2000, 5000, 10000, 20000};
	unsigned prio;
	int c;

	while ((c = getopt(argc, argv, "H:s:xn:g:rRP:")) != -1) {
		if (c == 'r' || c == 'R') {
			*(c == 'r' ? &op->daemon_rt : &op->hangs_rt) = true;
			continue;
		}
		if (c == 'g' && strlen(optarg) < 64 && !strpbrk(optarg, "\n[]=")) {
			op->starve_grace = optarg;
			continue;
		}
		if (c == 'n') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < -20 || v > 19)
				return -EINVAL;
			op->daemon_nice = (int)v;
			continue;
		}
		if (c == 'x') {
			op->mass_exit = true;
			continue;
		}
		if (c == 'H' && parse_uint(optarg, 0, HANGS_MAX, &op->hangs) == 0)
			continue;
		if (c == 'P' && parse_uint(optarg, 0, 99, &prio) == 0) {
			op->deadline_prio = (int)prio;
			continue;
		}
		if (c == 's' && parse_uint(optarg, 1, 600, &op->steady_s) == 0)
			continue;
		return -EINVAL;
	}
	if (optind >= argc)
		return -EINVAL;
	op->hbwatch = argv[optind++];
	*k = 0;
	for (; optind < argc && *k < SIZES_MAX; optind++)
		if (parse_uint(argv[optind], 0, 1000000, &sizes[(*k)++]) < 0)
			return -EINVAL;
	if (optind < argc)
		return -EINVAL;
	if (*k == 0)
		for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			sizes[(*k)++] = def[i];
	return 0;
}

int main(int argc, char **argv)
{
	struct opts op = {.hangs = 30, .steady_s = 5, .deadline_prio = -1};
	unsigned sizes[SIZES_MAX], k;
	struct res *r;
	int ns;

	if (parse_args(argc, argv, &op, sizes, &k) < 0) {
		fprintf(stderr,
			"usage: bench_stampede HBWATCH [-H HANGS (0..%u)] [-s STEADY_S] [-x] "
			"[-n NICE] [-g STARVE_GRACE] [-r] [-R] [N...]\n",
			HANGS_MAX);
		return 2;
	}
	r = calloc(k, sizeof(*r));
	if (!r)
		return 1;
	ns = bench_isolate(BENCH_KEY);
	controller_priority();
	printf("stampede: N processes call hb_register() at the same moment (timeout 60 s), then "
	       "beat once a second\nwhile %u hangs are timed beside them; %ld CPUs%s\n",
	       op.hangs, sysconf(_SC_NPROCESSORS_ONLN), ns ? "; private IPC namespace" : "");
	for (unsigned i = 0; i < k; i++) {
		r[i].n = sizes[i];
		one_size(&r[i], &op, ns);
		print_rest(&r[i]);
		fflush(stdout);
		if (r[i].overloaded)
			op.overloaded_at = r[i].n;
	}
	print_table(r, k);
	print_targets(r, k);
	print_json(r, k, &op);
	free(r);
	return 0;
}
