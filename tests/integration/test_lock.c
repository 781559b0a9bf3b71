/* The semaphore under abuse: a lock holder SIGKILLed inside the critical
 * section (SEM_UNDO must release it) and one SIGSTOPped there (the wait
 * must be bounded). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbwatch.h"
#include "table.h"
#include "test_util.h"

TestSuite(lock, .fini = tu_cleanup, .timeout = 60);

/* Start hblocker and wait until it holds the semaphore. */
static pid_t start_locker(void)
{
	int p[2];
	pid_t pid, got;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = tu_spawn((char *[]){(char *)tu_prog("HBLOCKER"), "--ready-fd", "3", NULL}, p[1], -1,
		       -1);
	close(p[1]);
	cr_assert_eq(tu_read_ready(p[0], "LOCKED", 1, &got, 20000), 1,
		     "hblocker did not take the lock");
	close(p[0]);
	cr_assert_eq(got, pid);
	return pid;
}

Test(lock, killed_holder_does_not_block)
{
	struct hb_table t;
	pid_t locker, worker, got;
	int p[2], status;
	int64_t t0;

	tu_key_use(20);
	tu_table_create(8, &t);
	locker = start_locker();

	/* A worker already waiting for the lock when the holder dies. */
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	worker = tu_spawn((char *[]){(char *)tu_prog("HBWORKER"), "--name", "waiter",
				     "--timeout-ms", "60000", "--ready-fd", "3", "--quiet", NULL},
			  p[1], -1, -1);
	close(p[1]);
	t0 = tu_now_ms();
	cr_assert_eq(kill(locker, SIGKILL), 0);
	status = tu_wait(locker, 20000);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	cr_assert_eq(tu_read_ready(p[0], "READY", 1, &got, 20000), 1,
		     "the waiting worker did not register");
	cr_log_info("waiting worker registered %lld ms after the holder was killed",
		    (long long)(tu_now_ms() - t0));
	cr_assert_eq(got, worker);

	/* And a registration that starts afterwards. */
	t0 = tu_now_ms();
	cr_assert_eq(hb_register("after", 60000), 0);
	cr_log_info("registration after the kill took %lld ms", (long long)(tu_now_ms() - t0));
	cr_assert_eq(tu_slots_used(&t), 2);
	cr_assert_eq(hb_unregister(), 0);
	table_detach(&t);
}

Test(lock, stopped_holder_gives_etimedout)
{
	struct hb_table t;
	pid_t locker;
	int64_t t0, took;
	int r, status;

	tu_key_use(21);
	tu_table_create(8, &t);
	locker = start_locker();
	cr_assert_eq(kill(locker, SIGSTOP), 0);
	cr_assert_eq(tu_wait_stopped(locker, 20000), 0, "hblocker did not stop");

	t0 = tu_now_ms();
	r = hb_register("blocked", 60000);
	took = tu_now_ms() - t0;
	cr_log_info("hb_register gave up after %lld ms", (long long)took);
	cr_assert_eq(r, -ETIMEDOUT, "hb_register returned %d (%s)", r, strerror(-r));
	/* Bounded means about HB_SEM_WAIT_MS; a generous ceiling only to
	 * tell a bounded wait from a hang. */
	cr_assert_geq(took, HB_SEM_WAIT_MS - 50);
	cr_assert_lt(took, 20000);
	cr_assert_eq(tu_slots_used(&t), 0, "a timed-out registration took a slot");

	/* The same through a worker's exit status. */
	char out[256], err[256];
	status = tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "blocked", "--timeout-ms",
				   "1000", "--exit-after-ms", "0", NULL},
			out, sizeof(out), err, sizeof(err), 30000);
	cr_assert_eq(tu_exit_code(status), 13, "status 0x%x, output '%s'", (unsigned)status, out);

	/* Once the holder is gone the lock is free again. */
	cr_assert_eq(kill(locker, SIGCONT), 0);
	cr_assert_eq(kill(locker, SIGKILL), 0);
	status = tu_wait(locker, 20000);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	cr_assert_eq(hb_register("unblocked", 60000), 0);
	cr_assert_eq(hb_unregister(), 0);
	table_detach(&t);
}
