/* Why a process hung, as /proc tells it at the moment of its deadline:
 * the state of its main thread and of every thread, where they sleep in
 * the kernel (wchan), and the CPU it used since its last beat.  The pure
 * part (triage.c) parses recorded /proc text, sums it up and words it, so
 * it is tested without processes; triage_read.c reads /proc. */
#ifndef HBWATCH_TRIAGE_H
#define HBWATCH_TRIAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "status.h"

#define TRIAGE_WCHAN_SIZE 48
#define TRIAGE_D_WCHANS	  3
/* The state letters counted one by one; anything else counts as '?'. */
#define TRIAGE_LETTERS	"RSDTtZXIP?"
#define TRIAGE_NLETTERS (sizeof(TRIAGE_LETTERS) - 1)
/* The hot path's time budget: what it has not read by then stays unread
 * (threads are read last, the main thread first). */
#define TRIAGE_BUDGET_NS (100u * 1000u)

/* What /proc said of one process at one moment. */
struct triage_facts {
	bool read;		       /* its stat was read (else nothing below holds) */
	char state;		       /* the main thread's state letter */
	char wchan[TRIAGE_WCHAN_SIZE]; /* the main thread's wchan; "": unknown */
	uint32_t threads;	       /* num_threads of its stat */
	uint32_t seen;		       /* threads whose state was read, main included */
	uint32_t by_state[TRIAGE_NLETTERS];
	struct {
		char wchan[TRIAGE_WCHAN_SIZE]; /* "": unknown */
		uint32_t n;
	} d[TRIAGE_D_WCHANS]; /* distinct wchans of threads in D */
	uint32_t d_more;      /* threads in D whose wchan found no room */
	uint64_t cpu_ticks;   /* utime + stime of all its threads, clock ticks */
	uint64_t start_time;  /* field 22: who it is */
	bool have_ctxt;	      /* the two below were read (main thread's counts) */
	uint64_t vcsw, nvcsw;
	char why[48]; /* !read: why not */
};

/* The CPU sample hbwatch takes near each beat, and what its last look at
 * the process found (for hbctl status). */
struct triage_mark {
	uint64_t beat_ns;	      /* the beat it was taken after; 0: none */
	uint64_t at_ns;		      /* CLOCK_MONOTONIC of the sample */
	uint64_t cpu_ticks;	      /* utime + stime then */
	struct hb_status_triage last; /* the last triage; words[0] == 0: none */
	bool unkillable;	      /* KILLING: still there kill_grace after SIGKILL */
	bool warm;		      /* read whole once, off the kill path */
};

/* Up to this many whole reads of new processes per pass (triage_sample()). */
#define TRIAGE_WARM_PER_PASS 4u

/* The least time between two CPU samples of a process with TIMEOUT_NS:
 * a quarter of it (at least 10 ms), so the sample nearest the last beat
 * is at most that much older than the beat it follows, and a process
 * costs at most four /proc reads per timeout.  Pure. */
uint64_t triage_sample_gap(uint64_t timeout_ns);

/* When to come back for a sample due at DUE_NS: DUE_NS rounded up to a
 * grid of GAP_NS / 4, so the samples of many processes with the same
 * timeout share scans (at most four per gap) instead of each waking the
 * loop.  Pure. */
uint64_t triage_sample_tick(uint64_t due_ns, uint64_t gap_ns);

/* Take a CPU sample into M if the beat BEAT_NS is newer than M's and the
 * last sample is at least MIN_GAP_NS old (NOW: CLOCK_MONOTONIC).  One
 * read of /proc/PID/stat; once per process, while *WARM_LEFT allows (it is
 * decremented), a whole triage_read() instead, so the kernel's /proc
 * entries exist by the deadline.  Nothing happens if PID is not the
 * process started at START_TIME. */
void triage_sample(struct triage_mark *m, pid_t pid, uint64_t start_time, uint64_t beat_ns,
		   uint64_t now, uint64_t min_gap_ns, unsigned *warm_left);

/* The first sample, taken from a read of /proc/PID/stat made anyway (at
 * adoption): CPU_TICKS at NOW, after the beat BEAT_NS. */
void triage_baseline(struct triage_mark *m, uint64_t beat_ns, uint64_t now, uint64_t cpu_ticks);

