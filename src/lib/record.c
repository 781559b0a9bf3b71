#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "clock.h"
#include "record.h"
#include "why.h"

/* Few: only the owner writes, and a writer that never finishes hurts only
 * itself.  The daemon keeps its last good copy meanwhile. */
#define RECORD_READ_TRIES 4

int record_validate(const void *mem, size_t size, char *why, size_t why_len)
{
	struct {
		uint64_t magic;
		uint32_t version, size;
	} h;

	if (size < sizeof(struct hb_record)) {
		why_set(why, why_len, "segment is %zu bytes, smaller than a heartbeat record",
			size);
		return -EPROTO;
	}
	memcpy(&h, mem, sizeof(h));
	if (h.magic != HB_RECORD_MAGIC) {
		why_set(why, why_len, "no heartbeat record header (magic %016llx)",
			(unsigned long long)h.magic);
		return -EPROTO;
	}
	if (h.version != HB_RECORD_VERSION || h.size != HB_RECORD_SIZE || size < HB_RECORD_SIZE) {
		why_set(why, why_len,
			"heartbeat record layout %u of %u bytes, this build speaks %u "
			"of %u",
			h.version, h.size, HB_RECORD_VERSION, HB_RECORD_SIZE);
		return -EPROTO;
	}
	return 0;
}

int record_create(pid_t pid, uint64_t start_time, bool self, struct hb_record **rec, int *shmid)
{
	struct hb_record *r;
	struct shmid_ds ds;
	int id, e;

	/* Mode at creation: SysV IPC ignores the umask, and no window exists
	 * in which others could write. */
	id = shmget(IPC_PRIVATE, HB_RECORD_SIZE, IPC_CREAT | IPC_EXCL | HB_RECORD_MODE);
	if (id < 0)
		return -errno;
	r = shmat(id, NULL, 0);
	if (r == (void *)-1) {
		e = -errno;
		shmctl(id, IPC_RMID, NULL);
		return e;
	}
	r->version = HB_RECORD_VERSION;
	r->size = HB_RECORD_SIZE;
	r->flags = self ? HB_RECORD_SELF : 0;
	r->pid = (int32_t)pid;
	r->start_time = start_time;
	atomic_store_explicit(&r->state, HB_RECORD_CLOSED, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	r->magic = HB_RECORD_MAGIC;

	if (self) {
		/* Gone with the last process attached: never a leak. */
		if (shmctl(id, IPC_RMID, NULL) < 0)
			goto fail;
	} else if (shmctl(id, IPC_STAT, &ds) < 0) {
		goto fail;
	} else if (ds.shm_perm.uid != 0) {
		/* Root may then remove it once the process is gone; we stay
		 * its creator, with the write access that gives. */
		ds.shm_perm.uid = 0;
		if (shmctl(id, IPC_SET, &ds) < 0)
			goto fail;
	}
	*rec = r;
	*shmid = id;
	return 0;
fail:
	e = -errno;
	shmdt(r);
	shmctl(id, IPC_RMID, NULL);
	return e;
}

int record_attach(int shmid, bool readonly, struct hb_record **rec)
{
	struct shmid_ds ds;
	void *mem;
	int r;

	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return -errno;
	mem = shmat(shmid, NULL, readonly ? SHM_RDONLY : 0);
	if (mem == (void *)-1)
		return -errno;
	r = record_validate(mem, ds.shm_segsz, NULL, 0);
	if (r < 0) {
		shmdt(mem);
		return r;
	}
	*rec = mem;
	return 0;
}

void record_detach(const struct hb_record *rec)
{
	if (rec)
		shmdt(rec);
}

void record_set(struct hb_record *rec, enum hb_record_state state, uint64_t timeout_ns,
		const char *name)
{
	uint32_t seq = atomic_load_explicit(&rec->seq, memory_order_relaxed);
	uint64_t w[HB_NAME_WORDS] = {0};

	if (name)
		strncpy((char *)w, name, HB_NAME_SIZE - 1);
	atomic_store_explicit(&rec->seq, seq | 1u, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&rec->state, (uint32_t)state, memory_order_relaxed);
	atomic_store_explicit(&rec->timeout_ns, timeout_ns, memory_order_relaxed);
	for (unsigned k = 0; k < HB_NAME_WORDS; k++)
		atomic_store_explicit(&rec->name[k], w[k], memory_order_relaxed);
	/* The beat first: a reader that sees the new registration sees a beat
	 * at least as new, never an old beat under a new, shorter timeout. */
	record_beat(rec, now_ns());
	atomic_store_explicit(&rec->seq, (seq | 1u) + 1u, memory_order_release);
}

int record_read(const struct hb_record *rec, struct hb_record_view *v)
{
	for (int tries = 0; tries < RECORD_READ_TRIES; tries++) {
		uint32_t seq = atomic_load_explicit(&rec->seq, memory_order_acquire);
		uint64_t w[HB_NAME_WORDS];

		if (seq & 1u)
			continue;
		v->state = atomic_load_explicit(&rec->state, memory_order_relaxed);
		v->timeout_ns = atomic_load_explicit(&rec->timeout_ns, memory_order_relaxed);
		for (unsigned k = 0; k < HB_NAME_WORDS; k++)
			w[k] = atomic_load_explicit(&rec->name[k], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&rec->seq, memory_order_relaxed) != seq)
			continue;
		v->seq = seq;
		v->flags = rec->flags;
		v->pid = rec->pid;
		v->start_time = rec->start_time;
		v->beat_ns = atomic_load_explicit(&rec->beat_ns, memory_order_acquire);
		memcpy(v->name, w, sizeof(v->name));
		v->name_ok =
		    memchr(v->name, '\0', sizeof(v->name)) != NULL && name_validate(v->name) == 0;
		v->name[HB_NAME_SIZE - 1] = '\0';
		return 0;
	}
	return -EAGAIN;
}
