#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "clock.h"
#include "proc.h"
#include "record.h"
#include "why.h"

/* Few: only the owner writes, and a writer that never finishes hurts only
 * itself.  The daemon keeps its last good copy meanwhile. */
#define RECORD_READ_TRIES 4

/* What record_geometry() reads of a header: one copy. */
struct record_head {
	uint64_t magic;
	uint32_t version, size, flags;
	int32_t pid;
	uint64_t start_time;
	uint32_t task_offset, task_count, task_size, task_tid_offset;
};

/* A copy of the header of a record at MEM (SIZE bytes) in *H, if there is
 * one: 0 or -EPROTO. */
static int head_copy(const void *mem, size_t size, struct record_head *h, char *why, size_t why_len)
{
	if (size < sizeof(struct hb_record)) {
		why_set(why, why_len, "segment is %zu bytes, smaller than a heartbeat record",
			size);
		return -EPROTO;
	}
	/* One copy, then only the copy: the owner may rewrite it meanwhile. */
	memcpy(h, mem, sizeof(*h));
	if (h->magic != HB_RECORD_MAGIC) {
		why_set(why, why_len, "no heartbeat record header (magic %016llx)",
			(unsigned long long)h->magic);
		return -EPROTO;
	}
	return 0;
}

/* Of H's layout (2 or this build's, in SIZE bytes), how many task slots
 * (*CAP) and tids (*TID_CAP) fit: 0, or -EPROTO if H is not such a
 * layout. */
static int layout_caps(const struct record_head *h, size_t size, uint32_t *cap, uint32_t *tid_cap,
		       char *why, size_t why_len)
{
	/* Layout 2: the same slots, no tids (0.3 clients, the Python binding). */
	if (!(h->version == 2 && h->size == HB_RECORD_V2_SIZE && size >= HB_RECORD_V2_SIZE) &&
	    (h->version != HB_RECORD_VERSION || h->size != HB_RECORD_SIZE ||
	     size < HB_RECORD_SIZE)) {
		why_set(why, why_len,
			"heartbeat record layout %u of %u bytes in a segment of %zu, this build "
			"speaks %u of %u",
			h->version, h->size, size, HB_RECORD_VERSION, HB_RECORD_SIZE);
		return -EPROTO;
	}
	if (h->version == HB_RECORD_VERSION) {
		if (h->task_tid_offset != HB_TASK_TID_OFFSET) {
			why_set(why, why_len, "task tids at %u, this build speaks %u",
				h->task_tid_offset, HB_TASK_TID_OFFSET);
			return -EPROTO;
		}
		/* The tids that fit in the segment, whatever the header says. */
		*tid_cap = (uint32_t)((size - HB_TASK_TID_OFFSET) / sizeof(int32_t));
		if (*tid_cap > HB_TASK_SLOTS)
			*tid_cap = HB_TASK_SLOTS;
	}
	if (h->task_offset != HB_TASK_OFFSET || h->task_count != HB_TASK_SLOTS ||
	    h->task_size != sizeof(struct hb_task_slot)) {
		why_set(why, why_len,
			"task slots at %u, %u of %u bytes, this build speaks %u of %zu at %u",
			h->task_offset, h->task_count, h->task_size, HB_TASK_SLOTS,
			sizeof(struct hb_task_slot), HB_TASK_OFFSET);
		return -EPROTO;
	}
	/* The slots that fit in the segment, whatever the header says. */
	*cap = (uint32_t)((size - HB_TASK_OFFSET) / sizeof(struct hb_task_slot));
	if (*cap > HB_TASK_SLOTS)
		*cap = HB_TASK_SLOTS;
	return 0;
}

int record_geometry(const void *mem, size_t size, struct hb_record_map *m, char *why,
		    size_t why_len)
{
	struct record_head h;
	uint32_t cap = 0, tid_cap = 0;
	int r = head_copy(mem, size, &h, why, why_len);

	if (r < 0)
		return r;
	/* Layout 1, a 0.2 client's, has no tasks. */
	if (!(h.version == 1 && h.size == HB_RECORD_V1_SIZE && size >= HB_RECORD_V1_SIZE)) {
		r = layout_caps(&h, size, &cap, &tid_cap, why, why_len);
		if (r < 0)
			return r;
	}
	if (m) {
		m->size = size;
		m->layout = h.version;
		m->task_cap = cap;
		m->tid_cap = tid_cap;
	}
	return 0;
}

