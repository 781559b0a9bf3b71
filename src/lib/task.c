/* Task heartbeats: slots in the process's own record (record.h), claimed
 * and released lock-free by a compare-and-swap of each slot's state word,
 * whose generation tells a reused slot from the task that held it before.
 * hb_task_beat() is, like hb_beat(), one atomic store. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "clock.h"
#include "hbwatch.h"
#include "name.h"
#include "record.h"

#define HB_EXPORT __attribute__((visibility("default")))

_Static_assert(HB_TASKS_MAX == HB_TASK_SLOTS, "hbwatch.h promises every slot of the record");
_Static_assert(HB_TASK_LABEL_SIZE == 32, "the label fills half a slot");

struct hb_task {
	struct hb_task_slot *slot;
	_Atomic int32_t *tid;	  /* its slot's tid in the record (layout 3) */
	_Atomic int32_t last_tid; /* what *TID holds: written there only on a change */
	uint64_t epoch;		  /* client_epoch when opened */
	uint32_t word;		  /* the slot's word while this task holds it */
};

/* A task of a registration that has ended: its slot is not ours. */
static inline bool task_stale(const struct hb_task *t)
{
	return atomic_load_explicit(&client_epoch, memory_order_acquire) != t->epoch;
}

static struct hb_task_slot *slot_claim(struct hb_record *rec, uint32_t *word, uint32_t *index)
{
	struct hb_task_slot *slots = record_tasks(rec);

	for (uint32_t i = 0; i < HB_TASK_SLOTS; i++) {
		uint32_t w = atomic_load_explicit(&slots[i].word, memory_order_relaxed);
		uint32_t claimed = HB_TASK_WORD(HB_TASK_GEN(w) + 1u, HB_TASK_CLAIMED);

		if (HB_TASK_STATE(w) != HB_TASK_FREE)
			continue;
		if (atomic_compare_exchange_strong_explicit(
			&slots[i].word, &w, claimed, memory_order_acquire, memory_order_relaxed)) {
			*word = claimed;
			*index = i;
			return &slots[i];
		}
	}
	return NULL;
}

/* Readers look at slots below task_high only: raise it past INDEX. */
static void high_raise(struct hb_record *rec, uint32_t index)
{
	uint32_t h = atomic_load_explicit(&rec->task_high, memory_order_relaxed);

	while (h <= index &&
	       !atomic_compare_exchange_weak_explicit(&rec->task_high, &h, index + 1u,
						      memory_order_release, memory_order_relaxed))
		;
}

static void slot_fill(struct hb_task_slot *s, const char *label, unsigned int timeout_ms)
{
	uint64_t l[HB_TASK_LABEL_SIZE / 8] = {0};

	memcpy(l, label, strlen(label));
	atomic_store_explicit(&s->timeout_ms, timeout_ms, memory_order_relaxed);
	for (unsigned k = 0; k < HB_TASK_LABEL_SIZE / 8; k++)
		atomic_store_explicit(&s->label[k], l[k], memory_order_relaxed);
	atomic_store_explicit(&s->ext_at_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&s->ext_until_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&s->beat_ns, now_ns(), memory_order_relaxed);
}

/* Free the slot if it still holds the task of WORD (hb_task_close() and
 * task_close_all() may race; one of them wins). */
static void slot_release(struct hb_task_slot *s, uint32_t word)
{
	atomic_compare_exchange_strong_explicit(&s->word, &word,
						HB_TASK_WORD(HB_TASK_GEN(word), HB_TASK_FREE),
						memory_order_release, memory_order_relaxed);
}

/* A few tries: each fails only when the registration ended meanwhile. */
#define OPEN_TRIES 4

