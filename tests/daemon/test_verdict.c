/* Late is not hung, with the real daemon: a process held by a debugger
 * lives and is said once; one frozen by the v1 freezer lives, is watched
 * again after the thaw and killed if it then hangs; a healthy process
 * starved by a 5 % CPU quota lives with deadline-deferred records; the
 * same process hung still dies within timeout + starve_grace; a core dump
 * slower than kill_grace is written whole.  The cgroup tests make their
 * own v1 cgroups and skip (with the reason) where they cannot. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define CG_MAX 4
static char cgs[CG_MAX][160]; /* made by this test, removed by fini() */
static int n_cgs;
static char old_pattern[256]; /* core_pattern before the test, "" if untouched */

static int put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	e = errno;
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -(n < 0 ? e : EIO);
}

/* A v1 cgroup of CONTROLLER for this test, or skip the test saying why. */
static const char *cgroup_make(const char *controller)
{
	char *dir;

	cr_assert_lt(n_cgs, CG_MAX);
	dir = cgs[n_cgs];
	snprintf(dir, sizeof(cgs[0]), "/sys/fs/cgroup/%s/hbwatch-test-%d-%d", controller,
		 (int)getpid(), n_cgs);
	if (mkdir(dir, 0755) < 0) {
		int e = errno;
		dir[0] = '\0';
		cr_skip_test("no v1 %s cgroup to make here (%s): needs root on a v1 or hybrid "
			     "tree",
			     controller, strerror(e));
	}
	n_cgs++;
	return dir;
}

static void cgroup_put(const char *dir, const char *file, const char *value)
{
	char path[sizeof(cgs[0]) + 64];

	snprintf(path, sizeof(path), "%.150s/%.60s", dir, file);
	int r = put_file(path, value);
	cr_assert_eq(r, 0, "cannot write %s to %s: %s", value, path, strerror(-r));
}

static void cgroup_move(const char *dir, pid_t pid)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", (int)pid);
	cgroup_put(dir, "cgroup.procs", v);
}

static void fini(void)
{
	/* Thawed first: a frozen process does not die of SIGKILL. */
	for (int i = 0; i < n_cgs; i++) {
		char path[sizeof(cgs[0]) + 16];
		snprintf(path, sizeof(path), "%.150s/freezer.state", cgs[i]);
		(void)put_file(path, "THAWED");
	}
	hbd_fini();
	for (int i = 0; i < n_cgs; i++)
		for (int k = 0; k < 50 && rmdir(cgs[i]) < 0 && errno == EBUSY; k++)
			hbd_sleep_ms(100);
	n_cgs = 0;
	if (old_pattern[0]) {
		(void)put_file("/proc/sys/kernel/core_pattern", old_pattern);
		old_pattern[0] = '\0';
	}
}

TestSuite(verdict, .init = hbd_init, .fini = fini, .timeout = 120);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

static void hbctl_status(char *out, size_t len, bool json)
{
	char err[1024];
	int st =
	    tu_run((char *[]){(char *)tu_prog("HBCTL"), "status", json ? "--json" : NULL, NULL},
		   out, len, err, sizeof(err), 5000);

	cr_assert_eq(tu_exit_code(st), 0, "hbctl: %s", err);
}

/* Poll hbctl status until it says WHAT (or fail after TIMEOUT_MS). */
static bool status_says(const char *what, int timeout_ms)
{
	char out[8192];
	int64_t end = tu_now_ms() + timeout_ms;

	do {
		hbctl_status(out, sizeof(out), false);
		if (strstr(out, what))
			return true;
		hbd_sleep_ms(50);
	} while (tu_now_ms() < end);
	cr_log_error("hbctl status: %s", out);
	return false;
}

