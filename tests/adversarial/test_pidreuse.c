/* Real PID reuse.  This executable runs as PID 1 of a PID namespace of its
 * own (isolate-pid.sh: unshare --ipc --pid --fork --mount-proc), where
 * /proc/sys/kernel/ns_last_pid steers the next pid.  A record outlives its
 * process while hbwatch is stopped; its pid is given to a new, innocent
 * process; hbwatch starts again and its census finds the record.  The
 * record's start time belongs to the earlier process: a stale record
 * (event stale-record), never a target.
 *
 * Two records outlive their process: hbctl's (it names another process
 * and is handed to root; hbwatch removes it once it is stale) and one
 * made with no removal mark by a process of another uid, whose pid goes
 * to a new process of the same uid (so only the start time tells them
 * apart: the ownership check would pass).  The latter twice: with the
 * start time written, and with only the CLOCK_BOOTTIME stamp the library
 * writes instead (the process must have started no later than that). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "proc.h"
#include "util.h"

TestSuite(pidreuse, .init = adv_init, .fini = adv_fini, .timeout = 90);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* [slow] caps nothing: the records' own 4 s apply.  hbwatch is stopped
 * before they run out and started again after, so a record taken for the
 * new process would be acted on at once. */
#define BASE_CONF "kill_grace = 300ms\n[slow]\ntimeout = 1h\n[hung]\ntimeout = 1s\n"

static void set_last_pid(pid_t p)
{
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");

	cr_assert(f, "ns_last_pid: %s", strerror(errno));
	fprintf(f, "%d", (int)p);
	cr_assert_eq(fclose(f), 0, "writing ns_last_pid: %s", strerror(errno));
}

/* Fork a sleeper of UID that gets pid WANT. */
static pid_t sleeper_with_pid(pid_t want, uid_t uid)
{
	for (int tries = 0; tries < 20; tries++) {
		set_last_pid(want - 1);
		pid_t p = adv_sleeper_as(uid, false, 0);
		if (p == want)
			return p;
		hbd_kill(p, SIGKILL);
		hbd_wait_exit(p, 5000, NULL);
	}
	cr_assert_fail("could not recycle pid %d", (int)want);
	return 0;
}

#define RECORD_TIMEOUT_MS 4000

/* OLD, registered at REGISTERED, dies while hbwatch is stopped (its record
 * RECORD stays), a sleeper of UID takes its pid, hbwatch starts once the
 * record is overdue: stale, the innocent lives. */
static pid_t recycle_and_restart(pid_t old, uid_t uid, int record, uint64_t registered,
				 const char *why)
{
	uint64_t st_old, st_new;
	int st;

	cr_assert_eq(proc_starttime(old, &st_old), 0);
	hbd_stop();
	hbd_kill(old, SIGKILL);
	cr_assert(hbd_wait_exit(old, 5000, &st));
	struct shmid_ds ds;
	cr_assert_eq(shmctl(record, IPC_STAT, &ds), 0, "the record vanished with its process");
	hbd_sleep_ms(30); /* start times count clock ticks: make sure they differ */
	pid_t n = sleeper_with_pid(old, uid);
	cr_assert_eq(proc_starttime(n, &st_new), 0);
	cr_assert_neq(st_new, st_old, "same start time: the test cannot tell them apart");
	hbd_figure("pid %d recycled: start time %llu in record %d, %llu now", (int)old,
		   (unsigned long long)st_old, record, (unsigned long long)st_new);
	uint64_t due = registered + (RECORD_TIMEOUT_MS + 500) * UINT64_C(1000000);
	if (hbd_now_ns() < due)
		hbd_sleep_ms((unsigned)((due - hbd_now_ns()) / 1000000u) + 1);
	hbd_start();
	cr_assert(hbd_log_wait("stale-record", n, why, 10000), "no stale-record saying \"%s\"",
		  why);
	return n;
}

Test(pidreuse, recycled_pid_of_an_hbctl_record)
{
	char pid[16], out[64], err[512];

	cr_assert_lt(getpid(), 100, "not in a fresh PID namespace (pid %d)", (int)getpid());
	adv_config(BASE_CONF);
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);
	uint64_t registered = hbd_now_ns();
	char *argv[] = {(char *)tu_prog("HBCTL"),
			"register",
			"--name",
			"slow",
			"--timeout",
			"4s",
			"--pid",
			pid,
			NULL};
	cr_assert_eq(tu_exit_code(tu_run(argv, out, sizeof(out), err, sizeof(err), 10000)), 0,
		     "hbctl register: %s", err);
	int record = hbd_record_of(s);
	cr_assert_geq(record, 0);

	pid_t n = recycle_and_restart(s, (uid_t)-1, record, registered, "start time differs");
	/* hbctl's records are handed to root: the daemon removes a stale one. */
	cr_assert(hbd_wait_record_gone(n, 5000), "the stale record was not removed");
	hbd_assert_left_alone(n, 3 * 300);
	cr_assert_eq(hbd_log_count("deadline-missed", n, NULL), 0);
	adv_still_kills("hung");
}

/* A record left behind by a process of another uid, whose pid goes to a
 * new process of that uid.  MADE: the record holds no start time, only the
 * CLOCK_BOOTTIME stamp the library writes instead. */
static void left_behind(bool made)
{
	char out[128];

	cr_assert_lt(getpid(), 100, "not in a fresh PID namespace (pid %d)", (int)getpid());
	adv_need_uids();
	adv_config(BASE_CONF);
	hbd_start();
	uint64_t registered = hbd_now_ns();
	pid_t f = made ? adv_start_as(ADV_VICTIM_UID, ADV_GROUP, "ready", out, sizeof(out),
				      "$HBFORGE", "--self", "--no-rmid", "--start-time", "0",
				      "--made-at-ms", "0", "--name", "slow", "--timeout-ms", "4000",
				      "--beat-ago-ms", "0", NULL)
		       : adv_start_as(ADV_VICTIM_UID, ADV_GROUP, "ready", out, sizeof(out),
				      "$HBFORGE", "--self", "--no-rmid", "--name", "slow",
				      "--timeout-ms", "4000", "--beat-ago-ms", "0", NULL);
	int record = adv_shmid_in(out);
	cr_assert_geq(record, 0);
	cr_assert(hbd_wait_status("Watching 1 process", 5000), "the record was not adopted");

	pid_t n = recycle_and_restart(f, ADV_VICTIM_UID, record, registered,
				      made ? "it started after its record was made"
					   : "start time differs");
	uint64_t t0 = hbd_now_ns();
	hbd_assert_left_alone(n, 3 * 300);
	cr_assert_eq(hbd_log_count("deadline-missed", n, NULL), 0);
	cr_assert_eq(hbd_log_count("untrusted", n, NULL), 0, "not for want of trust");
	adv_still_kills("hung");
	/* Not the daemon's to remove (uid 3001 owns it): it stays, and stays
	 * harmless, through two periodic censuses. */
	uint64_t spent = (hbd_now_ns() - t0) / 1000000u;
	if (spent < 11000)
		hbd_sleep_ms((unsigned)(11000 - spent));
	hbd_assert_left_alone(n, 0);
	hbd_figure("a stale record left by uid %u was reported %d times in 11 s", ADV_VICTIM_UID,
		   hbd_log_count("stale-record", n, NULL));
}

Test(pidreuse, recycled_pid_of_a_record_left_behind)
{
	left_behind(false);
}

/* The library's records carry no start time: the process named must have
 * started no later than the record was made, and the recycled pid's
 * process started after. */
Test(pidreuse, recycled_pid_of_a_stamped_record_left_behind)
{
	left_behind(true);
}
