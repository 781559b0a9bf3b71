#include <errno.h>
#include <linux/futex.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"
#include "why.h"

size_t registry_size(uint32_t ring_size)
{
	return sizeof(struct hb_registry_header) + (size_t)ring_size * sizeof(uint64_t);
}

uint32_t registry_ring_size(uint32_t slots)
{
	uint32_t n = HB_RING_MIN;

	while (n < slots && n < HB_RING_MAX)
		n <<= 1;
	return n;
}

int registry_validate(const void *mem, size_t size, struct hb_registry_header *copy, char *why,
		      size_t why_len)
{
	struct hb_registry_header h;

	if (size < sizeof(h)) {
		why_set(why, why_len, "segment is %zu bytes, smaller than an hbwatch header", size);
		return -EPROTO;
	}
	/* One copy, then only the copy: the segment may change under us. */
	memcpy(&h, mem, sizeof(h));
	if (h.magic == HB_TABLE_V1_MAGIC) {
		why_set(why, why_len,
			"it is an hbwatch 0.1 heartbeat table (layout 1), which this version "
			"no longer uses; restart hbwatch to replace it, or remove it with "
			"'hbctl remove'");
		return -EPROTO;
	}
	if (h.magic != HB_REGISTRY_MAGIC) {
		if (size == HB_LEGACY_TABLE_SIZE)
			why_set(why, why_len,
				"segment is %zu bytes with no hbwatch header: it looks like a "
				"classic CPActive heartbeat table (1000 records of 72 bytes); give "
				"hbwatch its own key (key= in [hbwatch]) and watch that table "
				"through a [legacy] section",
				size);
		else
			why_set(why, why_len,
				"segment is %zu bytes with no hbwatch header (magic %016llx): it "
				"belongs to another program; choose another key",
				size, (unsigned long long)h.magic);
		return -EPROTO;
	}
	if (h.version != HB_REGISTRY_VERSION || h.header_size != sizeof(h)) {
		why_set(why, why_len,
			"hbwatch registry layout %u (header %u bytes), this build "
			"speaks %u",
			h.version, h.header_size, HB_REGISTRY_VERSION);
		return -EPROTO;
	}
	if (h.ring_size < HB_RING_MIN || h.ring_size > HB_RING_MAX ||
	    (h.ring_size & (h.ring_size - 1)) != 0) {
		why_set(why, why_len, "ring size %u is not a power of two in %u..%u", h.ring_size,
			HB_RING_MIN, HB_RING_MAX);
		return -EPROTO;
	}
	if (size < registry_size(h.ring_size)) {
		why_set(why, why_len,
			"segment is %zu bytes, too small for a ring of %u (%zu bytes)", size,
			h.ring_size, registry_size(h.ring_size));
		return -EPROTO;
	}
	if (copy)
		*copy = h;
	return 0;
}

static void registry_bind(struct hb_registry *r, void *mem)
{
	r->hdr = mem;
	r->ring = (_Atomic uint64_t *)(void *)((char *)mem + sizeof(struct hb_registry_header));
	r->ring_size = r->hdr_copy.ring_size;
}

static int registry_map(struct hb_registry *r, bool readonly, char *why, size_t why_len)
{
	struct shmid_ds ds;
	void *mem;
	int rc;

	if (shmctl(r->shmid, IPC_STAT, &ds) < 0)
		return -errno;
	/* The kernel's size, not the header's: the bound for every index. */
	r->size = ds.shm_segsz;
	mem = shmat(r->shmid, NULL, readonly ? SHM_RDONLY : 0);
	if (mem == (void *)-1)
		return -errno;
	rc = registry_validate(mem, r->size, &r->hdr_copy, why, why_len);
	if (rc < 0) {
		shmdt(mem);
		return rc;
	}
	registry_bind(r, mem);
	return 0;
}

