/* Every signal inside the invariant: the facts are read by pid after the
 * pidfd pins the process, and the pidfd is asked whether the process is
 * still there after the read, so they were read from the process the
 * pidfd holds; then the decision (identity_may_signal()), then the signal
 * through that pidfd.  A group is never signalled by number. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "identity.h"
#include "proc.h"
#include "target.h"

int target_signal(const struct ownership_facts *writer, int pidfd, pid_t pid, uint64_t recorded,
		  int sig, char *why, size_t why_len)
{
	struct signal_facts f = {.recorded = recorded};

	identity_gather_signal(&f, pid);
	if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
		return -errno;
	switch (identity_may_signal(writer, &f, why, why_len)) {
	case IDENTITY_OK:
		break;
	case IDENTITY_STALE:
		return -ESRCH;
	default:
		return -EPERM;
	}
	return pidfd_send_signal(pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

static void tally_skip(struct target_tally *t, pid_t pid, const char *why)
{
	size_t len = strlen(t->skipped_list);
	uid_t ruid = 0, euid, suid;
	char uid[32] = "";

	if (t->skipped++ == 0)
		snprintf(t->why, sizeof(t->why), "%s", why);
	if (proc_uids(pid, &ruid, &euid, &suid) == 0)
		snprintf(uid, sizeof(uid), " (uid %u)", (unsigned)ruid);
	if (len + 1 < sizeof(t->skipped_list))
		snprintf(t->skipped_list + len, sizeof(t->skipped_list) - len, "%spid %d%s",
			 len ? ", " : "", (int)pid, uid);
}

static bool group_has(const struct target_group *g, pid_t pid)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].pid == pid)
			return true;
	return false;
}

/* Pin PID if it is in G's group: its pidfd first, then its group read
 * again, so the group read is that process's.  Returns its pidfd or -1. */
static int member_open(const struct target_group *g, pid_t pid, uint64_t *start)
{
	pid_t pg;
	int fd = pidfd_open(pid, 0);

	if (fd < 0)
		return -1;
	if (proc_pgrp(pid, &pg) < 0 || pg != g->pgrp || proc_starttime(pid, start) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void member_signal(const struct ownership_facts *writer, pid_t pgrp, struct target_member *m,
			  int sig, struct target_tally *t)
{
	char why[256];
	pid_t pg;
	int r;

	/* Still in the group?  A member may have left it since. */
	if (proc_pgrp(m->pid, &pg) < 0 || pg != pgrp)
		return;
	r = target_signal(writer, m->pidfd, m->pid, m->start_time, sig, why, sizeof(why));
	if (r == 0)
		t->sent++;
	else if (r == -EPERM)
		tally_skip(t, m->pid, why);
}

void target_group_signal(const struct ownership_facts *writer, struct target_group *g, pid_t leader,
			 bool enumerate, int sig, struct target_tally *t)
{
	DIR *dir;
	struct dirent *de;

	for (size_t i = 0; i < g->n; i++)
		member_signal(writer, g->pgrp, &g->v[i], sig, t);
	if (!enumerate || !(dir = opendir("/proc")))
		return;
	while ((de = readdir(dir)) != NULL) {
		char *end;
		long v = strtol(de->d_name, &end, 10);
		pid_t pg;
		uint64_t start;
		int fd;

		if (*end || v <= 1 || v > INT32_MAX || (pid_t)v == leader)
			continue;
		if (proc_pgrp((pid_t)v, &pg) < 0 || pg != g->pgrp || group_has(g, (pid_t)v))
			continue;
		fd = member_open(g, (pid_t)v, &start);
		if (fd < 0)
			continue;
		if (g->n == g->cap) {
			size_t cap = g->cap ? 2 * g->cap : 8;
			struct target_member *n = realloc(g->v, cap * sizeof(*n));

			if (!n) {
				close(fd);
				break; /* out of memory: the members signalled so far */
			}
			g->v = n;
			g->cap = cap;
		}
		g->v[g->n] =
		    (struct target_member){.pid = (pid_t)v, .pidfd = fd, .start_time = start};
		member_signal(writer, g->pgrp, &g->v[g->n++], sig, t);
	}
	closedir(dir);
}

void target_group_release(struct target_group *g)
{
	for (size_t i = 0; i < g->n; i++)
		close(g->v[i].pidfd);
	free(g->v);
	*g = (struct target_group){0};
}
