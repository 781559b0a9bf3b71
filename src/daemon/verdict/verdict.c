#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verdict.h"

const char *verdict_hold_name(enum verdict_hold h)
{
	static const char *const names[] = {
	    [HOLD_NONE] = "",		[HOLD_STARVED] = "starved",
	    [HOLD_FROZEN] = "frozen",	[HOLD_DEBUGGED] = "debugged",
	    [HOLD_DUMPING] = "dumping",
	};

	return (unsigned)h < HOLD_MAX ? names[h] : "";
}

static unsigned share_pct(uint64_t part, uint64_t whole)
{
	if (!whole)
		return 0;
	if (part >= whole)
		return 100;
	return (unsigned)(part * 100u / whole);
}

bool verdict_starved(const struct verdict_facts *f, unsigned *pct)
{
	unsigned w = 0, t = 0;

	*pct = 0;
	if (!f->read)
		return false;
	if (f->have_wait && f->window_ns)
		w = share_pct(f->wait_ns, f->window_ns);
	/* Its cgroup's throttling speaks for it only while it wants the CPU:
	 * a thread asleep is not held back by a quota others use up. */
	if (f->have_throttle && f->state == 'R' && f->window_ns)
		t = share_pct(f->throttled_ns, f->window_ns);
	*pct = w > t ? w : t;
	if (f->have_cpu && f->state == 'R' && f->cpu_window_ns) {
		unsigned r = 100u - share_pct(f->cpu_ns, f->cpu_window_ns);
		if (r > *pct)
			*pct = r;
	}
	return *pct >= VERDICT_STARVED_PCT;
}

/* A thread in D while its cgroup (or the host) is stalled on I/O or
 * memory for most of the last ten seconds: blocked on pressure. */
static bool pressure_blocked(const struct verdict_facts *f, enum verdict_psi *which)
{
	if (f->state != 'D')
		return false;
	for (enum verdict_psi r = PSI_IO; r <= PSI_MEMORY; r++)
		if (f->have_psi[r] && f->psi_full[r] >= VERDICT_PRESSURE_PCT * 100u) {
			*which = r;
			return true;
		}
	return false;
}

enum verdict verdict_decide(const struct verdict_facts *f, const struct verdict_policy *p,
			    char *why, size_t len)
{
	enum verdict_psi r = PSI_IO;
	unsigned pct;

	if (!f->read) {
		snprintf(why, len, "no facts");
		return VERDICT_ACT;
	}
	/* Frozen first: a frozen task shows D or S, and a debugger may hold
	 * a task that is frozen too; nothing it does matters until it thaws. */
	if (f->frozen) {
		snprintf(why, len, "frozen (%s)", f->frozen_by ? f->frozen_by : "cgroup freezer");
		return VERDICT_LEAVE_FROZEN;
	}
	if ((f->state == 't' || f->tracer) && !p->debugged_kill) {
		if (f->tracer)
			snprintf(why, len, "being debugged: traced by pid %d%s", (int)f->tracer,
				 f->state == 't' ? ", stopped by its tracer (t)" : "");
		else
			snprintf(why, len, "being debugged: stopped by its tracer (t)");
		return VERDICT_LEAVE_DEBUGGED;
	}
	if (!p->starve_grace_ns || p->deferred) {
		snprintf(why, len, "%s",
			 p->deferred ? "deferred once already" : "starve_grace = 0");
		return VERDICT_ACT;
	}
	if (verdict_starved(f, &pct)) {
		if (f->have_throttle && f->throttled_ns >= f->wait_ns)
			snprintf(why, len, "starved: %u %% throttled by its cpu cgroup", pct);
		else
			snprintf(why, len, "starved: %u %% waiting for CPU", pct);
		return VERDICT_DEFER_STARVED;
	}
	if (pressure_blocked(f, &r)) {
		snprintf(why, len, "starved: in D under %u %% %s pressure", f->psi_full[r] / 100u,
			 r == PSI_IO ? "I/O" : "memory");
		return VERDICT_DEFER_STARVED;
	}
	snprintf(why, len, "not starved (%u %% waiting for CPU)", pct);
	return VERDICT_ACT;
}

