#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "ownership.h"
#include "proc.h"
#include "timens.h"

int census_walk(int *cursor, int (*fn)(int shmid, const struct shmid_ds *ds, void *userdata),
		void *userdata)
{
	struct shm_info info = {0};
	struct shmid_ds ds;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);

	if (max < 0)
		return -errno;
	for (; *cursor <= max; (*cursor)++) {
		int id, r;

		/* Zeroed first: memory checkers that do not know SHM_STAT_ANY
		 * (valgrind 3.19) would take the kernel's answer as garbage. */
		memset(&ds, 0, sizeof(ds));
		id = shmctl(*cursor, SHM_STAT_ANY, &ds);
		if (id < 0)
			continue;
		r = fn(id, &ds, userdata);
		if (r)
			return r;
	}
	return 0;
}

struct records_only {
	int (*fn)(int shmid, const struct shmid_ds *ds, void *userdata);
	void *userdata;
};

static int record_sized(int shmid, const struct shmid_ds *ds, void *userdata)
{
	const struct records_only *f = userdata;

	return record_size_ok(ds->shm_segsz) ? f->fn(shmid, ds, f->userdata) : 0;
}

int census_each(int (*fn)(int shmid, const struct shmid_ds *ds, void *userdata), void *userdata)
{
	struct records_only f = {.fn = fn, .userdata = userdata};
	int cursor = 0;

	return census_walk(&cursor, record_sized, &f);
}

int census_inspect(int shmid, const struct shmid_ds *ds, struct census_entry *e)
{
	struct hb_record_map m;
	uint64_t st;
	uid_t ruid, euid, suid;
	int r;

	*e = (struct census_entry){
	    .shmid = shmid, .cuid = ds->shm_perm.cuid, .uid = ds->shm_perm.uid};
	r = record_attach(shmid, true, &m);
	if (r < 0)
		return r;
	r = record_read(&m, &e->v);
	if (r == -EAGAIN) {
		e->busy = true;
		e->v.flags = m.rec->flags;
		e->v.pid = m.rec->pid;
		e->v.start_time = m.rec->start_time;
		e->v.made_boot_ns = m.rec->made_boot_ns;
	}
	record_unmap(&m);
	if (r == -EPROTO)
		return r; /* rewritten since the attach: no record to show */
	e->pid = (e->v.flags & HB_RECORD_SELF) ? ds->shm_cpid : e->v.pid;
	if (e->pid <= 0) {
		snprintf(e->why, sizeof(e->why), "it names no process");
		return 0;
	}
	r = proc_starttime(e->pid, &st);
	if (r < 0 || !proc_start_matches(st, e->v.start_time, record_started_by(&e->v))) {
		snprintf(e->why, sizeof(e->why), "its process is gone");
		return 0;
	}
	e->alive = true;
	/* A library record holds no start time, only its stamp: give the
	 * process's own, now that it is known to fit (hbctl status shows
	 * it, and a later look compares it exactly). */
	if (!e->v.start_time)
		e->v.start_time = st;
	/* Ages count on our clock: a process in a time namespace stamps its
	 * beats on its own.  Unreadable (gone meanwhile): taken as ours. */
	if (timens_relative(e->pid, &e->clock_rel_ns) == 0)
		timens_view_to_ours(&e->v, e->clock_rel_ns);
	r = proc_uids(e->pid, &ruid, &euid, &suid);
	if (r < 0) {
		snprintf(e->why, sizeof(e->why), "cannot read the user of pid %d: %s", (int)e->pid,
			 strerror(-r));
		return 0;
	}
	struct ownership_facts f = {.cuid = ds->shm_perm.cuid,
				    .uid = ds->shm_perm.uid,
				    .mode = ds->shm_perm.mode,
				    .ruid = ruid,
				    .suid = suid};
	e->trusted = ownership_check(&f, e->why, sizeof(e->why)) == OWNERSHIP_OK;
	return 0;
}

struct collect {
	struct census_entry *e;
	size_t n, cap;
	int error;
};

static int collect_one(int shmid, const struct shmid_ds *ds, void *userdata)
{
	struct collect *c = userdata;
	struct census_entry e;

	if (census_inspect(shmid, ds, &e) < 0)
		return 0; /* not a record, or gone meanwhile */
	if (!e.busy && e.v.state != HB_RECORD_OPEN)
		return 0;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		struct census_entry *ne = realloc(c->e, ncap * sizeof(*ne));
		if (!ne) {
			c->error = -ENOMEM;
			return 1;
		}
		c->e = ne;
		c->cap = ncap;
	}
	c->e[c->n++] = e;
	return 0;
}

int census_collect(struct census_entry **out, size_t *n)
{
	struct collect c = {0};
	int r = census_each(collect_one, &c);

	if (c.error)
		r = c.error;
	if (r < 0) {
		free(c.e);
		return r;
	}
	*out = c.e;
	*n = c.n;
	return 0;
}
