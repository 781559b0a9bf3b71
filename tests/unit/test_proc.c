/* /proc parsing, keys and names: pure, or about the test process itself. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "key.h"
#include "name.h"
#include "proc.h"

static int parse(const char *s, uint64_t *v)
{
	return proc_parse_starttime(s, strlen(s), v);
}

Test(proc, starttime_plain)
{
	uint64_t v = 0;
	const char *s = "1234 (bash) S 1 1234 1234 34816 1234 4194304 100 0 0 0 1 2 0 0 20 0 1 0 "
			"987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n";

	cr_assert_eq(parse(s, &v), 0);
	cr_assert_eq(v, 987654);
}

Test(proc, starttime_hostile_comm)
{
	/* comm may contain spaces and ')' : only the last ')' ends it. */
	uint64_t v = 0;
	const char *s =
	    "77 (a) b) 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20) R 1 77 77 0 -1 "
	    "4194560 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0\n";

	cr_assert_eq(parse(s, &v), 0);
	cr_assert_eq(v, 4242);
}

Test(proc, starttime_rejects_garbage)
{
	uint64_t v;

	cr_assert_eq(parse("", &v), -EINVAL);
	cr_assert_eq(parse("1 (x", &v), -EINVAL);
	cr_assert_eq(parse("1 (x) S 1 2", &v), -EINVAL);
	cr_assert_eq(parse("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x1", &v), -EINVAL);
	cr_assert_eq(parse("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
			   "99999999999999999999999",
			   &v),
		     -EINVAL);
}

Test(proc, starttime_of_self_is_stable)
{
	uint64_t a = 0, b = 0;

	cr_assert_eq(proc_starttime(getpid(), &a), 0);
	cr_assert_eq(proc_starttime(getpid(), &b), 0);
	cr_assert_eq(a, b);
	cr_assert_gt(a, 0);
	cr_assert_eq(proc_starttime(-1, &a), -ESRCH);
	struct proc_stat st;
	cr_assert_eq(proc_stat_facts(getpid(), &st), 0);
	cr_assert(!st.kthread);
}

/* The bound a library record's stamp gives: the kernel's own rounding, the
 * earlier of the maker's clock and ours, none without a stamp. */
Test(proc, started_by_bound)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t tick = 1000000000u / (uint64_t)hz;

	cr_assert_eq(proc_started_by(0, 5 * tick), 0, "no stamp, no bound");
	cr_assert_eq(proc_started_by(5 * tick, 9 * tick), 5);
	cr_assert_eq(proc_started_by(6 * tick - 1, 9 * tick), 5, "rounded down");
	cr_assert_eq(proc_started_by(9 * tick, 7 * tick), 7, "a clock ahead of ours: ours");

	cr_assert(proc_start_matches(5, 0, 5));
	cr_assert(proc_start_matches(4, 0, 5));
	cr_assert_not(proc_start_matches(6, 0, 5), "started after the record was made");
	cr_assert_not(proc_start_matches(5, 0, 0), "neither start time nor stamp");
	cr_assert(proc_start_matches(5, 5, 0));
	cr_assert_not(proc_start_matches(4, 5, 100), "a recorded start time is exact");
}

/* A record this process makes now bounds its own start time. */
Test(proc, self_within_its_bound)
{
	uint64_t st = 0;
	struct timespec ts;

	cr_assert_eq(clock_gettime(CLOCK_BOOTTIME, &ts), 0);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	cr_assert_eq(proc_starttime(getpid(), &st), 0);
	cr_assert(proc_start_matches(st, 0, proc_started_by(now, now)), "start %llu, bound %llu",
		  (unsigned long long)st, (unsigned long long)proc_started_by(now, now));
}

Test(proc, uid_of_self)
{
	uid_t ruid = (uid_t)-1, euid = (uid_t)-1, suid = (uid_t)-1;

	cr_assert_eq(proc_uids(getpid(), &ruid, &euid, &suid), 0);
	cr_assert_eq(ruid, getuid());
	cr_assert_eq(euid, geteuid());
	cr_assert_eq(proc_uids(-1, &ruid, &euid, &suid), -ESRCH);
}

Test(key, parse)
{
	int k = 0;

	cr_assert_eq(key_parse("0x5098", &k), 0);
	cr_assert_eq(k, 0x5098);
	cr_assert_eq(key_parse("5095", &k), 0);
	cr_assert_eq(k, 0x5095);
	cr_assert_eq(key_parse("0X7fffffff", &k), 0);
	cr_assert_eq(key_parse("0", &k), -EINVAL);
	cr_assert_eq(key_parse("", &k), -EINVAL);
	cr_assert_eq(key_parse("-1", &k), -EINVAL);
	cr_assert_eq(key_parse("0x80000000", &k), -EINVAL);
	cr_assert_eq(key_parse("12g", &k), -EINVAL);
	cr_assert_eq(key_parse(" 12", &k), -EINVAL);
}

Test(name, validate)
{
	char longest[HB_NAME_MAX + 1], too_long[HB_NAME_MAX + 2];

	memset(longest, 'a', HB_NAME_MAX);
	longest[HB_NAME_MAX] = '\0';
	memset(too_long, 'a', HB_NAME_MAX + 1);
	too_long[HB_NAME_MAX + 1] = '\0';
	cr_assert_eq(name_validate("worker"), 0);
	cr_assert_eq(name_validate("web@1.svc:x-y_z"), 0);
	cr_assert_eq(name_validate(longest), 0);
	cr_assert_eq(name_validate(too_long), -EINVAL);
	cr_assert_eq(name_validate(""), -EINVAL);
	cr_assert_eq(name_validate(NULL), -EINVAL);
	cr_assert_eq(name_validate("a b"), -EINVAL);
	cr_assert_eq(name_validate("a/b"), -EINVAL);
	cr_assert_eq(name_validate("a\nb"), -EINVAL);
	cr_assert_eq(name_validate("caf\xc3\xa9"), -EINVAL);
}

