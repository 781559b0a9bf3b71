/* Registration with real processes: many at once, normal exit, re-register
 * in place, argument checks, fork, beat and unregister, the host's segment
 * limit, no registry, and records nobody else may take over. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "census.h"
#include "clock.h"
#include "hbwatch.h"
#include "proc.h"
#include "util.h"

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

/* The registered record of PID and a copy of it; fails the test if PID has
 * none. */
static int view_of(pid_t pid, struct hb_record_view *v)
{
	int shmid = tu_record_of(pid);

	cr_assert_geq(shmid, 0, "pid %d has no registered record", (int)pid);
	cr_assert_eq(tu_record_view(shmid, v), 0, "record %d unreadable", shmid);
	return shmid;
}

/* Has segment SHMID gone from the kernel (not merely closed)? */
static bool segment_gone(int shmid)
{
	struct shmid_ds ds;

	return shmctl(shmid, IPC_STAT, &ds) < 0 && (errno == EINVAL || errno == EIDRM);
}

struct seen {
	const pid_t *pids; /* sorted */
	pid_t found[MANY];
	int n, bad_owner, bad_start, not_self;
};

static int seen_one(int shmid, const struct shmid_ds *ds, void *userdata)
{
	struct seen *s = userdata;
	struct census_entry e;
	uint64_t st;

	if (census_inspect(shmid, ds, &e) < 0 || e.busy || e.v.state != HB_RECORD_OPEN)
		return 0;
	if (!(e.v.flags & HB_RECORD_SELF))
		s->not_self++;
	if (!bsearch(&e.pid, s->pids, MANY, sizeof(pid_t), pid_cmp))
		s->bad_owner++;
	else if (proc_starttime(e.pid, &st) < 0 ||
		 !proc_start_matches(st, e.v.start_time, record_started_by(&e.v)))
		s->bad_start++;
	if (s->n < MANY)
		s->found[s->n] = e.pid;
	s->n++;
	return 0;
}

Test(register, many_at_once_get_distinct_records)
{
	static char out[512 * 1024];
	char err[4096];
	pid_t pids[MANY];
	struct hb_registry reg;
	struct seen s = {.pids = pids};
	int status;

	tu_key_use(1);
	tu_registry_create(1024, &reg);
	start_workers(MANY, pids, "60000", NULL);

	/* The records themselves: 300 registered, each its creator's own
	 * (the kernel's shm_cpid), one per worker, with its real start time. */
	cr_assert_eq(census_each(seen_one, &s), 0);
	cr_assert_eq(s.n, MANY, "%d registered records, expected %d", s.n, MANY);
	cr_assert_eq(s.bad_owner, 0, "%d records belong to no worker of ours", s.bad_owner);
	cr_assert_eq(s.bad_start, 0, "%d records carry a wrong start time", s.bad_start);
	cr_assert_eq(s.not_self, 0, "%d records do not name their creator", s.not_self);
	qsort(s.found, MANY, sizeof(pid_t), pid_cmp);
	cr_assert_arr_eq(s.found, pids, sizeof(pids), "records do not hold each worker once");

	/* hbctl sees the same. */
	status = tu_run((char *[]){(char *)tu_prog("HBCTL"), "status", "--json", NULL}, out,
			sizeof(out), err, sizeof(err), 30000);
	cr_assert_eq(tu_exit_code(status), 0, "hbctl status --json failed: %s", err);
	cr_assert(tu_json_valid(out), "hbctl status --json is not valid JSON");
	cr_assert(strstr(out, "\"registry\":true"), "no registry in: %.200s", out);
	cr_assert(strstr(out, "\"entries\":["));
	cr_assert_eq(count_substr(out, "{\"shmid\":"), MANY, "entries are not %d", MANY);
	cr_assert_eq(count_substr(out, "\"state\":\"ok\""), MANY, "not every entry is ok");
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
	/* Killed, not exited: the records go with the processes all the same. */
	cr_assert_eq(tu_records_count(), 0, "records outlived their processes");
	registry_detach(&reg);
}

