/* What --check-config looks at beyond the syntax: mistakes that would
 * otherwise show up only when hbwatch first needs the thing (a unit=
 * pattern that names no unit, a metrics_dir the unit cannot write,
 * restart-unit without the system bus).  Run by ExecReload= inside the
 * unit's own sandbox, so what it finds is what the daemon would meet. */
#ifndef HBWATCH_PRECHECK_H
#define HBWATCH_PRECHECK_H

#include "settings.h"

/* Warn (log_warning, with the section's file:line) about each such
 * mistake in S.  Returns how many warnings were given. */
unsigned precheck_settings(const struct settings *s);

#endif
