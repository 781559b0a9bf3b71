/* hbforge: make heartbeat records the way a hostile or careless user could,
 * for the tests that check hbwatch never acts on them.  Run it as any uid
 * (setpriv).  Writes the record field by field, with any mode, naming any
 * pid, and announces it in the registry at $HBWATCH_KEY.
 *
 * hbforge [--pid P | --self] [--start-time N] [--made-at-ms D] [--name NAME]
 *         [--timeout-ms N] [--beat-ago-ms N] [--mode OCTAL] [--hand-to-root]
 *         [--no-rmid] [--no-announce] [--closed] [--hold] [--count N]
 * hbforge --flood N [--bogus-shmid S]     announce N hints (S: default 0x7fffffff)
 * hbforge --tail N                        set the registry's tail to N
 *         (--flood, --tail and --scribble: with --for-ms D, again and again
 *         until D ms have passed)
 * hbforge --rewrite SHMID [--pid P] [--timeout-ms N] [--beat-ago-ms N] [--name NAME]
 *                                         rewrite an existing record in place
 * hbforge --scribble N                    N passes, each taking half the ring and
 *                                         filling it with garbage (every other entry
 *                                         with the index a reader expects)
 * hbforge --ring-for-ms D                 ring the doorbell every millisecond for D ms
 * hbforge --requeue-for-ms D              move the doorbell's waiters onto another
 *                                         futex word (FUTEX_CMP_REQUEUE), every
 *                                         millisecond for D ms; prints "requeued N"
 * hbforge --awake-for-ms D                keep the registry's "awake" set for D ms, so
 *                                         clients never wake the daemon's doorbell
 * hbforge --smash-header                  overwrite the registry header's magic (a
 *                                         group member may write all of it)
 * hbforge --squat BYTES [--mode OCTAL] [--squat-header]
 *                                         create the segment at $HBWATCH_KEY before
 *                                         hbwatch does (with a valid-looking registry
 *                                         header); prints "shmid N"
 *
 * --count N makes N records instead of one (each printed as "shmid N").
 *
 * --self: the record names its creator (this process), which then stays
 * alive (as with --hold) so the record stays the word of a live process.
 * Without --start-time the named process's real start time is written.
 * --made-at-ms D stamps the record's made_boot_ns with our CLOCK_BOOTTIME
 * plus D ms (negative: in the past); with --start-time 0 the record is
 * what the library makes, which names the process by that stamp alone.
 * Prints "shmid N" (and, with --hold, "ready") on stdout.
 * Exit: 0 done; 1 a system call failed (message on stderr); 2 usage. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
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
	long count, scribble, ring_ms, requeue_ms, awake_ms, squat, for_ms;
	bool squat_header, smash_header;
	bool have_made;
	long made_at_ms; /* --made-at-ms: stamp made_boot_ns, ms from now (< 0: past) */
};

