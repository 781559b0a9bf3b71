#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

#define PF_KTHREAD 0x00200000u

/* Read the file PATH of /proc into BUF, NUL-terminated. */
static int read_proc_file(const char *path, char *buf, size_t size, size_t *len)
{
	ssize_t n;
	int fd;

	*len = 0; /* never returns 0 with *LEN unset, even if errno were 0 */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return e == ESRCH ? -ESRCH : -e;
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/* Read /proc/PID/WHAT.  A pid below 1 names no process. */
static int read_proc(pid_t pid, const char *what, char *buf, size_t size, size_t *len)
{
	char path[64];

	*len = 0;
	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	return read_proc_file(path, buf, size, len);
}

/* Where field 3 (the state) of a stat line starts: after the last ')',
 * since comm may hold spaces and parentheses; NULL if malformed. */
static const char *stat_after_comm(const char *buf, size_t len)
{
	const char *p = NULL, *end = buf + len;

	for (const char *q = buf; q < end; q++)
		if (*q == ')')
			p = q;
	if (!p || p + 1 >= end || p[1] != ' ')
		return NULL;
	return p + 2;
}

int proc_parse_state(const char *buf, size_t len, char *state)
{
	const char *p = stat_after_comm(buf, len);

	if (!p || p >= buf + len || p[0] < 'A' || p[0] > 'z' || p + 1 >= buf + len || p[1] != ' ')
		return -EINVAL;
	*state = p[0];
	return 0;
}

/* Fields from the third on are separated by single spaces after the last
 * ')'. */
int proc_parse_stat_field(const char *buf, size_t len, unsigned field, unsigned long long *out)
{
	const char *p = stat_after_comm(buf, len), *end = buf + len;
	unsigned long long v = 0;

	if (!p || field < 3)
		return -EINVAL;
	for (unsigned f = 3; f < field; f++) {
		while (p < end && *p != ' ')
			p++;
		if (p >= end)
			return -EINVAL;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return -EINVAL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (~0ULL - 9) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (p < end && *p != ' ' && *p != '\n')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Field FIELD of /proc/PID/stat. */
static int proc_stat_field(pid_t pid, unsigned field, unsigned long long *v)
{
	char buf[1024];
	size_t len;
	int r = read_proc(pid, "stat", buf, sizeof(buf), &len);

	return r < 0 ? r : proc_parse_stat_field(buf, len, field, v);
}

int proc_pgrp(pid_t pid, pid_t *pgrp)
{
	unsigned long long v;
	int r = proc_stat_field(pid, 5, &v);

	if (r < 0)
		return r;
	if (v > INT32_MAX)
		return -EINVAL;
	*pgrp = (pid_t)v;
	return 0;
}

int proc_parse_starttime(const char *buf, size_t len, uint64_t *start_time)
{
	unsigned long long v;
	int r = proc_parse_stat_field(buf, len, 22, &v);

	if (r < 0)
		return r;
	*start_time = v;
	return 0;
}

int proc_starttime(pid_t pid, uint64_t *start_time)
{
	char buf[1024];
	size_t len;
	int r = read_proc(pid, "stat", buf, sizeof(buf), &len);

	return r < 0 ? r : proc_parse_starttime(buf, len, start_time);
}

ssize_t proc_read_at(int dir, const char *path, char *buf, size_t size)
{
	int fd = openat(dir, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;
	int e;

	buf[0] = '\0';
	if (fd < 0) {
		e = errno;
		return e > 0 ? -e : -EIO; /* never 0 or positive: not a length */
	}
	n = read(fd, buf, size - 1);
	e = errno;
	close(fd);
	if (n < 0)
		return e > 0 ? -e : -EIO;
	buf[n] = '\0';
	return n;
}

int proc_stat_facts(pid_t pid, struct proc_stat *st)
{
	unsigned long long flags, utime, stime;
	char buf[1024];
	size_t len;
	int r = read_proc(pid, "stat", buf, sizeof(buf), &len);

	if (r < 0)
		return r;
	r = proc_parse_starttime(buf, len, &st->start_time);
	if (r >= 0)
		r = proc_parse_stat_field(buf, len, 9, &flags);
	if (r >= 0)
		r = proc_parse_stat_field(buf, len, 14, &utime);
	if (r >= 0)
		r = proc_parse_stat_field(buf, len, 15, &stime);
	if (r < 0)
		return r;
	st->kthread = (flags & PF_KTHREAD) != 0;
	st->cpu_ticks = utime + stime;
	return 0;
}

int proc_parse_uids(const char *buf, uid_t *ruid, uid_t *euid, uid_t *suid)
{
	const char *p = buf;
	unsigned long v[3];
	char *end;

	if (strncmp(buf, "Uid:", 4) == 0) {
		p += 4;
	} else {
		p = strstr(buf, "\nUid:");
		if (!p)
			return -EINVAL;
		p += 5;
	}
	for (int k = 0; k < 3; k++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v[k] = strtoul(p, &end, 10);
		if (errno || end == p || v[k] > (uid_t)-2)
			return -EINVAL;
		p = end;
	}
	*ruid = (uid_t)v[0];
	*euid = (uid_t)v[1];
	*suid = (uid_t)v[2];
	return 0;
}

int proc_uids(pid_t pid, uid_t *ruid, uid_t *euid, uid_t *suid)
{
	char buf[4096] = "";
	size_t len;
	int r = read_proc(pid, "status", buf, sizeof(buf), &len);

	if (r < 0)
		return r;
	return proc_parse_uids(buf, ruid, euid, suid);
}

uint64_t proc_started_by(uint64_t made_boot_ns, uint64_t now_boot_ns)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t t = made_boot_ns < now_boot_ns ? made_boot_ns : now_boot_ns;

	if (!made_boot_ns || hz <= 0 || hz > 1000000000)
		return 0;
	/* The kernel's own rounding (nsec_to_clock_t): down. */
	return t / (1000000000u / (uint64_t)hz);
}

bool proc_start_matches(uint64_t start, uint64_t recorded, uint64_t started_by)
{
	if (recorded)
		return start == recorded;
	return started_by && start <= started_by;
}

int proc_start_realtime(uint64_t start_time, uint64_t *realtime_ns)
{
	struct timespec boot, real;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t since_boot, start_ns, now_real;

	if (hz <= 0)
		return -EINVAL;
	/* The kernel counts start_time on CLOCK_BOOTTIME (since 5.5; on the
	 * monotonic clock before, which differs only across suspends). */
	if (clock_gettime(CLOCK_BOOTTIME, &boot) < 0 || clock_gettime(CLOCK_REALTIME, &real) < 0)
		return -errno;
	since_boot = (uint64_t)boot.tv_sec * 1000000000u + (uint64_t)boot.tv_nsec;
	now_real = (uint64_t)real.tv_sec * 1000000000u + (uint64_t)real.tv_nsec;
	start_ns = start_time / (uint64_t)hz * 1000000000u +
		   start_time % (uint64_t)hz * (1000000000u / (uint64_t)hz);
	if (start_ns > since_boot)
		start_ns = since_boot;
	if (now_real < since_boot - start_ns)
		return -ERANGE;
	*realtime_ns = now_real - (since_boot - start_ns);
	return 0;
}
