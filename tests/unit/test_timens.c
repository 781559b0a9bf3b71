/* Time namespace offsets: the parser of /proc/PID/timens_offsets and the
 * conversion of a record's times to our clock (pure, or about the test
 * process itself). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "timens.h"

static int parse(const char *s, int64_t *off)
{
	return timens_parse_monotonic(s, strlen(s), off);
}

Test(timens, parses_the_kernels_text)
{
	int64_t off = 7;

	cr_assert_eq(
	    parse("monotonic        3600         0\nboottime          100         0\n", &off), 0);
	cr_assert_eq(off, INT64_C(3600000000000));
	cr_assert_eq(parse("boottime 5 0\nmonotonic -3600 250\n", &off), 0);
	cr_assert_eq(off, -INT64_C(3600000000000) + 250);
	/* By clock number, as the first kernels printed it. */
	cr_assert_eq(parse("1 -2 0\n7 0 0\n", &off), 0);
	cr_assert_eq(off, -INT64_C(2000000000));
	cr_assert_eq(parse("boottime 1 0\n", &off), 0);
	cr_assert_eq(off, 0);
	cr_assert_eq(parse("", &off), 0);
	cr_assert_eq(off, 0);
}

Test(timens, refuses_malformed_text)
{
	int64_t off;

	cr_assert_eq(parse("monotonic 1x 0\n", &off), -EINVAL);
	cr_assert_eq(parse("monotonic 1 1000000000\n", &off), -EINVAL);
	cr_assert_eq(parse("monotonic 1 -1\n", &off), -EINVAL);
	cr_assert_eq(parse("monotonic\n", &off), -EINVAL);
	cr_assert_eq(parse("monotonic 99999999999999999999 0\n", &off), -EINVAL);
	cr_assert_eq(parse("monotonic 9999999999999 0\n", &off), -EINVAL);
}

Test(timens, converts_to_our_clock)
{
	struct hb_record_view v = {.beat_ns = 5000, .ext_at_ns = 6000, .ext_until_ns = 9000};

	timens_view_to_ours(&v, 1000); /* its clock is ahead */
	cr_assert_eq(v.beat_ns, 4000);
	cr_assert_eq(v.ext_at_ns, 5000);
	cr_assert_eq(v.ext_until_ns, 8000);
	timens_view_to_ours(&v, -3000); /* behind */
	cr_assert_eq(v.beat_ns, 7000);
	/* "Never" stays never; the rest saturates. */
	cr_assert_eq(timens_to_ours(0, 5), 0);
	cr_assert_eq(timens_to_ours(3, 5), 1);
	cr_assert_eq(timens_to_ours(UINT64_MAX - 2, -5), UINT64_MAX);
}

Test(timens, our_own_offset_is_zero)
{
	int64_t rel = 1;

	cr_assert_eq(timens_relative(getpid(), &rel), 0);
	cr_assert_eq(rel, 0);
	cr_assert_eq(timens_relative(0, &rel), -ESRCH);
}
