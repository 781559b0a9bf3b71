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

/* The calling thread's tid, read once per thread and kept here, so that a
 * beat names its thread without a system call.  0: not read yet (also in
 * a fork child: client.c resets it there).  Initial-exec: a load relative
 * to the thread pointer, no call, in the beat. */
extern __thread int32_t client_tid_cache __attribute__((tls_model("initial-exec")));

/* Read the tid into client_tid_cache and return it. */
int32_t client_tid_slow(void);

static inline int32_t client_tid(void)
{
	int32_t t = client_tid_cache;

	return __builtin_expect(t != 0, 1) ? t : client_tid_slow();
}

/* Close every open task of REC (at the end of its registration). */
void task_close_all(struct hb_record *rec);

#endif
