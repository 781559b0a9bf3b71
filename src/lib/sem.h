/* The table's lock: a one-element System V semaphore on the table's key.
 *
 * Created with IPC_EXCL and initialised by a semop(), which also sets
 * sem_otime; others wait until sem_otime is set, so a creator that dies in
 * between is noticed instead of leaving a semaphore stuck at 0 (and
 * sem_create() repairs it).  Every operation uses SEM_UNDO, so a holder
 * killed inside the critical section releases it, and every wait is
 * bounded by semtimedop().
 */
#ifndef HBWATCH_SEM_H
#define HBWATCH_SEM_H

#include <sys/sem.h>
#include <sys/types.h>

/* Open the existing semaphore at KEY into *SEMID, waiting up to 1 s for its
 * creator to initialise it.  Returns 0, -ENOENT, -EACCES, -ETIMEDOUT (never
 * initialised) or another -errno. */
int sem_attach(int key, int *semid);

/* Create the semaphore at KEY (mode 0660, group GID unless (gid_t)-1), or
 * open an existing one.  An existing semaphore whose creator died before
 * initialising it is initialised here.  Returns 0 or -errno. */
int sem_create(int key, gid_t gid, int *semid);

/* Take the lock, waiting at most TIMEOUT_MS (0: do not wait).
 * Returns 0, -ETIMEDOUT, -EIDRM (removed), or another -errno. */
int sem_lock(int semid, unsigned int timeout_ms);

/* Release the lock.  Returns 0 or -errno. */
int sem_unlock(int semid);

#endif
