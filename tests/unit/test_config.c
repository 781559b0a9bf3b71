/* settings_load() on real files in a fresh temporary directory: defaults,
 * every key, drop-ins, and the exact "file:line: message" of each error. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "settings.h"
#include "share.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define MS  UINT64_C(1000000)
#define SEC UINT64_C(1000000000)
#define MIN (60 * SEC)

/* Our own group line, so tests do not depend on group hbwatch existing. */
#define GLOBAL "[hbwatch]\ngroup = root\n"

static char dir[64];
static char main_path[128];
static char err[1024];
static struct settings s;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	strcpy(dir, "/tmp/hbwatch-test-config-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(main_path, sizeof(main_path), "%s/hbwatch.ini", dir);
	memset(&s, 0, sizeof(s));
	err[0] = '\0';
}

static void teardown(void)
{
	settings_finish(&s);
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(config, .init = setup, .fini = teardown);

/* cr_skip() ends the test without running .fini: clean up first. */
#define skip(why)                                                                                  \
	do {                                                                                       \
		teardown();                                                                        \
		cr_skip(why);                                                                      \
	} while (0)

/* Write LEN bytes of TEXT to DIR/REL, creating hbwatch.d/ if REL is in it. */
static void put_bytes(const char *rel, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	if (strncmp(rel, "hbwatch.d/", 10) == 0) {
		snprintf(path, sizeof(path), "%s/hbwatch.d", dir);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void put(const char *rel, const char *text)
{
	put_bytes(rel, text, strlen(text));
}

static int load(void)
{
	return settings_load(main_path, &s, err, sizeof(err));
}

/* The load failed with R and exactly "DIR/REL:LINE: MSG" (no ":LINE" if
 * LINE is 0), and left nothing behind. */
static void expect_error(int r, int want_r, const char *rel, unsigned line, const char *msg)
{
	char want[1024];

	if (line)
		snprintf(want, sizeof(want), "%s/%s:%u: %s", dir, rel, line, msg);
	else
		snprintf(want, sizeof(want), "%s/%s: %s", dir, rel, msg);
	cr_expect_eq(r, want_r, "returned %d (%s), want %d", r, err, want_r);
	cr_expect_str_eq(err, want);
	cr_expect_null(s.path, "settings not zeroed after a failure");
	cr_expect_null(s.services);
	cr_expect_eq(s.n_services, 0);
	cr_expect_null(s.group);
}

static const struct service *find(const char *name)
{
	const struct service *svc = settings_find(&s, name);

	cr_assert_not_null(svc, "no service [%s]", name);
	return svc;
}

/* The services are NAMES (NULL-terminated), in this order. */
static void expect_services(const char *const *names)
{
	size_t n = 0;

	for (; names[n]; n++)
		if (n < s.n_services)
			cr_expect_str_eq(s.services[n].name, names[n]);
	cr_expect_eq(s.n_services, n);
}

static bool have_group(const char *name)
{
	return getgrnam(name) != NULL;
}

Test(config, defaults)
{
	put("hbwatch.ini", GLOBAL);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_str_eq(err, "");
	cr_expect_str_eq(s.path, main_path);
	cr_expect_eq(s.key, 0x5098);
	cr_expect_eq(s.slots, 1024);
	cr_expect_str_eq(s.group, "root");
	cr_expect(s.has_gid);
	cr_expect_eq(s.gid, 0);
	cr_expect_eq(s.kill_grace_ns, 5 * SEC);
	cr_expect_eq(s.n_services, 0);
	cr_expect_null(settings_find(&s, "web"));
}

/* The default group is hbwatch: when it does not exist (as on a build host)
 * the error says how to create it, and points at no line (none set it). */
Test(config, default_group)
{
	put("hbwatch.ini", "");
	if (have_group("hbwatch")) {
		cr_assert_eq(load(), 0, "%s", err);
		cr_expect_str_eq(s.group, "hbwatch");
		cr_expect(s.has_gid);
		cr_expect_eq(s.gid, getgrnam("hbwatch")->gr_gid);
		return;
	}
	expect_error(load(), -EINVAL, "hbwatch.ini", 0,
		     "group 'hbwatch' (the default of 'group' in [hbwatch]) does not exist: create "
		     "it with 'systemd-sysusers' or 'groupadd --system hbwatch', or set 'group =' "
		     "(empty) in [hbwatch] to keep the daemon's own group");
}

Test(config, explicit_group_hbwatch_missing)
{
	put("hbwatch.ini", "; comment\n[hbwatch]\ngroup = hbwatch\n");
	if (have_group("hbwatch"))
		skip("group hbwatch exists here");
	expect_error(load(), -EINVAL, "hbwatch.ini", 3,
		     "invalid value 'hbwatch' for 'group' in [hbwatch]: no such group (create it "
		     "with 'systemd-sysusers' or 'groupadd --system hbwatch', or leave the value "
		     "empty to keep the daemon's own group)");
}

Test(config, group_empty_and_numeric)
{
	put("hbwatch.ini", "[hbwatch]\ngroup =\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_str_eq(s.group, "");
	cr_expect_not(s.has_gid);
	settings_finish(&s);

	put("hbwatch.ini", "[hbwatch]\ngroup = 54321\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_str_eq(s.group, "54321");
	cr_expect(s.has_gid);
	cr_expect_eq(s.gid, 54321);
}

Test(config, global_keys)
{
	put("hbwatch.ini", "[hbwatch]\n"
			   "key = 0x1234\n"
			   "slots = 65536\n"
			   "group = nogroup\n"
			   "kill_grace = 250ms\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.key, 0x1234);
	cr_expect_eq(s.slots, 65536);
	cr_expect_eq(s.gid, getgrnam("nogroup")->gr_gid);
	cr_expect_eq(s.kill_grace_ns, 250 * MS);
}

/* uid_share: a count or a percentage of slots=, default an eighth, never
 * more than the shared room (slots= less a quarter kept for root and
 * user= sections); share_allows() names the share it refuses for. */
Test(config, uid_share)
{
	static const struct {
		const char *conf;
		uint32_t share, room;
	} cases[] = {
	    {"", 128, 768},
	    {"slots = 16\n", 2, 12},
	    {"slots = 16\nuid_share = 25%\n", 4, 12},
	    {"uid_share = 300\n", 300, 768},
	    {"slots = 8\nuid_share = 100\n", 6, 6},
	    {"slots = 8\nuid_share = 1%\n", 1, 6},
	    {"slots = 1\n", 1, 1},
	};
	struct shares sh = {0};
	char why[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char conf[256];

		settings_finish(&s);
		snprintf(conf, sizeof(conf), GLOBAL "%s", cases[i].conf);
		put("hbwatch.ini", conf);
		cr_assert_eq(load(), 0, "%s: %s", cases[i].conf, err);
		cr_expect_eq(share_per_uid(&s), cases[i].share, "%s", cases[i].conf);
		cr_expect_eq(share_room(&s), cases[i].room, "%s", cases[i].conf);
	}
	/* A uid fills its share, then two fill the room. */
	settings_finish(&s);
	put("hbwatch.ini", GLOBAL "slots = 16\nuid_share = 6\n");
	cr_assert_eq(load(), 0, "%s", err);
	for (int i = 0; i < 6; i++) {
		cr_assert(share_allows(&sh, &s, 1000, why, sizeof(why)));
		share_add(&sh, 1000, 1);
	}
	cr_assert_not(share_allows(&sh, &s, 1000, why, sizeof(why)));
	cr_expect_str_eq(why, "uid 1000 holds its share: uid_share=6 of slots=16");
	for (int i = 0; i < 6; i++)
		share_add(&sh, 1001, 1);
	cr_assert_not(share_allows(&sh, &s, 1002, why, sizeof(why)));
	cr_expect_str_eq(why,
			 "shared room full: 12 of slots=16 (the rest is kept for root and user=)");
	cr_expect_lt(strlen(why), 88u, "longer than a status entry's reason");
	share_add(&sh, 1000, -1);
	cr_expect_eq(share_held(&sh, 1000), 5u);
	cr_assert(share_allows(&sh, &s, 1002, why, sizeof(why)));
	share_free(&sh);
}

Test(config, service_defaults)
{
	put("hbwatch.ini", GLOBAL "\n[web]\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_assert_eq(s.n_services, 1);
	const struct service *w = find("web");
	cr_expect_null(w->unit);
	cr_expect_null(w->user);
	cr_expect_not(w->has_user);
	cr_expect_eq(w->timeout_ns, 0);
	cr_expect_eq(w->action, ACTION_KILL);
	cr_expect_eq(w->signal, SIGABRT);
	cr_expect_eq(w->kill_burst, 5);
	cr_expect_eq(w->kill_interval_ns, 10 * MIN);
	cr_expect_eq(w->extend_max_ns, HB_EXTEND_AUTO);
	cr_expect_str_eq(w->file, main_path);
	cr_expect_eq(w->line, 4);
}

/* extend_max: a duration up to a day; 0 turns extensions off; unset is
 * the automatic cap. */
Test(config, extend_max)
{
	put("hbwatch.ini", GLOBAL "[a]\nextend_max = 90s\n"
				  "[b]\nextend_max = 0\n"
				  "[c]\nextend_max = 24h\n"
				  "[d]\nextend_max = 1min 500ms\n"
				  "[e]\ntimeout = 1s\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(find("a")->extend_max_ns, 90 * SEC);
	cr_expect_eq(find("b")->extend_max_ns, 0);
	cr_expect_eq(find("c")->extend_max_ns, 24 * 60 * MIN);
	cr_expect_eq(find("d")->extend_max_ns, MIN + 500 * MS);
	cr_expect_eq(find("e")->extend_max_ns, HB_EXTEND_AUTO);
}

/* The verdict's keys: starve_grace (unset: the timeout itself; 0: off),
 * debugged (leave or kill), warn_at (a share of the timeout, 0 off) and
 * dump_max in [hbwatch]. */
Test(config, verdict_keys)
{
	put("hbwatch.ini", GLOBAL "dump_max = 2min\n"
				  "[a]\nstarve_grace = 10s\ndebugged = kill\nwarn_at = 50%\n"
				  "[b]\nstarve_grace = 0\ndebugged = leave\nwarn_at = 0\n"
				  "[c]\nwarn_at = 75 %\n"
				  "[d]\ntimeout = 1s\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.dump_max_ns, 2 * MIN);
	cr_expect_eq(find("a")->starve_grace_ns, 10 * SEC);
	cr_expect(find("a")->debugged_kill);
	cr_expect_eq(find("a")->warn_at_pct, 50);
	cr_expect_eq(find("b")->starve_grace_ns, 0);
	cr_expect(!find("b")->debugged_kill);
	cr_expect_eq(find("b")->warn_at_pct, 0);
	cr_expect_eq(find("c")->warn_at_pct, 75);
	cr_expect_eq(find("d")->starve_grace_ns, HB_GRACE_AUTO);
	cr_expect(!find("d")->debugged_kill);
	cr_expect_eq(find("d")->warn_at_pct, 0);
	settings_finish(&s);
	put("hbwatch.ini", GLOBAL "[d]\ntimeout = 1s\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.dump_max_ns, MIN, "dump_max defaults to a minute");
}

/* deadline_priority: 1 unless set; 0 turns lifting off; up to 99. */
Test(config, deadline_priority)
{
	put("hbwatch.ini", GLOBAL "[d]\ntimeout = 1s\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.deadline_priority, 1, "the lowest real-time priority by default");
	settings_finish(&s);
	for (int v = 0; v <= 99; v += 33) {
		char text[128];

		snprintf(text, sizeof(text), GLOBAL "deadline_priority = %d\n", v);
		put("hbwatch.ini", text);
		cr_assert_eq(load(), 0, "%s", err);
		cr_expect_eq(s.deadline_priority, v);
		settings_finish(&s);
	}
}

/* deadline_budget: 500ms unless set; 1ms to 1s. */
Test(config, deadline_budget)
{
	put("hbwatch.ini", GLOBAL "[d]\ntimeout = 1s\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.deadline_budget_ns, 500000000u, "half a core by default");
	settings_finish(&s);
	put("hbwatch.ini", GLOBAL "deadline_budget = 1ms\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.deadline_budget_ns, 1000000u);
	settings_finish(&s);
	put("hbwatch.ini", GLOBAL "deadline_budget = 1s\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.deadline_budget_ns, 1000000000u);
	settings_finish(&s);
}

Test(config, service_keys)
{
	put("hbwatch.ini", GLOBAL "[web]\n"
				  "unit = worker@*.service\n"
				  "user = www-data\n"
				  "timeout = 1min 30s\n"
				  "action = restart-unit\n"
				  "signal = term\n"
				  "kill_burst = 1000\n"
				  "kill_interval = 1h\n"
				  "[batch.job:1@x_y-z]\n"
				  "user = 4242\n"
				  "timeout = 1ms\n"
				  "action = log\n"
				  "signal = 9\n"
				  "kill_burst = 1\n"
				  "kill_interval = 1w\n"
				  "[restart]\n"
				  "action = restart-unit\n"
				  "unit = restart.service\n"
				  "timeout = 24h\n");
	cr_assert_eq(load(), 0, "%s", err);
	expect_services((const char *[]){"web", "batch.job:1@x_y-z", "restart", NULL});

	const struct service *w = find("web");
	cr_expect_str_eq(w->unit, "worker@*.service");
	cr_expect_str_eq(w->user, "www-data");
	cr_expect(w->has_user);
	cr_expect_eq(w->uid, 33);
	cr_expect_eq(w->timeout_ns, 90 * SEC);
	cr_expect_eq(w->action, ACTION_RESTART_UNIT);
	cr_expect_eq(w->signal, SIGTERM);
	cr_expect_eq(w->kill_burst, 1000);
	cr_expect_eq(w->kill_interval_ns, 60 * MIN);
	cr_expect_eq(w->line, 3);

	const struct service *b = find("batch.job:1@x_y-z");
	cr_expect_null(b->unit);
	cr_expect(b->has_user);
	cr_expect_eq(b->uid, 4242);
	cr_expect_eq(b->timeout_ns, MS);
	cr_expect_eq(b->action, ACTION_LOG);
	cr_expect_eq(b->signal, SIGKILL);
	cr_expect_eq(b->kill_burst, 1);
	cr_expect_eq(b->kill_interval_ns, 7 * 24 * 60 * MIN);
	cr_expect_eq(b->line, 11);

	const struct service *r = find("restart");
	cr_expect_str_eq(r->unit, "restart.service");
	cr_expect_eq(r->action, ACTION_RESTART_UNIT);
	cr_expect_eq(r->timeout_ns, 24 * 60 * MIN);

	cr_expect_null(settings_find(&s, "we"));
	cr_expect_str_eq(action_name(ACTION_KILL), "kill");
	cr_expect_str_eq(action_name(ACTION_RESTART_UNIT), "restart-unit");
	cr_expect_str_eq(action_name(ACTION_LOG), "log");
}

/* Comments, blank lines, inline ';', CRLF and a byte order mark are all
 * fine. */
Test(config, accepted_syntax)
{
	put("hbwatch.ini", "\xef\xbb\xbf; hbwatch\r\n"
			   "# a comment\r\n"
			   "   ; an indented comment\r\n"
			   "\t# another\r\n"
			   "  \t \r\n"
			   "[hbwatch] ; global\r\n"
			   "group=root\r\n"
			   "[web]\r\n"
			   "timeout = 2s ; two seconds\r\n"
			   "unit=web@1.service\r\n"
			   "signal : SIGTERM\r\n");
	put_bytes("hbwatch.d/10-x.ini", "[web]\naction = log", 18); /* no final newline */
	cr_assert_eq(load(), 0, "%s", err);
	const struct service *w = find("web");
	cr_expect_eq(w->timeout_ns, 2 * SEC);
	cr_expect_eq(w->signal, SIGTERM);
	cr_expect_eq(w->action, ACTION_LOG);
	cr_expect_eq(w->line, 8);
}

/* inih keeps only 49 bytes of a section name; we do not rely on it. */
Test(config, long_service_name)
{
	char text[256];
	const char *name63 = "a23456789-123456789-123456789-123456789-123456789-123456789-123";

	cr_assert_eq(strlen(name63), 63);
	snprintf(text, sizeof(text), GLOBAL "[%s]\ntimeout = 3s\n", name63);
	put("hbwatch.ini", text);
	cr_assert_eq(load(), 0, "%s", err);
	cr_assert_eq(s.n_services, 1);
	cr_expect_eq(find(name63)->timeout_ns, 3 * SEC);
}

/* hbwatch.ini with [web] whose unit line is LEN characters, then a line
 * "action = log" (line 5). */
static void put_unit_line(size_t len)
{
	char text[512], unit[256];
	size_t n = len - strlen("unit = ");

	memset(unit, 'u', n);
	strcpy(unit + n - strlen(".service"), ".service");
	snprintf(text, sizeof(text), GLOBAL "[web]\nunit = %s\naction = log\n", unit);
	cr_assert_eq(strlen(strstr(text, "unit = ")), len + strlen("\naction = log\n"));
	put("hbwatch.ini", text);
}

Test(config, line_of_199_characters)
{
	put_unit_line(199);
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(strlen(find("web")->unit), 199 - strlen("unit = "));
	cr_expect_eq(find("web")->action, ACTION_LOG);
}

struct error_case {
	const char *text; /* of hbwatch.ini */
	unsigned line;
	const char *msg;
};

#define LONG50 "12345678901234567890123456789012345678901234567890"

static const struct error_case error_cases[] = {
    /* Structure. */
    {GLOBAL "[web]\ntimeout = 1s\naction = log\ntimout = 5s\n", 6,
     "unknown key 'timout' in [web] (did you mean 'timeout'?)"},
    {GLOBAL "foo = 1\n", 3, "unknown key 'foo' in [hbwatch]"},
    {GLOBAL "timeout = 1s\n", 3, "unknown key 'timeout' in [hbwatch]"},
    {GLOBAL "[web]\nslots = 5\n", 4, "unknown key 'slots' in [web]"},
    {GLOBAL "[web]\nTimeout = 5s\n", 4, "unknown key 'Timeout' in [web] (did you mean 'timeout'?)"},
    {"; first\nslots = 5\n" GLOBAL, 2,
     "key 'slots' outside any section: put it under [hbwatch] or a service's [name]"},
    {GLOBAL "\n[legacy]\nkey = 0x5098\n", 5,
     "'key' in [legacy] is hbwatch's own key 0x5098: give hbwatch's table another key with "
     "'key' in [hbwatch]"},
    {GLOBAL "\n[legacy]\nenabled = yes\n", 4,
     "[legacy] needs 'key', the hex System V key of the classic table (0x5095 in production, "
     "0x5098 in the lesson code)"},
    {GLOBAL "[we b]\n", 3, "invalid service name 'we b': use 1 to 63 letters, digits and -_.:@"},
    {GLOBAL "[]\n", 3, "invalid service name '': use 1 to 63 letters, digits and -_.:@"},
    {GLOBAL "[web/1]\n", 3, "invalid service name 'web/1': use 1 to 63 letters, digits and -_.:@"},
    {GLOBAL "[" LONG50 "1234567890123 4]\n", 3,
     "invalid service name '" LONG50 "1234567890123 4': use 1 to 63 letters, digits and -_.:@"},
    {GLOBAL "[" LONG50 "12345678901234]\n", 3,
     "invalid service name '" LONG50 "12345678901234': use 1 to 63 letters, digits and -_.:@"},
    {GLOBAL "[web\n", 3, "expected ']' at the end of the section name"},
    {GLOBAL "[web] # comment\n", 3,
     "unexpected text after ']' (a comment after a section starts with ';')"},
    {GLOBAL "[web]\ngarbage\n", 4, "expected 'key = value' or '[section]'"},
    {GLOBAL "[web]\n= 5s\n", 4, "expected 'key = value' or '[section]'"},
    {GLOBAL "[web]\ntimeout = 1s\naction = log\ntimeout = 2s\n", 6,
     "duplicate key 'timeout' in [web] (first set on line 4)"},
    {GLOBAL "[web]\ntimeout = 1s\n[api]\n[web]\ntimeout = 2s\n", 7,
     "duplicate key 'timeout' in [web] (first set on line 4)"},
    {GLOBAL "group = root\n", 3, "duplicate key 'group' in [hbwatch] (first set on line 2)"},
    {GLOBAL "[web]\ntimeout =\n", 4, "empty value for 'timeout' in [web]"},
    {GLOBAL "[web]\nunit =\n", 4, "empty value for 'unit' in [web]"},
    {GLOBAL "[web]\nuser = ; nobody\n", 4, "empty value for 'user' in [web]"},
    {"[hbwatch]\nkey =\n", 2, "empty value for 'key' in [hbwatch]"},
    /* inih's traps. */
    {GLOBAL "[web]\ntimeout = 2s # two seconds\n", 4,
     "'#' in the value of 'timeout' in [web]: '#' starts a comment only at the beginning of "
     "a line (use ' ; ' for a comment after a value)"},
    {GLOBAL "[web]\naction = #log\n", 4,
     "'#' in the value of 'action' in [web]: '#' starts a comment only at the beginning of "
     "a line (use ' ; ' for a comment after a value)"},
    {GLOBAL "[web]\ntimeout = 2s\n  action = log\n", 5,
     "indented line: inih would join it to the previous key; remove the indentation"},
    {GLOBAL "[web]\n\tsignal = SIGTERM\n", 4,
     "indented line: inih would join it to the previous key; remove the indentation"},
    {GLOBAL " [web]\n", 3,
     "indented line: inih would join it to the previous key; remove the indentation"},
    /* Values. */
    {"[hbwatch]\nkey = zz\n", 2,
     "invalid value 'zz' for 'key' in [hbwatch]: expected a hex System V key such as 0x5098"},
    {"[hbwatch]\nkey = 0\n", 2,
     "invalid value '0' for 'key' in [hbwatch]: expected a hex System V key such as 0x5098"},
    {"[hbwatch]\nuid_share = 0\n", 2,
     "invalid value '0' for 'uid_share' in [hbwatch]: expected a number from 1 to 65536, or "
     "a percentage"},
    {"[hbwatch]\nuid_share = 101%\n", 2,
     "invalid value '101%' for 'uid_share' in [hbwatch]: expected a percentage from 1% to "
     "100%"},
    {"[hbwatch]\nuid_share = 0%\n", 2,
     "invalid value '0%' for 'uid_share' in [hbwatch]: expected a percentage from 1% to 100%"},
    {"[hbwatch]\nuid_share = %\n", 2,
     "invalid value '%' for 'uid_share' in [hbwatch]: expected a number from 1 to 65536, or "
     "a percentage"},
    {"[hbwatch]\nuid_share = 5x\n", 2,
     "invalid value '5x' for 'uid_share' in [hbwatch]: expected a number from 1 to 65536, or "
     "a percentage"},
    {"[hbwatch]\nslots = 0\n", 2,
     "invalid value '0' for 'slots' in [hbwatch]: expected a number from 1 to 65536"},
    {"[hbwatch]\nslots = 65537\n", 2,
     "invalid value '65537' for 'slots' in [hbwatch]: expected a number from 1 to 65536"},
    {"[hbwatch]\nslots = -1\n", 2,
     "invalid value '-1' for 'slots' in [hbwatch]: expected a number from 1 to 65536"},
    {"[hbwatch]\nslots = 0x10\n", 2,
     "invalid value '0x10' for 'slots' in [hbwatch]: expected a number from 1 to 65536"},
    {"[hbwatch]\nslots = 99999999999999999999999\n", 2,
     "invalid value '99999999999999999999999' for 'slots' in [hbwatch]: expected a number "
     "from 1 to 65536"},
    {"[hbwatch]\nkill_grace = 0\n", 2,
     "invalid value '0' for 'kill_grace' in [hbwatch]: must be between 1ms and 1h"},
    {"[hbwatch]\nkill_grace = 1h 1s\n", 2,
     "invalid value '1h 1s' for 'kill_grace' in [hbwatch]: must be between 1ms and 1h"},
    {"[hbwatch]\nkill_grace = 5 parsecs\n", 2,
     "invalid value '5 parsecs' for 'kill_grace' in [hbwatch]: expected a duration such as "
     "500ms, 30s or 2min"},
    {"[hbwatch]\ngroup = no-such-group-hbw\n", 2,
     "invalid value 'no-such-group-hbw' for 'group' in [hbwatch]: no such group (create it "
     "with 'groupadd --system no-such-group-hbw', or leave the value empty to keep the "
     "daemon's own group)"},
    {GLOBAL "[web]\ntimeout = 0\n", 4,
     "invalid value '0' for 'timeout' in [web]: must be between 1ms and 1d"},
    {GLOBAL "[web]\ntimeout = 999us\n", 4,
     "invalid value '999us' for 'timeout' in [web]: must be between 1ms and 1d"},
    {GLOBAL "[web]\ntimeout = 25h\n", 4,
     "invalid value '25h' for 'timeout' in [web]: must be between 1ms and 1d"},
    {GLOBAL "[web]\ntimeout = 99999999999999w\n", 4,
     "invalid value '99999999999999w' for 'timeout' in [web]: must be between 1ms and 1d"},
    {GLOBAL "[web]\ntimeout = -1s\n", 4,
     "invalid value '-1s' for 'timeout' in [web]: expected a duration such as 500ms, 30s or "
     "2min"},
    {GLOBAL "[web]\nextend_max = 25h\n", 4,
     "invalid value '25h' for 'extend_max' in [web]: must be between 0 and 1d"},
    {GLOBAL "[web]\nextend_max = -1s\n", 4,
     "invalid value '-1s' for 'extend_max' in [web]: expected a duration such as 500ms, 30s or "
     "2min"},
    {GLOBAL "[web]\nextend_max = forever\n", 4,
     "invalid value 'forever' for 'extend_max' in [web]: expected a duration such as 500ms, "
     "30s or 2min"},
    {GLOBAL "[web]\nextend_max =\n", 4, "empty value for 'extend_max' in [web]"},
    {GLOBAL "[web]\nextend_max = 1s\nextend_max = 2s\n", 5,
     "duplicate key 'extend_max' in [web] (first set on line 4)"},
    {"[hbwatch]\nextend_max = 1s\n", 2, "unknown key 'extend_max' in [hbwatch]"},
    {GLOBAL "[web]\naction = restart\n", 4,
     "invalid value 'restart' for 'action' in [web]: expected kill, restart-unit or log"},
    {GLOBAL "[web]\naction = KILL\n", 4,
     "invalid value 'KILL' for 'action' in [web]: expected kill, restart-unit or log"},
    {GLOBAL "[web]\nsignal = SIGSTOP\n", 4,
     "invalid value 'SIGSTOP' for 'signal' in [web]: expected a signal that ends a process, "
     "such as SIGABRT, SIGTERM or 6 (not SIGSTOP or SIGCONT)"},
    {GLOBAL "[web]\nsignal = 0\n", 4,
     "invalid value '0' for 'signal' in [web]: expected a signal that ends a process, such "
     "as SIGABRT, SIGTERM or 6 (not SIGSTOP or SIGCONT)"},
    {GLOBAL "[web]\nkill_burst = 0\n", 4,
     "invalid value '0' for 'kill_burst' in [web]: expected a number from 1 to 1000"},
    {GLOBAL "[web]\nkill_burst = 1001\n", 4,
     "invalid value '1001' for 'kill_burst' in [web]: expected a number from 1 to 1000"},
    {GLOBAL "[web]\nkill_burst = 5x\n", 4,
     "invalid value '5x' for 'kill_burst' in [web]: expected a number from 1 to 1000"},
    {GLOBAL "[web]\nkill_interval = 0\n", 4,
     "invalid value '0' for 'kill_interval' in [web]: must be between 1ms and 1w"},
    {GLOBAL "[web]\nkill_interval = 8d\n", 4,
     "invalid value '8d' for 'kill_interval' in [web]: must be between 1ms and 1w"},
    {GLOBAL "[web]\nunit = web worker.service\n", 4,
     "invalid value 'web worker.service' for 'unit' in [web]: expected a systemd unit name or "
     "glob such as worker@*.service"},
    {GLOBAL "[web]\nunit = web;x.service\n", 4,
     "invalid value 'web;x.service' for 'unit' in [web]: expected a systemd unit name or "
     "glob such as worker@*.service"},
    {GLOBAL "[web]\nuser = no-such-user-hbw\n", 4,
     "invalid value 'no-such-user-hbw' for 'user' in [web]: no such user"},
    {GLOBAL "[web]\nuser = 4294967295\n", 4,
     "invalid value '4294967295' for 'user' in [web]: no such user"},
    /* [legacy] allow_shared_writers: a boolean, and only there. */
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = maybe\n", 5,
     "invalid value 'maybe' for 'allow_shared_writers' in [legacy]: expected yes or no"},
    {GLOBAL "[legacy]\nallow_shared_writers = Yes\nkey = 0x5095\n", 4,
     "invalid value 'Yes' for 'allow_shared_writers' in [legacy]: expected yes or no"},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = 2\n", 5,
     "invalid value '2' for 'allow_shared_writers' in [legacy]: expected yes or no"},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers =\n", 5,
     "empty value for 'allow_shared_writers' in [legacy]"},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = no\nallow_shared_writers = yes\n", 6,
     "duplicate key 'allow_shared_writers' in [legacy] (first set on line 5)"},
    {GLOBAL "allow_shared_writers = yes\n", 3, "unknown key 'allow_shared_writers' in [hbwatch]"},
    {GLOBAL "[web]\nallow_shared_writers = yes\n", 4,
     "unknown key 'allow_shared_writers' in [web]"},
    {GLOBAL "[web]\nstarve_grace = 25h\n", 4,
     "invalid value '25h' for 'starve_grace' in [web]: must be between 0 and 1d"},
    {GLOBAL "[web]\ndebugged = maybe\n", 4,
     "invalid value 'maybe' for 'debugged' in [web]: expected leave or kill"},
    {GLOBAL "[web]\nwarn_at = 100%\n", 4,
     "invalid value '100%' for 'warn_at' in [web]: expected a percentage of the timeout from 0% "
     "to 99%"},
    {GLOBAL "[web]\nwarn_at = %\n", 4,
     "invalid value '%' for 'warn_at' in [web]: expected a percentage of the timeout from 0% to "
     "99%"},
    {GLOBAL "dump_max = 2h\n", 3,
     "invalid value '2h' for 'dump_max' in [hbwatch]: must be between 0 and 1h"},
    {GLOBAL "[web]\ndump_max = 1s\n", 4, "unknown key 'dump_max' in [web]"},
    {GLOBAL "deadline_priority = 100\n", 3,
     "invalid value '100' for 'deadline_priority' in [hbwatch]: expected 0 (off) or a SCHED_RR "
     "priority from 1 to 99"},
    {GLOBAL "deadline_priority = -1\n", 3,
     "invalid value '-1' for 'deadline_priority' in [hbwatch]: expected 0 (off) or a SCHED_RR "
     "priority from 1 to 99"},
    {GLOBAL "deadline_priority = rr\n", 3,
     "invalid value 'rr' for 'deadline_priority' in [hbwatch]: expected 0 (off) or a SCHED_RR "
     "priority from 1 to 99"},
    {GLOBAL "[web]\ndeadline_priority = 1\n", 4, "unknown key 'deadline_priority' in [web]"},
    {GLOBAL "deadline_budget = 0\n", 3,
     "invalid value '0' for 'deadline_budget' in [hbwatch]: must be between 1ms and 1s"},
    {GLOBAL "deadline_budget = 2s\n", 3,
     "invalid value '2s' for 'deadline_budget' in [hbwatch]: must be between 1ms and 1s"},
    {GLOBAL "deadline_budget = half\n", 3,
     "invalid value 'half' for 'deadline_budget' in [hbwatch]: expected a duration such as "
     "500ms, 30s or 2min"},
    {GLOBAL "[web]\ndeadline_budget = 1s\n", 4, "unknown key 'deadline_budget' in [web]"},
};

Test(config, errors)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		put("hbwatch.ini", error_cases[i].text);
		expect_error(load(), -EINVAL, "hbwatch.ini", error_cases[i].line,
			     error_cases[i].msg);
		settings_finish(&s);
	}
}

/* Every mistake in every file is reported, each with its file:line, in
 * the order of the lines (inih reports its syntax error only at the end of
 * a file: it still comes first), and the load fails. */
Test(config, every_mistake_reported)
{
	char want[2048];

	put("hbwatch.ini", GLOBAL "[web]\ngarbage\ntimout = 1s\naction = maybe\n");
	put("hbwatch.d/10-api.ini", "[api]\ntimeout = 5 parsecs\n");
	snprintf(want, sizeof(want),
		 "%s/hbwatch.ini:4: expected 'key = value' or '[section]'\n"
		 "%s/hbwatch.ini:5: unknown key 'timout' in [web] (did you mean 'timeout'?)\n"
		 "%s/hbwatch.ini:6: invalid value 'maybe' for 'action' in [web]: ",
		 dir, dir, dir);
	cr_assert_eq(load(), -EINVAL, "%s", err);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "got:\n%s\nwant first:\n%s", err, want);
	snprintf(want, sizeof(want),
		 "\n%s/hbwatch.d/10-api.ini:2: invalid value '5 parsecs' for "
		 "'timeout' in [api]",
		 dir);
	cr_assert(strstr(err, want), "the drop-in's mistake is missing:\n%s", err);
	settings_finish(&s);
}

struct shared_case {
	const char *main, *dropin; /* hbwatch.ini, hbwatch.d/10-x.ini (NULL: none) */
	bool legacy, shared;
};

/* allow_shared_writers: off unless said, the booleans inih users expect,
 * and a drop-in's word over the main file's. */
static const struct shared_case shared_cases[] = {
    {GLOBAL "[legacy]\nkey = 0x5095\n", NULL, true, false},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = yes\n", NULL, true, true},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = true\n", NULL, true, true},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = on\n", NULL, true, true},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = 1 ; accepted\n", NULL, true, true},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = no\n", NULL, true, false},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = false\n", NULL, true, false},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = off\n", NULL, true, false},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = 0\n", NULL, true, false},
    {GLOBAL "[legacy]\nkey = 0x5095\nallow_shared_writers = yes\n",
     "[legacy]\nallow_shared_writers = no\n", true, false},
    {GLOBAL "[legacy]\nkey = 0x5095\n", "[legacy]\nallow_shared_writers = yes\n", true, true},
    {GLOBAL, "[legacy]\nkey = 0x5095\nallow_shared_writers = yes\n", true, true},
    {GLOBAL "[legacy]\nkey = 0x5095\nenabled = no\n", NULL, false, false},
};

Test(config, legacy_allow_shared_writers)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/hbwatch.d/10-x.ini", dir);
	for (size_t i = 0; i < ARRAY_SIZE(shared_cases); i++) {
		const struct shared_case *c = &shared_cases[i];

		put("hbwatch.ini", c->main);
		remove(path);
		if (c->dropin)
			put("hbwatch.d/10-x.ini", c->dropin);
		cr_assert_eq(load(), 0, "case %zu: %s", i, err);
		cr_expect_eq(s.legacy, c->legacy, "case %zu", i);
		cr_expect_eq(s.legacy_shared, c->shared, "case %zu", i);
		if (c->legacy)
			cr_expect_eq(s.legacy_key, 0x5095, "case %zu", i);
		settings_finish(&s);
	}
}

/* A 200-character line: real inih would read its last character as a
 * line of its own and report an error on the next line. */
Test(config, line_too_long)
{
	put_unit_line(200);
	expect_error(load(), -EINVAL, "hbwatch.ini", 4, "line too long (max 199 characters)");
}

/* The classic split trap: the tail of a long comment would become a key. */
Test(config, long_comment_would_split)
{
	char text[512];
	char pad[200];

	memset(pad, 'x', sizeof(pad));
	pad[197] = '\0';
	snprintf(text, sizeof(text), GLOBAL "[web]\n; %saction = log\n", pad);
	put("hbwatch.ini", text);
	expect_error(load(), -EINVAL, "hbwatch.ini", 4, "line too long (max 199 characters)");
}

Test(config, nul_byte)
{
	static const char text[] = GLOBAL "[web]\ntimeout = 1s\0 garbage\n";

	put_bytes("hbwatch.ini", text, sizeof(text) - 1);
	expect_error(load(), -EINVAL, "hbwatch.ini", 4, "line contains a NUL byte");
}

Test(config, missing_file)
{
	expect_error(load(), -ENOENT, "hbwatch.ini", 0, "No such file or directory");
}

Test(config, empty_file)
{
	put("hbwatch.ini", "");
	put("hbwatch.d/00-group.ini", "[hbwatch]\ngroup =\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.n_services, 0);
	cr_expect_eq(s.slots, 1024);
	cr_expect_not(s.has_gid);
}

Test(config, null_error_buffer)
{
	put("hbwatch.ini", "[hbwatch]\nslots = 0\n");
	cr_expect_eq(settings_load(main_path, &s, NULL, 0), -EINVAL);
	cr_expect_null(s.path);
}

/* Drop-ins: byte order of names, per-key override, new sections appended,
 * other files ignored. */
Test(config, dropins)
{
	put("hbwatch.ini", GLOBAL "[web]\n"
				  "unit = web.service\n"
				  "timeout = 30s\n"
				  "action = log\n");
	put("hbwatch.d/10-a.ini", "[web]\ntimeout = 10s\n[api]\ntimeout = 1s\n");
	put("hbwatch.d/9-z.ini", "[web]\ntimeout = 7s\n[hbwatch]\nslots = 64\n");
	put("hbwatch.d/B.ini", "[web]\ntimeout = 3s\n[batch]\n");
	put("hbwatch.d/a.ini", "[web]\nsignal = SIGTERM\n[api]\nsignal = SIGKILL\n");
	/* Not drop-ins: wrong suffix, hidden, editor leftovers. */
	put("hbwatch.d/50-example.ini.example", "garbage\n");
	put("hbwatch.d/README", "garbage\n");
	put("hbwatch.d/.hidden.ini", "garbage\n");
	put("hbwatch.d/x.ini~", "garbage\n");
	put("hbwatch.d/x.conf", "garbage\n");
	cr_assert_eq(load(), 0, "%s", err);

	/* 10-a.ini < 9-z.ini < B.ini < a.ini in byte order. */
	expect_services((const char *[]){"web", "api", "batch", NULL});
	const struct service *w = find("web");
	cr_expect_eq(w->timeout_ns, 3 * SEC);
	cr_expect_eq(w->signal, SIGTERM);
	cr_expect_str_eq(w->unit, "web.service");
	cr_expect_eq(w->action, ACTION_LOG);
	cr_expect_str_eq(w->file, main_path);
	cr_expect_eq(w->line, 3);

	const struct service *a = find("api");
	char path[256];
	snprintf(path, sizeof(path), "%s/hbwatch.d/10-a.ini", dir);
	cr_expect_str_eq(a->file, path);
	cr_expect_eq(a->line, 3);
	cr_expect_eq(a->timeout_ns, SEC);
	cr_expect_eq(a->signal, SIGKILL);
	cr_expect_eq(s.slots, 64);
	cr_expect_eq(s.kill_grace_ns, 5 * SEC);
}

/* The layered directories, as the daemon reads them without -c: three
 * under the test's directory, highest first (/etc, /run, /usr/lib). */
static const char *layer_names[] = {"etc", "run", "lib"};

static int load_layers(void)
{
	char paths[3][128];
	const char *dirs[3];

	for (size_t i = 0; i < 3; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, layer_names[i]);
		mkdir(paths[i], 0755);
		dirs[i] = paths[i];
	}
	return settings_load_dirs(dirs, 3, &s, err, sizeof(err));
}

/* Create DIR/REL as a symlink to /dev/null: the way to mask a file. */
static void mask(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	cr_assert_eq(symlink("/dev/null", path), 0, "symlink %s: %s", path, strerror(errno));
}

static void mkdirs(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

static const char *source(size_t i)
{
	static char rel[256];

	cr_assert_lt(i, s.sources.n);
	cr_assert(strncmp(s.sources.v[i].path, dir, strlen(dir)) == 0);
	snprintf(rel, sizeof(rel), "%s%s", s.sources.v[i].path + strlen(dir) + 1,
		 s.sources.v[i].masked ? " (masked)" : "");
	return rel;
}

/* The package's file under /usr/lib is read when /etc has none; drop-ins
 * of every layer are read in byte order of their names, and a same-named
 * drop-in higher up replaces the lower one whole. */
Test(config, layers_vendor_and_admin_dropins)
{
	mkdirs("lib/hbwatch.d");
	mkdirs("run/hbwatch.d");
	mkdirs("etc/hbwatch.d");
	put("lib/hbwatch.ini", GLOBAL "[web]\nunit = web.service\ntimeout = 30s\n");
	put("lib/hbwatch.d/50-shipped.ini", "[web]\ntimeout = 20s\n[shipped]\ntimeout = 1s\n");
	put("etc/hbwatch.d/50-shipped.ini", "[web]\ntimeout = 9s\n");
	put("run/hbwatch.d/40-runtime.ini", "[web]\naction = log\n");
	put("etc/hbwatch.d/60-admin.ini", "[admin]\ntimeout = 2s\n");
	cr_assert_eq(load_layers(), 0, "%s", err);
	cr_expect_str_eq(source(0), "lib/hbwatch.ini");
	cr_expect_str_eq(source(1), "run/hbwatch.d/40-runtime.ini");
	cr_expect_str_eq(source(2), "etc/hbwatch.d/50-shipped.ini");
	cr_expect_str_eq(source(3), "etc/hbwatch.d/60-admin.ini");
	cr_expect_eq(s.sources.n, 4);
	/* The shipped 50-shipped.ini was not read: no [shipped]. */
	expect_services((const char *[]){"web", "admin", NULL});
	cr_expect_eq(find("web")->timeout_ns, 9 * SEC);
	cr_expect_eq(find("web")->action, ACTION_LOG);
	cr_expect(strstr(s.path, "/lib/hbwatch.ini"), "%s", s.path);
}

/* /etc/hbwatch/hbwatch.ini replaces the package's file whole; a symlink to
 * /dev/null masks a file and everything of its name below. */
Test(config, layers_override_and_mask)
{
	mkdirs("lib/hbwatch.d");
	mkdirs("etc/hbwatch.d");
	put("lib/hbwatch.ini", GLOBAL "[shipped]\ntimeout = 1s\n");
	put("lib/hbwatch.d/70-demo.ini", "[demo]\ntimeout = 1s\n");
	put("etc/hbwatch.ini", GLOBAL "[mine]\ntimeout = 3s\n");
	mask("etc/hbwatch.d/70-demo.ini");
	cr_assert_eq(load_layers(), 0, "%s", err);
	expect_services((const char *[]){"mine", NULL});
	cr_expect_str_eq(source(0), "etc/hbwatch.ini");
	cr_expect_str_eq(source(1), "etc/hbwatch.d/70-demo.ini (masked)");
	settings_finish(&s);

	/* Masking the main file: the defaults, then the drop-ins. */
	char path[256];
	snprintf(path, sizeof(path), "%s/etc/hbwatch.ini", dir);
	cr_assert_eq(unlink(path), 0);
	mask("etc/hbwatch.ini");
	put("etc/hbwatch.d/10-group.ini", "[hbwatch]\ngroup = root\n[local]\n");
	cr_assert_eq(load_layers(), 0, "%s", err);
	cr_expect_str_eq(source(0), "etc/hbwatch.ini (masked)");
	expect_services((const char *[]){"local", NULL});
	cr_expect_eq(s.slots, 1024);
}

/* No layer has hbwatch.ini: an error naming every place looked at. */
Test(config, layers_no_main_file)
{
	char want[1024];

	mkdirs("etc/hbwatch.d");
	put("etc/hbwatch.d/10-x.ini", "[x]\n");
	cr_assert_eq(load_layers(), -ENOENT);
	snprintf(want, sizeof(want),
		 "hbwatch.ini: no configuration: none of %s/etc/hbwatch.ini, %s/run/hbwatch.ini "
		 "or %s/lib/hbwatch.ini exists (the package ships one; 'ln -s /dev/null' in the "
		 "first directory masks it instead)",
		 dir, dir, dir);
	cr_expect_str_eq(err, want);
	cr_expect_null(s.path);
}

/* A dangling symlink is an error with its path, not a silent skip. */
Test(config, layers_dangling_dropin)
{
	char path[256], target[256], want[600];

	mkdirs("etc/hbwatch.d");
	put("etc/hbwatch.ini", GLOBAL);
	snprintf(target, sizeof(target), "%s/nowhere.ini", dir);
	snprintf(path, sizeof(path), "%s/etc/hbwatch.d/20-gone.ini", dir);
	cr_assert_eq(symlink(target, path), 0);
	cr_assert_eq(load_layers(), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	cr_expect_str_eq(err, want);
}

/* enabled = no in a drop-in turns a shipped section off: it is not
 * watched, its user is never looked up, and a later drop-in may turn it
 * on again. */
Test(config, enabled_no_disables_a_section)
{
	put("hbwatch.ini", GLOBAL "[hbwatch-demo]\nuser = no-such-user-hbw\ntimeout = 1s\n"
				  "[web]\ntimeout = 5s\n");
	put("hbwatch.d/50-off.ini", "[hbwatch-demo]\nenabled = no\n");
	cr_assert_eq(load(), 0, "%s", err);
	expect_services((const char *[]){"web", NULL});
	cr_expect_null(settings_find(&s, "hbwatch-demo"));
	const struct service *off = settings_find_disabled(&s, "hbwatch-demo");
	cr_assert_not_null(off);
	cr_expect_eq(off->enabled_line, 2);
	cr_expect(strstr(off->enabled_file, "/hbwatch.d/50-off.ini"), "%s", off->enabled_file);
	cr_expect_eq(s.n_disabled, 1);
	settings_finish(&s);

	put("hbwatch.d/60-on.ini", "[hbwatch-demo]\nenabled = yes\nuser = root\n");
	cr_assert_eq(load(), 0, "%s", err);
	expect_services((const char *[]){"hbwatch-demo", "web", NULL});
	cr_expect_eq(s.n_disabled, 0);
	settings_finish(&s);

	put("hbwatch.d/70-bad.ini", "[web]\nenabled = maybe\n");
	expect_error(load(), -EINVAL, "hbwatch.d/70-bad.ini", 2,
		     "invalid value 'maybe' for 'enabled' in [web]: expected yes or no");
}

Test(config, limit_action)
{
	put("hbwatch.ini", GLOBAL "[web]\nunit = web.service\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(find("web")->limit_action, LIMIT_WAIT, "the default waits");
	settings_finish(&s);

	put("hbwatch.d/10-x.ini", "[web]\nlimit_action = kill-unit\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(find("web")->limit_action, LIMIT_KILL_UNIT);
	settings_finish(&s);

	put("hbwatch.d/10-x.ini", "[web]\nlimit_action = restart-unit\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(find("web")->limit_action, LIMIT_RESTART_UNIT);
	settings_finish(&s);

	put("hbwatch.d/10-x.ini", "[web]\nlimit_action = reboot\n");
	expect_error(load(), -EINVAL, "hbwatch.d/10-x.ini", 2,
		     "invalid value 'reboot' for 'limit_action' in [web]: expected wait, "
		     "kill-unit or restart-unit");

	/* A whole unit only if the section names it. */
	put("hbwatch.d/10-x.ini", "[job]\n\nlimit_action = kill-unit\n");
	expect_error(load(), -EINVAL, "hbwatch.d/10-x.ini", 3,
		     "'limit_action = kill-unit' in [job] needs 'unit =': hbwatch hands over to "
		     "systemd only a unit named in the section");
	/* restart-unit reaches every process of a unit: one the section names,
	 * also where a drop-in sets the action. */
	put("hbwatch.d/10-x.ini", "[job]\n\naction = restart-unit\n");
	expect_error(load(), -EINVAL, "hbwatch.d/10-x.ini", 3,
		     "'action = restart-unit' in [job] needs 'unit =': hbwatch restarts only a "
		     "unit named in the section");
	put("hbwatch.d/10-x.ini", "[job]\nunit = job.service\naction = restart-unit\n");
	cr_assert_eq(load(), 0, "%s", err);
	settings_finish(&s);
	put("hbwatch.d/10-x.ini", "[web]\naction = log\nlimit_action = restart-unit\n");
	expect_error(load(), -EINVAL, "hbwatch.d/10-x.ini", 3,
		     "'limit_action = restart-unit' in [web] does nothing with 'action = log', "
		     "which no rate limit stops");
}

Test(config, dropin_error_line)
{
	put("hbwatch.ini", GLOBAL "[web]\ntimeout = 30s\n");
	put("hbwatch.d/05-ok.ini", "[web]\naction = log\n");
	put("hbwatch.d/10-web.ini", "; Local changes for web.\n"
				    ";\n"
				    "; Shorter timeout.\n"
				    "\n"
				    "[web]\n"
				    "action = kill\n"
				    "timout = 5s\n");
	put("hbwatch.d/20-later.ini", "garbage\n");
	cr_assert_eq(load(), -EINVAL);
	/* Each file's mistake, in the order the files are read. */
	char want[1024];
	snprintf(want, sizeof(want),
		 "%s/hbwatch.d/10-web.ini:7: unknown key 'timout' in [web] (did you mean "
		 "'timeout'?)\n%s/hbwatch.d/20-later.ini:1: expected 'key = value' or '[section]'",
		 dir, dir);
	cr_assert_str_eq(err, want);
}

/* A key set in the main file and again in a drop-in is an override; the
 * same key twice in one drop-in is still an error. */
Test(config, dropin_duplicate_key)
{
	put("hbwatch.ini", GLOBAL "[web]\ntimeout = 30s\n");
	put("hbwatch.d/10-web.ini", "[web]\ntimeout = 1s\n\ntimeout = 2s\n");
	expect_error(load(), -EINVAL, "hbwatch.d/10-web.ini", 4,
		     "duplicate key 'timeout' in [web] (first set on line 2)");
}

/* Users and groups are resolved once every file is read: only the final
 * value must exist, and its error points at where it was set. */
Test(config, dropin_overrides_before_lookup)
{
	put("hbwatch.ini",
	    "[hbwatch]\ngroup = no-such-group-hbw\n[web]\nuser = no-such-user-hbw\n");
	put("hbwatch.d/10-fix.ini", "[hbwatch]\ngroup = root\n[web]\nuser = root\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect(s.has_gid);
	cr_expect_eq(s.gid, 0);
	cr_expect(find("web")->has_user);
	cr_expect_eq(find("web")->uid, 0);
	settings_finish(&s);

	put("hbwatch.d/20-break.ini", "\n[web]\nuser = no-such-user-hbw\n");
	expect_error(load(), -EINVAL, "hbwatch.d/20-break.ini", 3,
		     "invalid value 'no-such-user-hbw' for 'user' in [web]: no such user");
}

Test(config, dropin_new_invalid_section)
{
	put("hbwatch.ini", GLOBAL);
	put("hbwatch.d/10-x.ini", "[ok]\n[not ok]\n");
	expect_error(load(), -EINVAL, "hbwatch.d/10-x.ini", 2,
		     "invalid service name 'not ok': use 1 to 63 letters, digits and -_.:@");
}

Test(config, dropin_dir_is_a_file)
{
	put("hbwatch.ini", GLOBAL);
	put("hbwatch.d", "");
	expect_error(load(), -ENOTDIR, "hbwatch.d", 0, "Not a directory");
}

Test(config, dropin_is_a_directory)
{
	char path[256];

	put("hbwatch.ini", GLOBAL);
	put("hbwatch.d/05-ok.ini", "");
	snprintf(path, sizeof(path), "%s/hbwatch.d/10-x.ini", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	expect_error(load(), -EISDIR, "hbwatch.d/10-x.ini", 0, "Is a directory");
}

/* A failed load (a reload) leaves the struct zeroed: the caller's settings
 * in force were never touched. */
Test(config, failed_reload_keeps_old)
{
	struct settings old;

	put("hbwatch.ini", GLOBAL "[web]\ntimeout = 5s\n");
	cr_assert_eq(settings_load(main_path, &old, err, sizeof(err)), 0, "%s", err);
	put("hbwatch.ini", GLOBAL "[web]\ntimeout = 5s\nbogus = 1\n");
	cr_expect_eq(load(), -EINVAL);
	cr_expect_null(s.services);
	cr_expect_eq(settings_find(&old, "web")->timeout_ns, 5 * SEC);
	settings_finish(&old);
	settings_finish(&old); /* safe twice */
	cr_expect_null(old.path);
}

/* Copy the file at SRC to DIR/REL. */
static void copy(const char *src, const char *rel)
{
	char buf[16384];
	FILE *f = fopen(src, "r");
	size_t n;

	cr_assert_not_null(f, "cannot open %s", src);
	n = fread(buf, 1, sizeof(buf), f);
	cr_assert(feof(f), "%s is larger than the test expects", src);
	fclose(f);
	put_bytes(rel, buf, n);
}

/* The shipped configuration loads and watches nothing: a service is only
 * ever watched because a drop-in names it.  With no group hbwatch its one
 * error is at its group line. */
Test(config, shipped_config)
{
	copy(SHIPPED_CONFIG, "hbwatch.ini");
	if (!have_group("hbwatch")) {
		char want[256]; /* longer than any line of it: one fgets per line */
		unsigned line = 0;
		FILE *f = fopen(main_path, "r");

		for (unsigned n = 1; fgets(want, sizeof(want), f); n++)
			if (strcmp(want, "group = hbwatch\n") == 0)
				line = n;
		fclose(f);
		cr_assert_neq(line, 0, "the shipped file has no 'group = hbwatch' line");
		expect_error(load(), -EINVAL, "hbwatch.ini", line,
			     "invalid value 'hbwatch' for 'group' in [hbwatch]: no such group "
			     "(create it with 'systemd-sysusers' or 'groupadd --system hbwatch', "
			     "or leave the value empty to keep the daemon's own group)");
		put("hbwatch.d/00-group.ini", "[hbwatch]\ngroup =\n");
	}
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_eq(s.key, 0x5098);
	cr_expect_eq(s.slots, 1024);
	cr_expect_eq(s.kill_grace_ns, 5 * SEC);
	cr_expect_eq(s.n_services, 0, "the shipped file watches [%s]",
		     s.n_services ? s.services[0].name : "");
	cr_expect_null(settings_find(&s, "hbwatch-demo"));
	cr_expect_not(s.legacy, "the shipped file watches a classic table");
	cr_expect_not(s.legacy_shared);
}

/* The example drop-in, once renamed to .ini, is a valid drop-in. */
Test(config, example_dropin)
{
	if (!getpwnam("www-data"))
		skip("the example's user www-data does not exist here");
	copy(SHIPPED_CONFIG, "hbwatch.ini");
	copy(EXAMPLE_DROPIN, "hbwatch.d/50-example.ini.example");
	put("hbwatch.d/00-group.ini", "[hbwatch]\ngroup =\n");
	cr_assert_eq(load(), 0, "%s", err);
	cr_expect_null(settings_find(&s, "web"), "a .ini.example file was loaded");
	settings_finish(&s);

	copy(EXAMPLE_DROPIN, "hbwatch.d/50-example.ini");
	cr_assert_eq(load(), 0, "%s", err);
	const struct service *w = find("web");
	cr_expect_str_eq(w->unit, "web-worker@*.service");
	cr_expect_str_eq(w->user, "www-data");
	cr_expect_eq(w->timeout_ns, 30 * SEC);
	cr_expect_eq(w->signal, SIGABRT);
	cr_expect_eq(w->kill_burst, 5);
	cr_expect_eq(w->kill_interval_ns, 10 * MIN);
}
