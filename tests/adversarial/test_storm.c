/* Storms.  hbwatch SIGKILLed 50 times in a row while clients register,
 * beat and exit (hbchurn keeps 40 of them alive, hundreds in all): records
 * outlive the daemon and each start's census finds them, so no
 * registration is lost, none leaks, and hung clients are still killed.
 * Then a group member flooding the registry's ring (100000 bogus hints,
 * garbage ring entries, a tail moved by hand) while a legitimate worker
 * registers, and 1000 untrusted records with the doorbell rung every
 * millisecond: the worker is still found and killed, hbwatch's log stays
 * within its rate limit (kill records are never held back) and its CPU
 * use stays small.  Event kinds on stderr stand for MESSAGE_IDs (see
 * test_trust.c). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "clock.h"
#include "harness.h"
#include "proc.h"
#include "record.h"
#include "util.h"

TestSuite(storm, .init = adv_init, .fini = adv_fini, .timeout = 240);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

#define ANCHORS	 20
#define CYCLES	 50
#define CHURNERS "40"
/* LOG_LIMIT_BURST of src/daemon/report/log.h: limited events per 30 s. */
#define LOG_BURST 200

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
	const char *exe = tu_prog("HBCHURN");
	pid_t parent = getpid();
	int ready[2], out[2];
	char line[64];

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

/* Anchor PID's registration is still there, as itself: record SHMID, open,
 * named "anchor", naming the process by its start time. */
static void anchor_check(int cycle, pid_t pid, int shmid, uint64_t start_time)
{
	struct hb_record_map rec;
	struct hb_record_view v;

	cr_assert(hbd_alive(pid), "cycle %d: anchor %d died", cycle, (int)pid);
	cr_assert_eq(hbd_record_of(pid), shmid, "cycle %d: anchor %d lost its record", cycle,
		     (int)pid);
	cr_assert_eq(record_attach(shmid, true, &rec), 0);
	cr_assert_eq(record_read(&rec, &v), 0);
	record_unmap(&rec);
	cr_assert_eq(v.state, HB_RECORD_OPEN);
	cr_assert(proc_start_matches(start_time, v.start_time, record_started_by(&v)),
		  "cycle %d: anchor %d's record names another process", cycle, (int)pid);
	cr_assert_str_eq(v.name, "anchor");
}

