/* handover_unit_dir(): where a unit's cgroup is, from a process's cgroup
 * path; and handover_check() on the test's own cgroup, whose only
 * processes are root's or ours. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "handover.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct dir_case {
	const char *cg, *unit;
	int r;
	const char *dir;
};

static const struct dir_case dir_cases[] = {
    {"/system.slice/cron.service", "cron.service", 0, "/R/system.slice/cron.service"},
    /* A delegated subtree: the unit's cgroup is above the process's. */
    {"/system.slice/web.service/worker/1", "web.service", 0, "/R/system.slice/web.service"},
    {"/system.slice/system-web.slice/web@1.service", "web@1.service", 0,
     "/R/system.slice/system-web.slice/web@1.service"},
    /* A prefix of a component is not the unit. */
    {"/system.slice/cron.service2", "cron.service", -ENOENT, NULL},
    {"/system.slice/xcron.service", "cron.service", -ENOENT, NULL},
    {"/user.slice/user-1000.slice/session-2.scope", "cron.service", -ENOENT, NULL},
    {"/", "cron.service", -ENOENT, NULL},
    {"", "cron.service", -ENOENT, NULL},
};

Test(handover, unit_dir)
{
	for (size_t i = 0; i < ARRAY_SIZE(dir_cases); i++) {
		const struct dir_case *c = &dir_cases[i];
		char out[256] = "";
		int r = handover_unit_dir("/R", c->cg, c->unit, out, sizeof(out));

		cr_expect_eq(r, c->r, "%s in %s: %d", c->unit, c->cg, r);
		if (c->dir)
			cr_expect_str_eq(out, c->dir, "%s in %s", c->unit, c->cg);
	}
}

Test(handover, unit_dir_too_long)
{
	char out[16];

	cr_expect_eq(handover_unit_dir("/sys/fs/cgroup", "/system.slice/cron.service",
				       "cron.service", out, sizeof(out)),
		     -ENAMETOOLONG);
}

/* A unit that is not where the process runs: refused with the reason. */
Test(handover, not_its_unit)
{
	struct ownership_facts root = {.cuid = 0, .uid = 0, .mode = 0600};
	char why[512] = "";
	int r = handover_check(&root, getpid(), "hbwatch-no-such-unit.service", why, sizeof(why));

	cr_expect_lt(r, 0);
	cr_expect(strstr(why, "cannot") != NULL, "%s", why);
}