Test(register, normal_exit_removes_the_record)
{
	enum { N = 20 };
	pid_t pids[N];
	int shmids[N];
	struct hb_registry reg;

	int segments;

	tu_key_use(2);
	tu_registry_create(64, &reg);
	segments = tu_segments_count();
	start_workers(N, pids, "60000", "5000");
	for (int i = 0; i < N; i++) {
		shmids[i] = tu_record_of(pids[i]);
		cr_assert_geq(shmids[i], 0, "worker %d has no record", (int)pids[i]);
	}
	for (int i = 0; i < N; i++) {
		int status = tu_wait(pids[i], 20000);

		cr_assert_eq(tu_exit_code(status), 0, "worker %d: status 0x%x", (int)pids[i],
			     (unsigned)status);
	}
	/* Gone from the kernel, not merely closed: nothing for anyone to
	 * clean up, and the registry is the only segment left. */
	for (int i = 0; i < N; i++)
		cr_assert(segment_gone(shmids[i]), "record %d of worker %d outlived it", shmids[i],
			  (int)pids[i]);
	cr_assert_eq(tu_records_count(), 0);
	cr_assert_eq(tu_segments_count(), segments, "segments left behind after normal exits");
	registry_detach(&reg);
}

Test(register, reregistration_updates_in_place)
{
	struct hb_registry reg;
	struct hb_record_view a, b;
	struct shmid_ds ds;
	int shmid;

	int segments;

	tu_key_use(3);
	tu_registry_create(8, &reg);
	segments = tu_segments_count();
	cr_assert_eq(hb_register("first", 1000), 0);
	shmid = view_of(getpid(), &a);
	cr_assert_str_eq(a.name, "first");
	cr_assert_eq(a.timeout_ns, 1000000000u);

	cr_assert_eq(hb_register("second", 2500), 0);
	cr_assert_eq(view_of(getpid(), &b), shmid, "re-registering made another record");
	cr_assert_str_eq(b.name, "second");
	cr_assert_eq(b.timeout_ns, 2500000000u);
	cr_assert_gt(b.seq, a.seq, "the registration changed outside the seqlock");
	cr_assert_geq(b.beat_ns, a.beat_ns);
	cr_assert_eq(tu_records_count(), 1);
	cr_assert_eq(tu_segments_count(), segments + 1, "more than one record for one process");

	/* Still the owner's word only: mode 0640, created and owned by us,
	 * readable by the registry's group (hbwatch's) and nobody else. */
	cr_assert_eq(shmctl(shmid, IPC_STAT, &ds), 0);
	cr_assert_eq(ds.shm_perm.mode & 0777, 0640, "mode %03o", ds.shm_perm.mode & 0777);
	struct shmid_ds rds;
	cr_assert_eq(shmctl(reg.shmid, IPC_STAT, &rds), 0);
	cr_assert_eq(ds.shm_perm.gid, rds.shm_perm.gid, "group %u, not the registry's %u",
		     (unsigned)ds.shm_perm.gid, (unsigned)rds.shm_perm.gid);
	cr_assert_eq(ds.shm_perm.cuid, geteuid());
	cr_assert_eq(ds.shm_perm.uid, geteuid());
	cr_assert_eq(ds.shm_cpid, getpid());
	cr_assert_eq(hb_unregister(), 0);
	registry_detach(&reg);
}

Test(register, bad_arguments_are_einval)
{
	static const char *const bad_names[] = {
	    "",	    "a b",     "a/b",	"tab\t", "\x7f", "nl\n", "caf\xc3\xa9",
	    "\xff", "quote\"", "semi;", "a*",
	};
	char long_name[HB_NAME_MAX + 2], max_name[HB_NAME_MAX + 1];
	struct hb_registry reg;
	struct hb_record_view v;
	int shmid, segments;

	tu_key_use(5);
	tu_registry_create(8, &reg);
	segments = tu_segments_count();
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
	cr_assert_eq(tu_segments_count(), segments, "a rejected registration made a segment");

	/* The boundaries themselves are fine. */
	cr_assert_eq(hb_register(max_name, 1), 0);
	shmid = view_of(getpid(), &v);
	cr_assert_str_eq(v.name, max_name);
	cr_assert(v.name_ok);
	cr_assert_eq(v.timeout_ns, 1000000u);
	cr_assert_eq(hb_register("Az09-_.:@", HB_TIMEOUT_MAX_MS), 0);
	cr_assert_eq(view_of(getpid(), &v), shmid);
	cr_assert_str_eq(v.name, "Az09-_.:@");
	cr_assert_eq(v.timeout_ns, (uint64_t)HB_TIMEOUT_MAX_MS * 1000000u);
	cr_assert_eq(tu_records_count(), 1);
	/* A bad re-registration leaves the good one alone. */
	cr_assert_eq(hb_register("a b", 1000), -EINVAL);
	cr_assert_eq(hb_register("ok", 0), -EINVAL);
	cr_assert_eq(view_of(getpid(), &v), shmid);
	cr_assert_str_eq(v.name, "Az09-_.:@");
	cr_assert_eq(v.timeout_ns, (uint64_t)HB_TIMEOUT_MAX_MS * 1000000u);
	cr_assert_eq(hb_unregister(), 0);
	cr_assert_eq(tu_records_count(), 0);

	/* The same errno through the worker's exit status. */
	char out[256], err[256];
	int status = tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "a/b", "--timeout-ms",
				       "1000", "--exit-after-ms", "0", NULL},
			    out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 12, "status 0x%x", (unsigned)status);
	registry_detach(&reg);
}

