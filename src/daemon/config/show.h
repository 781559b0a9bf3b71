/* What --check-config prints: the files the configuration is made of,
 * and with --show every value in force and where it was set. */
#ifndef HBWATCH_SHOW_H
#define HBWATCH_SHOW_H

#include "settings.h"

/* Which files made S, and what they set aside (masked, disabled). */
void config_print_sources(const struct settings *s);

/* Every value in force in S, as parsed, and the file:line it came from. */
void config_show(const struct settings *s);

#endif
