#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "name.h"

int name_validate(const char *name)
{
	size_t n = 0;

	if (!name)
		return -EINVAL;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr("-_.:@", c);
		if (!ok || n >= HB_NAME_MAX)
			return -EINVAL;
	}
	return n > 0 ? 0 : -EINVAL;
}

void name_printable(char *dst, const char *src)
{
	size_t i;

	for (i = 0; i < HB_NAME_SIZE - 1 && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

int task_label_validate(const char *label)
{
	if (name_validate(label) < 0 || strlen(label) > HB_TASK_LABEL_MAX)
		return -EINVAL;
	return 0;
}
