/* Fuzz target: arbitrary bytes taken as a whole segment image, read the
 * three ways the daemon reads segments it did not make:
 *  - as the registry at the key (registry_validate(), then ring entries
 *    through registry_entry(), bounded by the validated copy only);
 *  - as a heartbeat record behind an announced shmid (record_geometry()),
 *    then through record_read() and record_read_tasks(), before and after
 *    its owner rewrites the header: a reader must hold up on bytes that
 *    were never checked, and stay inside what the attach decided.
 * The image is copied into a cache-line aligned buffer of exactly the
 * input's size, so ASan sees any read past the segment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "fuzz.h"
#include "hbwatch.h"
#include "name.h"
#include "record.h"
#include "registry.h"

/* A refusal always says why, in a terminated string. */
static void check_why(int r, const char *why, size_t len)
{
	FUZZ_CHECK(r == 0 || r == -EPROTO);
	FUZZ_CHECK(memchr(why, '\0', len) != NULL);
	FUZZ_CHECK(r == 0 || why[0] != '\0');
}

static void as_registry(void *mem, size_t size)
{
	struct hb_registry_header copy;
	struct hb_registry reg;
	char why[512] = "";
	int r = registry_validate(mem, size, &copy, why, sizeof(why));

	check_why(r, why, sizeof(why));
	FUZZ_CHECK(registry_validate(mem, size, NULL, NULL, 0) == r);
	if (r < 0)
		return;
	FUZZ_CHECK(memcmp(&copy, mem, sizeof(copy)) == 0);
	FUZZ_CHECK(copy.ring_size >= HB_RING_MIN && copy.ring_size <= HB_RING_MAX);
	FUZZ_CHECK((copy.ring_size & (copy.ring_size - 1)) == 0);
	FUZZ_CHECK(registry_size(copy.ring_size) <= size);

	/* As registry_attach() binds it: indexing from the copy only. */
	reg = (struct hb_registry){.key = 0, .shmid = -1, .size = size, .hdr = mem};
	reg.ring = (_Atomic uint64_t *)(void *)((char *)mem + sizeof(struct hb_registry_header));
	reg.ring_size = copy.ring_size;
	reg.hdr_copy = copy;

	/* The daemon walks from where it stopped to the shared tail, which
	 * anyone may have set to anything: every index must stay inside. */
	uint64_t tail = atomic_load(&reg.hdr->tail);
	const uint64_t starts[] = {0, tail, tail - 1, tail - reg.ring_size, UINT64_MAX - 7};
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++)
		for (uint64_t i = starts[s], n = 0; n < 8; i++, n++) {
			int e = registry_entry(&reg, i);
			FUZZ_CHECK(e >= 0 || e == -EAGAIN);
		}
	for (uint32_t i = 0; i < reg.ring_size; i++) {
		int e = registry_entry(&reg, i);
		FUZZ_CHECK(e >= 0 || e == -EAGAIN);
	}
}

static void read_record(const struct hb_record_map *m)
{
	struct hb_record_view v;
	int r;

	memset(&v, 0xa5, sizeof(v));
	r = record_read(m, &v);
	FUZZ_CHECK(r == 0 || r == -EAGAIN);
	if (r < 0)
		return;
	FUZZ_CHECK(v.seq % 2 == 0);
	FUZZ_CHECK(memchr(v.name, '\0', sizeof(v.name)) != NULL);
	if (v.name_ok) {
		FUZZ_CHECK(name_validate(v.name) == 0);
		FUZZ_CHECK(strlen(v.name) <= HB_NAME_MAX);
	}
	/* The deadline arithmetic the daemon applies to what it read. */
	uint64_t tmo = deadline_timeout(v.timeout_ns, UINT64_C(30000000000));
	FUZZ_CHECK(tmo <= (uint64_t)HB_TIMEOUT_MAX_MS * 1000000u);
	FUZZ_CHECK(deadline_at(v.beat_ns, tmo) >= v.beat_ns);
	FUZZ_CHECK(v.task_high <= m->task_cap);
	FUZZ_CHECK(v.version >= 2 ||
		   (v.task_high == 0 && v.ext_at_ns == 0)); /* layout 1: no tasks */
	/* An extension never brings a deadline forward. */
	FUZZ_CHECK(deadline_extended(v.beat_ns, tmo, v.ext_at_ns, v.ext_until_ns,
				     deadline_extend_max(HB_EXTEND_AUTO, tmo),
				     NULL) >= deadline_at(v.beat_ns, tmo));
}

/* The task slots of a validated record, as the daemon and hbctl read them. */
static void read_tasks(const struct hb_record_map *m)
{
	struct hb_record_view v;
	struct hb_task_view t[HB_TASK_SLOTS];
	unsigned n;

	if (record_read(m, &v) < 0)
		return;
	n = record_read_tasks(m, v.task_high, t, HB_TASK_SLOTS);
	FUZZ_CHECK(n <= v.task_high);
	for (unsigned i = 0; i < n; i++) {
		FUZZ_CHECK(t[i].index < v.task_high);
		FUZZ_CHECK(i == 0 || t[i].index > t[i - 1].index);
		FUZZ_CHECK(memchr(t[i].label, '\0', sizeof(t[i].label)) != NULL);
		for (const char *p = t[i].label; *p; p++)
			FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
		if (t[i].label_ok)
			FUZZ_CHECK(task_label_validate(t[i].label) == 0);
	}
}

/* Its owner rewrites the header of the record M maps after the attach:
 * as layout 2 with every slot claimed (the input's task_high otherwise).
 * Nothing is read past the image (ASan sees it: the image is exactly its
 * size), and a header that changed is refused. */
static void rewritten(struct hb_record_map *m)
{
	struct hb_record *r = m->rec;
	struct hb_record_map now;
	struct hb_task_view t[HB_TASK_SLOTS];
	struct hb_record_view v;

	record_layout_init(r);
	if (atomic_load(&r->task_high) == 0)
		atomic_store(&r->task_high, HB_TASK_SLOTS);
	if (record_geometry(r, m->size, &now, NULL, 0) < 0 || now.layout != m->layout ||
	    now.task_cap != m->task_cap) {
		FUZZ_CHECK(record_read(m, &v) == -EPROTO);
		FUZZ_CHECK(record_read_tasks(m, UINT32_MAX, t, HB_TASK_SLOTS) == 0);
		return;
	}
	read_record(m);
	FUZZ_CHECK(record_read_tasks(m, UINT32_MAX, t, HB_TASK_SLOTS) <= m->task_cap);
}

static void as_record(void *mem, size_t size)
{
	struct hb_record_map m = {0};
	char why[512] = "";
	int r = record_geometry(mem, size, &m, why, sizeof(why));

	check_why(r, why, sizeof(why));
	FUZZ_CHECK(record_validate(mem, size, NULL, 0) == r);
	if (r < 0)
		return;
	FUZZ_CHECK(size >= HB_RECORD_V1_SIZE);
	FUZZ_CHECK(m.size == size);
	FUZZ_CHECK(HB_TASK_OFFSET + (size_t)m.task_cap * sizeof(struct hb_task_slot) <= size);
	m.rec = mem;
	read_tasks(&m);
	read_record(&m);
	rewritten(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *mem;

	/* Exactly SIZE bytes (aligned_alloc() would round up to the
	 * alignment and hide reads past the end from ASan). */
	if (posix_memalign(&mem, HB_CACHELINE, size ? size : 1) != 0)
		return 0;
	memcpy(mem, data, size);
	as_registry(mem, size);
	as_record(mem, size);
	free(mem);
	return 0;
}
