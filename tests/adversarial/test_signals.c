/* Every signal inside the invariant, not only the first: each process
 * hbwatch signals (the first signal, SIGCONT, the SIGKILL escalation, each
 * member of a process group) is one the record's writer could signal
 * itself, checked just before that signal.  Real other uids: a uid-3001
 * registrant whose process group holds a root process (as sudo's child
 * is), and one that exec's a setuid-root program after SIGABRT. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "util.h"

TestSuite(signals, .init = adv_init, .fini = adv_fini, .timeout = 90);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

static void track(pid_t pid)
{
	cr_assert_lt(H.n_kids, HBD_MAX_KIDS);
	H.kids[H.n_kids++] = pid;
}

/* Become UID (groups: the registry's group), keeping the parent-death
 * signal a change of uid clears. */
static void become(uid_t uid, pid_t parent)
{
	gid_t g = adv_group();

	if (setgroups(1, &g) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
}

/* A child of ours that sleeps in process group PG, as UID (or root if
 * UID is 0). */
static pid_t member_of(pid_t pg, uid_t uid)
{
	pid_t parent = getpid(), pid;
	int p[2];
	char c;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		if (setpgid(0, pg) < 0)
			_exit(125);
		if (uid)
			become(uid, parent);
		if (write(p[1], "x", 1) != 1)
			_exit(124);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "member %d did not start", (int)pid);
	close(p[0]);
	track(pid);
	return pid;
}

/* A uid-3001 shell job under kill_group = yes leads its group; the group
 * also holds a root process (as sudo's child would be) and one of uid
 * 3001's own.  The job ignores SIGABRT, so the SIGKILL escalation goes to
 * the group too.  The root member is signalled by neither, and the record
 * names it; uid 3001's member and the leader die. */
Test(signals, kill_group_leaves_a_root_member_alone)
{
	int go[2], ready[2], st;
	char c, line[1024];

	adv_need_uids();
	adv_config("kill_grace = 300ms\n[watched]\ntimeout = 500ms\nkill_group = yes\n"
		   "[hung]\ntimeout = 1s\n");
	hbd_start();
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	cr_assert_eq(pipe(ready), 0);
	pid_t parent = getpid(), leader = fork();
	cr_assert_geq(leader, 0);
	if (leader == 0) {
		hbd_child_setup(parent);
		close(go[1]);
		if (setpgid(0, 0) < 0 || read(go[0], &c, 1) != 1)
			_exit(125);
		become(ADV_VICTIM_UID, parent);
		if (dup2(ready[1], 3) < 0)
			_exit(124);
		execl(getenv("HBWORKER"), "hbworker", "--name", "watched", "--timeout-ms", "500",
		      "--beat-ms", "50", "--hang-after-ms", "400", "--ignore", "SIGABRT",
		      "--ready-fd", "3", "--quiet", (char *)NULL);
		_exit(127);
	}
	track(leader);
	close(go[0]);
	close(ready[1]);
	/* The group exists once the leader made it. */
	for (int i = 0; i < 200 && getpgid(leader) != leader; i++)
		hbd_sleep_ms(5);
	cr_assert_eq(getpgid(leader), leader);
	pid_t root = member_of(leader, 0);
	pid_t own = member_of(leader, ADV_VICTIM_UID);
	cr_assert_eq(write(go[1], "x", 1), 1);
	close(go[1]);
	cr_assert_gt(read(ready[0], line, sizeof(line)), 0, "the job did not register");
	close(ready[0]);

	cr_assert(hbd_wait_exit(leader, 6000, &st), "the hung job was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "job status 0x%x", st);
	cr_assert(hbd_wait_exit(own, 2000, &st), "uid 3001's member outlived its job");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "member status 0x%x", st);
	hbd_sleep_ms(700);
	cr_assert(hbd_alive(root), "the root member of the group was signalled");
	snprintf(line, sizeof(line), "pid %d (uid 0)", (int)root);
	cr_assert(hbd_log_wait("signal-sent", leader, line, 1000),
		  "the signal record does not name the member left out");
	cr_assert(hbd_log_wait("escalated", leader, line, 1000),
		  "the SIGKILL record does not name the member left out");
	cr_assert(hbd_log_count("signal-sent", leader, "1 member of its process group") == 1);
	adv_still_kills("hung");
}

