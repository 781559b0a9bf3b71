/* hbctl as a user meets it: status output (text and JSON) for every record
 * state, hostile names, no records, status for a user outside the group,
 * remove, and usage errors with their exit codes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "proc.h"
#include "record.h"
#include "util.h"

TestSuite(hbctl, .fini = tu_cleanup, .timeout = 60);

static void run_hbctl(struct tu_output *r, char *const args[])
{
	tu_hbctl_as(r, 0, args);
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

/* A record its creator (hbforge, alive and holding it) made with MODE, as
 * a careless user could.  Returns the shmid. */
static int forge_self(const char *name, const char *mode)
{
	char buf[256] = "";
	int p[2], shmid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	tu_spawn((char *[]){(char *)tu_prog("HBFORGE"), "--self", "--name", (char *)name,
			    "--timeout-ms", "60000", "--beat-ago-ms", "0", "--mode", (char *)mode,
			    NULL},
		 -1, p[1], -1);
	close(p[1]);
	cr_assert(tu_read_until(p[0], "ready\n", buf, sizeof(buf), 20000), "hbforge said: %s", buf);
	close(p[0]);
	cr_assert_eq(sscanf(buf, "shmid %d", &shmid), 1, "hbforge said: %s", buf);
	return shmid;
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

/* The text line of record SHMID, whose first column is the shmid. */
static int text_line(const char *out, int shmid, char *line, size_t len)
{
	for (const char *p = out; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		int s;

		if (n < len) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (sscanf(line, "%d", &s) == 1 && s == shmid)
				return 0;
		}
		p += n + (nl ? 1 : 0);
	}
	return -1;
}

/* The text row of record SHMID split into its six columns (the name must
 * not be empty). */
static void text_row(const char *out, int shmid, char f[6][80])
{
	char line[512];

	cr_assert_eq(text_line(out, shmid, line, sizeof(line)), 0, "no row for record %d:\n%s",
		     shmid, out);
	cr_assert_eq(
	    sscanf(line, "%79s %79s %79s %79s %79s %79s", f[0], f[1], f[2], f[3], f[4], f[5]), 6,
	    "row: %s", line);
}

/* The JSON object of record SHMID in OUT (hbctl status --json). */
static void json_entry(const char *out, int shmid, char *obj, size_t len)
{
	char needle[32];
	const char *p, *end;

	snprintf(needle, sizeof(needle), "{\"shmid\":%d,", shmid);
	p = strstr(out, needle);
	cr_assert(p, "no entry for record %d:\n%s", shmid, out);
	end = strchr(p, '}');
	cr_assert(end && (size_t)(end - p) + 2 <= len);
	memcpy(obj, p, (size_t)(end - p) + 1);
	obj[end - p + 1] = '\0';
}

/* "shmid=state;" for every entry of OUT, in order: what two views of the
 * same records must agree on. */
static void json_states(const char *out, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const char *p = out; (p = strstr(p, "{\"shmid\":"));) {
		const char *st = strstr(p, "\"state\":\"");
		int shmid = atoi(p + 9);

		cr_assert(st);
		st += 9;
		n += (size_t)snprintf(buf + n, len - n, "%d=%.*s;", shmid, (int)strcspn(st, "\""),
				      st);
		cr_assert_lt(n, len);
		p = st;
	}
}

static void set_name_bytes(struct hb_record *rec, const char *bytes, size_t n)
{
	uint64_t w[HB_NAME_WORDS] = {0};

	cr_assert_leq(n, sizeof(w));
	memcpy(w, bytes, n);
	for (unsigned k = 0; k < HB_NAME_WORDS; k++)
		atomic_store(&rec->name[k], w[k]);
}

struct every_state {
	pid_t ok, late;
	int r_ok, r_late, r_gone, r_reused, r_untrusted, r_badname, r_busy;
};

