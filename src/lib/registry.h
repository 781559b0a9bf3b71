/* The registry: the System V segment at hbwatch's key (0x5098 by default)
 * through which processes announce their heartbeat records.
 *
 * It holds no heartbeat and nothing hbwatch acts on.  A registering process
 * creates a record of its own (record.h), then announces the record's
 * shmid here: one atomic fetch-and-add on TAIL picks an entry of the RING,
 * one atomic store fills it, and a bump of DOORBELL tells the daemon: with
 * a futex wake if it sleeps, without one while AWAKE says it is reading
 * the ring anyway (doorbell.h).  No lock: registration cost does not
 * depend on how many others register or are watched.  AWAKE was a
 * reserved, zeroed field before 0.3.1: clients always wake a daemon that
 * never sets it.
 *
 * Anyone in the registry's group may write all of it, so everything in it
 * is a hint.  The daemon verifies each announced record with the kernel
 * (ownership.h) and, should hints be lost, overwritten or forged, finds
 * every record anyway by enumerating the host's segments (census.h): a
 * hostile group member can delay discovery, never aim a kill.
 *
 * A ring entry is (announcement index << 32 | shmid); an entry whose index
 * is not the one expected has not been written yet (or was overwritten).
 */
#ifndef HBWATCH_REGISTRY_H
#define HBWATCH_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HB_KEY_DEFAULT	     0x5098
#define HB_REGISTRY_MAGIC    UINT64_C(0x3230474552574248) /* "HBWREG02", little endian */
#define HB_REGISTRY_VERSION  2u
#define HB_REGISTRY_MODE     0664 /* group announces, everyone may look */
#define HB_LOCK_MODE	     0644 /* the owner's lock: only its owner operates it */
#define HB_RING_MIN	     64u
#define HB_RING_MAX	     65536u
#define HB_CACHELINE	     64
#define HB_TABLE_V1_MAGIC    UINT64_C(0x3130484354415742) /* "BWATCH01": hbwatch 0.1 */
#define HB_LEGACY_TABLE_SIZE 72000u /* classic CPActive: 1000 x 72-byte records */

struct hb_registry_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uint32_t ring_size;	      /* entries, a power of two */
	_Atomic int32_t owner_pid;    /* the hbwatch daemon that owns the registry */
	_Atomic uint32_t doorbell;    /* futex word: bumped and woken on announce */
	_Atomic int32_t status_shmid; /* the daemon's status segment (status.h), 0: none */
	_Atomic uint64_t tail;	      /* announcements made so far */
	uint64_t created_ns;	      /* CLOCK_REALTIME at creation */
	_Atomic uint32_t awake;	      /* nonzero: the daemon reads the ring without a wake-up */
	uint8_t reserved[64 - 52];
} __attribute__((aligned(HB_CACHELINE)));

_Static_assert(sizeof(struct hb_registry_header) == 64, "registry header layout");

/* An attached registry.  Everything used for indexing comes from HDR_COPY,
 * validated once against the segment's real size: the shared header may be
 * rewritten at any moment by any group member. */
struct hb_registry {
	int key;
	int shmid;
	size_t size;
	struct hb_registry_header *hdr; /* the shared header: atomics only */
	_Atomic uint64_t *ring;
	uint32_t ring_size;
	struct hb_registry_header hdr_copy;
};

/* Bytes of a registry with RING_SIZE entries. */
size_t registry_size(uint32_t ring_size);

/* The ring size for SLOTS watched processes: the next power of two, within
 * HB_RING_MIN..HB_RING_MAX. */
uint32_t registry_ring_size(uint32_t slots);

/* Check that MEM (SIZE bytes, the whole segment) holds a registry of this
 * layout, copying the header once into *COPY (may be NULL).  Pure.  Returns
 * 0, or -EPROTO with what was found in WHY (may be NULL): a classic CPActive
 * table and an hbwatch 0.1 table are named as such. */
