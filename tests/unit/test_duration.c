/* duration_parse/format and signal_parse/name: table-driven. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "signame.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define US  UINT64_C(1000)
#define MS  UINT64_C(1000000)
#define SEC UINT64_C(1000000000)
#define MIN (60 * SEC)
#define HR  (60 * MIN)
#define DAY (24 * HR)

static const struct {
	const char *in;
	uint64_t ns;
} parse_good[] = {
    {"0", 0},
    {"10", 10 * SEC},
    {"500ms", 500 * MS},
    {"30s", 30 * SEC},
    {"2min", 2 * MIN},
    {"1h 30min", HR + 30 * MIN},
    {"1h30min", HR + 30 * MIN},
    {"1.5s", 1500 * MS},
    {"0.25s", 250 * MS},
    {"1.123456789s", SEC + 123456789},
    {"1.0000000009s", SEC}, /* past the nanosecond: dropped */
    {"250us", 250 * US},
    {"250\xc2\xb5s", 250 * US},
    {"250\xce\xbcs", 250 * US},
    {"7ns", 7},
    {"7nsec", 7},
    {"7usec", 7 * US},
    {"7msec", 7 * MS},
    {"5sec", 5 * SEC},
    {"1second", SEC},
    {"2seconds", 2 * SEC},
    {"3m", 3 * MIN},
    {"1minute", MIN},
    {"2minutes", 2 * MIN},
    {"2h", 2 * HR},
    {"2hr", 2 * HR},
    {"1hour", HR},
    {"3hours", 3 * HR},
    {"1d", DAY},
    {"1day", DAY},
    {"2days", 2 * DAY},
    {"1w", 7 * DAY},
    {"1week", 7 * DAY},
    {"2weeks", 14 * DAY},
    {"1M", 2629800 * SEC},
    {"1month", 2629800 * SEC},
    {"1y", 31557600 * SEC},
    {"1years", 31557600 * SEC},
    {"5 min", 5 * MIN},
    {"  1s  ", SEC},
    {"1min 30", MIN + 30 * SEC},
    {"1s 1s", 2 * SEC},
    {"1h 2min 3s 4ms 5us 6ns", HR + 2 * MIN + 3 * SEC + 4 * MS + 5 * US + 6},
    {"0010s", 10 * SEC},
    {"18446744073709551615ns", UINT64_MAX},
    {"18446744073.709551615s", UINT64_MAX},
};

static const struct {
	const char *in;
	int r;
} parse_bad[] = {
    {"", -EINVAL},
    {"   ", -EINVAL},
    {"-1s", -EINVAL},
    {"+1s", -EINVAL},
    {"s", -EINVAL},
    {"ms", -EINVAL},
    {".5s", -EINVAL},
    {"1.s", -EINVAL},
    {"1..5s", -EINVAL},
    {"1.5.5s", -EINVAL},
    {"5mins", -EINVAL},
    {"5 parsecs", -EINVAL},
    {"5S", -EINVAL}, /* units are case-sensitive, as in systemd */
    {"5H", -EINVAL},
    {"1s garbage", -EINVAL},
    {"1s,2s", -EINVAL},
    {"infinity", -EINVAL},
    {"0x10s", -EINVAL},
    {"1e3s", -EINVAL},
    {"18446744073709551616ns", -ERANGE},
    {"18446744074s", -ERANGE},
    {"600000w", -ERANGE},
    {"18446744073709551615ns 1ns", -ERANGE},
    {"99999999999999999999999x", -EINVAL}, /* malformed beats too large */
};

Test(duration, parse_good)
{
	for (size_t i = 0; i < ARRAY_SIZE(parse_good); i++) {
		uint64_t ns = 42;
		int r = duration_parse(parse_good[i].in, &ns);

		cr_expect_eq(r, 0, "duration_parse(\"%s\") = %d", parse_good[i].in, r);
		cr_expect_eq(ns, parse_good[i].ns, "duration_parse(\"%s\") gave %llu, want %llu",
			     parse_good[i].in, (unsigned long long)ns,
			     (unsigned long long)parse_good[i].ns);
	}
}

Test(duration, parse_bad)
{
	for (size_t i = 0; i < ARRAY_SIZE(parse_bad); i++) {
		uint64_t ns = 42;
		int r = duration_parse(parse_bad[i].in, &ns);

		cr_expect_eq(r, parse_bad[i].r, "duration_parse(\"%s\") = %d, want %d",
			     parse_bad[i].in, r, parse_bad[i].r);
		cr_expect_eq(ns, 42, "duration_parse(\"%s\") wrote its output on failure",
			     parse_bad[i].in);
	}
	cr_expect_eq(duration_parse(NULL, &(uint64_t){0}), -EINVAL);
}

static const struct {
	uint64_t ns;
	const char *out;
} format_cases[] = {
    {0, "0"},
    {1, "1ns"},
    {250 * MS, "250ms"},
    {1500 * MS, "1s 500ms"},
    {90 * SEC, "1min 30s"},
    {HR, "1h"},
    {HR + 30 * MIN, "1h 30min"},
    {DAY + 1, "1d 1ns"},
    {9 * DAY, "1w 2d"},
    {250 * US, "250us"},
    {UINT64_MAX, "30500w 3d 23h 34min 33s 709ms 551us 615ns"},
};

