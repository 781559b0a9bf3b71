#include <errno.h>
#include <stdlib.h>

#include "idmap.h"

#define IDMAP_EMPTY 0
#define IDMAP_GONE  (-1)

/* Keys are stored shifted by one, so that calloc()'s zeros are empty. */
static int64_t stored(int key)
{
	return (int64_t)key + 1;
}

static size_t slot_of(const struct idmap *m, int key)
{
	return ((uint32_t)key * UINT32_C(2654435761)) & (m->cap - 1);
}

static int grow(struct idmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	struct idmap_slot *old = m->s;
	size_t ocap = m->cap;

	/* Only tombstones: rehash at the same size. */
	if (m->cap && m->n * 4 < m->cap)
		ncap = m->cap;
	m->s = calloc(ncap, sizeof(*m->s));
	if (!m->s) {
		m->s = old;
		return -ENOMEM;
	}
	m->cap = ncap;
	m->n = m->used = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key > 0)
			idmap_put(m, (int)(old[i].key - 1), old[i].val);
	free(old);
	return 0;
}

int idmap_put(struct idmap *m, int key, uint64_t val)
{
	size_t i, tomb = SIZE_MAX;

	if (key < 0)
		return -EINVAL;
	if ((m->used + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -ENOMEM;
	for (i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->s[i].key == stored(key)) {
			m->s[i].val = val;
			return 0;
		}
		if (m->s[i].key == IDMAP_GONE && tomb == SIZE_MAX)
			tomb = i;
		if (m->s[i].key == IDMAP_EMPTY)
			break;
	}
	if (tomb != SIZE_MAX)
		i = tomb;
	else
		m->used++;
	m->s[i] = (struct idmap_slot){.key = stored(key), .val = val};
	m->n++;
	return 0;
}

static struct idmap_slot *find(const struct idmap *m, int key)
{
	if (!m->cap || key < 0)
		return NULL;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->s[i].key == stored(key))
			return &m->s[i];
		if (m->s[i].key == IDMAP_EMPTY)
			return NULL;
	}
}

bool idmap_get(const struct idmap *m, int key, uint64_t *val)
{
	struct idmap_slot *s = find(m, key);

	if (s && val)
		*val = s->val;
	return s != NULL;
}

bool idmap_del(struct idmap *m, int key)
{
	struct idmap_slot *s = find(m, key);

	if (!s)
		return false;
	s->key = IDMAP_GONE;
	m->n--;
	return true;
}

void idmap_free(struct idmap *m)
{
	free(m->s);
	*m = (struct idmap){0};
}
