/* The mass exit (bench_stampede -x): "deadlines first".  Ten hangs,
 * already watched, beat a last time and stop, with timeouts of 50..300 ms,
 * and right then the N registered processes are killed at once (one
 * kill(2) of their process group): how late is each hang signalled while
 * hbwatch takes in N exits?  A mass exit must
 * not delay a deadline by more than 5 ms.  Also hbwatch's CPU over the 3 s
 * after the exit (what the exits cost it).
 *
 * A hang's figure holds two waits for a CPU among the exiting processes:
 * hbwatch's, to act on the deadline, and the hang's own, to run its
 * handler.  So there are two floors: a sleeper's wake-up at each deadline
 * (one wait), and the same sleeper's kill(2) timed by its target as the
 * hangs time theirs (two waits: the fair comparison).  With -R the hangs
 * and the targets run at SCHED_FIFO, which leaves the sender's wait alone.
 *
 * Included by bench_stampede.c only (its struct res, note(), the hang
 * report of bench_stampede's hangs); header-only to keep it beside them. */
#ifndef HBWATCH_BENCH_MASSEXIT_H
#define HBWATCH_BENCH_MASSEXIT_H

#define MX_HANGS    10u
#define MX_AFTER_NS 3000000000ull /* hbwatch's CPU is taken over this */

struct mx_shared {
	_Atomic uint32_t go;		      /* the fleet is dead: stop beating */
	_Atomic uint64_t deadline[MX_HANGS];  /* last beat + timeout, as each hang saw it */
	_Atomic int64_t late[MX_HANGS];	      /* signal arrival - deadline; INT64_MIN: none */
	_Atomic int64_t floor_late[MX_HANGS]; /* the floor: a sleeper woken at each deadline */
	/* The signal's floor: the same sleeper, once awake, sends SIGABRT
	 * with kill(2) to a process of its own that waits in pause() as the
	 * hangs do; signal arrival - deadline, as the hangs time theirs. */
	_Atomic uint64_t floor_at[MX_HANGS];
	_Atomic int64_t floor_sig_late[MX_HANGS];
};

static struct mx_shared *mx;
static volatile int mx_idx;
static int mx_hang_policy = SCHED_OTHER; /* -R: SCHED_FIFO */

/* A hang at SCHED_FIFO runs the moment its signal arrives: what is timed
 * is then the sender alone, not the hang's own wait for a CPU among the
 * exiting processes. */
static void mx_policy(int policy)
{
	struct sched_param sp = {.sched_priority = policy == SCHED_OTHER ? 0 : 1};

	if (policy != SCHED_OTHER)
		sched_setscheduler(0, policy, &sp);
}

static void mx_on_floor_abort(int sig)
{
	(void)sig;
	atomic_store(&mx->floor_sig_late[mx_idx],
		     (int64_t)(now_ns() - atomic_load(&mx->floor_at[mx_idx])));
	_exit(0);
}

/* The signal floor's target: waits in pause(), unregistered, until the
 * floor signals it at its deadline. */
static void mx_floor_target(int idx)
{
	struct sigaction sa = {.sa_handler = mx_on_floor_abort};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	mx_policy(mx_hang_policy);
	mx_idx = idx;
	sigaction(SIGABRT, &sa, NULL);
	for (;;)
		pause();
}

static void mx_on_abort(int sig)
{
	uint64_t deadline = atomic_load(&mx->deadline[mx_idx]);

	(void)sig;
	/* Before its last beat: starved past its timeout while beating (a
	 * fair kill), not a deadline of the mass exit's. */
	if (deadline)
		atomic_store(&mx->late[mx_idx], (int64_t)(now_ns() - deadline));
	_exit(0);
}

/* Registered and beating every 10 ms until the fleet is dead; then one
 * last beat and a hang. */
static void mx_hang(int idx, unsigned timeout_ms)
{
	struct sigaction sa = {.sa_handler = mx_on_abort};
	uint64_t last;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	mx_policy(mx_hang_policy);
	mx_idx = idx;
	sigaction(SIGABRT, &sa, NULL);
	if (hb_register("hang", timeout_ms) < 0)
		_exit(2);
	while (!atomic_load(&mx->go)) {
		hb_beat();
		bench_sleep(10000000u);
	}
	last = now_ns(); /* before the beat: the deadline is not flattered */
	hb_beat();
	atomic_store(&mx->deadline[idx], last + (uint64_t)timeout_ms * 1000000u);
	for (;;)
		pause();
}

/* The floor: a process at hbwatch's priority that sleeps to the same
 * deadlines (the go, then each hang's timeout) and times its own wake-up,
 * as the hangs time their signal.  What the mass exit costs any waiter on
 * this machine; hbwatch's lateness is read against it. */
static void mx_floor(const pid_t *targets, int policy)
{
	uint64_t t0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	mx_policy(policy);
	while (!atomic_load(&mx->go))
		bench_sleep(1000000u);
	t0 = now_ns();
	for (unsigned i = 0; i < MX_HANGS; i++) {
		uint64_t at = t0 + (uint64_t)(50 + i * 250 / (MX_HANGS - 1)) * 1000000u;

		bench_sleep_until(at);
		atomic_store(&mx->floor_late[i], (int64_t)(now_ns() - at));
		atomic_store(&mx->floor_at[i], at);
		if (targets[i] > 0)
			kill(targets[i], SIGABRT);
	}
	_exit(0);
}

static double mx_median(_Atomic int64_t *v, double *max, unsigned *n_out)
{
	int64_t x[MX_HANGS];
	size_t n = 0;

	for (unsigned i = 0; i < MX_HANGS; i++)
		if (atomic_load(&v[i]) != INT64_MIN)
			x[n++] = atomic_load(&v[i]);
	*n_out = (unsigned)n;
	*max = 0;
	if (!n)
		return 0;
	qsort(x, n, sizeof(*x), bench_cmp_i64);
	*max = (double)x[n - 1] / 1e6;
	return (double)bench_pct_i64(x, n, 50) / 1e6;
}

