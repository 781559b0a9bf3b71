/* A heartbeat record: the small System V segment each registered process
 * creates for itself and alone may write.
 *
 * Trust comes from the kernel, not from the bytes: shmctl(IPC_STAT) tells
 * who created the segment (shm_perm.cuid, and shm_cpid in the reader's own
 * PID namespace), who owns it and who may write it (shm_perm.mode).  A
 * record is written by its creator and owner only (no group or other
 * write), so what it says is the word of that uid, and hbwatch acts on it
 * only where that uid could signal the process itself (ownership.h).  It
 * is read by its owner, root and hbwatch's group only (mode 0640 in the
 * registry's group): its name, task labels and beats are nobody else's
 * business, as /proc with hidepid= keeps a process's (hbctl(1)).
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
 *
 * Layout 2 (8 KiB) adds task heartbeats (task.h): HB_TASK_SLOTS slots of
 * 64 bytes from byte 256, and task_high, the number of slots ever claimed,
 * so a reader touches only those: SysV pages are allocated when first
 * touched, and a process without tasks keeps a one-page record.  Layout 1
 * (4 KiB, no tasks, no extension) is still read: its bytes 0..255 are the
 * same and the words layout 2 added there were reserved and zero.
 *
 * Layout 3 (12 KiB) adds which thread beat last: beat_tid beside beat_ns
 * (a word that was reserved and zero), and, since a task slot is one full
 * line, an array of one tid per task slot from byte 8192 (task_tid_offset),
 * on a page of its own that only task beats touch.  Layout 2 records (the
 * Python binding's, older clients') are still read, without tids.  A tid
 * is the writer's word: the daemon checks that it is a thread of the
 * process before it looks at it or signals it.
 *
 * Bounds: the owner may rewrite any byte of its record at any moment,
 * line 0 included.  So what sizes or places a read (the layout, where the
 * task slots are and how many lie inside the mapping) is decided once, at
 * attach, by record_geometry() from the kernel's segment size and the
 * header, and kept beside the mapping (struct hb_record_map).  Every later
 * read is bounded by that, never by a live field; a record whose header no
 * longer says what was decided is refused (record_check()), not followed.
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
#define HB_RECORD_VERSION 3u
#define HB_RECORD_SIZE	  12288u
#define HB_RECORD_V1_SIZE 4096u /* layout 1, of 0.2 clients: read, never made */
#define HB_RECORD_V2_SIZE 8192u /* layout 2: tasks without tids; read, never made */
#define HB_RECORD_MODE	  0640
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
	uint32_t flags;		  /* HB_RECORD_SELF */
	int32_t pid;		  /* the process, in its creator's PID namespace */
	uint64_t start_time;	  /* field 22 of /proc/PID/stat, clock ticks; 0: see made_boot_ns */
	uint32_t task_offset;	  /* where the task slots start: HB_TASK_OFFSET (0 in layout 1) */
	uint32_t task_count;	  /* how many: HB_TASK_SLOTS */
	uint32_t task_size;	  /* bytes each: sizeof(struct hb_task_slot) */
	uint32_t task_tid_offset; /* layout 3: the tid per task slot, HB_TASK_TID_OFFSET */
	uint64_t made_boot_ns;	  /* CLOCK_BOOTTIME of the creator when it made the record */
	uint8_t reserved0[64 - 56];
	/* Line 1: the registration, under the seqlock. */
	_Atomic uint32_t seq;
	_Atomic uint32_t state;
	_Atomic uint64_t timeout_ns;
	_Atomic uint32_t task_high; /* slots [0, task_high) were ever claimed; grows only */
	uint8_t reserved1[64 - 20];
	/* Line 2: the name, NUL-terminated, read word by word. */
	_Atomic uint64_t name[HB_NAME_WORDS];
	/* Line 3: the heartbeat, alone on its line. */
	_Atomic uint64_t beat_ns; /* CLOCK_MONOTONIC of the last beat (its process's: timens.h) */
	/* The deadline extension (hb_extend()): until ext_until_ns, unless a
	 * beat newer than ext_at_ns ended it.  ext_at_ns is stored last. */
	_Atomic uint64_t ext_at_ns;
	_Atomic uint64_t ext_until_ns;
	_Atomic int32_t beat_tid; /* layout 3: the thread of the last beat, 0: unknown */
	uint8_t reserved3[64 - 28];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct hb_record) == 256, "record layout");

/* A task heartbeat (hb_task_open()): one line.  WORD is the slot's state
 * (HB_TASK_FREE, _CLAIMED, _OPEN) in its low 2 bits and a generation in
 * the others, bumped by every claim: a reused slot is a new task.  Claimed
 * by a compare-and-swap of WORD; the other fields are written while it is
 * CLAIMED, before WORD turns OPEN with release order, and a reader that
 * sees the same WORD before and after its copy has a consistent one.
 * beat_ns and the extension change while OPEN, as the process's do. */
