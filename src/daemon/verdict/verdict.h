/* Late is not hung: the verdict on a process whose deadline passed and
 * whose identity checked out (identity.h), before hbwatch acts on it.
 *
 * A missed deadline is evidence, not proof.  The process may have been
 * denied the CPU (its thread waited on the run queue, its cgroup was
 * throttled, or it sat in D under I/O or memory pressure), frozen by a
 * cgroup freezer, held by a debugger, or be writing its core after the
 * signal.  The facts are read in one place (verdict_read.c, the builder);
 * this part parses recorded /proc and cgroup text and decides, pure, so
 * every rule is table-tested. */
#ifndef HBWATCH_VERDICT_H
#define HBWATCH_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What hbwatch does about a late process that it may act on. */
enum verdict {
	VERDICT_ACT,	       /* hung as far as anyone can tell: the action goes ahead */
	VERDICT_DEFER_STARVED, /* denied the CPU or blocked on pressure: wait starve_grace */
	VERDICT_LEAVE_FROZEN,  /* its cgroup is frozen: left alone, the deadline restarts at thaw */
	VERDICT_LEAVE_DEBUGGED, /* a tracer holds it: left alone, watched on */
};

/* Why a watch is held back from its action (hbctl's states, the counter's
 * reason label).  HOLD_DUMPING: signalled, its core is being written. */
enum verdict_hold {
	HOLD_NONE,
	HOLD_STARVED,
	HOLD_FROZEN,
	HOLD_DEBUGGED,
	HOLD_DUMPING,
	HOLD_MAX,
};

/* The PSI resources, in the order of /proc/pressure/{cpu,io,memory}. */
enum verdict_psi { PSI_CPU, PSI_IO, PSI_MEMORY, PSI_MAX };

/* A reading near the last beat: what the figures at the deadline count
 * from.  Cumulative counters only. */
struct verdict_mark {
	uint64_t at_ns;	       /* CLOCK_MONOTONIC of the reading; 0: none */
	bool have_delay;       /* run_delay_ns holds */
	uint64_t run_delay_ns; /* schedstat field 2 of the late thread */
	bool have_throttle;    /* the two below hold */
	uint64_t nr_throttled; /* its cpu cgroup's cpu.stat */
	uint64_t throttled_ns;
};

/* Every fact the verdict looks at, read at one moment. */
struct verdict_facts {
	bool read;	   /* /proc/PID/status was read (else nothing below holds) */
	char state;	   /* the main thread's state letter */
	pid_t tracer;	   /* TracerPid: 0 none */
	bool core_dumping; /* CoreDumping: 1 */
	pid_t tid;	   /* the thread whose wait was read */
	/* Since the mark (0 / false: unknown). */
	uint64_t window_ns;	/* from the mark to now */
	bool have_wait;		/* wait_ns holds */
	uint64_t wait_ns;	/* run-queue wait in the window */
	bool have_cpu;		/* the two below hold (the triage's CPU sample) */
	uint64_t cpu_ns;	/* CPU it used since the sample after its beat ... */
	uint64_t cpu_window_ns; /* ... in this long */
	bool have_throttle;	/* the two below hold */
	uint64_t nr_throttled;	/* periods throttled in the window */
	uint64_t throttled_ns;	/* time throttled in the window */
	/* The cgroup. */
	bool frozen;		/* cgroup.events "frozen 1", freezer.state FROZEN/FREEZING */
	const char *frozen_by;	/* "cgroup.events" or "freezer.state" */
	bool psi_cgroup;	/* PSI below is the cgroup's, not the host's */
	bool have_psi[PSI_MAX]; /* avg10 of "some" and "full", in hundredths of % */
	unsigned psi_some[PSI_MAX], psi_full[PSI_MAX];
};

/* What the section allows, and where the watch stands. */
struct verdict_policy {
	uint64_t starve_grace_ns; /* 0: starvation defers nothing (hbwatch 0.3's behaviour) */
	bool deferred;		  /* this missed beat was deferred already: not again */
	bool debugged_kill;	  /* debugged = kill */
};

/* A run-queue wait (or a throttled time) of at least this share of the
 * window is starvation: the thread was runnable but not running for most
 * of the time it should have beaten in.  So is a thread runnable now that
 * got less than the rest of its window on the CPU: the scheduler adds a
 * wait to schedstat only when the wait ends, so a thread still waiting
 * shows it in its CPU, not yet in its wait. */
#define VERDICT_STARVED_PCT 50u
/* I/O or memory "full" pressure (avg10) at which a thread in D counts as
 * blocked on pressure rather than hung. */
#define VERDICT_PRESSURE_PCT 50u

/* Decide on F under P; WHY (of LEN) gets the reason in words ("starved:
 * 92 % waiting for CPU ..."), always set.  Pure. */
enum verdict verdict_decide(const struct verdict_facts *f, const struct verdict_policy *p,
			    char *why, size_t len);

/* Is F starved?  *PCT gets the share of the window it waited (run queue
 * or throttling, whichever is larger; 0 if unknown).  Pure. */
bool verdict_starved(const struct verdict_facts *f, unsigned *pct);

/* After the signal, at the SIGKILL escalation: wait (true) while F says
 * the process is writing its core and WAITED_NS (since the escalation was
 * due) is below DUMP_MAX_NS.  Pure. */
bool verdict_wait_dump(const struct verdict_facts *f, uint64_t waited_ns, uint64_t dump_max_ns);

/* The hold's short name: "starved", "frozen", "debugged", "dumping" ("" for
 * none). */
const char *verdict_hold_name(enum verdict_hold h);

/* The facts' figures as journal fields (HBWATCH_RUNQ_WAIT_USEC=, ...), NULL
 * terminated, into BUF. */
#define VERDICT_FIELDS_MAX 8
struct verdict_fields {
	char buf[VERDICT_FIELDS_MAX][96];
	const char *v[VERDICT_FIELDS_MAX + 1];
};
void verdict_fields(const struct verdict_facts *f, struct verdict_fields *out);

/* Parsers of recorded text (NUL-terminated).  Each returns 0 or -EINVAL. */
/* /proc/PID/task/TID/schedstat: "cpu_ns run_delay_ns timeslices". */
int verdict_parse_schedstat(const char *text, uint64_t *run_delay_ns);
/* cpu.stat: v2 (nr_throttled, throttled_usec) or v1 (nr_throttled,
 * throttled_time in ns). */
int verdict_parse_cpu_stat(const char *text, uint64_t *nr_throttled, uint64_t *throttled_ns);
/* cgroup.events (v2): *FROZEN from "frozen 0|1". */
int verdict_parse_cgroup_events(const char *text, bool *frozen);
/* freezer.state (v1): THAWED, FREEZING or FROZEN. */
int verdict_parse_freezer_state(const char *text, bool *frozen);
/* A PSI file: avg10 of "some" and of "full" (absent for cpu on old kernels:
 * 0), in hundredths of a percent. */
int verdict_parse_psi(const char *text, unsigned *some, unsigned *full);
/* /proc/PID/status: State, TracerPid, CoreDumping (absent before 4.15: 0). */
int verdict_parse_status(const char *text, char *state, pid_t *tracer, bool *core_dumping);

/* /proc/PID/cgroup: the v2 path ("0::PATH"), and the v1 paths of the cpu
 * and freezer controllers ("N:cpu,cpuacct:PATH"), each "" if absent, into
 * buffers of LEN. */
int verdict_parse_cgroup(const char *text, char *v2, char *cpu, char *freezer, size_t len);

#endif
