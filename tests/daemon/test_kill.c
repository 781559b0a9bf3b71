/* The daemon kills what misses its deadline, and only that: a hung worker,
 * escalation to SIGKILL, a beating worker left alone, dead registrations
 * cleaned up without a signal, 50 hung workers handled in parallel. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Every test here needs the daemon to watch its workers. */
static void init(void)
{
	hbd_init();
	hbd_need_pidfd();
}

TestSuite(kill, .init = init, .fini = hbd_fini, .timeout = 60);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* 1. A worker that stops beating (alive, asleep) dies by the configured
 * signal (SIGABRT by default), the log says why, and its slot is freed. */
Test(kill, hung_worker_is_killed_by_its_signal)
{
	hbd_config("kill_grace = 5s\n[t1]\ntimeout = 300ms\n");
	hbd_start();
	pid_t w = hbd_worker("t1", 300, "--beat-ms", "50", "--hang-after-ms", "500", NULL);
	int slot = hbd_record_of(w);
	cr_assert(slot >= 0, "worker %d has no slot", (int)w);

	struct hbd_death d = {.pid = w};
	hbd_wait_deaths(&d, 1, 10000);
	hbd_assert_killed_by(&d, SIGABRT);
	cr_assert(hbd_log_wait("deadline-missed", w, "t1", 5000));
	cr_assert(hbd_log_wait("signal-sent", w, "sent SIGABRT to t1", 5000));
	cr_assert(hbd_wait_record_gone(w, 5000), "slot %d still holds pid %d", slot, (int)w);
	cr_assert_eq(hbd_log_count("escalated", w, NULL), 0);

	cr_assert(d.last_beat_ns > 0, "never saw a beat of pid %d", (int)w);
	hbd_figure("hung worker (timeout 300 ms): died %.1f ms after its last beat "
		   "(%.1f ms after its deadline)",
		   (double)(d.died_ns - d.last_beat_ns) / 1e6,
		   ((double)(d.died_ns - d.last_beat_ns) - 300e6) / 1e6);
}

/* 2. A worker that ignores the configured signal survives it for
 * kill_grace, then dies by SIGKILL. */
Test(kill, ignored_signal_escalates_to_sigkill)
{
	hbd_config("kill_grace = 300ms\n[t2]\ntimeout = 300ms\nsignal = SIGTERM\n");
	hbd_start();
	pid_t w = hbd_worker("t2", 300, "--beat-ms", "50", "--hang-after-ms", "400", "--ignore",
			     "TERM", NULL);

	cr_assert(hbd_log_wait("signal-sent", w, "sent SIGTERM to t2", 10000));
	/* Half of kill_grace after SIGTERM went out, it must still be there:
	 * the escalation waits for kill_grace. */
	hbd_sleep_ms(150);
	cr_assert(hbd_alive(w), "pid %d died before kill_grace had passed", (int)w);

	struct hbd_death d = {.pid = w};
	hbd_wait_deaths(&d, 1, 10000);
	hbd_assert_killed_by(&d, SIGKILL);
	cr_assert(hbd_log_wait("escalated", w, "sent SIGKILL", 5000));
	cr_assert(hbd_wait_record_gone(w, 5000));
}

/* 3. A worker that keeps beating is never killed over 10+ timeouts, while
 * a hung sibling of the same service is (the daemon is enforcing). */
Test(kill, beating_worker_is_never_killed)
{
	hbd_config("kill_grace = 1s\n[t3]\ntimeout = 200ms\n");
	hbd_start();
	pid_t good = hbd_worker("t3", 200, "--beat-ms", "50", NULL);
	pid_t hung = hbd_worker("t3", 200, "--beat-ms", "50", "--hang-after-ms", "300", NULL);

	struct hbd_death d[2] = {{.pid = good}, {.pid = hung}};
	int n = hbd_wait_deaths(d, 2, 2500);
	cr_assert_eq(n, 1, "%d workers died in 2.5 s, expected only the hung one", n);
	cr_assert(!d[0].dead, "the beating worker died (status %d)", d[0].status);
	hbd_assert_killed_by(&d[1], SIGABRT);
	cr_assert(hbd_alive(good));
	cr_assert(hbd_record_of(good) >= 0, "the beating worker lost its slot");
	cr_assert_eq(hbd_log_count("signal-sent", good, NULL), 0,
		     "the beating worker was signalled");
	cr_assert_eq(hbd_log_count("deadline-missed", good, NULL), 0);
	/* hbwatch signals first and logs after: the death may be seen first. */
	cr_assert(hbd_log_wait("signal-sent", hung, NULL, 5000), "no record of the signal");
	cr_assert_eq(hbd_log_count("signal-sent", hung, NULL), 1);
}

/* 5. Registered processes SIGKILLed by someone else: slots freed, one
 * process-gone each, and no signal at all. */
