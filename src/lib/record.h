/* A heartbeat record: the small System V segment each registered process
 * creates for itself and alone may write.
 *
 * Trust comes from the kernel, not from the bytes: shmctl(IPC_STAT) tells
 * who created the segment (shm_perm.cuid, and shm_cpid in the reader's own
 * PID namespace), who owns it and who may write it (shm_perm.mode).  A
 * record is written by its creator and owner only (mode 0644: no group or
 * other write), so what it says is the word of that uid, and hbwatch acts
 * on it only where that uid could signal the process itself (ownership.h).
 *
 * The library's records name their creator (HB_RECORD_SELF: the process is
 * shm_cpid, so a client in another PID namespace is found too) and are
 * marked for removal at once: they vanish with the last process attached,
 * so they can never leak.  hbctl's records for shell jobs name another
 * process and are handed to root (shm_perm.uid 0), so that the daemon can
 * remove them once that process is gone; their creator keeps write access.
 *
 * Concurrency: the first line is written once, before the magic.  The
 * registration (state, timeout, name) changes only inside the owner's
 * seqlock (seq odd while writing).  beat_ns has a line of its own: the
 * owner stores it with release order, readers load it with acquire order.
 */
#ifndef HBWATCH_RECORD_H
#define HBWATCH_RECORD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "name.h"

#define HB_RECORD_MAGIC	  UINT64_C(0x3130434552574248) /* "HBWREC01", little endian */
#define HB_RECORD_VERSION 1u
#define HB_RECORD_SIZE	  4096u
#define HB_RECORD_MODE	  0644
#define HB_RECORD_SELF	  1u /* the process is the segment's creator */
#define HB_NAME_WORDS	  (HB_NAME_SIZE / 8)

enum hb_record_state {
	HB_RECORD_OPEN = 1,   /* registered: deadlines apply */
	HB_RECORD_CLOSED = 2, /* unregistered: nothing applies */
};

struct hb_record {
	/* Line 0: fixed at creation. */
	uint64_t magic;
	uint32_t version;
	uint32_t size;
	uint32_t flags;	      /* HB_RECORD_SELF */
	int32_t pid;	      /* the process, in its creator's PID namespace */
	uint64_t start_time;  /* field 22 of /proc/PID/stat, clock ticks */
	uint32_t task_offset; /* per-task heartbeats: 0 in this version */
	uint32_t task_count;
	uint32_t task_size;
	uint8_t reserved0[64 - 44];
	/* Line 1: the registration, under the seqlock. */
	_Atomic uint32_t seq;
	_Atomic uint32_t state;
	_Atomic uint64_t timeout_ns;
	uint8_t reserved1[64 - 16];
	/* Line 2: the name, NUL-terminated, read word by word. */
	_Atomic uint64_t name[HB_NAME_WORDS];
	/* Line 3: the heartbeat, alone on its line. */
	_Atomic uint64_t beat_ns; /* CLOCK_MONOTONIC of the last beat */
	uint8_t reserved3[64 - 8];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct hb_record) == 256, "record layout");
_Static_assert(HB_NAME_SIZE == 64, "the name fills one line");

/* A consistent copy of a record, as record_read() takes it. */
struct hb_record_view {
	uint32_t flags;
	int32_t pid;
	uint64_t start_time;
	uint32_t seq;
	uint32_t state;
	uint64_t timeout_ns;
	uint64_t beat_ns;
	char name[HB_NAME_SIZE]; /* always NUL-terminated */
	bool name_ok;		 /* the record held a valid service name */
};

/* Check that MEM (SIZE bytes, the whole segment) holds a record of this
 * layout.  Pure.  Returns 0 or -EPROTO with the reason in WHY (may be NULL). */
int record_validate(const void *mem, size_t size, char *why, size_t why_len);

/* Create and attach a record for process PID with START_TIME: SELF if PID
 * is the caller (the record is then marked for removal at once); otherwise
 * it is handed to root so the daemon can remove it.  The registration is
 * CLOSED until record_set().  Returns 0 with *REC and *SHMID set, or
 * -errno: -ENOSPC when the host's segment limit (kernel.shmmni) is reached. */
int record_create(pid_t pid, uint64_t start_time, bool self, struct hb_record **rec, int *shmid);

/* Attach an existing record (*REC) by SHMID; read-only or for writing.
 * Validates it.  Returns 0, -EPROTO (not a record) or -errno. */
int record_attach(int shmid, bool readonly, struct hb_record **rec);

/* Detach.  Safe on NULL. */
void record_detach(const struct hb_record *rec);

/* The owner's write of the registration: STATE, TIMEOUT_NS and NAME inside
 * the seqlock, then a beat now.  Callers serialise their own writes. */
void record_set(struct hb_record *rec, enum hb_record_state state, uint64_t timeout_ns,
		const char *name);

/* Snapshot REC without any lock, a few tries at most.  Returns 0, or
 * -EAGAIN if the owner was writing during every try. */
int record_read(const struct hb_record *rec, struct hb_record_view *v);

/* The heartbeat: one atomic store. */
static inline void record_beat(struct hb_record *rec, uint64_t now)
{
	atomic_store_explicit(&rec->beat_ns, now, memory_order_release);
}

#endif
