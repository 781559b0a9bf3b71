/* The thread that last beat a missed heartbeat: the record names it (its
 * writer's word), so it is looked at and signalled only once /proc shows
 * it is a thread of that process.  Its state, wchan and system call tell
 * where it hangs; the first signal goes to it alone, through a thread
 * pidfd (Linux 6.9+), so a SIGABRT core dump leads with its stack. */
#ifndef HBWATCH_THREAD_H
#define HBWATCH_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What /proc says of one thread of a process. */
struct thread_facts {
	pid_t tid;	  /* 0: none named, or not a thread of the process */
	char state;	  /* its state letter, '?' unknown */
	char wchan[64];	  /* where it sleeps, "" unknown */
	char syscall[64]; /* /proc/PID/task/TID/syscall: its number, or "running" */
	char stack[256];  /* the kernel stack's function names, "" without the rights */
};

/* Read thread TID of PID into F, if TID (from the record) is a thread of
 * PID.  Returns 0, or -ESRCH (no such thread of PID: F->tid is 0). */
int thread_read(pid_t pid, pid_t tid, struct thread_facts *f);

/* A pidfd of thread TID of PID, checked to be a thread of PID after it is
 * pinned: >= 0, or -EINVAL where the kernel has no thread pidfds (or the
 * environment says HBWATCH_NO_THREAD_PIDFD=1, to test the fallback),
 * -ESRCH if TID is no thread of PID, or -errno. */
int thread_pidfd(pid_t pid, pid_t tid);

/* The journal fields of F: "HBWATCH_TID=...", "HBWATCH_THREAD_STATE=...",
 * "HBWATCH_THREAD_WCHAN=...", "HBWATCH_THREAD_SYSCALL=...",
 * "HBWATCH_THREAD_STACK=...", into BUF (N of LEN each), pointers into V
 * (NULL-terminated, at most N).  Returns how many. */
size_t thread_fields(const struct thread_facts *f, char (*buf)[320], const char **v, size_t n);

#endif
