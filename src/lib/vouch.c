#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "vouch.h"
#include "why.h"

bool registry_owner_alive(const struct hb_registry *r)
{
	pid_t pid = atomic_load(&r->hdr->owner_pid);
	int status_id = atomic_load(&r->hdr->status_shmid);
	struct shmid_ds rds, ds;

	if (pid <= 0)
		return false; /* stopped cleanly */
	/* The pid means nothing in another PID namespace (a container that
	 * shares the host's IPC namespace).  What does: the daemon's status
	 * segment is marked for removal from the start and attached by the
	 * daemon alone (readers only for a moment), so it exists only while
	 * the daemon runs, whatever ends it. */
	if (status_id > 0 && shmctl(r->shmid, IPC_STAT, &rds) == 0 &&
	    shmctl(status_id, IPC_STAT, &ds) == 0 && ds.shm_perm.cuid == rds.shm_perm.uid &&
	    ds.shm_perm.uid == rds.shm_perm.uid && ds.shm_nattch > 0)
		return true;
	return kill(pid, 0) == 0 || errno == EPERM;
}

int registry_vouch(const struct hb_registry *r, char *why, size_t why_len)
{
	uid_t self = geteuid();
	struct shmid_ds ds;

	if (shmctl(r->shmid, IPC_STAT, &ds) < 0)
		return -errno;
	if ((ds.shm_perm.cuid != 0 && ds.shm_perm.cuid != self) ||
	    (ds.shm_perm.uid != 0 && ds.shm_perm.uid != self)) {
		why_set(why, why_len,
			"the registry at key 0x%x was created by uid %u and is owned by uid %u: "
			"hbwatch's is root's, so this one is not hbwatch's and a heartbeat "
			"announced there would go unwatched",
			r->key, (unsigned)ds.shm_perm.cuid, (unsigned)ds.shm_perm.uid);
		return -EPROTO;
	}
	return 0;
}

bool seccomp_filtered(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	bool filtered = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Seccomp:", 8) == 0) {
			filtered = strtol(line + 8, NULL, 10) == 2;
			break;
		}
	fclose(f);
	return filtered;
}