int registry_attach(int key, bool readonly, struct hb_registry *r, char *why, size_t why_len)
{
	int rc;

	*r = (struct hb_registry){.key = key, .shmid = -1};
	r->shmid = shmget(key, 0, 0);
	if (r->shmid < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			why_set(why, why_len,
				"no hbwatch registry at key 0x%x: hbwatch is not running", key);
		else
			why_set(why, why_len, "cannot open the hbwatch registry at key 0x%x: %s%s",
				key, strerror(-rc),
				rc == -EACCES ? " (registering needs membership of its group)"
					      : "");
		return rc;
	}
	rc = registry_map(r, readonly, why, why_len);
	if (rc == -EACCES)
		why_set(why, why_len,
			"cannot attach the hbwatch registry at key 0x%x: %s (registering needs "
			"membership of its group)",
			key, strerror(-rc));
	return rc;
}

static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, len, "%u (%s)", (unsigned)uid, res->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
	return buf;
}

/* Objects at the key that another user made are never adopted: their
 * creator could keep writing them, or remove them from under us. */
static int ours_or_refuse(const struct ipc_perm *p, pid_t cpid, const char *what, int key,
			  char *why, size_t why_len)
{
	uid_t self = geteuid();
	char c[64], o[64];

	if (p->cuid == self && p->uid == self)
		return 0;
	bool sem = strcmp(what, "semaphore") == 0;

	why_set(why, why_len,
		"the %s at key 0x%x was created by uid %s%s%d and is owned by uid %s, not by "
		"hbwatch's uid %u: hbwatch never adopts IPC objects another user made. Check "
		"what uses it ('ipcs -%s -p -c'), remove it ('ipcrm -%s 0x%x'), or give hbwatch "
		"another key",
		what, key, user_name(p->cuid, c, sizeof(c)), cpid > 0 ? ", pid " : "",
		cpid > 0 ? (int)cpid : 0, user_name(p->uid, o, sizeof(o)), (unsigned)self,
		sem ? "s" : "m", sem ? "S" : "M", key);
	if (cpid <= 0) {
		/* Drop the ", pid 0" the format wrote for semaphores. */
		char *p0 = why ? strstr(why, ", pid 0") : NULL;
		if (p0)
			memmove(p0, p0 + 7, strlen(p0 + 7) + 1);
	}
	return -EPERM;
}

static int set_owner(int shmid, gid_t gid)
{
	struct shmid_ds ds;

	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return -errno;
	if (gid != (gid_t)-1)
		ds.shm_perm.gid = gid;
	ds.shm_perm.mode = HB_REGISTRY_MODE;
	return shmctl(shmid, IPC_SET, &ds) < 0 ? -errno : 0;
}

/* The semaphore hbwatch 0.1 kept at the key: removed with its table, if it
 * is ours.  Someone else's is left alone (and unused). */
static void remove_v1_semaphore(int key)
{
	struct semid_ds ds;
	int id = semget(key, 0, 0);

	if (id < 0 || semctl(id, 0, IPC_STAT, &ds) < 0)
		return;
	if (ds.sem_perm.cuid == geteuid() && ds.sem_perm.uid == geteuid())
		semctl(id, 0, IPC_RMID);
}

/* The owner's lock (registry.h): a semaphore of ours, of the lock's mode,
 * whose value is 1 while its holder lives. */
static bool lock_is_held(int semid, const struct semid_ds *ds)
{
	return (ds->sem_perm.mode & 0777) == HB_LOCK_MODE && semctl(semid, 0, GETVAL) > 0;
}

