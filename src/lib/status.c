#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "status.h"

#define STATUS_READ_TRIES 8

static size_t status_size(uint32_t capacity)
{
	return sizeof(struct hb_status_header) + (size_t)capacity * sizeof(struct hb_status_entry);
}

static void bind(struct hb_status *s, void *mem, uint32_t capacity)
{
	s->hdr = mem;
	s->e = (struct hb_status_entry *)(void *)((char *)mem + sizeof(struct hb_status_header));
	s->capacity = capacity;
}

int status_create(uint32_t capacity, gid_t gid, struct hb_status *s)
{
	struct shmid_ds ds;
	void *mem;
	int e;

	*s = (struct hb_status){.shmid = -1};
	/* Nobody else's until it is in its group, then the group's to read. */
	s->shmid = shmget(IPC_PRIVATE, status_size(capacity), IPC_CREAT | IPC_EXCL | 0600);
	if (s->shmid < 0)
		return -errno;
	if (shmctl(s->shmid, IPC_STAT, &ds) < 0) {
		e = -errno;
		shmctl(s->shmid, IPC_RMID, NULL);
		return e;
	}
	if (gid != (gid_t)-1)
		ds.shm_perm.gid = gid;
	ds.shm_perm.mode = HB_STATUS_MODE;
	if (shmctl(s->shmid, IPC_SET, &ds) < 0) {
		e = -errno;
		shmctl(s->shmid, IPC_RMID, NULL);
		return e;
	}
	mem = shmat(s->shmid, NULL, 0);
	if (mem == (void *)-1) {
		e = -errno;
		shmctl(s->shmid, IPC_RMID, NULL);
		return e;
	}
	/* Marked for removal now: it goes with the daemon, and readers can
	 * still attach it by id while the daemon holds it. */
	shmctl(s->shmid, IPC_RMID, NULL);
	bind(s, mem, capacity);
	s->hdr->version = HB_STATUS_VERSION;
	s->hdr->entry_size = sizeof(struct hb_status_entry);
	s->hdr->capacity = capacity;
	s->hdr->daemon_pid = (int32_t)getpid();
	atomic_thread_fence(memory_order_release);
	s->hdr->magic = HB_STATUS_MAGIC;
	return 0;
}

void status_destroy(struct hb_status *s)
{
	if (s->hdr)
		shmdt(s->hdr);
	*s = (struct hb_status){.shmid = -1};
}