int record_validate(const void *mem, size_t size, char *why, size_t why_len)
{
	return record_geometry(mem, size, NULL, why, why_len);
}

int record_check(const struct hb_record_map *m, char *why, size_t why_len)
{
	struct hb_record_map now;
	char w[160];

	if (record_geometry(m->rec, m->size, &now, w, sizeof(w)) < 0) {
		why_set(why, why_len, "its header changed after it was attached: %s", w);
		return -EPROTO;
	}
	if (now.layout != m->layout || now.task_cap != m->task_cap || now.tid_cap != m->tid_cap) {
		why_set(why, why_len,
			"its header changed after it was attached: layout %u with %u task slots, "
			"was %u with %u",
			now.layout, now.task_cap, m->layout, m->task_cap);
		return -EPROTO;
	}
	return 0;
}

void record_init(struct hb_record *r, pid_t pid, uint64_t start_time, bool self)
{
	record_layout_init(r);
	r->flags = self ? HB_RECORD_SELF : 0;
	r->pid = (int32_t)pid;
	r->start_time = start_time;
	r->made_boot_ns = boot_ns();
	atomic_store_explicit(&r->state, HB_RECORD_CLOSED, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	r->magic = HB_RECORD_MAGIC;
}

uint64_t record_started_by(const struct hb_record_view *v)
{
	if (v->start_time || !(v->flags & HB_RECORD_SELF))
		return 0;
	return proc_started_by(v->made_boot_ns, boot_ns());
}

int record_create(pid_t pid, uint64_t start_time, bool self, struct hb_record **rec, int *shmid)
{
	struct hb_record *r;
	struct shmid_ds ds;
	int id, e;

	/* Mode at creation: SysV IPC ignores the umask, and no window exists
	 * in which others could write. */
	id = shmget(IPC_PRIVATE, HB_RECORD_SIZE, IPC_CREAT | IPC_EXCL | (HB_RECORD_MODE & 0600));
	if (id < 0)
		return -errno;
	r = shmat(id, NULL, 0);
	if (r == (void *)-1) {
		e = -errno;
		shmctl(id, IPC_RMID, NULL);
		return e;
	}
	record_init(r, pid, start_time, self);

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

int record_share_group(int shmid, int group_of)
{
	struct shmid_ds ds, g;

	if (shmctl(group_of, IPC_STAT, &g) < 0 || shmctl(shmid, IPC_STAT, &ds) < 0)
		return -errno;
	ds.shm_perm.gid = g.shm_perm.gid;
	ds.shm_perm.mode = HB_RECORD_MODE;
	return shmctl(shmid, IPC_SET, &ds) < 0 ? -errno : 0;
}

int record_attach(int shmid, bool readonly, struct hb_record_map *m)
{
	struct shmid_ds ds;

	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return -errno;
	return record_attach_sized(shmid, ds.shm_segsz, readonly, m);
}

int record_attach_sized(int shmid, size_t size, bool readonly, struct hb_record_map *m)
{
	void *mem;
	int r;

	*m = (struct hb_record_map){0};
	mem = shmat(shmid, NULL, readonly ? SHM_RDONLY : 0);
	if (mem == (void *)-1)
		return -errno;
	r = record_geometry(mem, size, m, NULL, 0);
	if (r < 0) {
		/* All zero where the magic goes: a record its maker has not
		 * finished (record_create() writes the magic last), or an
		 * empty segment.  Not yet a verdict. */
		if (size >= sizeof(uint64_t) &&
		    atomic_load_explicit((_Atomic uint64_t *)mem, memory_order_relaxed) == 0)
			r = -EINPROGRESS;
		shmdt(mem);
		*m = (struct hb_record_map){0};
		return r;
	}
	m->rec = mem;
	return 0;
}

void record_unmap(struct hb_record_map *m)
{
	record_detach(m->rec);
	*m = (struct hb_record_map){0};
}

void record_detach(const struct hb_record *rec)
{
	if (rec)
		shmdt(rec);
}

void record_set(struct hb_record *rec, enum hb_record_state state, uint64_t timeout_ns,
		const char *name)
{
	record_set_at(rec, state, timeout_ns, name, now_ns());
}

void record_set_at(struct hb_record *rec, enum hb_record_state state, uint64_t timeout_ns,
		   const char *name, uint64_t now)
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
	record_beat(rec, now);
	atomic_store_explicit(&rec->seq, (seq | 1u) + 1u, memory_order_release);
}

int record_read(const struct hb_record_map *m, struct hb_record_view *v)
{
	const struct hb_record *rec = m->rec;

	if (record_check(m, NULL, 0) < 0)
		return -EPROTO;
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
		v->made_boot_ns = rec->made_boot_ns;
		v->beat_ns = atomic_load_explicit(&rec->beat_ns, memory_order_acquire);
		v->version = m->layout;
		v->ext_at_ns = v->ext_until_ns = 0;
		v->task_high = 0;
		v->beat_tid =
		    m->tid_cap ? atomic_load_explicit(&rec->beat_tid, memory_order_relaxed) : 0;
		if (m->layout == 2 || m->layout == HB_RECORD_VERSION) {
			uint32_t high = atomic_load_explicit(&rec->task_high, memory_order_acquire);

			v->ext_at_ns = atomic_load_explicit(&rec->ext_at_ns, memory_order_acquire);
			v->ext_until_ns =
			    atomic_load_explicit(&rec->ext_until_ns, memory_order_relaxed);
			v->task_high = high < m->task_cap ? high : m->task_cap;
		}
		memcpy(v->name, w, sizeof(v->name));
		v->name_ok =
		    memchr(v->name, '\0', sizeof(v->name)) != NULL && name_validate(v->name) == 0;
		v->name[HB_NAME_SIZE - 1] = '\0';
		return 0;
	}
	return -EAGAIN;
}

