/* The lock-free reader against a writer rewriting the same slot without
 * pause: every snapshot it returns must be one the writer wrote whole. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "table.h"
#include "test_util.h"

TestSuite(seqlock, .fini = tu_cleanup, .timeout = 60);

/* Successful reads wanted, and a cap on attempts in case the writer keeps
 * the slot odd most of the time (it is inside the seqlock most of its loop). */
#define READS	 100000
#define ATTEMPTS 5000000

struct writer {
	struct hb_table *t;
	atomic_bool stop;
	unsigned long writes;
};

/* Two registrations of different name lengths, each with a timeout that
 * encodes its name, so a torn read shows as a mismatch. */
static const char name_a[] = "aaaaaaaaaa";
static const char name_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void *writer_run(void *arg)
{
	struct writer *w = arg;

	/* One writer, so the semaphore that serialises writers is not needed. */
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		bool a = w->writes++ % 2 == 0;

		table_slot_fill(w->t, 1, a ? 1111 : 2222, a ? 11 : 22,
				a ? sizeof(name_a) - 1 : sizeof(name_b) - 1, 0,
				a ? name_a : name_b);
	}
	return NULL;
}

Test(seqlock, reader_never_sees_a_torn_slot)
{
	struct hb_table t;
	struct writer w = {.t = &t};
	pthread_t th;
	unsigned long ok = 0, again = 0, a = 0;

	tu_key_use(60);
	tu_table_create(4, &t);
	cr_assert_eq(pthread_create(&th, NULL, writer_run, &w), 0);
	for (int i = 0; i < ATTEMPTS && ok < READS; i++) {
		struct hb_slot_view v;

		if (table_slot_read(&t, 1, &v) < 0) {
			again++;
			continue;
		}
		if (v.pid == 0)
			continue; /* before the first write */
		ok++;
		cr_assert(v.name_ok);
		cr_assert_eq(v.timeout_ns, strlen(v.name), "name '%s' with timeout %llu", v.name,
			     (unsigned long long)v.timeout_ns);
		if (v.pid == 1111) {
			a++;
			cr_assert_str_eq(v.name, name_a);
			cr_assert_eq(v.start_time, 11);
		} else {
			cr_assert_eq(v.pid, 2222);
			cr_assert_str_eq(v.name, name_b);
			cr_assert_eq(v.start_time, 22);
		}
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	cr_log_info("%lu consistent reads (%lu of a), %lu -EAGAIN, %lu writes", ok, a, again,
		    w.writes);
	cr_assert_gt(ok, 0, "no read succeeded");
	table_detach(&t);
}
