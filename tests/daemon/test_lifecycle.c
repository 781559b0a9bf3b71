/* The daemon's life: configuration checks, reloads (a broken one keeps the
 * old configuration, a good one applies), and a restart that adopts the
 * table and keeps enforcing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <unistd.h>

#include "harness.h"
#include "proc.h"
#include "registry.h"
#include "status.h"
#include "util.h"

TestSuite(lifecycle, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

/* Criterion's main(), and the figures and log dumps after the report. */
int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

static void assert_killed_by(pid_t w, int sig)
{
	int st = 0;

	cr_assert(hbd_wait_exit(w, 10000, &st), "pid %d was not killed within 10 s", (int)w);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == sig, "pid %d: status 0x%x, expected signal %d",
		  (int)w, st, sig);
}

static bool table_exists(void)
{
	return shmget(H.key, 0, 0) >= 0;
}

/* 6a. A broken configuration on SIGHUP: the error with file:line, and the
 * old configuration stays in force. */
Test(lifecycle, reload_broken_config_keeps_the_old_one)
{
	char where[200];

	hbd_need_pidfd();
	hbd_config("kill_grace = 1s\n[old]\ntimeout = 300ms\n");
	hbd_start();
	/* The same plus a new service, and an unknown key on line first+5. */
	int first = hbd_config("kill_grace = 1s\n[old]\ntimeout = 300ms\n[new]\ntimeout = 300ms\n"
			       "bogus = 1\n");
	snprintf(where, sizeof(where), "%s:%d: ", H.conf, first + 5);
	hbd_reload();
	cr_assert(hbd_log_wait(NULL, 0, where, 5000), "no error naming %s", where);
	cr_assert_eq(hbd_log_count(NULL, 0, "reload failed"), 1);
	cr_assert_eq(hbd_log_count("reloaded", 0, NULL), 0);

	/* Old rules: "old" is killed, "new" is not a watched service. */
	pid_t o = hbd_worker("old", 300, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	pid_t n = hbd_worker("new", 300, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	assert_killed_by(o, SIGABRT);
	cr_assert(hbd_log_wait("signal-sent", o, "to old", 5000));
	cr_assert(hbd_log_wait("refused", n, "\"new\" is not a watched service", 5000));
	cr_assert(hbd_alive(n));
	cr_assert_eq(hbd_log_count("signal-sent", n, NULL), 0);
}

/* 6b. A good configuration on SIGHUP that adds a service: applied. */
Test(lifecycle, reload_good_config_applies)
{
	hbd_config("kill_grace = 1s\n[old]\ntimeout = 300ms\n");
	hbd_start();
	hbd_config("kill_grace = 1s\n[old]\ntimeout = 300ms\n[new]\ntimeout = 300ms\n");
	hbd_reload();
	cr_assert(hbd_log_wait("reloaded", 0, "2 services", 5000));

	hbd_need_pidfd();
	pid_t n = hbd_worker("new", 300, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	assert_killed_by(n, SIGABRT);
	cr_assert(hbd_log_wait("signal-sent", n, "to new", 5000));
	cr_assert_eq(hbd_log_count("refused", n, NULL), 0);
}

/* 8. --check-config, bad configurations at start, usage errors. */
Test(lifecycle, check_config_good)
{
	char out[1024], err[1024];

	hbd_config("kill_grace = 1s\n[svc]\ntimeout = 1s\n");
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x, stderr: %s", st, err);
	cr_assert(strstr(out, "OK"), "stdout: %s", out);
	cr_assert(!table_exists(), "--check-config created the table");
}

/* --check-config names mistakes that would otherwise show up only when
 * hbwatch first needs the thing: a metrics_dir it cannot write, and
 * restart-unit where the system bus is not reachable (no bus here).  They
 * are warnings: the file is valid, exit 0. */
Test(lifecycle, check_config_warns_about_late_mistakes)
{
	char out[1024], err[2048], want[300];

	int first = hbd_config("metrics_dir = /proc/hbwatch-no-such-dir\n"
			       "[svc]\ntimeout = 1s\nunit = svc.service\naction = restart-unit\n"
			       "[lim]\nunit = lim.service\nlimit_action = kill-unit\n");
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x, stderr: %s", st, err);
	cr_assert(strstr(out, "OK, 2 watched services (see the warnings above)"), "stdout: %s",
		  out);
	cr_assert(strstr(err, "metrics_dir /proc/hbwatch-no-such-dir is not writable here"), "%s",
		  err);
	snprintf(want, sizeof(want),
		 "%s:%d: [svc] has action = restart-unit, but the system bus is not reachable",
		 H.conf, first + 1);
	if (access("/run/dbus/system_bus_socket", F_OK) != 0)
		cr_assert(strstr(err, want), "stderr lacks '%s': %s", want, err);
	snprintf(want, sizeof(want),
		 "%s:%d: [lim] has limit_action = kill-unit, but the system bus is not reachable",
		 H.conf, first + 7);
	if (access("/run/dbus/system_bus_socket", F_OK) != 0)
		cr_assert(strstr(err, want), "stderr lacks '%s': %s", want, err);
}

/* --check-config reports every mistake (each file:line, exit 1) with the
 * nearest key for a typo; on a valid file it says which unit= it could not
 * check without systemd, and warns about a section without unit= unless it
 * says "unit = none". */
Test(lifecycle, check_config_every_mistake_and_units)
{
	char out[1024], err[4096], want[300];

	int first = hbd_config("kill_grace = 1s\n[svc]\ntimout = 1s\naction = maybe\n");
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	snprintf(want, sizeof(want),
		 "%s:%d: unknown key 'timout' in [svc] (did you mean 'timeout'?)", H.conf,
		 first + 2);
	cr_assert(strstr(err, want), "stderr lacks '%s': %s", want, err);
	snprintf(want, sizeof(want), "%s:%d: invalid value 'maybe' for 'action'", H.conf,
		 first + 3);
	cr_assert(strstr(err, want), "stderr lacks '%s': %s", want, err);

	first = hbd_config("kill_grace = 1s\n[svc]\ntimeout = 1s\nunit = nosuch.service\n"
			   "[loose]\ntimeout = 1s\n[meant]\ntimeout = 1s\nunit = none\n");
	st = hbd_run(out, sizeof(out), err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x, stderr: %s", st, err);
	if (access("/run/dbus/system_bus_socket", F_OK) != 0)
		cr_assert(strstr(err, "[svc] unit = nosuch.service could not be checked"), "%s",
			  err);
	cr_assert(strstr(err, "[loose] has no unit="), "%s", err);
	cr_assert(!strstr(err, "[meant] has no unit="), "unit = none still warned: %s", err);
}

/* --check-config --show: each value as hbwatch parsed it, and where it was
 * set (the last file and line) or "default". */
Test(lifecycle, check_config_show)
{
	char out[4096], err[2048], want[300];

	int first = hbd_config("[svc]\ntimeout = 5 minutes\nkill_interval = 5sec\nunit = none\n");
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "--check-config", "--show", "-c",
			 H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x, stderr: %s", st, err);
	snprintf(want, sizeof(want), "timeout           = 5min                     ; %s:%d", H.conf,
		 first + 1);
	cr_assert(strstr(out, want), "stdout lacks '%s': %s", want, out);
	snprintf(want, sizeof(want), "kill_interval     = 5s                       ; %s:%d", H.conf,
		 first + 2);
	cr_assert(strstr(out, want), "stdout lacks '%s': %s", want, out);
	cr_assert(strstr(out, "kill_burst        = 5                        ; default"), "%s", out);
	cr_assert(strstr(out, "signal            = SIGABRT (6)              ; default"), "%s", out);
}

/* "[x] has no unit=" once per section and configuration: not again at a
 * reload that keeps the section as it was, and never for "unit = none". */
Test(lifecycle, no_unit_warning_once_per_section)
{
	hbd_config("kill_grace = 1s\n[loose]\ntimeout = 1s\n[meant]\ntimeout = 1s\nunit = none\n");
	hbd_start();
	cr_assert(hbd_log_wait(NULL, 0, "[loose] has no unit=", 5000));
	hbd_config("kill_grace = 1s\n[loose]\ntimeout = 1s\n[meant]\ntimeout = 1s\nunit = none\n"
		   "[new]\ntimeout = 2s\n");
	hbd_reload();
	cr_assert(hbd_log_wait("reloaded", 0, "3 services", 5000));
	cr_assert_eq(hbd_log_count(NULL, 0, "[loose] has no unit="), 1, "warned again at reload");
	cr_assert_eq(hbd_log_count(NULL, 0, "[new] has no unit="), 1, "a new section not warned");
	cr_assert_eq(hbd_log_count(NULL, 0, "[meant] has no unit="), 0, "unit = none warned");
}

/* A section with neither user= nor unit= lets any uid register under it:
 * --check-config says so, once for each such section, and of no other. */
Test(lifecycle, check_config_warns_about_open_sections)
{
	char out[1024], err[4096], want[300];

	int first = hbd_config("[open]\ntimeout = 1s\n[owned]\ntimeout = 1s\nuser = root\n"
			       "[unit]\ntimeout = 1s\nunit = foo.service\n[open2]\ntimeout = 1s\n");
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x, stderr: %s", st, err);
	snprintf(want, sizeof(want),
		 "%s:%d: [open] has neither user= nor unit=: any uid may register under it, "
		 "each up to its share of slots= (uid_share=16 of 128)",
		 H.conf, first);
	cr_assert(strstr(err, want), "stderr lacks '%s': %s", want, err);
	cr_assert(strstr(err, "[open2] has neither user= nor unit="), "%s", err);
	cr_assert(!strstr(err, "[owned] has neither") && !strstr(err, "[unit] has neither"), "%s",
		  err);
	int n = 0;
	for (const char *p = err; (p = strstr(p, "has neither user= nor unit=")); p++)
		n++;
	cr_assert_eq(n, 2, "%s", err);
}

Test(lifecycle, check_config_bad)
{
	char out[1024], err[1024], where[200];

	int first = hbd_config("kill_grace = 1s\n[svc]\ntimeout = 1s\nbogus = 1\n");
	snprintf(where, sizeof(where), "%s:%d:", H.conf, first + 3);
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	cr_assert(strstr(err, where), "stderr lacks %s: %s", where, err);
	cr_assert(!table_exists());
}

Test(lifecycle, check_config_bad_dropin)
{
	char out[1024], err[1024], dir[160], path[200];
	FILE *f;

	hbd_config("kill_grace = 1s\n[svc]\ntimeout = 1s\n");
	snprintf(dir, sizeof(dir), "%s/hbwatch.d", H.dir);
	cr_assert(mkdir(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/50-bad.ini", dir);
	f = fopen(path, "w");
	cr_assert(f);
	fputs("[svc]\ntimeout = forever\n", f);
	fclose(f);
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	cr_assert(strstr(err, "50-bad.ini:2:"), "stderr lacks 50-bad.ini:2: %s", err);
}

Test(lifecycle, bad_config_at_start_exits_1_without_a_table)
{
	char out[1024], err[1024], where[200];

	int first = hbd_config("kill_grace = forever\n[svc]\ntimeout = 1s\n");
	snprintf(where, sizeof(where), "%s:%d:", H.conf, first);
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	cr_assert(strstr(err, where), "stderr lacks %s: %s", where, err);
	cr_assert(!table_exists(), "a table was created (errno %d)", errno);
}

Test(lifecycle, unknown_option_exits_2)
{
	char out[1024], err[2048];

	hbd_config("[svc]\ntimeout = 1s\n");
	int st = hbd_run(out, sizeof(out), err, sizeof(err), "--frobnicate", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status 0x%x", st);
	cr_assert(strstr(err, "Usage"), "stderr: %s", err);
	cr_assert(!table_exists());
}

/* 9. Restart: the table outlives the daemon, the next one adopts it and
 * its registrations, and enforces their deadlines. */
Test(lifecycle, restart_adopts_the_table)
{
	pid_t w[3];

	hbd_need_pidfd();
	hbd_config("kill_grace = 1s\n[svc]\ntimeout = 300ms\n");
	hbd_start();
	cr_assert(hbd_log_wait("started", 0, "created the registry", 5000));
	w[0] = hbd_worker("svc", 300, "--beat-ms", "50", NULL);
	w[1] = hbd_worker("svc", 300, "--beat-ms", "50", NULL);
	/* Stops beating 4 s from now, well after the restart below. */
	w[2] = hbd_worker("svc", 300, "--beat-ms", "50", "--hang-after-ms", "4000", NULL);
	cr_assert(hbd_wait_status("Watching 3 processes", 10000), "STATUS: %s", H.status);

	int st = hbd_stop();
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hbwatch exited with 0x%x", st);
	cr_assert(table_exists(), "the table went with the daemon");
	for (int i = 0; i < 3; i++)
		cr_assert(hbd_record_of(w[i]) >= 0, "pid %d lost its slot", (int)w[i]);

	hbd_start();
	cr_assert(hbd_log_wait("started", 0, "adopted the registry", 5000));
	cr_assert(hbd_wait_status("Watching 3 processes", 10000), "STATUS: %s", H.status);
	for (int i = 0; i < 3; i++) {
		cr_assert(hbd_record_of(w[i]) >= 0, "pid %d lost its slot", (int)w[i]);
		cr_assert(hbd_alive(w[i]));
	}
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0,
		     "a worker was signalled before the restart was over");

	/* The new daemon enforces the adopted registrations. */
	assert_killed_by(w[2], SIGABRT);
	cr_assert(hbd_log_wait("signal-sent", w[2], "to svc", 5000));
	cr_assert(hbd_alive(w[0]) && hbd_alive(w[1]));
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 1);
}

/* The file table is grown once at start, before hbwatch has threads (a
 * growth while threads share it waits for an RCU grace period, inside
 * whichever openat() or pidfd_open() needs it): FDSize already covers
 * what slots= needs. */
Test(lifecycle, file_table_sized_at_start)
{
	enum { SLOTS = 128 }; /* the harness's slots= */
	char path[64], line[256];
	long size = -1;
	FILE *f;

	if (getenv("HBD_DAEMON_VALGRIND")) {
		hbd_fini();
		cr_skip_test("hbwatch runs under valgrind, which keeps high descriptors to itself");
	}
	hbd_config("[svc]\ntimeout = 1s\n");
	hbd_start();
	snprintf(path, sizeof(path), "/proc/%d/status", (int)H.daemon);
	f = fopen(path, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "FDSize: %ld", &size) == 1)
			break;
	fclose(f);
	/* A process with a handful of files has a table of 64. */
	cr_assert_geq(size, SLOTS + 64, "FDSize %ld: the file table was not grown at start", size);
}

/* Every watched registration holds a pidfd: a daemon started with a low
 * soft open-file limit (systemd's default is 1024) raises it to the hard
 * limit, and watches more registrations than the soft limit allowed. */
Test(lifecycle, low_soft_fd_limit_is_raised)
{
	enum { SOFT = 40, WORKERS = 48 };
	struct rlimit old, low;
	pid_t w[WORKERS];
	char path[64], line[256];
	FILE *f;
	long soft = -1, hard = -1;

	/* Valgrind applies the daemon's setrlimit() to a limit of its own,
	 * which /proc does not show.  (Skipping skips .fini too.) */
	if (getenv("HBD_DAEMON_VALGRIND")) {
		hbd_fini();
		cr_skip_test("hbwatch runs under valgrind, which keeps its fd limit to itself");
	}
	hbd_need_pidfd();
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	cr_assert(old.rlim_max > WORKERS + 64, "hard limit %llu too low for this test",
		  (unsigned long long)old.rlim_max);
	low = (struct rlimit){.rlim_cur = SOFT, .rlim_max = old.rlim_max};
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	hbd_config("kill_grace = 5s\n[fds]\ntimeout = 1s\n");
	hbd_start(); /* inherits the low soft limit */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)H.daemon);
	f = fopen(path, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Max open files %ld %ld", &soft, &hard) == 2)
			break;
	fclose(f);
	cr_assert_eq(soft, hard, "soft limit %ld was not raised to the hard limit %ld", soft, hard);

	for (int i = 0; i < WORKERS; i++)
		w[i] = hbd_worker("fds", 1000, "--beat-ms", "100", NULL);
	cr_assert(hbd_wait_status("Watching 48 processes", 10000),
		  "not all %d registrations were adopted", WORKERS);
	cr_assert_eq(hbd_log_count("refused", 0, "pidfd"), 0, "a pidfd could not be opened");
	for (int i = 0; i < WORKERS; i++)
		cr_assert(hbd_alive(w[i]));
}

/* hb_register_wait(): the caller learns whether hbwatch took the
 * registration up.  0 for a watched service, -EPERM (hbworker exit 15) for
 * a name hbwatch refuses, -ENOENT (10) once hbwatch has stopped: its
 * registry stays, but names no live hbwatch, and the client waits for one
 * to come up only as long as it was told to. */
Test(lifecycle, register_wait_says_whether_hbwatch_took_it_up)
{
	char out[256], err[256];
	int st;

	hbd_need_pidfd();
	hbd_config("kill_grace = 300ms\n[svc]\ntimeout = 1s\n");
	hbd_start();
	pid_t w = hbd_worker("svc", 500, "--wait-ms", "3000", NULL);
	cr_assert(hbd_alive(w), "hb_register_wait() failed for a watched service");

	char *refused[] = {(char *)getenv("HBWORKER"),
			   "--name",
			   "unlisted",
			   "--timeout-ms",
			   "500",
			   "--wait-ms",
			   "3000",
			   "--exit-after-ms",
			   "0",
			   NULL};
	st = tu_run(refused, out, sizeof(out), err, sizeof(err), 10000);
	cr_assert_eq(tu_exit_code(st), 15, "expected -EPERM (exit 15), got status 0x%x: %s", st,
		     out);

	/* hbwatch stopped: the registry stays, and says nobody runs. */
	hbd_stop();
	char *orphan[] = {
	    (char *)getenv("HBWORKER"), "--name", "svc", "--timeout-ms", "500", "--wait-ms", "300",
	    "--exit-after-ms",		"0",	  NULL};
	st = tu_run(orphan, out, sizeof(out), err, sizeof(err), 10000);
	cr_assert_eq(tu_exit_code(st), 10, "expected -ENOENT (exit 10), got status 0x%x: %s", st,
		     out);
}

/* A client that registers as soon as hbwatch has said READY=1, before a
 * loaded machine has run hbwatch's doorbell thread (here every thread of
 * hbwatch starts 200 ms late, by a preloaded library): its announcement
 * is still told to the loop, and hb_register_wait() returns in
 * milliseconds after the thread runs.  Were it taken for one already told,
 * the record would wait for the next scan, 1 s away (the longest scan
 * period; [svc]'s 4 s timeout asks for no shorter one), and
 * hb_register_wait() would give up after its 800 ms. */
Test(lifecycle, registration_before_the_doorbell_thread_runs)
{
	hbd_need_pidfd();
	H.preload = getenv("HB_LATETHREADS");
	cr_assert(H.preload && *H.preload, "HB_LATETHREADS is not set");
	hbd_config("kill_grace = 300ms\n[svc]\ntimeout = 4s\n");
	hbd_start();
	pid_t w = hbd_worker("svc", 4000, "--wait-ms", "800", NULL);
	cr_assert(hbd_alive(w));
}

static void *continue_later(void *arg)
{
	hbd_sleep_ms(1500);
	kill(*(pid_t *)arg, SIGCONT);
	return NULL;
}

/* hb_register_wait() beats while it waits: a client whose registration
 * hbwatch takes up late (stopped here, SIGSTOP, for 1.5 s) is not found
 * with its 300 ms deadline long passed, and is left alone after. */
Test(lifecycle, register_wait_beats_while_it_waits)
{
	pthread_t th;

	hbd_need_pidfd();
	hbd_config("kill_grace = 300ms\n[svc]\ntimeout = 1s\n");
	hbd_start();
	cr_assert_eq(kill(H.daemon, SIGSTOP), 0);
	cr_assert_eq(pthread_create(&th, NULL, continue_later, &H.daemon), 0);
	pid_t w = hbd_worker("svc", 300, "--wait-ms", "5000", NULL);
	pthread_join(th, NULL);
	hbd_assert_left_alone(w, 1000);
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 0);
}

/* hbwatch feeds its own watchdog for as long as it runs: with
 * WatchdogSec=400ms (WATCHDOG_USEC), WATCHDOG=1 keeps coming four times a
 * period while processes register and STATUS= changes (a STATUS= retry
 * once tore the watchdog timer down, and systemd killed hbwatch after one
 * period). */
Test(lifecycle, watchdog_pings_keep_coming)
{
	H.watchdog_usec = 400000;
	hbd_config("kill_grace = 300ms\n[svc]\ntimeout = 1s\n");
	hbd_start();
	for (int i = 0; i < 5; i++)
		hbd_worker("svc", 1000, NULL);
	int before = hbd_notify_count("WATCHDOG=1");
	hbd_sleep_ms(3000);
	int pings = hbd_notify_count("WATCHDOG=1") - before;
	hbd_figure("watchdog pings in 3 s at WatchdogSec=400ms: %d", pings);
	/* 4 per 400 ms is 30 in 3 s; fewer than 3 s / 400 ms would let
	 * systemd's watchdog fire. */
	cr_assert_geq(pings, 15, "only %d WATCHDOG=1 in 3 s", pings);
}

/* The status view is written entry by entry (only what changed): after
 * registrations in the middle end, hbctl still sees exactly the ones
 * left, each under its own record and with its own verdict, including a
 * refused one whose entry moved. */
static void assert_view(const pid_t *pids, const int *want_state, int n)
{
	struct hb_registry reg;
	struct hb_status view;
	struct hb_status_entry e[16];
	int got = -1;

	for (int tries = 0; tries < 200; tries++) {
		cr_assert_eq(registry_attach(H.key, true, &reg, NULL, 0), 0);
		if (status_attach(&reg, &view) == 0) {
			got = status_read(&view, e, 16);
			status_detach(&view);
		}
		registry_detach(&reg);
		if (got == n)
			break;
		hbd_sleep_ms(10);
	}
	cr_assert_eq(got, n, "the view lists %d entries, %d processes are registered", got, n);
	for (int i = 0; i < n; i++) {
		int k = 0;
		while (k < n && e[k].pid != pids[i])
			k++;
		cr_assert(k < n, "pid %d is missing from the view", (int)pids[i]);
		cr_assert_eq(e[k].shmid, hbd_record_of(pids[i]), "pid %d: wrong record",
			     (int)pids[i]);
		cr_assert_eq((int)e[k].state, want_state[i], "pid %d: state %u, expected %d",
			     (int)pids[i], e[k].state, want_state[i]);
		if (want_state[i] == HB_STATUS_REFUSED)
			cr_assert(strstr(e[k].reason, "not a watched service"), "reason: %.88s",
				  e[k].reason);
	}
}

Test(lifecycle, status_view_follows_exits)
{
	pid_t w[6];
	int ok[6] = {HB_STATUS_OK, HB_STATUS_OK, HB_STATUS_OK,
		     HB_STATUS_OK, HB_STATUS_OK, HB_STATUS_REFUSED};

	hbd_need_pidfd();
	hbd_config("kill_grace = 300ms\n[svc]\ntimeout = 5s\n");
	hbd_start();
	for (int i = 0; i < 5; i++)
		w[i] = hbd_worker("svc", 5000, NULL);
	w[5] = hbd_worker("unlisted", 5000, NULL);
	cr_assert(hbd_wait_status("Watching 5 processes", 10000), "STATUS: %s", H.status);
	assert_view(w, ok, 6);

	/* The first and a middle one end: entries move into their places. */
	hbd_kill(w[0], SIGKILL);
	hbd_kill(w[2], SIGKILL);
	cr_assert(hbd_wait_exit(w[0], 5000, NULL) && hbd_wait_exit(w[2], 5000, NULL));
	cr_assert(hbd_wait_status("Watching 3 processes", 10000), "STATUS: %s", H.status);
	pid_t left[] = {w[1], w[3], w[4], w[5]};
	int left_ok[] = {HB_STATUS_OK, HB_STATUS_OK, HB_STATUS_OK, HB_STATUS_REFUSED};
	assert_view(left, left_ok, 4);

	/* And the last one listed. */
	hbd_kill(w[5], SIGKILL);
	cr_assert(hbd_wait_exit(w[5], 5000, NULL));
	assert_view(left, left_ok, 3);
}

/* Many records at once are taken up in slices (deadlines first), and none
 * is left behind: those the ring names in one burst, then, after a
 * restart, those the first census finds (its walk, in slices). */
#define MANY 120 /* the harness tracks at most HBD_MAX_KIDS children */

Test(lifecycle, many_records_taken_up_in_slices, .timeout = 120)
{
	char want[64];
	pid_t p[MANY];

	hbd_need_pidfd();
	hbd_config("[svc]\ntimeout = 60s\n");
	hbd_start();
	cr_assert(hbd_log_wait("started", 0, "created the registry", 5000));
	for (int i = 0; i < MANY; i++) {
		uint64_t start;

		p[i] = hbd_sleeper();
		cr_assert_eq(proc_starttime(p[i], &start), 0);
		cr_assert(hbd_make_record(p[i], start, "svc", 60000, hbd_now_ns()) >= 0);
	}
	snprintf(want, sizeof(want), "Watching %d processes", MANY);
	cr_assert(hbd_wait_status(want, 15000), "from the ring; STATUS: %s", H.status);

	int st = hbd_stop();
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hbwatch exited with 0x%x", st);
	hbd_start();
	cr_assert(hbd_wait_status(want, 15000), "from the census; STATUS: %s", H.status);
	for (int i = 0; i < MANY; i++)
		cr_assert(hbd_alive(p[i]));
}
