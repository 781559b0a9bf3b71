/* [legacy]: a classic CPActive table (written by cpactive, a client of that
 * exact layout) watched by the real daemon: a hung client is killed, a
 * beating one is not, an unlisted name and a stale record are never
 * signalled, a segment of the wrong size is refused, and hbwatch never
 * writes the table or its semaphore.
 *
 * Trust: a table others may write is nobody's word.  It is not watched
 * (unless allow_shared_writers = yes), also when it is opened to others
 * while watched; and a record is acted on only if the table's creator and
 * owner could signal the process it names themselves. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

struct st_procinfo {
	int pid;
	char pname[51];
	int timeout;
	time_t atime;
};

/* A uid nobody on a test host uses, for the table of another user. */
#define OTHER_UID 3002

static int lkey;

static void legacy_remove(void)
{
	int shmid = shmget(lkey, 0, 0), semid = semget(lkey, 0, 0);

	if (shmid >= 0)
		shmctl(shmid, IPC_RMID, NULL);
	if (semid >= 0)
		semctl(semid, 0, IPC_RMID);
}

static void init(void)
{
	hbd_init();
	/* Never 0x5095 or 0x5098: a key of this test's own. */
	lkey = 0x47000000 | ((int)getpid() & 0xffffff);
	legacy_remove();
}

static void fini(void)
{
	hbd_fini();
	legacy_remove();
}

TestSuite(legacy, .init = init, .fini = fini, .timeout = 60);

/* Criterion's main(), and the figures and log dumps after the report. */
int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* cr_skip_test() ends the test without running .fini: clean up first. */
#define skip(why)                                                                                  \
	do {                                                                                       \
		fini();                                                                            \
		cr_skip_test(why);                                                                 \
	} while (0)

/* H.conf with [legacy] at our key, then EXTRA: more [legacy] keys and the
 * service sections.  Returns the line of EXTRA's first line. */
static int config(const char *extra)
{
	return hbd_config("kill_grace = 300ms\n[legacy]\nkey = 0x%x\n%s", (unsigned)lkey, extra) +
	       3;
}

/* Run cpactive (as UID through setpriv, or as ourselves if UID is
 * (uid_t)-1) with --key, --name NAME and ARGS; wait for its "registered
 * PID" line.  Returns its pid (a child of ours, killed by hbd_fini(), and
 * dying with the test). */
static pid_t cpactive_v(uid_t uid, const char *name, va_list ap)
{
	const char *exe = getenv("CPACTIVE");
	char key[32], parent_s[16], reuid[32], regid[32], line[64] = "";
	char *argv[32];
	int argc = 0, fds[2];
	pid_t parent = getpid(), pid;

	cr_assert(exe, "$CPACTIVE is not set (run through meson test)");
	snprintf(key, sizeof(key), "0x%x", (unsigned)lkey);
	snprintf(parent_s, sizeof(parent_s), "%d", (int)parent);
	if (uid != (uid_t)-1) {
		snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned)uid);
		snprintf(regid, sizeof(regid), "--regid=%u", (unsigned)uid);
		argv[argc++] = "setpriv";
		argv[argc++] = reuid;
		argv[argc++] = regid;
		argv[argc++] = "--clear-groups";
		argv[argc++] = "--";
	}
	argv[argc++] = (char *)exe;
	argv[argc++] = "--key";
	argv[argc++] = key;
	argv[argc++] = "--parent";
	argv[argc++] = parent_s;
	argv[argc++] = "--name";
	argv[argc++] = (char *)name;
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	argv[argc] = NULL;
	cr_assert(pipe(fds) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	cr_assert(H.n_kids < HBD_MAX_KIDS);
	H.kids[H.n_kids++] = pid;
	struct pollfd p = {.fd = fds[0], .events = POLLIN};
	size_t n = 0;
	while (n < sizeof(line) - 1 && !strchr(line, '\n') && poll(&p, 1, 5000) > 0) {
		ssize_t r = read(fds[0], line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
	}
	close(fds[0]);
	cr_assert(strncmp(line, "registered ", 11) == 0, "cpactive did not register: '%s'", line);
	return pid;
}

static pid_t cpactive(const char *name, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, name);
	pid = cpactive_v((uid_t)-1, name, ap);
	va_end(ap);
	return pid;
}

static pid_t cpactive_as(uid_t uid, const char *name, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, name);
	pid = cpactive_v(uid, name, ap);
	va_end(ap);
	return pid;
}

