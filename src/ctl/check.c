/* hbctl check NAME: a monitoring-plugin check (Nagios/Icinga exit codes and
 * one line of output with performance data).  Lock-free and read-only, like
 * status.  Only live registrations count: a slot whose process is gone or
 * whose pid now belongs to another process is not a process of NAME. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "proc.h"
#include "table.h"

enum { CHECK_OK, CHECK_WARNING, CHECK_CRITICAL, CHECK_UNKNOWN };

static const char *const check_label[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

struct check_worst {
	unsigned n;
	uint64_t age_ns, timeout_ns; /* of the process nearest its deadline */
};

int check_state(uint64_t age_ns, uint64_t timeout_ns)
{
	if (age_ns > timeout_ns)
		return CHECK_CRITICAL;
	return age_ns > timeout_ns / 2 ? CHECK_WARNING : CHECK_OK;
}

/* Seconds with up to three decimals and no trailing zeros ("15", "0.25"). */
void format_seconds(char *buf, size_t len, uint64_t ns)
{
	int n = snprintf(buf, len, "%llu.%03llu", (unsigned long long)(ns / 1000000000u),
			 (unsigned long long)(ns / 1000000u % 1000u));

	if (n <= 0 || (size_t)n >= len)
		return;
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

static void check_scan(const struct hb_table *t, const char *name, struct check_worst *w)
{
	uint64_t now = now_ns();

	for (uint32_t i = 0; i < t->slot_count; i++) {
		struct hb_slot_view v;
		uint64_t st, age;

		if (atomic_load_explicit(&t->slots[i].pid, memory_order_relaxed) == 0 ||
		    table_slot_read(t, i, &v) < 0 || v.pid == 0 || !v.name_ok ||
		    strcmp(v.name, name) != 0 || v.timeout_ns == 0)
			continue;
		if (proc_starttime(v.pid, &st) < 0 || st != v.start_time)
			continue;
		age = v.beat_ns < now ? now - v.beat_ns : 0;
		/* Nearest its deadline: the largest share of its timeout. */
		if (w->n == 0 || (double)age / (double)v.timeout_ns >
				     (double)w->age_ns / (double)w->timeout_ns) {
			w->age_ns = age;
			w->timeout_ns = v.timeout_ns;
		}
		w->n++;
	}
}

int cmd_check(const struct ctl *ctl, int argc, char **argv)
{
	struct check_worst w = {0};
	struct hb_table t;
	char why[256] = "", age[32], tmo[32], age_s[32], warn_s[32], crit_s[32];
	int r, state;

	if (argc != 2 || argv[1][0] == '-') {
		printf("HBWATCH UNKNOWN - usage: hbctl check NAME\n");
		return CHECK_UNKNOWN;
	}
	if (name_validate(argv[1]) < 0) {
		printf("HBWATCH UNKNOWN - bad name: use 1 to %d letters, digits and -_.:@\n",
		       HB_NAME_MAX);
		return CHECK_UNKNOWN;
	}
	r = table_attach(ctl->key, true, &t, why, sizeof(why));
	if (r < 0) {
		printf("HBWATCH UNKNOWN - %s\n", why[0] ? why : strerror(-r));
		return CHECK_UNKNOWN;
	}
	check_scan(&t, argv[1], &w);
	table_detach(&t);
	if (w.n == 0) {
		printf("HBWATCH CRITICAL - %s: no live process registered\n", argv[1]);
		return CHECK_CRITICAL;
	}
	state = check_state(w.age_ns, w.timeout_ns);
	format_duration_ms(age, sizeof(age), w.age_ns / 1000000u);
	format_duration_ms(tmo, sizeof(tmo), w.timeout_ns / 1000000u);
	format_seconds(age_s, sizeof(age_s), w.age_ns);
	format_seconds(warn_s, sizeof(warn_s), w.timeout_ns / 2);
	format_seconds(crit_s, sizeof(crit_s), w.timeout_ns);
	printf("HBWATCH %s - %s: %u process%s, oldest beat %s ago (timeout %s)|age=%ss;%s;%s\n",
	       check_label[state], argv[1], w.n, w.n == 1 ? "" : "es", age, tmo, age_s, warn_s,
	       crit_s);
	return state;
}
