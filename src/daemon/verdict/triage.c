/* Why a process hung, from recorded /proc text: pure parsing, the sum of
 * its threads' states, the words for people, and the verdict on a process
 * that SIGKILL did not end.  No I/O (see triage_read.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proc.h"
#include "triage.h"

static size_t letter_index(char c)
{
	const char *p = c ? strchr(TRIAGE_LETTERS, c) : NULL;

	return p ? (size_t)(p - TRIAGE_LETTERS) : TRIAGE_NLETTERS - 1;
}

int triage_parse_process(struct triage_facts *f, const char *stat, size_t len)
{
	unsigned long long ut, st, nt, start;
	char state;

	if (proc_parse_state(stat, len, &state) < 0 ||
	    proc_parse_stat_field(stat, len, 14, &ut) < 0 ||
	    proc_parse_stat_field(stat, len, 15, &st) < 0 ||
	    proc_parse_stat_field(stat, len, 20, &nt) < 0 ||
	    proc_parse_stat_field(stat, len, 22, &start) < 0)
		return -EINVAL;
	f->read = true;
	f->state = state;
	f->threads = nt > UINT32_MAX ? UINT32_MAX : (uint32_t)nt;
	f->cpu_ticks = ut + st;
	f->start_time = start;
	f->seen = 1;
	f->by_state[letter_index(state)]++;
	return 0;
}

int triage_add_thread(struct triage_facts *f, const char *stat, size_t len)
{
	char state;

	if (proc_parse_state(stat, len, &state) < 0)
		return -EINVAL;
	f->seen++;
	f->by_state[letter_index(state)]++;
	return state;
}

void triage_set_wchan(char *dst, const char *buf, size_t len)
{
	size_t n = 0;

	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\0'))
		len--;
	dst[0] = '\0';
	/* "0": running, not permitted (no ptrace access) or no symbol. */
	if (len == 0 || len >= TRIAGE_WCHAN_SIZE || (len == 1 && buf[0] == '0'))
		return;
	for (; n < len; n++) {
		char c = buf[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return;
	}
	memcpy(dst, buf, len);
	dst[len] = '\0';
}

void triage_add_d_wchan(struct triage_facts *f, const char *wchan)
{
	for (size_t i = 0; i < TRIAGE_D_WCHANS; i++) {
		if (f->d[i].n && strcmp(f->d[i].wchan, wchan) == 0) {
			f->d[i].n++;
			return;
		}
		if (!f->d[i].n) {
			snprintf(f->d[i].wchan, sizeof(f->d[i].wchan), "%s", wchan);
			f->d[i].n = 1;
			return;
		}
	}
	f->d_more++;
}

static int ctxt_line(const char *status, const char *key, uint64_t *v)
{
	const char *p = strstr(status, key);
	unsigned long long x = 0;

	if (!p || (p != status && p[-1] != '\n'))
		return -EINVAL;
	p += strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (~0ULL - 9) / 10)
			return -EINVAL;
		x = x * 10 + (unsigned)(*p - '0');
	}
	*v = x;
	return 0;
}

int triage_parse_ctxt(struct triage_facts *f, const char *status)
{
	uint64_t v, nv;

	if (ctxt_line(status, "voluntary_ctxt_switches:", &v) < 0 ||
	    ctxt_line(status, "nonvoluntary_ctxt_switches:", &nv) < 0)
		return -EINVAL;
	f->vcsw = v;
	f->nvcsw = nv;
	f->have_ctxt = true;
	return 0;
}

uint64_t triage_ticks_usec(uint64_t ticks, long hz)
{
	if (hz <= 0)
		return UINT64_MAX;
	return ticks / (uint64_t)hz * 1000000u + ticks % (uint64_t)hz * 1000000u / (uint64_t)hz;
}

uint64_t triage_sample_gap(uint64_t timeout_ns)
{
	return timeout_ns / 4u > 10000000u ? timeout_ns / 4u : 10000000u;
}

uint64_t triage_sample_tick(uint64_t due_ns, uint64_t gap_ns)
{
	uint64_t grid = gap_ns / 4u > 1000000u ? gap_ns / 4u : 1000000u;

	if (due_ns > UINT64_MAX - grid)
		return due_ns;
	return (due_ns + grid - 1u) / grid * grid;
}

