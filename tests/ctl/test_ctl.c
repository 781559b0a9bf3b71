/* hbctl's scripting and monitoring commands against the real daemon:
 * register/beat/unregister (a record found by pid and start time), refused
 * arguments and targets, check's exit codes and line, metrics' label
 * escaping, and a shell job killed when it stops beating. */
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "census.h"
#include "harness.h"
#include "proc.h"
#include "record.h"
#include "util.h"

TestSuite(ctl, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

/* Criterion's main(), and the figures and log dumps after the report. */
int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

#define SEC UINT64_C(1000000000)

/* tu_hbctl_as() with the arguments in line, NULL-terminated. */
static int ctl_as(struct tu_output *r, uid_t as_uid, ...)
{
	char *args[24];
	int n = 0;
	va_list ap;

	va_start(ap, as_uid);
	for (char *a; (a = va_arg(ap, char *));) {
		cr_assert_lt(n, 23);
		args[n++] = a;
	}
	va_end(ap);
	args[n] = NULL;
	return tu_hbctl_as(r, as_uid, args);
}

#define ctl(r, ...) ctl_as((r), 0, __VA_ARGS__)

/* hbctl status (--json if JSON) until its output holds TEXT, for up to
 * 5 s; its exit code.  hbwatch logs what it does as it does it, and
 * publishes the status view at the end of that turn of its loop: just
 * after a log line, on a loaded machine, the view may not say it yet. */
static int status_until(struct tu_output *r, bool json, const char *text)
{
	int rc = 0;

	for (int i = 0; i < 250; i++) {
		rc = json ? ctl(r, "status", "--json", NULL) : ctl(r, "status", NULL);
		if (rc != 0 || strstr(r->out, text))
			break;
		hbd_sleep_ms(20);
	}
	return rc;
}

/* The registered record hbctl made for PID with START_TIME (not the
 * process's own), or -1. */
struct find {
	pid_t pid;
	uint64_t start_time;
	int shmid;
};

static int find_one(int shmid, const struct shmid_ds *ds, void *userdata)
{
	struct find *f = userdata;
	struct census_entry e;

	if (census_inspect(shmid, ds, &e) < 0 || e.busy || (e.v.flags & HB_RECORD_SELF))
		return 0;
	if (e.v.state != HB_RECORD_OPEN || e.v.pid != f->pid || e.v.start_time != f->start_time)
		return 0;
	f->shmid = shmid;
	return 1;
}

static int record_by_process(pid_t pid, uint64_t start_time)
{
	struct find f = {.pid = pid, .start_time = start_time, .shmid = -1};

	cr_assert_geq(census_each(find_one, &f), 0);
	return f.shmid;
}

/* Any record, open or closed, that names PID. */
static int naming_one(int shmid, const struct shmid_ds *ds, void *userdata)
{
	struct census_entry e;

	return census_inspect(shmid, ds, &e) == 0 && e.pid == *(pid_t *)userdata;
}

static bool wait_no_record_naming(pid_t pid, int timeout_ms)
{
	uint64_t end = hbd_now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (census_each(naming_one, &pid) != 0) {
		if (hbd_now_ns() >= end)
			return false;
		hbd_sleep_ms(20);
	}
	return true;
}

static bool segment_gone(int shmid)
{
	struct shmid_ds ds;

	return shmctl(shmid, IPC_STAT, &ds) < 0 && (errno == EINVAL || errno == EIDRM);
}

/* Set the beat of record SHMID to AGE_MS ago, as if its job had stopped
 * beating (we are root: we may write any record). */
static void age_beat(int shmid, unsigned age_ms)
{
	uint64_t now = hbd_now_ns(), age = (uint64_t)age_ms * 1000000u;
	struct hb_record_map rec;

	cr_assert_gt(now, age, "the clock is too young for a beat %u ms ago", age_ms);
	cr_assert_eq(record_attach(shmid, false, &rec), 0);
	record_beat(rec.rec, now - age);
	record_unmap(&rec);
}

static void view(int shmid, struct hb_record_view *v)
{
	cr_assert_eq(tu_record_view(shmid, v), 0, "record %d unreadable", shmid);
}

/* Wait until the daemon's metrics file (metrics_dir = H.dir) has LINE. */
static bool prom_has(const char *line, int timeout_ms)
{
	char path[160], buf[1024];
	uint64_t end = hbd_now_ns() + (uint64_t)timeout_ms * 1000000u;

	snprintf(path, sizeof(path), "%s/hbwatch.prom", H.dir);
	for (;;) {
		FILE *f = fopen(path, "r");

		while (f && fgets(buf, sizeof(buf), f))
			if (strcmp(buf, line) == 0) {
				fclose(f);
				return true;
			}
		if (f)
			fclose(f);
		if (hbd_now_ns() >= end)
			return false;
		hbd_sleep_ms(50);
	}
}

Test(ctl, register_beat_unregister)
{
	struct tu_output r;
	struct hb_record_view v;
	struct shmid_ds ds;
	char pid[16], line[128];
	uint64_t st, beat;
	int shmid;

	hbd_config("metrics_dir = %s\n[job]\naction = log\n", H.dir);
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);
	cr_assert_eq(proc_starttime(s, &st), 0);

	cr_assert_eq(
	    ctl(&r, "register", "--name", "job", "--timeout", "1min 30s", "--pid", pid, NULL), 0,
	    "%s", r.err);
	cr_assert_str_eq(r.err, "");
	/* Found again by pid and start time alone, as beat will. */
	shmid = record_by_process(s, st);
	cr_assert_geq(shmid, 0, "no record for pid %d with start time %llu", (int)s,
		      (unsigned long long)st);
	view(shmid, &v);
	cr_assert_str_eq(v.name, "job");
	cr_assert_eq(v.timeout_ns, 90 * SEC);
	cr_assert_eq(v.state, HB_RECORD_OPEN);
	/* Ours and handed to root, writable by nobody else, readable by the
	 * registry's group (hbwatch's) only. */
	cr_assert_eq(shmctl(shmid, IPC_STAT, &ds), 0);
	cr_assert_eq(ds.shm_perm.cuid, geteuid());
	cr_assert_eq(ds.shm_perm.uid, 0);
	cr_assert_eq(ds.shm_perm.mode & 0777, 0640);
	/* The daemon watches it: its series is in the metrics file. */
	snprintf(line, sizeof(line),
		 "hbwatch_heartbeat_timeout_seconds{name=\"job\",pid=\"%d\"} 90.000\n", (int)s);
	cr_assert(prom_has(line, 10000), "hbwatch does not watch the job");
	cr_assert_eq(hbd_log_count("refused", s, NULL), 0, "the daemon refused it");
	cr_assert_eq(hbd_log_count("untrusted", s, NULL), 0, "the daemon did not trust it");

	/* Registering again updates the same record. */
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "2min", "--pid", pid, NULL),
		     0, "%s", r.err);
	cr_assert_eq(record_by_process(s, st), shmid, "a second record for the same job");
	view(shmid, &v);
	cr_assert_eq(v.timeout_ns, 120 * SEC);

	age_beat(shmid, 5000);
	view(shmid, &v);
	beat = v.beat_ns;
	cr_assert_eq(ctl(&r, "beat", "--pid", pid, NULL), 0, "%s", r.err);
	view(shmid, &v);
	cr_assert(v.beat_ns > beat + 4 * SEC, "beat did not move the heartbeat");

	cr_assert_eq(ctl(&r, "unregister", "--pid", pid, NULL), 0, "%s", r.err);
	cr_assert_eq(tu_record_of(s), -1, "still registered after unregister");
	/* Removed, not just closed: gone once hbwatch lets go of it. */
	cr_assert(wait_no_record_naming(s, 5000), "the record outlived unregister");
	cr_assert(segment_gone(shmid));
	cr_assert_eq(ctl(&r, "beat", "--pid", pid, NULL), 1);
	snprintf(line, sizeof(line), "hbctl: beat: pid %d is not registered (by you)\n", (int)s);
	cr_assert_str_eq(r.err, line);
	cr_assert(hbd_alive(s), "the job's process was harmed");
}

