/* Clients that stop in the middle of writing their own heartbeat record
 * (hbtorn): SIGKILLed with the record's seqlock open, on a first write or
 * on a re-registration, and an owner that keeps its seqlock open for
 * seconds before finishing.  A record is written by its owner alone, so
 * none of this may block anybody else (there is no shared lock left to
 * hold); a record that is being written is just not read meanwhile, and
 * once it is readable it is watched like any other.  So is a record met
 * before its maker wrote its header.  Event kinds on stderr
 * stand for MESSAGE_IDs (see test_trust.c). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "adv.h"
#include "harness.h"
#include "util.h"

TestSuite(crash, .init = adv_init, .fini = adv_fini, .timeout = 90);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* [slow] caps nothing: a torn re-registration keeps its first write's
 * 60 s, so only the test's SIGKILL ends it. */
#define BASE_CONF                                                                                  \
	"kill_grace = 300ms\n[svc]\ntimeout = 1s\n[slow]\ntimeout = 1h\n[hung]\ntimeout = 1s\n"

/* hbtorn as UID ((uid_t)-1: ourselves) with up to three arguments; its
 * record's shmid in *SHMID.  Returns its pid once the seqlock is open. */
static pid_t torn(uid_t uid, int *shmid, const char *a1, const char *a2, const char *a3)
{
	char out[128];
	pid_t pid =
	    adv_start_as(uid, ADV_GROUP, "torn", out, sizeof(out), "$HBTORN", a1, a2, a3, NULL);

	*shmid = adv_shmid_in(out);
	cr_assert_geq(*shmid, 0, "hbtorn said '%s'", out);
	return pid;
}

/* hbtorn T, told to finish its record (SIGUSR1) and then never beating,
 * is watched and killed within WAIT_MS as any other ([svc], 1 s); WHAT
 * and HOW name the figure. */
static void finished_then_killed(pid_t t, int wait_ms, const char *what, const char *how)
{
	uint64_t t0 = hbd_now_ns();
	struct hbd_death d = {.pid = t};

	hbd_kill(t, SIGUSR1);
	cr_assert_eq(hbd_wait_deaths(&d, 1, wait_ms), 1, "%s: the record was never watched", what);
	hbd_figure("%s: killed %llu ms later (timeout 1 s, %s)", what,
		   (unsigned long long)((d.died_ns - t0) / 1000000u), how);
	cr_assert(WIFSIGNALED(d.status));
	cr_assert(hbd_log_wait("signal-sent", t, "svc", 5000));
	cr_assert_eq(hbd_log_count("refused", t, NULL), 0);
	cr_assert_eq(hbd_log_count("untrusted", t, NULL), 0);
	adv_still_kills("hung");
}

/* A registration and its time, which must not wait for anybody. */
static pid_t timed_registration(const char *what)
{
	uint64_t t0 = hbd_now_ns();
	pid_t w = hbd_worker("svc", 60000, NULL);
	uint64_t ms = (hbd_now_ns() - t0) / 1000000u;

	hbd_figure("registration %s took %llu ms", what, (unsigned long long)ms);
	cr_assert_lt(ms, 2000, "registration %s took %llu ms", what, (unsigned long long)ms);
	return w;
}

/* SIGKILLed with the seqlock of its fresh record open.  Nothing waits for
 * it, the daemon never reports a record it could not read, and the record
 * vanishes with the process (it was marked for removal at creation). */
Test(crash, client_killed_writing_its_record)
{
	int shmid, st;

	adv_config(BASE_CONF);
	hbd_start();
	int before = tu_records_count();
	pid_t t = torn((uid_t)-1, &shmid, NULL, NULL, NULL);
	timed_registration("beside an open seqlock");
	hbd_kill(t, SIGKILL);
	cr_assert(hbd_wait_exit(t, 5000, &st));
	timed_registration("after its writer's SIGKILL");

	struct shmid_ds ds;
	bool gone = false;
	for (int i = 0; i < 500 && !gone; i++) {
		gone = shmctl(shmid, IPC_STAT, &ds) < 0;
		if (!gone)
			hbd_sleep_ms(10);
	}
	cr_assert(gone, "the torn record %d outlived its process", shmid);
	cr_assert_eq(tu_records_count(), before + 2, "records leaked or lost");
	cr_assert_eq(hbd_log_count(NULL, t, NULL), 0, "a record never readable was reported");
	adv_still_kills("hung");
}

/* The same during a re-registration: the daemon watched the record, then
 * its seqlock stayed open (the daemon keeps its last good copy).  The
 * process dies: process-gone, the record goes with it, nothing leaks. */
Test(crash, client_killed_mid_reregistration)
{
	int shmid, st;

	adv_config(BASE_CONF);
	hbd_start();
	int before = tu_records_count();
	pid_t t = torn((uid_t)-1, &shmid, "--reregister", "--name", "slow");
	cr_assert(hbd_wait_status("Watching 1 process", 5000), "the first write was not adopted");
	hbd_kill(t, SIGKILL);
	cr_assert(hbd_wait_exit(t, 5000, &st));
	cr_assert(hbd_log_wait("process-gone", t, "exited without unregistering", 5000));
	cr_assert(hbd_wait_record_gone(t, 5000), "the torn record outlived its process");
	cr_assert_eq(tu_records_count(), before);
	cr_assert_eq(hbd_log_count("signal-sent", t, NULL), 0);
	timed_registration("after a torn re-registration");
	adv_still_kills("hung");
}

/* A client of another uid keeps its record's seqlock open for 3 s (as one
 * SIGSTOPped mid-write would, or a hostile owner): never read meanwhile,
 * nothing logged about it, nothing else slowed down.  Then it finishes
 * the write (a watched name, 1 s, a beat) without announcing anything and
 * never beats again: the census finds it and it is killed.  An unreadable
 * record is not refused for good. */
Test(crash, seqlock_held_open_then_closed)
{
	int shmid;

	adv_need_uids();
	adv_config(BASE_CONF);
	hbd_start();
	pid_t t = torn(ADV_VICTIM_UID, &shmid, "--close-on-usr1", "--name", "svc");
	/* The daemon meets the open seqlock at once (it was announced). */
	hbd_sleep_ms(1000);
	timed_registration("beside another uid's open seqlock");
	adv_still_kills("hung");
	hbd_sleep_ms(1000);
	cr_assert(hbd_alive(t));
	cr_assert_eq(hbd_log_count(NULL, t, NULL), 0, "a record being written was reported");

	finished_then_killed(t, 15000, "seqlock closed", "found by the census");
}

/* A client caught between shmget() and its record's header: the daemon
 * meets an all-zero segment of a record's size (here announced at once; a
 * census meets it the same way on a loaded host).  Not some other
 * program's segment for good: once the client finishes and announces it,
 * it is watched, and killed when it stops beating. */
Test(crash, record_met_before_its_header)
{
	int shmid;

	adv_need_uids();
	adv_config(BASE_CONF);
	hbd_start();
	pid_t t = torn(ADV_VICTIM_UID, &shmid, "--unfinished", "--name", "svc");
	hbd_sleep_ms(500); /* the daemon takes the zero segment's announcement up */
	cr_assert(hbd_alive(t));
	cr_assert_eq(hbd_log_count(NULL, t, NULL), 0, "a record being made was reported");

	finished_then_killed(t, 8000, "record finished after its segment was met",
			     "announced again");
}
