#include <errno.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "log.h"
#include "precheck.h"
#include "share.h"

/* Does any unit file or loaded unit match PATTERN?  1, 0, or -errno when
 * systemd cannot be asked. */
static int unit_pattern_known(sd_bus *bus, const char *method, const char *pattern)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL, *m = NULL;
	int r, found = 0;
	bool files = strcmp(method, "ListUnitFilesByPatterns") == 0;

	r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1",
					   "/org/freedesktop/systemd1",
					   "org.freedesktop.systemd1.Manager", method);
	if (r >= 0)
		r = sd_bus_message_append_strv(m, (char *[]){NULL});
	if (r >= 0)
		r = sd_bus_message_append_strv(m, (char *[]){(char *)pattern, NULL});
	if (r >= 0)
		r = sd_bus_call(bus, m, 5 * 1000000u, &error, &reply);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY,
						   files ? "(ss)" : "(ssssssouso)");
	if (r >= 0)
		found = sd_bus_message_at_end(reply, false) == 0;
	sd_bus_error_free(&error);
	sd_bus_message_unref(m);
	sd_bus_message_unref(reply);
	return r < 0 ? r : found;
}

/* The warnings about SVC in S (BUS, or BUS_R the -errno of reaching
 * it): said, and counted. */
static unsigned service_precheck(const struct settings *s, const struct service *svc, sd_bus *bus,
				 int bus_r)
{
	unsigned warnings = 0;

	if (!svc->unit && !svc->user) {
		log_warning("%s:%u: [%s] has neither user= nor unit=: any uid may register "
			    "under it, each up to its share of slots= (uid_share=%u of %u); "
			    "name who runs it with user= or unit=",
			    svc->file, svc->line, svc->name, share_per_uid(s), s->slots);
		warnings++;
	}
	if (svc->action == ACTION_RESTART_UNIT && bus_r < 0) {
		log_warning("%s:%u: [%s] has action = restart-unit, but the system bus is not "
			    "reachable here (%s): hbwatch could not restart its unit; under "
			    "hbwatch.service add the drop-in "
			    "hbwatch-restart-unit.conf.example",
			    svc->file, svc->line, svc->name, strerror(-bus_r));
		warnings++;
	}
	if (svc->limit_action != LIMIT_WAIT && bus_r < 0) {
		log_warning("%s:%u: [%s] has limit_action = %s, but the system bus is not "
			    "reachable here (%s): hbwatch could not hand its unit to systemd; "
			    "under hbwatch.service add the drop-in "
			    "hbwatch-restart-unit.conf.example",
			    svc->limit_file, svc->limit_line, svc->name,
			    limit_action_name(svc->limit_action), strerror(-bus_r));
		warnings++;
	}
	if (svc->unit && bus_r < 0) {
		/* Outside systemd (a container, a chroot, a test) a typo in
		 * unit= would pass silently: say it was not checked. */
		log_warning("%s:%u: [%s] unit = %s could not be checked: systemd is not "
			    "reachable here (%s)",
			    svc->file, svc->line, svc->name, svc->unit, strerror(-bus_r));
		warnings++;
	}
	if (!svc->unit || bus_r < 0)
		return warnings;
	int known = unit_pattern_known(bus, "ListUnitFilesByPatterns", svc->unit);
	if (known == 0)
		known = unit_pattern_known(bus, "ListUnitsByPatterns", svc->unit);
	if (known == 0) {
		log_warning("%s:%u: [%s] unit = %s matches no unit known to systemd: a "
			    "typo? its processes would not be watched",
			    svc->file, svc->line, svc->name, svc->unit);
		warnings++;
	}
	return warnings;
}

unsigned precheck_settings(const struct settings *s)
{
	sd_bus *bus = NULL;
	int bus_r = sd_bus_open_system(&bus);
	unsigned warnings = 0;

	if (s->metrics_dir && access(s->metrics_dir, W_OK) < 0) {
		log_warning("metrics_dir %s is not writable here (%s): hbwatch could not keep "
			    "hbwatch.prom there; under hbwatch.service add the drop-in "
			    "hbwatch-metrics.conf.example",
			    s->metrics_dir, strerror(errno));
		warnings++;
	}
	for (size_t i = 0; i < s->n_services; i++)
		warnings += service_precheck(s, &s->services[i], bus, bus_r);
	sd_bus_flush_close_unref(bus);
	return warnings;
}