static int fail(const char *what)
{
	fprintf(stderr, "hbforge: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Go on repeating the attack begun at START? */
static bool again(const struct opts *o, uint64_t start)
{
	return o->for_ms > 0 && now_ns() - start < (uint64_t)o->for_ms * 1000000u;
}

/* As a client does (record_share_group()), but keeping the mode asked
 * for: the record goes to the registry's group, so that hbwatch, which
 * reads records through that group, can read it.  Not ours: left as is. */
static void share_group(int shmid, const struct hb_registry *reg)
{
	struct shmid_ds ds, g;

	if (shmid < 0 || shmctl(reg->shmid, IPC_STAT, &g) < 0 || shmctl(shmid, IPC_STAT, &ds) < 0 ||
	    ds.shm_perm.gid == g.shm_perm.gid)
		return;
	ds.shm_perm.gid = g.shm_perm.gid;
	(void)shmctl(shmid, IPC_SET, &ds);
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
	share_group(shmid, &reg);
	for (long i = 0; i < count; i++)
		registry_announce(&reg, shmid);
	if (tail >= 0)
		registry_ring_doorbell(&reg);
	registry_detach(&reg);
	return 0;
}

/* Write the fields of REC the way a writer with access could: the name as
 * given, byte for byte, and the beat, all inside the record's own seqlock. */
static void write_fields(struct hb_record *rec, const struct opts *o)
{
	uint64_t now = now_ns(), w[HB_NAME_WORDS] = {0};
	uint32_t seq = atomic_load_explicit(&rec->seq, memory_order_relaxed);

	memcpy(w, o->name, strnlen(o->name, HB_NAME_SIZE));
	atomic_store_explicit(&rec->seq, seq | 1u, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&rec->state, o->closed ? HB_RECORD_CLOSED : HB_RECORD_OPEN,
			      memory_order_relaxed);
	atomic_store_explicit(&rec->timeout_ns, o->timeout_ms * 1000000u, memory_order_relaxed);
	for (unsigned k = 0; k < HB_NAME_WORDS; k++)
		atomic_store_explicit(&rec->name[k], w[k], memory_order_relaxed);
	record_beat(rec, o->beat_ago_ms * 1000000u < now ? now - o->beat_ago_ms * 1000000u : 0);
	atomic_store_explicit(&rec->seq, (seq | 1u) + 1u, memory_order_release);
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

static int forge_one(const struct opts *o, pid_t pid, uint64_t st)
{
	struct hb_record *rec;
	struct shmid_ds ds;
	int id;

	id = shmget(IPC_PRIVATE, HB_RECORD_SIZE, IPC_CREAT | IPC_EXCL | (int)o->mode);
	if (id < 0)
		return fail("shmget");
	rec = shmat(id, NULL, 0);
	if (rec == (void *)-1)
		return fail("shmat");
	record_layout_init(rec);
	rec->flags = o->self ? HB_RECORD_SELF : 0;
	rec->pid = pid;
	rec->start_time = st;
	if (o->have_made)
		rec->made_boot_ns =
		    (uint64_t)((int64_t)boot_ns() + (int64_t)o->made_at_ms * 1000000);
	write_fields(rec, o);
	atomic_thread_fence(memory_order_release);
	rec->magic = HB_RECORD_MAGIC;
	/* Kept attached while held: a --self record marked for removal lives
	 * as long as its creator. */
	if (!o->self && !o->hold)
		shmdt(rec);
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
	return 0;
}

static int do_forge(const struct opts *o)
{
	pid_t pid = o->self ? getpid() : o->pid;
	uint64_t st = o->start_time;

	if (!o->have_start && proc_starttime(pid, &st) < 0)
		st = 0;
	for (long i = 0; i < (o->count > 0 ? o->count : 1); i++)
		if (forge_one(o, pid, st))
			return 1;
	if (o->self || o->hold) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	return 0;
}

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* What a group member may do to the registry's shared words: scribble over
 * the ring, ring the doorbell without announcing, or move whoever waits on
 * the doorbell onto another futex word. */
static int do_registry(const struct opts *o)
{
	struct hb_registry reg;
	char why[256] = "";
	int key, r = key_from_env(&key);
	uint64_t seed = (uint64_t)getpid() * UINT64_C(0x9e3779b97f4a7c15), start = now_ns();
	long moved = 0;

	if (r == 0)
		r = registry_attach(key, false, &reg, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "hbforge: registry: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	for (long pass = 0; pass < o->scribble || (o->scribble > 0 && again(o, start)); pass++) {
		uint32_t half = reg.ring_size / 2u;
		uint64_t t = atomic_fetch_add(&reg.hdr->tail, half);

		for (uint64_t pos = t; pos < t + half; pos++) {
			uint64_t v;

			seed = seed * UINT64_C(6364136223846793005) + 1442695040888963407u;
			v = seed;
			/* Every other entry carries the index a reader expects, so it
			 * is taken for an announcement of a random shmid; the others
			 * look never filled. */
			if (pos & 1u)
				v = (pos << 32) | (uint32_t)(seed >> 40);
			atomic_store(&reg.ring[pos & (reg.ring_size - 1)], v);
		}
		registry_ring_doorbell(&reg);
	}
	if (o->smash_header)
		reg.hdr->magic = ~HB_REGISTRY_MAGIC;
	for (long t = 0; t < o->ring_ms; t++) {
		registry_ring_doorbell(&reg);
		sleep_us(1000);
	}
	for (long t = 0; t < o->requeue_ms; t++) {
		/* A word of our own that nobody ever wakes. */
		static uint32_t elsewhere;
		uint32_t val = atomic_load(&reg.hdr->doorbell);
		long n = syscall(SYS_futex, &reg.hdr->doorbell, FUTEX_CMP_REQUEUE, 0,
				 (void *)(uintptr_t)INT32_MAX, &elsewhere, val);

		if (n > 0)
			moved += n;
		sleep_us(1000);
	}
	if (o->requeue_ms > 0)
		printf("requeued %ld\n", moved);
	for (uint64_t end = now_ns() + (uint64_t)o->awake_ms * 1000000u; now_ns() < end;) {
		atomic_store(&reg.hdr->awake, 1);
		sleep_us(50);
	}
	registry_detach(&reg);
	return 0;
}

/* Take hbwatch's key before it starts, as any user could. */
static int do_squat(const struct opts *o)
{
	int key, id, r = key_from_env(&key);

	if (r < 0)
		return fprintf(stderr, "hbforge: bad $HBWATCH_KEY\n"), 2;
	id = shmget(key, (size_t)o->squat, IPC_CREAT | IPC_EXCL | (int)o->mode);
	if (id < 0)
		return fail("shmget");
	if (o->squat_header) {
		struct hb_registry_header *h;

		if ((size_t)o->squat < registry_size(HB_RING_MIN))
			return fprintf(stderr, "hbforge: too small for a registry\n"), 2;
		h = shmat(id, NULL, 0);
		if (h == (void *)-1)
			return fail("shmat");
		h->version = HB_REGISTRY_VERSION;
		h->header_size = sizeof(*h);
		h->ring_size = HB_RING_MIN;
		h->magic = HB_REGISTRY_MAGIC;
		shmdt(h);
	}
	printf("shmid %d\n", id);
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
		else if (strcmp(a, "--squat-header") == 0)
			o.squat_header = true, used = false;
		else if (strcmp(a, "--smash-header") == 0)
			o.smash_header = true, used = false;
		else if (!v)
			return fprintf(stderr, "hbforge: '%s' needs a value\n", a), 2;
		else if (strcmp(a, "--pid") == 0)
			o.pid = (pid_t)num(v, 10);
		else if (strcmp(a, "--start-time") == 0)
			o.start_time = (uint64_t)num(v, 10), o.have_start = true;
		else if (strcmp(a, "--made-at-ms") == 0)
			o.made_at_ms = num(v, 10), o.have_made = true;
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
		else if (strcmp(a, "--count") == 0)
			o.count = num(v, 10);
		else if (strcmp(a, "--scribble") == 0)
			o.scribble = num(v, 10);
		else if (strcmp(a, "--ring-for-ms") == 0)
			o.ring_ms = num(v, 10);
		else if (strcmp(a, "--requeue-for-ms") == 0)
			o.requeue_ms = num(v, 10);
		else if (strcmp(a, "--awake-for-ms") == 0)
			o.awake_ms = num(v, 10);
		else if (strcmp(a, "--squat") == 0)
			o.squat = num(v, 10);
		else if (strcmp(a, "--for-ms") == 0)
			o.for_ms = num(v, 10);
		else
			return fprintf(stderr, "hbforge: unknown option '%s'\n", a), 2;
		if (used)
			i++;
	}
	if (o.flood >= 0 || o.tail >= 0) {
		uint64_t start = now_ns();
		int r;

		do
			r = announce_to_registry((int)o.bogus, o.flood > 0 ? o.flood : 0, o.tail);
		while (r == 0 && again(&o, start));
		return r;
	}
	if (o.rewrite >= 0)
		return do_rewrite(&o);
	if (o.scribble > 0 || o.ring_ms > 0 || o.requeue_ms > 0 || o.awake_ms > 0 || o.smash_header)
		return do_registry(&o);
	if (o.squat > 0)
		return do_squat(&o);
	if (!o.self && !o.pid)
		return fprintf(stderr, "hbforge: --pid P or --self\n"), 2;
	return do_forge(&o);
}
