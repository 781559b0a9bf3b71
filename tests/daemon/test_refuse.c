/* What the daemon must never signal, each with its warning: an unlisted
 * name, the wrong user, pid 1, hbwatch's own pid, a recycled pid (start
 * time mismatch), the wrong systemd unit. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "proc.h"

TestSuite(refuse, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

/* Criterion's main(), and the figures and log dumps after the report. */
int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* A CLOCK_MONOTONIC beat well in the past. */
static uint64_t long_ago(void)
{
	uint64_t now = hbd_now_ns();

	return now > 5000000000u ? now - 5000000000u : 1;
}

/* 4a. A name no section lists: refused at adoption, never signalled. */
Test(refuse, unlisted_name)
{
	hbd_config("kill_grace = 300ms\n[watched]\ntimeout = 300ms\n");
	hbd_start();
	pid_t w = hbd_worker("unlisted", 200, "--beat-ms", "50", "--hang-after-ms", "100", NULL);

	cr_assert(hbd_log_wait("refused", w, "\"unlisted\" is not a watched service", 10000));
	hbd_assert_left_alone(w, 3 * 200);
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 0);
	cr_assert(hbd_record_of(w) >= 0, "the refused registration was dropped");
}

/* 4b. [svc] user = nobody, but the worker runs as root. */
Test(refuse, wrong_user)
{
	char want[300];
	int line = hbd_config("kill_grace = 300ms\n[svc]\ntimeout = 300ms\nuser = nobody\n");

	hbd_start();
	pid_t w = hbd_worker("svc", 200, "--beat-ms", "50", "--hang-after-ms", "100", NULL);

	/* Refused when it registers, not at its first deadline, naming the
	 * section's file:line, and not called a forgery. */
	snprintf(want, sizeof(want), "runs as uid 0, but [svc] (%s:%d) requires user nobody",
		 H.conf, line + 1);
	cr_assert(hbd_log_wait("refused", w, want, 10000));
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 0);
	cr_assert_eq(hbd_log_count(NULL, w, "forg"), 0);
	hbd_assert_left_alone(w, 3 * 200);
}

/* 4c. A slot claiming pid 1 (with its real start time, a watched name and
 * a beat long ago). */
Test(refuse, pid_1)
{
	uint64_t st1, st1_after;

	hbd_config("kill_grace = 300ms\n[watched]\ntimeout = 300ms\n");
	hbd_start();
	cr_assert_eq(proc_starttime(1, &st1), 0);
	int slot = hbd_make_record(1, st1, "watched", 200, long_ago());

	cr_assert(hbd_log_wait("untrusted", 1, "pid 1 (init) is never signalled", 10000));
	hbd_sleep_ms(3 * 200); /* nothing to await: the absence of a signal */
	cr_assert_eq(proc_starttime(1, &st1_after), 0);
	cr_assert_eq(st1, st1_after, "pid 1 is another process now");
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-missed", 0, NULL), 0);
	cr_assert_eq(hbd_record_of(1), slot, "the record naming pid 1 vanished");
}

/* 4d. A slot claiming hbwatch's own pid. */
Test(refuse, own_pid)
{
	uint64_t st;

	hbd_config("kill_grace = 300ms\n[watched]\ntimeout = 300ms\n");
	hbd_start();
	cr_assert_eq(proc_starttime(H.daemon, &st), 0);
	hbd_make_record(H.daemon, st, "watched", 200, long_ago());

	cr_assert(hbd_log_wait("untrusted", H.daemon, "hbwatch itself", 10000));
	hbd_sleep_ms(3 * 200);
	cr_assert(hbd_alive(H.daemon), "hbwatch died");
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0);
	/* Still working: it answers a reload. */
	hbd_reload();
	cr_assert(hbd_alive(H.daemon));
}

/* 4e. A recycled pid: the slot's start time is not the process's. */
Test(refuse, recycled_pid)
{
	uint64_t st;

	hbd_config("kill_grace = 300ms\n[watched]\ntimeout = 300ms\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	cr_assert_eq(proc_starttime(s, &st), 0);
	cr_assert(st > 0);
	hbd_make_record(s, st - 1, "watched", 200, long_ago());

	cr_assert(hbd_log_wait("stale-record", s, "start time differs", 10000));
	cr_assert(hbd_wait_record_gone(s, 5000), "the stale record was not removed");
	hbd_assert_left_alone(s, 3 * 200);
	cr_assert_eq(hbd_log_count("deadline-missed", s, NULL), 0);
}

/* 4f. [svc] unit = nosuch.service: the worker runs in no such unit. */
Test(refuse, wrong_unit)
{
	hbd_config("kill_grace = 300ms\n[svc]\ntimeout = 300ms\nunit = nosuch.service\n");
	hbd_start();
	pid_t w = hbd_worker("svc", 200, "--beat-ms", "50", "--hang-after-ms", "100", NULL);

	cr_assert(hbd_log_wait("refused", w, "requires unit nosuch.service", 10000));
	hbd_assert_left_alone(w, 3 * 200);
}

/* 4i. A section turned off with 'enabled = no' in a drop-in (the way to
 * disable a shipped section): its processes are refused with the file:line
 * that disabled it, and are watched again once a reload turns it back on. */
Test(refuse, disabled_section)
{
	char dropins[300], off[340], want[400];
	int st;

	hbd_config("kill_grace = 300ms\n[demo]\ntimeout = 300ms\n");
	snprintf(dropins, sizeof(dropins), "%s/hbwatch.d", H.dir);
	cr_assert_eq(mkdir(dropins, 0755), 0);
	snprintf(off, sizeof(off), "%s/50-off.ini", dropins);
	FILE *f = fopen(off, "w");
	cr_assert_not_null(f);
	fputs("; the shipped [demo] is not wanted here\n[demo]\nenabled = no\n", f);
	cr_assert_eq(fclose(f), 0);
	hbd_start();
	pid_t w = hbd_worker("demo", 200, "--beat-ms", "50", "--hang-after-ms", "100", NULL);

	snprintf(want, sizeof(want), "[demo] is disabled ('enabled = no' at %s:3)", off);
	cr_assert(hbd_log_wait("refused", w, want, 10000));
	hbd_assert_left_alone(w, 3 * 200);
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 0);

	cr_assert_eq(unlink(off), 0);
	hbd_reload();
	cr_assert(hbd_wait_exit(w, 5000, &st), "a hung process of the re-enabled [demo] lives on");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
}
