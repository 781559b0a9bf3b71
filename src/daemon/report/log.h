/* Logging.  Under journald (stderr is the journal stream named by
 * $JOURNAL_STREAM) every line is a structured record sent with sd-journal;
 * otherwise a readable line on stderr.  Events (a deadline missed, a signal
 * sent, ...) carry a MESSAGE_ID per kind and the fields of the slot they
 * concern, so `journalctl MESSAGE_ID=...` and, through OBJECT_PID=,
 * `journalctl -u VICTIM.service` find them.  errno is preserved. */
#ifndef HBWATCH_LOG_H
#define HBWATCH_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

struct event;

/* The rate limit of limited events (event.h): at most LOG_LIMIT_BURST per
 * LOG_LIMIT_INTERVAL_NS, then one summary per interval, far below
 * journald's default of 10000 per 30 s for the whole service. */
#define LOG_LIMIT_BURST	      200u
#define LOG_LIMIT_INTERVAL_NS (30u * 1000000000ull)

/* Choose the sink: the journal if stderr is connected to it. */
void log_init(void);

/* Log at syslog LEVEL; never fails, keeps errno. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write the record of event E at LEVEL with message MSG, known to the
 * journal as NAME (HBWATCH_EVENT=, the tag of a stderr line) and
 * MESSAGE_ID ID.  Never fails, keeps errno.  Events are told through
 * event_emit() (event.h), which decides the rest. */
void log_record(int level, const char *name, const char *id, const struct event *e,
		const char *msg);

/* Take one record of the rate limit's burst: false if this interval's is
 * used up (the record is then held back, and counted as such). */
bool log_limit_take(void);

/* If the rate limit's interval is over, start a new one: true, and
 * *HELD says how many records the one that ended held back. */
bool log_limit_roll(uint64_t *held);

#define log_error(...)	 log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	 log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	 log_msg(LOG_INFO, __VA_ARGS__)

#endif
