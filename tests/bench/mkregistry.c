/* mkregistry: create the hbwatch registry at $HBWATCH_KEY, as the daemon
 * would, for benchmarks that register without a daemon (bench_beat).
 *
 *   mkregistry [SLOTS]   (default 1024)
 *
 * It lives here, not in tests/helpers, so the benchmarks build on their
 * own.  $HBWATCH_KEY must be set: a benchmark never makes the host's
 * 0x5098 registry by accident.  The registry outlives this program (the
 * caller removes it).  Exit status: 0 created or adopted, 1 failed (reason
 * on stderr), 2 usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "registry.h"

static int parse_slots(const char *s, uint32_t *slots)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > HB_RING_MAX)
		return -EINVAL;
	*slots = (uint32_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t slots = 1024;
	struct hb_registry reg;
	char why[768] = "";
	bool adopted;
	int key, r;

	if (argc > 2 || (argc == 2 && parse_slots(argv[1], &slots) < 0)) {
		fprintf(stderr, "Usage: mkregistry [SLOTS (1..%u)]\n", HB_RING_MAX);
		return 2;
	}
	if (!getenv("HBWATCH_KEY") || key_from_env(&key) < 0) {
		fprintf(stderr, "mkregistry: set $HBWATCH_KEY to a private key (hex)\n");
		return 2;
	}
	r = registry_create(key, slots, (gid_t)-1, &reg, &adopted, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "mkregistry: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	/* Clients register only while the registry names a live hbwatch:
	 * the benchmark that runs us stands in for it. */
	atomic_store(&reg.hdr->owner_pid, (int32_t)getppid());
	registry_detach(&reg);
	return 0;
}