bool triage_has_d(const struct triage_facts *f)
{
	return f->read && f->by_state[letter_index('D')] > 0;
}

/* Append to BUF (of LEN, holding *AT bytes) without ever overflowing. */
static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*at >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at = *at + (size_t)n < len ? *at + (size_t)n : len - 1;
}

static void state_text(const struct triage_facts *f, char *buf, size_t len)
{
	size_t at = 0;
	const char *sep = "";

	buf[0] = '\0';
	if (!f->read) {
		put(buf, len, &at, "unknown");
		return;
	}
	put(buf, len, &at, "%c (threads:", f->state);
	for (size_t i = 0; i < TRIAGE_NLETTERS; i++) {
		if (!f->by_state[i])
			continue;
		put(buf, len, &at, "%s %u %c", sep, f->by_state[i], TRIAGE_LETTERS[i]);
		sep = ",";
	}
	if (f->threads > f->seen)
		put(buf, len, &at, "%s %u not read", sep, f->threads - f->seen);
	put(buf, len, &at, ")");
}

static void wchan_text(const struct triage_facts *f, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	if (f->wchan[0])
		put(buf, len, &at, "%s", f->wchan);
	else if (f->read && f->state == 'R')
		put(buf, len, &at, "none (running)");
	else
		put(buf, len, &at, "unknown");
	for (size_t i = 0; i < TRIAGE_D_WCHANS && f->d[i].n; i++) {
		put(buf, len, &at, "%s%s",
		    i ? ", " : "; D: ", f->d[i].wchan[0] ? f->d[i].wchan : "unknown");
		if (f->d[i].n > 1)
			put(buf, len, &at, " (%u)", f->d[i].n);
	}
	if (f->d_more)
		put(buf, len, &at, ", %u more", f->d_more);
}

/* Where the process waits, for words: the wchan of a thread in D first. */
static const char *where(const struct triage_facts *f, bool d)
{
	if (d && f->d[0].n && f->d[0].wchan[0])
		return f->d[0].wchan;
	if (f->wchan[0])
		return f->wchan;
	return "an unknown place";
}

static void fmt_secs(char *buf, size_t len, uint64_t usec)
{
	snprintf(buf, len, "%llu.%llu s", (unsigned long long)(usec / 1000000u),
		 (unsigned long long)(usec / 100000u % 10u));
}

void triage_words(const struct triage_facts *f, uint64_t cpu_usec, uint64_t window_usec, char *buf,
		  size_t len)
{
	bool have_cpu = cpu_usec != UINT64_MAX && window_usec > 0;
	unsigned long long pct = have_cpu ? (unsigned long long)(cpu_usec * 100u / window_usec) : 0;
	char win[32];
	size_t at = 0;

	buf[0] = '\0';
	fmt_secs(win, sizeof(win), window_usec);
	if (!f->read) {
		put(buf, len, &at, "state unknown: %s", f->why[0] ? f->why : "not read");
	} else if (f->state == 'T') {
		put(buf, len, &at, "stopped (T)");
	} else if (f->state == 't') {
		put(buf, len, &at, "stopped by its tracer (t)");
	} else if (f->state == 'Z' || f->state == 'X') {
		put(buf, len, &at, "exiting (%c)", f->state);
	} else if (triage_has_d(f)) {
		unsigned nd = f->by_state[letter_index('D')];
		put(buf, len, &at, "in uninterruptible sleep (D) in %s", where(f, true));
		if (f->seen > 1)
			put(buf, len, &at, " (%u of %u threads)", nd, f->seen);
	} else if (have_cpu && pct >= 50) {
		put(buf, len, &at, "spinning: %llu %% CPU since its last beat", pct);
	} else if (f->state == 'R') {
		put(buf, len, &at, "runnable but %s", have_cpu ? "starved" : "no CPU figure");
		if (have_cpu)
			put(buf, len, &at, ": %llu %% CPU since its last beat", pct);
	} else {
		put(buf, len, &at, "blocked in %s", where(f, false));
		if (have_cpu)
			put(buf, len, &at, ": %llu %% CPU over the last %s", pct, win);
	}
}