int registry_lock(int key, pid_t *holder, char *why, size_t why_len)
{
	/* Wait for zero and take, as one operation, never blocking; undone
	 * by the kernel when we die, however we die. */
	struct sembuf take[2] = {{.sem_num = 0, .sem_op = 0, .sem_flg = IPC_NOWAIT},
				 {.sem_num = 0, .sem_op = 1, .sem_flg = SEM_UNDO | IPC_NOWAIT}};
	struct semid_ds ds;
	int id, rc;

	*holder = 0;
	/* A new semaphore's value is 0: free, with no window to set it up. */
	id = semget(key, 1, IPC_CREAT | IPC_EXCL | HB_LOCK_MODE);
	if (id < 0 && errno == EEXIST)
		id = semget(key, 1, 0);
	if (id < 0 || semctl(id, 0, IPC_STAT, &ds) < 0) {
		rc = -errno;
		why_set(why, why_len, "cannot make or open the semaphore at key 0x%x: %s", key,
			strerror(-rc));
		return rc;
	}
	rc = ours_or_refuse(&ds.sem_perm, 0, "semaphore", key, why, why_len);
	if (rc < 0)
		return rc;
	if ((ds.sem_perm.mode & 0777) != HB_LOCK_MODE) {
		/* Others may operate it: no lock.  Not removed: it may be
		 * another program's (a classic table's semaphore). */
		why_set(why, why_len,
			"the semaphore at key 0x%x has mode 0%o, not the 0%o of hbwatch's lock: "
			"check what uses it ('ipcs -s -p -c'), remove it ('ipcrm -S 0x%x'), or "
			"give hbwatch another key",
			key, (unsigned)(ds.sem_perm.mode & 0777), HB_LOCK_MODE, key);
		return -EPERM;
	}
	if (semop(id, take, 2) == 0)
		return 0;
	rc = -errno;
	if (rc != -EAGAIN) {
		why_set(why, why_len, "cannot take the semaphore at key 0x%x: %s", key,
			strerror(-rc));
		return rc;
	}
	/* Held.  By us already (the registry made again), or by another
	 * hbwatch that lives: the kernel would have released it. */
	rc = semctl(id, 0, GETPID);
	*holder = rc > 0 ? (pid_t)rc : 0;
	if (*holder == getpid())
		return 0;
	why_set(why, why_len,
		"hbwatch (pid %d) already runs on key 0x%x: one hbwatch per key. To run "
		"another one, give it a key of its own (key= in [hbwatch], and HBWATCH_KEY for "
		"its clients and hbctl) or an IPC namespace of its own (unshare --ipc)",
		(int)*holder, key);
	return -EBUSY;
}

int registry_lock_holder(int key, uid_t owner, pid_t *pid)
{
	struct semid_ds ds;
	int id = semget(key, 0, 0), p;

	*pid = 0;
	if (id < 0 || semctl(id, 0, IPC_STAT, &ds) < 0)
		return -errno;
	/* Only the registry owner's lock speaks for it. */
	if (ds.sem_perm.cuid != owner || ds.sem_perm.uid != owner ||
	    (ds.sem_perm.mode & 0777) != HB_LOCK_MODE)
		return -EPERM;
	p = semctl(id, 0, GETPID);
	*pid = p > 0 ? (pid_t)p : 0;
	return lock_is_held(id, &ds) ? 1 : 0;
}

static int registry_init_new(struct hb_registry *r, uint32_t ring_size)
{
	struct hb_registry_header *h = shmat(r->shmid, NULL, 0);
	struct timespec ts;

	if (h == (void *)-1)
		return -errno;
	h->version = HB_REGISTRY_VERSION;
	h->header_size = sizeof(*h);
	h->ring_size = ring_size;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	/* Publish the magic last so an attacher never sees half a header. */
	atomic_thread_fence(memory_order_release);
	h->magic = HB_REGISTRY_MAGIC;
	r->size = registry_size(ring_size);
	r->hdr_copy = *h;
	registry_bind(r, h);
	return 0;
}

static uint32_t repairable(const struct shmid_ds *ds);
static int repair_own(struct hb_registry *r, const struct shmid_ds *ds);

/* Is R's segment an hbwatch 0.1 table? */
static bool is_v1_table(const struct hb_registry *r)
{
	uint64_t magic = 0;
	void *mem = shmat(r->shmid, NULL, SHM_RDONLY);

	if (mem != (void *)-1) {
		memcpy(&magic, mem, sizeof(magic));
		shmdt(mem);
	}
	return magic == HB_TABLE_V1_MAGIC;
}

/* What R->shmid, found at KEY, is (its status in *DS): a registry of ours
 * (*ADOPTED), an hbwatch 0.1 table of ours (removed: R->shmid is -1), one
 * of ours to repair once the lock is held (*REPAIR), or refused.  Returns
 * 0 or -errno. */
