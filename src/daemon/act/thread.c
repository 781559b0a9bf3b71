/* Reading and pinning the thread a record names (thread.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "thread.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9 */
#endif

/* Is TID a thread of PID now?  /proc/PID/task lists exactly them. */
static bool thread_of(pid_t pid, pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
	return stat(path, &st) == 0;
}

/* The first line of /proc/PID/task/TID/NAME into BUF, without its
 * newline; "" if unreadable. */
static void read_line(pid_t pid, pid_t tid, const char *name, char *buf, size_t len)
{
	char path[96];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", (int)pid, (int)tid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* The function names of a kernel stack ("[<0>] do_sys_poll+0x1c/0x40"
 * per line), joined by " < ": innermost first. */
static void read_stack(pid_t pid, pid_t tid, char *out, size_t len)
{
	char path[96], raw[2048];
	size_t used = 0;
	ssize_t n;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, raw, sizeof(raw) - 1);
	close(fd);
	raw[n > 0 ? n : 0] = '\0';
	for (char *save = NULL, *l = strtok_r(raw, "\n", &save); l && used + 1 < len;
	     l = strtok_r(NULL, "\n", &save)) {
		char *fn = strchr(l, ' ');
		size_t k;

		if (!fn)
			continue;
		fn++;
		k = strcspn(fn, "+ ");
		if (k == 0)
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s%.*s", used ? " < " : "",
					 (int)k, fn);
		if (used >= len)
			used = len - 1;
	}
}

int thread_read(pid_t pid, pid_t tid, struct thread_facts *f)
{
	char stat[512], *p;

	*f = (struct thread_facts){.state = '?'};
	if (tid <= 0 || !thread_of(pid, tid))
		return -ESRCH;
	read_line(pid, tid, "stat", stat, sizeof(stat));
	p = strrchr(stat, ')');
	if (p && p[1] == ' ' && p[2])
		f->state = p[2];
	read_line(pid, tid, "wchan", f->wchan, sizeof(f->wchan));
	if (strcmp(f->wchan, "0") == 0)
		f->wchan[0] = '\0';
	read_line(pid, tid, "syscall", f->syscall, sizeof(f->syscall));
	f->syscall[strcspn(f->syscall, " ")] = '\0'; /* the number: the arguments are its */
	read_stack(pid, tid, f->stack, sizeof(f->stack));
	/* Still its thread after the reads: they were of that thread. */
	if (!thread_of(pid, tid))
		return -ESRCH;
	f->tid = tid;
	return 0;
}

int thread_pidfd(pid_t pid, pid_t tid)
{
	const char *off = getenv("HBWATCH_NO_THREAD_PIDFD");
	int fd;

	if (off && strcmp(off, "1") == 0)
		return -EINVAL;
	if (tid <= 0)
		return -ESRCH;
	fd = pidfd_open(tid, PIDFD_THREAD);
	if (fd < 0)
		return -errno;
	/* Pinned: a thread of PID now, and still there after the look, so
	 * the one looked at. */
	if (!thread_of(pid, tid) || pidfd_send_signal(fd, 0, NULL, 0) < 0) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

size_t thread_fields(const struct thread_facts *f, char (*buf)[320], const char **v, size_t n)
{
	size_t k = 0;

	if (!f->tid || n < 5)
		return 0;
	snprintf(buf[k], sizeof(buf[k]), "HBWATCH_TID=%d", (int)f->tid);
	v[k] = buf[k];
	k++;
	snprintf(buf[k], sizeof(buf[k]), "HBWATCH_THREAD_STATE=%c", f->state);
	v[k] = buf[k];
	k++;
	if (f->wchan[0]) {
		snprintf(buf[k], sizeof(buf[k]), "HBWATCH_THREAD_WCHAN=%s", f->wchan);
		v[k] = buf[k];
		k++;
	}
	if (f->syscall[0]) {
		snprintf(buf[k], sizeof(buf[k]), "HBWATCH_THREAD_SYSCALL=%s", f->syscall);
		v[k] = buf[k];
		k++;
	}
	if (f->stack[0]) {
		snprintf(buf[k], sizeof(buf[k]), "HBWATCH_THREAD_STACK=%s", f->stack);
		v[k] = buf[k];
		k++;
	}
	return k;
}
