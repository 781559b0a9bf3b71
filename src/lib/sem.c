#include <errno.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#include "sem.h"

#define INIT_WAIT_MS 1000

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sem_initialised(int semid)
{
	struct semid_ds ds;

	if (semctl(semid, 0, IPC_STAT, &ds) < 0)
		return -errno;
	return ds.sem_otime != 0;
}

/* Wait until the creator's first semop() has set sem_otime. */
static int sem_wait_init(int semid, int wait_ms)
{
	int64_t deadline = mono_ms() + wait_ms;

	for (;;) {
		int r = sem_initialised(semid);
		if (r != 0)
			return r < 0 ? r : 0;
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
}

int sem_attach(int key, int *semid)
{
	int id = semget(key, 1, 0);

	if (id < 0)
		return -errno;
	int r = sem_wait_init(id, INIT_WAIT_MS);
	if (r < 0)
		return r;
	*semid = id;
	return 0;
}

/* The +1 that makes the semaphore usable.  Without SEM_UNDO on purpose:
 * the token must outlive the process that put it there. */
static int sem_init_token(int semid)
{
	struct sembuf op = {.sem_num = 0, .sem_op = 1, .sem_flg = 0};

	return semop(semid, &op, 1) < 0 ? -errno : 0;
}

static int sem_set_owner(int semid, gid_t gid)
{
	struct semid_ds ds;

	if (semctl(semid, 0, IPC_STAT, &ds) < 0)
		return -errno;
	if (gid != (gid_t)-1)
		ds.sem_perm.gid = gid;
	ds.sem_perm.mode = 0660;
	return semctl(semid, 0, IPC_SET, &ds) < 0 ? -errno : 0;
}

int sem_create(int key, gid_t gid, int *semid)
{
	int id = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
	int r;

	if (id >= 0) {
		r = sem_init_token(id);
		if (r < 0)
			return r;
	} else if (errno == EEXIST) {
		id = semget(key, 1, 0);
		if (id < 0)
			return -errno;
		r = sem_wait_init(id, INIT_WAIT_MS);
		if (r == -ETIMEDOUT) {
			/* Its creator died before the first semop(): the daemon
			 * owns the table, so it completes the initialisation.
			 * SETVAL (not +1) so a racing second repair is harmless. */
			if (semctl(id, 0, SETVAL, 1) < 0)
				return -errno;
			struct sembuf nop[2] = {{0, -1, 0}, {0, 1, 0}};
			if (semop(id, nop, 2) < 0)
				return -errno;
		} else if (r < 0) {
			return r;
		}
	} else {
		return -errno;
	}
	r = sem_set_owner(id, gid);
	if (r < 0)
		return r;
	*semid = id;
	return 0;
}

int sem_lock(int semid, unsigned int timeout_ms)
{
	struct sembuf op = {.sem_num = 0, .sem_op = -1, .sem_flg = SEM_UNDO};
	int64_t deadline = mono_ms() + timeout_ms;

	if (timeout_ms == 0) {
		op.sem_flg |= IPC_NOWAIT;
		if (semop(semid, &op, 1) == 0)
			return 0;
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	}
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
		if (semtimedop(semid, &op, 1, &ts) == 0)
			return 0;
		if (errno == EAGAIN)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int sem_unlock(int semid)
{
	struct sembuf op = {.sem_num = 0, .sem_op = 1, .sem_flg = SEM_UNDO};

	return semop(semid, &op, 1) < 0 ? -errno : 0;
}