/* /proc/PID/status of a process started by uid 1000 from a set-user-ID
 * root program, as the kernel writes it (recorded; the fields around Uid:
 * matter only in that the parser must find the right line). */
#define STATUS_HEAD                                                                                \
	"Name:\tpasswd\n"                                                                          \
	"Umask:\t0022\n"                                                                           \
	"State:\tS (sleeping)\n"                                                                   \
	"Tgid:\t31337\n"                                                                           \
	"Ngid:\t0\n"                                                                               \
	"Pid:\t31337\n"                                                                            \
	"PPid:\t31300\n"                                                                           \
	"TracerPid:\t0\n"
#define STATUS_TAIL                                                                                \
	"Gid:\t1000\t1000\t1000\t1000\n"                                                           \
	"FDSize:\t64\n"                                                                            \
	"Groups:\t24 27 1000 \n"                                                                   \
	"NStgid:\t31337\n"                                                                         \
	"NSpid:\t31337\n"                                                                          \
	"Kthread:\t0\n"                                                                            \
	"VmPeak:\t   10588 kB\n"                                                                   \
	"Threads:\t1\n"                                                                            \
	"SigQ:\t0/62869\n"                                                                         \
	"CapEff:\t0000000000000000\n"                                                              \
	"voluntary_ctxt_switches:\t3\n"                                                            \
	"nonvoluntary_ctxt_switches:\t1\n"

struct uids_case {
	const char *text;
	int r; /* 0 or -EINVAL */
	uid_t ruid, euid, suid;
};

static const struct uids_case uids_cases[] = {
    /* As the kernel writes it: real, effective, saved, filesystem. */
    {STATUS_HEAD "Uid:\t1000\t0\t0\t0\n" STATUS_TAIL, 0, 1000, 0, 0},
    {STATUS_HEAD "Uid:\t0\t0\t0\t0\n" STATUS_TAIL, 0, 0, 0, 0},
    {STATUS_HEAD "Uid:\t1000\t1001\t1002\t1003\n" STATUS_TAIL, 0, 1000, 1001, 1002},
    /* The line first, last without a newline, spaces for tabs. */
    {"Uid:\t5\t6\t7\t8\n" STATUS_TAIL, 0, 5, 6, 7},
    {STATUS_HEAD "Uid:\t5\t6\t7", 0, 5, 6, 7},
    {STATUS_HEAD "Uid: 5  6 \t 7 8\n", 0, 5, 6, 7},
    /* The largest uid there is; (uid_t)-1 means "no uid" and is none. */
    {STATUS_HEAD "Uid:\t4294967294\t4294967294\t4294967294\t4294967294\n", 0, 4294967294u,
     4294967294u, 4294967294u},
    /* A comm of "Uid: 0 0 0" is on the Name: line, not a Uid: line of its
     * own (the kernel escapes newlines in comm). */
    {"Name:\tUid:\t0\t0\t0\t0\nUmask:\t0022\nUid:\t1000\t1000\t1000\t1000\n", 0, 1000, 1000, 1000},
    {"Name:\tx\\nUid:\t0\t0\t0\nUid:\t1000\t1000\t1000\t1000\n", 0, 1000, 1000, 1000},
    /* No Uid: line at all. */
    {"", -EINVAL, 0, 0, 0},
    {STATUS_HEAD STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "uid:\t0\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD " Uid:\t0\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "NSUid:\t0\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    /* Garbage where the numbers should be. */
    {STATUS_HEAD "Uid:\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:", -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t1000\t1000\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t1000\t1000", -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\tabc\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t1000x\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t-1\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t1000\t-0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t+1000\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t0x10\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t1000\n\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    /* Numbers no uid_t holds are refused, never cut down to one (2^32
     * would otherwise become uid 0, root). */
    {STATUS_HEAD "Uid:\t4294967295\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t4294967296\t4294967296\t4294967296\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t1000\t1000\t4294967296\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t18446744073709551615\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t18446744073709551616\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
    {STATUS_HEAD "Uid:\t99999999999999999999999999999\t0\t0\t0\n" STATUS_TAIL, -EINVAL, 0, 0, 0},
};

Test(proc, parse_uids)
{
	for (size_t i = 0; i < sizeof(uids_cases) / sizeof(uids_cases[0]); i++) {
		const struct uids_case *c = &uids_cases[i];
		uid_t r = 77, e = 77, s = 77;
		int rc = proc_parse_uids(c->text, &r, &e, &s);

		cr_expect_eq(rc, c->r, "case %zu: returned %d, want %d", i, rc, c->r);
		if (c->r == 0 && rc == 0) {
			cr_expect_eq(r, c->ruid, "case %zu: ruid %u", i, (unsigned)r);
			cr_expect_eq(e, c->euid, "case %zu: euid %u", i, (unsigned)e);
			cr_expect_eq(s, c->suid, "case %zu: suid %u", i, (unsigned)s);
		}
	}
}

/* The live file agrees with getresuid(). */
Test(proc, uids_of_self)
{
	uid_t r, e, s, pr = 77, pe = 77, ps = 77;

	cr_assert_eq(getresuid(&r, &e, &s), 0);
	cr_assert_eq(proc_uids(getpid(), &pr, &pe, &ps), 0);
	cr_expect_eq(pr, r);
	cr_expect_eq(pe, e);
	cr_expect_eq(ps, s);
	cr_expect_eq(proc_uids(-1, &pr, &pe, &ps), -ESRCH);
}
