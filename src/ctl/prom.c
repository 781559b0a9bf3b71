/* hbctl metrics: Prometheus text format.  The process series are read live
 * from the heartbeat records; the daemon's counters (kills, escalations, refusals) live
 * only in the daemon, which writes them with its own copy of the process
 * series to metrics_dir/hbwatch.prom: --counters FILE merges that file's
 * counter families in, dropping its older copy of the process series. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "clock.h"
#include "ctl.h"
#include "metrics.h"
#include "record.h"

static int copy_counters(const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) >= 0)
		if (!metrics_is_proc_line(line))
			fputs(line, stdout);
	if (ferror(f))
		r = -EIO;
	free(line);
	fclose(f);
	return r;
}

/* Metrics' arguments: *COUNTERS gets --counters' file.  Returns
 * CTL_EXIT_OK, or CTL_EXIT_USAGE (said). */
static int metrics_args(int argc, char **argv, const char **counters)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--counters") == 0 && i + 1 < argc) {
			*counters = argv[++i];
		} else if (strncmp(argv[i], "--counters=", 11) == 0) {
			*counters = argv[i] + 11;
		} else {
			ctl_error("metrics: unknown argument '%s' (try 'hbctl --help')", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	return CTL_EXIT_OK;
}

/* Of the N records E, the processes hbwatch watches (VIEW), into P at
 * NOW: how many. */
static size_t watched_procs(struct census_entry *e, size_t n, const struct ctl_view *view,
			    struct metrics_proc *p, uint64_t now)
{
	size_t np = 0;

	for (size_t k = 0; k < n; k++) {
		struct hb_task_view t[HB_TASK_SLOTS];

		if (!e[k].busy && e[k].alive && e[k].trusted && e[k].v.name_ok &&
		    ctl_watched(&e[k], view))
			p[np++] = (struct metrics_proc){
			    .name = e[k].v.name,
			    .pid = e[k].pid,
			    .age_ns = ctl_entry_age(&e[k], now),
			    .timeout_ns = ctl_entry_timeout(&e[k], view),
			    .tasks = ctl_entry_tasks(&e[k], t, HB_TASK_SLOTS)};
	}
	return np;
}

int cmd_metrics(const struct ctl *ctl, int argc, char **argv)
{
	const char *counters = NULL;
	struct census_entry *e;
	struct ctl_view view;
	struct metrics_proc *p;
	size_t n, np;
	int r;

	r = metrics_args(argc, argv, &counters);
	if (r != CTL_EXIT_OK)
		return r;
	(void)ctl_view_load(ctl->key, &view, NULL, 0);
	r = ctl_census_collect(&view, &e, &n);
	if (r < 0) {
		ctl_view_free(&view);
		ctl_error("metrics: cannot enumerate heartbeat records: %s", strerror(-r));
		return CTL_EXIT_FAIL;
	}
	p = calloc(n ? n : 1, sizeof(*p));
	if (!p) {
		ctl_view_free(&view);
		free(e);
		ctl_error("metrics: out of memory");
		return CTL_EXIT_FAIL;
	}
	np = watched_procs(e, n, &view, p, now_ns());
	metrics_write_procs(stdout, p, np);
	free(p);
	free(e);
	ctl_view_free(&view);
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