/* DAEMON_RT: hbwatch's deadline work runs at SCHED_RR (the floor then
 * too: it sleeps at hbwatch's priority); HANGS_RT: the hangs and the floor's targets at
 * SCHED_FIFO. */
static void mass_exit(struct res *o, struct fleet *f, pid_t daemon, bool daemon_rt, bool hangs_rt)
{
	pid_t floor_pid, targets[MX_HANGS];
	unsigned floor_n, floor_sig_n;
	pid_t pids[MX_HANGS];
	int64_t late[MX_HANGS];
	size_t n = 0;
	uint64_t c0, t_exit;

	mx = mmap(NULL, sizeof(*mx), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mx == MAP_FAILED) {
		note(o, "no mass exit: %s", strerror(errno));
		return;
	}
	mx_hang_policy = hangs_rt ? SCHED_FIFO : SCHED_OTHER;
	for (unsigned i = 0; i < MX_HANGS; i++) {
		atomic_store(&mx->floor_late[i], INT64_MIN);
		atomic_store(&mx->floor_sig_late[i], INT64_MIN);
		targets[i] = fork();
		if (targets[i] == 0)
			mx_floor_target((int)i);
	}
	floor_pid = fork();
	if (floor_pid == 0)
		mx_floor(targets, daemon_rt ? SCHED_RR : SCHED_OTHER);
	for (unsigned i = 0; i < MX_HANGS; i++) {
		atomic_store(&mx->late[i], INT64_MIN);
		pids[i] = fork();
		if (pids[i] == 0)
			mx_hang((int)i, 50 + i * 250 / (MX_HANGS - 1)); /* 50..300 ms */
	}
	/* One process group for the fleet: one kill(2) ends them all at
	 * once (a loop of 10 000 kills takes seconds beside the exits). */
	for (unsigned i = 0; i < f->started; i++)
		setpgid(f->pids[i], f->pids[0]);
	bench_sleep(1000000000u); /* the hangs registered and watched */
	c0 = bench_cpu_ns(daemon);
	/* The hangs' last beats, then at once the exit: their deadlines
	 * fall 50..300 ms into it. */
	atomic_store(&mx->go, 1);
	for (unsigned i = 0, w = 0; i < MX_HANGS && w < 1000; w++) {
		if (atomic_load(&mx->deadline[i]))
			i++;
		else
			bench_sleep(100000u);
	}
	t_exit = now_ns();
	if (f->started) /* never kill(0): that is our own process group */
		kill(-f->pids[0], SIGKILL);
	o->mx_kill_ms = (double)(now_ns() - t_exit) / 1e6;
	bench_sleep(MX_AFTER_NS);
	o->mx_cpu_ms = (double)(bench_cpu_ns(daemon) - c0) / 1e6;
	/* A hang not signalled yet is very late: wait for it, up to 30 s. */
	for (unsigned i = 0, k = 0; i < MX_HANGS && k < 300; k++) {
		if (atomic_load(&mx->late[i]) != INT64_MIN)
			i++;
		else
			bench_sleep(100000000u);
	}
	for (unsigned i = 0; i < MX_HANGS; i++) {
		int64_t v = atomic_load(&mx->late[i]);

		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
		if (v != INT64_MIN)
			late[n++] = v;
	}
	if (floor_pid > 0) {
		kill(floor_pid, SIGKILL);
		waitpid(floor_pid, NULL, 0);
	}
	for (unsigned i = 0; i < MX_HANGS; i++)
		if (targets[i] > 0) {
			kill(targets[i], SIGKILL);
			waitpid(targets[i], NULL, 0);
		}
	o->mx_floor_med = mx_median(mx->floor_late, &o->mx_floor_max, &floor_n);
	o->mx_sig_med = mx_median(mx->floor_sig_late, &o->mx_sig_max, &floor_sig_n);
	o->mx_detected = (unsigned)n;
	if (n) {
		qsort(late, n, sizeof(*late), bench_cmp_i64);
		o->mx_med = (double)bench_pct_i64(late, n, 50) / 1e6;
		o->mx_max = (double)late[n - 1] / 1e6;
	}
	o->mx_ran = true;
	munmap(mx, sizeof(*mx));
	printf("mass exit: %u processes killed at once (kill(2) took %.1f ms), then %u hangs "
	       "of 50..300 ms: %u signalled, %.3f ms late at the median, %.3f ms at most; hbwatch "
	       "CPU over the %.0f s after: %.1f ms\n",
	       f->started, o->mx_kill_ms, MX_HANGS, o->mx_detected, o->mx_med, o->mx_max,
	       (double)MX_AFTER_NS / 1e9, o->mx_cpu_ms);
	printf("mass exit: hbwatch at %s, the hangs and the floor's targets at %s\n",
	       daemon_rt ? "SCHED_RR 1" : "nice 0", hangs_rt ? "SCHED_FIFO 1" : "nice 0");
	printf("mass exit floor: a process sleeping to the same deadlines woke %.3f ms late at "
	       "the median, %.3f ms at most (%u of %u woke)\n",
	       o->mx_floor_med, o->mx_floor_max, floor_n, MX_HANGS);
	printf("mass exit signal floor: the same process, once awake, sent SIGABRT with kill(2) to "
	       "a process waiting in pause(); it arrived %.3f ms after the deadline at the median, "
	       "%.3f ms at most (%u of %u)\n",
	       o->mx_sig_med, o->mx_sig_max, floor_sig_n, MX_HANGS);
	fflush(stdout);
}

#endif