Test(ctl, refuses_bad_arguments)
{
	struct tu_output r;
	int segments;

	hbd_config("[job]\naction = log\n");
	hbd_start();
	segments = tu_segments_count();
	cr_assert_eq(
	    ctl(&r, "register", "--name", "job", "--timeout", "30s", "--pid", "2147483646", NULL),
	    1);
	cr_assert_str_eq(r.err, "hbctl: register: pid 2147483646: no such process\n");
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "soon", NULL), 2);
	cr_assert(strstr(r.err, "bad timeout 'soon'"), "%s", r.err);
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "25h", NULL), 2);
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "0", NULL), 2);
	cr_assert_eq(ctl(&r, "register", "--timeout", "30s", NULL), 2);
	cr_assert(strstr(r.err, "--name and --timeout are required"), "%s", r.err);
	cr_assert_eq(ctl(&r, "register", "--name", "a b", "--timeout", "1s", NULL), 2);
	cr_assert(strstr(r.err, "bad name 'a b'"), "%s", r.err);
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "1s", "--pid", "1", NULL),
		     2);
	cr_assert_eq(ctl(&r, "beat", "--pid", "1", NULL), 2);
	cr_assert_eq(ctl(&r, "beat", "--pid", "12x", NULL), 2);
	cr_assert(strstr(r.err, "bad pid '12x'"), "%s", r.err);
	cr_assert_eq(ctl(&r, "unregister", "--pid", "-5", NULL), 2);
	/* Nothing was made by any of them. */
	cr_assert_eq(tu_records_count(), 0);
	cr_assert_eq(tu_segments_count(), segments, "a refused command made a segment");
}

