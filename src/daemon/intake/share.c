#include <stdio.h>
#include <stdlib.h>

#include "share.h"

uint32_t share_room(const struct settings *s)
{
	uint32_t kept = s->slots / 4u;

	return s->slots - kept;
}

uint32_t share_per_uid(const struct settings *s)
{
	uint64_t v = s->uid_share	? s->uid_share
		     : s->uid_share_pct ? (uint64_t)s->slots * s->uid_share_pct / 100u
					: s->slots / 8u;
	uint32_t room = share_room(s);

	if (v < 1)
		v = 1;
	return v > room ? room : (uint32_t)v;
}

static struct share_count *find(const struct shares *sh, uid_t uid)
{
	for (size_t i = 0; i < sh->n; i++)
		if (sh->v[i].uid == uid)
			return &sh->v[i];
	return NULL;
}

unsigned share_held(const struct shares *sh, uid_t uid)
{
	const struct share_count *c = find(sh, uid);

	return c ? c->n : 0;
}

void share_add(struct shares *sh, uid_t uid, int delta)
{
	struct share_count *c = find(sh, uid);

	if (delta < 0) {
		if (!c || c->n == 0)
			return;
		c->n--;
		sh->total--;
		if (c->n == 0)
			*c = sh->v[--sh->n]; /* uids come and go: keep the list short */
		return;
	}
	if (!c) {
		if (sh->n == sh->cap) {
			size_t ncap = sh->cap ? 2 * sh->cap : 16;
			struct share_count *v = realloc(sh->v, ncap * sizeof(*v));
			if (!v)
				return;
			sh->v = v;
			sh->cap = ncap;
		}
		c = &sh->v[sh->n++];
		*c = (struct share_count){.uid = uid};
	}
	c->n++;
	sh->total++;
}

bool share_allows(const struct shares *sh, const struct settings *s, uid_t uid, char *why,
		  size_t why_len)
{
	uint32_t share = share_per_uid(s), room = share_room(s);

	/* Cut to a status entry's reason (88 bytes): hbctl status shows it. */
	if (share_held(sh, uid) >= share) {
		snprintf(why, why_len, "uid %u holds its share: uid_share=%u of slots=%u",
			 (unsigned)uid, share, s->slots);
		return false;
	}
	if (sh->total >= room) {
		snprintf(why, why_len,
			 "shared room full: %u of slots=%u (the rest is kept for root and user=)",
			 room, s->slots);
		return false;
	}
	return true;
}

void share_free(struct shares *sh)
{
	free(sh->v);
	*sh = (struct shares){0};
}
