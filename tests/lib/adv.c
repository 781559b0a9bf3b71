/* See adv.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "record.h"
#include "util.h"

#define ADV_MAX_ARGS 40

static int legacy_key;

int adv_legacy_key(void)
{
	/* Never 0x5095 or 0x5098: a key of this test's own. */
	if (!legacy_key)
		legacy_key = 0x47000000 | ((int)getpid() & 0xffffff);
	return legacy_key;
}

/* Every segment the test uids made (records, squatted keys, classic
 * tables), and the classic table and semaphore at this test's key. */
static void remove_foreign(void)
{
	struct shm_info info;
	struct shmid_ds ds;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);

	for (int idx = 0; idx <= max; idx++) {
		int id = shmctl(idx, SHM_STAT_ANY, &ds);

		if (id < 0)
			continue;
		if (ds.shm_perm.cuid == ADV_VICTIM_UID || ds.shm_perm.cuid == ADV_ATTACKER_UID ||
		    ds.shm_perm.cuid == ADV_OUTSIDER_UID)
			shmctl(id, IPC_RMID, NULL);
	}
	if (legacy_key) {
		int shmid = shmget(legacy_key, 0, 0), semid = semget(legacy_key, 0, 0);

		if (shmid >= 0)
			shmctl(shmid, IPC_RMID, NULL);
		if (semid >= 0)
			semctl(semid, 0, IPC_RMID);
	}
}

void adv_init(void)
{
	hbd_init();
	adv_legacy_key();
	remove_foreign();
}

void adv_fini(void)
{
	/* The processes first (they may hold records), then what they left. */
	hbd_fini();
	remove_foreign();
}

static bool uids_usable(void);

gid_t adv_group(void)
{
	return uids_usable() ? (gid_t)ADV_GROUP : getegid();
}

void adv_config(const char *fmt, ...)
{
	FILE *f = fopen(H.conf, "w");
	va_list ap;

	cr_assert(f, "%s: %s", H.conf, strerror(errno));
	/* Without real other ids (a user namespace), ADV_GROUP is not a gid
	 * hbwatch could give its registry: the tests that need it skip. */
	if (uids_usable())
		fprintf(f, "[hbwatch]\nkey = 0x%x\nslots = 128\ngroup = %u\n", (unsigned)H.key,
			ADV_GROUP);
	else
		fprintf(f, "[hbwatch]\nkey = 0x%x\nslots = 128\ngroup =\n", (unsigned)H.key);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	cr_assert(fclose(f) == 0);
}

/* Can this test take on other uids and gids (real root, not a user
 * namespace mapping only root)?  Asked once per test process. */
static bool uids_usable(void)
{
	static int usable = -1;

	if (usable < 0)
		usable = geteuid() == 0 && tu_can_become(ADV_VICTIM_UID);
	return usable;
}

/* Can the other uid run the build's programs?  Not when the build tree
 * sits in a directory it may not enter (root's /root, mode 0700): the
 * dynamic loader cannot open libhbwatch.so.0 for it, and every attack
 * would fail as "did not register (exited, status 127)".  Asked once;
 * WHY gets the loader's words. */
static bool others_can_run(char *why, size_t why_len)
{
	static int can = -1;
	static char said[256];
	char out[64], uid[32], gid[32];
	const char *worker = getenv("HBWORKER");

	if (can < 0) {
		snprintf(uid, sizeof(uid), "--reuid=%u", ADV_VICTIM_UID);
		snprintf(gid, sizeof(gid), "--regid=%u", ADV_VICTIM_UID);
		char *argv[] = {(char *)tu_setpriv(), uid,	gid, "--clear-groups", "--",
				(char *)worker,	      "--help", NULL};
		int st = worker ? tu_run(argv, out, sizeof(out), said, sizeof(said), 10000) : 0;
		can = tu_exit_code(st) == 0;
		said[strcspn(said, "\n")] = '\0';
	}
	snprintf(why, why_len, "%s", said);
	return can;
}

void adv_need_uids(void)
{
	char why[256];

	if (!uids_usable())
		cr_skip_test("needs root for real other uids");
	if (!others_can_run(why, sizeof(why)))
		cr_skip_test("uid %u cannot run the build's programs (%s): the build tree is in a "
			     "directory other users may not enter, such as /root; build in a "
			     "directory they can read, such as /srv or /tmp",
			     ADV_VICTIM_UID, why);
}

void adv_start(const char *conf)
{
	adv_need_uids();
	adv_config("%s", conf);
	hbd_start();
}

uint64_t adv_long_ago(void)
{
	uint64_t now = hbd_now_ns();

	return now > 5000000000u ? now - 5000000000u : 1;
}

