#include <stdio.h>

#include "ctl.h"

void format_duration_ms(char *buf, size_t len, uint64_t ms)
{
	unsigned long long v = ms;

	if (v < 1000)
		snprintf(buf, len, "%llums", v);
	else if (v < 60000 && v % 1000 == 0)
		snprintf(buf, len, "%llus", v / 1000);
	else if (v < 60000)
		/* Tenths truncated, not rounded: 59.99 s must not read "60.0s". */
		snprintf(buf, len, "%llu.%llus", v / 1000, v % 1000 / 100);
	else if (v < 3600000)
		snprintf(buf, len, "%llum%02llus", v / 60000, v % 60000 / 1000);
	else if (v < 86400000)
		snprintf(buf, len, "%lluh%02llum", v / 3600000, v % 3600000 / 60000);
	else
		snprintf(buf, len, "%llud%02lluh", v / 86400000, v % 86400000 / 3600000);
}

void json_write_escaped(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			/* Bytes, not characters: a name is not known to be UTF-8,
			 * so each byte >= 0x7f maps to the code point of that value. */
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

static int text_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\';
}

void text_write_escaped(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (text_plain(c))
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

size_t text_escaped_len(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += text_plain((unsigned char)s[i]) ? 1 : 4;
	return n;
}
