/* The clocks: heartbeats are measured on CLOCK_MONOTONIC; a record is
 * stamped with CLOCK_BOOTTIME, the clock process start times count on. */
#ifndef HBWATCH_CLOCK_H
#define HBWATCH_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds.  Inline: it is half of hb_beat(). */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_BOOTTIME in nanoseconds: the clock process start times count on,
 * read without a system call. */
static inline uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
