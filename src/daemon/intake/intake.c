/* Finding registrations.  Two ways, because the registry is only a hint:
 *  - the ring: each announcement names one record, read at once (the
 *    doorbell wakes us), so the work per registration is constant and
 *    independent of how many are watched: only the new record is
 *    verified and its deadline checked, nothing else is scanned;
 *  - the census: every record on the host, enumerated with SHM_STAT_ANY,
 *    at start (a restart loses nothing), when hints were lost or forged
 *    (an overrun ring, an entry never written), and every few seconds.
 * A group member who rewrites the ring can delay discovery by at most one
 * census period; it cannot hide a record for good or make one up. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/shm.h>

#include "census.h"
#include "clock.h"
#include "daemon.h"
#include "intake.h"
#include "log.h"
#include "shmroom.h"
#include "watch.h"

#define RING_BUDGET	 4096u		      /* entries read per pass */
#define PENDING_NS	 (10u * 1000000u)     /* an entry not filled after this is lost */
#define CENSUS_PERIOD_NS (5000u * 1000000ull) /* the safety net */
#define CENSUS_GAP_NS	 (1000u * 1000000ull) /* at most one census a second */
#define CENSUS_QUIET_NS	 (20u * 1000000ull)   /* no census begins this close to a deadline */
#define RING_AGAIN_NS	 (1000u * 1000u)      /* more than one pass's worth: again after */
/* Deadlines first: registrations (a stampede of them) and the census's
 * walk over the host's segments (a system call each: 10 000 segments take
 * 3 ms on a quiet machine, 9 ms and more beside 10 000 exiting
 * processes) are done in slices of at most this much work, and the rest is
 * left to the doorbell's event, which runs after any deadline that fell due
 * meanwhile (INTAKE_PRIORITY). */
#define SLICE_NS (1000u * 1000u)

/* Take up record SHMID; *SOONEST: the earliest deadline taken up. */
static void consider_record(struct daemon *d, int shmid, const struct shmid_ds *ds, uint64_t now,
			    uint64_t *soonest)
{
	struct watch *w = watch_consider(d, shmid, ds);

	if (w) {
		/* No whole triage read of a process just taken up: its first
		 * CPU sample came with adoption's read, and the deadline scans
		 * make the warm reads, a few per pass (triage.h). */
		unsigned warm = d->triage_warm_left;
		uint64_t deadline;

		d->triage_warm_left = 0;
		deadline = watch_check(d, w, now);
		d->triage_warm_left = warm;
		if (deadline < *soonest)
			*soonest = deadline;
	}
}

/* Has this slice's work run its time?  Then the rest waits for the next
 * turn of the loop, after any deadline due by then. */
static bool slice_over(uint64_t start)
{
	return now_ns() - start >= SLICE_NS;
}

/* Come back for the rest after the loop's other work: the doorbell's
 * eventfd, whose event runs at INTAKE_PRIORITY.  Without the doorbell,
 * the deadline timer brings us back.  Returns when to come back. */
static uint64_t again(struct daemon *d, uint64_t now, uint64_t soonest)
{
	if (d->doorbell.running && eventfd_write(d->doorbell.efd, 1) == 0)
		return soonest;
	return soonest < now + RING_AGAIN_NS ? soonest : now + RING_AGAIN_NS;
}

void intake_free(struct intake *in)
{
	share_free(&in->census_uids);
	in->census_running = false;
}

struct census_pass {
	struct daemon *d;
	uint64_t now, start, soonest;
};

/* One segment of the walk: counted by owner, and taken up if it is a
 * record.  Past the slice, the walk stops before it. */
static int census_one(int shmid, const struct shmid_ds *ds, void *userdata)
{
	struct census_pass *c = userdata;

	if (slice_over(c->start))
		return 1;
	share_add(&c->d->intake.census_uids, ds->shm_perm.uid, 1);
	if (record_size_ok(ds->shm_segsz))
		consider_record(c->d, shmid, ds, c->now, &c->soonest);
	return 0;
}

/* Walk on for the slice that began at START.  Returns false if it ran out
 * first (the walk goes on at the next turn); *SOONEST: the earliest
 * deadline taken up. */