int registry_validate(const void *mem, size_t size, struct hb_registry_header *copy, char *why,
		      size_t why_len);

/* Attach the registry at KEY, read-write or READONLY.  Returns 0, -ENOENT
 * (hbwatch is not running), -EACCES (not in the registry's group), -EPROTO
 * (not a registry of this layout; WHY says what it is) or another -errno. */
int registry_attach(int key, bool readonly, struct hb_registry *r, char *why, size_t why_len);

/* The owner's lock: one hbwatch per key.  A System V semaphore at the
 * key, of this user (root) and mode HB_LOCK_MODE, so only its owner may
 * operate it and anyone may look.  The running daemon holds it (value 1)
 * with SEM_UNDO: the kernel releases it the moment that daemon dies,
 * however it dies, and sempid names the holder.  No guess from a pid.
 *
 * Take it, without waiting.  Returns 0 (taken, or already ours), -EBUSY
 * (held by another live process: *HOLDER, and WHY says how to run a
 * private hbwatch), -EPERM (a semaphore another user made or owns, or
 * one of another mode, which is never removed: WHY names it) or -errno. */
int registry_lock(int key, pid_t *holder, char *why, size_t why_len);

/* Who holds the owner's lock at KEY, a semaphore that OWNER (the
 * registry's owner) made and owns: 1 (a live hbwatch, *PID), 0 (nobody:
 * *PID the last holder, or 0), -EPERM (not OWNER's lock) or -errno
 * (-ENOENT: none, as with an hbwatch older than the lock). */
int registry_lock_holder(int key, uid_t owner, pid_t *pid);

/* Create the registry at KEY for SLOTS watched processes, group GID (or
 * (gid_t)-1: ours), mode HB_REGISTRY_MODE; or adopt one this user created
 * and owns (*ADOPTED).  Never adopts objects another user created or owns
 * (-EPERM, WHY names them), nor a foreign segment (-EPROTO).  Takes the
 * owner's lock first (registry_lock()): never touches the registry of an
 * hbwatch that runs (-EBUSY).  An hbwatch 0.1 table of ours is replaced.
 * Records owner_pid.  Returns 0 or -errno. */
int registry_create(int key, uint32_t slots, gid_t gid, struct hb_registry *r, bool *adopted,
		    char *why, size_t why_len);

/* Detach.  Safe on a zeroed registry. */
void registry_detach(struct hb_registry *r);

/* Is R's segment still the live registry at its key?  Returns 0, -EIDRM
 * (removed, or marked for removal), or another -errno from shmctl(). */
int registry_check(const struct hb_registry *r);

/* Put back the fixed fields of R's header (magic, version, sizes) from
 * the copy validated at attach, if a group member rewrote them.  For the
 * daemon, which owns the registry.  Returns true if it had to. */
bool registry_repair(struct hb_registry *r);

/* Remove the segment at KEY, and the semaphore there unless it is the
 * owner's lock of an hbwatch that runs (or the one hbwatch 0.1 kept).
 * Returns 0 if something went, -ENOENT if nothing was there, or -errno. */
int registry_remove(int key);

/* Announce record SHMID: take a ring entry, fill it, ring the doorbell.
 * Lock-free; never fails. */
void registry_announce(struct hb_registry *r, int shmid);

/* Wake the daemon without announcing anything. */
void registry_ring_doorbell(struct hb_registry *r);

/* Sleep until the doorbell moves past SEEN, TIMEOUT_MS passes or a signal
 * comes.  Returns 0 or -errno from futex(2) other than EAGAIN, EINTR and
 * ETIMEDOUT. */
int registry_doorbell_wait(struct hb_registry *r, uint32_t seen, unsigned timeout_ms);

/* Read ring entry INDEX.  Returns the shmid announced there, or -EAGAIN if
 * the entry does not (yet) hold announcement INDEX. */
int registry_entry(const struct hb_registry *r, uint64_t index);

#endif
