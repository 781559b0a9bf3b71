/* Capacity shared fairly: slots= is not first come, first served.  A
 * registration under a section without user= counts against its uid's
 * share (uid_share=, default an eighth of slots=), and all of those
 * together may fill at most three quarters of slots=: the last quarter is
 * kept for root and for sections with user=, whose registrations count
 * against no share.  So one uid, or a few, cannot keep another uid's
 * service, or root's, from being watched (hbwatch.ini(5), uid_share). */
#ifndef HBWATCH_SHARE_H
#define HBWATCH_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"

struct share_count {
	uid_t uid;
	unsigned n;
};

/* How many watched registrations each uid holds in the shared room. */
struct shares {
	struct share_count *v;
	size_t n, cap;
	unsigned total; /* of every uid */
};

/* The share of one uid under S: uid_share=, or its default, slots / 8
 * (at least 1, at most the shared room). */
uint32_t share_per_uid(const struct settings *s);

/* The room of all shared registrations: slots= less the quarter kept. */
uint32_t share_room(const struct settings *s);

/* Registrations UID holds. */
unsigned share_held(const struct shares *sh, uid_t uid);

/* UID holds one more (DELTA 1) or one fewer (-1).  Without memory the
 * count is not kept: it errs towards allowing. */
void share_add(struct shares *sh, uid_t uid, int delta);

/* May UID have one more watched under S?  If not, WHY names the share. */
bool share_allows(const struct shares *sh, const struct settings *s, uid_t uid, char *why,
		  size_t why_len);

void share_free(struct shares *sh);

#endif
