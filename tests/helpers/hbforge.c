/* hbforge: make heartbeat records the way a hostile or careless user could,
 * for the tests that check hbwatch never acts on them.  Run it as any uid
 * (setpriv).  Writes the record field by field, with any mode, naming any
 * pid, and announces it in the registry at $HBWATCH_KEY.
 *
 * hbforge [--pid P | --self] [--start-time N] [--name NAME] [--timeout-ms N]
 *         [--beat-ago-ms N] [--mode OCTAL] [--hand-to-root] [--no-rmid]
 *         [--no-announce] [--closed] [--hold]
 * hbforge --flood N [--bogus-shmid S]     announce N hints (S: default 0x7fffffff)
 * hbforge --tail N                        set the registry's tail to N
 * hbforge --rewrite SHMID [--pid P] [--timeout-ms N] [--beat-ago-ms N] [--name NAME]
 *                                         rewrite an existing record in place
 *
 * --self: the record names its creator (this process), which then stays
 * alive (as with --hold) so the record stays the word of a live process.
 * Without --start-time the named process's real start time is written.
 * Prints "shmid N" (and, with --hold, "ready") on stdout.
 * Exit: 0 done; 1 a system call failed (message on stderr); 2 usage. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "clock.h"
#include "key.h"
#include "proc.h"
#include "record.h"
#include "registry.h"

struct opts {
	pid_t pid;
	bool self, hand_to_root, no_rmid, no_announce, closed, hold, have_start;
	uint64_t start_time;
	const char *name;
	uint64_t timeout_ms, beat_ago_ms;
	unsigned mode;
	long flood, bogus, tail, rewrite;
};

static int fail(const char *what)
{
	fprintf(stderr, "hbforge: %s: %s\n", what, strerror(errno));
	return 1;
}

static int announce_to_registry(int shmid, long count, long tail)
{
	struct hb_registry reg;
	char why[256] = "";
	int key, r = key_from_env(&key);

	if (r == 0)
		r = registry_attach(key, false, &reg, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "hbforge: registry: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	if (tail >= 0)
		atomic_store(&reg.hdr->tail, (uint64_t)tail);
	for (long i = 0; i < count; i++)
		registry_announce(&reg, shmid);
	if (tail >= 0)
		registry_ring_doorbell(&reg);
	registry_detach(&reg);
	return 0;
}

/* Write the fields of REC the way a writer with access could: the name as
 * given, byte for byte, inside the record's own seqlock. */
static void write_fields(struct hb_record *rec, const struct opts *o)
{
	uint64_t now = now_ns();

	record_set(rec, o->closed ? HB_RECORD_CLOSED : HB_RECORD_OPEN, o->timeout_ms * 1000000u,
		   NULL);
	{
		uint64_t w[HB_NAME_WORDS] = {0};
		memcpy(w, o->name, strnlen(o->name, HB_NAME_SIZE));
		for (unsigned k = 0; k < HB_NAME_WORDS; k++)
			atomic_store(&rec->name[k], w[k]);
	}
	record_beat(rec, o->beat_ago_ms * 1000000u < now ? now - o->beat_ago_ms * 1000000u : 0);
}

static int do_rewrite(const struct opts *o)
{
	struct hb_record *rec = shmat((int)o->rewrite, NULL, 0);

	if (rec == (void *)-1)
		return fail("shmat");
	if (o->pid)
		rec->pid = o->pid;
	write_fields(rec, o);
	shmdt(rec);
	return announce_to_registry((int)o->rewrite, 1, -1);
}

static int do_forge(const struct opts *o)
{
	struct hb_record *rec;
	struct shmid_ds ds;
	pid_t pid = o->self ? getpid() : o->pid;
	uint64_t st = o->start_time;
	int id;

	if (!o->have_start && proc_starttime(pid, &st) < 0)
		st = 0;
	id = shmget(IPC_PRIVATE, HB_RECORD_SIZE, IPC_CREAT | IPC_EXCL | (int)o->mode);
	if (id < 0)
		return fail("shmget");
	rec = shmat(id, NULL, 0);
	if (rec == (void *)-1)
		return fail("shmat");
	rec->version = HB_RECORD_VERSION;
	rec->size = HB_RECORD_SIZE;
	rec->flags = o->self ? HB_RECORD_SELF : 0;
	rec->pid = pid;
	rec->start_time = st;
	write_fields(rec, o);
	atomic_thread_fence(memory_order_release);
	rec->magic = HB_RECORD_MAGIC;
	if (o->hand_to_root) {
		if (shmctl(id, IPC_STAT, &ds) < 0)
			return fail("IPC_STAT");
		ds.shm_perm.uid = 0;
		if (shmctl(id, IPC_SET, &ds) < 0)
			return fail("IPC_SET");
	}
	if (o->self && !o->no_rmid && shmctl(id, IPC_RMID, NULL) < 0)
		return fail("IPC_RMID");
	printf("shmid %d\n", id);
	fflush(stdout);
	if (!o->no_announce && announce_to_registry(id, 1, -1))
		return 1;
	if (o->self || o->hold) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	return 0;
}

static long num(const char *s, int base)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, base);
	if (errno || *end || end == s) {
		fprintf(stderr, "hbforge: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {.name = "forged",
			 .timeout_ms = 1,
			 .beat_ago_ms = 60000,
			 .mode = HB_RECORD_MODE,
			 .flood = -1,
			 .bogus = INT_MAX,
			 .tail = -1,
			 .rewrite = -1};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool used = true;

		if (strcmp(a, "--self") == 0)
			o.self = true, used = false;
		else if (strcmp(a, "--hand-to-root") == 0)
			o.hand_to_root = true, used = false;
		else if (strcmp(a, "--no-rmid") == 0)
			o.no_rmid = true, used = false;
		else if (strcmp(a, "--no-announce") == 0)
			o.no_announce = true, used = false;
		else if (strcmp(a, "--closed") == 0)
			o.closed = true, used = false;
		else if (strcmp(a, "--hold") == 0)
			o.hold = true, used = false;
		else if (!v)
			return fprintf(stderr, "hbforge: '%s' needs a value\n", a), 2;
		else if (strcmp(a, "--pid") == 0)
			o.pid = (pid_t)num(v, 10);
		else if (strcmp(a, "--start-time") == 0)
			o.start_time = (uint64_t)num(v, 10), o.have_start = true;
		else if (strcmp(a, "--name") == 0)
			o.name = v;
		else if (strcmp(a, "--timeout-ms") == 0)
			o.timeout_ms = (uint64_t)num(v, 10);
		else if (strcmp(a, "--beat-ago-ms") == 0)
			o.beat_ago_ms = (uint64_t)num(v, 10);
		else if (strcmp(a, "--mode") == 0)
			o.mode = (unsigned)num(v, 8);
		else if (strcmp(a, "--flood") == 0)
			o.flood = num(v, 10);
		else if (strcmp(a, "--bogus-shmid") == 0)
			o.bogus = num(v, 10);
		else if (strcmp(a, "--tail") == 0)
			o.tail = num(v, 10);
		else if (strcmp(a, "--rewrite") == 0)
			o.rewrite = num(v, 10);
		else
			return fprintf(stderr, "hbforge: unknown option '%s'\n", a), 2;
		if (used)
			i++;
	}
	if (o.flood >= 0 || o.tail >= 0)
		return announce_to_registry((int)o.bogus, o.flood > 0 ? o.flood : 0, o.tail);
	if (o.rewrite >= 0)
		return do_rewrite(&o);
	if (!o.self && !o.pid)
		return fprintf(stderr, "hbforge: --pid P or --self\n"), 2;
	return do_forge(&o);
}