struct hb_task_slot {
	_Atomic uint32_t word;
	_Atomic uint32_t timeout_ms;
	_Atomic uint64_t beat_ns;
	_Atomic uint64_t ext_at_ns;
	_Atomic uint64_t ext_until_ns;
	_Atomic uint64_t label[HB_TASK_LABEL_SIZE / 8]; /* NUL-terminated */
} __attribute__((aligned(64)));

#define HB_TASK_OFFSET	    256u
#define HB_TASK_SLOTS	    ((HB_RECORD_V2_SIZE - HB_TASK_OFFSET) / 64u)
#define HB_TASK_TID_OFFSET  HB_RECORD_V2_SIZE
#define HB_TASK_FREE	    0u
#define HB_TASK_CLAIMED	    1u
#define HB_TASK_OPEN	    2u
#define HB_TASK_STATE(w)    ((w)&3u)
#define HB_TASK_GEN(w)	    ((w) >> 2)
#define HB_TASK_WORD(g, st) (((uint32_t)(g) << 2) | (st))

_Static_assert(sizeof(struct hb_task_slot) == 64, "task slot layout");
_Static_assert(HB_TASK_SLOTS == 124, "task slots");
_Static_assert(sizeof(struct hb_record) == HB_TASK_OFFSET, "the slots follow the header");
_Static_assert(HB_TASK_TID_OFFSET + HB_TASK_SLOTS * sizeof(int32_t) <= HB_RECORD_SIZE,
	       "the task tids fit");

/* One task as record_read() copies it. */
struct hb_task_view {
	uint16_t index;	     /* its slot */
	uint32_t gen;	     /* its slot's generation: which task */
	uint32_t timeout_ms; /* as asked for */
	uint64_t beat_ns;
	uint64_t ext_at_ns;
	uint64_t ext_until_ns;
	char label[HB_TASK_LABEL_SIZE]; /* printable, NUL-terminated */
	bool label_ok;			/* a valid label (task_label_validate()) */
	int32_t tid;			/* the thread of its last beat, 0: unknown */
};
_Static_assert(HB_NAME_SIZE == 64, "the name fills one line");

/* A consistent copy of a record, as record_read() takes it. */
struct hb_record_view {
	uint32_t flags;
	int32_t pid;
	uint64_t start_time;
	uint64_t made_boot_ns;
	uint32_t seq;
	uint32_t state;
	uint64_t timeout_ns;
	uint64_t beat_ns;
	char name[HB_NAME_SIZE]; /* always NUL-terminated */
	bool name_ok;		 /* the record held a valid service name */
	uint32_t version;	 /* the record's layout */
	uint64_t ext_at_ns;	 /* the process's deadline extension, 0: none */
	uint64_t ext_until_ns;
	uint32_t task_high; /* slots that may hold tasks (record_read_tasks()) */
	int32_t beat_tid;   /* the thread of the last beat, 0: unknown */
};

/* Write the layout fields of a new record's first line (before its magic). */
static inline void record_layout_init(struct hb_record *r)
{
	r->version = HB_RECORD_VERSION;
	r->size = HB_RECORD_SIZE;
	r->task_offset = HB_TASK_OFFSET;
	r->task_count = HB_TASK_SLOTS;
	r->task_size = sizeof(struct hb_task_slot);
	r->task_tid_offset = HB_TASK_TID_OFFSET;
}

/* A segment of SIZE bytes may be a record (of layout 1, 2 or 3). */
static inline bool record_size_ok(size_t size)
{
	return size == HB_RECORD_SIZE || size == HB_RECORD_V2_SIZE || size == HB_RECORD_V1_SIZE;
}

/* An attached record and the geometry decided when it was attached: every
 * read through it stays inside SIZE bytes from REC. */
struct hb_record_map {
	struct hb_record *rec; /* the mapping; NULL: none */
	size_t size;	       /* bytes mapped: the segment's size, from the kernel */
	uint32_t layout;       /* the header's version: 1, 2 or HB_RECORD_VERSION */
	uint32_t task_cap;     /* task slots read at most, all inside SIZE; 0: none */
	uint32_t tid_cap;      /* task tids read at most, all inside SIZE; 0: none */
};

/* The one place that decides how a record is read: check that MEM (SIZE
 * bytes, the whole segment, as the kernel sizes it) holds a record of a
 * layout this build reads, and fill *M (may be NULL; REC is left alone)
 * with that layout and the task slots that lie inside SIZE.  The header
 * is copied once, then only the copy is looked at.  Pure.  Returns 0 or
 * -EPROTO with the reason in WHY (may be NULL). */
int record_geometry(const void *mem, size_t size, struct hb_record_map *m, char *why,
		    size_t why_len);

/* record_geometry() without the geometry. */
int record_validate(const void *mem, size_t size, char *why, size_t why_len);

/* Does M's record still say, now, what was decided when it was attached?
 * Returns 0, or -EPROTO with what changed in WHY (may be NULL): the record
 * is then its owner's scribble, not a record to follow. */
int record_check(const struct hb_record_map *m, char *why, size_t why_len);

