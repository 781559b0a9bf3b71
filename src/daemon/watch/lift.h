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
 * The lifted work is bounded: past its budget of CPU time within a second
 * (deadline_budget, 500 ms by default: a flood of short deadlines, which
 * any local user can make, takes no more than half a core from normal
 * processes), the rest of that second's deadlines wait at the normal
 * policy, and hbwatch says so.
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

#define LIFT_WINDOW_NS	  (1000u * 1000u * 1000u)
#define LIFT_REPORT_EVERY (60u * LIFT_WINDOW_NS)

struct lift {
	int priority;	/* SCHED_RR priority; 0: off */
	int tfd;	/* the lifting thread's timer, -1: off */
	pid_t loop_tid; /* the thread it lifts */
	bool running;
	_Atomic bool stop;
	pthread_t thread;
	uint64_t budget_ns;	  /* the most CPU time lifted within a second */
	uint64_t window_ns;	  /* when the current second began */
	uint64_t used_ns;	  /* CPU time spent lifted in it */
	uint64_t paused_until_ns; /* no lift before this; 0: none */
	uint64_t pauses;	  /* seconds the budget ran out, since start */
	uint64_t reported_ns;	  /* when that was last said */
};

/* Start lifting the calling thread (the loop) at PRIORITY (1-99; 0 turns
 * it off), for at most BUDGET_NS of CPU time in any second.  Logs once
 * what it does, or why it cannot.  Returns 0, also when the kernel refuses
 * and the loop runs unlifted; -errno only if a thread or timer cannot be
 * made. */
int lift_start(struct lift *l, int priority, uint64_t budget_ns);

/* A new budget (a reload), counted from the current second on. */
void lift_set_budget(struct lift *l, uint64_t budget_ns);

/* The loop's next deadline timer falls due at AT_NS (CLOCK_MONOTONIC). */
void lift_arm(struct lift *l, uint64_t at_ns);

/* The loop begins its deadline work: the thread's CPU time, for
 * lift_lower() to count against the budget. */
uint64_t lift_work_begins(void);

/* The deadlines are dealt with (the work began at WORK_BEGAN): back to the
 * normal policy, to be lifted again at NEXT_NS, the loop's next deadline.
 * Armed before the loop lowers itself: once lowered, it may wait for a CPU
 * before it gets as far as arming its timer. */
void lift_lower(struct lift *l, uint64_t next_ns, uint64_t work_began);

/* Stop the thread.  Safe on a zeroed struct with tfd = -1. */
void lift_stop(struct lift *l);

/* Whether lifting is on (the kernel allowed SCHED_RR at start). */
static inline bool lift_on(const struct lift *l)
{
	return l->running;
}

#endif