/* Parse the process's /proc/PID/stat text (LEN bytes) into F: the main
 * thread's state, num_threads, CPU time and start time; counts the main
 * thread.  Pure.  Returns 0 or -EINVAL. */
int triage_parse_process(struct triage_facts *f, const char *stat, size_t len);

/* Count one more thread (not the main one) from its task/TID/stat text.
 * Returns its state letter, or -EINVAL. */
int triage_add_thread(struct triage_facts *f, const char *stat, size_t len);

/* Clean the text of a wchan file into DST (TRIAGE_WCHAN_SIZE): "0", ""
 * and anything that is not a symbol name become "" (unknown). */
void triage_set_wchan(char *dst, const char *buf, size_t len);

/* Note the wchan (as cleaned) of one thread in D. */
void triage_add_d_wchan(struct triage_facts *f, const char *wchan);

/* The voluntary/nonvoluntary context switches of /proc/PID/status text
 * (NUL-terminated).  Returns 0 or -EINVAL. */
int triage_parse_ctxt(struct triage_facts *f, const char *status);

/* CPU in microseconds for TICKS clock ticks of HZ per second. */
uint64_t triage_ticks_usec(uint64_t ticks, long hz);

/* Sum F up for people and for hbctl into OUT: the state text ("S (threads:
 * 3 S, 1 D)"), the wchan text ("pipe_read", "unknown", "none (running)",
 * then "; D: x (2), y"), the CPU since the beat (CPU_USEC over WINDOW_USEC,
 * UINT64_MAX if unknown) and the words ("spinning: 98 % CPU since its last
 * beat", "blocked in pipe_read: 0 % CPU over the last 1.0 s",
 * "stopped (T)").  Pure. */
void triage_summarize(const struct triage_facts *f, uint64_t cpu_usec, uint64_t window_usec,
		      struct hb_status_triage *out);

/* The words of triage_summarize() uncut, into BUF of LEN.  Pure. */
void triage_words(const struct triage_facts *f, uint64_t cpu_usec, uint64_t window_usec, char *buf,
		  size_t len);

/* The journal fields of T: "HBWATCH_PROC_STATE=...", "HBWATCH_STATE=X"
 * (the main thread's letter alone), "HBWATCH_WCHAN=...",
 * "HBWATCH_THREADS=...", "HBWATCH_CPU_USEC_SINCE_BEAT=...",
 * "HBWATCH_CPU_WINDOW_USEC=...", the context switches of F if read; into
 * BUF, pointed at by V (NULL-terminated, at most TRIAGE_FIELDS_MAX). */
#define TRIAGE_FIELDS_MAX 8
struct triage_fields {
	char buf[TRIAGE_FIELDS_MAX][192];
	const char *v[TRIAGE_FIELDS_MAX + 1];
};
void triage_fields(const struct triage_facts *f, const struct hb_status_triage *t,
		   struct triage_fields *out);

/* Does a thread of F sit in D (uninterruptible)?  Pure. */
bool triage_has_d(const struct triage_facts *f);

/* What a process still there kill_grace after SIGKILL is. */
enum triage_after_kill {
	TRIAGE_EXITING,	   /* dead or a zombie: its exit is on its way */
	TRIAGE_UNKILLABLE, /* alive: the kernel holds it (D, or a wait SIGKILL cannot end) */
};

/* Decide on F (read kill_grace after SIGKILL) and word it into WHY: the
 * state, the wchan and what it means for the admin.  Pure. */
enum triage_after_kill triage_after_sigkill(const struct triage_facts *f, char *why, size_t len);

/* Read the process PID started at START_TIME (field 22) from /proc, within
 * BUDGET_NS of CLOCK_MONOTONIC: its stat, its wchan, its context switches,
 * then each thread's state (and wchan if in D) while the budget lasts.
 * No allocation.  Returns 0, -ESRCH (gone, or the pid is another
 * process's now) or -errno; F->why says it for people. */
int triage_read(pid_t pid, uint64_t start_time, uint64_t budget_ns, struct triage_facts *f);

/* The CPU time (utime + stime, clock ticks) of PID started at START_TIME.
 * Returns 0, -ESRCH or -errno. */
int triage_cpu_ticks(pid_t pid, uint64_t start_time, uint64_t *ticks);

#endif
