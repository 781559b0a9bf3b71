/* The public client API.  A process's registration is a heartbeat record
 * of its own (record.h), announced through the registry at the key
 * (registry.h).  Register and unregister are serialised by a mutex;
 * hb_beat() is one atomic load of the published record and one atomic
 * store into it: no lock, no system call.  Tasks (task.c) live in the
 * same record and end with the registration. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "hbwatch.h"
#include "key.h"
#include "proc.h"
#include "record.h"
#include "registry.h"
#include "status.h"
#include "vouch.h"

#define HB_EXPORT __attribute__((visibility("default")))

static pthread_mutex_t client_lock = PTHREAD_MUTEX_INITIALIZER;
_Atomic(struct hb_record *) client_rec; /* published: NULL when not registered */
_Atomic uint64_t client_epoch;
/* Our record, kept mapped after hb_unregister() (a beat racing it lands in
 * a closed record, never in unmapped memory) and reused by the next
 * hb_register().  Guarded by client_lock. */
static struct hb_record *client_owned;
static int client_shmid = -1;
static pid_t client_pid;
/* The registry, attached at the first registration and kept: the next
 * ones (and a fork child's, which inherits the attachment) cost no
 * attach, no detach and no TLB shoot-down.  Guarded by client_lock. */
static struct hb_registry client_reg = {.shmid = -1};

__thread int32_t client_tid_cache __attribute__((tls_model("initial-exec")));

int32_t client_tid_slow(void)
{
	client_tid_cache = (int32_t)gettid();
	return client_tid_cache;
}

static void client_reset(void)
{
	atomic_store(&client_rec, NULL);
	atomic_fetch_add(&client_epoch, 1); /* the parent's tasks are not ours */
	record_detach(client_owned);
	client_owned = NULL;
	client_shmid = -1;
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&client_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&client_lock);
}

/* The child is a different process: it inherited its parent's record
 * mapping and must not beat for it. */
static void atfork_child(void)
{
	client_tid_cache = 0; /* the one thread of the child has a tid of its own */
	client_reset();
	pthread_mutex_unlock(&client_lock);
}

static void client_atexit(void)
{
	(void)hb_unregister();
}

/* At load time, not at the first registration: the fork children of a
 * pre-forked server inherit the handlers instead of each paying for them
 * (with the copy-on-write faults they bring) in its hb_register(). */
__attribute__((constructor)) static void client_setup(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	atexit(client_atexit);
}

/* The registry at the key, attached once.  A kept attachment is checked
 * with one IPC_STAT (no lock in the kernel) and attached afresh if the
 * registry was removed (hbwatch then makes a new one) or the key changed. */
static int registry_get(struct hb_registry **reg)
{
	int key, r;

	r = key_from_env(&key);
	if (r < 0)
		return r;
	if (client_reg.hdr) {
		if (client_reg.key == key && registry_check(&client_reg) == 0)
			goto vouch;
		registry_detach(&client_reg);
	}
	r = registry_attach(key, false, &client_reg, NULL, 0);
	if (r < 0) {
		client_reg = (struct hb_registry){.shmid = -1};
		return r;
	}
vouch:
	/* Whose it is: a registry another user made at the key is not
	 * hbwatch's (vouch.h). */
	r = registry_vouch(&client_reg, NULL, 0);
	if (r < 0)
		return r;
	*reg = &client_reg;
	return 0;
}

/* The System V calls answer a denied permission with EACCES; EPERM or
 * ENOSYS from them comes from a seccomp filter (systemd's
 * SystemCallFilter=~@ipc, a container runtime's profile).  Say so with an
 * errno of its own, so that it is not taken for hbwatch's refusal (EPERM
 * from hb_register_wait()). */
static int sandbox_errno(int r)
{
	if ((r == -EPERM || r == -ENOSYS) && seccomp_filtered())
		return -ENOSYS;
	return r;
}

static int do_register(const char *name, unsigned int timeout_ms)
{
	struct hb_record *rec = client_owned;
	struct hb_registry *reg;
	pid_t pid = getpid();
	int shmid, r;

	/* hbwatch must be there (and let us announce) before we create
	 * anything: a registration nobody watches is worse than an error. */
	r = registry_get(&reg);
	if (r < 0)
		return r;
	if (!rec) {
		/* No start time of ours in the record: reading /proc/self/stat
		 * was the dearest step of a fresh process's registration (a
		 * proc lookup for a pid never looked up).  record_create()
		 * stamps it with our CLOCK_BOOTTIME instead, and hbwatch takes
		 * the process that started no later (proc_start_matches()). */
		r = record_create(pid, 0, true, &rec, &shmid);
		if (r < 0)
			return r;
		/* For hbwatch's group too; failing that, root (hbwatch) alone. */
		(void)record_share_group(shmid, reg->shmid);
		client_owned = rec;
		client_shmid = shmid;
		client_pid = pid;
	}
	record_set(rec, HB_RECORD_OPEN, (uint64_t)timeout_ms * 1000000u, name);
	registry_announce(reg, client_shmid);
	atomic_store_explicit(&client_rec, rec, memory_order_release);
	return 0;
}