bool verdict_wait_dump(const struct verdict_facts *f, uint64_t waited_ns, uint64_t dump_max_ns)
{
	return f->read && f->core_dumping && waited_ns < dump_max_ns;
}

static void add(struct verdict_fields *o, unsigned *n, const char *key, unsigned long long v)
{
	if (*n >= VERDICT_FIELDS_MAX)
		return;
	snprintf(o->buf[*n], sizeof(o->buf[*n]), "%s=%llu", key, v);
	o->v[*n] = o->buf[*n];
	(*n)++;
}

void verdict_fields(const struct verdict_facts *f, struct verdict_fields *out)
{
	static const char *const psi_names[] = {"CPU", "IO", "MEMORY"};
	unsigned n = 0;

	if (f->read && f->window_ns) {
		add(out, &n, "HBWATCH_WINDOW_USEC", f->window_ns / 1000u);
		if (f->have_wait)
			add(out, &n, "HBWATCH_RUNQ_WAIT_USEC", f->wait_ns / 1000u);
		if (f->have_throttle) {
			add(out, &n, "HBWATCH_THROTTLED_USEC", f->throttled_ns / 1000u);
			add(out, &n, "HBWATCH_NR_THROTTLED", f->nr_throttled);
		}
	}
	if (f->read && f->tid)
		add(out, &n, "HBWATCH_WAIT_TID", (unsigned long long)f->tid);
	for (unsigned r = 0; r < PSI_MAX && n < VERDICT_FIELDS_MAX; r++) {
		if (!f->have_psi[r])
			continue;
		snprintf(out->buf[n], sizeof(out->buf[n]),
			 "HBWATCH_PSI_%s=%s some %u.%02u full %u.%02u", psi_names[r],
			 f->psi_cgroup ? "cgroup" : "host", f->psi_some[r] / 100u,
			 f->psi_some[r] % 100u, f->psi_full[r] / 100u, f->psi_full[r] % 100u);
		out->v[n] = out->buf[n];
		n++;
	}
	out->v[n] = NULL;
}

/* Strict unsigned decimal at *P, advancing it. */
static int number(const char **p, uint64_t *v)
{
	char *end;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(*p, &end, 10);
	if (errno)
		return -EINVAL;
	*v = x;
	*p = end;
	return 0;
}

int verdict_parse_schedstat(const char *text, uint64_t *run_delay_ns)
{
	const char *p = text;
	uint64_t cpu;

	if (number(&p, &cpu) < 0 || *p != ' ')
		return -EINVAL;
	p++;
	if (number(&p, run_delay_ns) < 0 || (*p != ' ' && *p != '\n' && *p))
		return -EINVAL;
	return 0;
}

/* The value of "KEY N" on a line of TEXT, or -ENOENT. */
static int keyed(const char *text, const char *key, uint64_t *v)
{
	size_t k = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, k) == 0 && p[k] == ' ') {
			const char *q = p + k + 1;
			if (number(&q, v) < 0 || (*q != '\n' && *q))
				return -EINVAL;
			return 0;
		}
	return -ENOENT;
}

int verdict_parse_cpu_stat(const char *text, uint64_t *nr_throttled, uint64_t *throttled_ns)
{
	uint64_t v;

	if (keyed(text, "nr_throttled", nr_throttled) < 0)
		return -EINVAL;
	if (keyed(text, "throttled_usec", &v) == 0) { /* v2 */
		*throttled_ns = v * 1000u;
		return 0;
	}
	if (keyed(text, "throttled_time", &v) == 0) { /* v1, in ns */
		*throttled_ns = v;
		return 0;
	}
	return -EINVAL;
}

int verdict_parse_cgroup_events(const char *text, bool *frozen)
{
	uint64_t v;

	if (keyed(text, "frozen", &v) < 0 || v > 1)
		return -EINVAL;
	*frozen = v == 1;
	return 0;
}

