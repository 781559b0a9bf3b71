/* Harness for the daemon tests: a private directory with a configuration,
 * the real hbwatch started in the foreground (stderr to a log file,
 * READY=1 awaited on a notify socket), hbworker children, and helpers to
 * wait for deaths, log lines and heartbeat records with deadlines.
 *
 * One test at a time per process (Criterion forks each test): the state
 * is the global H.  hbd_init()/hbd_fini() are the .init/.fini fixtures;
 * hbd_fini() kills every process the test started (by pid), stops the
 * daemon and removes the registry, the records it made and the directory,
 * also after a failure.
 * Every child gets PR_SET_PDEATHSIG(SIGKILL), so a test killed on timeout
 * leaves nothing behind either.  The general helpers of util.h are part of
 * the same library (tests/lib). */
#ifndef HBWATCH_TEST_HARNESS_H
#define HBWATCH_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "registry.h"

#define HBD_MAX_KIDS 128

struct hbd {
	char dir[64];	/* mkdtemp */
	char conf[128]; /* DIR/hbwatch.ini */
	char log[128];	/* DIR/hbwatch.log: the daemon's stderr (appended) */
	char wlog[128]; /* DIR/workers.log: workers' output */
	char sock[96];	/* DIR/notify: NOTIFY_SOCKET */
	int key;
	int notify_fd;
	uint64_t watchdog_usec; /* set before hbd_start(): WATCHDOG_USEC for it */
	pid_t daemon;		/* 0: not running */
	char status[256];	/* last STATUS= seen */
	pid_t kids[HBD_MAX_KIDS];
	int n_kids;
	int made[HBD_MAX_KIDS]; /* records made by hbd_make_record() */
	int n_made;
	bool daemon_exited; /* reaped while waiting; status below */
	int daemon_status;
	pid_t tracer; /* hbd_trace()'s, or 0 */
	/* Set before hbd_start(): the daemon runs without CAP_SYS_NICE (not
	 * even in its bounding set) and with RLIMIT_RTPRIO = rtprio, as the
	 * installed unit runs it. */
	bool rt_limited;
	unsigned rtprio;
	/* Set before hbd_start(): a library preloaded into the daemon
	 * (LD_PRELOAD), or NULL. */
	const char *preload;
};

extern struct hbd H;

/* Fixtures. */
void hbd_init(void);
void hbd_fini(void);

/* Write H.conf: "[hbwatch]" with this test's key, slots = 128 and group =
 * (empty), followed by FMT: FMT is still
 * inside [hbwatch] at its start (so it may set kill_grace) and adds the
 * service sections.  Returns the line number of FMT's first line. */
int hbd_config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Start hbwatch -c H.conf and wait for READY=1 (fails the test if it
 * exits or is not ready within 10 s). */
void hbd_start(void);

/* SIGHUP the daemon and wait for RELOADING=1 then READY=1. */
void hbd_reload(void);

/* SIGTERM the daemon and wait for it to exit; returns its wait status. */
int hbd_stop(void);

/* Wait up to TIMEOUT_MS for a notify message with the line LINE (exact,
 * e.g. "READY=1").  Records STATUS= lines in H.status. */
bool hbd_wait_notify(const char *line, int timeout_ms);

/* How many notify messages with the line LINE (exact) came so far. */
int hbd_notify_count(const char *line);

/* Wait up to TIMEOUT_MS until H.status contains SUBSTR. */
bool hbd_wait_status(const char *substr, int timeout_ms);

/* Run hbwatch with ARGS (NULL-terminated) to completion; stdout and
 * stderr captured into OUT/ERR (may be NULL).  Returns the wait status. */
int hbd_run(char *out, size_t out_len, char *err, size_t err_len, ...);

/* Start an hbworker registered as NAME with TIMEOUT_MS, plus extra
 * arguments (NULL-terminated), and wait until it has registered.  Its
 * core dumps are disabled.  Returns its pid (fails the test otherwise). */
pid_t hbd_worker(const char *name, unsigned timeout_ms, ...);

/* The same for a worker command line of the caller's: ARGV (argv[0] a
 * path, maybe a wrapper such as setpriv that execs the worker) must make
 * an hbworker with --ready-fd 3.  Its output goes to H.wlog; tracked like
 * every child.  WHAT names it in failures.  Returns its pid. */
pid_t hbd_worker_exec(char *const argv[], const char *what);

/* Skip the test (after hbd_fini()) if $HBD_DAEMON_NO_PIDFD says why the
 * daemon cannot open pidfds where it runs (Debian 12's valgrind lacks
 * pidfd_open): there it cannot watch a process, so a test that needs a
 * watch would only show that.  Called first by each such test that is run
 * under valgrind; the variable is unset in every ordinary run. */
