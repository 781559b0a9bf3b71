/* Registration with real processes: many at once, normal exit, stale slot
 * reuse, a full table, argument checks, fork, beat and unregister. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hbwatch.h"
#include "proc.h"
#include "sem.h"
#include "table.h"
#include "test_util.h"

TestSuite(register, .fini = tu_cleanup, .timeout = 60);

#define MANY 300

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Start N workers that report on one shared pipe once registered, and
 * wait for all N reports.  PIDS gets the pids we started, sorted. */
static void start_workers(int n, pid_t *pids, const char *timeout_ms, const char *exit_after_ms)
{
	pid_t *ready = calloc((size_t)n, sizeof(*ready));
	int p[2], got;

	cr_assert(ready);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	for (int i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "w%d", i);
		char *argv[] = {(char *)tu_prog("HBWORKER"),
				"--name",
				name,
				"--timeout-ms",
				(char *)timeout_ms,
				"--ready-fd",
				"3",
				"--quiet",
				exit_after_ms ? "--exit-after-ms" : NULL,
				(char *)exit_after_ms,
				NULL};
		pids[i] = tu_spawn(argv, p[1], -1, -1);
	}
	/* Our write end closed, a worker that dies before reporting shows
	 * as a short count instead of a hang. */
	close(p[1]);
	got = tu_read_ready(p[0], "READY", n, ready, 50000);
	close(p[0]);
	cr_assert_eq(got, n, "only %d of %d workers registered", got, n);
	qsort(pids, (size_t)n, sizeof(*pids), pid_cmp);
	qsort(ready, (size_t)n, sizeof(*ready), pid_cmp);
	cr_assert_arr_eq(pids, ready, (size_t)n * sizeof(*pids),
			 "the ready reports do not come from the workers started");
	free(ready);
}

