/* Prometheus text exposition (format 0.0.4) of the heartbeat table, shared
 * by "hbctl metrics" and the daemon's textfile for node_exporter, so both
 * print the same series.  Writes only to the FILE it is given. */
#ifndef HBWATCH_METRICS_H
#define HBWATCH_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "table.h"

/* Write S as the inside of a label value: '\\', '"' and newline escaped as
 * the format wants, and every other byte outside printable ASCII written
 * as the text \\xNN, so the output is valid UTF-8 whatever S holds. */
void metrics_write_label(FILE *f, const char *s);

/* Write the families hbwatch_slots_total, hbwatch_slots_used and, per
 * registered slot, hbwatch_heartbeat_age_seconds and
 * hbwatch_heartbeat_timeout_seconds{name=,pid=,slot=}, ages as of NOW
 * (CLOCK_MONOTONIC ns).  Lock-free, like table_slot_read(). */
void metrics_write_slots(FILE *f, const struct hb_table *t, uint64_t now);

/* True if LINE (a line of exposition text) belongs to a family that
 * metrics_write_slots() writes, so a reader merging the daemon's file with
 * live slot series can drop the file's stale copy of them. */
int metrics_is_slot_line(const char *line);

#endif