Test(verdict, ptrace_stopped_lives_and_is_said_once)
{
	char out[8192];

	hbd_config("kill_grace = 1s\n[dbg]\ntimeout = 300ms\n");
	hbd_start();
	pid_t w = hbd_worker("dbg", 300, "--beat-ms", "50", NULL);
	hbd_trace(w, true);
	cr_assert(hbd_log_wait("being-debugged", w, NULL, 5000), "no being-debugged record");
	/* Six timeouts more: never signalled, and said once. */
	hbd_assert_left_alone(w, 1800);
	cr_assert_eq(hbd_log_count("being-debugged", w, NULL), 1);
	char line[2048];
	cr_assert(hbd_log_line("being-debugged", w, NULL, line, sizeof(line)));
	cr_log_info("%s", line);
	cr_assert(strstr(line, "being debugged: traced by pid "), "%s", line);
	cr_assert(strstr(line, "HBWATCH_TRACER_PID=\""), "%s", line);
	cr_assert(status_says("debugged (being debugged: traced by pid", 3000));
	hbctl_status(out, sizeof(out), true);
	cr_assert(tu_json_valid(out), "%s", out);
	cr_assert(strstr(out, "\"state\":\"debugged\""), "%s", out);
}

/* debugged = kill: the old behaviour, for those who want it. */
Test(verdict, debugged_kill_kills)
{
	int st;

	hbd_config("kill_grace = 1s\n[dbg]\ntimeout = 300ms\ndebugged = kill\n");
	hbd_start();
	pid_t w = hbd_worker("dbg", 300, "--beat-ms", "50", NULL);
	hbd_trace(w, false);
	cr_assert(hbd_log_wait("signal-sent", w, NULL, 5000), "not acted on");
	cr_assert_eq(hbd_log_count("being-debugged", w, NULL), 0);
	hbd_untrace();
	cr_assert(hbd_wait_exit(w, 5000, &st));
}

