/* Service names, what a heartbeat is registered under, and task labels,
 * which follow the same rules. */
#ifndef HBWATCH_NAME_H
#define HBWATCH_NAME_H

#include "hbwatch.h"

#define HB_NAME_SIZE	   (HB_NAME_MAX + 1)
#define HB_TASK_LABEL_SIZE (HB_TASK_LABEL_MAX + 1)

/* Check a service name: 1..HB_NAME_MAX bytes of ASCII letters, digits and
 * "-_.:@" (the characters of systemd unit names).  Returns 0 or -EINVAL. */
int name_validate(const char *name);

/* Check a task label: 1..HB_TASK_LABEL_MAX bytes of the characters of
 * service names.  Returns 0 or -EINVAL. */
int task_label_validate(const char *label);

/* Copy up to HB_NAME_SIZE - 1 bytes of SRC into DST (HB_NAME_SIZE bytes),
 * every byte outside printable ASCII replaced by '?', so that a hostile
 * name cannot forge a log line or a terminal sequence. */
void name_printable(char *dst, const char *src);

#endif
