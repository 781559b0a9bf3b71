/* Deadlines first: hbwatch's loop runs at the normal policy and a thread
 * of its own, at SCHED_RR, lifts it at each deadline (deadline_priority=).
 * What the threads run at, as the kernel reports it; that a hung process
 * is killed whether lifting is on, off, or refused; and that a refusal
 * (no CAP_SYS_NICE, RLIMIT_RTPRIO below the priority) is said in the log.
 * How late a deadline is under load is measured by bench_stampede -x,
 * not asserted here. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

TestSuite(lift, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* The thread of the daemon whose comm is NAME, or 0. */
static pid_t thread_named(const char *name)
{
	char path[320], comm[32];
	struct dirent *e;
	pid_t found = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)H.daemon);
	dir = opendir(path);
	cr_assert_not_null(dir, "%s: %s", path, strerror(errno));
	while (!found && (e = readdir(dir))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)H.daemon, e->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (strcmp(comm, name) == 0)
				found = (pid_t)atoi(e->d_name);
		}
		if (f)
			fclose(f);
	}
	closedir(dir);
	return found;
}

/* The same, given a second to name itself. */
static pid_t daemon_thread(const char *name)
{
	pid_t tid = 0;

	for (int i = 0; i < 200 && !(tid = thread_named(name)); i++)
		hbd_sleep_ms(5);
	return tid;
}

/* Whether the loop runs at the normal policy with lifting off or refused:
 * hbwatch has then set nothing. */
static void assert_loop_untouched(void)
{
	int got = sched_getscheduler(H.daemon);

	cr_assert_eq(got & ~SCHED_RESET_ON_FORK, SCHED_OTHER, "the loop runs at policy %#x", got);
}

static void assert_policy(pid_t tid, int policy, int priority, const char *what)
{
	struct sched_param sp = {0};
	int got = sched_getscheduler(tid);

	cr_assert_geq(got, 0, "%s: sched_getscheduler: %s", what, strerror(errno));
	cr_assert_eq(sched_getparam(tid, &sp), 0);
	cr_assert_eq(got, policy | SCHED_RESET_ON_FORK,
		     "%s runs at policy %#x, not %#x (reset on fork)", what, got,
		     policy | SCHED_RESET_ON_FORK);
	cr_assert_eq(sp.sched_priority, priority, "%s runs at priority %d, not %d", what,
		     sp.sched_priority, priority);
}

/* Between deadlines the loop is at the normal policy: seen within a few
 * tries (a scan may lift it for a moment). */
static void assert_loop_lowered(void)
{
	for (int i = 0; i < 200; i++) {
		if (sched_getscheduler(H.daemon) == (SCHED_OTHER | SCHED_RESET_ON_FORK))
			return;
		hbd_sleep_ms(5);
	}
	assert_policy(H.daemon, SCHED_OTHER, 0, "the loop, between deadlines");
}

static void assert_hung_worker_killed(const char *name)
{
	pid_t w = hbd_worker(name, 300, "--beat-ms", "50", "--hang-after-ms", "400", NULL);
	struct hbd_death d = {.pid = w};

	hbd_wait_deaths(&d, 1, 10000);
	hbd_assert_killed_by(&d, SIGABRT);
	cr_assert(hbd_log_wait("signal-sent", w, NULL, 5000));
}

/* 1. By default, priority 1: the lifting thread at SCHED_RR 1, the loop at
 * the normal policy between deadlines, and a hung worker killed. */
Test(lift, default_priority_lifts_at_rr_1)
{
	hbd_config("[svc]\ntimeout = 300ms\n");
	hbd_start();
	cr_assert(hbd_log_wait(NULL, 0, "deadlines first", 5000));
	pid_t lifter = daemon_thread("hbwatch-lift");
	cr_assert_neq(lifter, 0, "no thread named hbwatch-lift");
	assert_policy(lifter, SCHED_RR, 1, "hbwatch-lift");
	assert_loop_lowered();
	assert_hung_worker_killed("svc");
	assert_loop_lowered();
}

/* 2. deadline_priority = 5: that priority; it and the budget are shown,
 * and the journal gives both at start. */
Test(lift, priority_is_the_configured_one)
{
	char out[4096] = "";

	hbd_config("deadline_priority = 5\ndeadline_budget = 250ms\n[svc]\ntimeout = 300ms\n");
	cr_assert_eq(
	    hbd_run(out, sizeof(out), NULL, 0, "-c", H.conf, "--check-config", "--show", NULL), 0);
	cr_assert(strstr(out, "deadline_priority = 5 (SCHED_RR)"), "%s", out);
	cr_assert(strstr(out, "deadline_budget   = 250ms"), "%s", out);
	hbd_start();
	cr_assert(
	    hbd_log_wait(NULL, 0,
			 "to SCHED_RR priority 5 until it is dealt with, for at most 250 ms of "
			 "CPU time a second",
			 5000));
	pid_t lifter = daemon_thread("hbwatch-lift");
	cr_assert_neq(lifter, 0);
	assert_policy(lifter, SCHED_RR, 5, "hbwatch-lift");
	assert_hung_worker_killed("svc");
}