Test(storm, fifty_sigkills_under_churn)
{
	pid_t anchor[ANCHORS], hung1 = 0;
	uint64_t anchor_st[ANCHORS];
	int rec[ANCHORS], out_fd;
	uint64_t t0 = hbd_now_ns(), down_ns = 0;

	hbd_config("kill_grace = 300ms\n[anchor]\ntimeout = 5s\n[churn]\ntimeout = 10s\n"
		   "[hung]\ntimeout = 500ms\n");
	hbd_start();
	/* What earlier tests of this namespace left is not this test's. */
	int base_records = tu_records_count(), base_segments = adv_segments_of(0);
	for (int i = 0; i < ANCHORS; i++) {
		anchor[i] = hbd_worker("anchor", 4000, "--beat-ms", "100", NULL);
		cr_assert_eq(proc_starttime(anchor[i], &anchor_st[i]), 0);
		rec[i] = hbd_record_of(anchor[i]);
		cr_assert_geq(rec[i], 0);
	}
	pid_t churn = churn_start(&out_fd);

	for (int c = 0; c < CYCLES; c++) {
		if (c == CYCLES / 2)
			hung1 = hbd_worker("hung", 500, "--beat-ms", "50", "--hang-after-ms", "100",
					   NULL);
		hbd_sleep_ms(150 + (unsigned)(c % 5) * 40); /* settle, varied */
		for (int i = 0; i < ANCHORS; i++)
			anchor_check(c, anchor[i], rec[i], anchor_st[i]);
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

	/* Settled: the records left are exactly the live clients'. */
	int used = -1;
	for (int i = 0; i < 500 && used != ANCHORS; i++) {
		hbd_sleep_ms(10);
		used = tu_records_count() - base_records;
	}
	hbd_figure("storm: %d SIGKILLs of hbwatch in %.1f s (down %.0f ms in all); churn: %u "
		   "clients spawned, %u registered, %u failed; records after: %d",
		   CYCLES, (double)(hbd_now_ns() - t0) / 1e9, (double)down_ns / 1e6, spawned,
		   registered, failed, used);
	cr_assert_eq(failed, 0, "%u registrations failed", failed);
	cr_assert_geq(spawned, 200);
	cr_assert_eq(used, ANCHORS, "records leaked: %d registered, %d live clients", used,
		     ANCHORS);
	cr_assert_eq(adv_segments_of(0) - base_segments, ANCHORS, "segments leaked");
	/* And the last daemon watches every one of them. */
	cr_assert(hbd_wait_status("Watching 20 processes", 10000), "status: %s", H.status);

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

#define FLOOD_CONF "kill_grace = 300ms\n[watched]\ntimeout = 500ms\n[hung]\ntimeout = 1s\n"

/* Limited events (warnings and refusals) logged so far. */
static int limited_lines(void)
{
	return hbd_log_count("untrusted", 0, NULL) + hbd_log_count("refused", 0, NULL) +
	       hbd_log_count("stale-record", 0, NULL) + hbd_log_count("odd-registration", 0, NULL);
}

/* If the rate limit held lines back, its summary comes when its 30 s
 * window ends: wait for it and return how many it says were held. */
static long suppressed_summary(void)
{
	char line[256] = "";
	long held = -1;

	cr_assert(hbd_log_wait("suppressed", 0, "held back", 45000), "no rate-limit summary");
	FILE *f = fopen(H.log, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "rate limit: ");
		if (p && strstr(line, ": suppressed: "))
			held = strtol(p + 12, NULL, 10);
	}
	fclose(f);
	return held;
}

/* A group member floods the ring (100000 hints of no record, again and
 * again for 4 s), scribbles over it (half its entries taken for
 * announcements of random shmids, half never filled, also for 4 s) and
 * moves its tail by hand, while a worker registers.  The
 * worker is found (by the census if its hint is lost) and killed when it
 * hangs; the log stays bounded. */
Test(storm, ring_flood_while_registering, .timeout = 120)
{
	static const char *const tails[] = {"0", "9223372036854775807", "12345", "4294967295", "1"};
	adv_need_uids();
	adv_config(FLOOD_CONF);
	hbd_start();
	int lines0 = adv_log_lines();
	uint64_t cpu0 = adv_cpu_ms(H.daemon), t0 = hbd_now_ns();

	/* Each attack goes on for longer than the registration and the hang. */
	adv_start_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, NULL, 0, "$HBFORGE", "--flood", "100000",
		     "--for-ms", "4000", NULL);
	adv_start_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, NULL, 0, "$HBFORGE", "--scribble", "2000",
		     "--for-ms", "4000", NULL);
	for (size_t i = 0; i < 3; i++)
		adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, 0, NULL, 0, "$HBFORGE", "--tail",
			   tails[i], NULL);
	uint64_t registered = hbd_now_ns();
	pid_t w = hbd_worker("hung", 1000, "--beat-ms", "50", "--hang-after-ms", "300", NULL);
	for (size_t i = 3; i < sizeof(tails) / sizeof(tails[0]); i++)
		adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, 0, NULL, 0, "$HBFORGE", "--tail",
			   tails[i], NULL);
	/* Found within a census period (5 s) at worst, then 1 s to its death. */
	struct hbd_death d = {.pid = w};
	cr_assert_eq(hbd_wait_deaths(&d, 1, 15000), 1, "the worker was never found and killed");
	cr_assert(WIFSIGNALED(d.status));
	cr_assert(hbd_log_wait("signal-sent", w, NULL, 5000));
	uint64_t kill_ms = (d.died_ns - registered) / 1000000u;

	uint64_t left = t0 + 5000000000u > hbd_now_ns() ? t0 + 5000000000u - hbd_now_ns() : 0;
	hbd_sleep_ms((unsigned)(left / 1000000u));
	uint64_t span_ms = (hbd_now_ns() - t0) / 1000000u;
	int lines = adv_log_lines() - lines0;
	uint64_t cpu = adv_cpu_ms(H.daemon) - cpu0;
	hbd_figure("ring flood: registered worker killed %llu ms after registering (hang at "
		   "300 ms, timeout 1 s); %d log lines and %llu ms of hbwatch CPU in %llu ms",
		   (unsigned long long)kill_ms, lines, (unsigned long long)cpu,
		   (unsigned long long)span_ms);
	cr_assert_leq(lines, 300, "%d log lines in %llu ms", lines, (unsigned long long)span_ms);
	/* The doorbell thread wakes for every one of the attacker's hints: it
	 * may work while two attackers spin, but it must not spin on its own. */
	cr_assert_lt(cpu * 4, span_ms * 3, "hbwatch used %llu ms of CPU in %llu ms",
		     (unsigned long long)cpu, (unsigned long long)span_ms);
	if (limited_lines() >= LOG_BURST)
		hbd_figure("ring flood: rate limit summary: %ld held back", suppressed_summary());
	adv_still_kills("hung");
}

