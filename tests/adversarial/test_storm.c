/* hbwatch SIGKILLed 50 times in a row while clients register, beat and
 * exit (hbchurn keeps 40 of them alive, hundreds in all).  After every
 * restart each long-lived registration is still in the table with its
 * identity and none of them is ever signalled; once the churn stops and
 * things settle, the slots in use are exactly the live clients (no leak);
 * and a hung client is still killed, during the storm and after it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "adv.h"
#include "proc.h"

TestSuite(storm, .init = hbd_init, .fini = hbd_fini, .timeout = 240);

#define ANCHORS	 20
#define CYCLES	 50
#define CHURNERS "40"

static void daemon_sigkill(void)
{
	int st;

	hbd_kill(H.daemon, SIGKILL);
	cr_assert(hbd_wait_exit(H.daemon, 5000, &st), "hbwatch did not die");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "hbwatch ended 0x%x", (unsigned)st);
	H.daemon_exited = true;
	H.daemon_status = st;
}

static pid_t churn_start(int *out_fd)
{
	const char *exe = getenv("HBCHURN");
	pid_t parent = getpid();
	int ready[2], out[2];
	char line[64];

	cr_assert(exe && *exe);
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		if (dup2(ready[1], 3) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		int e = open(H.wlog, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (e >= 0)
			dup2(e, 2);
		execl(exe, exe, "--concurrency", CHURNERS, "--ready-fd", "3", (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	close(out[1]);
	H.kids[H.n_kids++] = pid;
	struct pollfd p = {.fd = ready[0], .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 10000), 1);
	cr_assert_gt(read(ready[0], line, sizeof(line)), 0);
	close(ready[0]);
	*out_fd = out[0];
	return pid;
}

Test(storm, fifty_sigkills_under_churn)
{
	pid_t anchor[ANCHORS], hung1 = 0;
	uint64_t anchor_st[ANCHORS];
	int slot[ANCHORS], out_fd;
	uint64_t t0 = hbd_now_ns(), down_ns = 0;

	hbd_config("kill_grace = 300ms\n[anchor]\ntimeout = 5s\n[churn]\ntimeout = 10s\n"
		   "[hung]\ntimeout = 500ms\n");
	hbd_start();
	for (int i = 0; i < ANCHORS; i++) {
		anchor[i] = hbd_worker("anchor", 4000, "--beat-ms", "100", NULL);
		cr_assert_eq(proc_starttime(anchor[i], &anchor_st[i]), 0);
		slot[i] = hbd_slot_of(anchor[i]);
		cr_assert_geq(slot[i], 0);
	}
	pid_t churn = churn_start(&out_fd);

	for (int c = 0; c < CYCLES; c++) {
		if (c == CYCLES / 2)
			hung1 = hbd_worker("hung", 500, "--beat-ms", "50", "--hang-after-ms", "100",
					   NULL);
		hbd_sleep_ms(150 + (unsigned)(c % 5) * 40); /* settle, varied */
		/* Every long-lived registration is still there, as itself. */
		for (int i = 0; i < ANCHORS; i++) {
			struct hb_slot_view v;
			cr_assert(hbd_alive(anchor[i]), "cycle %d: anchor %d died", c,
				  (int)anchor[i]);
			cr_assert_eq(hbd_slot_of(anchor[i]), slot[i],
				     "cycle %d: anchor %d lost its slot", c, (int)anchor[i]);
			cr_assert_eq(table_slot_read(hbd_table(), (uint32_t)slot[i], &v), 0);
			cr_assert_eq(v.start_time, anchor_st[i]);
			cr_assert_str_eq(v.name, "anchor");
		}
		daemon_sigkill();
		uint64_t d0 = hbd_now_ns();
		hbd_sleep_ms((unsigned)(c % 3) * 30); /* down for a moment, clients go on */
		hbd_start();
		down_ns += hbd_now_ns() - d0;
	}
	/* The hung client started mid-storm was killed by one of the daemons. */
	int st;
	cr_assert(hbd_wait_exit(hung1, 5000, &st), "the hung client survived the storm");
	cr_assert(WIFSIGNALED(st), "hung client ended 0x%x", (unsigned)st);

	/* Stop the churn; let its last clients end. */
	hbd_kill(churn, SIGTERM);
	cr_assert(hbd_wait_exit(churn, 20000, &st), "hbchurn did not stop");
	char stats[128] = "";
	ssize_t n = read(out_fd, stats, sizeof(stats) - 1);
	close(out_fd);
	stats[n > 0 ? n : 0] = '\0';
	unsigned spawned = 0, registered = 0, failed = 0;
	cr_assert_eq(
	    sscanf(stats, "spawned %u registered %u failed %u", &spawned, &registered, &failed), 3,
	    "hbchurn said '%s'", stats);

	/* Settled: the slots in use are exactly the live clients. */
	int used = -1;
	for (int i = 0; i < 300 && used != ANCHORS; i++) {
		hbd_sleep_ms(10);
		used = adv_slots_used();
	}
	hbd_figure("storm: %d SIGKILLs of hbwatch in %.1f s (down %.0f ms in all); churn: %u "
		   "clients spawned, %u registered, %u failed; slots in use after: %d",
		   CYCLES, (double)(hbd_now_ns() - t0) / 1e9, (double)down_ns / 1e6, spawned,
		   registered, failed, used);
	cr_assert_eq(failed, 0, "%u registrations failed", failed);
	cr_assert_geq(spawned, 200);
	cr_assert_eq(used, ANCHORS, "slots leaked: %d in use, %d live clients", used, ANCHORS);

	/* Still watching: a hung client is killed within its timeout. */
	pid_t hung2 = hbd_worker("hung", 500, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	cr_assert(hbd_wait_exit(hung2, 5000, &st), "the last hung client was not killed");
	cr_assert(WIFSIGNALED(st));
	for (int i = 0; i < ANCHORS; i++) {
		cr_assert(hbd_alive(anchor[i]));
		cr_assert_eq(hbd_log_count("signal-sent", anchor[i], NULL), 0);
		cr_assert_eq(hbd_log_count("deadline-missed", anchor[i], NULL), 0);
	}
	cr_assert_eq(hbd_log_count("signal-sent", 0, "churn"), 0, "a churn client was signalled");
}
