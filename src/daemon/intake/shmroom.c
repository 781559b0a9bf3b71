#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>

#include "log.h"
#include "shmroom.h"

#define SHMROOM_TOP 3

static int read_limit(const char *path, unsigned long long *v)
{
	FILE *f = fopen(path, "re");
	int r;

	*v = 0;
	if (!f) {
		r = errno;
		return r > 0 ? -r : -EIO;
	}
	r = fscanf(f, "%llu", v) == 1 ? 0 : -EINVAL;
	fclose(f);
	return r;
}

/* USED out of LIMIT is at least PCT percent (LIMIT may be near 2^64). */
static bool at_least(unsigned long long used, unsigned long long limit, unsigned pct)
{
	return limit > 0 && used >= limit / 100u * pct + limit % 100u * pct / 100u;
}

/* "uid A (N), uid B (M)" of the SHMROOM_TOP holding the most segments. */
static void top_holders(const struct shares *owners, char *buf, size_t len)
{
	size_t off = 0, chosen[SHMROOM_TOP] = {0};

	buf[0] = '\0';
	for (size_t k = 0; k < SHMROOM_TOP; k++) {
		size_t best = owners->n;

		for (size_t i = 0; i < owners->n; i++) {
			bool taken = false;

			for (size_t j = 0; j < k; j++)
				taken = taken || chosen[j] == i;
			if (!taken && (best == owners->n || owners->v[i].n > owners->v[best].n))
				best = i;
		}
		if (best == owners->n)
			break;
		chosen[k] = best;
		if (off < len)
			off +=
			    (size_t)snprintf(buf + off, len - off, "%suid %u (%u)", k ? ", " : "",
					     (unsigned)owners->v[best].uid, owners->v[best].n);
	}
}

void shmroom_check(struct daemon *d, const struct shares *owners)
{
	struct shm_info info = {0};
	unsigned long long mni = 0, all = 0;
	struct event e = {.kind = EVENT_ODD, .who.slot = -1};
	char top[128];
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);

	if (max < 0 || read_limit("/proc/sys/kernel/shmmni", &mni) < 0 ||
	    read_limit("/proc/sys/kernel/shmall", &all) < 0)
		return;
	if (!at_least(info.used_ids, mni, 90) && !at_least(info.shm_tot, all, 90)) {
		if (!at_least(info.used_ids, mni, 80) && !at_least(info.shm_tot, all, 80))
			d->intake.shm_tight = false; /* the episode is over */
		return;
	}
	if (d->intake.shm_tight)
		return;
	d->intake.shm_tight = true;
	top_holders(owners, top, sizeof(top));
	event_emit(&d->stats, &e,
		   "System V shared memory is nearly used up: %d of kernel.shmmni=%llu segments, "
		   "%llu of kernel.shmall=%llu pages; new registrations fail (ENOSPC) once it "
		   "is; most segments are held by %s (see ipcs -m -c, ipcrm)",
		   info.used_ids, mni, (unsigned long long)info.shm_tot, all,
		   top[0] ? top : "nobody visible");
}
