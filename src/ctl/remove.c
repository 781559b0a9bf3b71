/* hbctl remove: delete the registry at the key (and the semaphore there,
 * unless it is the owner's lock of an hbwatch that runs). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "registry.h"

/* What is at the key: 2 an hbwatch registry, 1 an hbwatch 0.1 table, 0
 * something else (WHY says what), or -errno. */
static int what_is_there(int key, char *why, size_t why_len)
{
	struct hb_registry reg;
	int r = registry_attach(key, true, &reg, why, why_len);

	if (r == 0) {
		registry_detach(&reg);
		return 2;
	}
	if (r == -EPROTO && strstr(why, "hbwatch 0.1"))
		return 1;
	return r == -EPROTO ? 0 : r;
}

int cmd_remove(const struct ctl *ctl, int argc, char **argv)
{
	char why[512] = "";
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
	r = what_is_there(ctl->key, why, sizeof(why));
	if (r == 0 && !force) {
		ctl_error("%s; not removing it (use 'remove --force' to delete it anyway)", why);
		return CTL_EXIT_FAIL;
	}
	r = registry_remove(ctl->key);
	if (r == -ENOENT) {
		ctl_error("no hbwatch registry at key 0x%x: nothing to remove", (unsigned)ctl->key);
		return CTL_EXIT_FAIL;
	}
	if (r < 0) {
		ctl_error("cannot remove the hbwatch registry at key 0x%x: %s", (unsigned)ctl->key,
			  strerror(-r));
		return CTL_EXIT_FAIL;
	}
	/* Registrations live in their processes' own records: they stay, and
	 * a running hbwatch makes a new registry within a second. */
	printf("removed the hbwatch registry at key 0x%x\n", (unsigned)ctl->key);
	return CTL_EXIT_OK;
}
