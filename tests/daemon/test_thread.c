/* The stuck thread is named and signalled.  In a two-thread service, the
 * main thread keeps the process heartbeat fresh and a second thread's task
 * hangs: the records name that thread (HBWATCH_TID=, its state), and the
 * SIGABRT is sent to it through a thread pidfd, so its handler runs there
 * (and a core dump would lead with its stack).  Where the kernel has no
 * thread pidfds (forced here with HBWATCH_NO_THREAD_PIDFD=1), the signal
 * goes to the process, and the record says so. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

TestSuite(thread, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* Start hbstuck as NAME, writing to OUT; *TID gets its stuck thread. */
static pid_t start_stuck(const char *name, const char *out, int *tid)
{
	pid_t parent = getpid(), pid;
	int p[2];
	char line[64] = "";
	FILE *f;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(126);
		execl(getenv("HBSTUCK"), "hbstuck", name, out, (char *)NULL);
		_exit(127);
	}
	cr_assert_lt(H.n_kids, HBD_MAX_KIDS);
	H.kids[H.n_kids++] = pid;
	close(p[1]);
	f = fdopen(p[0], "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f), "hbstuck did not get to its hang");
	fclose(f);
	cr_assert_eq(sscanf(line, "stuck %d", tid), 1, "%s", line);
	return pid;
}

static int aborted_on(const char *out)
{
	char line[64] = "";
	int tid = 0;
	FILE *f = fopen(out, "r");

	cr_assert_not_null(f, "no handler ran");
	cr_assert_not_null(fgets(line, sizeof(line), f), "the handler wrote nothing");
	fclose(f);
	cr_assert_eq(sscanf(line, "abort %d", &tid), 1, "%s", line);
	return tid;
}

static void run(bool thread_pidfd)
{
	char out[160], want[96];
	int tid, st;

	snprintf(out, sizeof(out), "%s/abort-tid", H.dir);
	if (!thread_pidfd)
		setenv("HBWATCH_NO_THREAD_PIDFD", "1", 1);
	hbd_config("kill_grace = 5s\n[svc]\ntimeout = 20s\n");
	hbd_start();
	pid_t pid = start_stuck("svc", out, &tid);
	cr_assert_neq(tid, pid, "the stuck thread is not the main thread");
	cr_assert(hbd_wait_exit(pid, 5000, &st), "the process with a stuck task was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	snprintf(want, sizeof(want), "HBWATCH_TID=\"%d\"", tid);
	cr_assert(hbd_log_wait("deadline-missed", pid, want, 1000), "the record lacks %s", want);
	cr_assert(hbd_log_wait("deadline-missed", pid, "HBWATCH_THREAD_STATE=\"S\"", 1000),
		  "the record lacks the thread's state");
	snprintf(want, sizeof(want), "its thread %d", tid);
	cr_assert(hbd_log_wait("deadline-missed", pid, want, 1000));
	snprintf(want, sizeof(want), "through its thread %d", tid);
	if (thread_pidfd) {
		cr_assert_eq(aborted_on(out), tid, "SIGABRT ran on thread %d, not the stuck %d",
			     aborted_on(out), tid);
		cr_assert(hbd_log_wait("signal-sent", pid, want, 1000),
			  "the signal record does not name the thread");
	} else {
		aborted_on(out); /* some thread of the process ran it */
		snprintf(want, sizeof(want), "not its thread %d (no thread pidfds here)", tid);
		cr_assert(hbd_log_wait("signal-sent", pid, want, 1000),
			  "the signal record does not say it went to the process");
	}
}

Test(thread, sigabrt_lands_on_the_stuck_thread)
{
	run(true);
}

Test(thread, fallback_signals_the_process)
{
	run(false);
}
