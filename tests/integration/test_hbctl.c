/* hbctl as a user meets it: status output (text and JSON) for every slot
 * state, hostile names, remove, and usage errors with their exit codes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "sem.h"
#include "table.h"
#include "test_util.h"

TestSuite(hbctl, .fini = tu_cleanup, .timeout = 60);

struct ctl_result {
	int code;
	char out[16384], err[4096];
};

static void run_hbctl(struct ctl_result *r, char *const args[])
{
	char *argv[8] = {(char *)tu_prog("HBCTL")};
	int n = 1;

	for (; args[n - 1]; n++) {
		cr_assert_lt(n, 7);
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	r->code = tu_exit_code(tu_run(argv, r->out, sizeof(r->out), r->err, sizeof(r->err), 20000));
}

static pid_t start_worker(const char *name, const char *timeout_ms, const char *hang_after_ms)
{
	int p[2];
	pid_t pid, got;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = tu_spawn((char *[]){(char *)tu_prog("HBWORKER"), "--name", (char *)name,
				  "--timeout-ms", (char *)timeout_ms, "--ready-fd", "3", "--quiet",
				  hang_after_ms ? "--hang-after-ms" : NULL, (char *)hang_after_ms,
				  NULL},
		       p[1], -1, -1);
	close(p[1]);
	cr_assert_eq(tu_read_ready(p[0], "READY", 1, &got, 20000), 1, "%s did not register", name);
	close(p[0]);
	return pid;
}

/* A pid that surely belongs to no process: a child of ours, reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = tu_fork();

	if (pid == 0)
		_exit(0);
	cr_assert_eq(tu_exit_code(tu_wait(pid, 20000)), 0);
	return pid;
}

/* The text row for SLOT: its whitespace-separated fields. */
static int text_row(const char *out, unsigned slot, char f[6][80])
{
	char line[256];

	for (const char *p = out; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		unsigned s;

		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (sscanf(line, "%u %79s %79s %79s %79s %79s", &s, f[1], f[2], f[3], f[4],
				   f[5]) == 6 &&
			    s == slot)
				return 0;
		}
		p += len + (nl ? 1 : 0);
	}
	return -1;
}

Test(hbctl, status_shows_every_state)
{
	struct hb_table t;
	struct ctl_result r;
	char f[6][80], want[128];
	pid_t ok, late, gone;
	int key = tu_key_use(40);

	tu_table_create(32, &t);
	ok = start_worker("fine", "60000", NULL);
	late = start_worker("hung", "100", "0");
	gone = dead_pid();
	cr_assert_eq(sem_lock(t.semid, 2000), 0);
	/* A dead pid, and a live one (ours) with the wrong start time. */
	table_slot_fill(&t, 10, gone, 1, 1000000000u, now_ns(), "gone");
	table_slot_fill(&t, 11, getpid(), 1, 1000000000u, now_ns(), "reused");
	/* A name with no NUL in its 64 bytes. */
	table_slot_fill(&t, 12, ok, 1, 1000000000u, now_ns(), "x");
	for (unsigned k = 0; k < HB_NAME_WORDS; k++)
		atomic_store(&t.slots[12].name[k], 0x4141414141414141u);
	/* A writer that died inside the seqlock: odd forever. */
	table_slot_fill(&t, 13, ok, 1, 1000000000u, now_ns(), "x");
	atomic_fetch_add(&t.slots[13].seq, 1);
	cr_assert_eq(sem_unlock(t.semid), 0);
	/* The hung worker's only beat was at registration. */
	nanosleep(&(struct timespec){.tv_nsec = 300000000}, NULL);

	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	snprintf(want, sizeof(want), "hbwatch table at key 0x%x: 32 slots, 6 in use, owner pid %d",
		 (unsigned)key, (int)getpid());
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "header: %s", r.out);
	cr_assert(strstr(r.out, "SLOT") && strstr(r.out, "STATE"));

	cr_assert_eq(text_row(r.out, 0, f), 0, "no row for slot 0:\n%s", r.out);
	cr_assert_eq(atoll(f[1]), ok);
	cr_assert_str_eq(f[2], "fine");
	cr_assert_str_eq(f[3], "1m00s");
	cr_assert_str_eq(f[5], "ok");
	cr_assert_eq(text_row(r.out, 1, f), 0, "no row for slot 1:\n%s", r.out);
	cr_assert_str_eq(f[2], "hung");
	cr_assert_str_eq(f[3], "100ms");
	cr_assert_str_eq(f[5], "late");
	cr_assert_eq(text_row(r.out, 10, f), 0);
	cr_assert_str_eq(f[5], "stale");
	cr_assert_eq(text_row(r.out, 11, f), 0);
	cr_assert_str_eq(f[5], "stale", "a reused pid must be stale");
	cr_assert_eq(text_row(r.out, 12, f), 0);
	cr_assert_str_eq(f[5], "bad-name");
	cr_assert_eq(text_row(r.out, 13, f), 0);
	cr_assert_str_eq(f[1], "-");
	cr_assert_str_eq(f[5], "busy");

	run_hbctl(&r, (char *[]){"status", "--json", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "invalid JSON: %s", r.out);
	snprintf(want, sizeof(want), "{\"key\":\"0x%x\",\"slots\":32,\"owner_pid\":%d,",
		 (unsigned)key, (int)getpid());
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	snprintf(want, sizeof(want),
		 "{\"slot\":0,\"pid\":%d,\"name\":\"fine\",\"timeout_ms\":60000,", (int)ok);
	cr_assert(strstr(r.out, want), "%s", r.out);
	snprintf(want, sizeof(want), "{\"slot\":1,\"pid\":%d,\"name\":\"hung\",\"timeout_ms\":100,",
		 (int)late);
	cr_assert(strstr(r.out, want), "%s", r.out);
	cr_assert(strstr(r.out, "\"state\":\"late\""));
	cr_assert(strstr(r.out, "\"state\":\"stale\""));
	cr_assert(strstr(r.out, "\"state\":\"bad-name\""));
	cr_assert(strstr(r.out, "{\"slot\":13,\"pid\":null,"), "%s", r.out);
	cr_assert(strstr(r.out, "\"state\":\"busy\""));
	table_detach(&t);
}

