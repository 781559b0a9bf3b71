/* What is at the key is checked, never trusted: no table, another
 * program's segment, a classic CPActive table, a truncated hbwatch table. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <unistd.h>

#include "hbwatch.h"
#include "sem.h"
#include "table.h"
#include "test_util.h"

TestSuite(refuse, .fini = tu_cleanup, .timeout = 60);

/* A segment of SIZE bytes at KEY; *MEM is attached for the caller to fill. */
static int make_segment(int key, size_t size, void **mem)
{
	int id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);

	cr_assert_geq(id, 0, "shmget: %s", strerror(errno));
	*mem = shmat(id, NULL, 0);
	cr_assert_neq(*mem, (void *)-1, "shmat: %s", strerror(errno));
	return id;
}

struct ctl_result {
	int code;
	char out[4096], err[4096];
};

static void run_hbctl(struct ctl_result *r, const char *cmd, const char *arg)
{
	char *argv[] = {(char *)tu_prog("HBCTL"), (char *)cmd, (char *)arg, NULL};

	r->code = tu_exit_code(tu_run(argv, r->out, sizeof(r->out), r->err, sizeof(r->err), 20000));
}

static int worker_status(void)
{
	char out[256], err[256];

	return tu_exit_code(tu_run((char *[]){(char *)tu_prog("HBWORKER"), "--name", "w",
					      "--timeout-ms", "1000", "--exit-after-ms", "0", NULL},
				   out, sizeof(out), err, sizeof(err), 20000));
}

/* One line, "hbctl: ..." */
static void assert_one_error_line(const char *err)
{
	cr_assert(strncmp(err, "hbctl: ", 7) == 0, "stderr: %s", err);
	cr_assert(strchr(err, '\n') == err + strlen(err) - 1, "not one line: %s", err);
}

Test(refuse, no_table_is_enoent)
{
	struct ctl_result r;
	char want[128];
	int key = tu_key_use(30);

	cr_assert_eq(hb_register("w", 1000), -ENOENT);
	cr_assert_eq(worker_status(), 10);
	run_hbctl(&r, "status", NULL);
	cr_assert_eq(r.code, 1);
	snprintf(want, sizeof(want),
		 "hbctl: no heartbeat table at key 0x%x: hbwatch is not running\n", (unsigned)key);
	cr_assert_str_eq(r.err, want);
	cr_assert_str_eq(r.out, "");
	run_hbctl(&r, "status", "--json");
	cr_assert_eq(r.code, 1);
	cr_assert_str_eq(r.err, want);
}

Test(refuse, random_segment_is_eproto)
{
	struct ctl_result r;
	int key = tu_key_use(31);
	void *mem;

	make_segment(key, 4096, &mem);
	cr_assert_eq(getrandom(mem, 4096, 0), 4096);
	cr_assert_eq(hb_register("w", 1000), -EPROTO);
	cr_assert_eq(worker_status(), 14);
	run_hbctl(&r, "status", NULL);
	cr_assert_eq(r.code, 1);
	assert_one_error_line(r.err);
	cr_assert(strstr(r.err, "4096 bytes") && strstr(r.err, "another program"), "%s", r.err);

	/* remove must not delete another program's data unless forced. */
	run_hbctl(&r, "remove", NULL);
	cr_assert_eq(r.code, 1, "remove of a foreign segment: %d", r.code);
	assert_one_error_line(r.err);
	cr_assert_geq(shmget(key, 0, 0), 0, "the foreign segment was removed");
	run_hbctl(&r, "remove", "--force");
	cr_assert_eq(r.code, 0, "remove --force: %s", r.err);
	cr_assert_eq(shmget(key, 0, 0), -1);
	shmdt(mem);
}

Test(refuse, cpactive_table_is_eproto)
{
	struct ctl_result r;
	int key = tu_key_use(32);
	void *mem;

	make_segment(key, HB_LEGACY_TABLE_SIZE, &mem);
	cr_assert_eq(hb_register("w", 1000), -EPROTO);
	cr_assert_eq(worker_status(), 14);
	run_hbctl(&r, "status", "--json");
	cr_assert_eq(r.code, 1);
	assert_one_error_line(r.err);
	cr_assert(strstr(r.err, "CPActive"), "no mention of CPActive: %s", r.err);
	cr_assert_str_eq(r.out, "");
	/* Nothing was written into it. */
	for (size_t i = 0; i < HB_LEGACY_TABLE_SIZE; i++)
		cr_assert_eq(((unsigned char *)mem)[i], 0, "byte %zu changed", i);
	shmdt(mem);
}

Test(refuse, truncated_table_is_eproto)
{
	struct ctl_result r;
	int key = tu_key_use(33), semid;
	struct hb_header *h;
	void *mem;

	/* A valid header claiming 1024 slots in room for 10, with its
	 * semaphore, as a daemon built with other sizes might leave it. */
	cr_assert_eq(sem_create(key, (gid_t)-1, &semid), 0);
	make_segment(key, table_size(10), &mem);
	h = mem;
	h->magic = HB_TABLE_MAGIC;
	h->version = HB_TABLE_VERSION;
	h->header_size = sizeof(struct hb_header);
	h->slot_size = sizeof(struct hb_slot);
	h->slot_count = 1024;

	cr_assert_eq(hb_register("w", 1000), -EPROTO);
	cr_assert_eq(worker_status(), 14);
	run_hbctl(&r, "status", NULL);
	cr_assert_eq(r.code, 1);
	assert_one_error_line(r.err);
	cr_assert(strstr(r.err, "too small for 1024 slots"), "%s", r.err);

	/* Corrected, the same segment is accepted: the refusal was about the
	 * size and nothing else. */
	h->slot_count = 10;
	cr_assert_eq(hb_register("w", 1000), 0);
	cr_assert_eq(hb_unregister(), 0);
	shmdt(mem);
}
