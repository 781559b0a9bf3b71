/* hbctl remove: delete the segment and the semaphore at the key. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "table.h"

int cmd_remove(const struct ctl *ctl, int argc, char **argv)
{
	struct hb_table t;
	char why[256] = "";
	bool force = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			force = true;
		} else {
			ctl_error("remove: unknown argument '%s' (try 'hbctl --help')", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	/* Look before deleting: the key may hold another program's segment
	 * (a classic CPActive table lives at 0x5098 too), and IPC_RMID on it
	 * would destroy that program's data. */
	r = table_attach(ctl->key, true, &t, why, sizeof(why));
	if (r == 0)
		table_detach(&t);
	else if (r == -EPROTO && !force) {
		ctl_error("%s; not removing it (use 'remove --force' to delete it anyway)", why);
		return CTL_EXIT_FAIL;
	}
	/* Other attach errors (no semaphore, a semaphore never initialised)
	 * describe a broken table: removing it is the point. */
	r = table_remove(ctl->key);
	if (r == -ENOENT) {
		ctl_error("no heartbeat table at key 0x%x: nothing to remove", (unsigned)ctl->key);
		return CTL_EXIT_FAIL;
	}
	if (r < 0) {
		ctl_error("cannot remove the heartbeat table at key 0x%x: %s", (unsigned)ctl->key,
			  strerror(-r));
		return CTL_EXIT_FAIL;
	}
	printf("removed the heartbeat table at key 0x%x\n", (unsigned)ctl->key);
	return CTL_EXIT_OK;
}
