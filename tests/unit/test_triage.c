/* Triage from recorded /proc contents (pure): the state summary, the
 * wchans, the words, the journal fields, and the verdict on a process
 * still there kill_grace after SIGKILL (a real D state is hard to make in
 * a test, so its /proc text is given here as the kernel writes it). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "triage.h"

/* A /proc/PID/stat line as the kernel writes it: state, utime, stime,
 * num_threads and starttime filled in. */
static const char *stat_line(char *buf, size_t len, const char *comm, char state,
			     unsigned long long ut, unsigned long long st, unsigned threads,
			     unsigned long long start)
{
	snprintf(buf, len,
		 "4242 (%s) %c 1 4242 4242 0 -1 4194560 120 0 0 0 %llu %llu 0 0 20 0 %u 0 %llu "
		 "3133440 394 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		 comm, state, ut, st, threads, start);
	return buf;
}

/* The facts of a process whose main thread is in MAIN with wchan MAIN_W,
 * and whose other threads are in the states of OTHERS (one letter each),
 * those in D sleeping in D_W. */
static struct triage_facts facts(char main, const char *main_w, const char *others, const char *d_w)
{
	struct triage_facts f = {0};
	char buf[512];

	stat_line(buf, sizeof(buf), "svc", main, 50, 20, 1 + (unsigned)strlen(others), 99);
	cr_assert_eq(triage_parse_process(&f, buf, strlen(buf)), 0);
	triage_set_wchan(f.wchan, main_w, strlen(main_w));
	for (const char *o = others; *o; o++) {
		stat_line(buf, sizeof(buf), "svc", *o, 0, 0, 1, 99);
		cr_assert_eq(triage_add_thread(&f, buf, strlen(buf)), *o);
		if (*o == 'D') {
			char w[TRIAGE_WCHAN_SIZE];
			triage_set_wchan(w, d_w, strlen(d_w));
			triage_add_d_wchan(&f, w);
		}
	}
	return f;
}

Test(triage, parses_the_process_line)
{
	struct triage_facts f = {0};
	const char *s = "15519 (a (b) c) R 15514 15514 26605 0 -1 4194304 101 0 0 0 731 42 0 0 "
			"20 0 3 0 1201300 3133440 394 18446744073709551615 1 1 0 0 0\n";

	cr_assert_eq(triage_parse_process(&f, s, strlen(s)), 0);
	cr_assert(f.read);
	cr_assert_eq(f.state, 'R');
	cr_assert_eq(f.threads, 3);
	cr_assert_eq(f.cpu_ticks, 773);
	cr_assert_eq(f.start_time, 1201300);
	cr_assert_eq(f.seen, 1);
	cr_assert_eq(triage_parse_process(&f, "1 (x) S 1 2", 11), -EINVAL);
}

Test(triage, wchan_zero_or_odd_is_unknown)
{
	char w[TRIAGE_WCHAN_SIZE];

	triage_set_wchan(w, "anon_pipe_read", 14);
	cr_assert_str_eq(w, "anon_pipe_read");
	triage_set_wchan(w, "do_epoll_wait\n", 14);
	cr_assert_str_eq(w, "do_epoll_wait");
	triage_set_wchan(w, "0", 1);
	cr_assert_str_eq(w, "");
	triage_set_wchan(w, "", 0);
	cr_assert_str_eq(w, "");
	triage_set_wchan(w, "evil\x1b[2J", 8);
	cr_assert_str_eq(w, "");
}

Test(triage, summary_of_threads_and_their_wchans)
{
	struct triage_facts f = facts('S', "pipe_read", "SSD", "nfs_wait_on_request");
	struct hb_status_triage t;

	triage_summarize(&f, 0, 1000000, &t);
	cr_assert_str_eq(t.state, "S (threads: 3 S, 1 D)");
	cr_assert_str_eq(t.wchan, "pipe_read; D: nfs_wait_on_request");
	cr_assert_eq(t.threads, 4);
	cr_assert_str_eq(t.words,
			 "in uninterruptible sleep (D) in nfs_wait_on_request (1 of 4 threads)");

	struct triage_fields fl;
	triage_fields(&f, &t, &fl);
	cr_assert_str_eq(fl.v[0], "HBWATCH_PROC_STATE=S (threads: 3 S, 1 D)");
	cr_assert_str_eq(fl.v[1], "HBWATCH_STATE=S");
	cr_assert_str_eq(fl.v[2], "HBWATCH_WCHAN=pipe_read; D: nfs_wait_on_request");
	cr_assert_str_eq(fl.v[3], "HBWATCH_THREADS=4");
	cr_assert_str_eq(fl.v[4], "HBWATCH_CPU_USEC_SINCE_BEAT=0");
	cr_assert_str_eq(fl.v[5], "HBWATCH_CPU_WINDOW_USEC=1000000");
	cr_assert_null(fl.v[6]);
}

Test(triage, distinct_d_wchans_are_counted)
{
	struct triage_facts f = facts('D', "0", "DDD", "fuse_wait_answer");
	char w[128];

	triage_add_d_wchan(&f, "a");
	triage_add_d_wchan(&f, "b");
	triage_add_d_wchan(&f, "c"); /* no room left: counted */
	struct triage_fields fl;
	struct hb_status_triage t;
	triage_summarize(&f, UINT64_MAX, 0, &t);
	triage_fields(&f, &t, &fl);
	snprintf(w, sizeof(w), "%s", fl.v[2]);
	cr_assert_str_eq(w, "HBWATCH_WCHAN=unknown; D: fuse_wait_answer (3), a, b, 1 more");
	/* CPU unknown: no CPU fields at all. */
	cr_assert_null(fl.v[4]);
}

Test(triage, words_say_what_it_does)
{
	struct triage_facts busy = facts('R', "0", "", "");
	struct triage_facts blocked = facts('S', "pipe_read", "", "");
	struct triage_facts stopped = facts('T', "do_signal_stop", "", "");
	struct triage_facts traced = facts('t', "ptrace_stop", "", "");
	struct triage_facts starved = facts('R', "0", "", "");
	struct triage_facts unread = {.why = "gone"};
	char w[256];

	triage_words(&busy, 980000, 1000000, w, sizeof(w));
	cr_assert_str_eq(w, "spinning: 98 % CPU since its last beat");
	triage_words(&blocked, 0, 1000000, w, sizeof(w));
	cr_assert_str_eq(w, "blocked in pipe_read: 0 % CPU over the last 1.0 s");
	triage_words(&blocked, UINT64_MAX, 0, w, sizeof(w));
	cr_assert_str_eq(w, "blocked in pipe_read");
	triage_words(&stopped, 0, 1000000, w, sizeof(w));
	cr_assert_str_eq(w, "stopped (T)");
	triage_words(&traced, 0, 1000000, w, sizeof(w));
	cr_assert_str_eq(w, "stopped by its tracer (t)");
	triage_words(&starved, 30000, 1000000, w, sizeof(w));
	cr_assert_str_eq(w, "runnable but starved: 3 % CPU since its last beat");
	triage_words(&unread, UINT64_MAX, 0, w, sizeof(w));
	cr_assert_str_eq(w, "state unknown: gone");

	struct hb_status_triage t;
	triage_summarize(&busy, 980000, 1000000, &t);
	cr_assert_str_eq(t.state, "R (threads: 1 R)");
	cr_assert_str_eq(t.wchan, "none (running)");
}

Test(triage, budget_left_threads_unread)
{
	struct triage_facts f = {0};
	char buf[512];

	stat_line(buf, sizeof(buf), "svc", 'S', 0, 0, 64, 99);
	cr_assert_eq(triage_parse_process(&f, buf, strlen(buf)), 0);
	stat_line(buf, sizeof(buf), "svc", 'S', 0, 0, 64, 99);
	triage_add_thread(&f, buf, strlen(buf));

	struct hb_status_triage t;
	triage_summarize(&f, UINT64_MAX, 0, &t);
	cr_assert_str_eq(t.state, "S (threads: 2 S, 62 not read)");
}

Test(triage, context_switches_of_status)
{
	struct triage_facts f = {0};
	const char *status = "Name:\tsvc\nState:\tS (sleeping)\nThreads:\t1\n"
			     "voluntary_ctxt_switches:\t505\nnonvoluntary_ctxt_switches:\t92\n";

	cr_assert_eq(triage_parse_ctxt(&f, status), 0);
	cr_assert(f.have_ctxt);
	cr_assert_eq(f.vcsw, 505);
	cr_assert_eq(f.nvcsw, 92);
	f = (struct triage_facts){0};
	cr_assert_eq(triage_parse_ctxt(&f, "Name:\tsvc\n"), -EINVAL);
	cr_assert(!f.have_ctxt);
}

Test(triage, cpu_ticks_and_sample_gap)
{
	cr_assert_eq(triage_ticks_usec(98, 100), 980000);
	cr_assert_eq(triage_ticks_usec(1, 250), 4000);
	cr_assert_eq(triage_ticks_usec(5, 0), UINT64_MAX);
	cr_assert_eq(triage_sample_gap(1000000000u), 250000000u);
	cr_assert_eq(triage_sample_gap(20000000u), 10000000u);
	/* Samples due at nearby times share one scan on a grid of gap/4. */
	cr_assert_eq(triage_sample_tick(1000001u * 1000u, 250000000u), 1062500000u);
	cr_assert_eq(triage_sample_tick(1062500000u, 250000000u), 1062500000u);
	cr_assert_eq(triage_sample_tick(UINT64_MAX - 5, 250000000u), UINT64_MAX - 5);
}

/* The decision kill_grace after SIGKILL. */

Test(unkillable, d_state_is_unkillable_and_says_where)
{
	struct triage_facts f = facts('D', "fuse_wait_answer", "S", "");
	char why[512];

	cr_assert_eq(triage_after_sigkill(&f, why, sizeof(why)), TRIAGE_UNKILLABLE);
	cr_assert_str_eq(why,
			 "state D (threads: 1 S, 1 D), wchan fuse_wait_answer: the kernel holds "
			 "it in uninterruptible sleep (D) in fuse_wait_answer; it ends only "
			 "when that wait does (a hung disk, NFS or FUSE server)");
}

Test(unkillable, a_thread_in_d_holds_a_dead_main_thread)
{
	/* The main thread exited (zombie), a thread stuck in D keeps the
	 * process from ending. */
	struct triage_facts f = facts('Z', "0", "D", "io_schedule");
	char why[512];

	cr_assert_eq(triage_after_sigkill(&f, why, sizeof(why)), TRIAGE_UNKILLABLE);
	cr_assert(strstr(why, "state Z (threads: 1 D, 1 Z), wchan unknown; D: io_schedule"), "%s",
		  why);
	cr_assert(strstr(why, "uninterruptible sleep (D) in io_schedule"), "%s", why);
}

Test(unkillable, a_zombie_is_exiting_not_unkillable)
{
	struct triage_facts f = facts('Z', "0", "", "");
	char why[512];

	cr_assert_eq(triage_after_sigkill(&f, why, sizeof(why)), TRIAGE_EXITING);
	cr_assert_str_eq(why, "exiting (Z (threads: 1 Z))");
}

Test(unkillable, idle_wait_and_unreadable_proc)
{
	struct triage_facts idle = facts('I', "kthread_worker_fn", "", "");
	struct triage_facts unread = {.why = "Permission denied"};
	char why[512];

	cr_assert_eq(triage_after_sigkill(&idle, why, sizeof(why)), TRIAGE_UNKILLABLE);
	cr_assert(strstr(why, "idle wait (I)"), "%s", why);
	cr_assert_eq(triage_after_sigkill(&unread, why, sizeof(why)), TRIAGE_UNKILLABLE);
	cr_assert(strstr(why, "could not be read (Permission denied)"), "%s", why);
}
