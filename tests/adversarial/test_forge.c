/* Malformed and hostile heartbeat records that root itself wrote (so the
 * ownership check passes and only the other checks stand between the
 * record and a kill), other programs' segments of a record's size, and
 * foreign registry headers at the key.  Extends tests/daemon/test_refuse.c
 * (pid 1, own pid, recycled pid by start time, wrong user, wrong unit and
 * unlisted name are covered there); attacks by other uids are in
 * test_trust.c.
 *
 * Every case asserts both that the innocent process is still alive (and
 * was never signalled) and that the event of the right kind was logged.
 * Event kinds on stderr stand for MESSAGE_IDs (see test_trust.c). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "proc.h"
#include "record.h"

TestSuite(forge, .init = adv_init, .fini = adv_fini, .timeout = 90);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

#define MS UINT64_C(1000000)

static const char *const base_conf =
    "kill_grace = 300ms\n[watched]\ntimeout = 300ms\n[hung]\ntimeout = 1s\n";

/* The registration part of a record, written raw inside its seqlock: NAME
 * is copied byte for byte (HB_NAME_SIZE bytes, no NUL added). */
static void write_raw(struct hb_record *rec, uint32_t state, uint64_t timeout_ns, uint64_t beat_ns,
		      const char name[HB_NAME_SIZE])
{
	uint32_t seq = atomic_load(&rec->seq);
	uint64_t w[HB_NAME_WORDS];

	memcpy(w, name, sizeof(w));
	atomic_store(&rec->seq, seq | 1u);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&rec->state, state, memory_order_relaxed);
	atomic_store_explicit(&rec->timeout_ns, timeout_ns, memory_order_relaxed);
	for (unsigned k = 0; k < HB_NAME_WORDS; k++)
		atomic_store_explicit(&rec->name[k], w[k], memory_order_relaxed);
	atomic_store_explicit(&rec->beat_ns, beat_ns, memory_order_relaxed);
	atomic_store_explicit(&rec->seq, (seq | 1u) + 1u, memory_order_release);
}

static void announce(int shmid)
{
	struct hb_registry reg;

	cr_assert_eq(registry_attach(H.key, false, &reg, NULL, 0), 0);
	registry_announce(&reg, shmid);
	registry_detach(&reg);
}

/* A root-owned record naming PID (any value) with START_TIME, made the
 * way hbctl makes one, then written raw and announced.  Removed by
 * hbd_fini().  Returns its shmid; *REC stays attached if REC. */
static int forge_raw(int32_t pid, uint64_t start_time, uint64_t timeout_ns, uint64_t beat_ns,
		     const char name[HB_NAME_SIZE], struct hb_record **keep)
{
	struct hb_record *rec;
	int shmid, r;

	cr_assert_lt(H.n_made, HBD_MAX_KIDS);
	r = record_create(pid, start_time, false, &rec, &shmid);
	cr_assert_eq(r, 0, "record_create: %s", strerror(-r));
	H.made[H.n_made++] = shmid;
	write_raw(rec, HB_RECORD_OPEN, timeout_ns, beat_ns, name);
	if (keep)
		*keep = rec;
	else
		record_detach(rec);
	announce(shmid);
	return shmid;
}

/* The same for a live process, with its real start time, and NAME a C
 * string. */
static int forge(pid_t pid, const char *name, uint64_t timeout_ns, uint64_t beat_ns)
{
	char n[HB_NAME_SIZE] = {0};
	uint64_t st;

	cr_assert_eq(proc_starttime(pid, &st), 0, "no start time for pid %d", (int)pid);
	strncpy(n, name, sizeof(n) - 1);
	return forge_raw(pid, st, timeout_ns, beat_ns, n, NULL);
}

/* pid 0 (kill(0) would hit the daemon's own process group, which the
 * innocent sleeper shares), minus a process group leader (kill(-pgid)
 * signals the group), -1 (kill(-1) signals everything) and INT32_MIN:
 * names of no process, never acted on. */
