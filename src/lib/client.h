/* The client's registration, as task.c sees it (client.c owns it). */
#ifndef HBWATCH_CLIENT_H
#define HBWATCH_CLIENT_H

#include <stdatomic.h>
#include <stdint.h>

#include "record.h"

/* Our record while registered, else NULL. */
extern _Atomic(struct hb_record *) client_rec;
/* Bumped whenever a registration ends (hb_unregister(), and in a child
 * after fork()): a task opened under another value is gone. */
extern _Atomic uint64_t client_epoch;

/* Close every open task of REC (at the end of its registration). */
void task_close_all(struct hb_record *rec);

#endif
