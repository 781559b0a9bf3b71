/* hbctl metrics: Prometheus text format.  The slot series are read live
 * from the table; the daemon's counters (kills, escalations, refusals) live
 * only in the daemon, which writes them with its own copy of the slot
 * series to metrics_dir/hbwatch.prom: --counters FILE merges that file's
 * counter families in, dropping its older copy of the slot series. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "metrics.h"
#include "table.h"

static int copy_counters(const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) >= 0)
		if (!metrics_is_slot_line(line))
			fputs(line, stdout);
	if (ferror(f))
		r = -EIO;
	free(line);
	fclose(f);
	return r;
}

int cmd_metrics(const struct ctl *ctl, int argc, char **argv)
{
	const char *counters = NULL;
	struct hb_table t;
	char why[256] = "";
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--counters") == 0 && i + 1 < argc) {
			counters = argv[++i];
		} else if (strncmp(argv[i], "--counters=", 11) == 0) {
			counters = argv[i] + 11;
		} else {
			ctl_error("metrics: unknown argument '%s' (try 'hbctl --help')", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	r = table_attach(ctl->key, true, &t, why, sizeof(why));
	if (r < 0) {
		ctl_error("%s", why[0] ? why : strerror(-r));
		return CTL_EXIT_FAIL;
	}
	metrics_write_slots(stdout, &t, now_ns());
	table_detach(&t);
	if (counters) {
		r = copy_counters(counters);
		if (r < 0) {
			ctl_error("metrics: cannot read counters from %s: %s", counters,
				  strerror(-r));
			return CTL_EXIT_FAIL;
		}
	}
	return CTL_EXIT_OK;
}
