/* libhbwatch: publish a per-process heartbeat for the hbwatch watchdog.
 *
 * A process registers once under a service name with a timeout, then calls
 * hb_beat() at least once per timeout.  If it stops, hbwatch signals exactly
 * this process (after checking who it is) and systemd's Restart= brings the
 * service back.  One registration per process; the functions are safe to
 * call from any thread, and hb_beat() takes no lock.  A registered process
 * may also keep task heartbeats (hb_task_open()), each with a deadline of
 * its own, and extend a deadline once over a known pause (hb_extend()).
 *
 * hbwatch's registry is found at the System V key in $HBWATCH_KEY (hex),
 * else 0x5098.
 * All functions return 0 or a negative errno value and never print or exit.
 */
#ifndef HBWATCH_H
#define HBWATCH_H

#ifdef __cplusplus
extern "C" {
#endif

/* Longest service name, in bytes, without the terminating NUL. */
#define HB_NAME_MAX 63
/* Longest timeout accepted by hb_register(): 24 hours. */
#define HB_TIMEOUT_MAX_MS 86400000u
/* Longest task label, in bytes, without the terminating NUL. */
#define HB_TASK_LABEL_MAX 31
/* Most tasks a process holds open at once. */
#define HB_TASKS_MAX 124

/* Register the calling process under NAME; it must beat at least every
 * TIMEOUT_MS milliseconds (hbwatch may cap this per service).  The process
 * gets a heartbeat record of its own, a small shared-memory segment only
 * its user may write, which hbwatch reads; the record vanishes with the
 * process.  Calling it again while registered updates name and timeout in
 * place.  The registration ends at normal exit; a child after fork() is
 * not registered.
 * Errors: -EINVAL bad name (empty, longer than HB_NAME_MAX, or a byte
 * other than ASCII letters, digits and "-_.:@", the characters of systemd
 * unit names) or timeout (0 or above HB_TIMEOUT_MAX_MS); -ENOENT no
 * registry at the key (hbwatch is not running; the registry of a stopped
 * hbwatch stays, and a registration made there is taken up when hbwatch
 * starts again: hb_register_wait() tells); -EACCES not allowed to announce
 * (not in the hbwatch group); -EPROTO the segment at the key is not
 * hbwatch's registry (another program's, another version, or created or
 * owned by a user who is neither root nor the caller); -ENOSYS a seccomp
 * filter blocks the System V shared-memory calls (systemd's
 * SystemCallFilter=); -ENOSPC the host's limit of shared-memory segments
 * (kernel.shmmni) is reached; other -errno from the system.  Nothing is
 * created on error. */
int hb_register(const char *name, unsigned int timeout_ms);

/* Like hb_register(), then wait up to WAIT_MS milliseconds until hbwatch
 * has taken the registration up, so the caller knows it is watched.
 * The registration, once made, stays in every case; calling this again
 * waits again.  hbwatch takes a registration up within milliseconds,
 * unless it is very busy, at its slots= limit, or not running normally.
 * While hbwatch is not running it waits for it to start, up to WAIT_MS.
 * It beats while it waits (a caller waiting here is not hung), so the
 * deadline counts from its return at the latest.
 * Errors: those of hb_register(); -ENOENT hbwatch is not running (no
 * registry, or a stopped hbwatch's: the registration stays for its next
 * start); -ETIMEDOUT hbwatch runs but has not taken it up within WAIT_MS
 * (back off and call again, or carry on unwatched); -EPERM hbwatch
 * refused it: NAME is no watched service, or the process runs in another
 * unit or as another user than its section requires (see the journal). */
int hb_register_wait(const char *name, unsigned int timeout_ms, unsigned int wait_ms);

/* Record a heartbeat now: one atomic store of CLOCK_MONOTONIC into the
 * process's own record, no lock, no system call.
 * Errors: -ENOTCONN not registered (or a child after fork()). */
int hb_beat(void);

/* End this process's registration; its tasks end with it (their handles
 * still need hb_task_close()).
 * Errors: -ENOTCONN not registered. */
int hb_unregister(void);

/* Move the process's current deadline to at least now + MS milliseconds,
 * once: the next hb_beat() ends the extension and the normal timeout
 * applies again.  For a known long pause (a big fsync, a compaction).
 * hbwatch caps how far an extension reaches past the last beat (the
 * service's extend_max=, see hbwatch.ini(5)).  No lock, no system call
 * but the clock.
 * Errors: -EINVAL MS is 0 or above HB_TIMEOUT_MAX_MS; -ENOTCONN not
 * registered. */
int hb_extend(unsigned int ms);

/* A task heartbeat: a unit of work of the registered process (a request,
 * a job, a thread's loop) with a deadline of its own.  If a task misses
 * its deadline, hbwatch acts on the process exactly as if the process
 * had missed its own, and names the task.  Opaque. */
typedef struct hb_task hb_task;

/* Open a task of the calling process under LABEL that must beat at least
 * every TIMEOUT_MS milliseconds; its first beat is now.  Labels need not
 * be unique.  Safe from any thread, lock-free; the handle belongs to the
 * caller until hb_task_close().  A child after fork() has no tasks.
 * Errors: -EINVAL TASK NULL, bad LABEL (empty, longer than
 * HB_TASK_LABEL_MAX, or a byte other than those of service names) or
 * timeout (0 or above HB_TIMEOUT_MAX_MS); -ENOTCONN the process is not
 * registered; -ENOSPC HB_TASKS_MAX tasks are open; -ENOMEM. */
int hb_task_open(hb_task **task, const char *label, unsigned int timeout_ms);

/* Record a heartbeat of TASK now: one atomic store, no lock, no system
 * call but the clock.
 * Errors: -EINVAL TASK NULL; -ENOTCONN the registration it belonged to
 * has ended (hb_unregister(), or a child after fork()). */
int hb_task_beat(hb_task *task);

/* hb_extend() for TASK alone.
 * Errors: -EINVAL TASK NULL, MS 0 or above HB_TIMEOUT_MAX_MS; -ENOTCONN
 * as hb_task_beat(). */
int hb_task_extend(hb_task *task, unsigned int ms);

/* End TASK and free the handle, which must not be used again.  Safe from
 * any thread, lock-free.  A task whose registration has ended (or one
 * inherited across fork()) is only freed.
 * Errors: -EINVAL TASK NULL. */
int hb_task_close(hb_task *task);

#ifdef __cplusplus
}
#endif

#endif
