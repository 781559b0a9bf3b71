/* The public client API.  One registration per process: register and
 * unregister are serialised by a mutex; hb_beat() reads the published slot
 * pointer with one atomic load and stores the time with one atomic store. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/shm.h>
#include <unistd.h>

#include "hbwatch.h"
#include "key.h"
#include "proc.h"
#include "sem.h"
#include "table.h"

#define HB_EXPORT __attribute__((visibility("default")))

static pthread_mutex_t client_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t client_once = PTHREAD_ONCE_INIT;
static struct hb_table client_table;
static _Atomic(struct hb_slot *) client_slot; /* NULL: not registered */
static _Atomic uint32_t client_seq;	      /* slot.seq of our registration */
static pid_t client_pid;

static void client_reset(void)
{
	atomic_store(&client_slot, NULL);
	table_detach(&client_table);
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&client_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&client_lock);
}

/* The child is a different process: it must not beat for its parent. */
static void atfork_child(void)
{
	client_reset();
	pthread_mutex_unlock(&client_lock);
}

static void client_atexit(void)
{
	(void)hb_unregister();
}

static void client_setup(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	atexit(client_atexit);
}

static int do_register(const char *name, unsigned int timeout_ms)
{
	bool attached = atomic_load(&client_slot) != NULL;
	uint64_t start_time;
	uint32_t seq;
	pid_t pid = getpid();
	int key, r, i;

	if (!attached) {
		r = key_from_env(&key);
		if (r < 0)
			return r;
		table_detach(&client_table);
		r = table_attach(key, false, &client_table, NULL, 0);
		if (r < 0)
			return r;
	}
	r = proc_starttime(pid, &start_time);
	/* A slot holding our pid is our registration (updated in place) or a
	 * stale one of an earlier process with this pid; if hbwatch reclaimed
	 * ours and another process took it, it no longer holds our pid. */
	i = r < 0 ? r
		  : table_register(&client_table, pid, start_time, (uint64_t)timeout_ms * 1000000u,
				   name, &seq);
	if (i < 0) {
		if (!attached)
			table_detach(&client_table);
		return i;
	}
	atomic_store(&client_seq, seq);
	client_pid = pid;
	atomic_store_explicit(&client_slot, &client_table.slots[i], memory_order_release);
	return 0;
}

HB_EXPORT int hb_register(const char *name, unsigned int timeout_ms)
{
	int r;

	if (name_validate(name) < 0 || timeout_ms == 0 || timeout_ms > HB_TIMEOUT_MAX_MS)
		return -EINVAL;
	pthread_once(&client_once, client_setup);
	pthread_mutex_lock(&client_lock);
	r = do_register(name, timeout_ms);
	pthread_mutex_unlock(&client_lock);
	return r;
}

HB_EXPORT int hb_beat(void)
{
	struct hb_slot *s = atomic_load_explicit(&client_slot, memory_order_acquire);

	if (!s)
		return -ENOTCONN;
	if (atomic_load_explicit(&s->seq, memory_order_relaxed) !=
	    atomic_load_explicit(&client_seq, memory_order_relaxed))
		return -ESTALE;
	atomic_store_explicit(&s->beat_ns, now_ns(), memory_order_release);
	return 0;
}

HB_EXPORT int hb_unregister(void)
{
	struct hb_slot *s;
	int r;

	pthread_mutex_lock(&client_lock);
	s = atomic_load(&client_slot);
	if (!s || client_pid != getpid()) {
		pthread_mutex_unlock(&client_lock);
		return -ENOTCONN;
	}
	r = sem_lock(client_table.semid, HB_SEM_WAIT_MS);
	if (r == 0) {
		table_slot_clear(&client_table, (uint32_t)(s - client_table.slots),
				 atomic_load(&client_seq));
		sem_unlock(client_table.semid);
		client_reset();
	} else if (r == -EIDRM) {
		client_reset(); /* the table is gone, and our record with it */
		r = 0;
	}
	pthread_mutex_unlock(&client_lock);
	return r;
}