void hbd_need_pidfd(void);

/* Fork a child that only sleeps (pause()).  Returns its pid. */
pid_t hbd_sleeper(void);

/* Is child PID still running (not exited, not a zombie)? */
bool hbd_alive(pid_t pid);

/* How a watched process ended. */
struct hbd_death {
	pid_t pid;
	bool dead;
	int status;	       /* wait status */
	uint64_t died_ns;      /* CLOCK_MONOTONIC when the exit was noticed */
	uint64_t last_beat_ns; /* last beat_ns seen in its record; 0: never seen */
};

/* Wait up to TIMEOUT_MS for every one of the N children in D (pid set) to
 * exit, polling its record for beats meanwhile.  Reaps them.  Returns the
 * number that died. */
int hbd_wait_deaths(struct hbd_death *d, int n, int timeout_ms);

/* Assert that D (from hbd_wait_deaths()) died of signal SIG. */
void hbd_assert_killed_by(const struct hbd_death *d, int sig);

/* One child: true if it exited within TIMEOUT_MS (then *STATUS is set). */
bool hbd_wait_exit(pid_t pid, int timeout_ms, int *status);

/* Kill child PID with SIG (no reaping). */
void hbd_kill(pid_t pid, int sig);

/* The shmid of the registered record of PID, or -1. */
int hbd_record_of(pid_t pid);

/* Wait up to TIMEOUT_MS until no registered record names PID. */
bool hbd_wait_record_gone(pid_t pid, int timeout_ms);

/* Make a record naming PID (as hbctl does for shell jobs: not the creator,
 * handed to root) with START_TIME, NAME, TIMEOUT_MS and a beat at BEAT_NS,
 * and announce it.  As the test's uid (root), so it is trusted.  Removed
 * by hbd_fini().  Returns the shmid. */
int hbd_make_record(pid_t pid, uint64_t start_time, const char *name, unsigned timeout_ms,
		    uint64_t beat_ns);

/* Log of the daemon: lines "hbwatch: LEVEL: EVENT: message".
 * A line matches when it has the tag ": EVENT: " (EVENT NULL: any line),
 * mentions "pid PID" (PID 0: any) and contains EXTRA (NULL: any). */
int hbd_log_count(const char *event, pid_t pid, const char *extra);
bool hbd_log_wait(const char *event, pid_t pid, const char *extra, int timeout_ms);
/* The first line hbd_log_count() would count, into OUT (LEN); false if none. */
bool hbd_log_line(const char *event, pid_t pid, const char *extra, char *out, size_t len);
/* The end of the daemon's log and of its workers', for after a failure:
 * printed as TAP comments at the end of the run (stderr outside
 * hbd_main()). */
void hbd_log_dump(void);

/* A measured figure: cr_log_info(), and, in a program whose main() is
 * hbd_main(), a TAP diagnostic line ("# ...") after the report, where
 * meson's log keeps it (Criterion sends a test's own stdout to /dev/null
 * under --tap, so the figures travel through a file). */
void hbd_figure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Criterion's main() plus the figures above. */
int hbd_main(int argc, char **argv);

/* In a forked child, before exec: die with PARENT (the test process), no
 * core files, default handling of every signal. */
void hbd_child_setup(pid_t parent);

/* In a forked child: FD appends to the file PATH (exits 126 if it cannot). */
void hbd_redirect(int fd, const char *path);

/* Track child PID: hbd_fini() kills and reaps it. */
void hbd_track(pid_t pid);

/* W must survive MS more milliseconds and never be signalled (no
 * signal-sent or escalated record for it). */
void hbd_assert_left_alone(pid_t w, int ms);

/* The header of the registry at H.key as it is now, into *OUT (attached
 * read-only for the copy: owner_pid, tail and the rest). */
void hbd_registry_header(struct hb_registry_header *out);

/* Hold PID in tracing stop, as a debugger does, from a child of the test
 * (ATTACH: PTRACE_ATTACH, the stop of its SIGSTOP; else PTRACE_SEIZE and
 * PTRACE_INTERRUPT).  One at a time; hbd_untrace() ends it, and so does
 * hbd_fini(), first: a traced process's exit goes to its tracer. */
void hbd_trace(pid_t pid, bool attach);
void hbd_untrace(void);

/* Stop (DEAF) or resume reading the daemon's notify socket.  Stopping also
 * fills its queue, as a busy service manager's can be. */
void hbd_notify_deaf(bool deaf);

uint64_t hbd_now_ns(void);
void hbd_sleep_ms(unsigned ms);

#endif