Test(kill, dead_registrations_are_freed_without_a_signal)
{
	enum { N = 5 };
	pid_t w[N];

	hbd_config("kill_grace = 300ms\n[t5]\ntimeout = 300ms\n");
	hbd_start();
	for (int i = 0; i < N; i++)
		w[i] = hbd_worker("t5", 300, "--beat-ms", "50", NULL);
	/* Adopted (pidfds open) before they die: STATUS= counts them. */
	cr_assert(hbd_wait_status("Watching 5 processes", 10000), "STATUS: %s", H.status);

	for (int i = 0; i < N; i++)
		hbd_kill(w[i], SIGKILL);
	for (int i = 0; i < N; i++) {
		cr_assert(hbd_wait_exit(w[i], 5000, NULL));
		cr_assert(hbd_wait_record_gone(w[i], 5000), "slot of pid %d not freed", (int)w[i]);
		cr_assert(hbd_log_wait("process-gone", w[i], "without unregistering", 5000));
	}
	cr_assert(hbd_wait_status("Watching 0 processes", 5000), "STATUS: %s", H.status);
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-missed", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("stale-record", 0, NULL), 0);
}

/* 7. 50 workers hung at once, all ignoring the signal: all dead by SIGKILL
 * within timeout + kill_grace + 1.5 s of their last beat.  One after
 * another would take 50 x kill_grace = 25 s. */
Test(kill, fifty_hung_workers_are_killed_in_parallel, .timeout = 120)
{
	enum { N = 50 };
	struct hbd_death d[N];
	const uint64_t ms = 1000000u;

	hbd_config("kill_grace = 500ms\n[t7]\ntimeout = 300ms\nkill_burst = 1000\n");
	hbd_start();
	/* They all stop beating at the same moment T0, 8 s from now: room to
	 * start 50 of them even on a loaded machine, under a sanitizer and
	 * beside other tests. */
	uint64_t t0 = hbd_now_ns() + 8000 * ms;
	for (int i = 0; i < N; i++) {
		uint64_t now = hbd_now_ns();
		char hang[24];
		cr_assert(now + 100 * ms < t0, "spawning 50 workers took over 7.9 s");
		snprintf(hang, sizeof(hang), "%llu", (unsigned long long)((t0 - now) / ms));
		d[i] = (struct hbd_death){.pid = hbd_worker("t7", 300, "--beat-ms", "50",
							    "--hang-after-ms", hang, "--ignore",
							    "ABRT", NULL)};
	}
	int n = hbd_wait_deaths(d, N, 30000);
	if (n != N)
		hbd_log_dump();
	cr_assert_eq(n, N, "only %d of %d hung workers died within 30 s", n, N);

	uint64_t last_beat = 0, last_death = 0, worst = 0;
	for (int i = 0; i < N; i++) {
		hbd_assert_killed_by(&d[i], SIGKILL);
		cr_assert(d[i].last_beat_ns > 0, "never saw a beat of pid %d", (int)d[i].pid);
		if (d[i].last_beat_ns > last_beat)
			last_beat = d[i].last_beat_ns;
		if (d[i].died_ns > last_death)
			last_death = d[i].died_ns;
		if (d[i].died_ns - d[i].last_beat_ns > worst)
			worst = d[i].died_ns - d[i].last_beat_ns;
	}
	hbd_figure("50 hung workers (timeout 300 ms, kill_grace 500 ms): all dead %.1f ms after "
		   "the last of them stopped beating; worst single worker %.1f ms after its own "
		   "last beat",
		   (double)(last_death - last_beat) / 1e6, (double)worst / 1e6);
	cr_assert(worst <= (300 + 500 + 1500) * ms,
		  "a worker died %.1f ms after its last beat: escalation is not parallel",
		  (double)worst / 1e6);
	cr_assert(last_death - last_beat <= (300 + 500 + 1500) * ms,
		  "the last worker died %.1f ms after they all stopped beating",
		  (double)(last_death - last_beat) / 1e6);
	/* hbwatch signals first and logs after: the last deaths may be seen
	 * before their records. */
	for (int i = 0; i < N; i++)
		cr_assert(hbd_log_wait("escalated", d[i].pid, "sent SIGKILL", 5000),
			  "no record of the SIGKILL to pid %d", (int)d[i].pid);
	cr_assert_eq(hbd_log_count("escalated", 0, "sent SIGKILL"), N);
	for (int i = 0; i < N; i++)
		cr_assert(hbd_wait_record_gone(d[i].pid, 5000));
}

/* systemd's notify queue can fill up (PID 1 busy, chatty services).  A
 * daemon that blocked sending STATUS= there would stop killing; hbwatch
 * sends without blocking and keeps acting. */