Test(verdict, v1_frozen_lives_then_is_watched_again)
{
	hbd_config("kill_grace = 1s\n[frz]\ntimeout = 300ms\n");
	const char *cg = cgroup_make("freezer");
	hbd_start();
	pid_t w = hbd_worker("frz", 300, "--beat-ms", "50", "--hang-after-ms", "4000", NULL);
	uint64_t started = hbd_now_ns();
	cgroup_move(cg, w);
	cgroup_put(cg, "freezer.state", "FROZEN");
	uint64_t frozen_at = hbd_now_ns();
	cr_assert(hbd_log_wait("frozen", w, NULL, 3000), "no frozen record");
	cr_assert(status_says("frozen", 2000));
	/* Frozen for more than three timeouts: left alone. */
	uint64_t lived = (hbd_now_ns() - frozen_at) / 1000000u;
	if (lived < 1000)
		hbd_sleep_ms((unsigned)(1000 - lived));
	cr_assert(hbd_alive(w));
	cr_assert_eq(hbd_log_count("signal-sent", w, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 0);
	cgroup_put(cg, "freezer.state", "THAWED");
	uint64_t thawed = hbd_now_ns();
	cr_assert_eq(hbd_log_count("frozen", w, "is frozen"), 1, "said once");

	/* Watched again: it beats until its hang, 4 s after it started, and
	 * then dies of its signal. */
	struct hbd_death d = {.pid = w};
	cr_assert_eq(hbd_wait_deaths(&d, 1, 10000), 1, "not killed after the thaw");
	hbd_assert_killed_by(&d, SIGABRT);
	cr_assert_geq(d.died_ns, started + 4000 * 1000000ull, "killed before it hung");
	cr_assert_geq(d.died_ns, thawed);
	cr_assert(hbd_log_count("deadline-missed", w, NULL) >= 1);
}

/* A 5 % CPU quota (cfs_quota_us 5000 of 100000): 20 ms of work between
 * beats takes some 400 ms, past the 300 ms timeout. */
static const char *quota_cgroup(const char *quota_us)
{
	const char *cg = cgroup_make("cpu");

	cgroup_put(cg, "cpu.cfs_period_us", "100000");
	cgroup_put(cg, "cpu.cfs_quota_us", quota_us);
	return cg;
}

static const char *slow_cgroup(void)
{
	return quota_cgroup("5000");
}

Test(verdict, cpu_throttled_healthy_process_lives)
{
	char line[2048], prom[256], text[16384];

	/* Some 400 ms a beat at 5 %, up to 600 ms as the quota's periods
	 * fall: the default starve_grace (one timeout) would leave no
	 * margin. */
	hbd_config(
	    "kill_grace = 1s\nmetrics_dir = %s\n[slow]\ntimeout = 300ms\nstarve_grace = 1s\n",
	    H.dir);
	const char *cg = slow_cgroup();
	hbd_start();
	pid_t w = hbd_worker("slow", 300, "--beat-ms", "50", "--work-ms", "20", NULL);
	cgroup_move(cg, w);
	/* Ten timeouts. */
	hbd_assert_left_alone(w, 3000);
	int n = hbd_log_count("deadline-deferred", w, NULL);
	cr_assert_geq(n, 2, "%d deadline-deferred records", n);
	cr_assert(hbd_log_line("deadline-deferred", w, NULL, line, sizeof(line)));
	cr_log_info("%s", line);
	cr_assert(strstr(line, "but is starved: "), "%s", line);
	cr_assert(strstr(line, "HBWATCH_RUNQ_WAIT_USEC=\""), "%s", line);
	cr_assert(strstr(line, "HBWATCH_THROTTLED_USEC=\""), "%s", line);
	cr_assert(strstr(line, "HBWATCH_PSI_CPU=\""), "%s", line);
	cr_assert(strstr(line, "HBWATCH_STARVE_GRACE_USEC=\"1000000\""), "%s", line);
	if (hbd_log_line("deadline-missed", w, NULL, line, sizeof(line)))
		cr_assert_fail("a starved process's deadline counted as missed: %s", line);
	/* hbctl shows the deferral while it lasts (a part of each late beat). */
	cr_assert(status_says("deferred (starved: ", 5000));
	/* The counter, in the metrics file (rewritten at most once a second). */
	snprintf(prom, sizeof(prom), "%s/hbwatch.prom", H.dir);
	bool counted = false;
	for (int i = 0; i < 30 && !counted; i++) {
		FILE *f = fopen(prom, "r");
		size_t k = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
		if (f)
			fclose(f);
		text[k] = '\0';
		const char *p =
		    strstr(text, "hbwatch_deferrals_total{service=\"slow\",reason=\"starved\"} ");
		counted = p && strtoull(p + strlen("hbwatch_deferrals_total{service=\"slow\","
						   "reason=\"starved\"} "),
					NULL, 10) >= (unsigned long long)n;
		if (!counted)
			hbd_sleep_ms(100);
	}
	cr_assert(counted, "%s", text);
	cr_assert(strstr(text, "hbwatch_deferrals_total{service=\"slow\",reason=\"frozen\"} 0"),
		  "%s", text);
	hbd_figure("5 %% CPU quota, 20 ms work per beat: %d deadline-deferred records in 3 s", n);
}

Test(verdict, cpu_throttled_hung_process_dies_within_the_bound)
{
	hbd_config("kill_grace = 1s\n[slow]\ntimeout = 300ms\n");
	const char *cg = slow_cgroup();
	hbd_start();
	pid_t w = hbd_worker("slow", 300, "--beat-ms", "50", "--work-ms", "20", "--hang-after-ms",
			     "1500", "--hang-how", "spin", NULL);
	cgroup_move(cg, w);
	struct hbd_death d = {.pid = w};
	cr_assert_eq(hbd_wait_deaths(&d, 1, 10000), 1, "a starved hung process must still die");
	hbd_assert_killed_by(&d, SIGABRT);
	cr_assert(hbd_log_count("deadline-deferred", w, NULL) >= 1, "never deferred");
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 1);
	/* timeout 300 ms + starve_grace 300 ms, plus at most 600 ms for the
	 * scans and for the throttled process to run its exit. */
	cr_assert_gt(d.last_beat_ns, 0);
	uint64_t after = (d.died_ns - d.last_beat_ns) / 1000000u;
	cr_assert_leq(after, 1200u, "died %llu ms after its last beat", (unsigned long long)after);
	hbd_figure("starved and hung: died %llu ms after its last beat (timeout 300 ms + "
		   "starve_grace 300 ms)",
		   (unsigned long long)after);
}

