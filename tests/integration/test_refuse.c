/* What is at the key is checked, never trusted: no registry, another
 * program's segment, a classic CPActive table, a truncated registry, an
 * hbwatch 0.1 table.  Each is refused with the errno the API documents and
 * a reason hbctl prints, and nothing is written into it or made beside it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "hbwatch.h"
#include "registry.h"
#include "util.h"

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

static void run_hbctl(struct ctl_result *r, char *const args[])
{
	char *argv[12] = {(char *)tu_prog("HBCTL")};
	int n = 1;

	for (; args[n - 1]; n++) {
		cr_assert_lt(n, 11);
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	r->code = tu_exit_code(tu_run(argv, r->out, sizeof(r->out), r->err, sizeof(r->err), 20000));
}

/* hbctl register for a child of ours that only sleeps: the command that
 * must open the registry for writing, so it says why it cannot. */
static void register_job(struct ctl_result *r)
{
	char pid[16];
	pid_t s = tu_fork();

	if (s == 0) {
		pause();
		_exit(0);
	}
	snprintf(pid, sizeof(pid), "%d", (int)s);
	run_hbctl(r,
		  (char *[]){"register", "--name", "job", "--timeout", "30s", "--pid", pid, NULL});
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

/* Refused by the library (EPROTO), by the worker (its status for EPROTO)
 * and by hbctl register (exit 1, one line containing WANT); and nothing
 * was made: the segment count is what it was. */
static void assert_refused(const char *want)
{
	struct ctl_result r;
	int segments = tu_segments_count();

	cr_assert_eq(hb_register("w", 1000), -EPROTO);
	cr_assert_eq(worker_status(), 14);
	register_job(&r);
	cr_assert_eq(r.code, 1, "hbctl register: exit %d, %s", r.code, r.err);
	assert_one_error_line(r.err);
	cr_assert(strstr(r.err, want), "no \"%s\" in: %s", want, r.err);
	cr_assert_eq(tu_segments_count(), segments, "a record was made anyway");
	cr_assert_eq(tu_records_count(), 0);
}

Test(refuse, no_registry_is_enoent)
{
	struct ctl_result r;
	char want[160];
	int key = tu_key_use(30), segments = tu_segments_count();

	cr_assert_eq(hb_register("w", 1000), -ENOENT);
	cr_assert_eq(worker_status(), 10);
	register_job(&r);
	cr_assert_eq(r.code, 1);
	snprintf(want, sizeof(want),
		 "hbctl: register: no hbwatch registry at key 0x%x: hbwatch is not running\n",
		 (unsigned)key);
	cr_assert_str_eq(r.err, want);
	cr_assert_eq(tu_segments_count(), segments, "something was made without a registry");

	/* status reads the records, not the registry: it still answers, says
	 * that hbwatch is not running, and exits 1 for it. */
	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 1, "%s", r.err);
	snprintf(want, sizeof(want),
		 "hbwatch at key 0x%x: not running (no registry); 0 registrations\n",
		 (unsigned)key);
	cr_assert_str_eq(r.out, want);
	run_hbctl(&r, (char *[]){"status", "--json", NULL});
	cr_assert_eq(r.code, 1, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "%s", r.out);
	cr_assert(strstr(r.out, "\"registry\":false,\"owner_pid\":0,\"owner_alive\":false"), "%s",
		  r.out);
}

Test(refuse, random_segment_is_eproto)
{
	static unsigned char before[4096];
	struct ctl_result r;
	int key = tu_key_use(31);
	void *mem;

	make_segment(key, 4096, &mem);
	cr_assert_eq(getrandom(mem, 4096, 0), 4096);
	memcpy(before, mem, sizeof(before));
	assert_refused("another program");
	cr_assert(memcmp(mem, before, sizeof(before)) == 0, "the foreign segment was written");

	/* status does not take it for hbwatch's. */
	run_hbctl(&r, (char *[]){"status", "--json", NULL});
	cr_assert_eq(r.code, 1, "%s", r.err);
	cr_assert(strstr(r.out, "\"registry\":false"), "%s", r.out);

	/* remove must not delete another program's data unless forced. */
	run_hbctl(&r, (char *[]){"remove", NULL});
	cr_assert_eq(r.code, 1, "remove of a foreign segment: %d", r.code);
	assert_one_error_line(r.err);
	cr_assert(strstr(r.err, "another program") && strstr(r.err, "--force"), "%s", r.err);
	cr_assert_geq(shmget(key, 0, 0), 0, "the foreign segment was removed");
	run_hbctl(&r, (char *[]){"remove", "--force", NULL});
	cr_assert_eq(r.code, 0, "remove --force: %s", r.err);
	cr_assert_eq(shmget(key, 0, 0), -1);
	shmdt(mem);
}

Test(refuse, cpactive_table_is_eproto)
{
	int key = tu_key_use(32);
	void *mem;

	make_segment(key, HB_LEGACY_TABLE_SIZE, &mem);
	assert_refused("CPActive");
	/* Nothing was written into it. */
	for (size_t i = 0; i < HB_LEGACY_TABLE_SIZE; i++)
		cr_assert_eq(((unsigned char *)mem)[i], 0, "byte %zu changed", i);
	shmdt(mem);
}

Test(refuse, truncated_registry_is_eproto)
{
	int key = tu_key_use(33);
	struct hb_registry_header *h;
	void *mem;

	/* A valid header claiming a ring of 1024 in room for 64, as a daemon
	 * built with other sizes might leave it. */
	make_segment(key, registry_size(HB_RING_MIN), &mem);
	h = mem;
	h->version = HB_REGISTRY_VERSION;
	h->header_size = sizeof(*h);
	h->ring_size = 1024;
	h->magic = HB_REGISTRY_MAGIC;
	assert_refused("too small for a ring of 1024");
	cr_assert_eq(atomic_load(&h->tail), 0, "an announcement was made into it");

	/* Corrected, the same segment is accepted: the refusal was about the
	 * size and nothing else. */
	h->ring_size = HB_RING_MIN;
	atomic_store(&h->owner_pid, (int32_t)getpid()); /* an hbwatch runs */
	cr_assert_eq(hb_register("w", 1000), 0);
	cr_assert_eq(atomic_load(&h->tail), 1, "the registration was not announced");
	cr_assert_eq(hb_unregister(), 0);
	shmdt(mem);
}

/* hbwatch 0.1's table ("BWATCH01") and its semaphore: refused by name, and
 * removed by a plain "hbctl remove" since it is hbwatch's own. */
Test(refuse, v1_table_is_eproto)
{
	struct ctl_result r;
	int key = tu_key_use(34), semid;
	void *mem;

	semid = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
	cr_assert_geq(semid, 0, "semget: %s", strerror(errno));
	make_segment(key, 4096, &mem);
	*(uint64_t *)mem = HB_TABLE_V1_MAGIC;
	assert_refused("hbwatch 0.1 heartbeat table");
	register_job(&r);
	cr_assert(strstr(r.err, "hbctl remove"), "no way out named: %s", r.err);
	shmdt(mem);

	run_hbctl(&r, (char *[]){"remove", NULL});
	cr_assert_eq(r.code, 0, "remove: %s", r.err);
	cr_assert_eq(shmget(key, 0, 0), -1, "the 0.1 table is still there");
	cr_assert_eq(semget(key, 0, 0), -1, "the 0.1 semaphore is still there");
}