Test(hbctl, hostile_names_are_escaped)
{
	/* Written around the library's checks, as a hostile table could. */
	static const char hostile[] = "q\"b\\s\x01\x1b[2J\x7f\xff\xc3\xa9";
	static const char want_json[] = "\"name\":\"q\\\"b\\\\s\\u0001\\u001b[2J\\u007f\\u00ff"
					"\\u00c3\\u00a9\"";
	static const char want_text[] = "q\"b\\x5cs\\x01\\x1b[2J\\x7f\\xff\\xc3\\xa9";
	struct hb_table t;
	struct ctl_result r;

	tu_key_use(41);
	tu_table_create(4, &t);
	cr_assert_eq(sem_lock(t.semid, 2000), 0);
	table_slot_fill(&t, 2, getpid(), 1, 1000000000u, now_ns(), hostile);
	cr_assert_eq(sem_unlock(t.semid), 0);

	run_hbctl(&r, (char *[]){"status", "--json", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "invalid JSON: %s", r.out);
	cr_assert(strstr(r.out, want_json), "name not escaped as expected: %s", r.out);
	for (const char *p = r.out; *p; p++)
		cr_assert(((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) || *p == '\n',
			  "raw byte 0x%02x in JSON output", (unsigned char)*p);

	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert(strstr(r.out, want_text), "text name not escaped: %s", r.out);
	cr_assert_null(strchr(r.out, '\x1b'), "escape sequence reached the terminal");
	table_detach(&t);
}

Test(hbctl, empty_table)
{
	struct hb_table t;
	struct ctl_result r;

	tu_key_use(42);
	tu_table_create(4, &t);
	run_hbctl(&r, (char *[]){"status", "--json", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "%s", r.out);
	cr_assert(strstr(r.out, "\"entries\":[]}"), "%s", r.out);
	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert(strstr(r.out, "4 slots, 0 in use"), "%s", r.out);
	/* -k wins over $HBWATCH_KEY. */
	setenv("HBWATCH_KEY", "0x4b0000ff", 1);
	run_hbctl(&r, (char *[]){"-k", "0x4b00002a", "status", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, "0x4b0000ff"), "%s", r.err);
	table_detach(&t);
}

Test(hbctl, remove_deletes_segment_and_semaphore)
{
	struct hb_table t;
	struct ctl_result r;
	char want[128];
	int key = tu_key_use(43);

	tu_table_create(4, &t);
	table_detach(&t);
	cr_assert_geq(shmget(key, 0, 0), 0);
	cr_assert_geq(semget(key, 0, 0), 0);
	run_hbctl(&r, (char *[]){"remove", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	snprintf(want, sizeof(want), "removed the heartbeat table at key 0x%x\n", (unsigned)key);
	cr_assert_str_eq(r.out, want);
	errno = 0;
	cr_assert_eq(shmget(key, 0, 0), -1);
	cr_assert_eq(errno, ENOENT);
	errno = 0;
	cr_assert_eq(semget(key, 0, 0), -1);
	cr_assert_eq(errno, ENOENT);

	run_hbctl(&r, (char *[]){"remove", NULL});
	cr_assert_eq(r.code, 1, "removing nothing must fail");
	cr_assert(strncmp(r.err, "hbctl: ", 7) == 0, "%s", r.err);

	/* A semaphore alone (a crash between creating it and the segment)
	 * is removed too. */
	int semid;
	cr_assert_eq(sem_create(key, (gid_t)-1, &semid), 0);
	run_hbctl(&r, (char *[]){"remove", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_eq(semget(key, 0, 0), -1);
}

Test(hbctl, usage_errors_exit_2)
{
	static char *const cases[][4] = {
	    {NULL},
	    {"frob", NULL},
	    {"--bogus", "status", NULL},
	    {"-x", "status", NULL},
	    {"-k", NULL},
	    {"-k", "zz", "status", NULL},
	    {"-k", "0", "status", NULL},
	    {"-k", "-1", "status", NULL},
	    {"-k", "0x80000000", "status", NULL},
	    {"status", "--bogus", NULL},
	    {"status", "--json", "extra", NULL},
	    {"remove", "now", NULL},
	};
	struct ctl_result r;

	tu_key_use(44);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_hbctl(&r, cases[i]);
		cr_assert_eq(r.code, 2, "case %zu (%s %s): exit %d", i,
			     cases[i][0] ? cases[i][0] : "",
			     cases[i][0] && cases[i][1] ? cases[i][1] : "", r.code);
		cr_assert(strncmp(r.err, "hbctl: ", 7) == 0, "case %zu: %s", i, r.err);
		cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "case %zu: %s", i,
			  r.err);
	}
	setenv("HBWATCH_KEY", "nothex", 1);
	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 2, "bad $HBWATCH_KEY: exit %d", r.code);

	run_hbctl(&r, (char *[]){"--help", NULL});
	cr_assert_eq(r.code, 0);
	cr_assert(strstr(r.out, "Exit status:") && strstr(r.out, "  2  usage error"), "%s", r.out);
	run_hbctl(&r, (char *[]){"--version", NULL});
	cr_assert_eq(r.code, 0);
	cr_assert(strncmp(r.out, "hbctl ", 6) == 0);
}
