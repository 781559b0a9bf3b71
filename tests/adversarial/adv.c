/* See adv.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "harness.h"
#include "adv.h"
#include "proc.h"
#include "sem.h"

uint64_t adv_long_ago(void)
{
	uint64_t now = hbd_now_ns();

	return now > 5000000000u ? now - 5000000000u : 1;
}

int adv_forge_raw(uint32_t i, int32_t pid, uint64_t start_time, uint64_t timeout_ns,
		  uint64_t beat_ns, const char name[HB_NAME_SIZE])
{
	struct hb_table *t = hbd_table();
	struct hb_slot *s;
	uint64_t w[HB_NAME_WORDS];
	uint32_t seq;
	int r;

	cr_assert(i < t->slot_count);
	s = &t->slots[i];
	memcpy(w, name, sizeof(w));
	r = sem_lock(t->semid, HB_SEM_WAIT_MS);
	cr_assert(r == 0, "sem_lock: %s", strerror(-r));
	seq = atomic_load(&s->seq);
	atomic_store(&s->seq, seq | 1u);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&s->start_time, start_time, memory_order_relaxed);
	atomic_store_explicit(&s->timeout_ns, timeout_ns, memory_order_relaxed);
	atomic_store_explicit(&s->beat_ns, beat_ns, memory_order_relaxed);
	for (unsigned k = 0; k < HB_NAME_WORDS; k++)
		atomic_store_explicit(&s->name[k], w[k], memory_order_relaxed);
	atomic_store_explicit(&s->pid, pid, memory_order_relaxed);
	atomic_store_explicit(&s->seq, (seq | 1u) + 1u, memory_order_release);
	atomic_fetch_add(&t->hdr->generation, 1);
	sem_unlock(t->semid);
	table_ring(t);
	return (int)i;
}

uint32_t adv_free_slot(void)
{
	struct hb_table *t = hbd_table();
	int r = sem_lock(t->semid, HB_SEM_WAIT_MS), i;

	cr_assert(r == 0, "sem_lock: %s", strerror(-r));
	i = table_slot_find(t, 0);
	sem_unlock(t->semid);
	cr_assert(i >= 0, "no free slot");
	return (uint32_t)i;
}

int adv_forge(pid_t pid, const char *name, uint64_t timeout_ns, uint64_t beat_ns)
{
	char n[HB_NAME_SIZE] = {0};
	uint64_t st;

	cr_assert_eq(proc_starttime(pid, &st), 0, "no start time for pid %d", (int)pid);
	strncpy(n, name, sizeof(n) - 1);
	return adv_forge_raw(adv_free_slot(), pid, st, timeout_ns, beat_ns, n);
}

void adv_left_alone(pid_t pid, int ms)
{
	int st = 0;

	cr_assert(!hbd_wait_exit(pid, ms, &st), "pid %d died (status 0x%x)", (int)pid, st);
	cr_assert(hbd_alive(pid), "pid %d is gone", (int)pid);
	cr_assert_eq(hbd_log_count("signal-sent", pid, NULL), 0, "pid %d was signalled", (int)pid);
	cr_assert_eq(hbd_log_count("escalated", pid, NULL), 0, "pid %d was SIGKILLed", (int)pid);
}

pid_t adv_sleeper_as(uid_t uid, bool pgrp, int ignore)
{
	int p[2];
	char c;

	cr_assert_eq(pipe(p), 0);
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		hbd_child_setup(parent);
		if (ignore > 0)
			signal(ignore, SIG_IGN);
		if (pgrp && setpgid(0, 0) < 0)
			_exit(125);
		if (uid != (uid_t)-1 &&
		    (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
			_exit(126);
		close(p[0]);
		if (write(p[1], "x", 1) != 1)
			_exit(124);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "sleeper %d did not start", (int)pid);
	close(p[0]);
	/* Tracked by the harness, so hbd_fini() kills it. */
	cr_assert(H.n_kids < HBD_MAX_KIDS);
	H.kids[H.n_kids++] = pid;
	return pid;
}

int adv_slots_used(void)
{
	struct hb_table *t = hbd_table();
	int n = 0;

	for (uint32_t i = 0; i < t->slot_count; i++) {
		struct hb_slot_view v;
		if (table_slot_read(t, i, &v) < 0 || v.pid != 0)
			n++;
	}
	return n;
}
