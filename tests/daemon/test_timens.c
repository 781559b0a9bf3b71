/* Clients in time namespaces: their CLOCK_MONOTONIC runs an hour from
 * hbwatch's, and their beats are on it.  hbwatch reads each process's
 * offset from the kernel: a beating client whose clock is behind is not
 * killed, a hung client whose clock is ahead is, hbctl status shows both
 * on one clock, and hbctl beat --pid stamps the job's clock, not its own.
 *
 * The offsets are set with unshare(CLONE_NEWTIME) in this process before
 * each fork: the namespace applies to the children only, and this
 * process's own clock stays the host's.  The daemon runs an hour ahead of
 * the host, so a client on the host's clock is an hour behind it whatever
 * the uptime (the kernel refuses an offset that would take a clock below
 * zero). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define HOUR_S 3600

TestSuite(timens, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* Children forked from now on run with CLOCK_MONOTONIC MONO_S seconds
 * ahead of the host's.  Skips the test where time namespaces are not to
 * be had. */
static void children_clock(long mono_s)
{
	char line[64];
	int fd, n;

	if (unshare(CLONE_NEWTIME) < 0) {
		if (errno == EINVAL || errno == EPERM)
			cr_skip_test("no time namespaces here: %s", strerror(errno));
		cr_assert_fail("unshare(CLONE_NEWTIME): %s", strerror(errno));
	}
	n = snprintf(line, sizeof(line), "monotonic %ld 0\n", mono_s);
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	cr_assert(fd >= 0, "open timens_offsets: %s", strerror(errno));
	cr_assert_eq(write(fd, line, (size_t)n), n, "write timens_offsets: %s", strerror(errno));
	close(fd);
}

/* The "age_ms" hbctl status --json gives the record of PID (run an hour
 * ahead of the host, as the daemon). */
static long long status_age_ms(pid_t pid)
{
	char out[8192], err[1024], key[32];
	const char *p;
	long long age;

	children_clock(HOUR_S);
	int st = tu_run((char *[]){(char *)tu_prog("HBCTL"), "status", "--json", NULL}, out,
			sizeof(out), err, sizeof(err), 5000);
	cr_assert_eq(tu_exit_code(st), 0, "hbctl: %s", err);
	snprintf(key, sizeof(key), "\"pid\":%d,", (int)pid);
	p = strstr(out, key);
	cr_assert(p, "pid %d not in %s", (int)pid, out);
	p = strstr(p, "\"age_ms\":");
	cr_assert(p && sscanf(p, "\"age_ms\":%lld", &age) == 1, "no age in %s", out);
	return age;
}

/* A client an hour behind hbwatch that beats every 100 ms is left alone,
 * and shows a fresh beat. */
Test(timens, client_behind_that_beats_is_not_killed)
{
	hbd_config("kill_grace = 1s\n[behind]\ntimeout = 500ms\n");
	children_clock(HOUR_S);
	hbd_start();
	children_clock(0);
	pid_t w = hbd_worker("behind", 500, "--beat-ms", "100", NULL);

	hbd_assert_left_alone(w, 2500);
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 0);
	long long age = status_age_ms(w);
	cr_assert(age < 500, "hbctl status: a beating client is %lld ms old", age);
}

/* A client an hour ahead of hbwatch that stops beating is killed within
 * its timeout, not an hour later. */
Test(timens, client_ahead_that_hangs_is_killed)
{
	hbd_config("kill_grace = 1s\n[ahead]\ntimeout = 500ms\n");
	children_clock(HOUR_S);
	hbd_start();
	children_clock(2 * HOUR_S);
	pid_t w = hbd_worker("ahead", 500, "--beat-ms", "100", "--hang-after-ms", "1500", NULL);

	/* Before it hangs: fresh on hbctl's clock, not an hour in the future. */
	long long age = status_age_ms(w);
	cr_assert(age < 500, "hbctl status: a beating client is %lld ms old", age);

	struct hbd_death d = {.pid = w};
	hbd_wait_deaths(&d, 1, 8000);
	hbd_assert_killed_by(&d, SIGABRT);
	cr_assert(hbd_log_wait("deadline-missed", w, "ahead", 5000));
	/* Its beats are on its own clock, two hours ahead of ours. */
	cr_assert(d.last_beat_ns > 0, "never saw a beat of pid %d", (int)w);
	hbd_figure("client 1 h ahead (timeout 500 ms): died %.1f ms after its last beat",
		   ((double)d.died_ns - ((double)d.last_beat_ns - 2 * HOUR_S * 1e9)) / 1e6);
}

/* hbctl register and beat --pid for a shell job in another time namespace
 * than hbctl's: the beats are stamped on the job's clock, so the job is
 * left alone while hbctl beats for it, and killed once the beats stop. */
Test(timens, hbctl_beats_on_the_jobs_clock)
{
	char out[1024], err[1024], pid_s[16];

	hbd_config("kill_grace = 1s\n[job]\ntimeout = 3s\n");
	children_clock(HOUR_S);
	hbd_start();
	children_clock(0);
	pid_t job = hbd_sleeper();
	snprintf(pid_s, sizeof(pid_s), "%d", (int)job);

	/* hbctl runs on the daemon's clock, an hour ahead of the job's. */
	children_clock(HOUR_S);
	int st = tu_run((char *[]){(char *)tu_prog("HBCTL"), "register", "--name", "job",
				   "--timeout", "3s", "--pid", pid_s, NULL},
			out, sizeof(out), err, sizeof(err), 5000);
	cr_assert_eq(tu_exit_code(st), 0, "hbctl register: %s", err);
	/* Beats 200 ms apart, far within the timeout even where each hbctl
	 * takes a while to start (sanitizers, a loaded host): over 3 s in all. */
	for (int i = 0; i < 15; i++) {
		hbd_sleep_ms(200);
		st = tu_run((char *[]){(char *)tu_prog("HBCTL"), "beat", "--pid", pid_s, NULL}, out,
			    sizeof(out), err, sizeof(err), 5000);
		cr_assert_eq(tu_exit_code(st), 0, "hbctl beat: %s", err);
	}
	cr_assert(hbd_alive(job), "the job died while hbctl beat for it");
	cr_assert_eq(hbd_log_count("deadline-missed", job, NULL), 0);

	/* No more beats: caught within its timeout, not an hour later. */
	cr_assert(hbd_wait_exit(job, 10000, NULL), "the job (pid %d) outlived its beats", (int)job);
	cr_assert(hbd_log_wait("deadline-missed", job, "job", 2000));
}
