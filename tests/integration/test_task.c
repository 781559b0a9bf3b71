/* Task heartbeats and deadline extension in the library, with real
 * records: what a task writes into its process's record, the argument
 * and registration checks, fork, the end of a registration, and many
 * threads opening and closing tasks at once. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "clock.h"
#include "hbwatch.h"
#include "record.h"
#include "util.h"

TestSuite(task, .fini = tu_cleanup, .timeout = 60);

/* The open tasks of our own record, as the daemon reads them. */
static unsigned tasks_of_self(struct hb_task_view *t, unsigned cap, struct hb_record_view *v)
{
	struct hb_record_map rec;
	unsigned n;
	int shmid = tu_record_of(getpid());

	cr_assert_geq(shmid, 0, "we have no record");
	cr_assert_eq(record_attach(shmid, true, &rec), 0);
	cr_assert_eq(record_read(&rec, v), 0);
	n = record_read_tasks(&rec, v->task_high, t, cap);
	record_unmap(&rec);
	return n;
}

Test(task, not_registered_is_enotconn)
{
	hb_task *t = NULL;

	tu_key_use(70);
	cr_assert_eq(hb_task_open(&t, "job", 1000), -ENOTCONN);
	cr_assert_null(t);
	cr_assert_eq(hb_extend(1000), -ENOTCONN);
}

Test(task, bad_arguments_are_einval)
{
	static const char *const bad[] = {"", "a b", "a/b", "tab\t", "caf\xc3\xa9", "semi;"};
	char long_label[HB_TASK_LABEL_MAX + 2], max_label[HB_TASK_LABEL_MAX + 1];
	struct hb_registry reg;
	struct hb_task_view tv[4];
	struct hb_record_view v;
	hb_task *t = NULL;

	tu_key_use(71);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_register("svc", 60000), 0);
	memset(long_label, 'x', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	memset(max_label, 'm', sizeof(max_label) - 1);
	max_label[sizeof(max_label) - 1] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(hb_task_open(&t, bad[i], 1000), -EINVAL, "label #%zu accepted", i);
	cr_assert_eq(hb_task_open(&t, long_label, 1000), -EINVAL);
	cr_assert_eq(hb_task_open(&t, NULL, 1000), -EINVAL);
	cr_assert_eq(hb_task_open(NULL, "job", 1000), -EINVAL);
	cr_assert_eq(hb_task_open(&t, "job", 0), -EINVAL);
	cr_assert_eq(hb_task_open(&t, "job", HB_TIMEOUT_MAX_MS + 1), -EINVAL);
	cr_assert_null(t);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 0, "a refused open left a task");
	cr_assert_eq(hb_extend(0), -EINVAL);
	cr_assert_eq(hb_extend(HB_TIMEOUT_MAX_MS + 1), -EINVAL);
	cr_assert_eq(hb_task_beat(NULL), -EINVAL);
	cr_assert_eq(hb_task_extend(NULL, 10), -EINVAL);
	cr_assert_eq(hb_task_close(NULL), -EINVAL);

	cr_assert_eq(hb_task_open(&t, max_label, HB_TIMEOUT_MAX_MS), 0);
	cr_assert_eq(hb_task_extend(t, 0), -EINVAL);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 1);
	cr_assert_str_eq(tv[0].label, max_label);
	cr_assert(tv[0].label_ok);
	cr_assert_eq(tv[0].timeout_ms, HB_TIMEOUT_MAX_MS);
	cr_assert_eq(hb_task_close(t), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 0);
	registry_detach(&reg);
}