/* One record in each state status knows. */
static void make_every_state(struct every_state *s)
{
	struct hb_record *rec;
	uint64_t st;
	char all_a[HB_NAME_SIZE];

	s->ok = start_worker("fine", "60000", NULL);
	s->late = start_worker("hung", "100", "0");
	s->r_ok = tu_record_of(s->ok);
	s->r_late = tu_record_of(s->late);
	cr_assert(s->r_ok >= 0 && s->r_late >= 0);
	cr_assert_eq(proc_starttime(getpid(), &st), 0);
	/* A shell job's record whose process is gone, and one whose pid now
	 * belongs to another process (ours: another start time). */
	s->r_gone = tu_record_make(dead_pid(), 1, "gone", 1000, now_ns(), NULL);
	s->r_reused = tu_record_make(getpid(), st + 1, "reused", 1000, now_ns(), NULL);
	/* Anyone may write it: not its owner's word. */
	s->r_untrusted = forge_self("careless", "0666");
	/* A name with no NUL in its 64 bytes. */
	s->r_badname = tu_record_make(getpid(), st, "x", 1000, now_ns(), &rec);
	memset(all_a, 'A', sizeof(all_a));
	set_name_bytes(rec, all_a, sizeof(all_a));
	/* A writer that died inside the seqlock: odd forever. */
	s->r_busy = tu_record_make(getpid(), st, "x", 1000, now_ns(), &rec);
	atomic_fetch_add(&rec->seq, 1);
	/* The hung worker's only beat was at registration. */
	nanosleep(&(struct timespec){.tv_nsec = 300000000}, NULL);
}

Test(hbctl, status_shows_every_state)
{
	struct every_state s;
	struct hb_registry reg;
	struct tu_output r;
	char f[6][80], want[256], line[512], obj[1024];
	int key = tu_key_use(40);

	tu_registry_create(32, &reg);
	make_every_state(&s);

	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	/* Our test process made the registry, so it is the "daemon". */
	snprintf(want, sizeof(want), "hbwatch at key 0x%x: pid %d (running); 7 registrations\n",
		 (unsigned)key, (int)getpid());
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "header: %s", r.out);
	cr_assert(strstr(r.out, "RECORD") && strstr(r.out, "STATE"), "%s", r.out);

	text_row(r.out, s.r_ok, f);
	cr_assert_eq(atoll(f[1]), s.ok);
	cr_assert_str_eq(f[2], "fine");
	cr_assert_str_eq(f[3], "1m00s");
	cr_assert_str_eq(f[5], "ok");
	text_row(r.out, s.r_late, f);
	cr_assert_eq(atoll(f[1]), s.late);
	cr_assert_str_eq(f[2], "hung");
	cr_assert_str_eq(f[3], "100ms");
	cr_assert_str_eq(f[5], "late");
	text_row(r.out, s.r_gone, f);
	cr_assert_str_eq(f[2], "gone");
	cr_assert_str_eq(f[5], "stale");
	text_row(r.out, s.r_reused, f);
	cr_assert_eq(atoll(f[1]), getpid());
	cr_assert_str_eq(f[5], "stale", "a reused pid must be stale");
	text_row(r.out, s.r_untrusted, f);
	cr_assert_str_eq(f[2], "careless");
	cr_assert_str_eq(f[5], "untrusted");
	/* ... with the reason on the same line. */
	cr_assert_eq(text_line(r.out, s.r_untrusted, line, sizeof(line)), 0);
	cr_assert(strstr(line, "untrusted (its mode 666 lets its group and everyone write it"),
		  "%s", line);
	text_row(r.out, s.r_badname, f);
	cr_assert_str_eq(f[5], "bad-name");
	/* A busy record has no name to show: the state ends its line. */
	cr_assert_eq(text_line(r.out, s.r_busy, line, sizeof(line)), 0, "%s", r.out);
	cr_assert(strlen(line) > 5 && strcmp(line + strlen(line) - 5, " busy") == 0, "%s", line);

	run_hbctl(&r, (char *[]){"status", "--json", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "invalid JSON: %s", r.out);
	snprintf(want, sizeof(want),
		 "{\"key\":\"0x%x\",\"registry\":true,\"owner_pid\":%d,\"owner_alive\":true,"
		 "\"verdicts\":false,\"entries\":[",
		 (unsigned)key, (int)getpid());
	cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
	json_entry(r.out, s.r_ok, obj, sizeof(obj));
	snprintf(want, sizeof(want),
		 "{\"shmid\":%d,\"pid\":%d,\"uid\":0,\"name\":\"fine\",\"timeout_ms\":60000,",
		 s.r_ok, (int)s.ok);
	cr_assert(strncmp(obj, want, strlen(want)) == 0, "%s", obj);
	cr_assert(strstr(obj, "\"state\":\"ok\"") && strstr(obj, "\"trusted\":true,\"why\":\"\""),
		  "%s", obj);
	json_entry(r.out, s.r_late, obj, sizeof(obj));
	snprintf(want, sizeof(want),
		 "{\"shmid\":%d,\"pid\":%d,\"uid\":0,\"name\":\"hung\",\"timeout_ms\":100,",
		 s.r_late, (int)s.late);
	cr_assert(strncmp(obj, want, strlen(want)) == 0, "%s", obj);
	cr_assert(strstr(obj, "\"state\":\"late\""), "%s", obj);
	json_entry(r.out, s.r_gone, obj, sizeof(obj));
	cr_assert(strstr(obj, "\"state\":\"stale\"") && strstr(obj, "its process is gone"), "%s",
		  obj);
	json_entry(r.out, s.r_reused, obj, sizeof(obj));
	cr_assert(strstr(obj, "\"state\":\"stale\""), "%s", obj);
	json_entry(r.out, s.r_untrusted, obj, sizeof(obj));
	cr_assert(strstr(obj, "\"state\":\"untrusted\"") && strstr(obj, "\"trusted\":false") &&
		      strstr(obj, "mode 666"),
		  "%s", obj);
	json_entry(r.out, s.r_badname, obj, sizeof(obj));
	cr_assert(strstr(obj, "\"state\":\"bad-name\""), "%s", obj);
	json_entry(r.out, s.r_busy, obj, sizeof(obj));
	cr_assert(strstr(obj, "\"name\":\"\"") && strstr(obj, "\"state\":\"busy\""), "%s", obj);
	registry_detach(&reg);
}