static size_t count_substr(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = hay; (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

Test(register, many_at_once_get_distinct_slots)
{
	static char out[256 * 1024];
	char err[4096];
	pid_t pids[MANY], seen[MANY];
	struct hb_table t;
	int n = 0, status;

	tu_key_use(1);
	tu_table_create(1024, &t);
	start_workers(MANY, pids, "60000", NULL);

	/* The table itself: 300 occupied slots, 300 different pids, each
	 * one of ours with its real start time. */
	for (uint32_t i = 0; i < t.slot_count; i++) {
		struct hb_slot_view v;
		uint64_t st;

		cr_assert_eq(table_slot_read(&t, i, &v), 0, "slot %u unreadable", i);
		if (v.pid == 0)
			continue;
		cr_assert_lt(n, MANY, "more than %d slots used", MANY);
		cr_assert(bsearch(&v.pid, pids, MANY, sizeof(pid_t), pid_cmp),
			  "slot %u holds pid %d, not one of ours", i, (int)v.pid);
		cr_assert_eq(proc_starttime(v.pid, &st), 0);
		cr_assert_eq(v.start_time, st, "slot %u: wrong start time", i);
		seen[n++] = v.pid;
	}
	cr_assert_eq(n, MANY, "%d slots used, expected %d", n, MANY);
	qsort(seen, MANY, sizeof(pid_t), pid_cmp);
	cr_assert_arr_eq(seen, pids, sizeof(seen), "slots do not hold each worker exactly once");

	/* hbctl sees the same. */
	status = tu_run((char *[]){(char *)tu_prog("HBCTL"), "status", "--json", NULL}, out,
			sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 0, "hbctl status --json failed: %s", err);
	cr_assert(tu_json_valid(out), "hbctl status --json is not valid JSON");
	cr_assert(strstr(out, "\"slots\":1024"), "no slot count in: %.200s", out);
	cr_assert(strstr(out, "\"entries\":["));
	cr_assert_eq(count_substr(out, "{\"slot\":"), MANY, "entries are not %d", MANY);
	for (int i = 0; i < MANY; i++) {
		char needle[32];

		snprintf(needle, sizeof(needle), "\"pid\":%d,", (int)pids[i]);
		cr_assert_eq(count_substr(out, needle), 1, "pid %d listed %zu times", (int)pids[i],
			     count_substr(out, needle));
	}

	for (int i = 0; i < MANY; i++)
		kill(pids[i], SIGTERM);
	for (int i = 0; i < MANY; i++) {
		status = tu_wait(pids[i], 20000);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
			  "worker %d did not die of SIGTERM", (int)pids[i]);
	}
	table_detach(&t);
}

Test(register, normal_exit_frees_the_slot)
{
	enum { N = 20 };
	pid_t pids[N];
	struct hb_table t;

	tu_key_use(2);
	tu_table_create(64, &t);
	start_workers(N, pids, "1000", "300");
	for (int i = 0; i < N; i++) {
		int status = tu_wait(pids[i], 20000);

		cr_assert_eq(tu_exit_code(status), 0, "worker %d: status 0x%x", (int)pids[i],
			     (unsigned)status);
	}
	cr_assert_eq(tu_slots_used(&t), 0, "slots left behind after normal exits");
	table_detach(&t);
}

Test(register, stale_slot_with_own_pid_is_reused)
{
	const uint32_t stale = 13;
	int gate[2], ready[2];
	struct hb_table t;
	struct hb_slot_view v;
	uint64_t st;
	pid_t child, got;
	char c = 'g';

	tu_key_use(3);
	tu_table_create(16, &t);
	cr_assert_eq(pipe2(gate, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	/* The child's pid must be known before it registers: it waits at
	 * the gate while we plant a stale record of that pid. */
	child = tu_fork();
	if (child == 0) {
		char *argv[] = {(char *)tu_prog("HBWORKER"),
				"--name",
				"new-service",
				"--timeout-ms",
				"60000",
				"--ready-fd",
				"3",
				"--quiet",
				NULL};

		if (read(gate[0], &c, 1) != 1 || dup2(ready[1], 3) < 0)
			_exit(127);
		closefrom(4);
		execv(argv[0], argv);
		_exit(127);
	}
	close(gate[0]);
	close(ready[1]);
	cr_assert_eq(sem_lock(t.semid, 2000), 0);
	table_slot_fill(&t, stale, child, 1, 5000000000u, now_ns() - 60000000000u, "old-service");
	cr_assert_eq(sem_unlock(t.semid), 0);
	cr_assert_eq(write(gate[1], &c, 1), 1);
	close(gate[1]);

	cr_assert_eq(tu_read_ready(ready[0], "READY", 1, &got, 20000), 1,
		     "the worker did not register");
	cr_assert_eq(got, child);
	cr_assert_eq(table_slot_read(&t, stale, &v), 0);
	cr_assert_eq(v.pid, child, "slot %u holds %d", stale, (int)v.pid);
	cr_assert_str_eq(v.name, "new-service");
	cr_assert_eq(v.timeout_ns, 60000000000u);
	cr_assert_eq(proc_starttime(child, &st), 0);
	cr_assert_eq(v.start_time, st, "start time not refreshed");
	cr_assert_eq(tu_slots_used(&t), 1, "another slot was taken as well");
	table_detach(&t);
}

Test(register, full_table_is_enospc)
{
	enum { N = 4 };
	pid_t pids[N];
	struct hb_table t;
	char out[512], err[512];
	int status;

	tu_key_use(4);
	tu_table_create(N, &t);
	start_workers(N, pids, "60000", NULL);
	cr_assert_eq(tu_slots_used(&t), N);

	status = tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "fifth", "--timeout-ms",
				   "1000", "--exit-after-ms", "0", NULL},
			out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 11, "fifth worker: status 0x%x, output '%s'",
		     (unsigned)status, out);
	cr_assert(strstr(out, "(errno -28)"), "output: %s", out);

	/* The same through the API in this process. */
	cr_assert_eq(hb_register("fifth", 1000), -ENOSPC);
	cr_assert_eq(tu_slots_used(&t), N);
	table_detach(&t);
}

Test(register, bad_arguments_are_einval)
{
	static const char *const bad_names[] = {
	    "",	    "a b",     "a/b",	"tab\t", "\x7f", "nl\n", "caf\xc3\xa9",
	    "\xff", "quote\"", "semi;", "a*",
	};
	char long_name[HB_NAME_MAX + 2], max_name[HB_NAME_MAX + 1];
	struct hb_table t;
	struct hb_slot_view v;

	tu_key_use(5);
	tu_table_create(8, &t);
	memset(long_name, 'x', HB_NAME_MAX + 1);
	long_name[HB_NAME_MAX + 1] = '\0';
	memset(max_name, 'm', HB_NAME_MAX);
	max_name[HB_NAME_MAX] = '\0';

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		cr_assert_eq(hb_register(bad_names[i], 1000), -EINVAL, "name #%zu accepted", i);
	cr_assert_eq(hb_register(long_name, 1000), -EINVAL, "64-byte name accepted");
	cr_assert_eq(hb_register(NULL, 1000), -EINVAL);
	cr_assert_eq(hb_register("ok", 0), -EINVAL, "timeout 0 accepted");
	cr_assert_eq(hb_register("ok", HB_TIMEOUT_MAX_MS + 1), -EINVAL);
	cr_assert_eq(hb_register("ok", ~0u), -EINVAL);
	cr_assert_eq(tu_slots_used(&t), 0, "a rejected registration took a slot");

	/* The boundaries themselves are fine; registering again updates the
	 * record in place. */
	cr_assert_eq(hb_register(max_name, 1), 0);
	cr_assert_eq(table_slot_read(&t, 0, &v), 0);
	cr_assert_str_eq(v.name, max_name);
	cr_assert_eq(v.timeout_ns, 1000000u);
	cr_assert_eq(hb_register("Az09-_.:@", HB_TIMEOUT_MAX_MS), 0);
	cr_assert_eq(table_slot_read(&t, 0, &v), 0);
	cr_assert_str_eq(v.name, "Az09-_.:@");
	cr_assert_eq(v.timeout_ns, (uint64_t)HB_TIMEOUT_MAX_MS * 1000000u);
	cr_assert_eq(v.pid, getpid());
	cr_assert_eq(tu_slots_used(&t), 1);
	/* A bad re-registration leaves the good one alone. */
	cr_assert_eq(hb_register("a b", 1000), -EINVAL);
	cr_assert_eq(table_slot_read(&t, 0, &v), 0);
	cr_assert_str_eq(v.name, "Az09-_.:@");
	cr_assert_eq(hb_unregister(), 0);
	cr_assert_eq(tu_slots_used(&t), 0);

	/* The same errno through the worker's exit status. */
	char out[256], err[256];
	int status = tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "a/b", "--timeout-ms",
				       "1000", "--exit-after-ms", "0", NULL},
			    out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 12, "status 0x%x", (unsigned)status);
	table_detach(&t);
}