/* 3. deadline_priority = 0: no lifting thread, everything at the normal
 * policy, and deadlines are still acted on. */
Test(lift, zero_turns_it_off)
{
	hbd_config("deadline_priority = 0\n[svc]\ntimeout = 300ms\n");
	hbd_start();
	cr_assert(hbd_log_wait(NULL, 0, "deadline_priority = 0", 5000));
	cr_assert_eq(thread_named("hbwatch-lift"), 0, "a lifting thread although off");
	assert_hung_worker_killed("svc");
	assert_loop_untouched();
	cr_assert_eq(hbd_log_count(NULL, 0, "deadlines first"), 0);
}

/* Whether this process may give a child RLIMIT_RTPRIO = PRIO: raising the
 * hard limit needs CAP_SYS_RESOURCE, which a container may not have. */
static bool rtprio_can_be(unsigned prio)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_RTPRIO, &rl) == 0 && rl.rlim_max >= prio;
}

/* 4. As the installed unit runs it: no CAP_SYS_NICE, RLIMIT_RTPRIO 1.
 * Priority 1 is allowed; the kernel lifts through the limit alone. */
Test(lift, rtprio_limit_alone_is_enough)
{
	if (!rtprio_can_be(1))
		cr_skip_test("the hard RLIMIT_RTPRIO here is 0, and raising it needs "
			     "CAP_SYS_RESOURCE");
	H.rt_limited = true;
	H.rtprio = 1;
	hbd_config("[svc]\ntimeout = 300ms\n");
	hbd_start();
	cr_assert(hbd_log_wait(NULL, 0, "deadlines first", 5000));
	pid_t lifter = daemon_thread("hbwatch-lift");
	cr_assert_neq(lifter, 0);
	assert_policy(lifter, SCHED_RR, 1, "hbwatch-lift");
	assert_hung_worker_killed("svc");
	assert_loop_lowered();
}

/* 5. Refused (no CAP_SYS_NICE, RLIMIT_RTPRIO 0): one warning that says
 * why and what follows, no lifting thread, and a hung worker is still
 * killed. */
Test(lift, refused_priority_is_said_and_deadlines_still_kill)
{
	H.rt_limited = true;
	H.rtprio = 0;
	hbd_config("[svc]\ntimeout = 300ms\n");
	hbd_start();
	cr_assert(hbd_log_wait(
	    NULL, 0, "cannot use SCHED_RR priority 1 for deadlines: Operation not permitted",
	    5000));
	cr_assert(hbd_log_wait(NULL, 0, "LimitRTPRIO=", 100));
	cr_assert_eq(thread_named("hbwatch-lift"), 0, "a lifting thread although refused");
	assert_loop_untouched();
	assert_hung_worker_killed("svc");
	cr_assert_eq(hbd_log_count(NULL, 0, "cannot use SCHED_RR"), 1, "said more than once");
}

/* 6. A reload with another priority keeps the one in force, and says so. */
Test(lift, reload_keeps_the_priority_in_force)
{
	hbd_config("[svc]\ntimeout = 300ms\n");
	hbd_start();
	hbd_config("deadline_priority = 7\n[svc]\ntimeout = 300ms\n");
	hbd_reload();
	cr_assert(hbd_log_wait(NULL, 0, "deadline_priority takes effect at the next start", 5000));
	assert_policy(daemon_thread("hbwatch-lift"), SCHED_RR, 1, "hbwatch-lift");
}

/* 7. A flood of short deadlines, which any local user can make, keeps the
 * loop lifted no longer than the budget: past it hbwatch says so, and the
 * rest of the second waits at the normal policy.  How much CPU a flood
 * takes depends on the machine, so the budget here is the smallest, 1 ms
 * a second, which 64 processes beating every 1 ms against 2 ms timeouts
 * exceed on any machine (about a thousand lifted turns a second). */
Test(lift, flood_of_deadlines_runs_out_the_budget, .timeout = 90)
{
	pid_t w[64];

	hbd_config("uid_share = 100%%\ndeadline_budget = 1ms\n[flood]\naction = log\n");
	hbd_start();
	cr_assert(hbd_log_wait(NULL, 0, "for at most 1 ms of CPU time a second", 5000));
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		w[i] = hbd_worker("flood", 2, "--beat-ms", "1", NULL);
	cr_assert(
	    hbd_log_wait(NULL, 0, "deadline work took more than 1 ms of CPU at SCHED_RR", 30000),
	    "no budget warning while 64 processes beat every 1 ms with 2 ms timeouts");
	assert_loop_lowered();
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		cr_assert(hbd_alive(w[i]), "worker %d was acted on under action = log", (int)w[i]);
}