Test(register, forked_child_is_not_registered)
{
	struct hb_registry reg;
	struct hb_record_view before, after;
	int res[2], got[4], mine;
	pid_t child;

	tu_key_use(6);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_register("parent", 60000), 0);
	mine = view_of(getpid(), &before);
	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	child = tu_fork();
	if (child == 0) {
		int r[4];

		r[0] = hb_beat();
		r[1] = hb_unregister();
		/* The child may register on its own, with a record of its own. */
		r[2] = hb_register("child", 60000);
		r[3] = tu_record_of(getpid());
		if (write(res[1], r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		/* exit(), not _exit(): the atexit unregistration must close
		 * the child's record and only that. */
		exit(0);
	}
	close(res[1]);
	cr_assert_eq(read(res[0], got, sizeof(got)), (ssize_t)sizeof(got));
	close(res[0]);
	cr_assert_eq(got[0], -ENOTCONN, "hb_beat() in the child returned %d", got[0]);
	cr_assert_eq(got[1], -ENOTCONN, "hb_unregister() in the child returned %d", got[1]);
	cr_assert_eq(got[2], 0, "hb_register() in the child returned %d", got[2]);
	cr_assert(got[3] >= 0 && got[3] != mine, "the child registered into record %d (ours: %d)",
		  got[3], mine);
	cr_assert_eq(tu_exit_code(tu_wait(child, 20000)), 0);
	cr_assert(segment_gone(got[3]), "the child's record outlived it");

	/* Our record: untouched by anything the child did. */
	cr_assert_eq(view_of(getpid(), &after), mine, "the parent's record is gone");
	cr_assert_eq(after.state, HB_RECORD_OPEN);
	cr_assert_str_eq(after.name, "parent");
	cr_assert_eq(after.seq, before.seq, "the child rewrote the parent's registration");
	cr_assert_eq(after.beat_ns, before.beat_ns, "the child beat for the parent");
	cr_assert_eq(tu_records_count(), 1, "the child's record was left registered");
	cr_assert_eq(hb_beat(), 0);
	cr_assert_eq(hb_unregister(), 0);
	registry_detach(&reg);
}

Test(register, beat_updates_and_unregister_closes)
{
	struct hb_registry reg;
	struct hb_record_view a, b;
	int shmid, segments;

	tu_key_use(7);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_beat(), -ENOTCONN, "beat before registering");
	cr_assert_eq(hb_unregister(), -ENOTCONN);
	cr_assert_eq(hb_register("beater", 10000), 0);
	shmid = view_of(getpid(), &a);
	nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
	cr_assert_eq(hb_beat(), 0);
	cr_assert_eq(tu_record_view(shmid, &b), 0);
	cr_assert_gt(b.beat_ns, a.beat_ns, "beat_ns did not move");
	cr_assert_geq(b.beat_ns - a.beat_ns, 5000000u, "beat_ns moved less than we slept");
	cr_assert_leq(b.beat_ns, now_ns());
	cr_assert_eq(b.seq, a.seq, "a beat must not touch the seqlock");

	cr_assert_eq(hb_unregister(), 0);
	cr_assert_eq(tu_record_view(shmid, &b), 0);
	cr_assert_eq(b.state, HB_RECORD_CLOSED, "record %d still registered", shmid);
	cr_assert_str_eq(b.name, "beater", "closing lost the name");
	cr_assert_eq(tu_record_of(getpid()), -1);
	cr_assert_eq(tu_records_count(), 0);
	cr_assert_eq(hb_beat(), -ENOTCONN);
	cr_assert_eq(hb_unregister(), -ENOTCONN);

	/* Registering again takes the same record back: cycles of register
	 * and unregister never pile up segments. */
	segments = tu_segments_count();
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(hb_register("beater", 10000), 0);
		cr_assert_eq(hb_unregister(), 0);
	}
	cr_assert_eq(tu_segments_count(), segments, "register/unregister cycles leak segments");
	cr_assert_eq(hb_register("beater", 10000), 0);
	cr_assert_eq(view_of(getpid(), &b), shmid);
	cr_assert_eq(hb_beat(), 0);
	cr_assert_eq(hb_unregister(), 0);
	registry_detach(&reg);
}

