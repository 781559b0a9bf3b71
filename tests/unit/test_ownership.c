/* ownership_check(): whose word a heartbeat record is.  Every verdict, and
 * the sentence the daemon logs with it, from the kernel facts alone. */
#include <criterion/criterion.h>
#include <string.h>

#include "ownership.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct ownership_case {
	const char *what;
	struct ownership_facts f; /* cuid, uid, mode, ruid, suid */
	enum ownership_verdict v;
	const char *why; /* the whole sentence; "" for OK */
};

static const struct ownership_case cases[] = {
    /* Only the owner may write: the record is its word. */
    {"own record", {1000, 1000, 0644, 1000, 1000}, OWNERSHIP_OK, ""},
    {"owner-only read", {1000, 1000, 0600, 1000, 1000}, OWNERSHIP_OK, ""},
    {"read-only for all", {1000, 1000, 0444, 1000, 1000}, OWNERSHIP_OK, ""},
    /* The kernel's own bits above 0777 (SHM_DEST 01000, SHM_LOCKED
     * 02000) say nothing about writers. */
    {"marked for removal", {1000, 1000, 01644, 1000, 1000}, OWNERSHIP_OK, ""},
    {"locked", {1000, 1000, 03644, 1000, 1000}, OWNERSHIP_OK, ""},
    /* Group or other write: anyone of them could have written it. */
    {"group write",
     {1000, 1000, 0664, 1000, 1000},
     OWNERSHIP_SHARED_WRITE,
     "its mode 664 lets its group write it, so it is not the word of its owner"},
    {"group write only",
     {1000, 1000, 0620, 1000, 1000},
     OWNERSHIP_SHARED_WRITE,
     "its mode 620 lets its group write it, so it is not the word of its owner"},
    {"other write",
     {1000, 1000, 0646, 1000, 1000},
     OWNERSHIP_SHARED_WRITE,
     "its mode 646 lets everyone write it, so it is not the word of its owner"},
    {"other write only",
     {1000, 1000, 0602, 1000, 1000},
     OWNERSHIP_SHARED_WRITE,
     "its mode 602 lets everyone write it, so it is not the word of its owner"},
    {"both write",
     {1000, 1000, 0666, 1000, 1000},
     OWNERSHIP_SHARED_WRITE,
     "its mode 666 lets its group and everyone write it, so it is not the word of its owner"},
    {"both write, marked for removal",
     {1000, 1000, 01666, 1000, 1000},
     OWNERSHIP_SHARED_WRITE,
     "its mode 666 lets its group and everyone write it, so it is not the word of its owner"},
    {"both write only",
     {1000, 1000, 0022, 1000, 1000},
     OWNERSHIP_SHARED_WRITE,
     "its mode 022 lets its group and everyone write it, so it is not the word of its owner"},
    /* Even root's record: the mode is checked first. */
    {"root's, group write",
     {0, 0, 0664, 1000, 1000},
     OWNERSHIP_SHARED_WRITE,
     "its mode 664 lets its group write it, so it is not the word of its owner"},
    /* Root could signal anything. */
    {"root creator and owner", {0, 0, 0644, 1000, 1000}, OWNERSHIP_OK, ""},
    {"root's, for root", {0, 0, 0644, 0, 0}, OWNERSHIP_OK, ""},
    /* hbctl's records: made by the user, handed to root. */
    {"user's, handed to root", {1000, 0, 0644, 1000, 1000}, OWNERSHIP_OK, ""},
    {"root's, handed to the user", {0, 1000, 0644, 1000, 1000}, OWNERSHIP_OK, ""},
    /* kill(2) also lets a sender signal a process whose saved uid is its
     * own (a set-user-ID program run by someone else). */
    {"saved uid is the creator's", {2000, 2000, 0644, 1000, 2000}, OWNERSHIP_OK, ""},
    {"creator saved, owner real", {2000, 1000, 0644, 1000, 2000}, OWNERSHIP_OK, ""},
    {"root process, saved uid 2000", {2000, 2000, 0644, 0, 2000}, OWNERSHIP_OK, ""},
    /* The creator could not signal the process. */
    {"creator cannot signal",
     {1001, 1000, 0644, 1000, 1000},
     OWNERSHIP_CREATOR,
     "it was created by uid 1001, who could not signal a process of uid 1000 itself"},
    {"creator cannot signal root",
     {1001, 0, 0644, 0, 0},
     OWNERSHIP_CREATOR,
     "it was created by uid 1001, who could not signal a process of uid 0 itself"},
    {"creator is only the effective uid",
     {3000, 3000, 0644, 1000, 2000},
     OWNERSHIP_CREATOR,
     "it was created by uid 3000, who could not signal a process of uid 1000 itself"},
    {"neither could: the creator is named",
     {1001, 1002, 0644, 1000, 1000},
     OWNERSHIP_CREATOR,
     "it was created by uid 1001, who could not signal a process of uid 1000 itself"},
    /* The owner could not: a record given away to someone else. */
    {"owner cannot signal",
     {1000, 1001, 0644, 1000, 1000},
     OWNERSHIP_OWNER,
     "it is owned by uid 1001, who could not signal a process of uid 1000 itself"},
    {"root's, given to another user",
     {0, 1001, 0644, 1000, 1000},
     OWNERSHIP_OWNER,
     "it is owned by uid 1001, who could not signal a process of uid 1000 itself"},
    {"nobody's",
     {1000, 65534, 0644, 1000, 1000},
     OWNERSHIP_OWNER,
     "it is owned by uid 65534, who could not signal a process of uid 1000 itself"},
};

Test(ownership, verdicts)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct ownership_case *c = &cases[i];
		char why[256] = "";
		enum ownership_verdict v = ownership_check(&c->f, why, sizeof(why));

		cr_expect_eq(v, c->v, "%s: verdict %d, want %d (%s)", c->what, v, c->v, why);
		cr_expect_str_eq(why, c->why, "%s: \"%s\", want \"%s\"", c->what, why, c->why);
		/* No reason wanted: same verdict, nothing written. */
		cr_expect_eq(ownership_check(&c->f, NULL, 0), c->v, "%s", c->what);
		cr_expect_eq(ownership_check(&c->f, why, 0), c->v, "%s", c->what);
	}
}

/* A short buffer gets a truncated sentence, never an overrun. */
Test(ownership, short_reason_buffer)
{
	const struct ownership_facts f = {1001, 1000, 0644, 1000, 1000};
	char why[32];

	memset(why, 'x', sizeof(why));
	cr_expect_eq(ownership_check(&f, why, 10), OWNERSHIP_CREATOR);
	cr_expect_str_eq(why, "it was cr");
	cr_expect_eq(why[10], 'x');
}

/* kill(2)'s rule for an unprivileged sender of uid U (its real and
 * effective uid both U): the target's real or saved uid. */
Test(ownership, uid_may_signal)
{
	cr_expect(uid_may_signal(0, 1000, 1000));
	cr_expect(uid_may_signal(0, 0, 0));
	cr_expect(uid_may_signal(1000, 1000, 1000));
	cr_expect(uid_may_signal(1000, 1000, 0));
	cr_expect(uid_may_signal(1000, 0, 1000));
	cr_expect_not(uid_may_signal(1000, 0, 0));
	cr_expect_not(uid_may_signal(1000, 1001, 1002));
	cr_expect_not(uid_may_signal(65534, 1000, 1000));
	cr_expect_not(uid_may_signal((uid_t)-1, 1000, 1000));
}
