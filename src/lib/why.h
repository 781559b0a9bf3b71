/* The explanation that validators and attach functions give with an
 * error: a sentence for the caller to print, never printed here. */
#ifndef HBWATCH_WHY_H
#define HBWATCH_WHY_H

#include <stddef.h>

/* Format into WHY (LEN bytes) if WHY is not NULL and LEN is not 0. */
void why_set(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