/* A process of another uid is not the caller's to register: hbctl refuses
 * before making anything, since hbwatch would act on the record. */
Test(ctl, register_refuses_a_process_the_caller_may_not_signal)
{
	struct tu_output r;
	char pid[16], want[256];
	int segments;

	if (!tu_can_become(3001) || !tu_can_become(3002)) {
		/* A skip leaves the test before .fini: clean up the fixture's
		 * directory and socket now. */
		hbd_fini();
		cr_skip_test("no real uids other than ours here");
	}
	hbd_config("[job]\naction = log\n");
	hbd_start();
	segments = tu_segments_count();

	pid_t parent = getpid(), other = fork();
	cr_assert_geq(other, 0);
	if (other == 0) {
		hbd_child_setup(parent);
		if (setgroups(0, NULL) < 0 || setgid(3002) < 0 || setuid(3002) < 0)
			_exit(127);
		for (;;)
			pause();
	}
	H.kids[H.n_kids++] = other;
	/* Until it has become uid 3002, it is still ours to signal. */
	for (int i = 0; i < 500; i++) {
		uid_t ru, eu, su;
		if (proc_uids(other, &ru, &eu, &su) == 0 && ru == 3002 && su == 3002)
			break;
		hbd_sleep_ms(10);
	}
	snprintf(pid, sizeof(pid), "%d", (int)other);

	/* uid 3001 and a process of uid 3002; then root's own sleeper. */
	cr_assert_eq(
	    ctl_as(&r, 3001, "register", "--name", "job", "--timeout", "30s", "--pid", pid, NULL),
	    1, "exit %d: %s", r.code, r.err);
	snprintf(want, sizeof(want),
		 "hbctl: register: you may not signal pid %d, so you may not register it: hbctl "
		 "acts only for processes its caller could kill itself\n",
		 (int)other);
	cr_assert_str_eq(r.err, want);
	pid_t mine = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)mine);
	cr_assert_eq(
	    ctl_as(&r, 3001, "register", "--name", "job", "--timeout", "30s", "--pid", pid, NULL),
	    1);
	cr_assert(strstr(r.err, "you may not signal pid"), "%s", r.err);

	cr_assert_eq(tu_records_count(), 0, "a record was made anyway");
	cr_assert_eq(tu_segments_count(), segments, "a segment was made anyway");
	cr_assert(hbd_alive(other) && hbd_alive(mine));
}

/* The registration is pinned to the process's start time: a record left by
 * an earlier process with the same pid is not this process's.  beat and
 * unregister do not touch it, check does not count it, and registering
 * makes a record of the right process. */
