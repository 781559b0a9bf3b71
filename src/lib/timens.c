#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "timens.h"

#define NS_PER_S     INT64_C(1000000000)
#define TIMENS_MAX_S (INT64_C(1) << 32) /* seconds: 136 years */

/* One decimal integer, optionally negative, at *P (advanced past it). */
static int parse_int(const char **p, const char *end, bool sign, int64_t *out)
{
	const char *q = *p;
	bool neg = false;
	uint64_t v = 0;

	if (sign && q < end && *q == '-') {
		neg = true;
		q++;
	}
	if (q >= end || *q < '0' || *q > '9')
		return -EINVAL;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > (UINT64_C(1) << 62) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	*p = q;
	return 0;
}

static void skip_blanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

int timens_parse_monotonic(const char *buf, size_t len, int64_t *off_ns)
{
	const char *p = buf, *end = buf + len;

	*off_ns = 0;
	while (p < end) {
		const char *name = p;
		int64_t s, ns;
		size_t n;

		while (p < end && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		n = (size_t)(p - name);
		skip_blanks(&p, end);
		if (n == 0 || parse_int(&p, end, true, &s) < 0)
			return -EINVAL;
		skip_blanks(&p, end);
		if (parse_int(&p, end, false, &ns) < 0 || ns >= NS_PER_S)
			return -EINVAL;
		skip_blanks(&p, end);
		if (p < end && *p++ != '\n')
			return -EINVAL;
		/* The kernel names the clock; older text gave its number. */
		if ((n == 9 && memcmp(name, "monotonic", 9) == 0) || (n == 1 && name[0] == '1')) {
			/* The kernel bounds offsets far below this (a clock
			 * never starts below zero); the bound keeps the
			 * difference of two offsets in range. */
			if (s > TIMENS_MAX_S || s < -TIMENS_MAX_S)
				return -EINVAL;
			*off_ns = s * NS_PER_S + ns;
		}
	}
	return 0;
}

/* The CLOCK_MONOTONIC offset of the namespace /proc/WHO/timens_offsets
 * describes. */
static int read_offset(const char *who, int64_t *off_ns)
{
	char path[64], buf[256];
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), "/proc/%s/timens_offsets", who);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	if ((size_t)n == sizeof(buf))
		return -EINVAL;
	return timens_parse_monotonic(buf, (size_t)n, off_ns);
}

int timens_relative(pid_t pid, int64_t *rel_ns)
{
	char who[16];
	int64_t ours = 0, theirs = 0;
	int r;

	*rel_ns = 0;
	if (pid <= 0)
		return -ESRCH;
	/* Ours: hbwatch and hbctl are exec'd, so their own namespace is the
	 * one the file describes. */
	r = read_offset("self", &ours);
	if (r == -ENOENT)
		return 0; /* no time namespaces in this kernel */
	if (r < 0)
		return r;
	snprintf(who, sizeof(who), "%d", (int)pid);
	r = read_offset(who, &theirs);
	if (r == -ENOENT)
		return -ESRCH;
	if (r < 0)
		return r;
	*rel_ns = theirs - ours;
	return 0;
}

uint64_t timens_to_ours(uint64_t t, int64_t rel_ns)
{
	if (t == 0 || rel_ns == 0)
		return t;
	if (rel_ns > 0)
		return t > (uint64_t)rel_ns ? t - (uint64_t)rel_ns : 1;
	return t < UINT64_MAX - (uint64_t)-rel_ns ? t + (uint64_t)-rel_ns : UINT64_MAX;
}

uint64_t timens_now_for(int64_t rel_ns)
{
	uint64_t now = now_ns();

	if (rel_ns >= 0)
		return now + (uint64_t)rel_ns;
	return now > (uint64_t)-rel_ns ? now - (uint64_t)-rel_ns : 1;
}

void timens_view_to_ours(struct hb_record_view *v, int64_t rel_ns)
{
	v->beat_ns = timens_to_ours(v->beat_ns, rel_ns);
	v->ext_at_ns = timens_to_ours(v->ext_at_ns, rel_ns);
	v->ext_until_ns = timens_to_ours(v->ext_until_ns, rel_ns);
}

void timens_task_to_ours(struct hb_task_view *t, int64_t rel_ns)
{
	t->beat_ns = timens_to_ours(t->beat_ns, rel_ns);
	t->ext_at_ns = timens_to_ours(t->ext_at_ns, rel_ns);
	t->ext_until_ns = timens_to_ours(t->ext_until_ns, rel_ns);
}
