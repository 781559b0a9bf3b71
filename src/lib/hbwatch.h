/* libhbwatch: publish a per-process heartbeat for the hbwatch watchdog.
 *
 * A process registers once under a service name with a timeout, then calls
 * hb_beat() at least once per timeout.  If it stops, hbwatch signals exactly
 * this process (after checking who it is) and systemd's Restart= brings the
 * service back.  One registration per process; the functions are safe to
 * call from any thread, and hb_beat() takes no lock.
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
 * registry at the key (hbwatch is not running); -EACCES not allowed to
 * announce (not in the hbwatch group); -EPROTO the segment at the key is
 * not an hbwatch registry of this version; -ENOSPC the host's limit of
 * shared-memory segments (kernel.shmmni) is reached; other -errno from the
 * system. */
int hb_register(const char *name, unsigned int timeout_ms);

/* Like hb_register(), then wait up to WAIT_MS milliseconds until hbwatch
 * has taken the registration up, so the caller knows it is watched.
 * The registration is made in every case and stays; calling this again
 * waits again.  hbwatch takes a registration up within milliseconds,
 * unless it is very busy, at its slots= limit, or not running normally.
 * Errors: those of hb_register(); -ETIMEDOUT not taken up within WAIT_MS
 * (back off and call again, or carry on unwatched); -EPERM hbwatch
 * refused it: NAME is no watched service, or the process runs in another
 * unit or as another user than its section requires (see the journal). */
int hb_register_wait(const char *name, unsigned int timeout_ms, unsigned int wait_ms);

/* Record a heartbeat now: one atomic store of CLOCK_MONOTONIC into the
 * process's own record, no lock, no system call.
 * Errors: -ENOTCONN not registered (or a child after fork()). */
int hb_beat(void);

/* End this process's registration.
 * Errors: -ENOTCONN not registered. */
int hb_unregister(void);

#ifdef __cplusplus
}
#endif

#endif