HB_EXPORT int hb_task_open(hb_task **task, const char *label, unsigned int timeout_ms)
{
	struct hb_task *t;

	if (!task || task_label_validate(label) < 0 || timeout_ms == 0 ||
	    timeout_ms > HB_TIMEOUT_MAX_MS)
		return -EINVAL;
	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (int tries = 0; tries < OPEN_TRIES; tries++) {
		uint64_t epoch = atomic_load_explicit(&client_epoch, memory_order_acquire);
		struct hb_record *rec = atomic_load_explicit(&client_rec, memory_order_acquire);
		struct hb_task_slot *s;
		uint32_t word, index;

		if (!rec)
			break;
		s = slot_claim(rec, &word, &index);
		if (!s) {
			free(t);
			return -ENOSPC;
		}
		high_raise(rec, index);
		atomic_store_explicit(&record_task_tids(rec)[index], client_tid(),
				      memory_order_relaxed);
		slot_fill(s, label, timeout_ms);
		word = HB_TASK_WORD(HB_TASK_GEN(word), HB_TASK_OPEN);
		atomic_store_explicit(&s->word, word, memory_order_release);
		/* Against task_close_all(): it bumps the epoch, then frees the
		 * open slots.  Either it saw ours open, or we see its epoch. */
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load_explicit(&client_epoch, memory_order_relaxed) != epoch) {
			slot_release(s, word);
			continue;
		}
		*t = (struct hb_task){
		    .slot = s, .tid = &record_task_tids(rec)[index], .epoch = epoch, .word = word};
		atomic_init(&t->last_tid, client_tid());
		*task = t;
		return 0;
	}
	free(t);
	return -ENOTCONN;
}

HB_EXPORT int hb_task_beat(hb_task *task)
{
	if (!task)
		return -EINVAL;
	if (task_stale(task))
		return -ENOTCONN;
	/* The thread first, so a reader that sees the beat sees its tid; only
	 * when another thread beats than before: the tids are on a line (and
	 * a page) of their own, which a beat from the same thread need not
	 * touch. */
	int32_t tid = client_tid();
	if (__builtin_expect(atomic_load_explicit(&task->last_tid, memory_order_relaxed) != tid,
			     0)) {
		atomic_store_explicit(&task->last_tid, tid, memory_order_relaxed);
		atomic_store_explicit(task->tid, tid, memory_order_relaxed);
	}
	atomic_store_explicit(&task->slot->beat_ns, now_ns(), memory_order_release);
	return 0;
}

/* Extend the deadline of the heartbeat at BEAT to now + MS at least: an
 * extension that is still on (no beat since) and reaches farther stays. */
static void extend(_Atomic uint64_t *beat, _Atomic uint64_t *at, _Atomic uint64_t *until,
		   unsigned int ms)
{
	uint64_t now = now_ns();
	uint64_t u = now + (uint64_t)ms * 1000000u;
	uint64_t prev_at = atomic_load_explicit(at, memory_order_acquire);
	uint64_t prev_until = atomic_load_explicit(until, memory_order_relaxed);

	if (prev_at && prev_at >= atomic_load_explicit(beat, memory_order_relaxed) &&
	    prev_until > u)
		u = prev_until;
	record_extend(at, until, now, u);
}

HB_EXPORT int hb_task_extend(hb_task *task, unsigned int ms)
{
	if (!task || ms == 0 || ms > HB_TIMEOUT_MAX_MS)
		return -EINVAL;
	if (task_stale(task))
		return -ENOTCONN;
	extend(&task->slot->beat_ns, &task->slot->ext_at_ns, &task->slot->ext_until_ns, ms);
	return 0;
}

HB_EXPORT int hb_extend(unsigned int ms)
{
	struct hb_record *rec;

	if (ms == 0 || ms > HB_TIMEOUT_MAX_MS)
		return -EINVAL;
	rec = atomic_load_explicit(&client_rec, memory_order_acquire);
	if (!rec)
		return -ENOTCONN;
	extend(&rec->beat_ns, &rec->ext_at_ns, &rec->ext_until_ns, ms);
	return 0;
}

HB_EXPORT int hb_task_close(hb_task *task)
{
	if (!task)
		return -EINVAL;
	/* After fork() the child's record is unmapped: touch nothing. */
	if (!task_stale(task))
		slot_release(task->slot, task->word);
	free(task);
	return 0;
}

void task_close_all(struct hb_record *rec)
{
	struct hb_task_slot *slots = record_tasks(rec);
	uint32_t high;

	atomic_fetch_add_explicit(&client_epoch, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	high = atomic_load_explicit(&rec->task_high, memory_order_acquire);
	for (uint32_t i = 0; i < high && i < HB_TASK_SLOTS; i++) {
		uint32_t w = atomic_load_explicit(&slots[i].word, memory_order_acquire);

		if (HB_TASK_STATE(w) == HB_TASK_OPEN)
			slot_release(&slots[i], w);
	}
}