/* Write a fresh record's header into the zeroed segment R, the magic last
 * (a reader that sees the magic sees the rest): process PID, START_TIME (0:
 * none, the CLOCK_BOOTTIME stamp written now names the process), SELF as
 * for record_create().  The registration is CLOSED. */
void record_init(struct hb_record *r, pid_t pid, uint64_t start_time, bool self);

/* For a record V that holds no start time (made by its process itself):
 * the latest start time, in clock ticks, its maker can have, as
 * proc_started_by() gives it from the record's stamp and our clock now.
 * 0 for any other record: its start time, if any, must match exactly. */
uint64_t record_started_by(const struct hb_record_view *v);

/* Create and attach a record for process PID with START_TIME: SELF if PID
 * is the caller (the record is then marked for removal at once); otherwise
 * it is handed to root so the daemon can remove it.  The registration is
 * CLOSED until record_set().  Returns 0 with *REC and *SHMID set, or
 * -errno: -ENOSPC when the host's segment limit (kernel.shmmni) is reached. */
int record_create(pid_t pid, uint64_t start_time, bool self, struct hb_record **rec, int *shmid);

/* Let the group of segment GROUP_OF (the registry: hbwatch's group) read
 * record SHMID, which record_create() made readable by its owner alone:
 * mode HB_RECORD_MODE.  Returns 0 or -errno (it then stays its owner's). */
int record_share_group(int shmid, int group_of);

/* Attach an existing record by SHMID into *M; read-only or for writing.
 * Sizes it with IPC_STAT and decides its geometry (record_geometry()).
 * Returns 0, -EPROTO (not a record), -EINPROGRESS (its magic is still
 * zero: a record being made, or an empty segment) or -errno. */
int record_attach(int shmid, bool readonly, struct hb_record_map *m);

/* record_attach() of a segment whose size IPC_STAT just gave (SIZE; a
 * segment's size never changes): one system call fewer. */
int record_attach_sized(int shmid, size_t size, bool readonly, struct hb_record_map *m);

/* Detach and clear M.  Safe on a cleared map. */
void record_unmap(struct hb_record_map *m);

/* Detach a record made by record_create().  Safe on NULL. */
void record_detach(const struct hb_record *rec);

/* The owner's write of the registration: STATE, TIMEOUT_NS and NAME inside
 * the seqlock, then a beat now.  Callers serialise their own writes. */
void record_set(struct hb_record *rec, enum hb_record_state state, uint64_t timeout_ns,
		const char *name);

/* record_set() with the beat at NOW: the record's process's clock, for a
 * writer in another time namespace (timens.h). */
void record_set_at(struct hb_record *rec, enum hb_record_state state, uint64_t timeout_ns,
		   const char *name, uint64_t now);

/* Snapshot M's record without any lock, a few tries at most, as the
 * layout decided at attach reads it (task_high at most M's task_cap).
 * Returns 0, -EAGAIN if the owner was writing during every try, or
 * -EPROTO if its header no longer says what was decided (record_check()). */
int record_read(const struct hb_record_map *m, struct hb_record_view *v);

/* Copy the open tasks among the first HIGH slots of M's record (HIGH as
 * record_read() gave it; never more than M's task_cap) into OUT, at most
 * CAP of them, without any lock: a slot its owner is changing meanwhile is
 * left out, and none of a record whose header changed.  Returns how many. */
unsigned record_read_tasks(const struct hb_record_map *m, uint32_t high, struct hb_task_view *out,
			   unsigned cap);

/* The tid of task slot INDEX of M's record: from the tid array where the
 * geometry decided at attach has one (layout 3) and INDEX is inside it; 0
 * for any other. */
int32_t record_task_tid(const struct hb_record_map *m, unsigned index);

/* The tid slots of a layout 3 record. */
static inline _Atomic int32_t *record_task_tids(struct hb_record *rec)
{
	return (_Atomic int32_t *)(void *)((char *)rec + HB_TASK_TID_OFFSET);
}

/* The heartbeat: one atomic store. */
static inline void record_beat(struct hb_record *rec, uint64_t now)
{
	atomic_store_explicit(&rec->beat_ns, now, memory_order_release);
}

/* The heartbeat of thread TID: its tid, then the beat (release: a reader
 * that sees the beat sees its tid, or a later one).  Both on one line. */
static inline void record_beat_tid(struct hb_record *rec, uint64_t now, int32_t tid)
{
	atomic_store_explicit(&rec->beat_tid, tid, memory_order_relaxed);
	atomic_store_explicit(&rec->beat_ns, now, memory_order_release);
}

/* Extend the deadline until UNTIL, as of NOW: the two words, AT last. */
static inline void record_extend(_Atomic uint64_t *at, _Atomic uint64_t *until, uint64_t now,
				 uint64_t until_ns)
{
	atomic_store_explicit(until, until_ns, memory_order_relaxed);
	atomic_store_explicit(at, now, memory_order_release);
}

/* The task slots of a layout 2 record. */
static inline struct hb_task_slot *record_tasks(struct hb_record *rec)
{
	return (struct hb_task_slot *)(void *)(rec + 1);
}

#endif
