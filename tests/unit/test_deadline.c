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
