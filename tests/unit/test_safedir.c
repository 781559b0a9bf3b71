/* safedir_open() on real directories in a fresh temporary directory (ours,
 * under the sticky /tmp): which paths it opens and which it refuses, and
 * that the handle is the directory the path named.  Other owners are the
 * adversarial suite's (adv-metrics-dir: a real second uid). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safedir.h"

static char dir[64];
static char why[512];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	strcpy(dir, "/tmp/hbwatch-test-safedir-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
}

static void teardown(void)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(safedir, .init = setup, .fini = teardown);

static const char *at(const char *rel)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, rel);
	return p[i];
}

/* Open PATH; the handle must be the directory MARK is in. */
static void opens_to(const char *path, const char *mark)
{
	int fd = safedir_open(path, geteuid(), why, sizeof(why));

	cr_assert_geq(fd, 0, "%s refused: %s", path, why);
	cr_assert_eq(faccessat(fd, mark, F_OK, AT_SYMLINK_NOFOLLOW), 0,
		     "%s opened, but %s is not in it", path, mark);
	close(fd);
}

static void refused(const char *path, int err, const char *because)
{
	int fd = safedir_open(path, geteuid(), why, sizeof(why));

	if (fd >= 0)
		close(fd);
	cr_assert_eq(fd, -err, "%s: got %d, want %d (%s)", path, fd, -err, why);
	cr_assert(strstr(why, because), "%s: '%s' does not say '%s'", path, why, because);
}

static void mark(const char *d)
{
	int fd = open(at(d), O_WRONLY | O_CREAT | O_EXCL, 0644);

	cr_assert_geq(fd, 0);
	close(fd);
}

Test(safedir, plain_directory)
{
	cr_assert_eq(mkdir(at("m"), 0755), 0);
	mark("m/here");
	opens_to(at("m"), "here");
	opens_to(at("m/"), "here");
	opens_to(at("./m/."), "here");
}

Test(safedir, writable_by_group_or_others_is_refused)
{
	cr_assert_eq(mkdir(at("g"), 0755), 0);
	cr_assert_eq(mkdir(at("g/m"), 0755), 0);
	cr_assert_eq(chmod(at("g"), 0775), 0);
	refused(at("g/m"), EPERM, "g is writable by its group and not sticky");
	cr_assert_eq(chmod(at("g"), 0757), 0);
	refused(at("g/m"), EPERM, "g is writable by its others and not sticky");
	/* The directory itself too. */
	cr_assert_eq(chmod(at("g"), 0755), 0);
	cr_assert_eq(chmod(at("g/m"), 0777), 0);
	refused(at("g/m"), EPERM, "g/m is writable");
}

Test(safedir, sticky_is_accepted)
{
	cr_assert_eq(mkdir(at("s"), 0755), 0);
	cr_assert_eq(chmod(at("s"), 01777), 0);
	cr_assert_eq(mkdir(at("s/m"), 0755), 0);
	mark("s/m/here");
	opens_to(at("s/m"), "here");
	mark("s/there");
	opens_to(at("s"), "there");
}

Test(safedir, symlinks_of_ours_are_followed_and_their_targets_checked)
{
	cr_assert_eq(mkdir(at("real"), 0755), 0);
	cr_assert_eq(mkdir(at("real/m"), 0755), 0);
	mark("real/m/here");
	cr_assert_eq(symlink("real", at("rel")), 0);
	cr_assert_eq(symlink(at("real"), at("abs")), 0);
	cr_assert_eq(symlink("rel/m", at("chain")), 0);
	opens_to(at("rel/m"), "here");
	opens_to(at("abs/m"), "here");
	opens_to(at("chain"), "here");
	/* The target's path is checked as the link's is. */
	cr_assert_eq(mkdir(at("open"), 0777), 0);
	cr_assert_eq(chmod(at("open"), 0777), 0);
	cr_assert_eq(mkdir(at("open/m"), 0755), 0);
	cr_assert_eq(symlink("open/m", at("via")), 0);
	refused(at("via"), EPERM, "open is writable by its others");
}

Test(safedir, dotdot_loops_and_files_are_refused)
{
	cr_assert_eq(mkdir(at("m"), 0755), 0);
	refused(at("m/../m"), EPERM, "'..' in the path");
	cr_assert_eq(symlink("loop", at("loop")), 0);
	refused(at("loop"), ELOOP, "loop");
	mark("file");
	refused(at("file"), ENOTDIR, "file");
	refused(at("none"), ENOENT, "none");
	refused("relative/path", EINVAL, "not an absolute path");
}