pid_t adv_sleeper_as(uid_t uid, bool pgrp, int ignore)
{
	int p[2];
	char c;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		if (ignore > 0)
			signal(ignore, SIG_IGN);
		if (pgrp && setpgid(0, 0) < 0)
			_exit(125);
		if (uid != (uid_t)-1 &&
		    (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
			_exit(126);
		/* A change of uid clears the parent-death signal: set it again. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		if (write(p[1], "x", 1) != 1)
			_exit(124);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "sleeper %d did not start", (int)pid);
	close(p[0]);
	hbd_track(pid);
	return pid;
}

/* argv running PROG with the arguments of AP: through setpriv as UID/GID,
 * or directly as ourselves if UID is (uid_t)-1.  *AFTER_PROG gets the index
 * of PROG's first argument.  Returns argc. */
static int argv_as(char **argv, struct tu_as *as, uid_t uid, gid_t gid, const char *prog,
		   va_list ap, int *after_prog)
{
	int argc = 0;

	if (prog[0] == '$')
		prog = tu_prog(prog + 1);
	if (uid != (uid_t)-1)
		argc = tu_as_argv(as, argv, uid, gid);
	argv[argc++] = (char *)prog;
	*after_prog = argc;
	for (char *a; (a = va_arg(ap, char *));) {
		cr_assert(argc < ADV_MAX_ARGS - 1, "too many arguments");
		argv[argc++] = a;
	}
	argv[argc] = NULL;
	return argc;
}

int adv_run_as(uid_t uid, gid_t gid, char *out, size_t out_len, char *err, size_t err_len,
	       const char *prog, ...)
{
	struct tu_as as;
	char *argv[ADV_MAX_ARGS], o[256], e[1024];
	va_list ap;

	int after;

	va_start(ap, prog);
	argv_as(argv, &as, uid, gid, prog, ap, &after);
	va_end(ap);
	if (!out || !out_len) {
		out = o;
		out_len = sizeof(o);
	}
	if (!err || !err_len) {
		err = e;
		err_len = sizeof(e);
	}
	return tu_run(argv, out, out_len, err, err_len, 60000);
}

/* Does BUF hold a whole line that starts with PREFIX? */
static bool has_line(const char *buf, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *l = buf; *l;) {
		const char *nl = strchr(l, '\n');

		if (!nl)
			return false;
		if ((size_t)(nl - l) >= n && strncmp(l, prefix, n) == 0)
			return true;
		l = nl + 1;
	}
	return false;
}

pid_t adv_start_as(uid_t uid, gid_t gid, const char *wait_for, char *out, size_t out_len,
		   const char *prog, ...)
{
	struct tu_as as;
	char *argv[ADV_MAX_ARGS], buf[8192];
	pid_t parent = getpid(), pid;
	size_t have = 0;
	int p[2], after;
	va_list ap;

	va_start(ap, prog);
	argv_as(argv, &as, uid, gid, prog, ap, &after);
	va_end(ap);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		if (!wait_for)
			hbd_redirect(STDOUT_FILENO, H.wlog);
		else if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(126);
		hbd_redirect(STDERR_FILENO, H.wlog);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	hbd_track(pid);
	buf[0] = '\0';
	for (uint64_t end = hbd_now_ns() + 10000000000u; wait_for && !has_line(buf, wait_for);) {
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		ssize_t n;

		cr_assert(hbd_now_ns() < end, "%s did not say '%s' within 10 s (said '%s')", prog,
			  wait_for, buf);
		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = read(p[0], buf + have, sizeof(buf) - 1 - have);
		cr_assert(n > 0, "%s ended before saying '%s' (said '%s')", prog, wait_for, buf);
		have += (size_t)n;
		buf[have] = '\0';
	}
	close(p[0]);
	if (out && out_len)
		snprintf(out, out_len, "%s", buf);
	return pid;
}

pid_t adv_worker_as(uid_t uid, gid_t gid, const char *name, unsigned timeout_ms, ...)
{
	char *argv[ADV_MAX_ARGS], tmo[16], what[64];
	struct tu_as as;
	int argc, first;
	va_list ap;

	snprintf(tmo, sizeof(tmo), "%u", timeout_ms);
	va_start(ap, timeout_ms);
	argc = argv_as(argv, &as, uid, gid, "$HBWORKER", ap, &first);
	va_end(ap);
	/* The worker's own arguments go first, the caller's after them. */
	char *fixed[] = {"--name", (char *)name, "--timeout-ms", tmo, "--ready-fd", "3", "--quiet"};
	int nfixed = (int)(sizeof(fixed) / sizeof(fixed[0]));
	cr_assert(argc + nfixed < ADV_MAX_ARGS);
	memmove(&argv[first + nfixed], &argv[first], (size_t)(argc - first + 1) * sizeof(char *));
	memcpy(&argv[first], fixed, sizeof(fixed));
	snprintf(what, sizeof(what), "%s as uid %u", name, (unsigned)uid);
	return hbd_worker_exec(argv, what);
}

int adv_shmid_in(const char *out)
{
	const char *p = strstr(out, "shmid ");

	return p ? atoi(p + 6) : -1;
}

void adv_assert_killed(pid_t pid, int ms)
{
	int st = 0;

	if (!hbd_wait_exit(pid, ms, &st)) {
		hbd_log_dump();
		cr_assert_fail("hung pid %d was not killed within %d ms", (int)pid, ms);
	}
	cr_assert(WIFSIGNALED(st), "pid %d exited instead (0x%x)", (int)pid, (unsigned)st);
	/* hbwatch signals first and logs after: the death may be seen first. */
	cr_assert(hbd_log_wait("signal-sent", pid, NULL, 5000), "pid %d died, not by hbwatch",
		  (int)pid);
}

void adv_still_kills(const char *name)
{
	cr_assert(hbd_alive(H.daemon), "hbwatch died");
	pid_t w = hbd_worker(name, 500, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	adv_assert_killed(w, 10000);
	cr_assert(hbd_alive(H.daemon), "hbwatch died");
}

int adv_log_lines(void)
{
	return hbd_log_count(NULL, 0, NULL);
}

uint64_t adv_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	cr_assert(f, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	cr_assert(p);
	/* After ") ": state(3) ... utime(14) stime(15). */
	cr_assert_eq(
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
	return (ut + st) * 1000u / (uint64_t)sysconf(_SC_CLK_TCK);
}

int adv_segments_of(uid_t uid)
{
	struct shm_info info;
	struct shmid_ds ds;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info), n = 0;

	for (int idx = 0; idx <= max; idx++) {
		int id = shmctl(idx, SHM_STAT_ANY, &ds);

		if (id >= 0 && ds.shm_segsz == HB_RECORD_SIZE && ds.shm_perm.cuid == uid)
			n++;
	}
	return n;
}