/* Beats and extensions land in the task's own slot, and nowhere else. */
Test(task, beat_and_extend_write_the_slot)
{
	struct hb_registry reg;
	struct hb_task_view tv[4];
	struct hb_record_view v, v2;
	hb_task *a, *b;
	uint64_t t0;

	tu_key_use(72);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_register("svc", 60000), 0);
	t0 = now_ns();
	cr_assert_eq(hb_task_open(&a, "alpha", 500), 0);
	cr_assert_eq(hb_task_open(&b, "beta", 700), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 2);
	cr_assert_eq(v.task_high, 2, "only the slots used are visible");
	cr_assert_str_eq(tv[0].label, "alpha");
	cr_assert_str_eq(tv[1].label, "beta");
	cr_assert_eq(tv[1].timeout_ms, 700);
	cr_assert_geq(tv[0].beat_ns, t0, "open is a first beat");
	cr_assert_eq(tv[0].ext_at_ns, 0);

	usleep(2000);
	uint64_t b_beat = tv[1].beat_ns;
	cr_assert_eq(hb_task_beat(a), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 2);
	cr_assert_gt(tv[0].beat_ns, t0 + 1000000u);
	cr_assert_eq(tv[1].beat_ns, b_beat, "beta beat with alpha");

	t0 = now_ns();
	cr_assert_eq(hb_task_extend(b, 30000), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 2);
	cr_assert_geq(tv[1].ext_at_ns, t0);
	cr_assert_geq(tv[1].ext_until_ns, t0 + 30000ull * 1000000u);
	cr_assert_leq(tv[1].ext_until_ns, now_ns() + 30000ull * 1000000u);
	cr_assert_eq(tv[0].ext_at_ns, 0, "alpha was extended with beta");
	/* A shorter extension while the longer is on does not shorten it. */
	uint64_t until = tv[1].ext_until_ns;
	cr_assert_eq(hb_task_extend(b, 10), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 2);
	cr_assert_eq(tv[1].ext_until_ns, until);
	/* After a beat it is a new extension. */
	cr_assert_eq(hb_task_beat(b), 0);
	cr_assert_eq(hb_task_extend(b, 10), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 2);
	cr_assert_lt(tv[1].ext_until_ns, until);

	/* The process's own extension. */
	t0 = now_ns();
	cr_assert_eq(hb_extend(5000), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v2), 2);
	cr_assert_geq(v2.ext_at_ns, t0);
	cr_assert_geq(v2.ext_until_ns, t0 + 5000ull * 1000000u);
	cr_assert_gt(v2.ext_at_ns, v2.beat_ns - 1, "the extension is newer than the beat");
	cr_assert_eq(hb_beat(), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v2), 2);
	cr_assert_gt(v2.beat_ns, v2.ext_at_ns, "a beat ends the extension");

	cr_assert_eq(hb_task_close(a), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 1);
	cr_assert_str_eq(tv[0].label, "beta");
	cr_assert_eq(hb_task_close(b), 0);
	registry_detach(&reg);
}

/* The end of the registration ends its tasks; their handles then say so
 * and are only freed.  A new registration starts without them. */
Test(task, unregister_ends_tasks)
{
	struct hb_registry reg;
	struct hb_task_view tv[4];
	struct hb_record_view v;
	hb_task *a, *b;

	tu_key_use(73);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_register("svc", 60000), 0);
	cr_assert_eq(hb_task_open(&a, "alpha", 500), 0);
	cr_assert_eq(hb_unregister(), 0);
	cr_assert_eq(hb_task_beat(a), -ENOTCONN);
	cr_assert_eq(hb_task_extend(a, 10), -ENOTCONN);
	cr_assert_eq(hb_task_open(&b, "beta", 500), -ENOTCONN);
	cr_assert_eq(hb_register("svc", 60000), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 0, "a task outlived its registration");
	cr_assert_eq(hb_task_beat(a), -ENOTCONN, "an old task came back");
	cr_assert_eq(hb_task_open(&b, "beta", 500), 0);
	cr_assert_eq(hb_task_close(a), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 1, "closing the old handle closed a new task");
	cr_assert_str_eq(tv[0].label, "beta");
	cr_assert_eq(hb_task_close(b), 0);
	registry_detach(&reg);
}

/* A child has neither the registration nor the tasks of its parent, and
 * cannot touch the parent's through the handles it inherited. */