HB_EXPORT int hb_register(const char *name, unsigned int timeout_ms)
{
	int r;

	if (name_validate(name) < 0 || timeout_ms == 0 || timeout_ms > HB_TIMEOUT_MAX_MS)
		return -EINVAL;
	pthread_mutex_lock(&client_lock);
	r = sandbox_errno(do_register(name, timeout_ms));
	pthread_mutex_unlock(&client_lock);
	return r;
}

/* Poll hbwatch's published verdicts until it has taken our record up.
 * Registration is a one-off, so a short sleep between looks is fine; each
 * look is a handful of system calls and reads one entry.  Each look also
 * beats: a caller waiting here is not hung, and an hbwatch slow to take
 * the record up (busy, just started, stopped a moment) must not find its
 * deadline passed when it does. */
#define WAIT_POLL_NS 2000000L
/* Between looks for an hbwatch that is not running: it takes a while to start. */
#define WAIT_ABSENT_NS 20000000L

HB_EXPORT int hb_register_wait(const char *name, unsigned int timeout_ms, unsigned int wait_ms)
{
	uint64_t deadline;
	uint32_t seq;
	int key, shmid, r;

	deadline = now_ns() + (uint64_t)wait_ms * 1000000u;
	/* No registry (yet: hbwatch may be starting): look again until
	 * WAIT_MS is over, then say it is not running. */
	while ((r = hb_register(name, timeout_ms)) == -ENOENT && now_ns() < deadline)
		nanosleep(&(struct timespec){.tv_nsec = WAIT_ABSENT_NS}, NULL);
	if (r < 0)
		return r;
	r = key_from_env(&key);
	if (r < 0)
		return r;
	pthread_mutex_lock(&client_lock);
	shmid = client_shmid;
	seq = atomic_load(&client_owned->seq);
	pthread_mutex_unlock(&client_lock);
	for (;;) {
		r = status_of_record(key, shmid, seq);
		if (r == HB_STATUS_REFUSED)
			return -EPERM;
		if (r > 0)
			return 0;
		if (now_ns() >= deadline) {
			/* Not taken up: say whether anybody could have (the
			 * registration stays for the next start either way). */
			bool alive;

			pthread_mutex_lock(&client_lock);
			alive = client_reg.hdr && registry_owner_alive(&client_reg);
			pthread_mutex_unlock(&client_lock);
			return alive ? -ETIMEDOUT : -ENOENT;
		}
		hb_beat();
		nanosleep(&(struct timespec){.tv_nsec = WAIT_POLL_NS}, NULL);
	}
}

HB_EXPORT int hb_beat(void)
{
	struct hb_record *rec = atomic_load_explicit(&client_rec, memory_order_acquire);

	if (!rec)
		return -ENOTCONN;
	record_beat_tid(rec, now_ns(), client_tid());
	return 0;
}

HB_EXPORT int hb_unregister(void)
{
	struct hb_registry *reg;
	struct hb_record *rec;
	struct hb_record_map m;
	struct hb_record_view v = {0};

	pthread_mutex_lock(&client_lock);
	rec = client_owned;
	if (!atomic_load(&client_rec) || client_pid != getpid()) {
		pthread_mutex_unlock(&client_lock);
		return -ENOTCONN;
	}
	/* Stop beats first, then close: the record is ours alone to write. */
	atomic_store(&client_rec, NULL);
	task_close_all(rec);
	/* Our own record, of the size we made it. */
	m = (struct hb_record_map){.rec = rec};
	if (record_geometry(rec, HB_RECORD_SIZE, &m, NULL, 0) < 0 || record_read(&m, &v) < 0)
		v.timeout_ns = 0;
	record_set(rec, HB_RECORD_CLOSED, v.timeout_ns, v.name_ok ? v.name : NULL);
	/* Best effort: hbwatch also finds the closed record by itself. */
	if (registry_get(&reg) == 0)
		registry_announce(reg, client_shmid);
	pthread_mutex_unlock(&client_lock);
	return 0;
}
