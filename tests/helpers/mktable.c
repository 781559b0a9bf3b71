/* mktable: create the heartbeat table at $HBWATCH_KEY, as the daemon
 * would, for tests that run without it.
 *
 * mktable [SLOTS]   (default 1024)
 *
 * Exit status: 0 created or adopted, 1 failed (reason on stderr), 2 usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "table.h"

int main(int argc, char **argv)
{
	unsigned long long slots = HB_SLOTS_DEFAULT;
	struct hb_table t;
	char why[256] = "";
	bool adopted;
	int key, r;

	if (argc > 2) {
		fprintf(stderr, "Usage: mktable [SLOTS]\n");
		return 2;
	}
	if (argc == 2) {
		char *end;

		errno = 0;
		slots = strtoull(argv[1], &end, 10);
		if (errno || end == argv[1] || *end || argv[1][0] == '-' || slots == 0 ||
		    slots > HB_SLOTS_MAX) {
			fprintf(stderr, "mktable: slots must be 1..%u\n", HB_SLOTS_MAX);
			return 2;
		}
	}
	if (key_from_env(&key) < 0) {
		fprintf(stderr, "mktable: bad $HBWATCH_KEY\n");
		return 2;
	}
	r = table_create(key, (uint32_t)slots, (gid_t)-1, &t, &adopted, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "mktable: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	printf("%s table at key 0x%x with %u slots\n", adopted ? "adopted" : "created",
	       (unsigned)key, t.slot_count);
	table_detach(&t);
	return 0;
}
