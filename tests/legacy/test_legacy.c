/* [legacy]: a classic CPActive table (written by cpactive, a client of that
 * exact layout) watched by the real daemon: a hung client is killed, a
 * beating one is not, an unlisted name and a stale record are never
 * signalled, a segment of the wrong size is refused, and hbwatch never
 * writes the table or its semaphore. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

static void config(const char *services)
{
	hbd_config("kill_grace = 300ms\n[legacy]\nkey = 0x%x\n%s", (unsigned)lkey, services);
}

/* Run cpactive with ARGS (NULL-terminated) after --key and --name NAME;
 * wait for its "registered PID" line.  Returns its pid (tracked for
 * cleanup, dies with the test). */
static pid_t cpactive(const char *name, ...)
{
	const char *exe = getenv("CPACTIVE");
	char key[32], line[64] = "";
	char *argv[24];
	int argc = 0, fds[2];
	pid_t parent = getpid(), pid;
	va_list ap;

	cr_assert(exe, "$CPACTIVE is not set (run through meson test)");
	snprintf(key, sizeof(key), "0x%x", (unsigned)lkey);
	argv[argc++] = (char *)exe;
	argv[argc++] = "--key";
	argv[argc++] = key;
	argv[argc++] = "--name";
	argv[argc++] = (char *)name;
	va_start(ap, name);
	for (char *a; (a = va_arg(ap, char *)) && argc < 23;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	cr_assert(pipe(fds) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(exe, argv);
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

Test(legacy, hung_client_killed)
{
	struct st_procinfo before, after;
	int st = 0, semid;

	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("lsvc", "--timeout", "1", "--hang-after-ms", "300", NULL);
	cr_assert(hbd_log_wait(NULL, 0, "watching the classic heartbeat table", 5000));
	cr_assert(record_of(c, &before));

	/* time(0) - atime > 1 s: between 1 and 2 s after the last beat. */
	cr_assert(hbd_wait_exit(c, 8000, &st), "the hung legacy client was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
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
	pid_t c = cpactive("lsvc", "--timeout", "1", "--beat-ms", "100", NULL);

	cr_assert(hbd_log_wait(NULL, 0, "watching the classic heartbeat table", 5000));
	hbd_assert_left_alone(c, 4000);
	cr_assert_eq(hbd_log_count("deadline-missed", c, NULL), 0);
}

Test(legacy, unlisted_name_refused)
{
	config("[lsvc]\n");
	hbd_start();
	pid_t c = cpactive("unlisted", "--timeout", "1", "--hang-after-ms", "100", NULL);

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
	pid_t w = cpactive("lsvc", "--timeout", "1", "--pid", pid, "--atime-offset", "-100", NULL);
	cr_assert(hbd_wait_exit(w, 5000, NULL));

	cr_assert(hbd_log_wait("stale-record", s, "started after the record's last heartbeat", 5000));
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

/* [legacy] without a key, or with hbwatch's own. */
Test(legacy, config_errors)
{
	char err[1024] = "";
	int st;

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
}
