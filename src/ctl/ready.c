/* hbctl wait-ready: wait until hbwatch runs at the key and takes
 * registrations, for scripts that start hbwatch and then its clients
 * outside systemd (under systemd, Type=notify and After=hbwatch.service
 * do this). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ctl.h"
#include "duration.h"

#define READY_DEFAULT_NS (30ull * 1000000000u)
#define READY_POLL_NS	 20000000L

/* Ready: the registry at the key is there and names a live hbwatch
 * (owner_pid), and that hbwatch has published its verdicts, which it
 * does once it has set up the registry.  Says in WHY what is missing. */
static bool ready(int key, char *why, size_t why_len)
{
	struct ctl_view v;
	int r = ctl_view_load(key, &v, why, why_len);
	bool ok = r == 0 && v.alive && v.have;

	if (r == 0 && !v.alive)
		snprintf(why, why_len, "the registry at key 0x%x names no running hbwatch", key);
	else if (r == 0 && !ok)
		snprintf(why, why_len, "hbwatch (pid %d) has not published its verdicts",
			 (int)v.owner);
	ctl_view_free(&v);
	return ok;
}

int cmd_wait_ready(const struct ctl *ctl, int argc, char **argv)
{
	uint64_t timeout = READY_DEFAULT_NS, end;
	char why[512] = "";

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (duration_parse(argv[++i], &timeout) < 0) {
				ctl_error("wait-ready: bad --timeout '%s': expected a duration "
					  "(5s, 1min)",
					  argv[i]);
				return CTL_EXIT_USAGE;
			}
		} else {
			ctl_error("wait-ready: unknown argument '%s' (try 'hbctl --help')",
				  argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	end = now_ns() + timeout;
	while (!ready(ctl->key, why, sizeof(why))) {
		if (now_ns() >= end) {
			ctl_error("wait-ready: hbwatch was not ready at key 0x%x in time: %s",
				  (unsigned)ctl->key, why[0] ? why : "no registry");
			return CTL_EXIT_FAIL;
		}
		nanosleep(&(struct timespec){.tv_nsec = READY_POLL_NS}, NULL);
	}
	return CTL_EXIT_OK;
}