Test(ctl, start_time_pinned)
{
	struct tu_output r;
	struct hb_record_view v;
	char pid[16];
	uint64_t st;
	int old, mine;

	hbd_config("[job]\naction = log\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);
	cr_assert_eq(proc_starttime(s, &st), 0);
	old = hbd_make_record(s, st + 1, "job", 60000, hbd_now_ns());

	cr_assert_eq(ctl(&r, "beat", "--pid", pid, NULL), 1, "%s", r.err);
	cr_assert(strstr(r.err, "is not registered"), "%s", r.err);
	cr_assert_eq(ctl(&r, "unregister", "--pid", pid, NULL), 1, "%s", r.err);
	cr_assert(strstr(r.err, "is not registered"), "%s", r.err);
	cr_assert_eq(ctl(&r, "check", "job", NULL), 2, "%s", r.out);
	cr_assert_str_eq(r.out, "HBWATCH CRITICAL - job: no live process registered\n");
	/* hbwatch drops it too: its process is gone. */
	cr_assert(hbd_log_wait("stale-record", s, "start time differs", 10000));

	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "1min", "--pid", pid, NULL),
		     0, "%s", r.err);
	mine = record_by_process(s, st);
	cr_assert(mine >= 0 && mine != old, "registered into record %d (the old one: %d)", mine,
		  old);
	view(mine, &v);
	cr_assert_eq(v.start_time, st);
	cr_assert_eq(ctl(&r, "beat", "--pid", pid, NULL), 0, "%s", r.err);
	cr_assert_eq(ctl(&r, "check", "job", NULL), 0, "%s", r.out);
}

Test(ctl, check_exit_codes)
{
	struct tu_output r;
	char pid[16], want[160];
	uint64_t st;

	hbd_config("[job]\naction = log\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);
	cr_assert_eq(proc_starttime(s, &st), 0);
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "30s", "--pid", pid, NULL),
		     0, "%s", r.err);
	int rec = record_by_process(s, st);
	cr_assert_geq(rec, 0);

	cr_assert_eq(ctl(&r, "check", "job", NULL), 0, "%s", r.out);
	cr_assert(strncmp(r.out, "HBWATCH OK - job: 1 process, oldest beat ", 41) == 0, "%s",
		  r.out);
	cr_assert(strstr(r.out, " ago (timeout 30s)|age="), "%s", r.out);
	cr_assert(strstr(r.out, "s;15;30\n"), "%s", r.out);

	age_beat(rec, 20000);
	cr_assert_eq(ctl(&r, "check", "job", NULL), 1, "%s", r.out);
	cr_assert(strstr(r.out, "HBWATCH WARNING - job: 1 process, oldest beat 20"), "%s", r.out);

	age_beat(rec, 45000);
	cr_assert_eq(ctl(&r, "check", "job", NULL), 2, "%s", r.out);
	cr_assert(strncmp(r.out, "HBWATCH CRITICAL - job: 1 process", 33) == 0, "%s", r.out);

	/* A second, fresh process: the oldest beat still decides. */
	pid_t s2 = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s2);
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "30s", "--pid", pid, NULL),
		     0, "%s", r.err);
	cr_assert_eq(ctl(&r, "check", "job", NULL), 2, "%s", r.out);
	cr_assert(strstr(r.out, "job: 2 processes"), "%s", r.out);

	/* Gone processes are not live registrations. */
	hbd_kill(s, SIGKILL);
	hbd_kill(s2, SIGKILL);
	cr_assert(hbd_wait_exit(s, 5000, NULL) && hbd_wait_exit(s2, 5000, NULL));
	cr_assert_eq(ctl(&r, "check", "job", NULL), 2, "%s", r.out);
	cr_assert_str_eq(r.out, "HBWATCH CRITICAL - job: no live process registered\n");

	/* Usage: UNKNOWN. */
	cr_assert_eq(ctl(&r, "check", NULL), 3, "%s", r.out);
	cr_assert(strncmp(r.out, "HBWATCH UNKNOWN - usage", 23) == 0, "%s", r.out);
	cr_assert_eq(ctl(&r, "check", "a b", NULL), 3, "%s", r.out);
	cr_assert(strncmp(r.out, "HBWATCH UNKNOWN - bad name", 26) == 0, "%s", r.out);
	/* Global usage errors too: a monitoring system reads stdout and knows
	 * only 0 to 3, so they are UNKNOWN with the reason, never a silent 2. */
	cr_assert_eq(ctl(&r, "-k", "banana", "check", "job", NULL), 3, "%s", r.err);
	cr_assert_str_eq(r.out, "HBWATCH UNKNOWN - bad key 'banana': expected hex, 1 to "
				"0x7fffffff\n");
	cr_assert_eq(ctl(&r, "--frobnicate", "check", "job", NULL), 3, "%s", r.err);
	cr_assert_str_eq(r.out,
			 "HBWATCH UNKNOWN - unknown option '--frobnicate' (try 'hbctl --help')\n");
	cr_assert_eq(ctl(&r, "-k", "0x5098", "-x", "check", "job", NULL), 3, "%s", r.err);
	cr_assert(strncmp(r.out, "HBWATCH UNKNOWN - unknown option '-x'", 37) == 0, "%s", r.out);
	/* Other commands keep exit 2 and stderr. */
	cr_assert_eq(ctl(&r, "-k", "banana", "status", NULL), 2, "%s", r.out);
	cr_assert_str_eq(r.out, "");
	cr_assert(strstr(r.err, "bad key 'banana'"), "%s", r.err);

	/* Heartbeats nobody watches are no comfort: CRITICAL without hbwatch,
	 * even with a live, fresh registration. */
	pid_t s3 = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s3);
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "30s", "--pid", pid, NULL),
		     0, "%s", r.err);
	cr_assert_eq(ctl(&r, "check", "job", NULL), 0, "%s", r.out);
	hbd_stop();
	cr_assert_eq(ctl(&r, "check", "job", NULL), 2, "%s", r.out);
	snprintf(want, sizeof(want), "HBWATCH CRITICAL - hbwatch is not running (");
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	cr_assert_eq(ctl(&r, "-k", "0x7ffffff0", "check", "job", NULL), 2, "%s", r.out);
	cr_assert_str_eq(r.out, "HBWATCH CRITICAL - hbwatch is not running (no registry at key "
				"0x7ffffff0)\n");
}

