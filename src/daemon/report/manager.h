/* What the service manager hears from hbwatch (sd_notify): READY=1,
 * RELOADING=1, STOPPING=1, ERRNO=, the STATUS= line, and WATCHDOG=1 from a
 * timer of the loop.  Nothing here ever waits on PID 1 for long: the kill
 * path must not stall behind a busy manager. */
#ifndef HBWATCH_MANAGER_H
#define HBWATCH_MANAGER_H

#include "daemon.h"

/* Connect to $NOTIFY_SOCKET, if set (a malformed one is said and left). */
void manager_open(struct daemon *d);

/* If our unit has WatchdogSec=, ping four times per period from a timer
 * of D's loop.  Returns 0 or -errno. */
int manager_watchdog_start(struct daemon *d);

/* READY=1, at start. */
void manager_ready(struct daemon *d);

/* READY=1 after a reload; STATUS= is said afresh. */
void manager_reloaded(struct daemon *d);

/* RELOADING=1, before a reload. */
void manager_reloading(struct daemon *d);

/* STOPPING=1. */
void manager_stopping(struct daemon *d);

/* ERRNO=: start-up failed with -errno R. */
void manager_failed(struct daemon *d, int r);

/* STATUS=: how many processes are watched and the last action, when it
 * changed, at most once a second. */
void manager_status(struct daemon *d);

/* Stop the timers and close the socket. */
void manager_close(struct daemon *d);

#endif
