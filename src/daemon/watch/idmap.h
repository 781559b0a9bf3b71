/* A map from non-negative int ids (shmids) to 64-bit values: open
 * addressing, linear probing, grows by doubling.  For the daemon's watches
 * and its memory of records already turned down. */
#ifndef HBWATCH_IDMAP_H
#define HBWATCH_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	int64_t key; /* 0: empty, -1: gone, else the id + 1 */
	uint64_t val;
};

struct idmap {
	struct idmap_slot *s;
	size_t cap;  /* a power of two, or 0 */
	size_t n;    /* live keys */
	size_t used; /* live keys and tombstones */
};

/* Set KEY (>= 0) to VAL.  Returns 0 or -ENOMEM. */
int idmap_put(struct idmap *m, int key, uint64_t val);

/* True if KEY is there; *VAL (may be NULL) gets its value. */
bool idmap_get(const struct idmap *m, int key, uint64_t *val);

/* Remove KEY; true if it was there. */
bool idmap_del(struct idmap *m, int key);

/* Forget every key and free the memory.  Safe on a zeroed map. */
void idmap_free(struct idmap *m);

#endif