/* Label values escaped as the exposition format wants, whatever a record
 * holds.  A name that is not a service name gets no process series (it is
 * nobody's service), but the daemon counts the refusal under it, and that
 * counter reaches "hbctl metrics --counters" escaped. */
Test(ctl, metrics_escaping)
{
	struct tu_output r;
	char want[256], prom[160];
	uint64_t st, st2;

	hbd_config("metrics_dir = %s\n[job]\naction = log\n", H.dir);
	hbd_start();
	pid_t s = hbd_sleeper(), s2 = hbd_sleeper();
	cr_assert_eq(proc_starttime(s, &st), 0);
	cr_assert_eq(proc_starttime(s2, &st2), 0);
	hbd_make_record(s, st, "job", 7000, hbd_now_ns());
	hbd_make_record(s2, st2, "a\"b\\c\nd\001", 7000, hbd_now_ns());

	/* hbwatch logs names printable: the newline and \001 become '?'. */
	cr_assert(hbd_log_wait("refused", s2, "its name is not a service name", 10000));
	cr_assert(prom_has("hbwatch_refused_total{service=\"a\\\"b\\\\c?d?\"} 1\n", 10000),
		  "no escaped refusal counter in the metrics file");

	snprintf(prom, sizeof(prom), "%s/hbwatch.prom", H.dir);
	cr_assert_eq(ctl(&r, "metrics", "--counters", prom, NULL), 0, "%s", r.err);
	snprintf(want, sizeof(want),
		 "\nhbwatch_heartbeat_timeout_seconds{name=\"job\",pid=\"%d\"} 7.000\n", (int)s);
	cr_assert(strstr(r.out, want), "no %s in\n%s", want, r.out);
	cr_assert(strstr(r.out, "\nhbwatch_registered_processes 1\n"), "%s", r.out);
	cr_assert(strstr(r.out, "\nhbwatch_refused_total{service=\"a\\\"b\\\\c?d?\"} 1\n"), "%s",
		  r.out);
	cr_assert_null(strstr(r.out, "{name=\"a"), "a process series for a bad name:\n%s", r.out);
	/* The file's own copy of the process series is dropped: one family
	 * each, as the format wants. */
	const char *t = "# TYPE hbwatch_heartbeat_age_seconds gauge\n";
	const char *first = strstr(r.out, t);
	cr_assert(first, "%s", r.out);
	cr_assert_null(strstr(first + 1, t), "the age family twice:\n%s", r.out);
	for (const char *p = r.out; *p; p++)
		cr_assert(((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) || *p == '\n',
			  "raw byte 0x%02x in the exposition", (unsigned char)*p);
}

/* The hbctl(1) example: a shell job registers itself ($$), beats in its
 * loop, then hangs; hbwatch kills the shell and removes its record. */
Test(ctl, shell_job_killed)
{
	const char *script =
	    "\"$HBCTL\" register --name job --timeout 400ms --pid $$ || exit 7\n"
	    "for i in 1 2 3 4 5; do \"$HBCTL\" beat --pid $$ || exit 8; sleep 0.1; "
	    "done\n"
	    "exec sleep 100\n";
	int st = 0;

	hbd_config("kill_grace = 300ms\n[job]\n");
	hbd_start();
	pid_t parent = getpid(), sh = fork();
	cr_assert(sh >= 0);
	if (sh == 0) {
		hbd_child_setup(parent);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	H.kids[H.n_kids++] = sh;
	cr_assert(hbd_wait_exit(sh, 15000, &st), "the hung job was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	/* hbwatch signals first and logs after: the death may be seen first. */
	cr_assert(hbd_log_wait("signal-sent", sh, "SIGABRT", 5000), "no record of the signal");
	cr_assert_eq(hbd_log_count("signal-sent", sh, "SIGABRT"), 1);
	cr_assert_eq(hbd_log_count("deadline-missed", sh, NULL), 1);
	/* hbctl handed the record to root so that hbwatch could do this. */
	cr_assert(wait_no_record_naming(sh, 5000), "the killed job's record was left behind");
}

/* hbctl tells what hbwatch does, not only what a record asks for: the
 * effective timeout (the section's cap), a registration hbwatch refused and
 * why, and one held back by the rate limit; check agrees, and says why a
 * refused name is CRITICAL. */
Test(ctl, status_shows_the_daemons_verdicts)
{
	struct tu_output r;
	char want[200];

	hbd_config("kill_grace = 300ms\n[capped]\ntimeout = 400ms\nkill_burst = 1\n"
		   "kill_interval = 1h\n");
	hbd_start();
	pid_t a = hbd_worker("capped", 60000, "--beat-ms", "50", NULL);
	pid_t b = hbd_worker("unlisted", 1000, NULL);
	pid_t c = hbd_worker("capped", 200, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	cr_assert(hbd_wait_exit(c, 5000, NULL), "the first hung worker was not killed");
	pid_t h = hbd_worker("capped", 200, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	cr_assert(hbd_log_wait("rate-limited", h, NULL, 5000));

	cr_assert_eq(status_until(&r, false, "rate-limited"), 0, "%s", r.err);
	snprintf(want, sizeof(want), " %d  capped ", (int)a);
	const char *line = strstr(r.out, want);
	cr_assert(line, "%s", r.out);
	cr_assert(strstr(line, "400ms") && strstr(line, "400ms") < strchr(line, '\n'),
		  "the 60 s registration should show the 400ms cap:\n%s", r.out);
	cr_assert(strstr(r.out, "refused (\"unlisted\" is not a watched service in "), "%s", r.out);
	cr_assert(strstr(r.out, "rate-limited"), "%s", r.out);
	cr_assert_eq(ctl(&r, "status", "--json", NULL), 0, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "%s", r.out);
	cr_assert(strstr(r.out, "\"timeout_ms\":400,\"requested_timeout_ms\":60000"), "%s", r.out);
	cr_assert(strstr(r.out, "\"state\":\"rate-limited\""), "%s", r.out);
	/* A library record holds no start time; the JSON gives the process's. */
	uint64_t st;
	char want_st[96];
	cr_assert_eq(proc_starttime(a, &st), 0);
	snprintf(want_st, sizeof(want_st), "\"pid\":%d,", (int)a);
	line = strstr(r.out, want_st);
	cr_assert(line, "%s", r.out);
	snprintf(want_st, sizeof(want_st), "\"start_time\":%llu,", (unsigned long long)st);
	cr_assert(strstr(line, want_st) && strstr(line, want_st) < strstr(line, "\"tasks\""),
		  "want %s for pid %d in %s", want_st, (int)a, r.out);

	cr_assert_eq(ctl(&r, "check", "unlisted", NULL), 2, "%s", r.out);
	cr_assert(strstr(r.out, "registered but not watched by hbwatch"), "%s", r.out);
	(void)b;
}

/* register --wait: exit 0 once hbwatch watches the job, 1 with a message
 * when hbwatch refuses this registration (re-registering the same process
 * under an unlisted name must not be answered by the earlier verdict). */
Test(ctl, register_wait_reports_hbwatchs_verdict)
{
	struct tu_output r;
	char pid[16];

	hbd_config("[job]\ntimeout = 30s\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "30s", "--pid", pid,
			 "--wait", "5s", NULL),
		     0, "%s", r.err);
	cr_assert_eq(ctl(&r, "register", "--name", "unlisted", "--timeout", "30s", "--pid", pid,
			 "--wait", "5s", NULL),
		     1, "%s", r.err);
	cr_assert(strstr(r.err, "hbwatch does not watch pid"), "%s", r.err);
	cr_assert_eq(ctl(&r, "register", "--name", "job", "--timeout", "30s", "--pid", pid,
			 "--wait", "banana", NULL),
		     2, "%s", r.err);
}

/* status shows tasks under their process, with the section's cap applied
 * to their timeouts and an extension as "extended"; --json lists them in
 * the process's entry; check counts a late task as the process's lateness;
 * metrics counts the open tasks. */
Test(ctl, status_shows_tasks)
{
	struct tu_output r;
	char want[64];

	hbd_config("kill_grace = 5s\n[tasks]\ntimeout = 2s\naction = log\n");
	hbd_start();
	pid_t a = hbd_worker("tasks", 60000, "--beat-ms", "50", "--task", "ingest:500", "--task",
			     "flush:60000:100", NULL);
	pid_t b = hbd_worker("tasks", 1500, "--beat-ms", "50", "--pause-after-ms", "100",
			     "--pause-ms", "100000", "--extend-ms", "60000", NULL);
	cr_assert(hbd_log_wait("deadline-extended", b, NULL, 5000));

	cr_assert_eq(status_until(&r, false, "extended ("), 0, "%s", r.err);
	snprintf(want, sizeof(want), " %d  tasks ", (int)a);
	const char *line = strstr(r.out, want);
	cr_assert(line, "%s", r.out);
	const char *ingest = strstr(line, "task ingest");
	const char *flush = strstr(line, "task flush");
	cr_assert(ingest && flush, "the tasks are not under their process:\n%s", r.out);
	cr_assert(strstr(ingest, "500ms") < strchr(ingest, '\n'), "%s", r.out);
	cr_assert(strstr(flush, "2s") < strchr(flush, '\n'), "flush's 60 s not capped:\n%s", r.out);
	snprintf(want, sizeof(want), " %d  tasks ", (int)b);
	line = strstr(r.out, want);
	cr_assert(line && strstr(line, "extended (") < strchr(line, '\n'), "%s", r.out);

	/* flush stopped beating at 100 ms: after its 2 s cap it is late, and
	 * with action=log hbwatch logs it against its process. */
	cr_assert(hbd_log_wait("deadline-missed", a, "its task flush", 5000));
	cr_assert_eq(status_until(&r, true, "\"state\":\"logged\""), 0, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "%s", r.out);
	cr_assert(strstr(r.out, "\"label\":\"ingest\",\"timeout_ms\":500,\"requested_timeout_ms\":"
				"500,"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "\"label\":\"flush\",\"timeout_ms\":2000,\"requested_timeout_ms\":"
				"60000,"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "\"state\":\"logged\",\"extended_ms\":0}"),
		  "flush should show hbwatch's verdict:\n%s", r.out);
	cr_assert(strstr(r.out, "\"state\":\"extended\""), "%s", r.out);

	cr_assert_eq(ctl(&r, "check", "tasks", NULL), 2, "a late task is critical:\n%s", r.out);
	cr_assert_eq(ctl(&r, "metrics", NULL), 0, "%s", r.err);
	snprintf(want, sizeof(want), "hbwatch_open_tasks{name=\"tasks\",pid=\"%d\"} 2", (int)a);
	cr_assert(strstr(r.out, want), "%s", r.out);
}
