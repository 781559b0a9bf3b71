/* Deadlines first.  The loop runs at the normal scheduling policy, where
 * it waits for a CPU like any other process: when thousands of processes
 * exit or register at once, all of them are runnable together, and a
 * deadline that falls due then would be acted on seconds late.  A thread
 * of its own, at SCHED_RR, sleeps until the loop's next deadline timer
 * and then lifts the loop thread to SCHED_RR too, so that it gets a CPU at
 * once, wherever it is: asleep, or half-way through a slice of
 * registrations or exits (those slices are bounded, and the timer's event
 * comes before theirs).  The loop lowers itself again as soon as the
 * deadlines are dealt with, so taking in registrations and exits never
 * runs ahead of the processes that make them.
 *
 * Where the kernel refuses SCHED_RR (no CAP_SYS_NICE and RLIMIT_RTPRIO
 * below the priority; a cgroup without real-time runtime; a seccomp filter
 * such as systemd's RestrictRealtime=), hbwatch says so once and runs
 * everything at the normal policy, as with deadline_priority = 0. */
#ifndef HBWATCH_LIFT_H
#define HBWATCH_LIFT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct lift {
	int priority;	/* SCHED_RR priority; 0: off */
	int tfd;	/* the lifting thread's timer, -1: off */
	pid_t loop_tid; /* the thread it lifts */
	bool running;
	_Atomic bool stop;
	pthread_t thread;
};

/* Start lifting the calling thread (the loop) at PRIORITY (1-99; 0 turns
 * it off).  Logs once what it does, or why it cannot.  Returns 0, also
 * when the kernel refuses and the loop runs unlifted; -errno only if a
 * thread or timer cannot be made. */
int lift_start(struct lift *l, int priority);

/* The loop's next deadline timer falls due at AT_NS (CLOCK_MONOTONIC). */
void lift_arm(struct lift *l, uint64_t at_ns);

/* The deadlines are dealt with: back to the normal policy, to be lifted
 * again at NEXT_NS, the loop's next deadline.  Armed before the loop
 * lowers itself: once lowered, it may wait for a CPU before it gets as far
 * as arming its timer. */
void lift_lower(struct lift *l, uint64_t next_ns);

/* Stop the thread.  Safe on a zeroed struct with tfd = -1. */
void lift_stop(struct lift *l);

/* Whether lifting is on (the kernel allowed SCHED_RR at start). */
static inline bool lift_on(const struct lift *l)
{
	return l->running;
}

#endif