Test(kill, full_notify_queue_does_not_stop_kills)
{
	enum { N_HUNG = 5 };
	struct hbd_death d[N_HUNG];

	hbd_config("kill_grace = 5s\n[t7]\ntimeout = 200ms\n");
	hbd_start();
	hbd_notify_deaf(true);
	for (int i = 0; i < N_HUNG; i++) {
		d[i] = (struct hbd_death){.pid = hbd_worker("t7", 200, "--beat-ms", "50",
							    "--hang-after-ms", "300", NULL)};
		hbd_sleep_ms(30); /* each registration changes STATUS= */
	}
	hbd_wait_deaths(d, N_HUNG, 10000);
	for (int i = 0; i < N_HUNG; i++)
		hbd_assert_killed_by(&d[i], SIGABRT);
	hbd_notify_deaf(false);
}

/* 8. A hung process held back by the rate limit is not forgotten: with
 * kill_burst = 1 per 2 s, the second hung worker is only logged at its
 * deadline, and killed as soon as the window reopens (it never beats
 * again, so nothing else would bring it back). */
Test(kill, rate_limited_hang_is_killed_when_the_window_reopens)
{
	hbd_config("kill_grace = 500ms\n[t8]\ntimeout = 300ms\nkill_burst = 1\n"
		   "kill_interval = 2s\n");
	hbd_start();
	pid_t a = hbd_worker("t8", 200, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	int st;

	cr_assert(hbd_wait_exit(a, 5000, &st), "the first hung worker was not killed");
	uint64_t first_kill = hbd_now_ns();
	pid_t b = hbd_worker("t8", 200, "--beat-ms", "50", "--hang-after-ms", "100", NULL);

	cr_assert(hbd_log_wait("rate-limited", b, "looking again in", 5000));
	cr_assert(hbd_alive(b), "the rate limit let the second kill through");
	cr_assert(hbd_wait_exit(b, 6000, &st), "the rate-limited worker was never killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	uint64_t waited = hbd_now_ns() - first_kill;
	cr_assert(waited >= 1500u * 1000000u, "killed after %llu ms, inside the 2 s window",
		  (unsigned long long)(waited / 1000000u));
	cr_assert(hbd_log_wait("signal-sent", b, NULL, 5000), "no record of the signal");
	cr_assert_eq(hbd_log_count("signal-sent", b, NULL), 1);
	hbd_figure("rate-limited hang killed %llu ms after the window's first kill",
		   (unsigned long long)(waited / 1000000u));
}

/* 9. A process that is stopped (SIGSTOP) when it misses its deadline dies
 * of the service's signal, not of the SIGKILL escalation: hbwatch sends
 * SIGCONT after it, as systemd does, so SIGABRT's core dump is not lost. */
Test(kill, stopped_process_dies_of_its_signal_not_sigkill)
{
	hbd_config("kill_grace = 3s\n[t9]\ntimeout = 300ms\n");
	hbd_start();
	pid_t w = hbd_worker("t9", 200, "--beat-ms", "50", NULL);
	int st;

	hbd_kill(w, SIGSTOP);
	cr_assert(hbd_wait_exit(w, 2500, &st),
		  "the stopped worker was still there 2.5 s later (waiting for SIGKILL?)");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		  "status 0x%x: expected death by SIGABRT, not by the escalation", st);
	cr_assert(hbd_log_wait("signal-sent", w, ", then SIGCONT", 1000));
	cr_assert_eq(hbd_log_count("escalated", w, NULL), 0);
}

/* 10. kill_group = yes: a shell job whose hung child would outlive the
 * shell (KillMode=process, cron) loses its whole process group.  The
 * registered process leads a group with a sleeping child in it; both die
 * of the service's signal. */
Test(kill, kill_group_takes_the_whole_process_group)
{
	hbd_config("kill_grace = 3s\n[job]\ntimeout = 300ms\nkill_group = yes\n");
	hbd_start();
	int ready[2];
	cr_assert(pipe(ready) == 0);
	pid_t parent = getpid(), leader = fork();
	cr_assert_geq(leader, 0);
	if (leader == 0) {
		hbd_child_setup(parent);
		setpgid(0, 0);
		pid_t c = fork();
		if (c == 0) {
			for (;;)
				pause(); /* the job's child, in the leader's group */
		}
		dprintf(ready[1], "%d\n", (int)c);
		execl(getenv("HBWORKER"), "hbworker", "--name", "job", "--timeout-ms", "200",
		      "--beat-ms", "50", "--hang-after-ms", "300", "--quiet", (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	char buf[32] = "";
	cr_assert_gt(read(ready[0], buf, sizeof(buf) - 1), 0);
	close(ready[0]);
	pid_t child = (pid_t)atoi(buf);
	int child_fd = pidfd_open(child, 0);
	cr_assert_geq(child_fd, 0);

	int st;
	cr_assert(hbd_wait_exit(leader, 5000, &st), "the hung leader was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "leader status 0x%x", st);
	struct pollfd p = {.fd = child_fd, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 2000), 1, "the job's child %d outlived the job", (int)child);
	close(child_fd);
	cr_assert(hbd_log_wait("signal-sent", leader, "member of its process group", 1000));
}
