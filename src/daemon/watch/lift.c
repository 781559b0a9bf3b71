#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "lift.h"
#include "log.h"

#define LIFT_JOIN_S 3

static unsigned long long ms(uint64_t ns)
{
	return (unsigned long long)(ns / 1000000u);
}

/* Every change keeps SCHED_RESET_ON_FORK, so nothing hbwatch might start
 * inherits a real-time policy; once set, an unprivileged thread may not
 * clear it anyway. */
static int set_policy(pid_t tid, int policy, int priority)
{
	struct sched_param sp = {.sched_priority = priority};

	return sched_setscheduler(tid, policy | SCHED_RESET_ON_FORK, &sp) < 0 ? -errno : 0;
}

/* Asleep on the timer; at each expiry, lift the loop.  Lifting a loop that
 * is already lifted, or asleep, costs one system call and changes nothing
 * it would not have done: it runs the timer's event next. */
static void *lift_thread(void *arg)
{
	struct lift *l = arg;
	uint64_t expiries;

	(void)set_policy(0, SCHED_RR, l->priority);
	(void)pthread_setname_np(pthread_self(), "hbwatch-lift");
	while (!atomic_load(&l->stop)) {
		if (read(l->tfd, &expiries, sizeof(expiries)) < 0 && errno != EINTR)
			break;
		if (atomic_load(&l->stop))
			break;
		(void)set_policy(l->loop_tid, SCHED_RR, l->priority);
	}
	return NULL;
}

/* Whether the kernel lets this thread run at SCHED_RR PRIORITY: tried on
 * the calling thread, which is then put back at the normal policy. */
static int probe(int priority)
{
	int r = set_policy(0, SCHED_RR, priority);

	if (r == 0)
		r = set_policy(0, SCHED_OTHER, 0);
	return r;
}

static const char *refusal_hint(int r)
{
	if (r != -EPERM)
		return "";
	return " (it needs CAP_SYS_NICE or LimitRTPRIO= of at least the priority, no "
	       "RestrictRealtime=, and, on cgroup v1 with real-time group scheduling, a cpu "
	       "cgroup with cpu.rt_runtime_us above 0)";
}

int lift_start(struct lift *l, int priority, uint64_t budget_ns)
{
	int r;

	*l = (struct lift){
	    .priority = priority, .tfd = -1, .loop_tid = gettid(), .budget_ns = budget_ns};
	if (priority == 0) {
		log_info("deadline_priority = 0: deadlines wait for a CPU like the rest of "
			 "hbwatch's work");
		return 0;
	}
	r = probe(priority);
	if (r < 0) {
		log_warning("cannot use SCHED_RR priority %d for deadlines: %s%s; they wait for a "
			    "CPU like the rest of hbwatch's work, and may be acted on late while "
			    "thousands of processes start or exit at once",
			    priority, strerror(-r), refusal_hint(r));
		return 0;
	}
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (l->tfd < 0)
		return -errno;
	r = -pthread_create(&l->thread, NULL, lift_thread, l);
	if (r < 0) {
		close(l->tfd);
		l->tfd = -1;
		return r;
	}
	l->running = true;
	log_info("deadlines first: each deadline timer lifts the loop to SCHED_RR priority %d "
		 "until it is dealt with, for at most %llu ms of CPU time a second",
		 priority, ms(budget_ns));
	return 0;
}

void lift_set_budget(struct lift *l, uint64_t budget_ns)
{
	l->budget_ns = budget_ns;
}

void lift_arm(struct lift *l, uint64_t at_ns)
{
	struct itimerspec its = {0};

	if (!l->running)
		return;
	if (at_ns < l->paused_until_ns)
		at_ns = l->paused_until_ns;
	/* UINT64_MAX (nothing due) disarms; 0 would too, so the past is 1 ns. */
	if (at_ns != UINT64_MAX) {
		if (at_ns == 0)
			at_ns = 1;
		its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
		its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
	}
	(void)timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

uint64_t lift_work_begins(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Count WORK_NS against this second's budget; past it, no lift until the
 * second ends, said at most once a minute. */
static void budget_count(struct lift *l, uint64_t work_ns)
{
	uint64_t now = now_ns();

	if (now - l->window_ns >= LIFT_WINDOW_NS) {
		l->window_ns = now;
		l->used_ns = 0;
		l->paused_until_ns = 0;
	}
	l->used_ns += work_ns;
	if (l->used_ns <= l->budget_ns || l->paused_until_ns)
		return;
	l->paused_until_ns = l->window_ns + LIFT_WINDOW_NS;
	l->pauses++;
	if (l->reported_ns && now - l->reported_ns < LIFT_REPORT_EVERY)
		return;
	l->reported_ns = now;
	log_warning("deadline work took more than %llu ms of CPU at SCHED_RR within a second "
		    "(%llu time%s since start; deadline_budget): until the second ends, "
		    "deadlines wait for a CPU at the normal policy",
		    ms(l->budget_ns), (unsigned long long)l->pauses, l->pauses == 1 ? "" : "s");
}

void lift_lower(struct lift *l, uint64_t next_ns, uint64_t work_began)
{
	if (!l->running)
		return;
	budget_count(l, lift_work_begins() - work_began);
	lift_arm(l, next_ns);
	(void)set_policy(0, SCHED_OTHER, 0);
}

void lift_stop(struct lift *l)
{
	if (l->running) {
		struct itimerspec now = {.it_value = {.tv_nsec = 1}};
		struct timespec ts;

		atomic_store(&l->stop, true);
		(void)timerfd_settime(l->tfd, 0, &now, NULL);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += LIFT_JOIN_S;
		if (pthread_timedjoin_np(l->thread, NULL, &ts) != 0)
			pthread_detach(l->thread);
		(void)set_policy(0, SCHED_OTHER, 0);
		l->running = false;
		if (l->pauses)
			log_info(
			    "deadline work ran out of its %llu ms a second at SCHED_RR in %llu "
			    "second%s since start",
			    ms(l->budget_ns), (unsigned long long)l->pauses,
			    l->pauses == 1 ? "" : "s");
	}
	if (l->tfd >= 0)
		close(l->tfd);
	l->tfd = -1;
}