/* Can a child of ours become UID through setpriv?  Not in a user namespace
 * that maps only root, nor without setpriv. */
static bool can_become(uid_t uid)
{
	char reuid[32], regid[32];
	pid_t parent = getpid(), pid;
	int st = 0;

	snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned)uid);
	snprintf(regid, sizeof(regid), "--regid=%u", (unsigned)uid);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		if (!freopen("/dev/null", "w", stderr))
			_exit(126);
		execlp("setpriv", "setpriv", reuid, regid, "--clear-groups", "--", "true",
		       (char *)NULL);
		_exit(127);
	}
	if (!hbd_wait_exit(pid, 5000, &st)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return false;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The record holding PID, read straight from the classic table. */
static bool record_of(pid_t pid, struct st_procinfo *out)
{
	int shmid = shmget(lkey, 0, 0);
	struct st_procinfo *t;
	bool found = false;

	cr_assert(shmid >= 0, "no classic table");
	t = shmat(shmid, NULL, SHM_RDONLY);
	cr_assert(t != (void *)-1);
	for (int i = 0; i < 1000 && !found; i++)
		if (t[i].pid == pid) {
			*out = t[i];
			found = true;
		}
	shmdt(t);
	return found;
}

/* Give the classic table mode MODE, as its owner would with IPC_SET. */
static void table_mode(unsigned mode)
{
	int shmid = shmget(lkey, 0, 0);
	struct shmid_ds ds;

	cr_assert(shmid >= 0, "no classic table");
	cr_assert(shmctl(shmid, IPC_STAT, &ds) == 0, "IPC_STAT: %s", strerror(errno));
	ds.shm_perm.mode = (unsigned short)mode;
	cr_assert(shmctl(shmid, IPC_SET, &ds) == 0, "IPC_SET: %s", strerror(errno));
}

#define WATCHING "watching the classic heartbeat table"

Test(legacy, hung_client_killed)
{
	struct st_procinfo before, after;
	int st = 0, semid;

	config("[lsvc]\n");
	hbd_start();
	pid_t c =
	    cpactive("lsvc", "--mode", "0644", "--timeout", "1", "--hang-after-ms", "300", NULL);
	cr_assert(hbd_log_wait(NULL, 0, WATCHING, 5000));
	cr_assert(record_of(c, &before));

	/* time(0) - atime > 1 s: between 1 and 2 s after the last beat. */
	cr_assert(hbd_wait_exit(c, 8000, &st), "the hung legacy client was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	/* hbwatch signals first and logs after: the death may be seen first. */
	cr_assert(hbd_log_wait("signal-sent", c, "SIGABRT", 5000), "no record of the signal");
	cr_assert(hbd_log_count("deadline-missed", c, "legacy record") == 1);
	cr_assert(hbd_log_count("signal-sent", c, "SIGABRT") == 1);
	cr_assert(hbd_log_wait("process-gone", c, "left to its owner", 3000));

	/* Nothing written: the dead client's record is as it left it, and the
	 * semaphore was never operated on by hbwatch. */
	cr_assert(record_of(c, &after), "hbwatch cleared the record");
	cr_assert_eq(memcmp(&before.pname, &after.pname, sizeof(before.pname)), 0);
	semid = semget(lkey, 0, 0);
	cr_assert(semid >= 0);
	cr_assert_eq(semctl(semid, 0, GETVAL), 1);
	cr_assert_neq(semctl(semid, 0, GETPID), H.daemon, "hbwatch operated the semaphore");
}

Test(legacy, beating_client_survives)
{
	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("lsvc", "--mode", "0644", "--timeout", "1", "--beat-ms", "100", NULL);

	cr_assert(hbd_log_wait(NULL, 0, WATCHING, 5000));
	cr_assert(hbd_wait_status("Watching 1 process", 5000), "STATUS: %s", H.status);
	hbd_assert_left_alone(c, 4000);
	cr_assert_eq(hbd_log_count("deadline-missed", c, NULL), 0);
}

/* A classic client a debugger holds (ptrace, tracing stop) is left alone
 * and said once, as a native one is: one verdict for both. */
Test(legacy, debugged_client_is_left_alone)
{
	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("lsvc", "--mode", "0644", "--timeout", "1", "--beat-ms", "100", NULL);
	cr_assert(hbd_log_wait(NULL, 0, WATCHING, 5000));
	hbd_trace(c, true);
	cr_assert(hbd_log_wait("being-debugged", c, "legacy record", 8000));
	hbd_assert_left_alone(c, 3000);
	cr_assert_eq(hbd_log_count("being-debugged", c, NULL), 1);
	cr_assert_eq(hbd_log_count("deadline-missed", c, NULL), 0);
}

Test(legacy, unlisted_name_refused)
{
	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("unlisted", "--mode", "0644", "--timeout", "1", "--hang-after-ms", "100",
			   NULL);

	cr_assert(hbd_log_wait("refused", c, "\"unlisted\" is not a watched service", 5000));
	cr_assert(hbd_log_count("refused", c, "legacy record") >= 1);
	hbd_assert_left_alone(c, 3500);
	cr_assert_eq(hbd_log_count("deadline-missed", c, NULL), 0);
}

/* A record whose last heartbeat is older than its process: the pid was
 * reused, the record's writer is long gone.  Late, but never a target. */
Test(legacy, stale_record_never_signalled)
{
	config("[lsvc]\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)s);
	pid_t w = cpactive("lsvc", "--mode", "0644", "--timeout", "1", "--pid", pid,
			   "--atime-offset", "-100", NULL);
	cr_assert(hbd_wait_exit(w, 5000, NULL));

	cr_assert(
	    hbd_log_wait("stale-record", s, "started after the record's last heartbeat", 5000));
	hbd_assert_left_alone(s, 3000);
	cr_assert_eq(hbd_log_count("deadline-missed", s, NULL), 0);
}

/* A segment at the [legacy] key that is not 72000 bytes is refused. */
Test(legacy, wrong_size_refused)
{
	int shmid = shmget(lkey, 4096, IPC_CREAT | IPC_EXCL | 0600);

	cr_assert(shmid >= 0, "shmget: %s", strerror(errno));
	config("[lsvc]\n");
	hbd_start();
	cr_assert(hbd_log_wait(NULL, 0, "is 4096 bytes, not 72000", 5000));
	cr_assert(hbd_alive(H.daemon));
}

/* The lesson code's own table, mode 0666: anyone may write any record, so
 * none is anyone's word.  Not watched, said once with the way out; its
 * hung client is never signalled. */
Test(legacy, shared_table_not_watched)
{
	char want[160];

	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("lsvc", "--timeout", "1", "--hang-after-ms", "100", NULL);

	snprintf(want, sizeof(want),
		 "the classic table at key 0x%x has mode 666: its group and "
		 "everyone may write it",
		 (unsigned)lkey);
	cr_assert(hbd_log_wait("untrusted", 0, want, 5000));
	cr_assert(hbd_log_count("untrusted", 0, "set allow_shared_writers = yes in [legacy]") == 1);
	hbd_assert_left_alone(c, 3500);
	cr_assert_eq(hbd_log_count("deadline-missed", c, NULL), 0);
	cr_assert_eq(hbd_log_count(NULL, 0, WATCHING), 0);
	/* Said once, not at every look. */
	cr_assert_eq(hbd_log_count("untrusted", 0, want), 1);
}

/* The same table with allow_shared_writers = yes: the admin took the
 * risk, and its hung client is killed. */
Test(legacy, shared_table_allowed)
{
	int st = 0;

	config("allow_shared_writers = yes\n[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("lsvc", "--timeout", "1", "--hang-after-ms", "300", NULL);

	cr_assert(hbd_log_wait(NULL, 0, WATCHING, 5000));
	cr_assert(hbd_wait_exit(c, 8000, &st), "the hung legacy client was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	cr_assert(hbd_log_wait("signal-sent", c, "SIGABRT", 5000), "no record of the signal");
	cr_assert(hbd_log_count("signal-sent", c, "SIGABRT") == 1);
	cr_assert_eq(hbd_log_count("untrusted", 0, NULL), 0);
}

/* A table made by uid 3002 carries 3002's word only: a record naming one
 * of 3002's processes is acted on, one naming root's process is not (3002
 * could not signal it), and says why. */
Test(legacy, record_for_process_owner_cannot_signal)
{
	char pid[16];
	int st = 0;

	if (!can_become(OTHER_UID))
		skip("cannot run a process as uid 3002 here (no setpriv, or a user namespace)");
	config("[lsvc]\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);

	/* 3002's own client, which hangs: 3002's word about 3002's process. */
	pid_t c = cpactive_as(OTHER_UID, "lsvc", "--mode", "0644", "--timeout", "1",
			      "--hang-after-ms", "300", NULL);
	/* 3002's record naming root's sleeper, beaten once and then never. */
	pid_t w = cpactive_as(OTHER_UID, "lsvc", "--timeout", "1", "--pid", pid, "--atime-offset",
			      "0", NULL);
	cr_assert(hbd_wait_exit(w, 5000, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cpactive --pid: status 0x%x", st);
	cr_assert(hbd_log_wait(NULL, 0, WATCHING, 5000));

	cr_assert(hbd_log_wait("untrusted", s,
			       "it was created by uid 3002, who could not signal a process of uid "
			       "0 itself; it will never be signalled",
			       5000));
	cr_assert(hbd_wait_exit(c, 8000, &st), "3002's hung client was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	hbd_assert_left_alone(s, 2500);
	cr_assert_eq(hbd_log_count("deadline-missed", s, NULL), 0);
	cr_assert_eq(hbd_log_count("untrusted", c, NULL), 0);
}

/* Its owner opens a watched table to everyone: from then on it is nobody's
 * word and is dropped; a client that stops beating meanwhile is left
 * alone.  Closed again, the table is watched again and that client, hung
 * all along, is killed. */
Test(legacy, table_opened_to_others_dropped)
{
	char want[160];
	int st = 0;

	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("lsvc", "--mode", "0644", "--timeout", "1", "--beat-ms", "100", NULL);
	cr_assert(hbd_log_wait(NULL, 0, WATCHING, 5000));
	cr_assert(hbd_wait_status("Watching 1 process", 5000), "STATUS: %s", H.status);

	table_mode(0666);
	snprintf(want, sizeof(want), "the classic table at key 0x%x has mode 666", (unsigned)lkey);
	cr_assert(hbd_log_wait("untrusted", 0, want, 5000));
	cr_assert(hbd_wait_status("Watching 0 processes", 5000), "STATUS: %s", H.status);
	hbd_kill(c, SIGSTOP);
	hbd_assert_left_alone(c, 3500);
	cr_assert_eq(hbd_log_count("deadline-missed", c, NULL), 0);
	cr_assert_eq(hbd_log_count("untrusted", 0, want), 1);

	table_mode(0644);
	cr_assert(hbd_wait_exit(c, 8000, &st),
		  "the hung client of the closed table was not killed");
	/* Stopped, it is sent SIGCONT after the SIGABRT, and dies of it. */
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	/* hbwatch signals first and logs after: the death may be seen first. */
	cr_assert(hbd_log_wait("signal-sent", c, "SIGABRT", 5000), "no record of the signal");
	cr_assert(hbd_log_count("signal-sent", c, "SIGABRT") == 1);
	cr_assert_eq(hbd_log_count(NULL, 0, WATCHING), 2);
}

/* [legacy] without a key, with hbwatch's own, or with a bad
 * allow_shared_writers. */
Test(legacy, config_errors)
{
	char err[1024] = "", want[256];
	int st, line;

	hbd_config("[legacy]\nenabled = yes\n[lsvc]\n");
	st = hbd_run(NULL, 0, err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	cr_assert(strstr(err, ":5: [legacy] needs 'key'"), "%s", err);

	hbd_config("[legacy]\nkey = 0x%x\n", (unsigned)H.key);
	st = hbd_run(NULL, 0, err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	cr_assert(strstr(err, "is hbwatch's own key"), "%s", err);

	hbd_config("[legacy]\nkey = 0x%x\nenabled = no\n", (unsigned)H.key);
	st = hbd_run(NULL, 0, err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);

	line = config("[lsvc]\nallow_shared_writers = yes\n");
	st = hbd_run(NULL, 0, err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	snprintf(want, sizeof(want), "%s:%d: unknown key 'allow_shared_writers' in [lsvc]", H.conf,
		 line + 1);
	cr_assert(strstr(err, want), "%s", err);

	line = config("allow_shared_writers = sometimes\n[lsvc]\n");
	st = hbd_run(NULL, 0, err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	snprintf(want, sizeof(want),
		 "%s:%d: invalid value 'sometimes' for 'allow_shared_writers' in [legacy]: "
		 "expected yes or no",
		 H.conf, line);
	cr_assert(strstr(err, want), "%s", err);

	config("allow_shared_writers = no\n[lsvc]\n");
	st = hbd_run(NULL, 0, err, sizeof(err), "--check-config", "-c", H.conf, NULL);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
}

static time_t table_ctime(void)
{
	int shmid = shmget(lkey, 0, 0);
	struct shmid_ds ds;

	cr_assert(shmid >= 0 && shmctl(shmid, IPC_STAT, &ds) == 0);
	return ds.shm_ctime;
}

/* Opened to others and closed again within one second, with a look of the
 * daemon in between: watched again.  (shm_ctime counts whole seconds, so
 * hbwatch judges the table by its size, mode and owners, not its ctime.) */
Test(legacy, table_closed_within_the_second_watched_again)
{
	char want[160];
	int st = 0, drops = 0, watching = 1;
	bool hit = false;

	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("lsvc", "--mode", "0644", "--timeout", "1", "--beat-ms", "100", NULL);
	cr_assert(hbd_log_wait(NULL, 0, WATCHING, 5000));
	snprintf(want, sizeof(want), "the classic table at key 0x%x has mode 666", (unsigned)lkey);
	for (int attempt = 0; attempt < 8 && !hit; attempt++) {
		struct timespec ts;
		time_t opened;

		/* Start just after a second begins, to leave the daemon's next
		 * look (once a second) most of it. */
		do {
			clock_gettime(CLOCK_REALTIME, &ts);
			hbd_sleep_ms(2);
		} while (ts.tv_nsec > 50000000L);
		table_mode(0666);
		opened = table_ctime();
		while (hbd_log_count("untrusted", 0, want) == drops && time(NULL) == opened)
			hbd_sleep_ms(1);
		table_mode(0644);
		hit = hbd_log_count("untrusted", 0, want) > drops && table_ctime() == opened;
		drops = hbd_log_count("untrusted", 0, want);
		if (!hit && drops > 0) {
			/* Missed the second: wait until it is watched again. */
			watching++;
			for (int k = 0; k < 300 && hbd_log_count(NULL, 0, WATCHING) < watching; k++)
				hbd_sleep_ms(10);
		}
	}
	cr_assert(hit, "never closed the table within the second it was dropped in");
	/* Watched again, it kills the client once that stops beating. */
	hbd_kill(c, SIGSTOP);
	cr_assert(hbd_wait_exit(c, 8000, &st),
		  "the table was never watched again: the hung client lives (%d watching lines)",
		  hbd_log_count(NULL, 0, WATCHING));
}

/* The refusal says to set allow_shared_writers = yes: done and reloaded,
 * the table is watched (a reload looks at a refused table afresh). */
Test(legacy, shared_table_allowed_by_reload)
{
	int st = 0;

	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("lsvc", "--timeout", "1", "--hang-after-ms", "300", NULL);
	cr_assert(hbd_log_wait("untrusted", 0, "allow_shared_writers", 5000));

	config("allow_shared_writers = yes\n[lsvc]\n");
	hbd_reload();
	cr_assert(hbd_log_wait(NULL, 0, WATCHING, 5000), "not watched after the reload");
	cr_assert(hbd_wait_exit(c, 8000, &st), "the hung legacy client was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
}

/* A reload keeps what hbwatch knows of each record: a late client under
 * action = log is logged once, not once more per reload; and a record the
 * new rules no longer cover is refused once, then watched again when a
 * later reload covers it. */
Test(legacy, reload_repeats_no_history)
{
	int st = 0;

	config("[lsvc]\naction = log\n");
	hbd_start();
	pid_t c =
	    cpactive("lsvc", "--mode", "0644", "--timeout", "1", "--hang-after-ms", "200", NULL);
	cr_assert(hbd_log_wait("deadline-missed", c, "legacy record", 8000));
	for (int i = 0; i < 3; i++)
		hbd_reload();
	hbd_sleep_ms(1500);
	cr_assert_eq(hbd_log_count("deadline-missed", c, NULL), 1,
		     "a reload logged the known late client again");

	/* The section gone: refused once, never signalled. */
	config("[other]\n");
	hbd_reload();
	cr_assert(hbd_log_wait("refused", c, "\"lsvc\" is not a watched service", 5000));
	hbd_reload();
	hbd_sleep_ms(500);
	cr_assert_eq(hbd_log_count("refused", c, NULL), 1, "refused again by an unrelated reload");

	/* Back, as kill: the client, still hung, is killed. */
	config("[lsvc]\n");
	hbd_reload();
	cr_assert(hbd_wait_exit(c, 8000, &st), "the hung client was not watched again");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
}