/* Cores go through a pipe to a helper that holds each for HOLD_S seconds
 * before it copies it to H.dir/core.PID, so a dump lasts that long
 * whatever the machine's speed.  (A CPU quota does not make a dump slow
 * enough to test with: the kernel writes the core itself, and the dump of
 * a few hundred MB into the page cache can end inside kill_grace.) */
static void slow_core_pattern(int hold_s)
{
	char pattern[200], helper[160], script[400];

	int fd = open("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, old_pattern, sizeof(old_pattern) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		old_pattern[0] = '\0';
		cr_skip_test("cannot read kernel.core_pattern");
	}
	old_pattern[n] = '\0';
	snprintf(helper, sizeof(helper), "%s/core-helper", H.dir);
	snprintf(script, sizeof(script), "#!/bin/sh\nsleep %d\nexec cat >'%s/core.'\"$1\"\n",
		 hold_s, H.dir);
	fd = open(helper, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	cr_assert_geq(fd, 0, "%s: %s", helper, strerror(errno));
	cr_assert_eq(write(fd, script, strlen(script)), (ssize_t)strlen(script));
	close(fd);
	snprintf(pattern, sizeof(pattern), "|%s %%P", helper);
	cr_assert_lt(strlen(pattern), 128, "core_pattern too long: %s", pattern);
	if (put_file("/proc/sys/kernel/core_pattern", pattern) < 0) {
		old_pattern[0] = '\0';
		cr_skip_test("cannot set kernel.core_pattern (not root of the host)");
	}
	/* An AddressSanitizer build's process dumps no core unless told so
	 * (its shadow memory stays out of the core: use_madv_dontdump). */
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[512];
	snprintf(opts, sizeof(opts), "%s%sdisable_coredump=0", asan ? asan : "",
		 asan && *asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

/* The size of the core the helper wrote for PID, once it is whole (the
 * helper copies on after the process is gone); -1 if none. */
static off_t core_size(pid_t pid, off_t want)
{
	char path[400];
	struct stat sb;
	off_t size = -1;

	snprintf(path, sizeof(path), "%s/core.%d", H.dir, (int)pid);
	for (int i = 0; i < 200; i++) {
		if (stat(path, &sb) == 0)
			size = sb.st_size;
		if (size >= want)
			break;
		hbd_sleep_ms(50);
	}
	unlink(path);
	return size;
}

/* The dump outlasts kill_grace: SIGKILL waits for it, the journal says
 * so, and the core is whole. */
Test(verdict, core_dump_finishes_before_sigkill)
{
	char line[2048];
	const size_t mb = 64;

	slow_core_pattern(3);
	hbd_config("kill_grace = 1s\n[dump]\ntimeout = 300ms\n");
	hbd_start();
	pid_t w = hbd_worker("dump", 300, "--beat-ms", "50", "--touch-mb", "64", "--core",
			     "--hang-after-ms", "500", NULL);
	cr_assert(hbd_log_wait("signal-sent", w, NULL, 5000));
	/* hbctl shows the dump while it lasts, but a look can fall after its
	 * end on a loaded machine (status_says() polls every 50 ms behind a
	 * fork and exec of hbctl): what is required is the journal's
	 * dumping-core record and the whole core, below. */
	bool seen = status_says("dumping", 5000);
	int st;
	cr_assert(hbd_wait_exit(w, 90000, &st), "still there");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	cr_assert(WCOREDUMP(st), "no core dumped (status 0x%x)", st);
	cr_assert(hbd_log_line("dumping-core", w, NULL, line, sizeof(line)));
	cr_log_info("%s", line);
	cr_assert_eq(hbd_log_count("escalated", w, NULL), 0, "SIGKILL cut the dump");
	off_t size = core_size(w, (off_t)(mb << 20));
	cr_assert_geq(size, (off_t)(mb << 20), "core of %lld bytes", (long long)size);
	hbd_figure("core of %lld MB held 3 s by its reader, kill_grace = 1s; hbctl showed "
		   "'dumping': %s",
		   (long long)(size >> 20), seen ? "yes" : "no");
}

/* The first signal goes to the late thread, so the dump is that thread's,
 * not the first thread's: the kernel has already killed the first thread,
 * whose status no longer says CoreDumping.  SIGKILL waits all the same. */
Test(verdict, core_dump_of_a_stuck_thread_finishes_before_sigkill)
{
	char out[160], line[2048];
	pid_t parent = getpid();
	int p[2], st, tid = 0;

	slow_core_pattern(3);
	snprintf(out, sizeof(out), "%s/abort-tid", H.dir);
	hbd_config("kill_grace = 1s\n[svc]\ntimeout = 20s\n");
	hbd_start();
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(126);
		setenv("HBSTUCK_CORE", "1", 1);
		execl(getenv("HBSTUCK"), "hbstuck", "svc", out, (char *)NULL);
		_exit(127);
	}
	cr_assert_lt(H.n_kids, HBD_MAX_KIDS);
	H.kids[H.n_kids++] = pid;
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f), "hbstuck did not get to its hang");
	fclose(f);
	cr_assert_eq(sscanf(line, "stuck %d", &tid), 1, "%s", line);
	cr_assert_neq(tid, pid, "the stuck thread is not the main thread");
	cr_assert(hbd_wait_exit(pid, 90000, &st), "still there");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	cr_assert(WCOREDUMP(st), "no core dumped (status 0x%x)", st);
	cr_assert(hbd_log_line("dumping-core", pid, NULL, line, sizeof(line)),
		  "no dumping-core record");
	cr_assert_eq(hbd_log_count("escalated", pid, NULL), 0, "SIGKILL cut the dump");
	cr_assert_gt(core_size(pid, 1), 0, "no core");
}

