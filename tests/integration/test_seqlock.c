/* The lock-free record_read() against its owner re-registering without
 * pause: every copy it returns must be one registration written whole,
 * never the name of one with the timeout or state of another.  And reads
 * must have met writes (the sequence number was odd when a read began, or
 * moved while it ran): a run where they never did proves nothing.  Reader
 * and writer are pinned to two CPUs where there are two: sharing one, a
 * read meets a write only when the writer is preempted inside it (a few in
 * 100000 reads); on two, about one read in four does. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "hbwatch.h"
#include "record.h"
#include "util.h"

TestSuite(seqlock, .fini = tu_cleanup, .timeout = 60);

/* Successful reads wanted, and a cap on the time spent reading (the VM
 * may give the reader little of it). */
#define READS	100000
#define READ_MS 10000
/* Reads that met a write wanted, on two CPUs (on one: any). */
#define OVERLAPS 1000

/* Two registrations of different name lengths, each with a timeout that
 * encodes its name (and a state of its own), so a torn read shows as a
 * mismatch. */
static const char name_a[] = "aaaaaaaaaa";
static const char name_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

struct writer {
	struct hb_record *rec; /* NULL: through hb_register() */
	atomic_bool stop;
	unsigned long writes;
	int error;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;

	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		bool a = w->writes++ % 2 == 0;
		const char *name = a ? name_a : name_b;
		size_t len = strlen(name);

		if (w->rec) {
			record_set(w->rec, a ? HB_RECORD_OPEN : HB_RECORD_CLOSED, len, name);
			/* A pause of varying length outside the seqlock: without it
			 * the writer is inside nearly all the time and the reader
			 * may starve; with it, reads start at every phase of a
			 * write, which is what a torn read needs. */
			for (volatile unsigned k = 0; k < w->writes % 97; k++)
				;
		} else {
			/* The public path: the same record rewritten in place. */
			int r = hb_register(name, (unsigned)len);
			if (r < 0) {
				w->error = r;
				break;
			}
		}
	}
	return NULL;
}

struct tally {
	unsigned long ok, again, a;
	unsigned long overlapped; /* reads during which a write was under way */
	unsigned long want;	  /* overlaps wanted */
};

/* Pin the reader (this thread) and the writer TH to two different CPUs of
 * those we may use, if there are two.  Returns the overlaps to want. */
static unsigned long pin_apart(pthread_t th)
{
	cpu_set_t allowed, one;
	int cpu[2], n = 0;

	cr_assert_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &allowed))
			cpu[n++] = c;
	if (n < 2)
		return 1;
	CPU_ZERO(&one);
	CPU_SET(cpu[0], &one);
	cr_assert_eq(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
	CPU_ZERO(&one);
	CPU_SET(cpu[1], &one);
	cr_assert_eq(pthread_setaffinity_np(th, sizeof(one), &one), 0);
	return OVERLAPS;
}

/* Read SHMID through a read-only attachment of our own (as the daemon does)
 * until READS copies were had and T->want reads overlapped a write, checking
 * each; BY_API: the writer uses hb_register(), so the timeout is in
 * milliseconds and always OPEN. */
