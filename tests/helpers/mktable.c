/* mktable: create the hbwatch registry at $HBWATCH_KEY (hex) without the
 * daemon, as hbwatch would, so clients can register in tests and
 * benchmarks that do not need the daemon itself.  Prints nothing; exits 0
 * or 1 with the reason on stderr.  The registry names mktable's parent as
 * its hbwatch, so clients register while that parent runs.  "mktable SLOTS" sizes the ring. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "registry.h"

int main(int argc, char **argv)
{
	struct hb_registry reg;
	unsigned long slots = 1024;
	char why[512] = "";
	bool adopted;
	int key, r;

	if (argc > 2 || (argc == 2 && (slots = strtoul(argv[1], NULL, 10)) == 0)) {
		fprintf(stderr, "usage: mktable [SLOTS]\n");
		return 2;
	}
	r = key_from_env(&key);
	if (r == 0)
		r = registry_create(key, (uint32_t)slots, (gid_t)-1, &reg, &adopted, why,
				    sizeof(why));
	if (r < 0) {
		fprintf(stderr, "mktable: %s\n", why[0] ? why : strerror(-r));
		return 1;
	}
	/* Clients register only while the registry names a live hbwatch:
	 * our caller, the test, stands in for it. */
	atomic_store(&reg.hdr->owner_pid, (int32_t)getppid());
	registry_detach(&reg);
	return 0;
}