void status_write_begin(struct hb_status *s)
{
	uint32_t seq = atomic_load_explicit(&s->hdr->seq, memory_order_relaxed);

	atomic_store_explicit(&s->hdr->seq, seq | 1u, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

void status_write_end(struct hb_status *s, uint32_t count, uint64_t now)
{
	uint32_t seq = atomic_load_explicit(&s->hdr->seq, memory_order_relaxed);

	atomic_store_explicit(&s->hdr->count, count, memory_order_relaxed);
	atomic_store_explicit(&s->hdr->written_ns, now, memory_order_relaxed);
	atomic_store_explicit(&s->hdr->seq, seq + 1u, memory_order_release);
}

int status_attach(const struct hb_registry *reg, struct hb_status *s)
{
	struct shmid_ds rds, ds;
	struct hb_status_header h;
	int id = atomic_load(&reg->hdr->status_shmid);
	void *mem;

	*s = (struct hb_status){.shmid = -1};
	if (id <= 0)
		return -ENOENT;
	if (shmctl(reg->shmid, IPC_STAT, &rds) < 0 || shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	/* Only the daemon's word: made by the registry's owner process, owned
	 * by the registry's owner, writable by nobody else. */
	if (ds.shm_cpid != atomic_load(&reg->hdr->owner_pid) ||
	    ds.shm_perm.cuid != rds.shm_perm.uid || ds.shm_perm.uid != rds.shm_perm.uid ||
	    (ds.shm_perm.mode & 0022))
		return -EPERM;
	if (ds.shm_segsz < sizeof(h))
		return -EPROTO;
	mem = shmat(id, NULL, SHM_RDONLY);
	if (mem == (void *)-1)
		return -errno;
	memcpy(&h, mem, sizeof(h));
	if (h.magic != HB_STATUS_MAGIC || h.version != HB_STATUS_VERSION ||
	    h.entry_size != sizeof(struct hb_status_entry) ||
	    ds.shm_segsz < status_size(h.capacity)) {
		shmdt(mem);
		return -EPROTO;
	}
	s->shmid = id;
	bind(s, mem, h.capacity);
	return 0;
}

void status_detach(struct hb_status *s)
{
	status_destroy(s);
}

/* A copy's strings end inside their fields whatever the segment held. */
static void status_entry_terminate(struct hb_status_entry *e)
{
	e->reason[HB_STATUS_REASON - 1] = '\0';
	e->triage.state[sizeof(e->triage.state) - 1] = '\0';
	e->triage.wchan[sizeof(e->triage.wchan) - 1] = '\0';
	e->triage.words[sizeof(e->triage.words) - 1] = '\0';
}

int status_read(const struct hb_status *s, struct hb_status_entry *out, uint32_t max)
{
	for (int tries = 0; tries < STATUS_READ_TRIES; tries++) {
		uint32_t seq = atomic_load_explicit(&s->hdr->seq, memory_order_acquire);
		uint32_t n = atomic_load_explicit(&s->hdr->count, memory_order_relaxed);

		if (seq & 1u) {
			usleep(1000);
			continue;
		}
		if (n > s->capacity)
			n = s->capacity;
		if (n > max)
			n = max;
		memcpy(out, s->e, (size_t)n * sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->hdr->seq, memory_order_relaxed) != seq)
			continue;
		for (uint32_t i = 0; i < n; i++)
			status_entry_terminate(&out[i]);
		return (int)n;
	}
	return -EAGAIN;
}

int status_find(const struct hb_status *s, int shmid, struct hb_status_entry *out)
{
	for (int tries = 0; tries < STATUS_READ_TRIES; tries++) {
		uint32_t seq = atomic_load_explicit(&s->hdr->seq, memory_order_acquire);
		uint32_t n = atomic_load_explicit(&s->hdr->count, memory_order_relaxed);
		int found = -ENOENT;

		if (seq & 1u) {
			usleep(1000);
			continue;
		}
		if (n > s->capacity)
			n = s->capacity;
		for (uint32_t i = 0; i < n; i++) {
			if (s->e[i].shmid == shmid) {
				memcpy(out, &s->e[i], sizeof(*out));
				found = 0;
				break;
			}
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->hdr->seq, memory_order_relaxed) != seq)
			continue;
		status_entry_terminate(out);
		return found;
	}
	return -EAGAIN;
}

int status_of_record(int key, int shmid, uint32_t seq)
{
	struct hb_registry reg;
	struct hb_status st;
	struct hb_status_entry e;
	int r = registry_attach(key, true, &reg, NULL, 0);

	if (r < 0)
		return r;
	r = status_attach(&reg, &st);
	registry_detach(&reg);
	if (r < 0)
		return r == -EPERM || r == -EPROTO ? -ENOENT : r;
	r = status_find(&st, shmid, &e);
	status_detach(&st);
	if (r == -ENOENT || (r == 0 && e.seq != seq))
		return 0; /* not yet, or an earlier registration of the record */
	return r < 0 ? r : (int)e.state;
}

const char *status_state_name(uint32_t state)
{
	switch (state) {
	case HB_STATUS_OK:
		return "ok";
	case HB_STATUS_ACTED:
		return "acted-on";
	case HB_STATUS_LOGGED:
		return "logged";
	case HB_STATUS_RATE_LIMITED:
		return "rate-limited";
	case HB_STATUS_REFUSED:
		return "refused";
	case HB_STATUS_UNKILLABLE:
		return "unkillable";
	case HB_STATUS_DEFERRED:
		return "deferred";
	case HB_STATUS_FROZEN:
		return "frozen";
	case HB_STATUS_DEBUGGED:
		return "debugged";
	case HB_STATUS_DUMPING:
		return "dumping";
	}
	return "?";
}
