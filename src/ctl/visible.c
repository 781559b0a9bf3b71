/* What hbctl shows a reader of other uids' registrations: no more than
 * /proc shows that reader.  The kernel enforces most of it: records are
 * readable by their owner, root and hbwatch's group only, and hbwatch's
 * verdicts (with how each hung process hung) by root and the group only
 * (record.h, status.h).  What is left is a record another uid made
 * readable to all (an older client's, mode 0644): shown to a reader
 * outside the group only while /proc lets that reader look at its
 * process, so never under hidepid=1 or 2. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "census.h"
#include "ctl.h"

#define GROUPS_MAX 256

bool ctl_sees_all(const struct ctl_view *v)
{
	gid_t g[GROUPS_MAX];
	int n;

	if (geteuid() == 0 || v->have)
		return true; /* root, or the kernel let us read the verdicts */
	if (!v->has_group)
		return false;
	if (getegid() == v->group)
		return true;
	n = getgroups(GROUPS_MAX, g);
	for (int i = 0; i < n; i++)
		if (g[i] == v->group)
			return true;
	return false;
}

/* May this reader look at process PID in /proc? */
static bool proc_shows(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return pid > 0 && access(path, R_OK) == 0;
}

int ctl_census_collect(const struct ctl_view *v, struct census_entry **out, size_t *n)
{
	int r = census_collect(out, n);
	uid_t me = geteuid();
	size_t k = 0;

	if (r < 0 || ctl_sees_all(v))
		return r;
	for (size_t i = 0; i < *n; i++) {
		struct census_entry *e = &(*out)[i];

		if (e->cuid == me || e->uid == me || proc_shows(e->pid))
			(*out)[k++] = *e;
	}
	*n = k;
	return 0;
}
