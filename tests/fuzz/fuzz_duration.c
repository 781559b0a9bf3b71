/* Fuzz target: the parsers of values people write: durations, signals,
 * and the start time in a /proc/PID/stat line.  Checked properties:
 * duration_format() output parses back to the same value (documented);
 * every signal signal_parse() accepts has a name that parses back to it,
 * and is never SIGSTOP/SIGCONT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "fuzz.h"
#include "proc.h"
#include "signame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), buf[DURATION_FORMAT_MAX];
	uint64_t ns, back, st;
	int sig, sig2;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (duration_parse(s, &ns) == 0) {
		FUZZ_CHECK(duration_format(ns, buf, sizeof(buf)) == 0);
		FUZZ_CHECK(duration_parse(buf, &back) == 0);
		FUZZ_CHECK(back == ns);
	}
	if (signal_parse(s, &sig) == 0) {
		const char *name = signal_name(sig);
		FUZZ_CHECK(sig != SIGSTOP && sig != SIGCONT && sig > 0);
		FUZZ_CHECK(name != NULL);
		FUZZ_CHECK(signal_parse(name, &sig2) == 0 && sig2 == sig);
	}
	/* The raw bytes, not only up to a NUL: /proc lines are counted. */
	(void)proc_parse_starttime((const char *)data, size, &st);
	free(s);
	return 0;
}
