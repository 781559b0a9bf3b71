/* Whose word a heartbeat record is, and whether that word may aim a signal.
 *
 * The invariant: hbwatch signals a process only on the word of someone who
 * could already signal it with kill(2), that is root or a uid equal to the
 * process's real or saved user ID.  The writers of a record are the users
 * the kernel lets write it: its creator (shm_perm.cuid) and its owner
 * (shm_perm.uid), plus the group and everyone else if the mode gives them
 * write.  So a record is trusted only if the mode gives nobody else write
 * and both creator and owner could signal the process.  Pure. */
#ifndef HBWATCH_OWNERSHIP_H
#define HBWATCH_OWNERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What the kernel says about a record's segment and its process. */
struct ownership_facts {
	uid_t cuid, uid;  /* shm_perm.cuid and shm_perm.uid */
	unsigned mode;	  /* shm_perm.mode */
	uid_t ruid, suid; /* the process's real and saved user IDs */
};

enum ownership_verdict {
	OWNERSHIP_OK,
	OWNERSHIP_SHARED_WRITE, /* group or others may write the record */
	OWNERSHIP_CREATOR,	/* its creator could not signal the process */
	OWNERSHIP_OWNER,	/* its owner could not signal the process */
};

/* Could a process of uid U signal one with real uid RUID and saved uid
 * SUID, as kill(2) decides for an unprivileged sender? */
bool uid_may_signal(uid_t u, uid_t ruid, uid_t suid);

/* The verdict on F; on refusal, a sentence saying why in WHY (may be NULL). */
enum ownership_verdict ownership_check(const struct ownership_facts *f, char *why, size_t why_len);

#endif