Test(register, forked_child_is_not_registered)
{
	struct hb_table t;
	struct hb_slot_view v;
	int res[2], got[3];
	pid_t child;

	tu_key_use(6);
	tu_table_create(8, &t);
	cr_assert_eq(hb_register("parent", 60000), 0);
	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	child = tu_fork();
	if (child == 0) {
		int r[3];

		r[0] = hb_beat();
		r[1] = hb_unregister();
		/* The child may register on its own, in a slot of its own. */
		r[2] = hb_register("child", 60000);
		if (write(res[1], r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		/* exit(), not _exit(): the atexit unregistration must remove
		 * the child's record and only that. */
		exit(0);
	}
	close(res[1]);
	cr_assert_eq(read(res[0], got, sizeof(got)), (ssize_t)sizeof(got));
	cr_assert_eq(got[0], -ENOTCONN, "hb_beat() in the child returned %d", got[0]);
	cr_assert_eq(got[1], -ENOTCONN, "hb_unregister() in the child returned %d", got[1]);
	cr_assert_eq(got[2], 0, "hb_register() in the child returned %d", got[2]);
	cr_assert_eq(tu_exit_code(tu_wait(child, 20000)), 0);

	cr_assert_eq(hb_beat(), 0);
	cr_assert_eq(tu_slots_used(&t), 1, "the child's record was left behind");
	cr_assert_eq(table_slot_read(&t, 0, &v), 0);
	cr_assert_eq(v.pid, getpid(), "the parent's slot is gone");
	cr_assert_str_eq(v.name, "parent");
	cr_assert_eq(hb_unregister(), 0);
	table_detach(&t);
}

static int find_slot(const struct hb_table *t, pid_t pid, struct hb_slot_view *v)
{
	for (uint32_t i = 0; i < t->slot_count; i++)
		if (table_slot_read(t, i, v) == 0 && v->pid == pid)
			return (int)i;
	return -1;
}

Test(register, beat_updates_and_unregister_frees)
{
	struct hb_table t;
	struct hb_slot_view a, b;
	int i;

	tu_key_use(7);
	tu_table_create(8, &t);
	cr_assert_eq(hb_beat(), -ENOTCONN, "beat before registering");
	cr_assert_eq(hb_unregister(), -ENOTCONN);
	cr_assert_eq(hb_register("beater", 10000), 0);
	i = find_slot(&t, getpid(), &a);
	cr_assert_geq(i, 0, "our pid is in no slot");
	nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
	cr_assert_eq(hb_beat(), 0);
	cr_assert_eq(table_slot_read(&t, (uint32_t)i, &b), 0);
	cr_assert_gt(b.beat_ns, a.beat_ns, "beat_ns did not move");
	cr_assert_geq(b.beat_ns - a.beat_ns, 5000000u, "beat_ns moved less than we slept");
	cr_assert_leq(b.beat_ns, now_ns());
	cr_assert_eq(b.seq, a.seq, "a beat must not touch the seqlock");

	cr_assert_eq(hb_unregister(), 0);
	cr_assert_eq(table_slot_read(&t, (uint32_t)i, &b), 0);
	cr_assert_eq(b.pid, 0, "slot %d still holds %d", i, (int)b.pid);
	cr_assert_eq(tu_slots_used(&t), 0);
	cr_assert_eq(hb_beat(), -ENOTCONN);
	cr_assert_eq(hb_unregister(), -ENOTCONN);
	table_detach(&t);
}

/* hbwatch reclaimed our slot and another process took it: hb_beat() says
 * -ESTALE, and registering again must take a new slot, not overwrite the
 * other process's record. */
Test(register, reregister_after_reclaim_keeps_the_new_owner)
{
	struct hb_table t;
	struct hb_slot_view mine, other;
	uint64_t other_start;
	pid_t child;
	int i, j;

	tu_key_use(8);
	tu_table_create(8, &t);
	child = tu_fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	cr_assert_eq(proc_starttime(child, &other_start), 0);
	cr_assert_eq(hb_register("first", 10000), 0);
	i = find_slot(&t, getpid(), &mine);
	cr_assert_geq(i, 0);

	cr_assert_eq(sem_lock(t.semid, 1000), 0);
	cr_assert(table_slot_clear(&t, (uint32_t)i, mine.seq));
	table_slot_fill(&t, (uint32_t)i, child, other_start, 5000000000u, now_ns(), "other");
	sem_unlock(t.semid);
	cr_assert_eq(hb_beat(), -ESTALE);

	cr_assert_eq(hb_register("first", 10000), 0);
	cr_assert_eq(table_slot_read(&t, (uint32_t)i, &other), 0);
	cr_assert_eq(other.pid, child, "slot %d was taken from its new owner", i);
	cr_assert_str_eq(other.name, "other");
	j = find_slot(&t, getpid(), &mine);
	cr_assert(j >= 0 && j != i, "re-registered into slot %d (reclaimed one: %d)", j, i);
	cr_assert_eq(hb_beat(), 0);
	cr_assert_eq(hb_unregister(), 0);
	table_detach(&t);
}
