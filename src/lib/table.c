#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sem.h"
#include "table.h"

#define SLOT_READ_TRIES 64

size_t table_size(uint32_t slot_count)
{
	return sizeof(struct hb_header) + (size_t)slot_count * sizeof(struct hb_slot);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int name_validate(const char *name)
{
	size_t n = 0;

	if (!name)
		return -EINVAL;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr("-_.:@", c);
		if (!ok || n >= HB_NAME_MAX)
			return -EINVAL;
	}
	return n > 0 ? 0 : -EINVAL;
}

static void why_set(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

int table_validate(const void *mem, size_t size, char *why, size_t why_len)
{
	struct hb_header h;

	if (size < sizeof(h)) {
		why_set(why, why_len, "segment is %zu bytes, smaller than an hbwatch header", size);
		return -EPROTO;
	}
	/* Copy first: the header may live in memory another process writes. */
	memcpy(&h, mem, sizeof(h));
	if (h.magic != HB_TABLE_MAGIC) {
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
	if (h.version != HB_TABLE_VERSION) {
		why_set(why, why_len, "hbwatch table layout version %u, this build speaks %u",
			h.version, HB_TABLE_VERSION);
		return -EPROTO;
	}
	if (h.header_size != sizeof(struct hb_header) || h.slot_size != sizeof(struct hb_slot)) {
		why_set(why, why_len, "header/slot size %u/%u, expected %zu/%zu", h.header_size,
			h.slot_size, sizeof(struct hb_header), sizeof(struct hb_slot));
		return -EPROTO;
	}
	if (h.slot_count == 0 || h.slot_count > HB_SLOTS_MAX) {
		why_set(why, why_len, "slot count %u outside 1..%u", h.slot_count, HB_SLOTS_MAX);
		return -EPROTO;
	}
	if (size < table_size(h.slot_count)) {
		why_set(why, why_len, "segment is %zu bytes, too small for %u slots (%zu bytes)",
			size, h.slot_count, table_size(h.slot_count));
		return -EPROTO;
	}
	return 0;
}

static void table_bind(struct hb_table *t, void *mem)
{
	t->hdr = mem;
	/* shmat() returns page-aligned memory and the header is one cache
	 * line, so the slots are cache-line aligned. */
	t->slots = (struct hb_slot *)(void *)((char *)mem + sizeof(struct hb_header));
	t->slot_count = t->hdr->slot_count;
}

static int shm_map(struct hb_table *t, bool readonly, char *why, size_t why_len)
{
	struct shmid_ds ds;
	void *mem;
	int r;

	if (shmctl(t->shmid, IPC_STAT, &ds) < 0)
		return -errno;
	t->size = ds.shm_segsz;
	mem = shmat(t->shmid, NULL, readonly ? SHM_RDONLY : 0);
	if (mem == (void *)-1)
		return -errno;
	r = table_validate(mem, t->size, why, why_len);
	if (r < 0) {
		shmdt(mem);
		return r;
	}
	table_bind(t, mem);
	return 0;
}

int table_attach(int key, bool readonly, struct hb_table *t, char *why, size_t why_len)
{
	int r;

	*t = (struct hb_table){.key = key, .shmid = -1, .semid = -1};
	t->shmid = shmget(key, 0, 0);
	if (t->shmid < 0) {
		r = -errno;
		if (r == -ENOENT)
			why_set(why, why_len,
				"no heartbeat table at key 0x%x: hbwatch is not running", key);
		else
			why_set(why, why_len, "cannot open the heartbeat table at key 0x%x: %s%s",
				key, strerror(-r),
				r == -EACCES ? " (registering needs membership of its group)" : "");
		return r;
	}
	r = shm_map(t, readonly, why, why_len);
	if (r < 0)
		return r;
	r = sem_attach(key, &t->semid);
	if (r < 0) {
		why_set(why, why_len, "table at key 0x%x has no usable semaphore: %s", key,
			strerror(-r));
		table_detach(t);
		return r;
	}
	return 0;
}

static int ipc_set_owner(int shmid, gid_t gid)
{
	struct shmid_ds ds;

	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return -errno;
	if (gid != (gid_t)-1)
		ds.shm_perm.gid = gid;
	ds.shm_perm.mode = 0660;
	return shmctl(shmid, IPC_SET, &ds) < 0 ? -errno : 0;
}

/* Initialise a segment we just created: a new segment is zero-filled, so
 * every slot is already free; only the header needs writing. */
static int table_init_new(struct hb_table *t, uint32_t slot_count)
{
	struct hb_header *h = shmat(t->shmid, NULL, 0);
	struct timespec ts;

	if (h == (void *)-1)
		return -errno;
	h->version = HB_TABLE_VERSION;
	h->header_size = sizeof(struct hb_header);
	h->slot_size = sizeof(struct hb_slot);
	h->slot_count = slot_count;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	/* Publish the magic last so an attacher never sees half a header. */
	atomic_thread_fence(memory_order_release);
	h->magic = HB_TABLE_MAGIC;
	t->size = table_size(slot_count);
	table_bind(t, h);
	return 0;
}

int table_create(int key, uint32_t slot_count, gid_t gid, struct hb_table *t, bool *adopted,
		 char *why, size_t why_len)
{
	int r;

	*t = (struct hb_table){.key = key, .shmid = -1, .semid = -1};
	*adopted = false;
	if (slot_count == 0 || slot_count > HB_SLOTS_MAX)
		return -EINVAL;

	/* An existing segment is validated before anything at the key is
	 * touched: a foreign program's segment and semaphore stay as they are. */
	t->shmid = shmget(key, 0, 0);
	if (t->shmid >= 0) {
		r = shm_map(t, false, why, why_len);
		if (r < 0)
			return r;
		*adopted = true;
	}
	/* The semaphore before a new segment: a segment implies its semaphore. */
	r = sem_create(key, gid, &t->semid);
	if (r < 0) {
		why_set(why, why_len, "cannot create the semaphore at key 0x%x: %s", key,
			strerror(-r));
		table_detach(t);
		return r;
	}
	if (!*adopted) {
		t->shmid = shmget(key, table_size(slot_count), IPC_CREAT | IPC_EXCL | 0600);
		if (t->shmid < 0) {
			r = -errno;
			why_set(why, why_len, "cannot create a %zu-byte segment at key 0x%x: %s",
				table_size(slot_count), key, strerror(-r));
			return r;
		}
		r = table_init_new(t, slot_count);
		if (r < 0) {
			shmctl(t->shmid, IPC_RMID, NULL);
			return r;
		}
	}
	r = ipc_set_owner(t->shmid, gid);
	if (r < 0) {
		why_set(why, why_len, "cannot set owner and mode of the segment: %s", strerror(-r));
		table_detach(t);
		return r;
	}
	atomic_store(&t->hdr->owner_pid, (int32_t)getpid());
	return 0;
}

void table_detach(struct hb_table *t)
{
	if (t->hdr)
		shmdt(t->hdr);
	t->hdr = NULL;
	t->slots = NULL;
	t->slot_count = 0;
}

int table_remove(int key)
{
	int shmid = shmget(key, 0, 0);
	int semid = semget(key, 0, 0);
	int r = 0;

	if (shmid < 0 && semid < 0)
		return -ENOENT;
	if (shmid >= 0 && shmctl(shmid, IPC_RMID, NULL) < 0)
		r = -errno;
	if (semid >= 0 && semctl(semid, 0, IPC_RMID) < 0 && r == 0)
		r = -errno;
	return r;
}

int table_slot_read(const struct hb_table *t, uint32_t i, struct hb_slot_view *v)
{
	struct hb_slot *s = &t->slots[i];

	for (int tries = 0; tries < SLOT_READ_TRIES; tries++) {
		uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		uint64_t w[HB_NAME_WORDS];

		if (seq & 1u) {
			/* A writer is inside; registration is short, so yield
			 * the CPU to it rather than spin out our tries. */
			sched_yield();
			continue;
		}
		v->pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
		v->start_time = atomic_load_explicit(&s->start_time, memory_order_relaxed);
		v->timeout_ns = atomic_load_explicit(&s->timeout_ns, memory_order_relaxed);
		for (unsigned k = 0; k < HB_NAME_WORDS; k++)
			w[k] = atomic_load_explicit(&s->name[k], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq) {
			sched_yield();
			continue;
		}
		v->seq = seq;
		v->beat_ns = atomic_load_explicit(&s->beat_ns, memory_order_acquire);
		memcpy(v->name, w, sizeof(v->name));
		v->name_ok = memchr(v->name, '\0', sizeof(v->name)) != NULL;
		v->name[HB_NAME_SIZE - 1] = '\0';
		return 0;
	}
	return -EAGAIN;
}

static void slot_write_begin(struct hb_slot *s)
{
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	/* Writers are serialised by the semaphore; an odd value left by a
	 * writer that died mid-way is simply advanced past. */
	atomic_store_explicit(&s->seq, (seq | 1u), memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void slot_write_end(struct hb_slot *s)
{
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, seq + 1u, memory_order_release);
}

static void slot_store_name(struct hb_slot *s, const char *name)
{
	uint64_t w[HB_NAME_WORDS] = {0};

	if (name)
		strncpy((char *)w, name, HB_NAME_SIZE - 1);
	for (unsigned k = 0; k < HB_NAME_WORDS; k++)
		atomic_store_explicit(&s->name[k], w[k], memory_order_relaxed);
}

void table_slot_fill(struct hb_table *t, uint32_t i, pid_t pid, uint64_t start_time,
		     uint64_t timeout_ns, uint64_t beat_ns, const char *name)
{
	struct hb_slot *s = &t->slots[i];

	slot_write_begin(s);
	atomic_store_explicit(&s->start_time, start_time, memory_order_relaxed);
	atomic_store_explicit(&s->timeout_ns, timeout_ns, memory_order_relaxed);
	atomic_store_explicit(&s->beat_ns, beat_ns, memory_order_relaxed);
	slot_store_name(s, name);
	atomic_store_explicit(&s->pid, (int32_t)pid, memory_order_relaxed);
	slot_write_end(s);
	atomic_fetch_add(&t->hdr->generation, 1);
}

bool table_slot_clear(struct hb_table *t, uint32_t i, uint32_t seq)
{
	struct hb_slot *s = &t->slots[i];

	if (atomic_load_explicit(&s->seq, memory_order_acquire) != seq)
		return false;
	slot_write_begin(s);
	atomic_store_explicit(&s->pid, 0, memory_order_relaxed);
	atomic_store_explicit(&s->start_time, 0, memory_order_relaxed);
	atomic_store_explicit(&s->timeout_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&s->beat_ns, 0, memory_order_relaxed);
	slot_store_name(s, NULL);
	slot_write_end(s);
	atomic_fetch_add(&t->hdr->generation, 1);
	return true;
}

void table_ring(struct hb_table *t)
{
	atomic_fetch_add_explicit(&t->hdr->doorbell, 1, memory_order_release);
	/* Not FUTEX_PRIVATE: the waiter is another process mapping the same
	 * segment, and a shared futex is keyed by the page, not the address. */
	syscall(SYS_futex, &t->hdr->doorbell, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

int table_doorbell_wait(struct hb_table *t, uint32_t seen)
{
	if (syscall(SYS_futex, &t->hdr->doorbell, FUTEX_WAIT, seen, NULL, NULL, 0) < 0 &&
	    errno != EAGAIN && errno != EINTR)
		return -errno;
	return 0;
}

int table_slot_find(const struct hb_table *t, pid_t pid)
{
	int first_free = -ENOSPC;

	for (uint32_t i = 0; i < t->slot_count; i++) {
		int32_t p = atomic_load_explicit(&t->slots[i].pid, memory_order_relaxed);

		if (p == pid)
			return (int)i;
		if (p == 0 && first_free < 0)
			first_free = (int)i;
	}
	return first_free;
}

int table_register(struct hb_table *t, pid_t pid, uint64_t start_time, uint64_t timeout_ns,
		   const char *name, uint32_t *seq)
{
	int r, i;

	r = sem_lock(t->semid, HB_SEM_WAIT_MS);
	if (r < 0)
		return r;
	i = table_slot_find(t, pid);
	if (i >= 0) {
		table_slot_fill(t, (uint32_t)i, pid, start_time, timeout_ns, now_ns(), name);
		if (seq)
			*seq = atomic_load(&t->slots[i].seq);
	}
	sem_unlock(t->semid);
	if (i >= 0)
		table_ring(t);
	return i;
}

int table_find_process(const struct hb_table *t, pid_t pid, uint64_t start_time,
		       struct hb_slot_view *v)
{
	struct hb_slot_view tmp;

	if (!v)
		v = &tmp;
	for (uint32_t i = 0; i < t->slot_count; i++) {
		if (atomic_load_explicit(&t->slots[i].pid, memory_order_relaxed) != pid)
			continue;
		if (table_slot_read(t, i, v) == 0 && v->pid == pid && v->start_time == start_time)
			return (int)i;
	}
	return -ENOENT;
}

int table_beat_process(struct hb_table *t, pid_t pid, uint64_t start_time)
{
	struct hb_slot_view v;
	int i = table_find_process(t, pid, start_time, &v);

	if (i < 0)
		return i;
	/* As hb_beat(): the registration is identified by its seq; one that
	 * changed since the lookup is not ours to beat for. */
	if (atomic_load_explicit(&t->slots[i].seq, memory_order_acquire) != v.seq)
		return -ENOENT;
	atomic_store_explicit(&t->slots[i].beat_ns, now_ns(), memory_order_release);
	return 0;
}

int table_unregister_process(struct hb_table *t, pid_t pid, uint64_t start_time)
{
	struct hb_slot_view v;
	int r, i;

	r = sem_lock(t->semid, HB_SEM_WAIT_MS);
	if (r < 0)
		return r;
	i = table_find_process(t, pid, start_time, &v);
	r = i < 0 ? i : (table_slot_clear(t, (uint32_t)i, v.seq) ? 0 : -ENOENT);
	sem_unlock(t->semid);
	return r;
}
