/* Each signal hbwatch sends goes to a process that the record's writer
 * could signal itself, as kill(2) decides, on facts read just before that
 * signal: the registered process and, for kill_group, each member of its
 * process group on its own, through a pidfd of its own. */
#ifndef HBWATCH_TARGET_H
#define HBWATCH_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ownership.h"

/* One member of a process group signalled, pinned by its pidfd. */
struct target_member {
	pid_t pid;
	int pidfd;
	uint64_t start_time;
};

/* The members of a group signalled so far, so that SIGCONT and SIGKILL go
 * to the same processes even once the leader is gone. */
struct target_group {
	pid_t pgrp; /* 0: none */
	struct target_member *v;
	size_t n, cap;
};

/* What one pass over a group did: members signalled and refused, and
 * the refused ones named ("pid 123 (uid 0), ..."). */
struct target_tally {
	unsigned sent, skipped;
	char skipped_list[384];
	char why[256]; /* why the first one was refused */
};

/* Send SIG to the process PIDFD holds (pid PID, started at RECORDED, or
 * any start time if 0) if WRITER could signal it, checked now.  Returns 0
 * (sent), -EPERM (refused: WHY says why), -ESRCH (gone) or -errno. */
int target_signal(const struct ownership_facts *writer, int pidfd, pid_t pid, uint64_t recorded,
		  int sig, char *why, size_t why_len);

/* Send SIG to every member of process group G->pgrp but LEADER that
 * WRITER could signal, each checked now: the members met before, and, if
 * ENUMERATE (only while the leader is known alive, so that the group
 * number is still the same group), those /proc lists now.  T counts. */
void target_group_signal(const struct ownership_facts *writer, struct target_group *g, pid_t leader,
			 bool enumerate, int sig, struct target_tally *t);

/* Close the pidfds of G and forget it. */
void target_group_release(struct target_group *g);

#endif
