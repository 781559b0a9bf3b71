/* Real PID reuse.  This executable runs as PID 1 of a PID namespace of its
 * own (isolate-pid.sh: unshare --ipc --pid --fork --mount-proc), where
 * /proc/sys/kernel/ns_last_pid steers the next pid.  A worker registers
 * and beats; hbwatch is stopped; the worker is SIGKILLed (its slot stays:
 * nobody unregistered it); a new, innocent process is made to get the very
 * same pid; hbwatch starts again.  The slot's start time belongs to the
 * earlier process: a stale slot (event stale-record, MESSAGE_ID a83e0800...,
 * see test_forge.c on event kinds), freed, and the new process is never
 * signalled. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "adv.h"
#include "proc.h"

TestSuite(pidreuse, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

static void set_last_pid(pid_t p)
{
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");

	cr_assert(f, "ns_last_pid: %s", strerror(errno));
	fprintf(f, "%d", (int)p);
	cr_assert_eq(fclose(f), 0, "writing ns_last_pid: %s", strerror(errno));
}

/* Fork a sleeper that gets pid WANT. */
static pid_t sleeper_with_pid(pid_t want)
{
	for (int tries = 0; tries < 20; tries++) {
		set_last_pid(want - 1);
		pid_t p = adv_sleeper_as((uid_t)-1, false, 0);
		if (p == want)
			return p;
		hbd_kill(p, SIGKILL);
		hbd_wait_exit(p, 5000, NULL);
	}
	cr_assert_fail("could not recycle pid %d", (int)want);
	return 0;
}

Test(pidreuse, recycled_pid_is_a_stale_slot)
{
	struct hb_slot_view v;
	uint64_t st_new;
	int st;

	cr_assert_eq(getpid() < 100, true, "not in a fresh PID namespace (pid %d)", (int)getpid());
	hbd_config("kill_grace = 300ms\n[watched]\ntimeout = 300ms\n");
	hbd_start();
	pid_t w = hbd_worker("watched", 300, "--beat-ms", "50", NULL);
	int slot = hbd_slot_of(w);
	cr_assert_geq(slot, 0);
	cr_assert_eq(table_slot_read(hbd_table(), (uint32_t)slot, &v), 0);
	uint64_t st_old = v.start_time;

	/* hbwatch stopped while the pid is recycled. */
	hbd_stop();
	hbd_kill(w, SIGKILL);
	cr_assert(hbd_wait_exit(w, 5000, &st));
	cr_assert_eq(hbd_slot_of(w), slot, "the dead worker's slot vanished");
	hbd_sleep_ms(30); /* start times count clock ticks: make sure they differ */
	pid_t n = sleeper_with_pid(w);
	cr_assert_eq(proc_starttime(n, &st_new), 0);
	cr_assert_neq(st_new, st_old, "same start time: the test cannot tell them apart");
	hbd_figure("pid %d recycled: start time %llu in the slot, %llu now", (int)w,
		   (unsigned long long)st_old, (unsigned long long)st_new);

	hbd_start();
	cr_assert(hbd_log_wait("stale-record", n, "start time differs", 10000));
	cr_assert(hbd_wait_slot_free(n, 5000), "the stale slot was not freed");
	adv_left_alone(n, 3 * 300);
	cr_assert_eq(hbd_log_count("refused", n, NULL), 0);
	/* The recycled pid can register for itself afterwards, as anyone. */
	cr_assert(hbd_alive(n));
}
