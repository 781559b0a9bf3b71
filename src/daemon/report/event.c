/* The one table of event kinds, and the one function that tells an
 * event: its message with the words its fields stand for, its record
 * through log.c, its count through stats.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "duration.h"
#include "event.h"
#include "log.h"
#include "stats.h"

/* HBWATCH_EVENT= and MESSAGE_ID=; each ID has its entry in hbwatch.catalog
 * and its line in hbwatch(8) (JOURNAL). */
static const struct {
	const char *name;
	const char *id;
} journal_kinds[JOURNAL_KIND_MAX] = {
    [JOURNAL_DEADLINE_MISSED] = {"deadline-missed", "a3e1e2b08efe4f97be2db085ea452ff1"},
    [JOURNAL_SIGNAL_SENT] = {"signal-sent", "1c1cbbc12a14442e9494fb5aa67076a7"},
    [JOURNAL_ESCALATED] = {"escalated", "b6d1c204c06544eb90dea92ff05fa1d2"},
    [JOURNAL_PROCESS_GONE] = {"process-gone", "890115bb3aff42508ef3763d1270cd7d"},
    [JOURNAL_STALE_RECORD] = {"stale-record", "a83e0800df1749b8956afa12e2d65b23"},
    [JOURNAL_REFUSED] = {"refused", "47262b2a8caa4797b6269ac0d582ad1f"},
    [JOURNAL_RELOADED] = {"reloaded", "1621d1e0e3e2421094bec8dbcc3f5d8b"},
    [JOURNAL_RATE_LIMITED] = {"rate-limited", "9c606b8a3cfa413f9f03b19855a65a95"},
    [JOURNAL_RESTART_UNIT] = {"restart-unit", "c9fb70243fe44ac28334a5410930a592"},
    [JOURNAL_STARTED] = {"started", "1545d77a0a9f4afb9394ed3d34791d05"},
    [JOURNAL_UNTRUSTED] = {"untrusted", "5e0b8ad2c4a74c0f9b4f0e3f6d2a71c8"},
    [JOURNAL_SUPPRESSED] = {"suppressed", "c2f7e1a94d3b4e6a8f05b7d1e9a3c640"},
    [JOURNAL_REGISTRY] = {"registry", "7a4d2e9c1b8f4a35a6e0d3c7b2f19e84"},
    [JOURNAL_ODD] = {"odd-registration", "0e8f3c2a7b5d4e19a6c4f1b2d3e5a7c9"},
    [JOURNAL_HANDED_OVER] = {"handed-over", "3f7e56018a3247b091fdcc5e6aa5bdd3"},
    [JOURNAL_EXTENDED] = {"deadline-extended", "6f2b9d4e8a1c4d7b9e3f5a0c2d4b6e81"},
    [JOURNAL_UNKILLABLE] = {"unkillable", "6b0f4d7e2c914a58b3e1d9a07c5f2e36"},
    [JOURNAL_DEFERRED] = {"deadline-deferred", "f43f94c012a04dfc9117ebabc6df151c"},
    [JOURNAL_FROZEN] = {"frozen", "85d6b8689f474e50aab39f7a9684d0db"},
    [JOURNAL_DEBUGGED] = {"being-debugged", "aed481540ae74e05a17f1b72fd7a262e"},
    [JOURNAL_DUMPING] = {"dumping-core", "ed02499c769f4b83b76cdd4f55e59412"},
    [JOURNAL_NEAR] = {"deadline-near", "f41e7a669ebc4a09a0c53dd07320048b"},
};

#define ROW(j, prio, lim, ctr)                                                                     \
	{                                                                                          \
		.journal = (j), .priority = (prio), .limited = (lim), .counter = (ctr)             \
	}
#define LIMITED true
#define ALWAYS	false

/* How each kind is told.  Records of actions (a signal, a restart, a
 * hand-over, and the deadline that leads to one) are never held back by
 * the rate limit; what anybody on the host can cause again and again is. */
