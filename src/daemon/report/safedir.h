/* A directory hbwatch writes into as root, opened so that nobody else can
 * redirect those writes: every directory on its path is checked while it
 * is walked, and the writes are made relative to the handle. */
#ifndef HBWATCH_SAFEDIR_H
#define HBWATCH_SAFEDIR_H

#include <stddef.h>
#include <sys/types.h>

/* Open the absolute directory PATH (O_PATH) if it, and every directory
 * above it, can be changed by nobody but root and OWNER (hbwatch's uid):
 * owned by one of them, and not writable by group or others unless sticky
 * (as /tmp: others cannot rename what they do not own there).  A symlink on
 * the way is followed only if root or OWNER owns it, and the walk goes on
 * checking its target.  Returns the handle, or -errno with WHY saying which
 * component was refused and why (-EPERM for a refused one). */
int safedir_open(const char *path, uid_t owner, char *why, size_t why_len);

#endif
