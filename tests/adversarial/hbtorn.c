/* hbtorn: a client that stops in the middle of writing its own heartbeat
 * record, as one SIGKILLed or SIGSTOPped at the worst moment would, or
 * whose owner keeps the record's seqlock odd on purpose.
 *
 * hbtorn [--reregister] [--close-on-usr1] [--unfinished] [--name NAME]
 *        [--timeout-ms N] [--settle-ms N]
 *
 * Makes its record (as hb_register() does: its own, marked for removal)
 * in the registry at $HBWATCH_KEY, then opens the record's seqlock (seq
 * made odd, as record_set() does first), writes half a registration (the
 * state, the first word of the name) and announces the record.
 *   default          the record was never readable.
 *   --reregister     first registers completely as NAME with N ms and
 *                    waits until hbwatch's status view shows it taken up
 *                    (at most --settle-ms, default 10000; exit 1 if not);
 *                    the torn write is then a re-registration.
 *   --close-on-usr1  on SIGUSR1, finishes the write as NAME with N ms and
 *                    a beat now and closes the seqlock, without announcing
 *                    anything (hbwatch must find it by itself), then never
 *                    beats again.
 *   --unfinished     stops before the record has its magic: the segment
 *                    is made and announced all zero (as a census meets a
 *                    client preempted between shmget() and the header).
 *                    On SIGUSR1, finishes it as hb_register() does (as
 *                    NAME with N ms, a beat now), announces it again and
 *                    never beats again.
 * Prints "shmid S" and "torn" on stdout once the seqlock is open (or, with
 * --unfinished, the zero segment announced), then sleeps until killed.  Exit status: 2 usage, 1 a
 * system call failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "key.h"
#include "proc.h"
#include "record.h"
#include "registry.h"
#include "status.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* --unfinished: a zero segment, announced; on SIGUSR1 the record that
 * record_create() and hb_register() make in it, in their order (the
 * header, the magic last, the removal mark, the registration, the
 * announcement). */
static int finish_later(struct hb_registry *reg, sigset_t *usr1, const char *name, long timeout_ms)
{
	struct hb_record *rec;
	int sig, shmid = shmget(IPC_PRIVATE, HB_RECORD_SIZE, IPC_CREAT | IPC_EXCL | HB_RECORD_MODE);

	if (shmid < 0 || (rec = shmat(shmid, NULL, 0)) == (void *)-1) {
		perror("hbtorn: shmget/shmat");
		return 1;
	}
	registry_announce(reg, shmid);
	printf("shmid %d\ntorn\n", shmid);
	fflush(stdout);
	while (sigwait(usr1, &sig) != 0)
		;
	record_init(rec, getpid(), 0, true);
	if (shmctl(shmid, IPC_RMID, NULL) < 0)
		return 1;
	record_set(rec, HB_RECORD_OPEN, (uint64_t)timeout_ms * 1000000u, name);
	registry_announce(reg, shmid);
	for (;;)
		pause();
}

/* Wait up to MS for hbwatch to judge registration SEQ of SHMID: its
 * state (> 0), 0 if it did not in time, or -errno. */
static int taken_up(int key, int shmid, uint32_t seq, long ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	int r;

	while ((r = status_of_record(key, shmid, seq)) == 0 && now_ns() < end)
		sleep_ms(10);
	return r;
}

int main(int argc, char **argv)
{
	const char *name = "torn";
	bool rereg = false, close_on_usr1 = false, unfinished = false;
	long timeout_ms = 60000, settle_ms = 10000;
	struct hb_registry reg;
	struct hb_record *rec;
	char why[256] = "";
	uint64_t st, w0 = 0;
	int key, r, shmid;
	uint32_t seq;
	sigset_t usr1;

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--reregister") == 0)
			rereg = true;
		else if (strcmp(argv[a], "--close-on-usr1") == 0)
			close_on_usr1 = true;
		else if (strcmp(argv[a], "--unfinished") == 0)
			unfinished = true;
		else if (strcmp(argv[a], "--name") == 0 && a + 1 < argc)
			name = argv[++a];
		else if (strcmp(argv[a], "--timeout-ms") == 0 && a + 1 < argc)
			timeout_ms = atol(argv[++a]);
		else if (strcmp(argv[a], "--settle-ms") == 0 && a + 1 < argc)
			settle_ms = atol(argv[++a]);
		else {
			fprintf(stderr, "Usage: hbtorn [--reregister] [--close-on-usr1] "
					"[--unfinished] [--name NAME] [--timeout-ms N] "
					"[--settle-ms N]\n");
			return 2;
		}
	}
	if (key_from_env(&key) < 0 || name_validate(name) < 0 || timeout_ms <= 0) {
		fprintf(stderr, "hbtorn: bad $HBWATCH_KEY, name or timeout\n");
		return 2;
	}
	/* Blocked before anything can send it: taken by sigwait() below. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);

	r = registry_attach(key, false, &reg, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "hbtorn: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	if (unfinished)
		return finish_later(&reg, &usr1, name, timeout_ms);
	if (proc_starttime(getpid(), &st) < 0)
		return 1;
	r = record_create(getpid(), st, true, &rec, &shmid);
	if (r < 0) {
		fprintf(stderr, "hbtorn: record_create: %s\n", strerror(-r));
		return 1;
	}
	if (rereg) {
		record_set(rec, HB_RECORD_OPEN, (uint64_t)timeout_ms * 1000000u, name);
		registry_announce(&reg, shmid);
		r = taken_up(key, shmid, atomic_load(&rec->seq), settle_ms);
		if (r <= 0) {
			fprintf(
			    stderr,
			    "hbtorn: hbwatch did not take the registration up within %ld ms (%d)\n",
			    settle_ms, r);
			return 1;
		}
	}
	/* The seqlock is opened ... */
	seq = atomic_load(&rec->seq);
	atomic_store(&rec->seq, seq | 1u);
	atomic_thread_fence(memory_order_release);
	atomic_store(&rec->state, HB_RECORD_OPEN);
	memcpy(&w0, name, strnlen(name, sizeof(w0)));
	atomic_store(&rec->name[0], w0);
	registry_announce(&reg, shmid);
	printf("shmid %d\ntorn\n", shmid);
	fflush(stdout);
	/* ... and closed only on request, or never. */
	if (close_on_usr1) {
		int sig;
		uint64_t w[HB_NAME_WORDS] = {0};

		while (sigwait(&usr1, &sig) != 0)
			;
		memcpy(w, name, strnlen(name, HB_NAME_SIZE - 1));
		atomic_store(&rec->timeout_ns, (uint64_t)timeout_ms * 1000000u);
		for (unsigned k = 0; k < HB_NAME_WORDS; k++)
			atomic_store(&rec->name[k], w[k]);
		record_beat(rec, now_ns());
		atomic_store_explicit(&rec->seq, (seq | 1u) + 1u, memory_order_release);
	}
	for (;;)
		pause();
}
