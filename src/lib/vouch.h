/* What a client checks before it announces into the registry at the key,
 * and how it names a refusal that came from its own sandbox.
 *
 * The registry is hbwatch's only if the kernel says it was created and is
 * owned by root (or by the caller itself: a user who runs an hbwatch of
 * their own for their own processes).  A segment another user squatted at
 * the key, in a shared non-host IPC namespace say, is refused: announcing
 * there would leave the process silently unwatched.
 *
 * A registration into the registry of a stopped hbwatch is made all the
 * same: hbwatch takes it up when it starts again, so that a restart loses
 * nothing, also of processes that start meanwhile.  hb_register_wait()
 * then says that hbwatch is not running.  hbwatch runs when its registry
 * names a pid (a cleanly stopped hbwatch leaves its registry but clears
 * that pid) and either the status segment it publishes there
 * still exists (it is marked for removal from the start, so it goes when
 * the daemon dies, whatever ends it) or that pid is alive.  The first
 * holds across PID namespaces, the second when the status segment could
 * not be made.  These are hints that group members may rewrite: a forged
 * one can only make a client wait (hb_register_wait()) or fail as if
 * hbwatch were stopped, never aim a signal. */
#ifndef HBWATCH_VOUCH_H
#define HBWATCH_VOUCH_H

#include <stdbool.h>
#include <stddef.h>

#include "registry.h"

/* Is R hbwatch's?  Returns 0, -EPROTO (made or owned by a user who is
 * neither root nor the caller; WHY says who) or another -errno from
 * shmctl(). */
int registry_vouch(const struct hb_registry *r, char *why, size_t why_len);

/* Does the registry name a live hbwatch (see above)?  A pid we may not
 * signal (EPERM) is alive. */
bool registry_owner_alive(const struct hb_registry *r);

/* Is this process under a seccomp filter (/proc/self/status "Seccomp: 2")?
 * Then an EPERM or ENOSYS from a System V call is the filter's, not the
 * kernel's permission check, which says EACCES. */
bool seccomp_filtered(void);

#endif
