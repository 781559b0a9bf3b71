/* Fuzz target: the configuration loader with drop-ins (settings_load()).
 * The input is split at lines "%%" into the main file and up to two
 * drop-ins (hbwatch.d/10-a.ini, hbwatch.d/20-b.ini), written to a
 * directory on tmpfs (/dev/shm) made once per process.  Checked: a load
 * either fails with a "FILE..." message and owns nothing, or succeeds with
 * settings that respect the documented bounds; settings_finish() frees
 * everything (the leak checker sees the rest). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "fuzz.h"
#include "settings.h"
#include "signame.h"

static char dir[64], main_path[96], dropin[2][128];

static void setup(void)
{
	char d[96];

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "%s",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm/hbfuzz-XXXXXX" : "/tmp/hbfuzz-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(main_path, sizeof(main_path), "%s/hbwatch.ini", dir);
	snprintf(d, sizeof(d), "%s/hbwatch.d", dir);
	if (mkdir(d, 0700) < 0)
		abort();
	snprintf(dropin[0], sizeof(dropin[0]), "%s/10-a.ini", d);
	snprintf(dropin[1], sizeof(dropin[1]), "%s/20-b.ini", d);
}

static void put(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f)
		abort();
	if (n && fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

/* The next part of [*P, END): up to a line "%%" (consumed). */
static size_t part(const uint8_t **p, const uint8_t *end, bool *more)
{
	const uint8_t *s = *p;

	for (const uint8_t *q = s; q + 3 <= end; q++)
		if ((q == s || q[-1] == '\n') && q[0] == '%' && q[1] == '%' && q[2] == '\n') {
			*p = q + 3;
			*more = true;
			return (size_t)(q - s);
		}
	*p = end;
	*more = false;
	return (size_t)(end - s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *start;
	struct settings s;
	char err[512];
	bool more;
	size_t n;
	int r;

	setup();
	start = p;
	n = part(&p, end, &more);
	put(main_path, start, n);
	for (int i = 0; i < 2; i++) {
		if (more) {
			start = p;
			n = part(&p, end, &more);
			put(dropin[i], start, n);
		} else {
			unlink(dropin[i]);
		}
	}
	memset(err, 'x', sizeof(err));
	r = settings_load(main_path, &s, err, sizeof(err));
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL || r == 0);
	if (r < 0) {
		FUZZ_CHECK(strncmp(err, dir, strlen(dir)) == 0); /* "FILE:LINE: ..." */
		FUZZ_CHECK(s.services == NULL && s.n_services == 0);
		settings_finish(&s);
		return 0;
	}
	FUZZ_CHECK(s.slots >= 1 && s.slots <= HB_SLOTS_MAX);
	for (size_t i = 0; i < s.n_services; i++) {
		const struct service *svc = &s.services[i];
		FUZZ_CHECK(memchr(svc->name, '\0', sizeof(svc->name)) != NULL);
		FUZZ_CHECK(name_validate(svc->name) == 0);
		FUZZ_CHECK(settings_find(&s, svc->name) == svc);
		FUZZ_CHECK(signal_name(svc->signal) != NULL);
		FUZZ_CHECK(svc->kill_burst >= 1);
	}
	settings_finish(&s);
	return 0;
}
