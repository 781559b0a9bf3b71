#include <stdio.h>

#include "duration.h"
#include "show.h"
#include "signame.h"

/* --check-config: which files made the configuration, and what they set
 * aside, so the layering is never a guess. */
void config_print_sources(const struct settings *s)
{
	for (size_t i = 0; i < s->sources.n; i++)
		printf("%s %s%s\n", i == 0 ? "read" : "  then", s->sources.v[i].path,
		       s->sources.v[i].masked ? " (masked: a symlink to /dev/null)" : "");
	for (size_t i = 0; i < s->n_disabled; i++)
		printf("[%s] is disabled at %s:%u\n", s->disabled[i].name,
		       s->disabled[i].enabled_file, s->disabled[i].enabled_line);
}

/* One line of --show: KEY = VALUE, and where it was set (or "default"). */
static void show_line(const struct settings *s, const char *section, const char *key,
		      const char *value)
{
	const struct setting_origin *o = settings_origin(s, section, key);

	if (o)
		printf("%-17s = %-24s ; %s:%u\n", key, value, o->file, o->line);
	else
		printf("%-17s = %-24s ; default\n", key, value);
}

static const char *show_duration(char *buf, size_t len, uint64_t ns)
{
	if (duration_format(ns, buf, len) < 0)
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	return buf;
}

static void show_service(const struct settings *s, const struct service *svc)
{
	char v[128];

	printf("\n[%s]%s\n", svc->name, svc->enabled ? "" : " ; disabled");
	show_line(s, svc->name, "unit",
		  svc->unit	 ? svc->unit
		  : svc->no_unit ? "none"
				 : "(any: not checked)");
	if (svc->has_user)
		snprintf(v, sizeof(v), "%s (uid %u)", svc->user, (unsigned)svc->uid);
	else
		snprintf(v, sizeof(v), "%s", svc->user ? svc->user : "(any)");
	show_line(s, svc->name, "user", v);
	show_line(s, svc->name, "timeout",
		  svc->timeout_ns ? show_duration(v, sizeof(v), svc->timeout_ns)
				  : "(no cap: as the process asks)");
	show_line(s, svc->name, "action", action_name(svc->action));
	snprintf(v, sizeof(v), "%s (%d)", signal_name(svc->signal) ? signal_name(svc->signal) : "?",
		 svc->signal);
	show_line(s, svc->name, "signal", v);
	snprintf(v, sizeof(v), "%u", svc->kill_burst);
	show_line(s, svc->name, "kill_burst", v);
	show_line(s, svc->name, "kill_interval",
		  show_duration(v, sizeof(v), svc->kill_interval_ns));
	show_line(s, svc->name, "kill_group", svc->kill_group ? "yes" : "no");
	show_line(s, svc->name, "limit_action", limit_action_name(svc->limit_action));
	show_line(s, svc->name, "enabled", svc->enabled ? "yes" : "no");
	if (svc->extend_max_ns == HB_EXTEND_AUTO)
		snprintf(v, sizeof(v), "(10 x each timeout)");
	else
		show_duration(v, sizeof(v), svc->extend_max_ns);
	show_line(s, svc->name, "extend_max", v);
}

/* --check-config --show: every value in force, as parsed, and the file
 * and line it came from, so that "5 minutes" or "5098" is never a guess. */
void config_show(const struct settings *s)
{
	char v[128];

	printf("\n[hbwatch]\n");
	snprintf(v, sizeof(v), "0x%x", (unsigned)s->key);
	show_line(s, "hbwatch", "key", v);
	snprintf(v, sizeof(v), "%u", s->slots);
	show_line(s, "hbwatch", "slots", v);
	if (s->has_gid)
		snprintf(v, sizeof(v), "%s (gid %u)", s->group, (unsigned)s->gid);
	else
		snprintf(v, sizeof(v), "(hbwatch's own)");
	show_line(s, "hbwatch", "group", v);
	show_line(s, "hbwatch", "kill_grace", show_duration(v, sizeof(v), s->kill_grace_ns));
	show_line(s, "hbwatch", "metrics_dir", s->metrics_dir ? s->metrics_dir : "(none)");
	if (s->deadline_priority)
		snprintf(v, sizeof(v), "%d (SCHED_RR)", s->deadline_priority);
	else
		snprintf(v, sizeof(v), "0 (off)");
	show_line(s, "hbwatch", "deadline_priority", v);
	show_line(s, "hbwatch", "deadline_budget",
		  show_duration(v, sizeof(v), s->deadline_budget_ns));
	for (size_t i = 0; i < s->n_services; i++)
		show_service(s, &s->services[i]);
	for (size_t i = 0; i < s->n_disabled; i++)
		show_service(s, &s->disabled[i]);
	if (s->legacy) {
		printf("\n[legacy]\n");
		snprintf(v, sizeof(v), "0x%x", (unsigned)s->legacy_key);
		show_line(s, "legacy", "key", v);
		show_line(s, "legacy", "allow_shared_writers", s->legacy_shared ? "yes" : "no");
	}
}