/* SRC into DST of SIZE, cut to fit. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void triage_summarize(const struct triage_facts *f, uint64_t cpu_usec, uint64_t window_usec,
		      struct hb_status_triage *out)
{
	char state[sizeof(out->words) * 2], wchan[sizeof(out->words) * 3];

	*out = (struct hb_status_triage){
	    .cpu_usec = cpu_usec, .window_usec = window_usec, .threads = f->read ? f->threads : 0};
	state_text(f, state, sizeof(state));
	wchan_text(f, wchan, sizeof(wchan));
	copy_cut(out->state, sizeof(out->state), state);
	copy_cut(out->wchan, sizeof(out->wchan), wchan);
	triage_words(f, cpu_usec, window_usec, out->words, sizeof(out->words));
}

void triage_fields(const struct triage_facts *f, const struct hb_status_triage *t,
		   struct triage_fields *out)
{
	char state[128], wchan[128];
	size_t n = 0;

	/* The full texts: the summary's copies are cut to the segment. */
	state_text(f, state, sizeof(state));
	wchan_text(f, wchan, sizeof(wchan));
	snprintf(out->buf[n++], sizeof(out->buf[0]), "HBWATCH_PROC_STATE=%s", state);
	/* The letter alone, for an exact match: journalctl HBWATCH_STATE=D. */
	if (f->read)
		snprintf(out->buf[n++], sizeof(out->buf[0]), "HBWATCH_STATE=%c", f->state);
	snprintf(out->buf[n++], sizeof(out->buf[0]), "HBWATCH_WCHAN=%s", wchan);
	if (f->read)
		snprintf(out->buf[n++], sizeof(out->buf[0]), "HBWATCH_THREADS=%u", f->threads);
	if (t->cpu_usec != UINT64_MAX) {
		snprintf(out->buf[n++], sizeof(out->buf[0]), "HBWATCH_CPU_USEC_SINCE_BEAT=%llu",
			 (unsigned long long)t->cpu_usec);
		snprintf(out->buf[n++], sizeof(out->buf[0]), "HBWATCH_CPU_WINDOW_USEC=%llu",
			 (unsigned long long)t->window_usec);
	}
	if (f->have_ctxt) {
		snprintf(out->buf[n++], sizeof(out->buf[0]), "HBWATCH_VOLUNTARY_CTXT_SWITCHES=%llu",
			 (unsigned long long)f->vcsw);
		snprintf(out->buf[n++], sizeof(out->buf[0]),
			 "HBWATCH_NONVOLUNTARY_CTXT_SWITCHES=%llu", (unsigned long long)f->nvcsw);
	}
	for (size_t i = 0; i < n; i++)
		out->v[i] = out->buf[i];
	out->v[n] = NULL;
}

enum triage_after_kill triage_after_sigkill(const struct triage_facts *f, char *why, size_t len)
{
	char state[128], wchan[128];
	size_t at = 0;

	state_text(f, state, sizeof(state));
	wchan_text(f, wchan, sizeof(wchan));
	why[0] = '\0';
	if (f->read && (f->state == 'Z' || f->state == 'X') && !triage_has_d(f)) {
		put(why, len, &at, "exiting (%s)", state);
		return TRIAGE_EXITING;
	}
	put(why, len, &at, "state %s, wchan %s: ", state, wchan);
	if (!f->read)
		put(why, len, &at, "/proc could not be read (%s)", f->why[0] ? f->why : "?");
	else if (triage_has_d(f))
		put(why, len, &at,
		    "the kernel holds it in uninterruptible sleep (D) in %s; it ends only when "
		    "that wait does (a hung disk, NFS or FUSE server)",
		    where(f, true));
	else if (f->state == 'I')
		put(why, len, &at,
		    "the kernel holds it in an idle wait (I) that SIGKILL does not end");
	else
		put(why, len, &at, "SIGKILL is pending but the kernel has not let it act");
	return TRIAGE_UNKILLABLE;
}