static const struct event_kind_info kinds[EVENT_KIND_MAX] = {
    [EVENT_DEADLINE_MISSED] =
	ROW(JOURNAL_DEADLINE_MISSED, LOG_WARNING, ALWAYS, STATS_DEADLINES_MISSED),
    [EVENT_DEADLINE_MISSED_LIMITED] =
	ROW(JOURNAL_DEADLINE_MISSED, LOG_WARNING, LIMITED, STATS_DEADLINES_MISSED),
    [EVENT_SIGNAL_SENT] = ROW(JOURNAL_SIGNAL_SENT, LOG_WARNING, ALWAYS, STATS_KILLS),
    [EVENT_ESCALATED] = ROW(JOURNAL_ESCALATED, LOG_WARNING, ALWAYS, STATS_ESCALATIONS),
    [EVENT_PROCESS_GONE] = ROW(JOURNAL_PROCESS_GONE, LOG_INFO, ALWAYS, STATS_NONE),
    [EVENT_SIGNALLED_GONE] = ROW(JOURNAL_PROCESS_GONE, LOG_NOTICE, ALWAYS, STATS_NONE),
    [EVENT_STALE_RECORD] = ROW(JOURNAL_STALE_RECORD, LOG_INFO, LIMITED, STATS_NONE),
    [EVENT_STALE_BEAT] = ROW(JOURNAL_STALE_RECORD, LOG_NOTICE, LIMITED, STATS_NONE),
    [EVENT_STALE_UNWATCHABLE] = ROW(JOURNAL_STALE_RECORD, LOG_WARNING, LIMITED, STATS_NONE),
    [EVENT_REFUSED] = ROW(JOURNAL_REFUSED, LOG_WARNING, LIMITED, STATS_REFUSED),
    [EVENT_UNWATCHED] = ROW(JOURNAL_REFUSED, LOG_INFO, LIMITED, STATS_REFUSED),
    [EVENT_RELOADED] = ROW(JOURNAL_RELOADED, LOG_NOTICE, ALWAYS, STATS_NONE),
    [EVENT_RATE_LIMITED] = ROW(JOURNAL_RATE_LIMITED, LOG_WARNING, LIMITED, STATS_RATE_LIMITED),
    [EVENT_RESTART_UNIT] = ROW(JOURNAL_RESTART_UNIT, LOG_WARNING, ALWAYS, STATS_RESTARTS),
    [EVENT_STARTED] = ROW(JOURNAL_STARTED, LOG_INFO, ALWAYS, STATS_NONE),
    [EVENT_UNTRUSTED] = ROW(JOURNAL_UNTRUSTED, LOG_WARNING, LIMITED, STATS_UNTRUSTED),
    /* Once per signal decided, as the signal would have been told. */
    [EVENT_NOT_SENT] = ROW(JOURNAL_UNTRUSTED, LOG_WARNING, ALWAYS, STATS_NONE),
    [EVENT_NOT_HANDED_OVER] = ROW(JOURNAL_UNTRUSTED, LOG_WARNING, LIMITED, STATS_NONE),
    [EVENT_TABLE_UNTRUSTED] = ROW(JOURNAL_UNTRUSTED, LOG_ERR, ALWAYS, STATS_NONE),
    [EVENT_SUPPRESSED] = ROW(JOURNAL_SUPPRESSED, LOG_WARNING, ALWAYS, STATS_NONE),
    /* A member of the registry's group can rewrite its header at will. */
    [EVENT_REGISTRY_REPAIRED] = ROW(JOURNAL_REGISTRY, LOG_WARNING, LIMITED, STATS_NONE),
    [EVENT_REGISTRY_REMOVED] = ROW(JOURNAL_REGISTRY, LOG_WARNING, ALWAYS, STATS_NONE),
    [EVENT_REGISTRY_REMADE] = ROW(JOURNAL_REGISTRY, LOG_NOTICE, ALWAYS, STATS_NONE),
    [EVENT_REGISTRY_FAILED] = ROW(JOURNAL_REGISTRY, LOG_ERR, ALWAYS, STATS_NONE),
    [EVENT_ODD] = ROW(JOURNAL_ODD, LOG_WARNING, LIMITED, STATS_NONE),
    /* Said again at every retry of the action. */
    [EVENT_BUS_ERROR] = ROW(JOURNAL_ODD, LOG_ERR, LIMITED, STATS_NONE),
    [EVENT_HANDED_OVER] = ROW(JOURNAL_HANDED_OVER, LOG_WARNING, ALWAYS, STATS_HANDOVERS),
    [EVENT_EXTENDED] = ROW(JOURNAL_EXTENDED, LOG_NOTICE, LIMITED, STATS_NONE),
    [EVENT_UNKILLABLE] = ROW(JOURNAL_UNKILLABLE, LOG_ERR, ALWAYS, STATS_UNKILLABLE),
    [EVENT_DEFERRED] = ROW(JOURNAL_DEFERRED, LOG_NOTICE, LIMITED, STATS_DEFERRED_STARVED),
    [EVENT_FROZEN] = ROW(JOURNAL_FROZEN, LOG_NOTICE, LIMITED, STATS_DEFERRED_FROZEN),
    [EVENT_THAWED] = ROW(JOURNAL_FROZEN, LOG_INFO, LIMITED, STATS_NONE),
    [EVENT_DEBUGGED] = ROW(JOURNAL_DEBUGGED, LOG_NOTICE, LIMITED, STATS_DEFERRED_DEBUGGED),
    [EVENT_RELEASED] = ROW(JOURNAL_DEBUGGED, LOG_INFO, LIMITED, STATS_NONE),
    [EVENT_DUMPING] = ROW(JOURNAL_DUMPING, LOG_NOTICE, ALWAYS, STATS_DEFERRED_DUMPING),
    [EVENT_NEAR] = ROW(JOURNAL_NEAR, LOG_NOTICE, LIMITED, STATS_NONE),
};

