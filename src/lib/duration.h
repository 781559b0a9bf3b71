/* Pure parsers and formatters for time spans written by people, in
 * systemd's syntax.  Shared by the daemon's configuration
 * and hbctl; no state, no allocation, no output. */
#ifndef HBWATCH_DURATION_H
#define HBWATCH_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Room for any duration_format() output, NUL included. */
#define DURATION_FORMAT_MAX 64

/* Parse a systemd time span ("500ms", "1h 30min", "1.5s", "10" = 10 s) into
 * nanoseconds: one or more terms of a decimal number (optional fraction) and
 * a unit (ns us ms s min h d w M y and their long forms, as systemd.time(7)),
 * whitespace allowed around them.  Returns 0, -EINVAL for an empty string,
 * a sign, an unknown unit or anything else malformed, or -ERANGE when the
 * well-formed result does not fit in 64 bits.  *NS is set only on success. */
int duration_parse(const char *s, uint64_t *ns);

/* Write NS as the terms duration_parse() reads back exactly, largest unit
 * first ("1min 30s", "250ms", "1w 2d", "0") into BUF of LEN bytes.  Returns
 * 0, or -ENOBUFS if it does not fit (BUF then holds a truncated string when
 * LEN > 0).  DURATION_FORMAT_MAX bytes always suffice. */
int duration_format(uint64_t ns, char *buf, size_t len);

#endif
