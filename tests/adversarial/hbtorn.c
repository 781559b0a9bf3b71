/* hbtorn: die inside the table's critical section, as a client killed at
 * the worst moment would.
 *
 * hbtorn [--reregister] --ready-fd FD
 *
 * Attaches to the table at $HBWATCH_KEY and takes the semaphore (SEM_UNDO,
 * as the library does).  Then opens a seqlock write on a slot (slot.seq
 * made odd, as table_slot_fill() does first) and writes half a
 * registration: the start time and the name, not yet the pid.
 *   default       the first free slot: its pid stays 0.
 *   --reregister  first registers itself completely (as hb_register()
 *                 does), then starts re-registering: the slot keeps its
 *                 own pid with an odd seq (a re-registration reuses the
 *                 slot holding the pid).
 * Writes "TORN <slot> <pid>\n" to FD and sleeps until killed.  Exit status:
 * 2 usage, 1 attach/lock/proc failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "proc.h"
#include "sem.h"
#include "table.h"

int main(int argc, char **argv)
{
	struct hb_table t;
	char why[256] = "", line[64];
	bool rereg = false;
	int key, fd = -1, r, i, n;
	uint64_t st;

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--reregister") == 0)
			rereg = true;
		else if (strcmp(argv[a], "--ready-fd") == 0 && a + 1 < argc)
			fd = atoi(argv[++a]);
		else {
			fprintf(stderr, "Usage: hbtorn [--reregister] --ready-fd FD\n");
			return 2;
		}
	}
	if (fd < 0 || key_from_env(&key) < 0) {
		fprintf(stderr, "hbtorn: need --ready-fd and $HBWATCH_KEY\n");
		return 2;
	}
	r = table_attach(key, false, &t, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "hbtorn: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	if (proc_starttime(getpid(), &st) < 0)
		return 1;
	r = sem_lock(t.semid, HB_SEM_WAIT_MS);
	if (r < 0) {
		fprintf(stderr, "hbtorn: cannot lock: %s\n", strerror(-r));
		return 1;
	}
	i = table_slot_find(&t, getpid());
	if (i < 0)
		return 1;
	/* A complete registration first, as hb_register() writes it. */
	if (rereg)
		table_slot_fill(&t, (uint32_t)i, getpid(), st, 60000000000u, now_ns(), "torn");
	struct hb_slot *s = &t.slots[i];
	uint32_t seq = atomic_load(&s->seq);
	atomic_store(&s->seq, seq | 1u); /* the seqlock is open ... */
	atomic_thread_fence(memory_order_release);
	atomic_store(&s->start_time, st);
	atomic_store(&s->name[0], UINT64_C(0x6e726f74)); /* "torn" */
	/* ... and is never closed: the caller SIGKILLs us here. */
	n = snprintf(line, sizeof(line), "TORN %d %d\n", i, (int)getpid());
	if (write(fd, line, (size_t)n) != n)
		return 1;
	close(fd);
	for (;;)
		pause();
}
