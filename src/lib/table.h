/* The heartbeat table: a System V shared-memory segment holding a fixed
 * header and SLOT_COUNT cache-line aligned slots, guarded for registration
 * by a one-element System V semaphore on the same key (sem.h).
 *
 * Concurrency: every shared field is a C11 atomic.  A slot's identity
 * fields (pid, start time, timeout, name) change only under the semaphore
 * and inside a seqlock (slot.seq is odd while they are being written), so
 * a lock-free reader takes a consistent snapshot or learns it raced.
 * beat_ns is outside the seqlock: the owner stores it with release order
 * and readers load it with acquire order; a beat takes no lock.
 */
#ifndef HBWATCH_TABLE_H
#define HBWATCH_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hbwatch.h"

#define HB_TABLE_MAGIC	     UINT64_C(0x3130484354415742) /* "BWATCH01", little endian */
#define HB_TABLE_VERSION     1u
#define HB_KEY_DEFAULT	     0x5098
#define HB_SLOTS_DEFAULT     1024u
#define HB_SLOTS_MAX	     65536u
#define HB_NAME_SIZE	     (HB_NAME_MAX + 1)
#define HB_NAME_WORDS	     (HB_NAME_SIZE / 8)
#define HB_CACHELINE	     64
#define HB_SEM_WAIT_MS	     2000u
#define HB_LEGACY_TABLE_SIZE 72000u /* classic CPActive: 1000 x 72-byte records */

struct hb_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uint32_t slot_size;
	uint32_t slot_count;
	_Atomic int32_t owner_pid;   /* the hbwatch daemon that owns the table */
	_Atomic uint32_t doorbell;   /* futex word: bumped and woken on register */
	_Atomic uint64_t generation; /* bumped by every register/unregister */
	uint64_t created_ns;	     /* CLOCK_REALTIME at creation */
	uint8_t reserved[64 - 48];
} __attribute__((aligned(HB_CACHELINE)));

struct hb_slot {
	_Atomic uint32_t seq;	     /* seqlock; also the registration sequence */
	_Atomic int32_t pid;	     /* 0 = free */
	_Atomic uint64_t start_time; /* field 22 of /proc/PID/stat, clock ticks */
	_Atomic uint64_t timeout_ns;
	_Atomic uint64_t beat_ns;	      /* CLOCK_MONOTONIC of the last beat */
	_Atomic uint64_t name[HB_NAME_WORDS]; /* NUL-terminated, read word-wise */
	uint8_t reserved[128 - 32 - HB_NAME_SIZE];
} __attribute__((aligned(HB_CACHELINE)));

_Static_assert(sizeof(struct hb_header) == 64, "header layout");
_Static_assert(sizeof(struct hb_slot) == 128, "slot layout");
_Static_assert(HB_NAME_SIZE % 8 == 0, "name is read in 8-byte words");

/* A consistent copy of a slot's identity, taken without the lock. */
struct hb_slot_view {
	uint32_t seq;
	int32_t pid;
	uint64_t start_time;
	uint64_t timeout_ns;
	uint64_t beat_ns;
	char name[HB_NAME_SIZE]; /* always NUL-terminated by table_slot_read() */
	bool name_ok;		 /* the slot held a NUL within HB_NAME_SIZE bytes */
};

/* An attached table.  Embedded: table_attach()/table_create() fill it,
 * table_detach() releases it. */
struct hb_table {
	int key;
	int shmid;
	int semid;
	size_t size;
	struct hb_header *hdr;
	struct hb_slot *slots;
	uint32_t slot_count;
};

/* Bytes needed for a table of SLOT_COUNT slots. */
size_t table_size(uint32_t slot_count);

/* Check that MEM (SIZE bytes, the whole segment) holds an hbwatch table of
 * this layout.  Pure: touches nothing but MEM.  Returns 0, or -EPROTO with
 * a one-line explanation of what was found in WHY (which may be NULL). */
int table_validate(const void *mem, size_t size, char *why, size_t why_len);