static void read_all(int shmid, bool by_api, struct writer *w, struct tally *t)
{
	struct hb_record_map rec;
	uint64_t last_beat = 0;
	const uint64_t unit = by_api ? 1000000u : 1u;

	cr_assert_eq(record_attach(shmid, true, &rec), 0);
	int64_t deadline = tu_now_ms() + READ_MS;

	for (unsigned long i = 0; (t->ok < READS || t->overlapped < t->want) && !w->error; i++) {
		struct hb_record_view v;
		uint32_t before, after;
		int r;

		if (i % 1024 == 0 && tu_now_ms() > deadline)
			break;
		before = atomic_load_explicit(&rec.rec->seq, memory_order_acquire);
		r = record_read(&rec, &v);
		after = atomic_load_explicit(&rec.rec->seq, memory_order_acquire);
		if ((before & 1u) || after != before)
			t->overlapped++;
		if (r < 0) {
			t->again++;
			continue;
		}
		if (v.timeout_ns == 0)
			continue; /* before the first write */
		t->ok++;
		cr_assert(v.name_ok, "not a name: '%s'", v.name);
		cr_assert_eq(v.timeout_ns, strlen(v.name) * unit, "name '%s' with timeout %llu",
			     v.name, (unsigned long long)v.timeout_ns);
		if (strcmp(v.name, name_a) == 0) {
			t->a++;
			cr_assert_eq(v.state, HB_RECORD_OPEN);
		} else {
			cr_assert_str_eq(v.name, name_b);
			cr_assert_eq(v.state, by_api ? HB_RECORD_OPEN : HB_RECORD_CLOSED);
		}
		cr_assert_eq(v.seq % 2, 0, "a copy taken inside the seqlock");
		/* Every write beats; a copy never shows time going back. */
		cr_assert_geq(v.beat_ns, last_beat, "beat went back");
		last_beat = v.beat_ns;
	}
	record_unmap(&rec);
}

Test(seqlock, reader_never_sees_a_torn_record)
{
	struct writer w = {0};
	struct tally t = {0};
	struct hb_registry reg;
	pthread_t th;
	int shmid;

	tu_key_use(60);
	tu_registry_create(64, &reg);
	/* The record the library makes, written by its owner's own code. */
	cr_assert_eq(hb_register("setup", 1000), 0);
	shmid = tu_record_of(getpid());
	cr_assert_geq(shmid, 0);
	struct hb_record_map wm;
	cr_assert_eq(record_attach(shmid, false, &wm), 0);
	w.rec = wm.rec;
	record_set(w.rec, HB_RECORD_OPEN, 0, name_a);

	cr_assert_eq(pthread_create(&th, NULL, writer_run, &w), 0);
	t.want = pin_apart(th);
	read_all(shmid, false, &w, &t);
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	cr_log_info(
	    "%lu consistent reads (%lu of a), %lu -EAGAIN, %lu overlapped a write, %lu writes",
	    t.ok, t.a, t.again, t.overlapped, w.writes);
	cr_assert_gt(t.ok, 0, "no read succeeded");
	cr_assert_geq(t.overlapped, t.want, "%lu reads overlapped a write in %d s, %lu wanted",
		      t.overlapped, READ_MS / 1000, t.want);
	record_detach(w.rec);
	registry_detach(&reg);
}

Test(seqlock, reregistering_through_the_api_is_never_torn)
{
	struct writer w = {0};
	struct tally t = {0};
	struct hb_registry reg;
	pthread_t th;
	int shmid;

	tu_key_use(61);
	tu_registry_create(64, &reg);
	cr_assert_eq(hb_register(name_a, sizeof(name_a) - 1), 0);
	shmid = tu_record_of(getpid());
	cr_assert_geq(shmid, 0);

	cr_assert_eq(pthread_create(&th, NULL, writer_run, &w), 0);
	t.want = pin_apart(th);
	read_all(shmid, true, &w, &t);
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	cr_assert_eq(w.error, 0, "hb_register() failed: %d", w.error);
	cr_log_info("%lu consistent reads (%lu of a), %lu -EAGAIN, %lu overlapped a write, "
		    "%lu registrations",
		    t.ok, t.a, t.again, t.overlapped, w.writes);
	cr_assert_gt(t.ok, 0, "no read succeeded");
	cr_assert_geq(t.overlapped, t.want, "%lu reads overlapped a write in %d s, %lu wanted",
		      t.overlapped, READ_MS / 1000, t.want);
	/* Still one record: re-registering never made another. */
	cr_assert_eq(tu_record_of(getpid()), shmid);
	cr_assert_eq(tu_records_count(), 1, "%d records", tu_records_count());
	cr_assert_eq(hb_unregister(), 0);
	registry_detach(&reg);
}