/* kernel.shmmni before the segment-limit test lowered it (0: untouched).
 * Restored by the fixture too, should an assertion end the test early. */
static long saved_shmmni;

static int shmmni_write(long v)
{
	FILE *f = fopen("/proc/sys/kernel/shmmni", "w");
	int r;

	if (!f)
		return -errno;
	r = fprintf(f, "%ld\n", v) < 0 ? -EIO : 0;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

static void shmmni_restore(void)
{
	if (saved_shmmni > 0)
		(void)shmmni_write(saved_shmmni);
	saved_shmmni = 0;
	tu_cleanup();
}

Test(register, segment_limit_is_enospc, .fini = shmmni_restore)
{
	enum { N = 2 };
	pid_t pids[N], sleeper;
	struct hb_registry reg;
	char out[512], err[512], pid[16];
	FILE *f;
	int status, r;

	/* kernel.shmmni is per IPC namespace.  isolate.sh already gives us
	 * one, but a namespace of this test's own makes sure that lowering
	 * the limit can never reach the host's, however we were started. */
	if (unshare(CLONE_NEWIPC) < 0)
		cr_skip_test("no IPC namespace of our own (%s)", strerror(errno));
	f = fopen("/proc/sys/kernel/shmmni", "r");
	cr_assert(f, "/proc/sys/kernel/shmmni: %s", strerror(errno));
	cr_assert_eq(fscanf(f, "%ld", &saved_shmmni), 1);
	fclose(f);

	tu_key_use(4);
	tu_registry_create(16, &reg);
	start_workers(N, pids, "60000", NULL);
	cr_assert_eq(tu_segments_count(), 1 + N);
	/* Exactly the segments there are: the next one is refused. */
	r = shmmni_write(1 + N);
	if (r < 0)
		cr_skip_test("cannot set kernel.shmmni in our namespace: %s", strerror(-r));

	status = tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "third", "--timeout-ms",
				   "1000", "--exit-after-ms", "0", NULL},
			out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 11, "third worker: status 0x%x, output '%s'",
		     (unsigned)status, out);
	cr_assert(strstr(out, "(errno -28)"), "output: %s", out);
	/* The same through the API in this process. */
	cr_assert_eq(hb_register("third", 1000), -ENOSPC);
	cr_assert_eq(hb_beat(), -ENOTCONN, "a failed registration left us registered");
	/* hbctl says which limit it is. */
	sleeper = tu_fork();
	if (sleeper == 0) {
		pause();
		_exit(0);
	}
	snprintf(pid, sizeof(pid), "%d", (int)sleeper);
	status = tu_run((char *[]){(char *)tu_prog("HBCTL"), "register", "--name", "job",
				   "--timeout", "30s", "--pid", pid, NULL},
			out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 1, "hbctl register: status 0x%x", (unsigned)status);
	cr_assert(strstr(err, "kernel.shmmni"), "stderr: %s", err);
	/* Those registered before are untouched. */
	cr_assert_eq(tu_segments_count(), 1 + N);
	cr_assert_eq(tu_records_count(), N);
	for (int i = 0; i < N; i++)
		cr_assert_geq(tu_record_of(pids[i]), 0, "worker %d lost its record", (int)pids[i]);

	/* With the limit back, the same call succeeds. */
	cr_assert_eq(shmmni_write(saved_shmmni), 0);
	saved_shmmni = 0;
	cr_assert_eq(hb_register("third", 1000), 0);
	cr_assert_eq(tu_records_count(), N + 1);
	cr_assert_eq(hb_unregister(), 0);
	registry_detach(&reg);
}

