#include <errno.h>
#include <stdlib.h>

#include "key.h"
#include "registry.h"

int key_parse(const char *s, int *key)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno || *end || v == 0 || v > 0x7fffffffULL)
		return -EINVAL;
	*key = (int)v;
	return 0;
}

int key_from_env(int *key)
{
	const char *s = secure_getenv("HBWATCH_KEY");

	if (!s) {
		*key = HB_KEY_DEFAULT;
		return 0;
	}
	return key_parse(s, key);
}
