/* Forged and malformed slots, and foreign segment headers, against the real
 * daemon.  Extends tests/daemon/test_refuse.c (pid 1, own pid, recycled pid
 * by start time, wrong user, wrong unit, unlisted name are covered there).
 *
 * Every case asserts both that the innocent process is still alive (and
 * was never signalled) and that the warning of the right kind was logged.
 * Outside the journal (as here) each event line carries the event kind's
 * name ("hbwatch: warning: refused: ..."); src/daemon/log.c maps each kind
 * to exactly one MESSAGE_ID (refused = 47262b2a..., stale-record =
 * a83e0800..., lock-held = 35d26488...), so asserting the kind on the
 * stderr line asserts the MESSAGE_ID journald would carry. */
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

#include "harness.h"
#include "adv.h"
#include "proc.h"
#include "sem.h"

TestSuite(forge, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

#define MS UINT64_C(1000000)

static const char *const base_conf = "kill_grace = 300ms\n[watched]\ntimeout = 300ms\n";

/* Slot claiming pid 0.  pid 0 is the free marker: such a slot is free
 * whatever its other bytes say (a name, an old beat).  Right behaviour:
 * ignore it silently (no event: nothing is registered there), never act
 * on it (kill(0) would hit the daemon's own process group), and let the
 * next registration take it. */
Test(forge, pid_0_is_a_free_slot)
{
	char name[HB_NAME_SIZE] = "watched";

	hbd_config("%s", base_conf);
	hbd_start();
	pid_t innocent = adv_sleeper_as((uid_t)-1, false, 0); /* in the daemon's process group */
	uint32_t slot = adv_free_slot();
	adv_forge_raw(slot, 0, 12345, 100 * MS, adv_long_ago(), name);

	adv_left_alone(innocent, 1000);
	cr_assert(hbd_alive(H.daemon), "hbwatch died");
	cr_assert_eq(hbd_log_count("refused", 0, NULL), 0, "a free slot was reported");
	cr_assert_eq(hbd_log_count("deadline-missed", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("stale-record", 0, NULL), 0);
	/* It is free: the next registration takes it (and is watched). */
	pid_t w = hbd_worker("watched", 60000, NULL);
	cr_assert_eq(hbd_slot_of(w), (int)slot, "the pid-0 slot was not reused");
	struct hb_slot_view v;
	cr_assert_eq(table_slot_read(hbd_table(), slot, &v), 0);
	cr_assert_str_eq(v.name, "watched");
	cr_assert(v.start_time != 12345);
}

/* Negative pids: -1 (kill(-1) signals every process) and minus a process
 * group leader (kill(-pgid) signals its group). */
Test(forge, negative_pid)
{
	uint64_t st;

	hbd_config("%s", base_conf);
	hbd_start();
	pid_t leader = adv_sleeper_as((uid_t)-1, true, 0);
	cr_assert_eq(proc_starttime(leader, &st), 0);
	char name[HB_NAME_SIZE] = "watched";
	adv_forge_raw(adv_free_slot(), -leader, st, 100 * MS, adv_long_ago(), name);
	adv_forge_raw(adv_free_slot(), -1, st, 100 * MS, adv_long_ago(), name);
	adv_forge_raw(adv_free_slot(), INT32_MIN, st, 100 * MS, adv_long_ago(), name);

	cr_assert(hbd_log_wait("refused", -leader, "negative pid", 10000));
	cr_assert(hbd_log_wait("refused", -1, "negative pid", 10000));
	cr_assert(hbd_log_wait("refused", INT32_MIN, "negative pid", 10000));
	adv_left_alone(leader, 1000);
	cr_assert(hbd_alive(H.daemon));
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-missed", 0, NULL), 0);
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
		if (proc_is_kthread((pid_t)p) > 0 && p > 2)
			found = (pid_t)p;
	}
	closedir(d);
	if (!found && proc_is_kthread(2) > 0)
		found = 2;
	return found;
}

Test(forge, kernel_thread)
{
	uint64_t st, st_after;

	hbd_config("%s", base_conf);
	hbd_start();
	pid_t k = find_kthread();
	if (!k)
		cr_skip_test("no kernel thread visible in /proc (a PID namespace?)");
	cr_assert_eq(proc_starttime(k, &st), 0);
	adv_forge(k, "watched", 100 * MS, adv_long_ago());

	cr_assert(hbd_log_wait("refused", k, "kernel thread", 10000));
	hbd_sleep_ms(1000);
	cr_assert_eq(proc_starttime(k, &st_after), 0, "kernel thread %d is gone", (int)k);
	cr_assert_eq(st, st_after);
	cr_assert_eq(hbd_log_count("signal-sent", 0, NULL), 0);
	cr_assert_eq(hbd_log_count("deadline-missed", k, NULL), 0);
}

/* Another user's process: [svc] wants root, the process runs as nobody
 * (test_refuse.c has the reverse: a root worker under user = nobody). */
Test(forge, other_users_process)
{
	hbd_config("kill_grace = 300ms\n[svc]\ntimeout = 300ms\nuser = root\n");
	hbd_start();
	pid_t nobody = adv_sleeper_as(65534, false, 0);
	adv_forge(nobody, "svc", 100 * MS, adv_long_ago());

	cr_assert(hbd_log_wait("refused", nobody, "runs as uid 65534, but [svc] requires user root",
			       10000));
	adv_left_alone(nobody, 1000);
}

/* 64 name bytes and no NUL.  The service's name is the 63-byte prefix, so
 * a reader that truncated instead of refusing would match it. */
Test(forge, name_not_nul_terminated)
{
	char longname[HB_NAME_SIZE + 1], raw[HB_NAME_SIZE], junk[HB_NAME_SIZE];

	memset(longname, 'w', HB_NAME_SIZE - 1);
	longname[HB_NAME_SIZE - 1] = '\0';
	hbd_config("kill_grace = 300ms\n[%s]\ntimeout = 300ms\n[watched]\ntimeout = 300ms\n",
		   longname);
	hbd_start();
	pid_t a = adv_sleeper_as((uid_t)-1, false, 0);
	pid_t b = adv_sleeper_as((uid_t)-1, false, 0);
	uint64_t st;

	memset(raw, 'w', sizeof(raw));
	cr_assert_eq(proc_starttime(a, &st), 0);
	adv_forge_raw(adv_free_slot(), a, st, 100 * MS, adv_long_ago(), raw);
	/* "watched" then 57 bytes of junk up to the end, still no NUL. */
	memset(junk, 0x7f, sizeof(junk));
	memcpy(junk, "watched", 7);
	cr_assert_eq(proc_starttime(b, &st), 0);
	adv_forge_raw(adv_free_slot(), b, st, 100 * MS, adv_long_ago(), junk);

	cr_assert(hbd_log_wait("refused", a, "malformed name", 10000));
	cr_assert(hbd_log_wait("refused", b, "malformed name", 10000));
	adv_left_alone(a, 1000);
	cr_assert_eq(hbd_log_count("deadline-missed", a, NULL), 0);
	adv_left_alone(b, 0);
	cr_assert_eq(hbd_log_count("deadline-missed", b, NULL), 0);
}

/* A timeout of 0, of 2^63 ns and of 2^64-1 ns: outside 1 ms..24 h. */
Test(forge, timeout_out_of_range)
{
	static const uint64_t tmo[] = {0, UINT64_C(1) << 63, UINT64_MAX};
	pid_t p[3];

	hbd_config("%s", base_conf);
	hbd_start();
	for (int i = 0; i < 3; i++) {
		p[i] = adv_sleeper_as((uid_t)-1, false, 0);
		adv_forge(p[i], "watched", tmo[i], adv_long_ago());
	}
	for (int i = 0; i < 3; i++) {
		char want[64];
		snprintf(want, sizeof(want), "timeout %llu ns is outside",
			 (unsigned long long)tmo[i]);
		cr_assert(hbd_log_wait("refused", p[i], want, 10000));
	}
	for (int i = 0; i < 3; i++) {
		adv_left_alone(p[i], i == 0 ? 1000 : 0);
		cr_assert_eq(hbd_log_count("deadline-missed", p[i], NULL), 0);
	}
}

/* A beat 2 s in the future: warned, and its deadline counts from there, so
 * it is not killed early (but killed once beat + timeout has passed). */
Test(forge, beat_in_the_future)
{
	hbd_config("%s", base_conf);
	hbd_start();
	pid_t p = adv_sleeper_as((uid_t)-1, false, 0);
	uint64_t beat = hbd_now_ns() + 2000 * MS, deadline = beat + 300 * MS;
	adv_forge(p, "watched", 300 * MS, beat);

	cr_assert(hbd_log_wait("refused", p, "in the future", 10000));
	/* Still alive and unsignalled shortly before the deadline. */
	uint64_t now = hbd_now_ns();
	cr_assert(now < deadline - 150 * MS, "test too slow to observe");
	adv_left_alone(p, (int)((deadline - 150 * MS - now) / MS));
	cr_assert_eq(hbd_log_count("deadline-missed", p, NULL), 0, "deadline taken as earlier");
	struct hbd_death d = {.pid = p};
	cr_assert_eq(hbd_wait_deaths(&d, 1, 5000), 1, "not killed after its deadline");
	cr_assert_geq(d.died_ns, deadline, "killed before beat + timeout");
	cr_assert(hbd_log_count("signal-sent", p, NULL) == 1);
}

/* A beat at the end of time: warned, never acted on. */
Test(forge, beat_at_end_of_time)
{
	hbd_config("%s", base_conf);
	hbd_start();
	pid_t p = adv_sleeper_as((uid_t)-1, false, 0);
	adv_forge(p, "watched", 300 * MS, UINT64_MAX);

	cr_assert(hbd_log_wait("refused", p, "in the future", 10000));
	adv_left_alone(p, 1500);
	cr_assert_eq(hbd_log_count("deadline-missed", p, NULL), 0);
}

/* A slot rewritten while the daemon reads it.  A writer thread flips one
 * slot, under the semaphore and the seqlock as the library does, between
 *   A: pid = innocent, name = "unlisted"  (refused: not a watched service)
 *   B: pid = other,    name = "watched"   (hung: acted on)
 * ringing the doorbell after each flip so the daemon scans as often as it
 * can.  A torn view (innocent's pid with "watched") would signal the
 * innocent.  The other process ignores the service's signal (SIGUSR1) and
 * kill_grace is an hour, so it survives being acted on again and again. */
struct flipper {
	atomic_bool stop;
	uint32_t slot;
	pid_t a, b;
	uint64_t sta, stb;
	unsigned long flips;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;
	struct hb_table *t = &H.table;
	unsigned seed = 1;

	while (!atomic_load(&f->stop)) {
		bool b = f->flips & 1u;
		int r = sem_lock(t->semid, HB_SEM_WAIT_MS);
		if (r < 0)
			continue;
		table_slot_fill(t, f->slot, b ? f->b : f->a, b ? f->stb : f->sta, 100 * MS,
				adv_long_ago(), b ? "watched" : "unlisted");
		sem_unlock(t->semid);
		table_ring(t);
		f->flips++;
		/* 0..~200 us, so the flips land at every point of a scan. */
		for (volatile unsigned n = rand_r(&seed) % 20000; n; n--)
			;
	}
	return NULL;
}

Test(forge, slot_changed_while_read, .timeout = 60)
{
	struct flipper f = {0};
	pthread_t th;

	hbd_config("kill_grace = 1h\n[watched]\ntimeout = 100ms\nsignal = SIGUSR1\n"
		   "kill_burst = 1000\nkill_interval = 1s\n");
	hbd_start();
	f.a = adv_sleeper_as((uid_t)-1, false, 0);
	f.b = adv_sleeper_as((uid_t)-1, false, SIGUSR1);
	cr_assert_eq(proc_starttime(f.a, &f.sta), 0);
	cr_assert_eq(proc_starttime(f.b, &f.stb), 0);
	f.slot = adv_free_slot();
	cr_assert_eq(pthread_create(&th, NULL, flip, &f), 0);
	hbd_sleep_ms(4000);
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	/* Leave it at A for a while: nothing acts on it either. */
	{
		char n[HB_NAME_SIZE] = "unlisted";
		adv_forge_raw(f.slot, f.a, f.sta, 100 * MS, adv_long_ago(), n);
	}
	hbd_sleep_ms(500);

	int seen_a = hbd_log_count("refused", f.a, "\"unlisted\" is not a watched service");
	int acted_b = hbd_log_count("deadline-missed", f.b, NULL);
	int busy = hbd_log_count("refused", 0, "being written");
	hbd_figure("torn-view: %lu flips; daemon saw A %d times, acted on B %d times, "
		   "%d busy-slot warnings",
		   f.flips, seen_a, acted_b, busy);
	cr_assert_gt(f.flips, 1000, "the writer hardly ran");
	cr_assert_gt(seen_a, 0, "the daemon never observed state A");
	cr_assert_gt(acted_b, 0, "the daemon never observed state B");
	/* Never a mixed view, in either direction. */
	cr_assert_eq(hbd_log_count(NULL, f.a, "\"watched\""), 0,
		     "torn view: innocent's pid with B's name");
	cr_assert_eq(hbd_log_count(NULL, f.a, "watched (pid"), 0,
		     "torn view acted on the innocent");
	cr_assert_eq(hbd_log_count(NULL, f.a, "watched, pid"), 0, "torn view: innocent's pid as B");
	cr_assert_eq(hbd_log_count(NULL, f.b, "\"unlisted\""), 0,
		     "torn view: B's pid with A's name");
	adv_left_alone(f.a, 0);
	cr_assert(hbd_alive(f.b));
	cr_assert(hbd_alive(H.daemon));
}

/* A segment at the key whose header is not this build's: the daemon
 * refuses to start (exit 1, the error names the problem) and changes
 * nothing: not a byte of the segment, not its owner or mode, and it
 * creates no semaphore. */
struct bad_header {
	const char *what;
	size_t size;
	void (*corrupt)(struct hb_header *h);
	const char *expect;
};

static void bad_magic(struct hb_header *h)
{
	h->magic ^= 1;
}
static void bad_version(struct hb_header *h)
{
	h->version = HB_TABLE_VERSION + 1;
}
static void bad_header_size(struct hb_header *h)
{
	h->header_size = 128;
}
static void bad_slot_size(struct hb_header *h)
{
	h->slot_size = 64;
}
static void zero_slots(struct hb_header *h)
{
	h->slot_count = 0;
}
static void many_slots(struct hb_header *h)
{
	h->slot_count = HB_SLOTS_MAX + 1;
}
static void more_slots(struct hb_header *h)
{
	h->slot_count = 5;
}
static void nothing(struct hb_header *h)
{
	(void)h;
}

static const struct bad_header bad_headers[] = {
    {"wrong magic", 64 + 4 * 128, bad_magic, "no hbwatch header (magic"},
    {"wrong version", 64 + 4 * 128, bad_version, "layout version 2, this build speaks 1"},
    {"wrong header size", 64 + 4 * 128, bad_header_size, "header/slot size 128/128"},
    {"wrong slot size", 64 + 4 * 128, bad_slot_size, "header/slot size 64/64"},
    {"zero slots", 64 + 4 * 128, zero_slots, "slot count 0 outside 1..65536"},
    {"too many slots", 64 + 4 * 128, many_slots, "slot count 65537 outside 1..65536"},
    {"count beyond the segment", 64 + 4 * 128, more_slots, "too small for 5 slots"},
    {"smaller than a header", 40, nothing, "smaller than an hbwatch header"},
    {"classic CPActive table", HB_LEGACY_TABLE_SIZE, bad_magic, "classic CPActive"},
};

Test(forge, foreign_header_refused_untouched)
{
	hbd_config("%s", base_conf);
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
		if (b->size >= sizeof(struct hb_header)) {
			struct hb_header h = {.magic = HB_TABLE_MAGIC,
					      .version = HB_TABLE_VERSION,
					      .header_size = sizeof(struct hb_header),
					      .slot_size = sizeof(struct hb_slot),
					      .slot_count = 4};
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
