/* hbhostile: a record owner that rewrites the headers of its own records
 * under their readers, for the tests that check no reader (hbwatch, hbctl)
 * follows them out of what it mapped.  Run it as any uid (setpriv).  Its
 * records are its own (the process is their creator, marked for removal):
 * they vanish with it.  They are announced in the registry at $HBWATCH_KEY
 * when it lets us; the census finds them anyway.
 *
 * hbhostile --relayout NAME
 *     Two records registered as NAME: A, 8 KiB of layout 2, then B, 4 KiB
 *     of layout 1.  Prints "shmid A", "shmid B", "ready".  On SIGUSR1: A is
 *     closed (a reader that attached A above B detaches it, leaving no page
 *     above B's), and 1 s later B says layout 2 with every task slot in use.
 *     Then it waits to be killed.
 *
 * hbhostile --scribble-ms D NAME...
 *     For D ms, rounds of ROUND_MS, each in a fresh child process (its
 *     records go with it): records in segments of several sizes, valid at
 *     first (layout 1 below 8 KiB, layout 2 with open tasks from 8 KiB,
 *     registered under the NAMEs in turn), then rewritten at random: bytes
 *     of the header, the layout and task geometry words, task_high, the
 *     other layout's header, and now and then the valid header back.
 *     Prints "ready" first, and on stderr "rounds N writes W killed K" at
 *     the end (K: rounds hbwatch signalled, on the word of what they
 *     scribbled).
 * hbhostile --semaphore MODE
 *     Makes the semaphore at $HBWATCH_KEY before hbwatch does, with MODE
 *     (octal); prints "semid N".
 * Exit: 0 done; 1 a system call failed (message on stderr); 2 usage. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "key.h"
#include "record.h"
#include "registry.h"

#define ROUND_MS 400u

static const size_t sizes[] = {4096, 8192, 12288, 16384, 65536, 4097, 8193, 4096, 8192};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static int fail(const char *what)
{
	fprintf(stderr, "hbhostile: %s: %s\n", what, strerror(errno));
	return 1;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: the same attack again for a given pid is fine. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static void announce(int shmid)
{
	struct hb_registry reg;
	int key;

	if (key_from_env(&key) == 0 && registry_attach(key, false, &reg, NULL, 0) == 0) {
		registry_announce(&reg, shmid);
		registry_detach(&reg);
	}
}

/* A valid header of layout LAYOUT for our process. */
static void header(struct hb_record *r, unsigned layout)
{
	r->magic = 0;
	atomic_thread_fence(memory_order_release);
	record_layout_init(r);
	if (layout == 1) {
		r->version = 1;
		r->size = HB_RECORD_V1_SIZE;
		r->task_offset = r->task_count = r->task_size = 0;
	}
	r->flags = HB_RECORD_SELF;
	r->pid = (int32_t)getpid();
	r->start_time = 0;
	r->made_boot_ns = boot_ns();
	atomic_thread_fence(memory_order_release);
	r->magic = HB_RECORD_MAGIC;
}

/* A record of SIZE bytes registered as NAME, open tasks in layout 2. */
static struct hb_record *make(size_t size, const char *name, int *shmid)
{
	struct hb_record *r;
	/* Readable to all, as an older client's: a reader of another uid
	 * (hbctl as the uid in no group) must parse what it scribbles. */
	int id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0644);

	if (id < 0)
		return NULL;
	r = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	if (r == (void *)-1)
		return NULL;
	header(r, size >= HB_RECORD_SIZE ? HB_RECORD_VERSION : 1);
	if (size >= HB_RECORD_SIZE) {
		struct hb_task_slot *s = record_tasks(r);
		for (uint32_t i = 0; i < 6; i++) {
			snprintf((char *)(void *)s[i].label, HB_TASK_LABEL_SIZE, "job-%u", i);
			s[i].timeout_ms = 3600000;
			s[i].beat_ns = now_ns();
			atomic_store(&s[i].word, HB_TASK_WORD(1, HB_TASK_OPEN));
		}
		atomic_store(&r->task_high, 6);
	}
	record_set(r, HB_RECORD_OPEN, UINT64_C(3600000000000), name);
	*shmid = id;
	return r;
}

static int relayout(const char *name)
{
	struct hb_record *a, *b;
	int ida, idb, sig;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	a = make(HB_RECORD_SIZE, name, &ida);
	if (!a)
		return fail("record A");
	b = make(HB_RECORD_V1_SIZE, name, &idb);
	if (!b)
		return fail("record B");
	announce(ida);
	announce(idb);
	printf("shmid %d\nshmid %d\nready\n", ida, idb);
	fflush(stdout);
	sigwait(&set, &sig);
	record_set(a, HB_RECORD_CLOSED, 0, name);
	announce(ida);
	nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
	/* Layout 2's header, every slot claimed: 8 KiB in a 4 KiB segment. */
	record_layout_init(b);
	atomic_store(&b->task_high, HB_TASK_SLOTS);
	for (;;)
		pause();
}

/* Words a reader sizes its reads by, and values that try its bounds. */
static uint32_t odd_value(void)
{
	static const uint32_t v[] = {0,	  1,	2,    3,    63,	  64,	  65,	      124,
				     125, 255,	256,  257,  4096, 8192,	  UINT32_MAX, INT32_MAX,
				     128, 1000, 4095, 8191, 2,	  0x10000};
	return rnd() % 4 ? v[rnd() % (sizeof(v) / sizeof(v[0]))] : (uint32_t)rnd();
}

