/* Task heartbeats and deadline extension with the real daemon: a task
 * that stops beating gets its process killed while the process and its
 * other task beat on, and the log names the task; hb_extend() carries a
 * process over a silence longer than its timeout, up to extend_max= and
 * no further. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

TestSuite(task, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* Two tasks; "flush" stops beating after 400 ms, "ingest" and the process
 * beat on.  The process dies for flush's deadline (300 ms), long before
 * its own timeout (10 s) could matter, and both records name flush. */
Test(task, silent_task_kills_its_process)
{
	hbd_config("kill_grace = 5s\n[tk]\ntimeout = 10s\n");
	hbd_start();
	uint64_t t0 = hbd_now_ns();
	pid_t w = hbd_worker("tk", 10000, "--beat-ms", "50", "--task", "ingest:300", "--task",
			     "flush:300:400", NULL);
	pid_t other = hbd_worker("tk", 10000, "--beat-ms", "50", "--task", "ingest:300", NULL);

	struct hbd_death d = {.pid = w};
	hbd_wait_deaths(&d, 1, 8000);
	hbd_assert_killed_by(&d, SIGABRT);
	cr_assert_lt(d.died_ns - t0, 4000000000ull,
		     "killed %.0f ms after start: not for the task's deadline",
		     (double)(d.died_ns - t0) / 1e6);
	cr_assert(hbd_log_wait("deadline-missed", w,
			       "missed the heartbeat deadline of its task flush", 5000));
	cr_assert(hbd_log_wait("signal-sent", w, "its task flush", 5000));
	cr_assert_eq(hbd_log_count("deadline-missed", w, "ingest"), 0, "the beating task named");
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 1);
	/* The sibling whose tasks beat is left alone. */
	cr_assert(hbd_alive(other));
	cr_assert_eq(hbd_log_count("deadline-missed", other, NULL), 0);
	cr_assert_eq(hbd_log_count("signal-sent", other, NULL), 0);
}

/* A worker with tasks that all beat lives on: tasks add deadlines, not
 * false alarms. */
Test(task, beating_tasks_are_left_alone)
{
	hbd_config("[tb]\ntimeout = 300ms\n");
	hbd_start();
	pid_t w = hbd_worker("tb", 300, "--beat-ms", "50", "--task", "a:200", "--task", "b:250",
			     "--task", "c:300", NULL);

	hbd_assert_left_alone(w, 1500);
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 0);
}

/* Resident bytes of segment SHMID (/proc/sysvipc/shm), or -1. */
static long long segment_rss(int shmid)
{
	FILE *f = fopen("/proc/sysvipc/shm", "re");
	char line[512];
	long long rss = -1;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		long long key, id, size, v[10], r;
		unsigned long long perms;

		if (sscanf(line,
			   "%lld %lld %llo %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld "
			   "%lld",
			   &key, &id, &perms, &size, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6], &v[7], &v[8], &v[9], &r) == 15 &&
		    id == shmid)
			rss = r;
	}
	fclose(f);
	return rss;
}

/* The record is 12 KiB, but a process without tasks keeps one page of it
 * in memory while hbwatch scans it many times: neither the library nor the
 * daemon touches the task slots past task_high, nor the tids' page (the
 * last) before a task is opened.  With a few tasks, the tids' page is in
 * use too; with 64 tasks the second page of slots as well, and the
 * measure shows it. */
Test(task, records_stay_one_page)
{
	hbd_config("[pg]\ntimeout = 300ms\n");
	hbd_start();
	pid_t none = hbd_worker("pg", 100, "--beat-ms", "20", NULL);
	pid_t few =
	    hbd_worker("pg", 100, "--beat-ms", "20", "--task", "a:100", "--task", "b:100", NULL);
	pid_t many = hbd_worker("pg", 100, "--beat-ms", "20", "--many-tasks", "64", NULL);
	hbd_sleep_ms(1000); /* dozens of scans of each */
	cr_assert(hbd_alive(none) && hbd_alive(few) && hbd_alive(many));
	cr_assert_eq(segment_rss(hbd_record_of(none)), 4096, "a record without tasks");
	cr_assert_eq(segment_rss(hbd_record_of(few)), 8192, "a record with two tasks");
	cr_assert_eq(segment_rss(hbd_record_of(many)), 12288, "a record with 64 tasks");
	cr_assert_eq(hbd_log_count("deadline-missed", 0, NULL), 0);
}

