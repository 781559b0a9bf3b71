#include <criterion/criterion.h>
#include <stdint.h>

#include "deadline.h"
#include "hbwatch.h"

#define MS UINT64_C(1000000)

Test(deadline, timeout_capped_by_service)
{
	cr_assert_eq(deadline_timeout(500 * MS, 0), 500 * MS);
	cr_assert_eq(deadline_timeout(500 * MS, 200 * MS), 200 * MS);
	cr_assert_eq(deadline_timeout(100 * MS, 200 * MS), 100 * MS);
}

Test(deadline, malformed_client_timeout_is_zero)
{
	cr_assert_eq(deadline_timeout(0, 200 * MS), 0);
	cr_assert_eq(deadline_timeout((uint64_t)HB_TIMEOUT_MAX_MS * MS + 1, 0), 0);
	cr_assert_eq(deadline_timeout(UINT64_C(1) << 63, 200 * MS), 0);
	cr_assert_eq(deadline_timeout((uint64_t)HB_TIMEOUT_MAX_MS * MS, 0),
		     (uint64_t)HB_TIMEOUT_MAX_MS * MS);
}

Test(deadline, at_saturates)
{
	cr_assert_eq(deadline_at(1000, 500), 1500);
	cr_assert_eq(deadline_at(UINT64_MAX - 10, 500), UINT64_MAX);
	cr_assert_eq(deadline_at(UINT64_MAX, UINT64_MAX), UINT64_MAX);
}

Test(deadline, scan_period_bounds)
{
	cr_assert_eq(deadline_scan_period(0), DEADLINE_SCAN_MAX_NS);
	cr_assert_eq(deadline_scan_period(300 * MS), 150 * MS);
	cr_assert_eq(deadline_scan_period(1 * MS), DEADLINE_SCAN_MIN_NS);
	cr_assert_eq(deadline_scan_period(3600000 * MS), DEADLINE_SCAN_MAX_NS);
}

Test(deadline, usec_rounds_up)
{
	cr_assert_eq(deadline_usec_ceil(0), 0);
	cr_assert_eq(deadline_usec_ceil(1), 1);
	cr_assert_eq(deadline_usec_ceil(1000), 1);
	cr_assert_eq(deadline_usec_ceil(1001), 2);
}

#define S UINT64_C(1000000000)

/* The effective deadline: max(beat + timeout, min(until, beat + cap)),
 * and only while no beat came after the extension. */
Test(deadline, extended)
{
	static const struct {
		const char *what;
		uint64_t beat, timeout, at, until, max, want;
		bool extended;
	} c[] = {
	    {"no extension", 100 * S, 2 * S, 0, 0, 60 * S, 102 * S, false},
	    {"extended", 100 * S, 2 * S, 101 * S, 130 * S, 60 * S, 130 * S, true},
	    {"extended at the beat", 100 * S, 2 * S, 100 * S, 130 * S, 60 * S, 130 * S, true},
	    {"capped from the beat", 100 * S, 2 * S, 101 * S, 500 * S, 60 * S, 160 * S, true},
	    {"a later beat ends it", 100 * S, 2 * S, 99 * S, 130 * S, 60 * S, 102 * S, false},
	    {"never earlier", 100 * S, 2 * S, 101 * S, 101 * S, 60 * S, 102 * S, false},
	    {"extend_max = 0", 100 * S, 2 * S, 101 * S, 130 * S, 0, 102 * S, false},
	    {"cap below timeout", 100 * S, 2 * S, 101 * S, 130 * S, S, 102 * S, false},
	    {"saturates", UINT64_MAX - S, 2 * S, UINT64_MAX - S, UINT64_MAX, 60 * S, UINT64_MAX,
	     false},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		bool ext = !c[i].extended;
		uint64_t d =
		    deadline_extended(c[i].beat, c[i].timeout, c[i].at, c[i].until, c[i].max, &ext);
		cr_expect_eq(d, c[i].want, "%s: %llu", c[i].what, (unsigned long long)d);
		cr_expect_eq(ext, c[i].extended, "%s", c[i].what);
	}
	cr_expect_eq(deadline_extended(1, 1, 1, 5, 10, NULL), 5);
}

Test(deadline, extend_max_default)
{
	cr_expect_eq(deadline_extend_max(HB_EXTEND_AUTO, 2 * S), 20 * S);
	cr_expect_eq(deadline_extend_max(0, 2 * S), 0);
	cr_expect_eq(deadline_extend_max(7 * S, 2 * S), 7 * S);
	cr_expect_eq(deadline_extend_max(HB_EXTEND_AUTO, UINT64_MAX / 2), UINT64_MAX);
}
