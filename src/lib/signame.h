/* Signal names as people write them in configuration files, and as
 * messages print them.  Pure: no state, no allocation, no output. */
#ifndef HBWATCH_SIGNAME_H
#define HBWATCH_SIGNAME_H

/* Parse a signal that can end a process: a name with or without "SIG" in
 * any case ("SIGTERM", "term"), "RTMIN+N"/"RTMAX-N", or a decimal number.
 * Returns 0, or -EINVAL for garbage, 0, a number with no name on this
 * system, and SIGSTOP and SIGCONT (they stop or resume, never end).
 * SIGKILL is allowed.  *SIG is set only on success. */
int signal_parse(const char *s, int *sig);

/* The name of SIG ("SIGTERM", "SIGRTMIN+2"), a static string, or NULL if
 * it has none.  Every signal signal_parse() accepts has one. */
const char *signal_name(int sig);

#endif
