/* Every heartbeat record on the host, found without the registry: the
 * kernel enumerates all System V segments of the IPC namespace to anyone
 * (shmctl SHM_STAT_ANY, as /proc/sysvipc/shm shows them).  The daemon uses
 * it at start (so a restart loses no registration), when hints were lost,
 * and periodically; hbctl uses it to show and find records. */
#ifndef HBWATCH_CENSUS_H
#define HBWATCH_CENSUS_H

#include <stdint.h>
#include <sys/shm.h>
#include <sys/types.h>

#include "record.h"

/* Call FN for every segment of a record's size, with its shmid and what
 * IPC_STAT says of it.  FN returns 0 to go on, anything else to stop (and
 * census_each() returns it).  Returns 0 or -errno. */
int census_each(int (*fn)(int shmid, const struct shmid_ds *ds, void *userdata), void *userdata);

/* The same walk in parts, over every segment of any size: from the
 * kernel's index *CURSOR (0 to begin), calling FN for each segment there.
 * FN returns 0 to go on; anything else stops the walk before that segment,
 * *CURSOR left at it, and census_walk() returns it: a later call goes on
 * from there.  Returns 0 once past the last index, or -errno.  Segments
 * made behind the cursor meanwhile are left to the next walk. */
int census_walk(int *cursor, int (*fn)(int shmid, const struct shmid_ds *ds, void *userdata),
		void *userdata);

/* A record as anyone may inspect it, with the verdict the daemon reaches
 * on the same facts. */
struct census_entry {
	int shmid;
	pid_t pid;		 /* the process, in our PID namespace (shm_cpid if SELF) */
	uid_t cuid, uid;	 /* creator and owner of the segment */
	struct hb_record_view v; /* if ALIVE, v.start_time is the process's own, and its
				    times are on our clock */
	int64_t clock_rel_ns;	 /* how far the process's clock runs ahead of ours (timens.h) */
	bool busy;		 /* the owner was writing during every read */
	bool alive;		 /* PID is alive with the recorded start time */
	bool trusted;		 /* ownership_check() passed */
	char why[160];		 /* why it is not trusted, or not alive */
};

/* Inspect the record SHMID (attach read-only, read, detach).  Returns 0,
 * -EPROTO (not a heartbeat record) or -errno. */
int census_inspect(int shmid, const struct shmid_ds *ds, struct census_entry *e);

/* Every record of the host that is registered (state OPEN), in *OUT (caller
 * frees) and *N.  Returns 0 or -errno. */
int census_collect(struct census_entry **out, size_t *n);

#endif