static int existing_take(int key, struct hb_registry *r, struct shmid_ds *ds, bool *adopted,
			 bool *repair, char *why, size_t why_len)
{
	int rc;

	if (shmctl(r->shmid, IPC_STAT, ds) < 0)
		return -errno;
	rc =
	    ours_or_refuse(&ds->shm_perm, ds->shm_cpid, "shared-memory segment", key, why, why_len);
	if (rc < 0)
		return rc;
	rc = registry_map(r, false, why, why_len);
	if (rc == -EPROTO && r->size >= 8) {
		if (!is_v1_table(r)) {
			/* Ours to repair once the lock is ours; else
			 * refused, with nothing made at the key. */
			if (!repairable(ds))
				return rc;
			*repair = true;
		} else {
			if (shmctl(r->shmid, IPC_RMID, NULL) < 0)
				return -errno;
			remove_v1_semaphore(key);
			r->shmid = -1;
		}
	} else if (rc < 0) {
		return rc;
	} else {
		*adopted = true;
	}
	return 0;
}

/* A new registry of RING_SIZE at KEY, mapped in R. */
static int create_new(int key, uint32_t ring_size, struct hb_registry *r, char *why, size_t why_len)
{
	int rc;

	r->shmid = shmget(key, registry_size(ring_size), IPC_CREAT | IPC_EXCL | 0600);
	if (r->shmid < 0) {
		rc = -errno;
		why_set(why, why_len, "cannot create a %zu-byte segment at key 0x%x: %s",
			registry_size(ring_size), key, strerror(-rc));
		return rc;
	}
	rc = registry_init_new(r, ring_size);
	if (rc < 0)
		shmctl(r->shmid, IPC_RMID, NULL);
	return rc;
}

int registry_create(int key, uint32_t slots, gid_t gid, struct hb_registry *r, bool *adopted,
		    char *why, size_t why_len)
{
	uint32_t ring_size = registry_ring_size(slots);
	struct shmid_ds ds;
	bool repair = false;
	pid_t holder;
	int rc;

	*r = (struct hb_registry){.key = key, .shmid = -1};
	*adopted = false;
	r->shmid = shmget(key, 0, 0);
	if (r->shmid >= 0) {
		rc = existing_take(key, r, &ds, adopted, &repair, why, why_len);
		if (rc < 0)
			return rc;
	}
	/* Before anything of a running owner's is touched: the registry is
	 * taken over only from an owner that is gone. */
	rc = registry_lock(key, &holder, why, why_len);
	if (rc < 0) {
		registry_detach(r);
		return rc;
	}
	if (repair) {
		if (repair_own(r, &ds) < 0)
			return -EPROTO; /* as registry_map() found it */
		*adopted = true;
	} else if (!*adopted) {
		rc = create_new(key, ring_size, r, why, why_len);
		if (rc < 0)
			return rc;
	}
	rc = set_owner(r->shmid, gid);
	if (rc < 0) {
		why_set(why, why_len, "cannot set group and mode of the registry: %s",
			strerror(-rc));
		registry_detach(r);
		return rc;
	}
	atomic_store(&r->hdr->owner_pid, (int32_t)getpid());
	return 0;
}

bool registry_repair(struct hb_registry *r)
{
	struct hb_registry_header *h = r->hdr, *c = &r->hdr_copy;

	if (h->magic == c->magic && h->version == c->version && h->header_size == c->header_size &&
	    h->ring_size == c->ring_size)
		return false;
	/* The magic last, as at creation: an attacher never sees it with
	 * the old, broken fields. */
	h->magic = 0;
	atomic_thread_fence(memory_order_release);
	h->version = c->version;
	h->header_size = c->header_size;
	h->ring_size = c->ring_size;
	atomic_thread_fence(memory_order_release);
	h->magic = c->magic;
	return true;
}

/* The ring size of a segment with a registry's size and mode, or 0. */
static uint32_t repairable(const struct shmid_ds *ds)
{
	uint32_t n = HB_RING_MIN;

	while (n < HB_RING_MAX && registry_size(n) < ds->shm_segsz)
		n <<= 1;
	if (registry_size(n) != ds->shm_segsz || (ds->shm_perm.mode & 0777) != HB_REGISTRY_MODE)
		return 0;
	return n;
}