Test(forge, pid_zero_and_negative)
{
	static const char name[HB_NAME_SIZE] = "watched";
	uint64_t st;

	adv_config("%s", base_conf);
	hbd_start();
	pid_t same_group = adv_sleeper_as((uid_t)-1, false, 0);
	pid_t leader = adv_sleeper_as((uid_t)-1, true, 0);
	cr_assert_eq(proc_starttime(leader, &st), 0);
	const int32_t pids[] = {0, -leader, -1, INT32_MIN};
	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		char want[64];
		forge_raw(pids[i], st, 100 * MS, adv_long_ago(), name, NULL);
		snprintf(want, sizeof(want), "it names pid %d;", (int)pids[i]);
		cr_assert(hbd_log_wait("untrusted", 0, want, 10000));
	}
	hbd_assert_left_alone(same_group, 1000);
	hbd_assert_left_alone(leader, 0);
	cr_assert(hbd_alive(H.daemon));
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-missed", 0, NULL), 0);
	adv_still_kills("hung");
}

static bool is_kthread(pid_t pid)
{
	struct proc_stat st;

	return proc_stat_facts(pid, &st) == 0 && st.kthread;
}

/* A kernel thread, with its real start time. */
static pid_t find_kthread(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	cr_assert(d);
	while (!found && (e = readdir(d))) {
		char *end;
		long p = strtol(e->d_name, &end, 10);
		if (*end || p <= 1)
			continue;
		/* Prefer a worker thread over kthreadd (2), any will do. */
		if (is_kthread((pid_t)p) && p > 2)
			found = (pid_t)p;
	}
	closedir(d);
	if (!found && is_kthread(2))
		found = 2;
	return found;
}

Test(forge, kernel_thread)
{
	uint64_t st, st_after;

	adv_config("%s", base_conf);
	hbd_start();
	pid_t k = find_kthread();
	if (!k)
		cr_skip_test("no kernel thread visible in /proc (a PID namespace?)");
	cr_assert_eq(proc_starttime(k, &st), 0);
	forge(k, "watched", 100 * MS, adv_long_ago());

	cr_assert(hbd_log_wait("untrusted", k, "it is a kernel thread", 10000));
	hbd_sleep_ms(1000);
	cr_assert_eq(proc_starttime(k, &st_after), 0, "kernel thread %d is gone", (int)k);
	cr_assert_eq(st, st_after);
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-missed", k, NULL), 0);
}

/* Root's record for another user's process (root may signal it), but
 * [svc] wants root: refused at adoption, not called a forgery. */
Test(forge, section_user_mismatch)
{
	adv_need_uids();
	adv_config(
	    "kill_grace = 300ms\n[svc]\ntimeout = 300ms\nuser = root\n[hung]\ntimeout = 1s\n");
	hbd_start();
	pid_t nobody = adv_sleeper_as(65534, false, 0);
	forge(nobody, "svc", 100 * MS, adv_long_ago());

	cr_assert(hbd_log_wait("refused", nobody, "runs as uid 65534, but [svc]", 10000));
	hbd_assert_left_alone(nobody, 1000);
	cr_assert_eq(hbd_log_count("untrusted", nobody, NULL), 0);
	adv_still_kills("hung");
}

/* 64 name bytes and no NUL.  A service's name is the 63-byte prefix, so a
 * reader that truncated instead of refusing would match it. */