/* hb_extend(2 s), then 1.2 s without a beat: four timeouts of 300 ms.
 * The extension carries it (extend_max unset: 10 x 300 ms = 3 s), it is
 * logged once, and beats go on afterwards. */
Test(task, extension_carries_over_a_silence)
{
	hbd_config("[ex]\ntimeout = 300ms\n");
	hbd_start();
	pid_t w = hbd_worker("ex", 300, "--beat-ms", "50", "--pause-after-ms", "300", "--pause-ms",
			     "1200", "--extend-ms", "2000", NULL);

	cr_assert(hbd_log_wait("deadline-extended", w, "extended its deadline to", 3000));
	hbd_assert_left_alone(w, 2500);
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-extended", w, NULL), 1, "logged more than once");
}

/* An extension of 60 s under extend_max = 800ms: killed about 800 ms
 * after the last beat, not 200 ms (the extension counts) and not 60 s. */
Test(task, extend_max_caps_the_extension)
{
	hbd_config("kill_grace = 5s\n[cap]\ntimeout = 200ms\nextend_max = 800ms\n");
	hbd_start();
	pid_t w = hbd_worker("cap", 200, "--beat-ms", "50", "--pause-after-ms", "300", "--pause-ms",
			     "100000", "--extend-ms", "60000", NULL);

	struct hbd_death d = {.pid = w};
	hbd_wait_deaths(&d, 1, 8000);
	hbd_assert_killed_by(&d, SIGABRT);
	cr_assert(d.last_beat_ns > 0);
	double after = (double)(d.died_ns - d.last_beat_ns) / 1e6;
	cr_assert(after >= 750 && after < 2500,
		  "killed %.0f ms after its last beat; extend_max is 800 ms", after);
	cr_assert(hbd_log_wait("deadline-extended", w, "capped to", 2000));
	cr_assert(hbd_log_wait("deadline-extended", w, "(extend_max=800ms)", 2000));
	cr_assert(hbd_log_wait("deadline-missed", w, "missed its heartbeat deadline", 2000));
}

/* A task that falls silent after hb_task_extend(1.5 s) carries its
 * process past the task's 300 ms timeout, and when the extension runs
 * out the process is killed for that task. */
Test(task, task_extension_then_kill)
{
	hbd_config("kill_grace = 5s\n[te]\ntimeout = 10s\n");
	hbd_start();
	uint64_t t0 = hbd_now_ns();
	pid_t w = hbd_worker("te", 10000, "--beat-ms", "50", "--task", "steady:300", "--task",
			     "slow:300:200:1500", NULL);

	cr_assert(hbd_log_wait("deadline-extended", w, "task slow extended its deadline", 3000));
	struct hbd_death d = {.pid = w};
	hbd_wait_deaths(&d, 1, 8000);
	hbd_assert_killed_by(&d, SIGABRT);
	double after = (double)(d.died_ns - t0) / 1e6;
	cr_assert(after >= 1500 && after < 5000,
		  "killed %.0f ms after start: the extension to about 1.7 s did not hold", after);
	cr_assert(hbd_log_wait("deadline-missed", w, "its task slow", 2000));
	cr_assert_eq(hbd_log_count("deadline-missed", w, "steady"), 0);
}

/* extend_max = 0: extensions are ignored, and the log says so. */
Test(task, extend_max_zero_ignores_extensions)
{
	hbd_config("kill_grace = 5s\n[off]\ntimeout = 200ms\nextend_max = 0\n");
	hbd_start();
	pid_t w = hbd_worker("off", 200, "--beat-ms", "50", "--pause-after-ms", "300", "--pause-ms",
			     "100000", "--extend-ms", "60000", NULL);

	struct hbd_death d = {.pid = w};
	hbd_wait_deaths(&d, 1, 8000);
	hbd_assert_killed_by(&d, SIGABRT);
	double after = (double)(d.died_ns - d.last_beat_ns) / 1e6;
	cr_assert(after < 700, "killed %.0f ms after its last beat; timeout 200 ms", after);
	cr_assert(hbd_log_wait("deadline-extended", w, "ignored (extend_max=0)", 2000));
}