Test(register, no_registry_is_enoent)
{
	char out[256], err[256];
	int status, segments;

	tu_key_use(9);
	segments = tu_segments_count();
	cr_assert_eq(hb_register("w", 1000), -ENOENT);
	cr_assert_eq(hb_beat(), -ENOTCONN);
	status = tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "w", "--timeout-ms",
				   "1000", "--exit-after-ms", "0", NULL},
			out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 10, "status 0x%x, output '%s'", (unsigned)status, out);
	/* Nothing was made for a registration nobody would watch. */
	cr_assert_eq(tu_segments_count(), segments, "a record was made without a registry");
}

/* A record that names our pid but an earlier start time (as hbctl leaves
 * one when a job's process is gone and hbwatch is not running) is not
 * ours: registering makes a record of our own and leaves that one alone. */
Test(register, stale_record_of_the_same_pid_is_left_alone)
{
	int gate[2], ready[2], stale, mine;
	struct hb_registry reg;
	struct hb_record_view old, now, v;
	uint64_t st;
	pid_t child, got;
	char c = 'g';

	tu_key_use(10);
	tu_registry_create(16, &reg);
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
	cr_assert_eq(proc_starttime(child, &st), 0);
	stale = tu_record_make(child, st - 1, "old-service", 5000, now_ns() - 1000000000u, NULL);
	cr_assert_eq(tu_record_view(stale, &old), 0);
	cr_assert_eq(write(gate[1], &c, 1), 1);
	close(gate[1]);

	cr_assert_eq(tu_read_ready(ready[0], "READY", 1, &got, 20000), 1,
		     "the worker did not register");
	close(ready[0]);
	cr_assert_eq(got, child);
	/* Two records name the child now: the stale one and its own. */
	struct census_entry *e;
	size_t n;

	mine = -1;
	cr_assert_eq(census_collect(&e, &n), 0);
	for (size_t k = 0; k < n; k++)
		if (e[k].shmid != stale && e[k].pid == child)
			mine = e[k].shmid;
	free(e);
	cr_assert_geq(mine, 0, "the worker has no record of its own");
	cr_assert_eq(tu_record_view(mine, &v), 0);
	cr_assert(v.flags & HB_RECORD_SELF);
	cr_assert_str_eq(v.name, "new-service");
	/* No start time of its own: a CLOCK_BOOTTIME stamp from after it
	 * started, which bounds the start time census and hbwatch accept. */
	cr_assert_eq(v.start_time, 0);
	cr_assert_gt(v.made_boot_ns, 0);
	cr_assert(proc_start_matches(st, v.start_time, record_started_by(&v)));
	cr_assert(record_started_by(&v) >= st, "made before its maker started");

	cr_assert_eq(tu_record_view(stale, &now), 0);
	cr_assert_str_eq(now.name, "old-service");
	cr_assert_eq(now.seq, old.seq, "the stale record was rewritten");
	cr_assert_eq(now.beat_ns, old.beat_ns, "the stale record was beaten");
	cr_assert_eq(now.start_time, st - 1);
	registry_detach(&reg);
}

/* What reclaiming a slot used to allow, taking over another process's
 * heartbeat, is gone: only a record's owner may write it.  Another uid
 * trying to rewrite ours is refused by the kernel. */
Test(register, others_cannot_rewrite_our_record)
{
	struct hb_registry reg;
	struct hb_record_view a, b;
	char out[512], err[512], id[16];
	int shmid, status;

	if (!tu_can_become(3001))
		cr_skip_test("cannot run programs as uid 3001 here");
	tu_key_use(11);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_register("mine", 60000), 0);
	shmid = view_of(getpid(), &a);
	snprintf(id, sizeof(id), "%d", shmid);
	status = tu_run((char *[]){(char *)tu_setpriv(), "--reuid", "3001", "--regid", "3001",
				   "--clear-groups", "--", (char *)tu_prog("HBFORGE"), "--rewrite",
				   id, "--name", "other", "--timeout-ms", "1", NULL},
			out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 1, "hbforge as uid 3001: status 0x%x, %s",
		     (unsigned)status, err);
	cr_assert(strstr(err, "Permission denied"), "stderr: %s", err);
	cr_assert_eq(tu_record_view(shmid, &b), 0);
	cr_assert_str_eq(b.name, "mine");
	cr_assert_eq(b.timeout_ns, 60000000000u);
	cr_assert_eq(b.seq, a.seq);
	cr_assert_eq(hb_beat(), 0);
	cr_assert_eq(hb_unregister(), 0);
	registry_detach(&reg);
}

