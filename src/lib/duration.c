#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "duration.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NS_US	 UINT64_C(1000)
#define NS_MS	 UINT64_C(1000000)
#define NS_S	 UINT64_C(1000000000)
#define NS_MIN	 (60 * NS_S)
#define NS_H	 (60 * NS_MIN)
#define NS_D	 (24 * NS_H)
#define NS_W	 (7 * NS_D)
#define NS_MONTH (2629800 * NS_S)  /* 30.44 days, as systemd */
#define NS_YEAR	 (31557600 * NS_S) /* 365.25 days, as systemd */

struct unit {
	const char *name;
	uint64_t ns;
};

/* systemd.time(7)'s list.  Case matters: "M" is a month, "m" a minute. */
static const struct unit units[] = {
    {"ns", 1},
    {"nsec", 1},
    {"us", NS_US},
    {"usec", NS_US},
    {"\xc2\xb5s", NS_US}, /* U+00B5 MICRO SIGN */
    {"\xce\xbcs", NS_US}, /* U+03BC GREEK SMALL LETTER MU */
    {"ms", NS_MS},
    {"msec", NS_MS},
    {"s", NS_S},
    {"sec", NS_S},
    {"second", NS_S},
    {"seconds", NS_S},
    {"m", NS_MIN},
    {"min", NS_MIN},
    {"minute", NS_MIN},
    {"minutes", NS_MIN},
    {"h", NS_H},
    {"hr", NS_H},
    {"hour", NS_H},
    {"hours", NS_H},
    {"d", NS_D},
    {"day", NS_D},
    {"days", NS_D},
    {"w", NS_W},
    {"week", NS_W},
    {"weeks", NS_W},
    {"M", NS_MONTH},
    {"month", NS_MONTH},
    {"months", NS_MONTH},
    {"y", NS_YEAR},
    {"year", NS_YEAR},
    {"years", NS_YEAR},
};

/* Our own class tests: <ctype.h> depends on the locale. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static const char *skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

static bool add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
	*sum = a + b;
	return *sum < a;
}

static bool mul_overflows(uint64_t a, uint64_t b, uint64_t *prod)
{
	if (b && a > UINT64_MAX / b)
		return true;
	*prod = a * b;
	return false;
}

/* Unit of LEN bytes at P, or 0 if unknown.  No unit means seconds. */
static uint64_t unit_ns(const char *p, size_t len)
{
	if (len == 0)
		return NS_S;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strlen(units[i].name) == len && memcmp(units[i].name, p, len) == 0)
			return units[i].ns;
	return 0;
}

int duration_parse(const char *s, uint64_t *ns)
{
	uint64_t total = 0;
	bool overflow = false;
	const char *p;

	if (!s)
		return -EINVAL;
	p = skip_space(s);
	if (!*p)
		return -EINVAL;
	while (*p) {
		uint64_t whole = 0, term = 0, mult;
		const char *frac = NULL, *u;

		/* Digits first: this refuses signs, ".5" and "infinity". */
		if (!is_digit(*p))
			return -EINVAL;
		for (; is_digit(*p); p++)
			if (mul_overflows(whole, 10, &whole) ||
			    add_overflows(whole, (uint64_t)(*p - '0'), &whole))
				overflow = true;
		if (*p == '.') {
			frac = ++p;
			if (!is_digit(*p))
				return -EINVAL;
			while (is_digit(*p))
				p++;
		}
		p = skip_space(p);
		for (u = p; *p && !is_digit(*p) && !is_space(*p) && *p != '.'; p++)
			;
		mult = unit_ns(u, (size_t)(p - u));
		if (!mult)
			return -EINVAL;
		if (mul_overflows(whole, mult, &term))
			overflow = true;
		/* Each fraction digit is worth a tenth of the previous one; the
		 * digits past the unit's resolution add nothing (as systemd). */
		for (uint64_t m = mult / 10; frac && is_digit(*frac); frac++, m /= 10)
			if (add_overflows(term, (uint64_t)(*frac - '0') * m, &term))
				overflow = true;
		if (add_overflows(total, term, &total))
			overflow = true;
		p = skip_space(p);
	}
	if (overflow)
		return -ERANGE;
	*ns = total;
	return 0;
}

int duration_format(uint64_t ns, char *buf, size_t len)
{
	static const struct unit parts[] = {
	    {"w", NS_W}, {"d", NS_D},	{"h", NS_H},   {"min", NS_MIN},
	    {"s", NS_S}, {"ms", NS_MS}, {"us", NS_US}, {"ns", 1},
	};
	size_t used = 0;
	int n;

	if (len)
		buf[0] = '\0';
	if (ns == 0) {
		n = snprintf(buf, len, "0");
		return (size_t)n < len ? 0 : -ENOBUFS;
	}
	for (size_t i = 0; i < ARRAY_SIZE(parts) && ns; i++) {
		uint64_t q = ns / parts[i].ns;

		if (!q)
			continue;
		ns -= q * parts[i].ns;
		n = snprintf(buf + used, len - used, "%s%llu%s", used ? " " : "",
			     (unsigned long long)q, parts[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return -ENOBUFS;
		used += (size_t)n;
	}
	return 0;
}