Test(forge, name_not_nul_terminated)
{
	char longname[HB_NAME_SIZE], raw[HB_NAME_SIZE], junk[HB_NAME_SIZE];
	uint64_t st;

	memset(longname, 'w', HB_NAME_SIZE - 1);
	longname[HB_NAME_SIZE - 1] = '\0';
	adv_config("kill_grace = 300ms\n[%s]\ntimeout = 300ms\n[watched]\ntimeout = 300ms\n"
		   "[hung]\ntimeout = 1s\n",
		   longname);
	hbd_start();
	pid_t a = adv_sleeper_as((uid_t)-1, false, 0);
	pid_t b = adv_sleeper_as((uid_t)-1, false, 0);

	memset(raw, 'w', sizeof(raw));
	cr_assert_eq(proc_starttime(a, &st), 0);
	forge_raw(a, st, 100 * MS, adv_long_ago(), raw, NULL);
	/* "watched" then 57 bytes of junk up to the end, still no NUL. */
	memset(junk, 0x7f, sizeof(junk));
	memcpy(junk, "watched", 7);
	cr_assert_eq(proc_starttime(b, &st), 0);
	forge_raw(b, st, 100 * MS, adv_long_ago(), junk, NULL);

	cr_assert(hbd_log_wait("refused", a, "its name is not a service name", 10000));
	cr_assert(hbd_log_wait("refused", b, "its name is not a service name", 10000));
	hbd_assert_left_alone(a, 1000);
	hbd_assert_left_alone(b, 0);
	cr_assert_eq(hbd_log_count("deadline-missed", a, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-missed", b, NULL), 0);
	adv_still_kills("hung");
}

/* A timeout of 0, of 2^63 ns and of 2^64-1 ns: outside 1 ms..24 h, said
 * (odd-registration) and never enforced. */
Test(forge, timeout_out_of_range)
{
	static const uint64_t tmo[] = {0, UINT64_C(1) << 63, UINT64_MAX};
	pid_t p[3];

	adv_config("%s", base_conf);
	hbd_start();
	for (int i = 0; i < 3; i++) {
		p[i] = adv_sleeper_as((uid_t)-1, false, 0);
		forge(p[i], "watched", tmo[i], adv_long_ago());
	}
	for (int i = 0; i < 3; i++) {
		char want[64];
		snprintf(want, sizeof(want), "asks for a timeout of %llu ns, outside",
			 (unsigned long long)tmo[i]);
		cr_assert(hbd_log_wait("odd-registration", p[i], want, 10000));
	}
	for (int i = 0; i < 3; i++) {
		hbd_assert_left_alone(p[i], i == 0 ? 1000 : 0);
		cr_assert_eq(hbd_log_count("deadline-missed", p[i], NULL), 0);
	}
	adv_still_kills("hung");
}

/* A beat 2 s in the future: warned (odd-registration), and its deadline counts from there, so
 * it is not killed early (but killed once beat + timeout has passed). */
Test(forge, beat_in_the_future)
{
	adv_config("%s", base_conf);
	hbd_start();
	pid_t p = adv_sleeper_as((uid_t)-1, false, 0);
	uint64_t beat = hbd_now_ns() + 2000 * MS, deadline = beat + 300 * MS;
	forge(p, "watched", 300 * MS, beat);

	cr_assert(hbd_log_wait("odd-registration", p, "in the future", 10000));
	uint64_t now = hbd_now_ns();
	cr_assert(now < deadline - 150 * MS, "test too slow to observe");
	hbd_assert_left_alone(p, (int)((deadline - 150 * MS - now) / MS));
	cr_assert_eq(hbd_log_count("deadline-missed", p, NULL), 0, "deadline taken as earlier");
	struct hbd_death d = {.pid = p};
	cr_assert_eq(hbd_wait_deaths(&d, 1, 5000), 1, "not killed after its deadline");
	cr_assert_geq(d.died_ns, deadline, "killed before beat + timeout");
	cr_assert(hbd_log_wait("signal-sent", p, NULL, 5000));
}

/* A beat at the end of time: warned, never acted on. */
Test(forge, beat_at_end_of_time)
{
	adv_config("%s", base_conf);
	hbd_start();
	pid_t p = adv_sleeper_as((uid_t)-1, false, 0);
	forge(p, "watched", 300 * MS, UINT64_MAX);

	cr_assert(hbd_log_wait("odd-registration", p, "in the future", 10000));
	hbd_assert_left_alone(p, 1500);
	cr_assert_eq(hbd_log_count("deadline-missed", p, NULL), 0);
	adv_still_kills("hung");
}

/* A record rewritten while the daemon reads it.  A writer thread flips it,
 * inside its seqlock as the library does, between
 *   A: "watched", timeout 24 h   (watched, never late)
 *   B: "unlisted", timeout 1 ms  (not a watched service)
 * both with a beat 5 s ago, ringing the doorbell after each flip.  The
 * daemon reads the record at each scan.  No consistent view is ever acted on;
 * a torn one ("watched" with B's 1 ms) would signal the process. */
struct flipper {
	atomic_bool stop;
	struct hb_record *rec;
	struct hb_registry reg;
	unsigned long flips;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;
	unsigned seed = 1;

	while (!atomic_load(&f->stop)) {
		bool b = f->flips & 1u;
		char name[HB_NAME_SIZE] = {0};

		strcpy(name, b ? "unlisted" : "watched");
		write_raw(f->rec, HB_RECORD_OPEN, b ? 1 * MS : 24 * 3600 * 1000 * MS,
			  adv_long_ago(), name);
		registry_ring_doorbell(&f->reg);
		f->flips++;
		/* 0..~200 us, so the flips land at every point of a scan. */
		for (volatile unsigned n = (unsigned)rand_r(&seed) % 20000u; n; n--)
			;
	}
	return NULL;
}

Test(forge, record_changed_while_read, .timeout = 60)
{
	static const char unlisted[HB_NAME_SIZE] = "unlisted";
	struct flipper f = {0};
	pthread_t th;
	uint64_t st;

	/* [often], which no process uses, sets the scan period to 20 ms: the
	 * daemon reads the record about 200 times while it flips.  With only
	 * [hung]'s 500 ms period it read it about 8 times, and a run could see
	 * no change of state at all after adoption. */
	adv_config("kill_grace = 1h\n[watched]\ntimeout = 24h\n[hung]\ntimeout = 1s\n"
		   "[often]\ntimeout = 40ms\n");
	hbd_start();
	pid_t a = adv_sleeper_as((uid_t)-1, false, 0);
	cr_assert_eq(proc_starttime(a, &st), 0);
	forge_raw(a, st, 1 * MS, adv_long_ago(), unlisted, &f.rec);
	cr_assert_eq(registry_attach(H.key, false, &f.reg, NULL, 0), 0);
	cr_assert_eq(pthread_create(&th, NULL, flip, &f), 0);
	hbd_sleep_ms(4000);
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	registry_detach(&f.reg);
	/* Left at B for a while: nothing acts on it either. */
	write_raw(f.rec, HB_RECORD_OPEN, 1 * MS, adv_long_ago(), unlisted);
	record_detach(f.rec);
	hbd_sleep_ms(500);

	int seen_b = hbd_log_count("refused", a, "\"unlisted\" is not a watched service");
	hbd_figure("torn view: %lu flips; the daemon saw B %d times (after A each time)", f.flips,
		   seen_b);
	cr_assert_gt(f.flips, 1000, "the writer hardly ran");
	cr_assert_geq(seen_b, 10, "the daemon hardly saw both states");
	cr_assert_eq(hbd_log_count("deadline-missed", a, NULL), 0, "a torn view was acted on");
	hbd_assert_left_alone(a, 0);
	adv_still_kills("hung");
}

/* Other programs' 4 KiB segments and records of another layout, found by
 * the census: ignored without a word, never written, never removed. */
Test(forge, foreign_segments_of_record_size)
{
	static const char *const what[] = {"random bytes", "a record of layout 2",
					   "a record of another size"};
	static const char watched[HB_NAME_SIZE] = "watched";
	int ids[3];
	unsigned char copy[3][HB_RECORD_SIZE];

	adv_config("%s", base_conf);
	hbd_start();
	pid_t p = adv_sleeper_as((uid_t)-1, false, 0);
	for (int c = 0; c < 3; c++) {
		ids[c] = shmget(IPC_PRIVATE, HB_RECORD_SIZE, IPC_CREAT | 0600);
		cr_assert_geq(ids[c], 0);
		H.made[H.n_made++] = ids[c];
		unsigned char *m = shmat(ids[c], NULL, 0);
		cr_assert(m != (void *)-1);
		for (size_t i = 0; i < HB_RECORD_SIZE; i++)
			m[i] = (unsigned char)(i * 13 + 7 * (unsigned)c);
		if (c > 0) {
			struct hb_record *r = (struct hb_record *)(void *)m;
			r->magic = HB_RECORD_MAGIC;
			r->version = c == 1 ? HB_RECORD_VERSION + 1 : HB_RECORD_VERSION;
			r->size = c == 1 ? HB_RECORD_SIZE : 2 * HB_RECORD_SIZE;
			r->flags = 0;
			r->pid = p;
			write_raw(r, HB_RECORD_OPEN, 1 * MS, adv_long_ago(), watched);
		}
		memcpy(copy[c], m, HB_RECORD_SIZE);
		shmdt(m);
		announce(ids[c]);
	}
	hbd_assert_left_alone(p, 1500);
	for (int c = 0; c < 3; c++) {
		struct shmid_ds ds;
		char want[32];
		cr_assert_eq(shmctl(ids[c], IPC_STAT, &ds), 0, "%s was removed", what[c]);
		unsigned char *m = shmat(ids[c], NULL, SHM_RDONLY);
		cr_assert(m != (void *)-1);
		cr_assert_eq(memcmp(copy[c], m, HB_RECORD_SIZE), 0, "%s was written", what[c]);
		shmdt(m);
		snprintf(want, sizeof(want), "record %d ", ids[c]);
		cr_assert_eq(hbd_log_count(NULL, 0, want), 0, "%s was reported", what[c]);
	}
	cr_assert_eq(hbd_log_count(NULL, p, NULL), 0);
	adv_still_kills("hung");
}

/* A segment at the key whose header is not this build's registry: the
 * daemon refuses to start (exit 1, the error names the problem) and changes
 * nothing: not a byte of the segment, not its owner or mode, and it makes
 * no semaphore. */
struct bad_header {
	const char *what;
	size_t size;
	void (*corrupt)(struct hb_registry_header *h);
	const char *expect;
};

static void bad_magic(struct hb_registry_header *h)
{
	h->magic ^= 1;
}
static void bad_version(struct hb_registry_header *h)
{
	h->version = HB_REGISTRY_VERSION + 1;
}
static void bad_header_size(struct hb_registry_header *h)
{
	h->header_size = 128;
}
static void ring_not_pow2(struct hb_registry_header *h)
{
	h->ring_size = 100;
}
static void ring_too_small(struct hb_registry_header *h)
{
	h->ring_size = 32;
}
static void ring_too_big(struct hb_registry_header *h)
{
	h->ring_size = 2 * HB_RING_MAX;
}
static void ring_beyond_segment(struct hb_registry_header *h)
{
	h->ring_size = 2 * HB_RING_MIN;
}
static void nothing(struct hb_registry_header *h)
{
	(void)h;
}

static const struct bad_header bad_headers[] = {
    {"wrong magic", 576, bad_magic, "no hbwatch header (magic"},
    {"wrong version", 576, bad_version, "hbwatch registry layout 3 (header 64 bytes)"},
    {"wrong header size", 576, bad_header_size, "layout 2 (header 128 bytes)"},
    {"ring not a power of two", 576, ring_not_pow2, "ring size 100 is not a power of two"},
    {"ring too small", 576, ring_too_small, "ring size 32 is not a power of two"},
    {"ring too big", 576, ring_too_big, "ring size 131072 is not a power of two"},
    {"ring beyond the segment", 576, ring_beyond_segment, "too small for a ring of 128"},
    {"smaller than a header", 40, nothing, "smaller than an hbwatch header"},
    {"classic CPActive table", HB_LEGACY_TABLE_SIZE, bad_magic, "classic CPActive"},
};

Test(forge, foreign_header_refused_untouched)
{
	adv_config("%s", base_conf);
	for (size_t c = 0; c < sizeof(bad_headers) / sizeof(bad_headers[0]); c++) {
		const struct bad_header *b = &bad_headers[c];
		struct shmid_ds before, after;
		char err[4096];
		int id = shmget(H.key, b->size, IPC_CREAT | IPC_EXCL | 0640);
		cr_assert(id >= 0, "shmget: %s", strerror(errno));
		unsigned char *mem = shmat(id, NULL, 0);
		cr_assert(mem != (void *)-1);
		for (size_t i = 0; i < b->size; i++)
			mem[i] = (unsigned char)(i * 7 + 3);
		if (b->size >= sizeof(struct hb_registry_header)) {
			struct hb_registry_header h = {.magic = HB_REGISTRY_MAGIC,
						       .version = HB_REGISTRY_VERSION,
						       .header_size = sizeof(h),
						       .ring_size = HB_RING_MIN};
			b->corrupt(&h);
			memcpy(mem, &h, sizeof(h));
		}
		unsigned char *copy = malloc(b->size);
		cr_assert(copy);
		memcpy(copy, mem, b->size);
		cr_assert_eq(shmctl(id, IPC_STAT, &before), 0);

		int st = hbd_run(NULL, 0, err, sizeof(err), "-c", H.conf, NULL);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: status 0x%x, stderr: %s",
			  b->what, (unsigned)st, err);
		cr_assert(strstr(err, b->expect), "%s: error does not say '%s': %s", b->what,
			  b->expect, err);
		cr_assert_eq(memcmp(copy, mem, b->size), 0, "%s: the segment was modified",
			     b->what);
		cr_assert_eq(shmctl(id, IPC_STAT, &after), 0);
		cr_assert_eq(after.shm_perm.mode & 0777, before.shm_perm.mode & 0777, "%s: mode",
			     b->what);
		cr_assert_eq(after.shm_perm.gid, before.shm_perm.gid, "%s: group", b->what);
		cr_assert_eq(after.shm_segsz, before.shm_segsz);
		cr_assert(semget(H.key, 0, 0) < 0 && errno == ENOENT,
			  "%s: a semaphore was created at the key", b->what);
		free(copy);
		shmdt(mem);
		cr_assert_eq(shmctl(id, IPC_RMID, NULL), 0);
	}
}
