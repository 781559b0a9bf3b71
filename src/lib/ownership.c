#include <stdio.h>

#include "ownership.h"

bool uid_may_signal(uid_t u, uid_t ruid, uid_t suid)
{
	return u == 0 || u == ruid || u == suid;
}

enum ownership_verdict ownership_check(const struct ownership_facts *f, char *why, size_t why_len)
{
	char dummy[1];

	if (!why || why_len == 0) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	if (f->mode & 0022) {
		snprintf(why, why_len,
			 "its mode %03o lets %s write it, so it is not the word of its owner",
			 f->mode & 0777u,
			 (f->mode & 0020) && (f->mode & 0002) ? "its group and everyone"
			 : (f->mode & 0020)		      ? "its group"
							      : "everyone");
		return OWNERSHIP_SHARED_WRITE;
	}
	if (!uid_may_signal(f->cuid, f->ruid, f->suid)) {
		snprintf(why, why_len,
			 "it was created by uid %u, who could not signal a process of uid %u "
			 "itself",
			 (unsigned)f->cuid, (unsigned)f->ruid);
		return OWNERSHIP_CREATOR;
	}
	if (!uid_may_signal(f->uid, f->ruid, f->suid)) {
		snprintf(why, why_len,
			 "it is owned by uid %u, who could not signal a process of uid %u itself",
			 (unsigned)f->uid, (unsigned)f->ruid);
		return OWNERSHIP_OWNER;
	}
	return OWNERSHIP_OK;
}
