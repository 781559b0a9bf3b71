#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signame.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

struct signame {
	int sig;
	const char *name;
};

/* Linux's standard signals.  The aliases (IOT, POLL, CLD) are not
 * accepted: one spelling per signal keeps messages and configs alike. */
static const struct signame signals[] = {
    {SIGHUP, "SIGHUP"},	  {SIGINT, "SIGINT"},	    {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},	    {SIGBUS, "SIGBUS"},	  {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},	    {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},	    {SIGTERM, "SIGTERM"}, {SIGSTKFLT, "SIGSTKFLT"},
    {SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"},	    {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"},
    {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"},	    {SIGURG, "SIGURG"},	  {SIGXCPU, "SIGXCPU"},
    {SIGXFSZ, "SIGXFSZ"}, {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"},
    {SIGIO, "SIGIO"},	  {SIGPWR, "SIGPWR"},	    {SIGSYS, "SIGSYS"},
};

/* SIGRTMIN is a function call in glibc (it reserves a few for itself), so
 * the real-time names are relative to it and computed at run time. */
static const char *const rt_names[] = {
    "SIGRTMIN",	   "SIGRTMIN+1",  "SIGRTMIN+2",	 "SIGRTMIN+3",	"SIGRTMIN+4",  "SIGRTMIN+5",
    "SIGRTMIN+6",  "SIGRTMIN+7",  "SIGRTMIN+8",	 "SIGRTMIN+9",	"SIGRTMIN+10", "SIGRTMIN+11",
    "SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14", "SIGRTMIN+15", "SIGRTMIN+16", "SIGRTMIN+17",
    "SIGRTMIN+18", "SIGRTMIN+19", "SIGRTMIN+20", "SIGRTMIN+21", "SIGRTMIN+22", "SIGRTMIN+23",
    "SIGRTMIN+24", "SIGRTMIN+25", "SIGRTMIN+26", "SIGRTMIN+27", "SIGRTMIN+28", "SIGRTMIN+29",
    "SIGRTMIN+30", "SIGRTMIN+31", "SIGRTMIN+32",
};

const char *signal_name(int sig)
{
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	if (sig >= SIGRTMIN && sig <= SIGRTMAX && (size_t)(sig - SIGRTMIN) < ARRAY_SIZE(rt_names))
		return rt_names[sig - SIGRTMIN];
	return NULL;
}

/* Strict decimal: digits only, no sign or space; small, as signals are. */
static int parse_small(const char *s, int *v)
{
	long n = 0;

	if (!is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		n = n * 10 + (*s - '0');
		if (n > 1000)
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	*v = (int)n;
	return 0;
}

/* "RTMIN", "RTMIN+N", "RTMAX" or "RTMAX-N", any case, without "SIG". */
static int rt_parse(const char *s, int *sig)
{
	bool max;
	int n = 0;

	if (strncasecmp(s, "RTMIN", 5) == 0)
		max = false;
	else if (strncasecmp(s, "RTMAX", 5) == 0)
		max = true;
	else
		return -EINVAL;
	if (s[5] && (s[5] != (max ? '-' : '+') || parse_small(s + 6, &n) < 0))
		return -EINVAL;
	if (n > SIGRTMAX - SIGRTMIN)
		return -EINVAL;
	*sig = max ? SIGRTMAX - n : SIGRTMIN + n;
	return 0;
}

static int signal_lookup(const char *s, int *sig)
{
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	if (is_digit(*s))
		return -EINVAL; /* "SIG15" is no spelling anyone uses */
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(s, signals[i].name + 3) == 0) {
			*sig = signals[i].sig;
			return 0;
		}
	return rt_parse(s, sig);
}

int signal_parse(const char *s, int *sig)
{
	int n, r;

	if (!s)
		return -EINVAL;
	r = is_digit(*s) ? parse_small(s, &n) : signal_lookup(s, &n);
	if (r < 0)
		return r;
	/* Refusing nameless numbers also keeps out glibc's internal signals
	 * between SIGSYS and SIGRTMIN and anything past SIGRTMAX. */
	if (n <= 0 || n == SIGSTOP || n == SIGCONT || !signal_name(n) || n > SIGRTMAX)
		return -EINVAL;
	*sig = n;
	return 0;
}
