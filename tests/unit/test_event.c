/* The table of event kinds (src/daemon/report/event.c): every journal kind
 * has its own name and MESSAGE_ID, each in hbwatch.catalog and the catalog
 * has no other; every counter of the metrics is fed; event_emit() counts
 * exactly the kinds the table says, held back by the rate limit or not. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "duration.h"
#include "event.h"
#include "log.h"
#include "stats.h"

static void quiet(void)
{
	/* event_emit() writes to stderr outside the journal. */
	cr_assert_not_null(freopen("/dev/null", "w", stderr));
}

static bool is_id(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* The catalog's "-- ID" lines, in CAT (of N). */
static size_t catalog_ids(char cat[][40], size_t n)
{
	FILE *f = fopen(CATALOG, "r");
	char line[256];
	size_t k = 0;

	cr_assert_not_null(f, "cannot open %s", CATALOG);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "-- ", 3) == 0 && k < n && sscanf(line + 3, "%39s", cat[k]) == 1)
			k++;
	fclose(f);
	return k;
}

Test(event, journal_kinds_unique_and_in_catalog)
{
	char cat[64][40];
	size_t n_cat = catalog_ids(cat, 64);

	cr_assert_eq(n_cat, JOURNAL_KIND_MAX, "the catalog has %zu entries, the table %d", n_cat,
		     JOURNAL_KIND_MAX);
	for (int j = 0; j < JOURNAL_KIND_MAX; j++) {
		const char *name = journal_kind_name(j), *id = journal_kind_id(j);
		bool in_catalog = false;

		cr_assert_not_null(name, "journal kind %d has no name", j);
		cr_assert_not_null(id, "%s has no MESSAGE_ID", name);
		cr_expect(is_id(id), "%s: MESSAGE_ID %s is not 32 lowercase hex digits", name, id);
		for (int o = 0; o < j; o++) {
			cr_expect_str_neq(name, journal_kind_name(o), "journal kinds %d and %d", j,
					  o);
			cr_expect_str_neq(id, journal_kind_id(o), "%s and %s share a MESSAGE_ID",
					  name, journal_kind_name(o));
		}
		for (size_t c = 0; c < n_cat; c++)
			in_catalog |= strcmp(cat[c], id) == 0;
		cr_expect(in_catalog, "%s: MESSAGE_ID %s is not in hbwatch.catalog", name, id);
	}
}

Test(event, every_kind_told_and_every_counter_fed)
{
	bool journal_used[JOURNAL_KIND_MAX] = {false}, fed[STATS_COUNTER_MAX] = {false};

	for (int k = 0; k < EVENT_KIND_MAX; k++) {
		const struct event_kind_info *i = event_kind_info(k);

		cr_assert_lt((int)i->journal, JOURNAL_KIND_MAX, "kind %d", k);
		cr_expect(i->priority >= LOG_ERR && i->priority <= LOG_DEBUG,
			  "kind %d (%s): priority %d", k, journal_kind_name(i->journal),
			  i->priority);
		cr_assert_lt((int)i->counter, STATS_COUNTER_MAX, "kind %d", k);
		journal_used[i->journal] = true;
		fed[i->counter] = true;
	}
	for (int j = 0; j < JOURNAL_KIND_MAX; j++)
		cr_expect(journal_used[j], "no event kind is told as %s", journal_kind_name(j));
	for (int c = STATS_NONE + 1; c < STATS_COUNTER_MAX; c++)
		cr_expect(fed[c], "counter %d is fed by no event kind", c);
}

/* Records of actions are never held back: a signal, an escalation, a
 * restart, a hand-over, and the missed deadline that leads to one. */
Test(event, actions_never_limited)
{
	static const enum event_kind actions[] = {
	    EVENT_DEADLINE_MISSED, EVENT_SIGNAL_SENT, EVENT_ESCALATED,
	    EVENT_RESTART_UNIT,	   EVENT_HANDED_OVER, EVENT_UNKILLABLE,
	};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		cr_expect(!event_kind_info(actions[i])->limited, "kind %d is rate-limited",
			  actions[i]);
	cr_expect(event_kind_info(EVENT_DEADLINE_MISSED_LIMITED)->limited);
}

Test(event, emit_counts_as_the_table_says, .init = quiet)
{
	struct stats s = {0};

	for (int k = 0; k < EVENT_KIND_MAX; k++) {
		struct event e = {.kind = k, .who = {.name = "svc", .slot = -1}};
		const struct event_kind_info *i = event_kind_info(k);
		const struct counter *c = stats_find(&s, "svc");
		uint64_t before[STATS_COUNTER_MAX] = {0};

		if (c)
			memcpy(before, c->n, sizeof(before));
		event_emit(&s, &e, "kind %d", k);
		c = stats_find(&s, "svc");
		for (int n = STATS_NONE + 1; n < STATS_COUNTER_MAX; n++)
			cr_expect_eq(c ? c->n[n] : 0, before[n] + (n == (int)i->counter),
				     "kind %d: counter %d", k, n);
	}
	stats_finish(&s);
}

/* Past the burst a limited record is held back, but still counted. */
Test(event, held_back_still_counted, .init = quiet)
{
	struct stats s = {0};
	struct event e = {.kind = EVENT_UNTRUSTED, .who = {.name = "svc", .slot = -1}};
	const struct counter *c;

	for (unsigned i = 0; i < LOG_LIMIT_BURST + 5; i++)
		event_emit(&s, &e, "untrusted %u", i);
	c = stats_find(&s, "svc");
	cr_assert_not_null(c);
	cr_expect_eq(c->n[STATS_UNTRUSTED], LOG_LIMIT_BURST + 5);
	cr_expect(!log_limit_take(), "the burst should be used up");
	stats_finish(&s);
}

/* Stderr into a file of its own, until told() reads it back. */
static FILE *listen(void)
{
	FILE *f = tmpfile();

	cr_assert_not_null(f);
	fflush(stderr);
	cr_assert(dup2(fileno(f), fileno(stderr)) >= 0);
	return f;
}

/* The line written to stderr since listen() gave F. */
static void told(FILE *f, char *out, size_t len)
{
	fflush(stderr);
	rewind(f);
	out[0] = '\0';
	cr_assert_not_null(fgets(out, (int)len, f));
	fclose(f);
}

/* The words a message may use for the event's own fields are written by
 * event.c, the same for every caller: {record}, {timeout}, {late}. */
Test(event, words_for_fields, .init = quiet)
{
	struct event e = {.kind = EVENT_DEADLINE_MISSED,
			  .who = {.name = "svc", .slot = -1, .shmid = 7, .pid = 42},
			  .timeout_ns = 1500000000u,
			  .late_ns = 12345678u};
	char line[512], tmo[DURATION_FORMAT_MAX], want[128];
	FILE *f;

	duration_format(e.timeout_ns, tmo, sizeof(tmo));
	snprintf(want, sizeof(want), "svc (pid 42, record 7) timeout %s, 12.345 ms late; 5", tmo);
	f = listen();
	event_emit(NULL, &e, "svc (pid 42, {record}) timeout {timeout}, {late} late; %d", 5);
	told(f, line, sizeof(line));
	cr_expect_not_null(strstr(line, want), "told \"%s\", not \"%s\"", line, want);
	e.who = (struct event_subject){.name = "svc", .slot = 3, .shmid = -1, .legacy = true};
	f = listen();
	event_emit(NULL, &e, "{record}, {late}, {x} %d%%", 9);
	told(f, line, sizeof(line));
	cr_expect_not_null(strstr(line, "legacy record 3, 12.345 ms, {x} 9%"), "told \"%s\"", line);
}