const struct event_kind_info *event_kind_info(enum event_kind k)
{
	return &kinds[k < EVENT_KIND_MAX ? k : EVENT_ODD];
}

const char *journal_kind_name(enum journal_kind j)
{
	return j < JOURNAL_KIND_MAX ? journal_kinds[j].name : "unknown";
}

const char *journal_kind_id(enum journal_kind j)
{
	return j < JOURNAL_KIND_MAX ? journal_kinds[j].id : "00000000000000000000000000000000";
}

static void write_record(int level, const struct event *e, const char *msg)
{
	enum journal_kind j = event_kind_info(e->kind)->journal;

	log_record(level, journal_kind_name(j), journal_kind_id(j), e, msg);
}

void event_flush_suppressed(void)
{
	struct event e = {.kind = EVENT_SUPPRESSED, .who.slot = -1};
	char msg[160];
	uint64_t held;

	if (!log_limit_roll(&held) || !held)
		return;
	snprintf(msg, sizeof(msg),
		 "rate limit: %llu warning%s held back in the last %llu s (at most %u per "
		 "interval; kills are always logged)",
		 (unsigned long long)held, held == 1 ? " was" : "s were",
		 (unsigned long long)(LOG_LIMIT_INTERVAL_NS / 1000000000u), LOG_LIMIT_BURST);
	write_record(event_kind_info(EVENT_SUPPRESSED)->priority, &e, msg);
}

void event_count(struct stats *s, const struct event *e)
{
	const struct event_kind_info *k = event_kind_info(e->kind);

	if (s && e->who.name && k->counter != STATS_NONE)
		stats_count(s, e->who.name, k->counter);
}

/* The words of event.h that FMT uses, replaced by what E says: TEXT (of
 * LEN) for WORD, or false if FMT has none at AT. */
static bool field_word(const struct event *e, const char *at, size_t *word, char *text, size_t len)
{
	if (strncmp(at, "{record}", 8) == 0) {
		snprintf(text, len, "%s %d", e->who.legacy ? "legacy record" : "record",
			 e->who.legacy ? e->who.slot : e->who.shmid);
		*word = 8;
	} else if (strncmp(at, "{timeout}", 9) == 0) {
		duration_format(e->timeout_ns, text, len);
		*word = 9;
	} else if (strncmp(at, "{late}", 6) == 0) {
		snprintf(text, len, "%llu.%03llu ms", (unsigned long long)(e->late_ns / 1000000u),
			 (unsigned long long)(e->late_ns / 1000u % 1000u));
		*word = 6;
	} else {
		return false;
	}
	return true;
}

/* FMT with its words (field_word()) written out into OUT (of LEN).  What
 * goes in is text without '%': OUT stays the caller's checked format. */
static void fields_into(const struct event *e, const char *fmt, char *out, size_t len)
{
	size_t n = 0, word;
	char text[DURATION_FORMAT_MAX + 32];

	for (const char *p = fmt; *p && n + 1 < len;) {
		if (*p == '{' && field_word(e, p, &word, text, sizeof(text))) {
			for (const char *t = text; *t && n + 1 < len; t++)
				out[n++] = *t;
			p += word;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
}

void event_emitv(struct stats *s, const struct event *e, const char *fmt, va_list ap)
{
	const struct event_kind_info *k = event_kind_info(e->kind);
	char msg[1024], form[1024];

	/* Counted whether its record is held back or not. */
	event_count(s, e);
	if (k->limited) {
		event_flush_suppressed();
		if (!log_limit_take())
			return;
	}
	fields_into(e, fmt, form, sizeof(form));
	/* FORM is FMT, which the caller's format attribute checked, with
	 * plain words replaced by text without '%'. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(msg, sizeof(msg), form, ap);
#pragma GCC diagnostic pop
	write_record(k->priority, e, msg);
}

void event_emit(struct stats *s, const struct event *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_emitv(s, e, fmt, ap);
	va_end(ap);
}
