#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safedir.h"

/* The kernel's own limit on symlinks in one lookup. */
#define SAFEDIR_MAX_LINKS 40

/* In a user namespace other than the host's, the uid that files of users
 * outside it show as (the overflow uid); otherwise (uid_t)-1.  Those owners
 * are outside the namespace, whose root has no more power than its creator
 * has: they are trusted as root is, or nothing in a container's (or a
 * test's) namespace could be opened. */
static uid_t outside_uid(void)
{
	unsigned long inside, outside, count;
	unsigned overflow;
	uid_t r = (uid_t)-1;
	FILE *f = fopen("/proc/self/uid_map", "re");

	if (!f)
		return r;
	if (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3 &&
	    !(inside == 0 && outside == 0 && count == 4294967295ul)) {
		FILE *o = fopen("/proc/sys/fs/overflowuid", "re");

		if (o && fscanf(o, "%u", &overflow) == 1)
			r = (uid_t)overflow;
		if (o)
			fclose(o);
	}
	fclose(f);
	return r;
}

/* Whether ST (reached as SHOWN) may be trusted; if not, say why. */
static int trusted(const struct stat *st, const char *shown, uid_t owner, char *why, size_t why_len)
{
	if (st->st_uid != 0 && st->st_uid != owner && st->st_uid != outside_uid()) {
		snprintf(why, why_len,
			 "%s belongs to uid %u, who could put something else in its place", shown,
			 (unsigned)st->st_uid);
		return -EPERM;
	}
	if (S_ISDIR(st->st_mode) && (st->st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(st->st_mode & S_ISVTX)) {
		snprintf(why, why_len,
			 "%s is writable by its %s and not sticky: they could put something else "
			 "below it",
			 shown, st->st_mode & S_IWOTH ? "others" : "group");
		return -EPERM;
	}
	return 0;
}

/* Take the next name off the front of REST into NAME: its length, 0 at
 * the end of the path, or -ENAMETOOLONG. */
static int name_take(char *rest, char name[NAME_MAX + 1])
{
	char *p = rest;
	size_t n;

	while (*p == '/')
		p++;
	n = strcspn(p, "/");
	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(name, p, n);
	name[n] = '\0';
	memmove(rest, p + n, strlen(p + n) + 1);
	return (int)n;
}

/* NAME added to SHOWN (PATH_MAX long), as far as it fits: it is only
 * said, never opened. */
static void shown_add(char *shown, const char *name)
{
	if (strlen(shown) + strlen(name) + 2 < PATH_MAX) {
		if (strcmp(shown, "/") != 0)
			strcat(shown, "/");
		strcat(shown, name);
	}
}

/* The symlink NEXT, reached as SHOWN, put in front of REST (both PATH_MAX
 * long): the walk goes on from its target, from "/" (a new *FD) if that is
 * absolute, else from *FD with SHOWN cut back to it.  Closes NEXT.
 * Returns 0 or -errno (-ELOOP past SAFEDIR_MAX_LINKS, counted in *LINKS,
 * and then WHY). */
static int link_follow(int next, char *rest, char *shown, int *fd, unsigned *links, char *why,
		       size_t why_len)
{
	char target[PATH_MAX];
	ssize_t len = readlinkat(next, "", target, sizeof(target) - 1);

	close(next);
	if (len < 0)
		return -errno;
	target[len] = '\0';
	if (++*links > SAFEDIR_MAX_LINKS || (size_t)len + strlen(rest) + 2 > PATH_MAX) {
		snprintf(why, why_len, "%s: %s", shown, strerror(ELOOP));
		return -ELOOP;
	}
	/* The target, then what was left after the link. */
	memmove(rest + len + 1, rest, strlen(rest) + 1);
	memcpy(rest, target, (size_t)len);
	rest[len] = '/';
	if (target[0] == '/') {
		close(*fd);
		*fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (*fd < 0)
			return -errno;
		strcpy(shown, "/");
	} else {
		char *slash = strrchr(shown, '/');

		if (slash)
			slash[slash == shown ? 1 : 0] = '\0';
	}
	return 0;
}

/* One step of the walk from *FD: NAME, reached as SHOWN, opened without
 * following it, must be trusted; a symlink is followed (link_follow()),
 * a directory becomes *FD.  Returns 0 or -errno. */
static int walk_one(int *fd, const char *name, char *rest, char *shown, uid_t owner,
		    unsigned *links, char *why, size_t why_len)
{
	struct stat st;
	int r, next = openat(*fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (next < 0 || fstat(next, &st) < 0) {
		r = -errno;
		if (next >= 0)
			close(next);
		snprintf(why, why_len, "%s: %s", shown, strerror(-r));
		return r;
	}
	r = trusted(&st, shown, owner, why, why_len);
	if (r == 0 && S_ISLNK(st.st_mode))
		return link_follow(next, rest, shown, fd, links, why, why_len);
	if (r == 0 && !S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		snprintf(why, why_len, "%s: %s", shown, strerror(ENOTDIR));
	}
	if (r < 0) {
		close(next);
		return r;
	}
	close(*fd);
	*fd = next;
	return 0;
}

int safedir_open(const char *path, uid_t owner, char *why, size_t why_len)
{
	/* REST: what is left to walk; SHOWN: the path walked so far, for WHY. */
	char rest[PATH_MAX], shown[PATH_MAX] = "/";
	unsigned links = 0;
	struct stat st;
	int fd, r;

	why[0] = '\0';
	if (path[0] != '/' || strlen(path) >= sizeof(rest)) {
		snprintf(why, why_len, "%s is not an absolute path", path);
		return -EINVAL;
	}
	strcpy(rest, path);
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	r = trusted(&st, "/", owner, why, why_len);
	if (r < 0)
		goto fail;
	for (;;) {
		char name[NAME_MAX + 1];
		int n = name_take(rest, name);

		if (n == 0)
			break;
		if (n < 0) {
			r = n;
			goto fail;
		}
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			/* Going up could leave the directories checked so far. */
			snprintf(why, why_len, "%s: '..' in the path", path);
			r = -EPERM;
			goto fail;
		}
		shown_add(shown, name);
		r = walk_one(&fd, name, rest, shown, owner, &links, why, why_len);
		if (r < 0)
			goto fail;
	}
	return fd;
fail:
	if (!why[0])
		snprintf(why, why_len, "%s: %s", path, strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}
