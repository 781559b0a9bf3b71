/* Shared machinery of the tests (tests/lib): private keys, registries made
 * without the daemon, records found by pid, child processes that are always
 * cleaned up, running a program to completion, and a strict JSON syntax
 * check for hbctl's output. */
#ifndef HBWATCH_TEST_UTIL_H
#define HBWATCH_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record.h"
#include "registry.h"

/* Keys of the integration tests: TU_KEY_BASE + a number unique per test,
 * so tests never meet even outside a private IPC namespace. */
#define TU_KEY_BASE 0x4b000000

/* Select key TU_KEY_BASE + N for this test: remove whatever a crashed
 * earlier run left there, export it as $HBWATCH_KEY for the library and
 * every child, and remember it for tu_cleanup().  Returns the key. */
int tu_key_use(int n);

/* Create a registry for SLOTS processes at the current key, as the daemon
 * would.  Aborts the test on failure. */
void tu_registry_create(uint32_t slots, struct hb_registry *r);

/* Kill (SIGKILL) and reap every child started by tu_spawn()/tu_fork(),
 * then remove the registry at the key.  For .fini; safe to call twice. */
void tu_cleanup(void);

/* Start ARGV[0] with ARGV.  The child gets STDIN from /dev/null, stdout
 * on OUT_FD and stderr on ERR_FD (-1: /dev/null for stdout, ours for
 * stderr) and KEEP_FD (>= 0) as fd 3.  Every other fd it inherits is
 * close-on-exec.  The pid is tracked for tu_cleanup().  Aborts on failure. */
pid_t tu_spawn(char *const argv[], int keep_fd, int out_fd, int err_fd);

/* fork(), tracking the child like tu_spawn().  The child must _exit(). */
pid_t tu_fork(void);

/* Path of a helper from the environment ($HBWORKER, $HBCTL, $HBLOCKER). */
const char *tu_prog(const char *env);

/* Wait up to TIMEOUT_MS for PID to end; returns its wait status, or -1 on
 * timeout (the child is left running and tracked). */
int tu_wait(pid_t pid, int timeout_ms);

/* Wait until PID is stopped (after SIGSTOP).  Returns 0 or -1. */
int tu_wait_stopped(pid_t pid, int timeout_ms);

/* Forget PID (it was reaped by the caller). */
void tu_untrack(pid_t pid);

/* Read N lines "<WORD> <pid>\n" from FD within TIMEOUT_MS in total, storing
 * the pids.  Returns how many were read (less than N on EOF or timeout). */
int tu_read_ready(int fd, const char *word, int n, pid_t *pids, int timeout_ms);

/* Run ARGV to completion (at most TIMEOUT_MS), collecting stdout and stderr
 * (NUL-terminated, truncated to their sizes).  Returns the wait status. */
int tu_run(char *const argv[], char *out, size_t out_len, char *err, size_t err_len,
	   int timeout_ms);

/* Exit code of a wait status, or -1 if the child did not exit normally. */
int tu_exit_code(int status);

/* True if S is one complete, syntactically valid JSON value (RFC 8259),
 * optionally surrounded by whitespace. */
bool tu_json_valid(const char *s);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t tu_now_ms(void);

/* Heartbeat records on the host that are registered (OPEN); records being
 * rewritten count too. */
int tu_records_count(void);

/* The shmid of the registered record naming PID (its creator, or the pid
 * it names), or -1. */
int tu_record_of(pid_t pid);

/* Heartbeat-record helpers of the suites that run without the daemon. */

/* System V segments in our IPC namespace, of any kind (SHM_INFO): proof
 * that a refused call created nothing. */
int tu_segments_count(void);

/* A consistent copy of record SHMID, read through a read-only attachment
 * of our own (as hbctl or the daemon would).  Returns 0 or -errno. */
int tu_record_view(int shmid, struct hb_record_view *v);

/* Make a record naming PID with START_TIME as hbctl does for a shell job
 * (not its creator's, handed to root), registered (OPEN) under NAME with
 * TIMEOUT_MS and a beat at BEAT_NS, and announce it if a registry is at the
 * current key.  It is marked for removal at once and stays attached (*REC,
 * may be NULL), so it vanishes with the test process whatever happens.
 * Aborts the test on failure.  Returns the shmid. */
int tu_record_make(pid_t pid, uint64_t start_time, const char *name, unsigned timeout_ms,
		   uint64_t beat_ns, struct hb_record **rec);

/* Read FD into BUF (LEN bytes, kept NUL-terminated) until it holds NEEDLE,
 * EOF or TIMEOUT_MS.  Returns true if NEEDLE was seen. */
bool tu_read_until(int fd, const char *needle, char *buf, size_t len, int timeout_ms);

/* Path of setpriv(1): $SETPRIV if set, else the first in $PATH; or NULL. */
const char *tu_setpriv(void);

/* Running programs as another user, through setpriv. */
#define TU_NO_GROUP ((gid_t)-1)
struct tu_as {
	char uid[32], gid[32], groups[32];
};

/* Put at ARGV the setpriv prefix (at most 6 words, ending in "--") that
 * runs the program after it as uid and gid UID with GID as its only
 * supplementary group (TU_NO_GROUP: none), killed if its parent dies
 * (setpriv sets it again: a change of uid clears it).  The words point
 * into AS, which must outlive ARGV.  Returns how many words it put.
 * Aborts the test without setpriv. */
int tu_as_argv(struct tu_as *as, char **argv, uid_t uid, gid_t gid);

/* What a program said, and how it ended. */
struct tu_output {
	int code; /* exit code, -1 if it did not exit */
	char out[16384], err[4096];
};

/* Run $HBCTL with ARGS (NULL-terminated) to completion (at most 20 s): as
 * uid and gid UID with no supplementary groups, through setpriv; as
 * ourselves if UID is 0.  Returns R->code. */
int tu_hbctl_as(struct tu_output *r, uid_t uid, char *const args[]);

/* Could we run programs as UID (setpriv --reuid/--regid UID, no groups)?
 * False without setpriv, or where UID is not mapped (a user namespace). */
bool tu_can_become(uid_t uid);

#endif
