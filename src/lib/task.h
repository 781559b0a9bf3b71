/* Task heartbeats: the labels and the handle of hb_task_open(). */
#ifndef HBWATCH_TASK_H
#define HBWATCH_TASK_H

#include "hbwatch.h"

#define HB_TASK_LABEL_SIZE (HB_TASK_LABEL_MAX + 1)

/* Check a task label: 1..HB_TASK_LABEL_MAX bytes of the characters of
 * service names (name.h).  Returns 0 or -EINVAL. */
int task_label_validate(const char *label);

#endif
