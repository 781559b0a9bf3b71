/* identity_decide(): the one decision whether a registration may be acted
 * on.  Every verdict and every reason, against settings loaded from real
 * files, so a reason that points at a section is checked to point at the
 * right file and line. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "proc.h"
#include "settings.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define SELF 999 /* hbwatch's pid in the facts */
#define PID  4242

static char dir[64], main_path[128], dropin_path[160];
static struct settings s;

static const char main_text[] = "[hbwatch]\n"			 /* 1 */
				"group = root\n"		 /* 2 */
				"\n"				 /* 3 */
				"[web]\n"			 /* 4 */
				"unit = web@*.service\n"	 /* 5 */
				"user = 1000\n"			 /* 6 */
				"[any]\n"			 /* 7 */
				"[useronly]\n"			 /* 8 */
				"user = 2000\n";		 /* 9 */
static const char dropin_text[] = "; a drop-in adds a service\n" /* 1 */
				  "\n"				 /* 2 */
				  "[batch]\n"			 /* 3 */
				  "unit = batch-?.service\n";	 /* 4 */

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	char err[512] = "", sub[128];

	strcpy(dir, "/tmp/hbwatch-test-identity-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(main_path, sizeof(main_path), "%s/hbwatch.ini", dir);
	snprintf(sub, sizeof(sub), "%s/hbwatch.d", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	snprintf(dropin_path, sizeof(dropin_path), "%s/10-batch.ini", sub);
	put(main_path, main_text);
	put(dropin_path, dropin_text);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(settings_load(main_path, &s, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void)
{
	settings_finish(&s);
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(identity, .init = setup, .fini = teardown);

/* A healthy registration of [web]: uid 1000's own record, in its unit. */
static struct identity_facts base(void)
{
	return (struct identity_facts){
	    .pid = PID,
	    .self = SELF,
	    .start_time = 777,
	    .recorded = 777,
	    .ruid = 1000,
	    .suid = 1000,
	    .have_ownership = true,
	    .own = {.cuid = 1000, .uid = 1000, .mode = 0644},
	    .name_ok = true,
	    .name = "web",
	    .unit = "web@1.service",
	};
}

/* How each case differs from base(). */
#define SPOIL(fn, ...)                                                                             \
	static void fn(struct identity_facts *f)                                                   \
	{                                                                                          \
		__VA_ARGS__;                                                                       \
	}

SPOIL(as_is, (void)f)
SPOIL(pid_0, f->pid = 0)
SPOIL(pid_neg, f->pid = -1)
SPOIL(pid_min, f->pid = -2147483647 - 1)
SPOIL(pid_neg_group, f->pid = -PID)
SPOIL(pid_1, f->pid = 1)
SPOIL(pid_1_gone, f->pid = 1; f->gone = true)
SPOIL(pid_self, f->pid = SELF)
SPOIL(pid_self_root, f->pid = SELF; f->own.cuid = 0; f->own.uid = 0)
SPOIL(gone, f->gone = true; f->start_time = 0)
SPOIL(gone_unlisted, f->gone = true; f->name = "nope")
SPOIL(start_later, f->start_time = 778)
SPOIL(start_earlier, f->start_time = 776)
SPOIL(start_unrecorded, f->recorded = 0)
/* A library record holds no start time, only when it was made: the
 * process that started no later (in clock ticks) is its maker. */
SPOIL(bound_before, f->recorded = 0; f->started_by = 800)
SPOIL(bound_same_tick, f->recorded = 0; f->started_by = 777)
SPOIL(bound_after, f->recorded = 0; f->started_by = 776)
SPOIL(bound_ignored_when_recorded, f->started_by = 100000)
/* A classic record: no start time, the process must have started by the
 * second of its last beat (time(0) truncates: by its end, plus slack). */
#define NS 1000000000ull
SPOIL(atime_ok, f->have_atime = true; f->atime = 100; f->start_real_ns = 100 * NS)
SPOIL(atime_same_second, f->have_atime = true; f->atime = 100; f->start_real_ns = 101 * NS)
SPOIL(atime_in_slack, f->have_atime = true; f->atime = 100;
      f->start_real_ns = 101 * NS + IDENTITY_START_SLACK_NS)
SPOIL(atime_after, f->have_atime = true; f->atime = 100;
      f->start_real_ns = 101 * NS + IDENTITY_START_SLACK_NS + 1)
SPOIL(atime_negative, f->have_atime = true; f->atime = -1; f->start_real_ns = 1)
SPOIL(atime_unreadable, f->have_atime = true; f->atime = 100; f->start_real_err = -EINVAL)
SPOIL(atime_gone, f->have_atime = true; f->atime = -1; f->gone = true)
SPOIL(atime_init, f->have_atime = true; f->atime = -1; f->pid = 1)
SPOIL(atime_kthread, f->have_atime = true; f->atime = -1; f->kthread = true)
SPOIL(kthread, f->kthread = true)
SPOIL(kthread_root, f->kthread = true; f->ruid = 0; f->suid = 0; f->own.cuid = 0; f->own.uid = 0)
SPOIL(uids_eacces, f->uids_err = -EACCES)
SPOIL(uids_einval, f->uids_err = -EINVAL)
SPOIL(uids_and_bad_mode, f->uids_err = -EIO; f->own.mode = 0666)
SPOIL(group_write, f->own.mode = 0664)
SPOIL(other_write, f->own.mode = 0646)
SPOIL(both_write, f->own.mode = 0666)
SPOIL(both_write_root, f->own.mode = 0666; f->own.cuid = 0; f->own.uid = 0)
SPOIL(creator_other, f->own.cuid = 1001)
SPOIL(owner_other, f->own.uid = 1001)
SPOIL(creator_for_root, f->ruid = 0; f->suid = 0)
/* The process's uids are the facts' ruid/suid: whatever OWN carries in its
 * own ruid/suid is overwritten, never believed. */
SPOIL(own_uids_ignored, f->own.ruid = 1001; f->own.suid = 1001; f->own.cuid = 1001)
SPOIL(own_uids_ignored_ok, f->own.ruid = 5; f->own.suid = 5)
SPOIL(no_ownership, f->have_ownership = false; f->own.mode = 0666; f->own.cuid = 1001)
SPOIL(root_record, f->own.cuid = 0; f->own.uid = 0)
SPOIL(hbctl_record, f->own.cuid = 1000; f->own.uid = 0)
SPOIL(saved_uid, f->name = "any"; f->unit = NULL; f->ruid = 0; f->suid = 1000)
SPOIL(name_bad, f->name_ok = false; f->name = "we b")
SPOIL(name_bad_but_listed, f->name_ok = false)
SPOIL(unlisted, f->name = "nope")
SPOIL(unlisted_case, f->name = "Web")
SPOIL(unlisted_prefix, f->name = "we")
SPOIL(unit_other, f->unit = "api@1.service")
SPOIL(unit_glob_empty, f->unit = "web@.service")
SPOIL(unit_glob_long, f->unit = "web@a-b.c:d.service")
SPOIL(unit_suffix, f->unit = "web@1.service.d")
SPOIL(unit_prefix, f->unit = "xweb@1.service")
SPOIL(unit_plain, f->unit = "web.service")
SPOIL(unit_none, f->unit = NULL; f->unit_err = -ENODATA)
SPOIL(unit_none_0, f->unit = NULL; f->unit_err = 0)
SPOIL(unit_none_enxio, f->unit = NULL; f->unit_err = -ENXIO)
SPOIL(user_other, f->ruid = 1001; f->suid = 1001; f->own.cuid = 0; f->own.uid = 0)
SPOIL(user_saved_only, f->ruid = 1001; f->suid = 1000)
SPOIL(user_real_only, f->ruid = 1000; f->suid = 0)
SPOIL(unit_and_user, f->unit = "api.service"; f->ruid = 0; f->suid = 0; f->own.cuid = 0;
      f->own.uid = 0)
SPOIL(any_no_unit, f->name = "any"; f->unit = NULL; f->unit_err = -ENODATA)
SPOIL(any_root, f->name = "any"; f->unit = "x.service"; f->ruid = 0; f->suid = 0; f->own.cuid = 0;
      f->own.uid = 0)
SPOIL(useronly_ok, f->name = "useronly"; f->ruid = 2000; f->suid = 2000; f->own.cuid = 2000;
      f->own.uid = 2000)
SPOIL(useronly_other, f->name = "useronly"; f->own.cuid = 0; f->own.uid = 0)
SPOIL(dropin_ok, f->name = "batch"; f->unit = "batch-7.service")
SPOIL(dropin_unit, f->name = "batch"; f->unit = "batch-17.service")
SPOIL(dropin_no_unit, f->name = "batch"; f->unit = NULL; f->unit_err = -ENODATA)

struct identity_case {
	const char *what;
	void (*spoil)(struct identity_facts *f);
	enum identity_verdict v;
	const char *svc; /* the section handed back, NULL: none */
	/* The whole reason; "{main}" and "{dropin}" stand for the files. */
	const char *why;
};

#define NEVER "is never signalled"

static const struct identity_case cases[] = {
    {"ok", as_is, IDENTITY_OK, "web", "ok"},
    /* Never a target, whatever else is true. */
    {"pid 0", pid_0, IDENTITY_UNTRUSTED, NULL, "it names pid 0"},
    {"pid -1", pid_neg, IDENTITY_UNTRUSTED, NULL, "it names pid -1"},
    {"pid INT_MIN", pid_min, IDENTITY_UNTRUSTED, NULL, "it names pid -2147483648"},
    {"a process group", pid_neg_group, IDENTITY_UNTRUSTED, NULL, "it names pid -4242"},
    {"init", pid_1, IDENTITY_UNTRUSTED, NULL, "pid 1 (init) " NEVER},
    {"init, gone", pid_1_gone, IDENTITY_UNTRUSTED, NULL, "pid 1 (init) " NEVER},
    {"hbwatch itself", pid_self, IDENTITY_UNTRUSTED, NULL, "pid 999 (hbwatch itself) " NEVER},
    {"hbwatch itself, root's record", pid_self_root, IDENTITY_UNTRUSTED, NULL,
     "pid 999 (hbwatch itself) " NEVER},
    /* Another process, or none. */
    {"gone", gone, IDENTITY_STALE, NULL, "no such process"},
    {"gone, unlisted", gone_unlisted, IDENTITY_STALE, NULL, "no such process"},
    {"started later", start_later, IDENTITY_STALE, NULL,
     "start time differs, the pid belongs to another process now"},
    {"started earlier", start_earlier, IDENTITY_STALE, NULL,
     "start time differs, the pid belongs to another process now"},
    {"no start time recorded", start_unrecorded, IDENTITY_STALE, NULL,
     "start time differs, the pid belongs to another process now"},
    {"made after it started", bound_before, IDENTITY_OK, "web", "ok"},
    {"made in the tick it started", bound_same_tick, IDENTITY_OK, "web", "ok"},
    {"started after it was made", bound_after, IDENTITY_STALE, NULL,
     "it started after its record was made, the pid belongs to another process now (or its "
     "CLOCK_BOOTTIME runs behind ours: another time namespace)"},
    {"a recorded start time wins over the bound", bound_ignored_when_recorded, IDENTITY_OK, "web",
     "ok"},
    {"classic: started before its last beat", atime_ok, IDENTITY_OK, "web", "ok"},
    {"classic: started in its last beat's second", atime_same_second, IDENTITY_OK, "web", "ok"},
    {"classic: within the slack", atime_in_slack, IDENTITY_OK, "web", "ok"},
    {"classic: started after its last beat", atime_after, IDENTITY_STALE, NULL,
     "the process started after the record's last heartbeat (atime 100), so its pid belongs "
     "to another process now"},
    {"classic: a beat before 1970", atime_negative, IDENTITY_STALE, NULL,
     "the process started after the record's last heartbeat (atime -1), so its pid belongs to "
     "another process now"},
    {"classic: start unreadable", atime_unreadable, IDENTITY_STALE, NULL,
     "cannot read its start time: Invalid argument"},
    {"classic: gone", atime_gone, IDENTITY_STALE, NULL, "no such process"},
    {"classic: init first", atime_init, IDENTITY_UNTRUSTED, NULL, "pid 1 (init) " NEVER},
    {"classic: stale before kernel thread", atime_kthread, IDENTITY_STALE, NULL,
     "the process started after the record's last heartbeat (atime -1), so its pid belongs to "
     "another process now"},
    {"kernel thread", kthread, IDENTITY_UNTRUSTED, NULL, "it is a kernel thread"},
    {"kernel thread, root's record", kthread_root, IDENTITY_UNTRUSTED, NULL,
     "it is a kernel thread"},
    /* Its user unknown for now: neither trusted nor refused. */
    {"uids EACCES", uids_eacces, IDENTITY_RETRY, NULL, "cannot read its user: Permission denied"},
    {"uids EINVAL", uids_einval, IDENTITY_RETRY, NULL, "cannot read its user: Invalid argument"},
    {"uids error before ownership", uids_and_bad_mode, IDENTITY_RETRY, NULL,
     "cannot read its user: Input/output error"},
    /* Not the word of someone who could signal it. */
    {"group write", group_write, IDENTITY_UNTRUSTED, NULL,
     "its mode 664 lets its group write it, so it is not the word of its owner"},
    {"other write", other_write, IDENTITY_UNTRUSTED, NULL,
     "its mode 646 lets everyone write it, so it is not the word of its owner"},
    {"both write", both_write, IDENTITY_UNTRUSTED, NULL,
     "its mode 666 lets its group and everyone write it, so it is not the word of its owner"},
    {"both write, root's", both_write_root, IDENTITY_UNTRUSTED, NULL,
     "its mode 666 lets its group and everyone write it, so it is not the word of its owner"},
    {"creator cannot signal", creator_other, IDENTITY_UNTRUSTED, NULL,
     "it was created by uid 1001, who could not signal a process of uid 1000 itself"},
    {"owner cannot signal", owner_other, IDENTITY_UNTRUSTED, NULL,
     "it is owned by uid 1001, who could not signal a process of uid 1000 itself"},
    {"user's record for root", creator_for_root, IDENTITY_UNTRUSTED, NULL,
     "it was created by uid 1000, who could not signal a process of uid 0 itself"},
    {"own's uids ignored", own_uids_ignored, IDENTITY_UNTRUSTED, NULL,
     "it was created by uid 1001, who could not signal a process of uid 1000 itself"},
    {"own's uids ignored, ok", own_uids_ignored_ok, IDENTITY_OK, "web", "ok"},
    {"no ownership facts", no_ownership, IDENTITY_OK, "web", "ok"},
    {"root's record", root_record, IDENTITY_OK, "web", "ok"},
    {"hbctl's record", hbctl_record, IDENTITY_OK, "web", "ok"},
    {"saved uid", saved_uid, IDENTITY_OK, "any", "ok"},
    /* Its name is no watched service. */
    {"malformed name", name_bad, IDENTITY_UNWATCHED, NULL,
     "its name is not a service name (1 to 63 letters, digits and -_.:@)"},
    {"malformed, though listed", name_bad_but_listed, IDENTITY_UNWATCHED, NULL,
     "its name is not a service name (1 to 63 letters, digits and -_.:@)"},
    {"unlisted", unlisted, IDENTITY_UNWATCHED, NULL, "\"nope\" is not a watched service in {main}"},
    {"unlisted, other case", unlisted_case, IDENTITY_UNWATCHED, NULL,
     "\"Web\" is not a watched service in {main}"},
    {"unlisted, a prefix", unlisted_prefix, IDENTITY_UNWATCHED, NULL,
     "\"we\" is not a watched service in {main}"},
    /* Its section's unit= or user= does not match. */
    {"other unit", unit_other, IDENTITY_MISMATCH, "web",
     "it runs in api@1.service, but [web] ({main}:4) requires unit web@*.service"},
    {"glob, empty instance", unit_glob_empty, IDENTITY_OK, "web", "ok"},
    {"glob, long instance", unit_glob_long, IDENTITY_OK, "web", "ok"},
    {"glob, suffix", unit_suffix, IDENTITY_MISMATCH, "web",
     "it runs in web@1.service.d, but [web] ({main}:4) requires unit web@*.service"},
    {"glob, prefix", unit_prefix, IDENTITY_MISMATCH, "web",
     "it runs in xweb@1.service, but [web] ({main}:4) requires unit web@*.service"},
    {"glob, no instance", unit_plain, IDENTITY_MISMATCH, "web",
     "it runs in web.service, but [web] ({main}:4) requires unit web@*.service"},
    {"no unit", unit_none, IDENTITY_MISMATCH, "web",
     "it runs in no systemd unit (not started by systemd, or hbwatch sees another cgroup tree), "
     "but [web] ({main}:4) requires unit "
     "web@*.service"},
    {"no unit, no error", unit_none_0, IDENTITY_MISMATCH, "web",
     "it runs in no systemd unit (not started by systemd, or hbwatch sees another cgroup tree), "
     "but [web] ({main}:4) requires unit "
     "web@*.service"},
    {"no unit, ENXIO", unit_none_enxio, IDENTITY_MISMATCH, "web",
     "its systemd unit could not be read (No such device or address), but [web] ({main}:4) "
     "requires "
     "unit web@*.service"},
    {"other user", user_other, IDENTITY_MISMATCH, "web",
     "it runs as uid 1001, but [web] ({main}:4) requires user 1000"},
    {"user only saved", user_saved_only, IDENTITY_MISMATCH, "web",
     "it runs as uid 1001, but [web] ({main}:4) requires user 1000"},
    {"user real, saved root", user_real_only, IDENTITY_OK, "web", "ok"},
    {"unit checked before user", unit_and_user, IDENTITY_MISMATCH, "web",
     "it runs in api.service, but [web] ({main}:4) requires unit web@*.service"},
    {"no unit required", any_no_unit, IDENTITY_OK, "any", "ok"},
    {"no user required", any_root, IDENTITY_OK, "any", "ok"},
    {"user only, ok", useronly_ok, IDENTITY_OK, "useronly", "ok"},
    {"user only, other", useronly_other, IDENTITY_MISMATCH, "useronly",
     "it runs as uid 1000, but [useronly] ({main}:8) requires user 2000"},
    /* A section a drop-in added is pointed at there. */
    {"drop-in, ok", dropin_ok, IDENTITY_OK, "batch", "ok"},
    {"drop-in, other unit", dropin_unit, IDENTITY_MISMATCH, "batch",
     "it runs in batch-17.service, but [batch] ({dropin}:3) requires unit batch-?.service"},
    {"drop-in, no unit", dropin_no_unit, IDENTITY_MISMATCH, "batch",
     "it runs in no systemd unit (not started by systemd, or hbwatch sees another cgroup tree), "
     "but [batch] ({dropin}:3) requires unit "
     "batch-?.service"},
};

/* WANT with {main} and {dropin} replaced by the files' paths. */
static void expand(const char *want, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	while (*want && n + 1 < len) {
		const char *sub = NULL;

		if (strncmp(want, "{main}", 6) == 0)
			sub = main_path, want += 6;
		else if (strncmp(want, "{dropin}", 8) == 0)
			sub = dropin_path, want += 8;
		if (sub) {
			n += (size_t)snprintf(out + n, len - n, "%s", sub);
			continue;
		}
		out[n++] = *want++;
		out[n] = '\0';
	}
}

/* A verdict's name, for failure messages (the daemon says why, never the
 * verdict's name). */
static const char *verdict_name(enum identity_verdict v)
{
	static const char *const names[] = {
	    [IDENTITY_OK] = "ok",
	    [IDENTITY_STALE] = "stale",
	    [IDENTITY_UNTRUSTED] = "untrusted",
	    [IDENTITY_UNWATCHED] = "unwatched",
	    [IDENTITY_MISMATCH] = "mismatch",
	    [IDENTITY_RETRY] = "retry",
	};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

Test(identity, verdicts)
{
	cr_assert_eq(s.n_services, 4, "the configuration did not load as written");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct identity_case *c = &cases[i];
		struct identity_facts f = base();
		static const struct service sentinel;
		const struct service *svc = &sentinel; /* must be reset */
		char why[512], want[512];
		enum identity_verdict v;

		c->spoil(&f);
		memset(why, 'x', sizeof(why));
		why[sizeof(why) - 1] = '\0';
		v = identity_decide(&f, &s, &svc, why, sizeof(why));
		cr_expect_eq(v, c->v, "%s: %s, want %s (%s)", c->what, verdict_name(v),
			     verdict_name(c->v), why);
		expand(c->why, want, sizeof(want));
		cr_expect_str_eq(why, want, "%s: \"%s\", want \"%s\"", c->what, why, want);
		if (c->svc) {
			cr_expect(svc && strcmp(svc->name, c->svc) == 0, "%s: section [%s]",
				  c->what, svc ? svc->name : "(none)");
			cr_expect_eq(svc, settings_find(&s, c->svc), "%s", c->what);
		} else {
			cr_expect_null(svc, "%s: a section was handed back", c->what);
		}
	}
}

/* A short buffer gets a truncated reason, never an overrun. */
Test(identity, short_reason_buffer)
{
	struct identity_facts f = base();
	const struct service *svc;
	char why[64];

	f.unit = "api@1.service";
	memset(why, 'x', sizeof(why));
	cr_expect_eq(identity_decide(&f, &s, &svc, why, 16), IDENTITY_MISMATCH);
	cr_expect_str_eq(why, "it runs in api@");
	cr_expect_eq(why[16], 'x');
}

/* identity_gather() on the test process itself (the one process a unit
 * test may look at), and on a pid that cannot exist. */
Test(identity, gather_self_and_none)
{
	struct identity_facts f = {.recorded = 1, .name = "kept", .name_ok = true};
	const struct service *svc;
	uint64_t st;
	uid_t r, e, sv;
	char why[256];

	identity_gather(&f, getpid());
	cr_expect_eq(f.pid, getpid());
	cr_expect_eq(f.self, getpid());
	cr_expect_not(f.gone);
	cr_assert_eq(proc_starttime(getpid(), &st), 0);
	cr_expect_eq(f.start_time, st);
	cr_expect_not(f.kthread);
	cr_expect_eq(f.uids_err, 0);
	cr_assert_eq(getresuid(&r, &e, &sv), 0);
	cr_expect_eq(f.ruid, r);
	cr_expect_eq(f.suid, sv);
	cr_expect((f.unit != NULL) == (f.unit_err == 0), "unit %s, error %d",
		  f.unit ? f.unit : "(none)", f.unit_err);
	/* The registration's own facts are the caller's. */
	cr_expect_eq(f.recorded, 1);
	cr_expect_str_eq(f.name, "kept");
	/* hbwatch never acts on itself, whatever it registered. */
	f.recorded = f.start_time;
	cr_expect_eq(identity_decide(&f, &s, &svc, why, sizeof(why)), IDENTITY_UNTRUSTED);
	free((char *)f.unit);

	f = (struct identity_facts){0};
	identity_gather(&f, -1);
	cr_expect(f.gone);
	cr_expect_null(f.unit);
}

/* The one pid rule, wherever a pid is about to be pinned or signalled. */
Test(identity, pid_ok)
{
	cr_assert(identity_pid_ok(2, SELF));
	cr_assert(identity_pid_ok(PID, SELF));
	cr_assert(!identity_pid_ok(1, SELF), "init");
	cr_assert(!identity_pid_ok(SELF, SELF), "hbwatch itself");
	cr_assert(!identity_pid_ok(0, SELF));
	cr_assert(!identity_pid_ok(-PID, SELF), "a process group");
}

/* Which start time a registration is tied to once its facts are built:
 * each row differs from a native record that holds only a bound. */
Test(identity, pinned_start)
{
	static const struct {
		const char *what;
		struct identity_facts f;
		uint64_t want;
	} rows[] = {
	    {"started by its bound",
	     {.pid = PID, .self = SELF, .start_time = 777, .started_by = 800},
	     777},
	    {"in the bound's tick",
	     {.pid = PID, .self = SELF, .start_time = 777, .started_by = 777},
	     777},
	    {"started after its bound",
	     {.pid = PID, .self = SELF, .start_time = 777, .started_by = 776},
	     0},
	    {"no bound", {.pid = PID, .self = SELF, .start_time = 777}, 0},
	    {"recorded wins",
	     {.pid = PID, .self = SELF, .start_time = 5, .recorded = 777, .started_by = 1},
	     777},
	    {"gone",
	     {.pid = PID, .self = SELF, .gone = true, .start_time = 777, .started_by = 800},
	     0},
	    /* Nothing of init or hbwatch is read: whatever start time the
	     * facts hold is not theirs to be tied to. */
	    {"init", {.pid = 1, .self = SELF, .start_time = 777, .started_by = 800}, 0},
	    {"hbwatch", {.pid = SELF, .self = SELF, .start_time = 777, .started_by = 800}, 0},
	    {"a group", {.pid = -PID, .self = SELF, .start_time = 777, .started_by = 800}, 0},
	    /* A classic record holds no start time: the pinned process's,
	     * checked against its atime by the decider. */
	    {"classic", {.pid = PID, .self = SELF, .start_time = 777, .have_atime = true}, 777},
	    {"classic, nothing read", {.pid = 1, .self = SELF, .have_atime = true}, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		cr_expect_eq(identity_pinned_start(&rows[i].f), rows[i].want, "%s: %llu, want %llu",
			     rows[i].what, (unsigned long long)identity_pinned_start(&rows[i].f),
			     (unsigned long long)rows[i].want);
}

/* A pidfd is opened only for what hbwatch may act on, and only once. */
Test(identity, pin)
{
	int fd = -1;

	cr_assert_eq(identity_pin(1, SELF, &fd), 0);
	cr_assert_eq(fd, -1, "init is never pinned");
	cr_assert_eq(identity_pin(getpid(), getpid(), &fd), 0);
	cr_assert_eq(fd, -1, "hbwatch never pins itself");
	cr_assert_eq(identity_pin(0x3fffffff, SELF, &fd), 0, "gone is no failure");
	cr_assert_eq(fd, -1);
	cr_assert_eq(identity_pin(getpid(), SELF, &fd), 0);
	cr_assert_geq(fd, 0, "a process it may act on is pinned");
	int held = fd;
	cr_assert_eq(identity_pin(getpid(), SELF, &fd), 0);
	cr_assert_eq(fd, held, "a pidfd held is kept");
	close(fd);
}

/* The builder reads nothing of what hbwatch may not act on, or of what no
 * pidfd holds; the decider then says why. */
Test(identity, build_unpinned_and_never)
{
	struct identity_facts f = {.start_time = 5};

	identity_build(&f, PID, SELF, false);
	cr_assert(f.gone, "no pidfd: gone");
	cr_assert_eq(f.pid, PID);
	f = (struct identity_facts){0};
	identity_build(&f, 1, SELF, true);
	cr_assert(!f.gone);
	cr_assert_eq(f.self, SELF);
	const struct service *svc;
	char why[128];
	cr_assert_eq(identity_decide(&f, &s, &svc, why, sizeof(why)), IDENTITY_UNTRUSTED);
	cr_assert_str_eq(why, "pid 1 (init) is never signalled");
	f = (struct identity_facts){.have_atime = true, .atime = 0, .skip_unit = true};
	identity_build(&f, getpid(), SELF, true);
	cr_assert(!f.gone);
	cr_assert_eq(f.start_real_err, 0);
	cr_assert(identity_atime_stale(&f), "this process started after 1970-01-01T00:00:01");
}

/* identity_may_signal(): each signal's own check, for the registered
 * process and for each member of its group.  The writer is the record's
 * creator and owner; both must be able to signal the target, as kill(2)
 * decides. */
#define SIGSPOIL(fn, ...)                                                                          \
	static void fn(struct signal_facts *f)                                                     \
	{                                                                                          \
		__VA_ARGS__;                                                                       \
	}

SIGSPOIL(t_own, (void)f)
SIGSPOIL(t_recorded, f->recorded = 777)
SIGSPOIL(t_restarted, f->recorded = 776)
SIGSPOIL(t_gone, f->gone = true)
SIGSPOIL(t_init, f->pid = 1)
SIGSPOIL(t_pid0, f->pid = 0)
SIGSPOIL(t_group_number, f->pid = -PID)
SIGSPOIL(t_self, f->pid = SELF)
SIGSPOIL(t_kthread, f->kthread = true)
SIGSPOIL(t_uids_err, f->uids_err = -EACCES)
SIGSPOIL(t_root, f->ruid = 0; f->suid = 0)
SIGSPOIL(t_setuid_kept_real, f->suid = 0)
SIGSPOIL(t_other, f->ruid = 1001; f->suid = 1001)
SIGSPOIL(t_saved_only, f->ruid = 1001)

struct signal_case {
	const char *what;
	struct ownership_facts writer;
	void (*spoil)(struct signal_facts *f);
	enum identity_verdict v;
	const char *why;
};

#define USER1000                                                                                   \
	{                                                                                          \
		.cuid = 1000, .uid = 1000, .mode = 0600                                            \
	}
#define ROOTS                                                                                      \
	{                                                                                          \
		.cuid = 0, .uid = 0, .mode = 0600                                                  \
	}
#define HBCTL                                                                                      \
	{                                                                                          \
		.cuid = 1000, .uid = 0, .mode = 0600                                               \
	}
#define NO_ROOT "it runs as uid 0 (saved uid 0), which uid 1000 could not signal itself"

static const struct signal_case signal_cases[] = {
    {"its own process", USER1000, t_own, IDENTITY_OK, "ok"},
    {"the recorded start time", USER1000, t_recorded, IDENTITY_OK, "ok"},
    {"another start time", USER1000, t_restarted, IDENTITY_STALE,
     "start time differs, the pid belongs to another process now"},
    {"gone", USER1000, t_gone, IDENTITY_STALE, "no such process"},
    {"init", ROOTS, t_init, IDENTITY_UNTRUSTED, "pid 1 is never signalled"},
    {"pid 0", ROOTS, t_pid0, IDENTITY_UNTRUSTED, "pid 0 is never signalled"},
    {"a group number", ROOTS, t_group_number, IDENTITY_UNTRUSTED, "pid -4242 is never signalled"},
    {"hbwatch", ROOTS, t_self, IDENTITY_UNTRUSTED, "pid 999 is never signalled"},
    {"a kernel thread", ROOTS, t_kthread, IDENTITY_UNTRUSTED, "it is a kernel thread"},
    {"uids unreadable", USER1000, t_uids_err, IDENTITY_RETRY,
     "cannot read its user: Permission denied"},
    /* sudo's child in the job's group: root's for good. */
    {"a root member", USER1000, t_root, IDENTITY_UNTRUSTED, NO_ROOT},
    /* A setuid-root program exec'd keeps the real uid: kill(2) allows it. */
    {"setuid, real uid kept", USER1000, t_setuid_kept_real, IDENTITY_OK, "ok"},
    {"another user's member", USER1000, t_other, IDENTITY_UNTRUSTED,
     "it runs as uid 1001 (saved uid 1001), which uid 1000 could not signal itself"},
    {"saved uid only", USER1000, t_saved_only, IDENTITY_OK, "ok"},
    {"root's record, root member", ROOTS, t_root, IDENTITY_OK, "ok"},
    {"root's record, anyone", ROOTS, t_other, IDENTITY_OK, "ok"},
    /* hbctl's record: root owns it, the user made it; the user's word. */
    {"hbctl's record, root member", HBCTL, t_root, IDENTITY_UNTRUSTED, NO_ROOT},
    {"hbctl's record, its own", HBCTL, t_own, IDENTITY_OK, "ok"},
    {"owner another user",
     {.cuid = 1000, .uid = 1001},
     t_own,
     IDENTITY_UNTRUSTED,
     "it runs as uid 1000 (saved uid 1000), which uid 1001 could not signal itself"},
};

Test(identity, may_signal_table)
{
	for (size_t i = 0; i < ARRAY_SIZE(signal_cases); i++) {
		const struct signal_case *c = &signal_cases[i];
		struct signal_facts f = {
		    .pid = PID, .self = SELF, .start_time = 777, .ruid = 1000, .suid = 1000};
		enum identity_verdict v;
		char why[256] = "";

		c->spoil(&f);
		v = identity_may_signal(&c->writer, &f, why, sizeof(why));
		cr_expect_eq(v, c->v, "%s: verdict %s", c->what, verdict_name(v));
		cr_expect_str_eq(why, c->why, "%s", c->what);
	}
}

/* identity_gather_signal() on the test process, and on no process. */
Test(identity, gather_signal_self_and_none)
{
	struct signal_facts f = {.recorded = 5};
	uid_t r, e, sv;
	uint64_t st;

	identity_gather_signal(&f, getpid());
	cr_expect_not(f.gone);
	cr_assert_eq(proc_starttime(getpid(), &st), 0);
	cr_expect_eq(f.start_time, st);
	cr_expect_eq(f.recorded, 5);
	cr_assert_eq(getresuid(&r, &e, &sv), 0);
	cr_expect_eq(f.ruid, r);
	cr_expect_eq(f.suid, sv);
	identity_gather_signal(&f, 0x3fffffff);
	cr_expect(f.gone);
}
