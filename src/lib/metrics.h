/* Prometheus text exposition (format 0.0.4) of registered processes, shared
 * by "hbctl metrics" and the daemon's textfile for node_exporter, so both
 * print the same series.  Writes only to the FILE it is given. */
#ifndef HBWATCH_METRICS_H
#define HBWATCH_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* One registered process as the metrics show it. */
struct metrics_proc {
	const char *name;
	pid_t pid;
	uint64_t age_ns;     /* since its last beat */
	uint64_t timeout_ns; /* the timeout that applies */
	unsigned tasks;	     /* its open task heartbeats */
};

/* Write S as the inside of a label value: '\\', '"' and newline escaped as
 * the format wants, and every other byte outside printable ASCII written
 * as the text \\xNN, so the output is valid UTF-8 whatever S holds. */
void metrics_write_label(FILE *f, const char *s);

/* Write the families hbwatch_registered_processes and, per process,
 * hbwatch_heartbeat_age_seconds, hbwatch_heartbeat_timeout_seconds and
 * hbwatch_open_tasks {name=,pid=} for the N processes at P. */
void metrics_write_procs(FILE *f, const struct metrics_proc *p, size_t n);

/* True if LINE (a line of exposition text) belongs to a family that
 * metrics_write_procs() writes, so a reader merging the daemon's file with
 * live series can drop the file's stale copy of them. */
int metrics_is_proc_line(const char *line);

#endif