/* A segment of ours at the key that fails validation may be our own
 * registry whose header a group member rewrote: it has a registry's size
 * and mode.  Then give it its header back rather than refuse to start.
 * Returns 0 if repaired, -EPROTO if it does not look like ours. */
static int repair_own(struct hb_registry *r, const struct shmid_ds *ds)
{
	uint32_t n = repairable(ds);
	void *mem;

	if (!n)
		return -EPROTO;
	mem = shmat(r->shmid, NULL, 0);
	if (mem == (void *)-1)
		return -errno;
	r->hdr_copy = (struct hb_registry_header){.magic = HB_REGISTRY_MAGIC,
						  .version = HB_REGISTRY_VERSION,
						  .header_size = sizeof(struct hb_registry_header),
						  .ring_size = n};
	r->size = ds->shm_segsz;
	registry_bind(r, mem);
	registry_repair(r);
	return 0;
}

void registry_detach(struct hb_registry *r)
{
	if (r->hdr)
		shmdt(r->hdr);
	r->hdr = NULL;
	r->ring = NULL;
	r->ring_size = 0;
}

int registry_check(const struct hb_registry *r)
{
	struct shmid_ds ds;

	if (shmctl(r->shmid, IPC_STAT, &ds) < 0)
		return errno == EINVAL ? -EIDRM : -errno;
	if (ds.shm_perm.mode & SHM_DEST)
		return -EIDRM;
	return 0;
}

int registry_remove(int key)
{
	int shmid = shmget(key, 0, 0);
	int semid = semget(key, 0, 0);
	struct semid_ds ds;
	int r = 0;

	/* A running hbwatch's lock stays: it still owns the key. */
	if (semid >= 0 && semctl(semid, 0, IPC_STAT, &ds) == 0 && lock_is_held(semid, &ds))
		semid = -1;
	if (shmid < 0 && semid < 0)
		return -ENOENT;
	if (shmid >= 0 && shmctl(shmid, IPC_RMID, NULL) < 0)
		r = -errno;
	if (semid >= 0 && semctl(semid, 0, IPC_RMID) < 0 && r == 0)
		r = -errno;
	return r;
}

void registry_ring_doorbell(struct hb_registry *r)
{
	atomic_fetch_add_explicit(&r->hdr->doorbell, 1, memory_order_release);
	/* Not FUTEX_PRIVATE: the waiter is another process mapping the same
	 * segment, and a shared futex is keyed by the page, not the address. */
	syscall(SYS_futex, &r->hdr->doorbell, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void registry_announce(struct hb_registry *r, int shmid)
{
	uint64_t i = atomic_fetch_add_explicit(&r->hdr->tail, 1, memory_order_relaxed);
	uint64_t e = (i << 32) | (uint32_t)shmid;

	atomic_store_explicit(&r->ring[i & (r->ring_size - 1)], e, memory_order_release);
	/* Bump, then look whether the daemon is awake (both sequentially
	 * consistent, as its side is): either it sees the bump before it
	 * sleeps, or we see it asleep and wake it.  While it works through a
	 * burst of registrations, none of them pays for a wake-up. */
	atomic_fetch_add(&r->hdr->doorbell, 1);
	if (!atomic_load(&r->hdr->awake))
		syscall(SYS_futex, &r->hdr->doorbell, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

int registry_doorbell_wait(struct hb_registry *r, uint32_t seen, unsigned timeout_ms)
{
	struct timespec ts = {.tv_sec = timeout_ms / 1000,
			      .tv_nsec = (timeout_ms % 1000) * 1000000L};

	/* The timeout also bounds a wait that a group member moved elsewhere
	 * with FUTEX_CMP_REQUEUE: a requeued waiter keeps its timer. */
	if (syscall(SYS_futex, &r->hdr->doorbell, FUTEX_WAIT, seen, &ts, NULL, 0) < 0 &&
	    errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
		return -errno;
	return 0;
}

int registry_entry(const struct hb_registry *r, uint64_t index)
{
	uint64_t e =
	    atomic_load_explicit(&r->ring[index & (r->ring_size - 1)], memory_order_acquire);

	if ((uint32_t)(e >> 32) != (uint32_t)index)
		return -EAGAIN;
	return (int)(uint32_t)e & INT32_MAX;
}