/* status reads records with no lock and no group, but a user outside the
 * registry's group sees only what the kernel lets it read: the library's
 * records (and hbctl's) are its owner's, root's and the group's alone, so
 * uid 3002 sees none of root's; a record its owner left readable to all
 * (mode 0666 here) it sees, as /proc shows it that process. */
Test(hbctl, status_for_a_user_outside_the_group)
{
	struct every_state s;
	struct hb_registry reg;
	struct tu_output root, other;
	char want[1024], got[1024], head[128];
	int key;

	if (!tu_can_become(3002))
		cr_skip_test("cannot run programs as uid 3002 here");
	key = tu_key_use(45);
	tu_registry_create(32, &reg);
	make_every_state(&s);

	run_hbctl(&root, (char *[]){"status", "--json", NULL});
	cr_assert_eq(root.code, 0, "%s", root.err);
	json_states(root.out, want, sizeof(want));
	cr_assert(strstr(want, "=ok;") && strstr(want, "=late;") && strstr(want, "=stale;") &&
		      strstr(want, "=untrusted;") && strstr(want, "=bad-name;") &&
		      strstr(want, "=busy;"),
		  "%s", want);
	tu_hbctl_as(&other, 3002, (char *[]){"status", "--json", NULL});
	cr_assert_eq(other.code, 0, "as uid 3002: %s", other.err);
	cr_assert(tu_json_valid(other.out), "invalid JSON: %s", other.out);
	json_states(other.out, got, sizeof(got));
	snprintf(want, sizeof(want), "%d=untrusted;", s.r_untrusted);
	cr_assert_str_eq(got, want, "uid 3002 sees more than its permissions allow");
	cr_assert(!strstr(other.out, "\"fine\"") && !strstr(other.out, "\"hung\""), "%s",
		  other.out);

	tu_hbctl_as(&other, 3002, (char *[]){"status", NULL});
	cr_assert_eq(other.code, 0, "as uid 3002: %s", other.err);
	snprintf(head, sizeof(head), "hbwatch at key 0x%x: pid %d (running); 1 registration\n",
		 (unsigned)key, (int)getpid());
	cr_assert(strncmp(other.out, head, strlen(head)) == 0, "%s", other.out);
	registry_detach(&reg);
}

