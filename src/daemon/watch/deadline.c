#include "deadline.h"
#include "hbwatch.h"

uint64_t deadline_timeout(uint64_t client_ns, uint64_t cap_ns)
{
	if (client_ns == 0 || client_ns > (uint64_t)HB_TIMEOUT_MAX_MS * 1000000u)
		return 0;
	return cap_ns && cap_ns < client_ns ? cap_ns : client_ns;
}

uint64_t deadline_at(uint64_t beat_ns, uint64_t timeout_ns)
{
	return beat_ns > UINT64_MAX - timeout_ns ? UINT64_MAX : beat_ns + timeout_ns;
}

uint64_t deadline_scan_period(uint64_t min_cap_ns)
{
	uint64_t p = min_cap_ns ? min_cap_ns / 2 : DEADLINE_SCAN_MAX_NS;

	if (p < DEADLINE_SCAN_MIN_NS)
		return DEADLINE_SCAN_MIN_NS;
	return p > DEADLINE_SCAN_MAX_NS ? DEADLINE_SCAN_MAX_NS : p;
}

uint64_t deadline_usec_ceil(uint64_t ns)
{
	return ns / 1000u + (ns % 1000u != 0);
}

uint64_t deadline_extended(uint64_t beat_ns, uint64_t timeout_ns, uint64_t ext_at_ns,
			   uint64_t ext_until_ns, uint64_t ext_max_ns, bool *extended)
{
	uint64_t normal = deadline_at(beat_ns, timeout_ns);
	uint64_t cap, ext;

	if (extended)
		*extended = false;
	if (!ext_at_ns || ext_at_ns < beat_ns || !ext_max_ns)
		return normal;
	cap = deadline_at(beat_ns, ext_max_ns);
	ext = ext_until_ns < cap ? ext_until_ns : cap;
	if (ext <= normal)
		return normal;
	if (extended)
		*extended = true;
	return ext;
}

uint64_t deadline_extend_max(uint64_t extend_max_ns, uint64_t timeout_ns)
{
	if (extend_max_ns != HB_EXTEND_AUTO)
		return extend_max_ns;
	return timeout_ns > UINT64_MAX / HB_EXTEND_AUTO_TIMES ? UINT64_MAX
							      : timeout_ns * HB_EXTEND_AUTO_TIMES;
}
