/* pidinfo.h: what the kernel says of a process through its pidfd must be
 * what /proc says of it (uids, time namespace), and the forced /proc path
 * (HBWATCH_NO_PIDFD_INFO=1) must answer "ask /proc".  On a kernel without
 * PIDFD_GET_INFO (before 6.13) or PIDFD_GET_TIME_NAMESPACE (6.11) the
 * answers are "ask /proc" too, and the tests that need them are skipped. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidinfo.h"
#include "proc.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static void on(void)
{
	unsetenv("HBWATCH_NO_PIDFD_INFO");
}

TestSuite(pidinfo, .init = on);

/* A child that waits for a byte on P, with uids R/E/S (if root). */
static pid_t child_with_uids(int p[2], uid_t r, uid_t e, uid_t s)
{
	char c;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		if (r != (uid_t)-1 && setresuid(r, e, s) < 0)
			_exit(1);
		(void)!read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	return pid;
}

static void child_end(int p[2], pid_t pid)
{
	close(p[1]);
	waitpid(pid, NULL, 0);
}

Test(pidinfo, uids_are_those_of_proc)
{
	uid_t r = 12345, s = 12345, pr, pe, ps;
	int p[2], fd, k;
	pid_t pid = child_with_uids(p, geteuid() == 0 ? 1000 : (uid_t)-1, 1001, 1002);

	fd = pidfd_open(pid, 0);
	cr_assert(fd >= 0);
	usleep(50000); /* past its setresuid() */
	cr_assert_eq(proc_uids(pid, &pr, &pe, &ps), 0);
	k = pidinfo_uids(fd, &r, &s);
	child_end(p, pid);
	close(fd);
	if (k == -EOPNOTSUPP)
		cr_skip_test("PIDFD_GET_INFO unsupported by this kernel (Linux 6.13+)");
	cr_assert_eq(k, 0, "%s", strerror(-k));
	cr_assert_eq(r, pr, "real uid %u, /proc says %u", (unsigned)r, (unsigned)pr);
	cr_assert_eq(s, ps, "saved uid %u, /proc says %u", (unsigned)s, (unsigned)ps);
	if (geteuid() == 0)
		cr_assert(r == 1000 && s == 1002, "uids %u/%u, set 1000/1002", (unsigned)r,
			  (unsigned)s);
}

Test(pidinfo, exited_is_esrch)
{
	uid_t r, s;
	int p[2], fd, k;
	pid_t pid = child_with_uids(p, (uid_t)-1, 0, 0);

	fd = pidfd_open(pid, 0);
	cr_assert(fd >= 0);
	child_end(p, pid);
	k = pidinfo_uids(fd, &r, &s);
	close(fd);
	if (k == -EOPNOTSUPP)
		cr_skip_test("PIDFD_GET_INFO unsupported by this kernel (Linux 6.13+)");
	cr_assert_eq(k, -ESRCH, "%s", strerror(-k));
}

Test(pidinfo, forced_off_asks_proc)
{
	uid_t r, s;
	int fd = pidfd_open(getpid(), 0);

	cr_assert(fd >= 0);
	setenv("HBWATCH_NO_PIDFD_INFO", "1", 1);
	cr_assert_eq(pidinfo_uids(fd, &r, &s), -EOPNOTSUPP);
	cr_assert_lt(pidinfo_same_timens(fd), 0);
	close(fd);
}

Test(pidinfo, time_namespace)
{
	int fd = pidfd_open(getpid(), 0), k, p[2], q[2];
	pid_t mid, pid;
	char c;

	cr_assert(fd >= 0);
	k = pidinfo_same_timens(fd);
	close(fd);
	if (k == -ENOTTY || k == -EINVAL || k == -EOPNOTSUPP)
		cr_skip_test("PIDFD_GET_TIME_NAMESPACE unsupported by this kernel (Linux 6.11+)");
	cr_assert_eq(k, 1, "our own time namespace: %d", k);
	/* A process in a time namespace of its own: the child of one that
	 * unshared it (root). */
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(q), 0);
	mid = fork();
	cr_assert(mid >= 0);
	if (mid == 0) {
		close(p[0]);
		close(q[1]); /* the grandchild's read ends when we close ours */
		if (unshare(CLONE_NEWTIME) < 0) {
			pid = -errno;
		} else if ((pid = fork()) == 0) {
			(void)!read(q[0], &c, 1);
			_exit(0);
		}
		(void)!write(p[1], &pid, sizeof(pid));
		if (pid > 0)
			waitpid(pid, NULL, 0);
		_exit(0);
	}
	close(p[1]);
	close(q[0]);
	cr_assert_eq(read(p[0], &pid, sizeof(pid)), (ssize_t)sizeof(pid));
	k = pid > 0 ? pidinfo_same_timens(fd = pidfd_open(pid, 0)) : pid;
	if (pid > 0)
		close(fd);
	close(q[1]);
	waitpid(mid, NULL, 0);
	close(p[0]);
	if (pid == -EPERM)
		cr_skip_test("unshare(CLONE_NEWTIME) needs root");
	cr_assert(pid > 0, "unshare: %s", strerror(-pid));
	cr_assert_eq(k, 0, "another time namespace: %d", k);
}
