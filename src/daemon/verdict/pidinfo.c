#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidinfo.h"

/* <linux/pidfd.h> of older distributions lacks these; the numbers are
 * the kernel's ABI.  The structure is the first version of the reply
 * (PIDFD_INFO_SIZE_VER0, 64 bytes), which every kernel since 6.13 takes. */
#define PIDFS_IOCTL_MAGIC	   0xFF
#define PIDINFO_GET_TIME_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 7)
#define PIDINFO_CREDS		   (1ull << 1)

struct pidinfo_reply {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid;
	uint32_t ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t spare0[1];
};

_Static_assert(sizeof(struct pidinfo_reply) == 64, "PIDFD_INFO_SIZE_VER0");

#define PIDINFO_GET_INFO _IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidinfo_reply)

/* -1: not known yet; 0: the kernel lacks it; 1: it answers. */
static int have_info = -1, have_timens = -1;

bool pidinfo_enabled(void)
{
	const char *off = getenv("HBWATCH_NO_PIDFD_INFO");

	return !(off && strcmp(off, "1") == 0);
}

/* An ioctl this kernel does not know answers ENOTTY (or EINVAL): then it
 * is not asked again. */
static bool unknown_ioctl(int err)
{
	return err == ENOTTY || err == EINVAL || err == EOPNOTSUPP;
}

int pidinfo_uids(int pidfd, uid_t *ruid, uid_t *suid)
{
	struct pidinfo_reply r = {.mask = PIDINFO_CREDS};

	if (have_info == 0 || !pidinfo_enabled())
		return -EOPNOTSUPP;
	if (ioctl(pidfd, PIDINFO_GET_INFO, &r) < 0) {
		if (errno == ESRCH)
			return -ESRCH;
		if (unknown_ioctl(errno))
			have_info = 0;
		return -EOPNOTSUPP;
	}
	have_info = 1;
	if (!(r.mask & PIDINFO_CREDS))
		return -EOPNOTSUPP;
	*ruid = (uid_t)r.ruid;
	*suid = (uid_t)r.suid;
	return 0;
}

int pidinfo_same_timens(int pidfd)
{
	static ino_t ours;
	static dev_t ours_dev;
	struct stat st;
	int fd, r;

	if (have_timens == 0 || !pidinfo_enabled())
		return -EOPNOTSUPP;
	if (!ours) {
		if (stat("/proc/self/ns/time", &st) < 0)
			return -errno;
		ours = st.st_ino;
		ours_dev = st.st_dev;
	}
	fd = ioctl(pidfd, PIDINFO_GET_TIME_NAMESPACE, 0);
	if (fd < 0) {
		r = -errno;
		if (unknown_ioctl(-r))
			have_timens = 0;
		return r;
	}
	have_timens = 1;
	r = fstat(fd, &st) < 0 ? -errno : st.st_ino == ours && st.st_dev == ours_dev;
	close(fd);
	return r;
}