/* 1000 untrusted records of a group member: 500 of its own that its group
 * and everyone may write, 500 naming root's process; then the doorbell rung
 * every millisecond.  At most LOG_BURST warnings per 30 s (then one
 * summary), the kill of a hung worker meanwhile logged in full, root's
 * process left alone, hbwatch's CPU small. */
Test(storm, untrusted_records_and_doorbell_storm, .timeout = 150)
{
	char pid[16];

	adv_need_uids();
	adv_config(FLOOD_CONF);
	hbd_start();
	pid_t victim = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)victim);
	int lines0 = adv_log_lines();

	uint64_t made0 = hbd_now_ns();
	pid_t holder =
	    adv_start_as(ADV_ATTACKER_UID, ADV_GROUP, "ready", NULL, 0, "$HBFORGE", "--self",
			 "--mode", "0666", "--count", "500", "--name", "watched", NULL);
	int st = adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, 0, NULL, 0, "$HBFORGE", "--pid", pid,
			    "--count", "500", "--name", "watched", NULL);
	cr_assert_eq(tu_exit_code(st), 0);
	cr_assert_eq(adv_segments_of(ADV_ATTACKER_UID), 1000);
	hbd_figure("untrusted storm: 1000 records made in %llu ms",
		   (unsigned long long)((hbd_now_ns() - made0) / 1000000u));

	uint64_t cpu0 = adv_cpu_ms(H.daemon), t0 = hbd_now_ns();
	adv_start_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, NULL, 0, "$HBFORGE", "--ring-for-ms",
		     "8000", NULL);
	hbd_sleep_ms(1000);
	pid_t w = hbd_worker("hung", 1000, "--beat-ms", "50", "--hang-after-ms", "300", NULL);
	adv_assert_killed(w, 10000);
	cr_assert(hbd_log_wait("deadline-missed", w, NULL, 1000), "a kill without its reason");
	uint64_t left = t0 + 6000000000u > hbd_now_ns() ? t0 + 6000000000u - hbd_now_ns() : 0;
	hbd_sleep_ms((unsigned)(left / 1000000u));
	uint64_t span_ms = (hbd_now_ns() - t0) / 1000000u;
	uint64_t cpu = adv_cpu_ms(H.daemon) - cpu0;
	int lines = adv_log_lines() - lines0, limited = limited_lines();
	hbd_figure("untrusted storm: %d log lines (%d limited, %d untrusted) since the records "
		   "came; hbwatch used %llu ms of CPU in %llu ms of doorbell rings every ms",
		   lines, limited, hbd_log_count("untrusted", 0, NULL), (unsigned long long)cpu,
		   (unsigned long long)span_ms);
	cr_assert_leq(limited, LOG_BURST, "the rate limit let %d warnings through", limited);
	/* Which records get the 200 lines is the order of discovery. */
	cr_assert_geq(
	    hbd_log_count("untrusted", victim, NULL) + hbd_log_count("untrusted", holder, NULL), 1);
	cr_assert_lt(cpu * 2, span_ms, "hbwatch used %llu ms of CPU in %llu ms",
		     (unsigned long long)cpu, (unsigned long long)span_ms);
	hbd_assert_left_alone(victim, 0);
	cr_assert_eq(hbd_log_count("deadline-missed", victim, NULL), 0);

	long held = suppressed_summary();
	hbd_figure("untrusted storm: the summary says %ld warnings were held back", held);
	cr_assert_geq(held, 1000 - LOG_BURST, "only %ld held back", held);
	hbd_assert_left_alone(victim, 0);
	adv_still_kills("hung");
}