Test(hbctl, hostile_names_are_escaped)
{
	/* Written around the library's checks, as a hostile writer could. */
	static const char hostile[] = "q\"b\\s\x01\x1b[2J\x7f\xff\xc3\xa9";
	static const char want_json[] = "\"name\":\"q\\\"b\\\\s\\u0001\\u001b[2J\\u007f\\u00ff"
					"\\u00c3\\u00a9\"";
	static const char want_text[] = "q\"b\\x5cs\\x01\\x1b[2J\\x7f\\xff\\xc3\\xa9";
	struct hb_registry reg;
	struct hb_record *rec;
	struct tu_output r;
	uint64_t st;

	tu_key_use(41);
	tu_registry_create(4, &reg);
	cr_assert_eq(proc_starttime(getpid(), &st), 0);
	tu_record_make(getpid(), st, "x", 1000, now_ns(), &rec);
	set_name_bytes(rec, hostile, sizeof(hostile));

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
	for (const char *p = r.out; *p; p++)
		cr_assert(((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) || *p == '\n',
			  "raw byte 0x%02x reached the terminal", (unsigned char)*p);
	registry_detach(&reg);
}

Test(hbctl, no_records)
{
	struct hb_registry reg;
	struct tu_output r;
	char want[128];
	int key = tu_key_use(42);

	tu_registry_create(4, &reg);
	run_hbctl(&r, (char *[]){"status", "--json", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "%s", r.out);
	cr_assert(strstr(r.out, "\"entries\":[]}"), "%s", r.out);
	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	snprintf(want, sizeof(want), "hbwatch at key 0x%x: pid %d (running); 0 registrations\n",
		 (unsigned)key, (int)getpid());
	cr_assert_str_eq(r.out, want, "no table header for no records");

	/* -k wins over $HBWATCH_KEY. */
	setenv("HBWATCH_KEY", "0x4b0000ff", 1);
	run_hbctl(&r, (char *[]){"-k", "0x4b00002a", "status", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, want);
	/* No registry: the listing still, and exit 1, as hbctl(1) says, so
	 * that "hbctl status && ..." does not take it for a running hbwatch. */
	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 1, "%s", r.err);
	cr_assert_str_eq(r.out, "hbwatch at key 0x4b0000ff: not running (no registry); 0 "
				"registrations\n");
	run_hbctl(&r, (char *[]){"status", "--json", NULL});
	cr_assert_eq(r.code, 1, "%s", r.err);
	cr_assert(tu_json_valid(r.out), "%s", r.out);
	/* wait-ready gives up after its timeout, saying why. */
	int64_t t0 = tu_now_ms();
	run_hbctl(&r, (char *[]){"wait-ready", "--timeout", "300ms", NULL});
	cr_assert_eq(r.code, 1, "%s", r.err);
	cr_assert_geq(tu_now_ms() - t0, 300);
	cr_assert(strstr(r.err, "not ready at key 0x4b0000ff"), "%s", r.err);
	run_hbctl(&r, (char *[]){"wait-ready", "--timeout", "soon", NULL});
	cr_assert_eq(r.code, 2, "%s", r.err);
	setenv("HBWATCH_KEY", "0x4b00002a", 1);
	/* A cleanly stopped hbwatch leaves its registry naming nobody. */
	atomic_store(&reg.hdr->owner_pid, 0);
	run_hbctl(&r, (char *[]){"status", NULL});
	cr_assert_eq(r.code, 1, "%s", r.err);
	cr_assert(strstr(r.out, "not running (stopped"), "%s", r.out);
	registry_detach(&reg);
}

Test(hbctl, remove_deletes_the_registry_only)
{
	struct hb_registry reg;
	struct tu_output r;
	char want[128];
	int key = tu_key_use(43), rec;
	pid_t w;
	void *mem;

	tu_registry_create(4, &reg);
	registry_detach(&reg);
	w = start_worker("kept", "60000", NULL);
	rec = tu_record_of(w);
	cr_assert_geq(rec, 0);

	run_hbctl(&r, (char *[]){"remove", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	snprintf(want, sizeof(want), "removed the hbwatch registry at key 0x%x\n", (unsigned)key);
	cr_assert_str_eq(r.out, want);
	errno = 0;
	cr_assert_eq(shmget(key, 0, 0), -1);
	cr_assert_eq(errno, ENOENT);
	/* Registrations are their processes' own: they stay. */
	cr_assert_eq(tu_record_of(w), rec, "the worker's record went with the registry");

	run_hbctl(&r, (char *[]){"remove", NULL});
	cr_assert_eq(r.code, 1, "removing nothing must fail");
	snprintf(want, sizeof(want), "hbctl: no hbwatch registry at key 0x%x: nothing to remove\n",
		 (unsigned)key);
	cr_assert_str_eq(r.err, want);

	/* Another program's segment at the key: refused unless forced. */
	int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	cr_assert_geq(id, 0, "shmget: %s", strerror(errno));
	mem = shmat(id, NULL, 0);
	cr_assert_neq(mem, (void *)-1);
	cr_assert_eq(getrandom(mem, 4096, 0), 4096);
	shmdt(mem);
	run_hbctl(&r, (char *[]){"remove", NULL});
	cr_assert_eq(r.code, 1, "remove of a foreign segment: exit %d", r.code);
	cr_assert(strncmp(r.err, "hbctl: ", 7) == 0 && strstr(r.err, "not removing it"), "%s",
		  r.err);
	cr_assert_eq(shmget(key, 0, 0), id, "the foreign segment was removed");
	run_hbctl(&r, (char *[]){"remove", "--force", NULL});
	cr_assert_eq(r.code, 0, "remove --force: %s", r.err);
	cr_assert_eq(shmget(key, 0, 0), -1);
}

Test(hbctl, usage_errors_exit_2)
{
	static char *const cases[][6] = {
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
	    {"register", NULL},
	    {"register", "--name", "job", NULL},
	    {"register", "--name", "job", "--timeout", NULL},
	    {"beat", "--pid", "1", NULL},
	    {"unregister", "--bogus", NULL},
	    {"metrics", "--bogus", NULL},
	};
	struct tu_output r;

	tu_key_use(44);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_hbctl(&r, cases[i]);
		cr_assert_eq(r.code, 2, "case %zu (%s %s): exit %d", i,
			     cases[i][0] ? cases[i][0] : "",
			     cases[i][0] && cases[i][1] ? cases[i][1] : "", r.code);
		cr_assert(strncmp(r.err, "hbctl: ", 7) == 0, "case %zu: %s", i, r.err);
		cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "case %zu: %s", i,
			  r.err);
		cr_assert_str_eq(r.out, "", "case %zu wrote to stdout", i);
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

/* --help names every state status can show (ctl.h lists them), each as
 * a word of its own: " ok;", " late (", "(status): ok;". */
static bool help_names(const char *help, const char *state)
{
	static const char *const before = " \n", *const after = ";(.";
	size_t n = strlen(state);

	for (const char *p = help; (p = strstr(p, state)); p += n)
		if (p > help && strchr(before, p[-1]) && p[n] &&
		    (strchr(after, p[n]) || ((p[n] == ' ' || p[n] == '\n') && p[n + 1] == '(')))
			return true;
	return false;
}

Test(hbctl, help_lists_every_state)
{
	static const char *const states[] = {
	    "ok",	  "late",     "extended", "acted-on", "logged",	   "rate-limited",
	    "unkillable", "refused",  "unseen",	  "stale",    "untrusted", "busy",
	    "bad-name",	  "deferred", "frozen",	  "debugged", "dumping"};
	struct tu_output r;

	run_hbctl(&r, (char *[]){"--help", NULL});
	cr_assert_eq(r.code, 0, "%s", r.err);
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		cr_assert(help_names(r.out, states[i]), "--help lacks the state '%s':\n%s",
			  states[i], r.out);
}