/* A copy of hbsuidroot made setuid root in DIR (0755, root's). */
static void install_suid(char *dir, size_t dlen, char *prog, size_t plen)
{
	char cmd[512];

	snprintf(dir, dlen, "/tmp/hbwatch-test-suid-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(prog, plen, "%s/hbsuidroot", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", getenv("HBSUIDROOT"), prog);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(chown(prog, 0, 0), 0);
	cr_assert_eq(chmod(prog, 04755), 0);
}

static char suid_dir[64], suid_prog[128], marker[160];

/* A setuid-root program must not outlive its test, failed or not. */
static void suid_fini(void)
{
	if (suid_dir[0]) {
		unlink(marker);
		unlink(suid_prog);
		rmdir(suid_dir);
	}
	adv_fini();
}

static void on_abrt(int sig)
{
	char *argv[] = {suid_prog, marker, NULL};

	(void)sig;
	execv(suid_prog, argv);
	_exit(121);
}

/* A uid-3001 process that uid 3001 registered (hbctl register --pid)
 * hangs; at SIGABRT it exec's a setuid-root program that takes root for
 * good, as su does.  kill_grace later the process is root's: the SIGKILL
 * escalation is checked again, refused, and said so. */
Test(signals, escalation_after_exec_of_setuid_root, .fini = suid_fini)
{
	char pid[16], err[1024], buf[16] = "";
	int p[2], fd, st;

	adv_need_uids();
	adv_config("kill_grace = 1s\n[watched]\ntimeout = 500ms\n[hung]\ntimeout = 1s\n");
	install_suid(suid_dir, sizeof(suid_dir), suid_prog, sizeof(suid_prog));
	snprintf(marker, sizeof(marker), "%s/became-root", suid_dir);
	hbd_start();
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t parent = getpid(), s = fork();
	cr_assert_geq(s, 0);
	if (s == 0) {
		hbd_child_setup(parent);
		become(ADV_VICTIM_UID, parent);
		signal(SIGABRT, on_abrt);
		if (write(p[1], "x", 1) != 1)
			_exit(124);
		for (;;)
			pause();
	}
	track(s);
	close(p[1]);
	cr_assert_eq(read(p[0], buf, 1), 1);
	close(p[0]);
	snprintf(pid, sizeof(pid), "%d", (int)s);
	st = adv_run_as(ADV_VICTIM_UID, ADV_GROUP, NULL, 0, err, sizeof(err), "$HBCTL", "register",
			"--name", "watched", "--timeout", "500ms", "--pid", pid, NULL);
	cr_assert_eq(tu_exit_code(st), 0, "hbctl register as uid %u: %s", ADV_VICTIM_UID, err);

	cr_assert(hbd_log_wait("signal-sent", s, "SIGABRT", 5000), "the hang was not acted on");
	for (int i = 0; i < 200 && (fd = open(marker, O_RDONLY)) < 0; i++)
		hbd_sleep_ms(10);
	cr_assert_geq(fd, 0, "the process did not exec the setuid program");
	close(fd);
	/* kill_grace and a margin. */
	hbd_sleep_ms(2000);
	cr_assert(hbd_alive(s), "SIGKILL went to a process that is root's now");
	cr_assert_eq(hbd_log_count("escalated", s, NULL), 0);
	cr_assert(hbd_log_wait("untrusted", s, "not sending SIGKILL", 1000),
		  "the refused escalation is not said");
	hbd_kill(s, SIGKILL);
	cr_assert(hbd_wait_exit(s, 2000, &st));
	adv_still_kills("hung");
}
