/* The metrics file for node_exporter's textfile collector. */
#ifndef HBWATCH_TEXTFILE_H
#define HBWATCH_TEXTFILE_H

#include "daemon.h"

/* The textfile for node_exporter (metrics_dir): rewrite it if something
 * changed, at most once a second. */
void textfile_update(struct daemon *d);

/* Stop the textfile's timer. */
void textfile_finish(struct daemon *d);

#endif