/* warn_at = 50%: one deadline-near record per beat, with what the process
 * does, before the deadline; action = log keeps it alive. */
Test(verdict, warn_at_says_why_before_the_deadline)
{
	char line[2048];

	hbd_config("kill_grace = 1s\n[near]\ntimeout = 1s\nwarn_at = 50%%\naction = log\n");
	hbd_start();
	pid_t w = hbd_worker("near", 1000, "--beat-ms", "100", "--hang-after-ms", "300",
			     "--hang-how", "read", NULL);
	uint64_t t0 = hbd_now_ns();
	cr_assert(hbd_log_wait("deadline-near", w, NULL, 5000), "no deadline-near record");
	uint64_t near = hbd_now_ns();
	cr_assert(hbd_log_wait("deadline-missed", w, NULL, 5000));
	cr_assert(hbd_log_line("deadline-near", w, NULL, line, sizeof(line)));
	cr_log_info("%s", line);
	cr_assert(strstr(line, "% of its timeout 1s (warn_at): blocked in "), "%s", line);
	cr_assert(strstr(line, "HBWATCH_PROC_STATE=\"S (threads: 1 S)\""), "%s", line);
	cr_assert_eq(hbd_log_count("deadline-missed", w, NULL), 1);
	/* Before the deadline: the beats stop 300 ms in, the deadline is 1 s
	 * after the last. */
	cr_assert_lt((near - t0) / 1000000u, 1300u);
	cr_assert_eq(hbd_log_count("deadline-near", w, NULL), 1, "said once per beat");
	cr_assert(hbd_alive(w));
}