static void scribble_one(struct hb_record *r, size_t size, unsigned long *writes)
{
	unsigned char *bytes = (unsigned char *)r;
	_Atomic uint32_t *geometry[] = {
	    (_Atomic uint32_t *)&r->version,	 (_Atomic uint32_t *)&r->size,
	    (_Atomic uint32_t *)&r->task_offset, (_Atomic uint32_t *)&r->task_count,
	    (_Atomic uint32_t *)&r->task_size,	 &r->task_high};

	switch (rnd() % 8) {
	case 0: /* a byte of line 0 */
		bytes[rnd() % 64] = (unsigned char)rnd();
		break;
	case 1: /* a byte anywhere in the header */
		bytes[rnd() % sizeof(struct hb_record)] = (unsigned char)rnd();
		break;
	case 2:
	case 3: /* a geometry word */
		atomic_store(geometry[rnd() % (sizeof(geometry) / sizeof(geometry[0]))],
			     odd_value());
		break;
	case 4:
		atomic_store(&r->task_high, odd_value());
		break;
	case 5: /* the other layout's header: 8 KiB of layout 2 in 4 KiB */
		header(r, rnd() % 2 ? HB_RECORD_VERSION : 1);
		atomic_store(&r->task_high, rnd() % 2 ? HB_TASK_SLOTS : odd_value());
		break;
	case 6: /* a 64-bit word of the header */
		((_Atomic uint64_t *)(void *)r)[rnd() % (sizeof(struct hb_record) / 8)] = rnd();
		break;
	default: /* the valid header back, and the registration */
		header(r, size >= HB_RECORD_SIZE ? HB_RECORD_VERSION : 1);
		if (size >= HB_RECORD_SIZE)
			atomic_store(&r->task_high, 6);
		break;
	}
	(*writes)++;
}

/* One round, in a child: its records go with it. */
static int round_child(char **names, int n_names, int wfd)
{
	struct hb_record *r[N_SIZES];
	int id[N_SIZES];
	unsigned long writes = 0;
	uint64_t end = now_ns() + ROUND_MS * UINT64_C(1000000);

	rng_state ^= (uint64_t)getpid() << 17;
	for (size_t i = 0; i < N_SIZES; i++) {
		r[i] = make(sizes[i], names[i % (size_t)n_names], &id[i]);
		if (!r[i])
			return fail("record");
		announce(id[i]);
	}
	/* Valid for a moment: long enough, often, to be attached as such. */
	nanosleep(&(struct timespec){.tv_nsec = (long)(rnd() % 150) * 1000000L}, NULL);
	while (now_ns() < end) {
		size_t i = rnd() % N_SIZES;
		scribble_one(r[i], sizes[i], &writes);
		if (writes % 16 == 0)
			nanosleep(&(struct timespec){.tv_nsec = 200000L}, NULL);
	}
	if (write(wfd, &writes, sizeof(writes)) != (ssize_t)sizeof(writes))
		return 1;
	return 0;
}

static int scribble(long ms, char **names, int n_names)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	unsigned long rounds = 0, writes = 0, killed = 0;
	int p[2];

	if (pipe(p) < 0)
		return fail("pipe");
	printf("ready\n");
	fflush(stdout);
	while (now_ns() < end) {
		pid_t pid = fork();
		unsigned long w = 0;
		int st;

		if (pid < 0)
			return fail("fork");
		if (pid == 0) {
			close(p[0]);
			_exit(round_child(names, n_names, p[1]));
		}
		if (waitpid(pid, &st, 0) != pid)
			return fail("waitpid");
		/* Its own word may be a timeout it then misses: hbwatch may
		 * signal it, which is fine. */
		if (WIFSIGNALED(st))
			killed++;
		else if (WEXITSTATUS(st) != 0) {
			fprintf(stderr, "hbhostile: round %lu failed (status 0x%x)\n", rounds,
				(unsigned)st);
			return 1;
		} else if (read(p[0], &w, sizeof(w)) == (ssize_t)sizeof(w))
			writes += w;
		rounds++;
	}
	/* On stderr: whoever waited for "ready" may have stopped listening. */
	fprintf(stderr, "hbhostile: rounds %lu writes %lu killed %lu\n", rounds, writes, killed);
	return 0;
}

static int semaphore(const char *mode)
{
	char *end;
	unsigned long m = strtoul(mode, &end, 8);
	int key, id;

	if (*end || m > 0777 || key_from_env(&key) < 0)
		return 2;
	id = semget(key, 1, IPC_CREAT | IPC_EXCL | (int)m);
	if (id < 0)
		return fail("semget");
	printf("semid %d\n", id);
	return 0;
}

int main(int argc, char **argv)
{
	rng_state = (uint64_t)getpid() * UINT64_C(0x9e3779b97f4a7c15) | 1u;
	if (argc == 3 && strcmp(argv[1], "--semaphore") == 0)
		return semaphore(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--relayout") == 0)
		return relayout(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "--scribble-ms") == 0) {
		char *end;
		long ms = strtol(argv[2], &end, 10);
		if (*end || ms <= 0)
			return 2;
		return scribble(ms, argv + 3, argc - 3);
	}
	fprintf(stderr, "usage: hbhostile --relayout NAME | --scribble-ms D NAME... | "
			"--semaphore MODE\n");
	return 2;
}