unsigned record_read_tasks(const struct hb_record_map *m, uint32_t high, struct hb_task_view *out,
			   unsigned cap)
{
	const struct hb_task_slot *slots =
	    (const struct hb_task_slot *)(const void *)((const char *)m->rec + HB_TASK_OFFSET);
	unsigned n = 0;

	/* The bound is the one decided at attach, never a live field. */
	if (m->task_cap == 0 || record_check(m, NULL, 0) < 0)
		return 0;
	if (high > m->task_cap)
		high = m->task_cap;
	for (uint32_t i = 0; i < high && n < cap; i++) {
		const struct hb_task_slot *s = &slots[i];
		uint32_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		struct hb_task_view *t = &out[n];
		uint64_t l[HB_TASK_LABEL_SIZE / 8];

		if (HB_TASK_STATE(w) != HB_TASK_OPEN)
			continue;
		t->timeout_ms = atomic_load_explicit(&s->timeout_ms, memory_order_relaxed);
		t->beat_ns = atomic_load_explicit(&s->beat_ns, memory_order_relaxed);
		t->ext_at_ns = atomic_load_explicit(&s->ext_at_ns, memory_order_relaxed);
		t->ext_until_ns = atomic_load_explicit(&s->ext_until_ns, memory_order_relaxed);
		for (unsigned k = 0; k < HB_TASK_LABEL_SIZE / 8; k++)
			l[k] = atomic_load_explicit(&s->label[k], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->word, memory_order_relaxed) != w)
			continue; /* closed or reused meanwhile */
		t->index = (uint16_t)i;
		t->gen = HB_TASK_GEN(w);
		t->tid = 0; /* record_task_tid(), where the geometry has the tids */
		memcpy(t->label, l, sizeof(t->label));
		t->label_ok = memchr(t->label, '\0', sizeof(t->label)) != NULL &&
			      task_label_validate(t->label) == 0;
		t->label[HB_TASK_LABEL_SIZE - 1] = '\0';
		for (char *p = t->label; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
		n++;
	}
	return n;
}

int32_t record_task_tid(const struct hb_record_map *m, unsigned index)
{
	/* The bound is the one decided at attach, never a live field. */
	if (index >= m->tid_cap || record_check(m, NULL, 0) < 0)
		return 0;
	return atomic_load_explicit(&record_task_tids(m->rec)[index], memory_order_relaxed);
}
