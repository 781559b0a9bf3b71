/* Fuzz target: the table validator and the lock-free slot reader over
 * arbitrary bytes taken as a whole segment image (what a foreign or
 * corrupted segment at the key could hold).  The image is copied into a
 * cache-line aligned heap buffer of exactly the input's size (so ASan sees
 * any read past the segment) and, if table_validate() accepts it, read
 * slot by slot through an hb_table view as the daemon would, with the
 * daemon's pure deadline checks applied to each view. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "fuzz.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	void *mem;
	int r;

	/* Exactly SIZE bytes (aligned_alloc() would round up to the
	 * alignment and hide reads past the end from ASan). */
	if (posix_memalign(&mem, HB_CACHELINE, size ? size : 1) != 0)
		return 0;
	memcpy(mem, data, size);
	why[0] = '\0';
	r = table_validate(mem, size, why, sizeof(why));
	FUZZ_CHECK(r == 0 || r == -EPROTO);
	FUZZ_CHECK(r == 0 || why[0] != '\0');
	FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	if (r == 0) {
		struct hb_table t = {.key = 0, .shmid = -1, .semid = -1, .size = size};
		t.hdr = mem;
		t.slots = (struct hb_slot *)(void *)((char *)mem + sizeof(struct hb_header));
		t.slot_count = t.hdr->slot_count;
		FUZZ_CHECK(table_size(t.slot_count) <= size);
		for (uint32_t i = 0; i < t.slot_count; i++) {
			struct hb_slot_view v;
			if (table_slot_read(&t, i, &v) < 0)
				continue;
			FUZZ_CHECK(v.name[HB_NAME_SIZE - 1] == '\0');
			if (v.name_ok)
				(void)name_validate(v.name);
			uint64_t tmo = deadline_timeout(v.timeout_ns, 30000000000u);
			FUZZ_CHECK(tmo <= (uint64_t)HB_TIMEOUT_MAX_MS * 1000000u);
			FUZZ_CHECK(deadline_at(v.beat_ns, tmo) >= v.beat_ns);
		}
		(void)table_find_process(&t, 1234, 5678, NULL);
	}
	free(mem);
	return 0;
}