int verdict_parse_freezer_state(const char *text, bool *frozen)
{
	size_t n = strcspn(text, "\n");

	/* FREEZING: some of its tasks are frozen already, and the rest
	 * will be; nothing it does is its own doing any more. */
	if ((n == 6 && strncmp(text, "FROZEN", 6) == 0) ||
	    (n == 8 && strncmp(text, "FREEZING", 8) == 0))
		*frozen = true;
	else if (n == 6 && strncmp(text, "THAWED", 6) == 0)
		*frozen = false;
	else
		return -EINVAL;
	return 0;
}

/* "avg10=12.34" on the line starting with KIND, in hundredths. */
static int psi_line(const char *text, const char *kind, unsigned *out)
{
	size_t k = strlen(kind);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *q;
		uint64_t i, f;

		if (strncmp(p, kind, k) != 0 || p[k] != ' ')
			continue;
		q = p + k + 1;
		if (strncmp(q, "avg10=", 6) != 0)
			return -EINVAL;
		q += 6;
		if (number(&q, &i) < 0 || *q != '.' || i > 100)
			return -EINVAL;
		q++;
		if (q[0] < '0' || q[0] > '9' || q[1] < '0' || q[1] > '9' || q[2] != ' ')
			return -EINVAL;
		f = (uint64_t)(q[0] - '0') * 10u + (uint64_t)(q[1] - '0');
		*out = (unsigned)(i * 100u + f);
		return 0;
	}
	return -ENOENT;
}

int verdict_parse_psi(const char *text, unsigned *some, unsigned *full)
{
	int r;

	if (psi_line(text, "some", some) < 0)
		return -EINVAL;
	r = psi_line(text, "full", full);
	if (r == -ENOENT)
		*full = 0; /* cpu before 5.13: no full line */
	else if (r < 0)
		return -EINVAL;
	return 0;
}

int verdict_parse_status(const char *text, char *state, pid_t *tracer, bool *core_dumping)
{
	const char *p = strstr(text, "\nState:\t");
	uint64_t v;

	if (!p || !p[8] || p[8] == '\n')
		return -EINVAL;
	*state = p[8];
	p = strstr(text, "\nTracerPid:\t");
	if (!p)
		return -EINVAL;
	p += 12;
	if (number(&p, &v) < 0 || v > INT32_MAX)
		return -EINVAL;
	*tracer = (pid_t)v;
	*core_dumping = false;
	p = strstr(text, "\nCoreDumping:\t");
	if (p) {
		p += 14;
		if (number(&p, &v) < 0 || v > 1)
			return -EINVAL;
		*core_dumping = v == 1;
	}
	return 0;
}

static void copy_path(char *dst, const char *src, size_t n, size_t len)
{
	if (n >= len)
		n = 0; /* too long to use: as if absent */
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Does the comma-separated list L (of N bytes) name controller C? */
static bool names(const char *l, size_t n, const char *c)
{
	size_t k = strlen(c);

	for (const char *p = l; p < l + n;) {
		const char *e = memchr(p, ',', (size_t)(l + n - p));
		size_t m = e ? (size_t)(e - p) : (size_t)(l + n - p);
		if (m == k && strncmp(p, c, k) == 0)
			return true;
		p += m + 1;
	}
	return false;
}

int verdict_parse_cgroup(const char *text, char *v2, char *cpu, char *freezer, size_t len)
{
	bool any = false;

	v2[0] = cpu[0] = freezer[0] = '\0';
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *c1 = strchr(p, ':'), *c2, *end = strchr(p, '\n');

		if (!end)
			end = p + strlen(p);
		if (!c1 || c1 > end || !(c2 = strchr(c1 + 1, ':')) || c2 > end)
			return -EINVAL;
		any = true;
		if (c2 == c1 + 1 && c1 - p == 1 && p[0] == '0')
			copy_path(v2, c2 + 1, (size_t)(end - c2 - 1), len);
		else if (names(c1 + 1, (size_t)(c2 - c1 - 1), "cpu"))
			copy_path(cpu, c2 + 1, (size_t)(end - c2 - 1), len);
		else if (names(c1 + 1, (size_t)(c2 - c1 - 1), "freezer"))
			copy_path(freezer, c2 + 1, (size_t)(end - c2 - 1), len);
	}
	return any ? 0 : -EINVAL;
}