Test(task, forked_child_has_no_tasks)
{
	struct hb_registry reg;
	struct hb_task_view tv[4];
	struct hb_record_view v;
	hb_task *a;
	int res[2], got[6];
	pid_t child;

	tu_key_use(74);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_register("svc", 60000), 0);
	cr_assert_eq(hb_task_open(&a, "alpha", 60000), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 1);
	uint64_t beat = tv[0].beat_ns;
	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	child = tu_fork();
	if (child == 0) {
		hb_task *c = NULL;
		int r[6];

		r[0] = hb_task_beat(a);
		r[1] = hb_task_extend(a, 100);
		r[2] = hb_task_open(&c, "child", 1000);
		r[3] = hb_extend(100);
		r[4] = hb_task_close(a);
		/* Registered on its own: a task of its own, in its record. */
		r[5] = hb_register("child", 60000);
		if (r[5] == 0)
			r[5] = hb_task_open(&c, "mine", 1000);
		if (write(res[1], r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(res[1]);
	cr_assert_eq(read(res[0], got, sizeof(got)), (ssize_t)sizeof(got));
	close(res[0]);
	cr_assert_eq(got[0], -ENOTCONN, "hb_task_beat() in the child: %d", got[0]);
	cr_assert_eq(got[1], -ENOTCONN, "hb_task_extend() in the child: %d", got[1]);
	cr_assert_eq(got[2], -ENOTCONN, "hb_task_open() in the child: %d", got[2]);
	cr_assert_eq(got[3], -ENOTCONN, "hb_extend() in the child: %d", got[3]);
	cr_assert_eq(got[4], 0);
	cr_assert_eq(got[5], 0, "a task of the child's own registration: %d", got[5]);
	cr_assert_eq(tu_exit_code(tu_wait(child, 20000)), 0);
	cr_assert_eq(tasks_of_self(tv, 4, &v), 1, "the child closed the parent's task");
	cr_assert_str_eq(tv[0].label, "alpha");
	cr_assert_eq(tv[0].beat_ns, beat, "the child beat for the parent's task");
	cr_assert_eq(tv[0].ext_at_ns, 0, "the child extended the parent's task");
	cr_assert_eq(hb_task_beat(a), 0);
	cr_assert_eq(hb_task_close(a), 0);
	registry_detach(&reg);
}

/* All slots, then -ENOSPC, then a closed slot is free again with a new
 * generation. */
Test(task, slots_run_out_and_come_back)
{
	static hb_task *t[HB_TASKS_MAX];
	struct hb_registry reg;
	struct hb_task_view tv[HB_TASK_SLOTS];
	struct hb_record_view v;
	hb_task *x;
	uint32_t gen;

	tu_key_use(75);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_register("svc", 60000), 0);
	cr_assert_eq(HB_TASKS_MAX, HB_TASK_SLOTS);
	for (int i = 0; i < HB_TASKS_MAX; i++)
		cr_assert_eq(hb_task_open(&t[i], "job", 1000), 0, "task %d", i);
	cr_assert_eq(hb_task_open(&x, "job", 1000), -ENOSPC);
	cr_assert_eq(tasks_of_self(tv, HB_TASK_SLOTS, &v), HB_TASK_SLOTS);
	gen = tv[7].gen;
	cr_assert_eq(hb_task_close(t[7]), 0);
	cr_assert_eq(hb_task_open(&t[7], "again", 1000), 0);
	cr_assert_eq(tasks_of_self(tv, HB_TASK_SLOTS, &v), HB_TASK_SLOTS);
	cr_assert_str_eq(tv[7].label, "again");
	cr_assert_neq(tv[7].gen, gen, "a reused slot kept its generation");
	for (int i = 0; i < HB_TASKS_MAX; i++)
		cr_assert_eq(hb_task_close(t[i]), 0);
	cr_assert_eq(tasks_of_self(tv, HB_TASK_SLOTS, &v), 0);
	registry_detach(&reg);
}

/* 16 threads open and close tasks at once, each task under a label of
 * its own.  Right after opening, exactly one open slot holds the label;
 * right before closing, the same slot still holds it under the same
 * generation; no (slot, generation) is ever seen twice; and at the end no
 * task is left. */
#define THREADS 16
#define ROUNDS	1500
#define PER	3

struct claim_log {
	int id;
	uint32_t n;
	uint64_t seen[ROUNDS * PER]; /* slot << 32 | generation */
	int failed_open, not_found, twice, moved;
};

static struct hb_record_map self_rec;

/* The open slots holding LABEL: how many, and the last one's view. */
static int find_label(const char *label, struct hb_task_view *out)
{
	struct hb_task_view tv[HB_TASK_SLOTS];
	struct hb_record_view v;
	unsigned n;
	int found = 0;

	while (record_read(&self_rec, &v) < 0)
		;
	n = record_read_tasks(&self_rec, v.task_high, tv, HB_TASK_SLOTS);
	for (unsigned i = 0; i < n; i++)
		if (strcmp(tv[i].label, label) == 0) {
			*out = tv[i];
			found++;
		}
	return found;
}

static void *churn(void *arg)
{
	struct claim_log *log = arg;

	for (int i = 0; i < ROUNDS; i++) {
		char label[PER][HB_TASK_LABEL_MAX + 1];
		struct hb_task_view at_open[PER], now;
		hb_task *t[PER];
		int k, n = 1 + i % PER;

		for (k = 0; k < n; k++) {
			snprintf(label[k], sizeof(label[k]), "t%d-%d-%d", log->id, i, k);
			if (hb_task_open(&t[k], label[k], 1000) < 0) {
				log->failed_open++;
				break;
			}
			int f = find_label(label[k], &at_open[k]);
			if (f == 0)
				log->not_found++;
			else if (f > 1)
				log->twice++;
			else
				log->seen[log->n++] =
				    (uint64_t)at_open[k].index << 32 | at_open[k].gen;
		}
		for (int j = 0; j < k; j++) {
			hb_task_beat(t[j]);
			if (find_label(label[j], &now) != 1 || now.index != at_open[j].index ||
			    now.gen != at_open[j].gen)
				log->moved++;
			hb_task_close(t[j]);
		}
	}
	return NULL;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

Test(task, threads_never_share_a_slot, .timeout = 120)
{
	static struct claim_log logs[THREADS];
	static uint64_t all[THREADS * ROUNDS * PER];
	struct hb_registry reg;
	struct hb_task_view tv[HB_TASK_SLOTS];
	struct hb_record_view v;
	pthread_t th[THREADS];
	size_t n_all = 0;

	tu_key_use(76);
	tu_registry_create(8, &reg);
	cr_assert_eq(hb_register("svc", 60000), 0);
	cr_assert_eq(record_attach(tu_record_of(getpid()), true, &self_rec), 0);
	for (int i = 0; i < THREADS; i++) {
		logs[i].id = i;
		cr_assert_eq(pthread_create(&th[i], NULL, churn, &logs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREADS; i++) {
		cr_expect_eq(logs[i].failed_open, 0, "thread %d: an open failed", i);
		cr_expect_eq(logs[i].not_found, 0, "thread %d: a task had no slot", i);
		cr_expect_eq(logs[i].twice, 0, "thread %d: a task in two slots", i);
		cr_expect_eq(logs[i].moved, 0, "thread %d: a slot changed hands while open", i);
		memcpy(all + n_all, logs[i].seen, logs[i].n * sizeof(uint64_t));
		n_all += logs[i].n;
	}
	cr_assert_eq(n_all, (size_t)THREADS * (ROUNDS / PER) * (1 + 2 + 3));
	qsort(all, n_all, sizeof(all[0]), u64_cmp);
	for (size_t i = 1; i < n_all; i++)
		cr_assert_neq(all[i], all[i - 1], "slot %u generation %u was handed out twice",
			      (unsigned)(all[i] >> 32), (unsigned)all[i]);
	cr_assert_eq(tasks_of_self(tv, HB_TASK_SLOTS, &v), 0, "tasks left open");
	cr_assert_leq(v.task_high, THREADS * PER, "slots beyond what was ever open at once");
	record_unmap(&self_rec);
	registry_detach(&reg);
}