Test(duration, format)
{
	char buf[DURATION_FORMAT_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(format_cases); i++) {
		uint64_t back = 42;

		cr_expect_eq(duration_format(format_cases[i].ns, buf, sizeof(buf)), 0);
		cr_expect_str_eq(buf, format_cases[i].out);
		/* What we print, we read back to the same value. */
		cr_expect_eq(duration_parse(buf, &back), 0, "cannot parse back \"%s\"", buf);
		cr_expect_eq(back, format_cases[i].ns, "\"%s\" read back as %llu", buf,
			     (unsigned long long)back);
	}
}

Test(duration, format_small_buffer)
{
	char buf[9];

	cr_expect_eq(duration_format(90 * SEC, buf, 9), 0); /* "1min 30s" + NUL fits */
	cr_expect_eq(duration_format(90 * SEC, buf, 8), -ENOBUFS);
	cr_expect_eq(strlen(buf) < 8, 1, "the truncated output is NUL-terminated");
	cr_expect_eq(duration_format(0, buf, 1), -ENOBUFS);
	cr_expect_str_eq(buf, "");
	cr_expect_eq(duration_format(0, NULL, 0), -ENOBUFS);
}

Test(signal, parse_names_and_numbers)
{
	static const struct {
		const char *in;
		int sig;
	} good[] = {
	    {"SIGTERM", SIGTERM}, {"TERM", SIGTERM},	  {"sigterm", SIGTERM},
	    {"Term", SIGTERM},	  {"SIGABRT", SIGABRT},	  {"abrt", SIGABRT},
	    {"SIGKILL", SIGKILL}, {"9", SIGKILL},	  {"6", SIGABRT},
	    {"15", SIGTERM},	  {"SIGHUP", SIGHUP},	  {"SIGUSR1", SIGUSR1},
	    {"SIGSYS", SIGSYS},	  {"SIGWINCH", SIGWINCH}, {"SIGQUIT", SIGQUIT},
	    {"SIGINT", SIGINT},	  {"1", SIGHUP},	  {"31", SIGSYS},
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		int sig = -1;

		cr_expect_eq(signal_parse(good[i].in, &sig), 0, "signal_parse(\"%s\")", good[i].in);
		cr_expect_eq(sig, good[i].sig, "signal_parse(\"%s\") = %d", good[i].in, sig);
	}
}

Test(signal, parse_realtime)
{
	char num[16];
	int sig = -1;

	cr_expect_eq(signal_parse("SIGRTMIN", &sig), 0);
	cr_expect_eq(sig, SIGRTMIN);
	cr_expect_eq(signal_parse("rtmin+2", &sig), 0);
	cr_expect_eq(sig, SIGRTMIN + 2);
	cr_expect_eq(signal_parse("SIGRTMAX", &sig), 0);
	cr_expect_eq(sig, SIGRTMAX);
	cr_expect_eq(signal_parse("SIGRTMAX-1", &sig), 0);
	cr_expect_eq(sig, SIGRTMAX - 1);
	snprintf(num, sizeof(num), "%d", SIGRTMAX);
	cr_expect_eq(signal_parse(num, &sig), 0);
	cr_expect_eq(sig, SIGRTMAX);
	cr_expect_str_eq(signal_name(SIGRTMIN), "SIGRTMIN");
	cr_expect_str_eq(signal_name(SIGRTMIN + 3), "SIGRTMIN+3");
}

Test(signal, parse_bad)
{
	static const char *const bad[] = {
	    "",		"0",	    "-1",      "+15",	   " 15",    "15 ",    "SIGSTOP",
	    "STOP",	"19",	    "SIGCONT", "cont",	   "18",     "SIG",    "SIGFOO",
	    "TERMS",	"SIGTERM ", "SIG15",   "0x0f",	   "1000",   "65",     "32",
	    "RTMIN+99", "RTMIN-1",  "RTMAX+1", "RTMAX-99", "RTMIN+", "SIGIOT", "15x",
	};
	int sig = -1;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		cr_expect_eq(signal_parse(bad[i], &sig), -EINVAL, "signal_parse(\"%s\") accepted",
			     bad[i]);
	cr_expect_eq(sig, -1, "signal_parse wrote its output on failure");
	cr_expect_eq(signal_parse(NULL, &sig), -EINVAL);
}

Test(signal, name)
{
	cr_expect_str_eq(signal_name(SIGTERM), "SIGTERM");
	cr_expect_str_eq(signal_name(SIGABRT), "SIGABRT");
	cr_expect_str_eq(signal_name(SIGKILL), "SIGKILL");
	cr_expect_str_eq(signal_name(SIGSTOP), "SIGSTOP");
	cr_expect_null(signal_name(0));
	cr_expect_null(signal_name(-1));
	cr_expect_null(signal_name(32));
	cr_expect_null(signal_name(SIGRTMAX + 1));
	/* Every accepted number has a name, and the name parses back. */
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		char num[16];
		int back = -1;

		snprintf(num, sizeof(num), "%d", sig);
		if (signal_parse(num, &back) < 0)
			continue;
		cr_assert_not_null(signal_name(sig), "signal %d accepted but nameless", sig);
		cr_expect_eq(signal_parse(signal_name(sig), &back), 0, "%s", signal_name(sig));
		cr_expect_eq(back, sig, "%s parsed back as %d", signal_name(sig), back);
	}
}