/* Attach to the existing table at KEY, read-write or READONLY.  Returns 0,
 * -ENOENT (no segment or no semaphore), -EACCES, -EPROTO (not an hbwatch
 * table; WHY says what it looks like), or another -errno.  WHY may be NULL. */
int table_attach(int key, bool readonly, struct hb_table *t, char *why, size_t why_len);

/* Create the table at KEY with SLOT_COUNT slots, owned by group GID (or
 * (gid_t)-1 to keep ours) with mode 0660, or adopt a compatible existing
 * one (then *ADOPTED is true and its slot count wins).  Sets owner_pid.
 * Returns 0 or -errno; a foreign segment is -EPROTO with WHY filled. */
int table_create(int key, uint32_t slot_count, gid_t gid, struct hb_table *t, bool *adopted,
		 char *why, size_t why_len);

/* Detach; the segment and semaphore stay.  Safe on a zeroed table. */
void table_detach(struct hb_table *t);

/* Remove the segment and the semaphore at KEY.  Returns 0 if both went,
 * -ENOENT if neither existed, or the first -errno met. */
int table_remove(int key);

/* Snapshot slot I without the lock.  Returns 0, or -EAGAIN if the slot
 * was being written during every try (a writer holds it or it is corrupt). */
int table_slot_read(const struct hb_table *t, uint32_t i, struct hb_slot_view *v);

/* Write a registration into slot I.  Caller holds the semaphore. */
void table_slot_fill(struct hb_table *t, uint32_t i, pid_t pid, uint64_t start_time,
		     uint64_t timeout_ns, uint64_t beat_ns, const char *name);

/* Free slot I if it still holds registration SEQ (from a view taken
 * earlier).  Caller holds the semaphore.  Returns true if it was freed. */
bool table_slot_clear(struct hb_table *t, uint32_t i, uint32_t seq);

/* Tell the daemon a registration changed: bump the doorbell and wake the
 * futex it sleeps on, so it need not poll for new slots. */
void table_ring(struct hb_table *t);

/* Block until the doorbell moves past SEEN (or a spurious wake-up).
 * Returns 0, or -errno from futex(2) other than EAGAIN/EINTR. */
int table_doorbell_wait(struct hb_table *t, uint32_t seen);

/* Find the slot holding PID, else the first free one.  Caller holds the
 * semaphore.  Returns the index, or -ENOSPC. */
int table_slot_find(const struct hb_table *t, pid_t pid);

/* Register PID (whose start time is START_TIME) under NAME with TIMEOUT_NS:
 * takes the semaphore, reuses a slot holding PID (a re-registration, or a
 * stale record of an earlier process with that pid) or the first free one,
 * stamps a beat now and rings the doorbell.  *SEQ (if not NULL) receives
 * the registration's seq, which identifies it.  Returns the slot index,
 * -ENOSPC, -ETIMEDOUT, -EIDRM or another -errno from the semaphore. */
int table_register(struct hb_table *t, pid_t pid, uint64_t start_time, uint64_t timeout_ns,
		   const char *name, uint32_t *seq);

/* The slot registered by the process PID with START_TIME (both must match,
 * so a later process reusing the pid is not it), lock-free.  Fills *V if
 * not NULL.  Returns the index or -ENOENT. */
int table_find_process(const struct hb_table *t, pid_t pid, uint64_t start_time,
		       struct hb_slot_view *v);

/* Beat for the process PID with START_TIME: one atomic store into its slot,
 * no lock.  Returns 0 or -ENOENT (no such registration). */
int table_beat_process(struct hb_table *t, pid_t pid, uint64_t start_time);

/* Remove the registration of the process PID with START_TIME under the
 * semaphore.  Returns 0, -ENOENT, or -errno from the semaphore. */
int table_unregister_process(struct hb_table *t, pid_t pid, uint64_t start_time);

/* Check a service name: 1..HB_NAME_MAX bytes of ASCII letters, digits and
 * "-_.:@".  Returns 0 or -EINVAL. */
int name_validate(const char *name);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

#endif