/* A stopped hbwatch leaves its registry (no registration is lost across a
 * restart) but names no live process there.  hb_register() still
 * registers, for the next start; hb_register_wait() says that hbwatch is
 * not running (-ENOENT) once its wait is over, where a running hbwatch
 * that does not take the registration up is -ETIMEDOUT. */
Test(register, stopped_hbwatch_is_enoent_for_wait)
{
	struct hb_registry reg;
	int64_t t0;
	pid_t dead;

	tu_key_use(90);
	tu_registry_create(8, &reg);
	atomic_store(&reg.hdr->owner_pid, 0); /* stopped cleanly */
	t0 = tu_now_ms();
	cr_assert_eq(hb_register_wait("w", 1000, 300), -ENOENT);
	cr_assert_geq(tu_now_ms() - t0, 300, "hb_register_wait() did not wait for hbwatch");
	cr_assert_geq(tu_record_of(getpid()), 0, "no registration kept for the next start");
	cr_assert_eq(hb_register("w", 1000), 0);
	dead = tu_fork();
	if (dead == 0)
		_exit(0);
	cr_assert_neq(tu_wait(dead, 5000), -1);
	tu_untrack(dead);
	atomic_store(&reg.hdr->owner_pid, (int32_t)dead); /* killed */
	cr_assert_eq(hb_register_wait("w", 1000, 100), -ENOENT);
	/* Running (this test stands in for it), but nobody takes it up. */
	atomic_store(&reg.hdr->owner_pid, (int32_t)getpid());
	cr_assert_eq(hb_register_wait("w", 1000, 100), -ETIMEDOUT);
	cr_assert_eq(hb_unregister(), 0);
	registry_detach(&reg);
}

/* A seccomp filter that denies the shared-memory calls (EPERM) is named
 * as such (-ENOSYS), not taken for hbwatch's refusal (-EPERM). */
Test(register, seccomp_filter_is_enosys)
{
	char out[512], err[512];
	struct hb_registry reg;
	int status;

	tu_key_use(91);
	tu_registry_create(8, &reg);
	status = tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "w", "--timeout-ms",
				   "1000", "--exit-after-ms", "0", "--seccomp-ipc", NULL},
			out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 16, "status 0x%x, output '%s', stderr '%s'",
		     (unsigned)status, out, err);
	cr_assert(strstr(out, "Function not implemented"), "output '%s'", out);
	/* The same worker without the filter registers. */
	status = tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "w", "--timeout-ms",
				   "1000", "--exit-after-ms", "0", NULL},
			out, sizeof(out), err, sizeof(err), 20000);
	cr_assert_eq(tu_exit_code(status), 0, "status 0x%x, output '%s'", (unsigned)status, out);
	registry_detach(&reg);
}

/* A registry another user made at the key (squatted in a shared IPC
 * namespace, mode 0666, naming a live process) is not hbwatch's: the
 * client refuses it (-EPROTO) instead of announcing into it. */
Test(register, registry_of_another_user_is_eproto)
{
	struct hb_registry reg;
	struct shmid_ds ds;
	char why[512] = "";
	bool adopted;
	pid_t child;
	int key, segments, status;

	if (!tu_can_become(3001))
		cr_skip_test("needs a real second uid (root, setpriv, uid 3001 mapped)");
	key = tu_key_use(92);
	child = tu_fork();
	if (child == 0) {
		if (setgid(3001) < 0 || setuid(3001) < 0)
			_exit(20);
		if (registry_create(key, 8, (gid_t)-1, &reg, &adopted, why, sizeof(why)) < 0)
			_exit(21);
		if (shmctl(reg.shmid, IPC_STAT, &ds) < 0)
			_exit(22);
		ds.shm_perm.mode = 0666;
		if (shmctl(reg.shmid, IPC_SET, &ds) < 0)
			_exit(23);
		atomic_store(&reg.hdr->owner_pid, (int32_t)getppid()); /* a live process */
		_exit(0);
	}
	status = tu_wait(child, 5000);
	tu_untrack(child);
	cr_assert_eq(tu_exit_code(status), 0, "the squatter failed: status 0x%x", (unsigned)status);
	segments = tu_segments_count();
	cr_assert_eq(hb_register("w", 1000), -EPROTO);
	cr_assert_eq(tu_segments_count(), segments, "a record was made for a squatted registry");
}
