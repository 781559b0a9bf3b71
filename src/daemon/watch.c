/* Tracking the registrations in the table: adoption (pidfd + start time),
 * exit detection, stale slots, and the deadline of each. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/sem.h>
#include <unistd.h>

#include "daemon.h"
#include "deadline.h"
#include "log.h"
#include "proc.h"
#include "sem.h"

/* How long the table lock may be unavailable before the daemon says so. */
#define LOCK_WARN_NS (1000u * 1000000u)

static struct event watch_event(const struct watch *w, enum event_kind kind)
{
	return (struct event){.kind = kind,
			      .name = w->name,
			      .slot = (int)w->slot,
			      .pid = w->pid,
			      .legacy = w->legacy};
}

const char *watch_what(const struct watch *w)
{
	return w->legacy ? "legacy record" : "slot";
}

/* A copy of a slot's name that is safe to print: hostile tables may hold
 * anything, and a newline in a log line could forge another record. */
static void name_printable(char *dst, const struct hb_slot_view *v)
{
	size_t i;

	for (i = 0; i < HB_NAME_SIZE - 1 && v->name[i]; i++) {
		unsigned char c = (unsigned char)v->name[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

void watch_release(struct watch *w)
{
	w->exit_source = sd_event_source_disable_unref(w->exit_source);
	w->escalate_source = sd_event_source_disable_unref(w->escalate_source);
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
	if (w->state == WATCH_ACTIVE || w->state == WATCH_KILLING || w->state == WATCH_LOGGED)
		w->d->n_active--;
	w->state = WATCH_FREE;
	w->free_pending = false;
	w->warned_future = false;
	w->warned_busy = false;
}

/* Take the table lock without waiting; say once if it stays held. */
static bool table_trylock(struct daemon *d)
{
	int r = sem_lock(d->table.semid, 0);

	if (r == 0) {
		if (d->lock_warned)
			log_notice("table lock is free again");
		d->lock_busy_since_ns = 0;
		d->lock_warned = false;
		return true;
	}
	uint64_t now = now_ns();
	if (d->lock_busy_since_ns == 0)
		d->lock_busy_since_ns = now;
	if (!d->lock_warned && now - d->lock_busy_since_ns >= LOCK_WARN_NS) {
		int holder = semctl(d->table.semid, 0, GETPID);
		struct event e = {
		    .kind = EVENT_LOCK_HELD, .slot = -1, .pid = holder > 0 ? holder : 0};
		log_event(LOG_WARNING, &e,
			  "table lock held for over %llu ms (last taken by pid %d): still "
			  "watching with lock-free reads, slots are freed once it is released",
			  (unsigned long long)(LOCK_WARN_NS / 1000000u), holder);
		d->lock_warned = true;
	}
	return false;
}

void watch_free_slot(struct watch *w)
{
	struct daemon *d = w->d;

	if (!table_trylock(d)) {
		w->free_pending = true;
		return;
	}
	table_slot_clear(&d->table, w->slot, w->seq);
	sem_unlock(d->table.semid);
	w->free_pending = false;
}

static bool same_registration(const struct watch *w, const struct hb_slot_view *v)
{
	return w->seq == v->seq && w->pid == v->pid && w->start_time == v->start_time;
}

static int on_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct watch *w = userdata;
	struct event e = watch_event(w, EVENT_PROCESS_GONE);
	bool was_killing = w->state == WATCH_KILLING;
	struct hb_slot_view v;

	/* A process that unregistered before exiting has nothing to free. */
	if (table_slot_read(&w->d->table, w->slot, &v) == 0 && !same_registration(w, &v)) {
		watch_release(w);
		return 0;
	}
	log_event(was_killing ? LOG_NOTICE : LOG_INFO, &e,
		  "%s (pid %d, slot %u) exited%s; slot freed", w->name, (int)w->pid, w->slot,
		  was_killing ? " after being signalled" : " without unregistering");
	watch_free_slot(w);
	bool pending = w->free_pending;
	watch_release(w);
	/* Keep the identity so the retry frees only this registration. */
	w->free_pending = pending;
	return 0;
}

/* A slot whose process is gone or is another process now: free it. */
static void watch_stale(struct watch *w, const char *why)
{
	struct event e = watch_event(w, EVENT_STALE_SLOT);

	log_event(LOG_NOTICE, &e, "stale slot %u (%s, pid %d): %s; slot freed", w->slot, w->name,
		  (int)w->pid, why);
	watch_free_slot(w);
	bool pending = w->free_pending;
	watch_release(w);
	w->free_pending = pending;
}

void watch_refuse(struct watch *w, const char *fmt, ...)
{
	struct event e = watch_event(w, EVENT_REFUSED);
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_event(LOG_WARNING, &e,
		  "refused %s %u (name \"%s\", pid %d): %s; it will never be signalled",
		  watch_what(w), w->slot, w->name, (int)w->pid, why);
	daemon_count(w->d, w->name, EVENT_REFUSED);
	if (w->state == WATCH_ACTIVE || w->state == WATCH_KILLING || w->state == WATCH_LOGGED)
		w->d->n_active--;
	w->state = WATCH_REFUSED;
}

/* First sight of a registration: pin the process with a pidfd, then check
 * that the process the pidfd refers to is the one that registered. */
static void watch_adopt(struct daemon *d, struct watch *w, const struct hb_slot_view *v)
{
	uint64_t start_time;
	int r;

	w->seq = v->seq;
	w->pid = v->pid;
	w->start_time = v->start_time;
	w->handled_beat = 0;
	name_printable(w->name, v);
	w->state = WATCH_REFUSED;

	if (!v->name_ok || name_validate(v->name) < 0) {
		watch_refuse(w, "malformed name (not a NUL-terminated service name)");
		return;
	}
	if (v->pid < 0) {
		watch_refuse(w, "negative pid");
		return;
	}
	if (v->pid == 1) {
		watch_refuse(w, "pid 1 is never signalled");
		return;
	}
	if (v->pid == d->self) {
		watch_refuse(w, "it claims hbwatch's own pid");
		return;
	}
	w->pidfd = pidfd_open(v->pid, 0);
	if (w->pidfd < 0) {
		if (errno == ESRCH)
			watch_stale(w, "no such process");
		else
			watch_refuse(w, "cannot open a pidfd: %s", strerror(errno));
		return;
	}
	/* Read the start time after opening the pidfd: if it still matches,
	 * the pidfd refers to the registering process, not a later one that
	 * reused its pid, and signals through it cannot hit anyone else. */
	r = proc_starttime(v->pid, &start_time);
	if (r == -ESRCH) {
		watch_stale(w, "no such process");
		return;
	}
	if (r < 0) {
		watch_refuse(w, "cannot read its start time: %s", strerror(-r));
		return;
	}
	if (start_time != v->start_time) {
		watch_stale(w, "start time differs, the pid belongs to another process now");
		return;
	}
	r = sd_event_add_io(d->event, &w->exit_source, w->pidfd, EPOLLIN, on_exit, w);
	if (r < 0) {
		watch_refuse(w, "cannot watch its pidfd: %s", strerror(-r));
		return;
	}
	if (proc_is_kthread(v->pid) > 0) {
		watch_refuse(w, "it is a kernel thread");
		return;
	}
	if (!settings_find(&d->settings, v->name)) {
		watch_refuse(w, "\"%s\" is not a watched service in %s", w->name, d->config_path);
		return;
	}
	w->state = WATCH_ACTIVE;
	d->n_active++;
}

/* The deadline of an active watch, or UINT64_MAX if it has none. */
static uint64_t watch_check(struct daemon *d, struct watch *w, const struct hb_slot_view *v,
			    uint64_t now)
{
	const struct service *svc = settings_find(&d->settings, v->name);
	uint64_t timeout, deadline;

	if (w->state == WATCH_LOGGED) {
		if (v->beat_ns == w->handled_beat)
			return UINT64_MAX;
		w->state = WATCH_ACTIVE; /* it beat again: watch it afresh */
	}
	if (w->state != WATCH_ACTIVE || !svc)
		return UINT64_MAX;
	timeout = deadline_timeout(v->timeout_ns, svc->timeout_ns);
	if (timeout == 0) {
		watch_refuse(w, "timeout %llu ns is outside 1 ms..24 h",
			     (unsigned long long)v->timeout_ns);
		return UINT64_MAX;
	}
	if (v->beat_ns > now && v->beat_ns - now > DEADLINE_FUTURE_NS && !w->warned_future) {
		struct event e = watch_event(w, EVENT_REFUSED);
		log_event(LOG_WARNING, &e,
			  "slot %u (%s, pid %d) has a heartbeat %llu ms in the future; its "
			  "deadline counts from there",
			  w->slot, w->name, (int)w->pid,
			  (unsigned long long)((v->beat_ns - now) / 1000000u));
		w->warned_future = true;
	}
	deadline = deadline_at(v->beat_ns, timeout);
	if (now < deadline)
		return deadline;
	w->handled_beat = v->beat_ns;
	kill_deadline_missed(w, svc, timeout, now - deadline);
	return UINT64_MAX;
}

/* A slot whose seqlock stays open (odd seq) through every read.  Writers
 * hold the table lock from opening the seqlock to closing it, so if the
 * lock can be taken now and the seq is still odd, the writer died inside
 * its critical section (SEM_UNDO released the lock, nothing closes the
 * seqlock).  What it left is half a registration, and no reader will ever
 * see it consistently: free it, or the slot leaks for good (a re-registration
 * keeps the dead writer's pid in it, so no client reuses it either).
 * Returns true if the slot was freed. */
static bool slot_repair(struct daemon *d, struct watch *w)
{
	struct hb_slot *s = &d->table.slots[w->slot];
	uint32_t seq;
	int32_t pid;
	bool freed = false;

	if (!table_trylock(d))
		return false;
	seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
	if (seq & 1u)
		freed = table_slot_clear(&d->table, w->slot, seq);
	sem_unlock(d->table.semid);
	if (!freed)
		return false;
	if (w->state != WATCH_FREE)
		watch_release(w);
	w->warned_busy = false;
	struct event e = {.kind = EVENT_STALE_SLOT, .slot = (int)w->slot, .pid = pid};
	log_event(LOG_NOTICE, &e,
		  "stale slot %u (pid %d): left half-written by a writer that died holding "
		  "the table lock; slot freed",
		  w->slot, (int)pid);
	return true;
}

uint64_t watch_scan(struct daemon *d)
{
	uint64_t now = now_ns();
	uint64_t next = now + d->scan_period_ns;

	for (uint32_t i = 0; i < d->table.slot_count; i++) {
		struct watch *w = &d->watches[i];
		struct hb_slot_view v;

		if (table_slot_read(&d->table, i, &v) < 0) {
			if (slot_repair(d, w))
				continue;
			if (!w->warned_busy) {
				struct event e = watch_event(w, EVENT_REFUSED);
				e.pid = 0;
				e.slot = (int)i;
				log_event(LOG_WARNING, &e,
					  "slot %u is being written by another process for longer "
					  "than expected; skipped for now",
					  i);
				w->warned_busy = true;
			}
			continue;
		}
		w->warned_busy = false;
		if (w->free_pending) {
			if (v.pid != 0 && v.seq == w->seq)
				watch_free_slot(w);
			else
				w->free_pending = false;
			continue;
		}
		if (w->state != WATCH_FREE && !same_registration(w, &v))
			watch_release(w);
		if (v.pid == 0)
			continue;
		if (w->state == WATCH_FREE)
			watch_adopt(d, w, &v);
		uint64_t deadline = watch_check(d, w, &v, now);
		if (deadline < next)
			next = deadline;
	}
	return next;
}

void watch_reset(struct daemon *d, bool all)
{
	for (uint32_t i = 0; i < d->table.slot_count; i++) {
		struct watch *w = &d->watches[i];

		if (w->state == WATCH_FREE || (!all && w->state == WATCH_KILLING))
			continue;
		watch_release(w);
	}
}