static bool census_step(struct daemon *d, uint64_t now, uint64_t start, uint64_t *soonest)
{
	struct intake *in = &d->intake;
	struct census_pass c = {.d = d, .now = now, .start = start, .soonest = *soonest};
	int r = census_walk(&in->census_cursor, census_one, &c);

	*soonest = c.soonest;
	if (r > 0)
		return false;
	in->census_running = false;
	if (r < 0)
		log_error("cannot enumerate shared-memory segments: %s", strerror(-r));
	else
		shmroom_check(d, &in->census_uids);
	share_free(&in->census_uids);
	return true;
}

/* Read the ring, for at most a slice that began at NOW. */
static uint64_t ring_read(struct daemon *d, uint64_t now)
{
	struct intake *in = &d->intake;
	uint64_t tail, soonest = UINT64_MAX;
	unsigned n = 0;

	if (!d->reg.r.hdr)
		return soonest;
	tail = atomic_load_explicit(&d->reg.r.hdr->tail, memory_order_acquire);
	if (tail - in->head > d->reg.r.ring_size) {
		/* Overrun, or a tail moved by hand: what the ring held is lost,
		 * the census finds it. */
		in->head = tail;
		in->pending_since = 0;
		in->census_soon = true;
	}
	for (; in->head != tail && n < RING_BUDGET; n++) {
		if (slice_over(now))
			return again(d, now, soonest);
		int shmid = registry_entry(&d->reg.r, in->head);

		if (shmid < 0) {
			/* Taken but not yet filled; a writer that never fills
			 * it (killed in between, or hostile) costs a census. */
			if (!in->pending_since)
				in->pending_since = now;
			if (now - in->pending_since < PENDING_NS)
				return soonest < in->pending_since + PENDING_NS
					   ? soonest
					   : in->pending_since + PENDING_NS;
			in->census_soon = true;
		} else {
			consider_record(d, shmid, NULL, now, &soonest);
		}
		in->head++;
		in->pending_since = 0;
	}
	if (in->head != tail)
		return soonest < now + RING_AGAIN_NS ? soonest : now + RING_AGAIN_NS;
	/* Read up to the tail the doorbell told of; later rings ring again. */
	doorbell_done(&d->doorbell);
	return soonest;
}

uint64_t intake_ring(struct daemon *d, uint64_t now)
{
	uint64_t soonest = ring_read(d, now), found = UINT64_MAX;

	/* Registrations first (a client may be waiting for its own to be
	 * taken up); the rest of a census's walk in what is left of the
	 * slice, or at a later turn. */
	if (d->intake.census_running && !census_step(d, now, now, &found))
		found = again(d, now, found);
	return found < soonest ? found : soonest;
}

/* Begin a census: the walk itself runs in slices (census_step()). */
static uint64_t census(struct daemon *d, uint64_t now)
{
	struct intake *in = &d->intake;
	uint64_t soonest = UINT64_MAX;

	in->census_last_ns = now;
	in->census_next_ns = now + CENSUS_PERIOD_NS;
	in->census_soon = false;
	in->full_warned = false;
	/* Records turned down stay turned down while unchanged; the memory
	 * of them is dropped now and then so it cannot grow without bound. */
	if (in->turned_down.n > 4096u + 4u * d->ws.n)
		idmap_free(&in->turned_down);
	share_free(&in->census_uids);
	in->census_cursor = 0;
	in->census_running = true;
	if (!census_step(d, now, now_ns(), &soonest))
		return again(d, now, soonest);
	return soonest;
}

uint64_t intake_run(struct daemon *d, uint64_t now, uint64_t deadline)
{
	struct intake *in = &d->intake;
	uint64_t next, census_at, soonest = intake_ring(d, now);

	census_at = in->census_soon && in->census_last_ns + CENSUS_GAP_NS < in->census_next_ns
			? in->census_last_ns + CENSUS_GAP_NS
			: in->census_next_ns;
	/* A census costs a system call per segment of the host, in slices:
	 * it does not begin while a deadline is due, unless it has waited a
	 * whole period already. */
	if (!in->census_running && now >= census_at &&
	    (deadline > now + CENSUS_QUIET_NS || now >= census_at + CENSUS_PERIOD_NS)) {
		uint64_t found = census(d, now);
		if (found < soonest)
			soonest = found;
	}
	next = in->census_next_ns;
	if (in->census_soon && in->census_last_ns + CENSUS_GAP_NS < next)
		next = in->census_last_ns + CENSUS_GAP_NS;
	if (next <= now)
		next = deadline + 1000000u; /* deferred: right after that deadline */
	return soonest < next ? soonest : next;
}
