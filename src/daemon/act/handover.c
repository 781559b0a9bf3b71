/* Reading a unit's processes before it is handed to systemd: its cgroup
 * (and every cgroup below it, a delegated subtree too), cgroup.procs of
 * each, and the uids of each process, decided by identity_may_signal()
 * as a signal to that process would be.  Anything that cannot be read
 * refuses: a unit-wide action is the exception, acting on the hung
 * process alone the rule. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "handover.h"
#include "identity.h"

/* Deeper than any unit's subtree; more processes than that are not read
 * one by one in the loop. */
#define HANDOVER_MAX_DEPTH 16
#define HANDOVER_MAX_PROCS 65536u

int handover_unit_dir(const char *root, const char *cg, const char *unit, char *out, size_t len)
{
	size_t ulen = strlen(unit);

	for (const char *p = cg; (p = strchr(p, '/')) != NULL; p++) {
		if (strncmp(p + 1, unit, ulen) != 0 || (p[1 + ulen] != '/' && p[1 + ulen] != '\0'))
			continue;
		int n = snprintf(out, len, "%s%.*s", root, (int)(p + 1 + ulen - cg), cg);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	return -ENOENT;
}

struct walk {
	const struct ownership_facts *writer;
	unsigned seen, refused;
	char list[384]; /* "pid 12 (uid 0), ..." */
	char first[256];
};

static void refuse(struct walk *k, const struct signal_facts *f, const char *why)
{
	size_t len = strlen(k->list);

	if (k->refused++ == 0)
		snprintf(k->first, sizeof(k->first), "%s", why);
	if (len + 1 < sizeof(k->list))
		snprintf(k->list + len, sizeof(k->list) - len, "%spid %d (uid %u)", len ? ", " : "",
			 (int)f->pid, (unsigned)f->ruid);
}

static int walk_procs(struct walk *k, int dirfd)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	FILE *f;
	long v;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	while (fscanf(f, "%ld", &v) == 1) {
		struct signal_facts sf = {0};
		char why[256];

		if (++k->seen > HANDOVER_MAX_PROCS) {
			fclose(f);
			return -E2BIG;
		}
		if (v <= 0 || v > INT32_MAX)
			continue;
		identity_gather_signal(&sf, (pid_t)v);
		switch (identity_may_signal(k->writer, &sf, why, sizeof(why))) {
		case IDENTITY_OK:
		case IDENTITY_STALE: /* gone since: nothing to signal */
			break;
		default:
			refuse(k, &sf, why);
		}
	}
	fclose(f);
	return 0;
}

static int walk_tree(struct walk *k, int dirfd, unsigned depth)
{
	DIR *dir;
	struct dirent *de;
	int r = walk_procs(k, dirfd);

	if (r < 0 || depth >= HANDOVER_MAX_DEPTH)
		return r < 0 ? r : -ELOOP;
	dir = fdopendir(dup(dirfd));
	if (!dir)
		return -errno;
	while (r == 0 && (de = readdir(dir)) != NULL) {
		int sub;

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			continue; /* removed since */
		r = walk_tree(k, sub, depth + 1);
		close(sub);
	}
	closedir(dir);
	return r;
}

/* Where systemd's hierarchy is mounted: its own named one on a legacy or
 * hybrid tree, else the unified one. */
static const char *const roots[] = {"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified",
				    "/sys/fs/cgroup"};

int handover_check(const struct ownership_facts *writer, pid_t pid, const char *unit, char *why,
		   size_t why_len)
{
	struct walk k = {.writer = writer};
	char *cg = NULL, dir[4096];
	int r, fd = -1;

	r = sd_pid_get_cgroup(pid, &cg);
	if (r < 0) {
		snprintf(why, why_len, "cannot read the cgroup of pid %d: %s", (int)pid,
			 strerror(-r));
		return r;
	}
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) && fd < 0; i++) {
		char procs[4096 + 16];

		r = handover_unit_dir(roots[i], cg, unit, dir, sizeof(dir));
		if (r < 0)
			break;
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		if (access(procs, R_OK) == 0)
			fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(why, why_len, "cannot find the cgroup of %s (pid %d is in %s)", unit,
			 (int)pid, cg);
		free(cg);
		return r < 0 ? r : -ENOENT;
	}
	free(cg);
	r = walk_tree(&k, fd, 0);
	close(fd);
	if (r < 0) {
		snprintf(why, why_len, "cannot read every process of %s (%s): %s", unit, dir,
			 strerror(-r));
		return r;
	}
	if (k.refused) {
		snprintf(why, why_len,
			 "%u of its %u processes %s not the registrant's to signal: %s (%s)",
			 k.refused, k.seen, k.refused == 1 ? "is" : "are", k.list, k.first);
		return -EPERM;
	}
	snprintf(why, why_len, "ok");
	return 0;
}
