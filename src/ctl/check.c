/* hbctl check NAME: a monitoring-plugin check (Nagios/Icinga exit codes and
 * one line of output with performance data).  Lock-free and read-only, like
 * status.  CRITICAL while hbwatch is not running. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "census.h"
#include "clock.h"
#include "ctl.h"
#include "proc.h"
#include "record.h"
#include "status.h"
#include <stdlib.h>

enum { CHECK_OK, CHECK_WARNING, CHECK_CRITICAL, CHECK_UNKNOWN };

static const char *const check_label[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

struct check_worst {
	unsigned n;
	uint64_t age_ns, timeout_ns; /* of the process nearest its deadline */
	bool refused;		     /* a process of NAME that hbwatch does not watch */
	char why[HB_STATUS_REASON];
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

/* Keep the heartbeat nearest its deadline: the largest share of its
 * timeout.  FIRST: nothing kept yet. */
static void consider(struct check_worst *w, uint64_t age, uint64_t timeout, bool first)
{
	if (first || (double)age / (double)timeout > (double)w->age_ns / (double)w->timeout_ns) {
		w->age_ns = age;
		w->timeout_ns = timeout;
	}
}

/* Only live, trusted registrations that hbwatch watches count: a record
 * whose process is gone, that is not its owner's word, or that hbwatch
 * refused is not a watched process of NAME.  The timeout is the one
 * hbwatch applies (the section's cap). */
static int check_scan(const char *name, const struct ctl_view *view, struct check_worst *w)
{
	struct census_entry *e;
	uint64_t now;
	size_t n;
	int r = ctl_census_collect(view, &e, &n);

	if (r < 0)
		return r;
	now = now_ns();
	for (size_t k = 0; k < n; k++) {
		const struct hb_status_entry *d = ctl_view_find(view, e[k].shmid);
		uint64_t age, timeout;

		if (e[k].busy || !e[k].alive || !e[k].trusted || !e[k].v.name_ok ||
		    strcmp(e[k].v.name, name) != 0)
			continue;
		if (!ctl_watched(&e[k], view)) {
			if (!w->refused) {
				snprintf(w->why, sizeof(w->why), "%s", d->reason);
				w->refused = true;
			}
			continue;
		}
		timeout = ctl_entry_timeout(&e[k], view);
		if (timeout == 0)
			continue;
		/* A heartbeat carried by an extension is on time until it ends. */
		age = ctl_entry_extended(&e[k], view, now) ? 0 : ctl_entry_age(&e[k], now);
		consider(w, age, timeout, w->n == 0);
		w->n++;
		/* Its tasks are its deadlines too. */
		struct hb_task_view t[HB_TASK_SLOTS];
		unsigned nt = ctl_entry_tasks(&e[k], t, HB_TASK_SLOTS);
		for (unsigned i = 0; i < nt; i++) {
			uint64_t tmo, left;
			(void)ctl_task_state(&e[k], &t[i], view, now, &tmo, &left);
			if (tmo)
				consider(w, left || t[i].beat_ns >= now ? 0 : now - t[i].beat_ns,
					 tmo, false);
		}
	}
	free(e);
	return 0;
}

int cmd_check(const struct ctl *ctl, int argc, char **argv)
{
	struct check_worst w = {0};
	char age[32], tmo[32], age_s[32], warn_s[32], crit_s[32];
	struct ctl_view view;
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
	/* Heartbeats nobody watches are no comfort: hbwatch must be running. */
	r = ctl_view_load(ctl->key, &view, NULL, 0);
	if (r == -ENOENT || (r == 0 && !view.alive)) {
		ctl_view_free(&view);
		printf("HBWATCH CRITICAL - hbwatch is not running (%s at key 0x%x)\n",
		       r == -ENOENT ? "no registry" : "its registry has no live owner",
		       (unsigned)ctl->key);
		return CHECK_CRITICAL;
	}
	if (r < 0) {
		printf("HBWATCH UNKNOWN - cannot read the registry at key 0x%x: %s\n",
		       (unsigned)ctl->key, strerror(-r));
		return CHECK_UNKNOWN;
	}
	r = check_scan(argv[1], &view, &w);
	ctl_view_free(&view);
	if (r < 0) {
		printf("HBWATCH UNKNOWN - cannot enumerate heartbeat records: %s\n", strerror(-r));
		return CHECK_UNKNOWN;
	}
	if (w.n == 0 && w.refused) {
		printf("HBWATCH CRITICAL - %s: registered but not watched by hbwatch: %s\n",
		       argv[1], w.why);
		return CHECK_CRITICAL;
	}
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
