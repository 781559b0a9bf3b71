#include <string.h>

#include "metrics.h"

void metrics_write_label(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static void write_seconds(FILE *f, uint64_t ns)
{
	fprintf(f, "%llu.%03llu\n", (unsigned long long)(ns / 1000000000u),
		(unsigned long long)(ns / 1000000u % 1000u));
}

static void write_labels(FILE *f, const struct metrics_proc *p)
{
	fputs("{name=\"", f);
	metrics_write_label(f, p->name);
	fprintf(f, "\",pid=\"%d\"}", (int)p->pid);
}

void metrics_write_procs(FILE *f, const struct metrics_proc *p, size_t n)
{
	fputs("# HELP hbwatch_registered_processes Processes with a live heartbeat "
	      "registration.\n"
	      "# TYPE hbwatch_registered_processes gauge\n",
	      f);
	fprintf(f, "hbwatch_registered_processes %zu\n", n);
	/* One family at a time: the format wants a family's samples together. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			fputs("# HELP hbwatch_heartbeat_age_seconds Time since the process's "
			      "last heartbeat.\n"
			      "# TYPE hbwatch_heartbeat_age_seconds gauge\n",
			      f);
		else
			fputs("# HELP hbwatch_heartbeat_timeout_seconds Heartbeat timeout that "
			      "applies to the process.\n"
			      "# TYPE hbwatch_heartbeat_timeout_seconds gauge\n",
			      f);
		for (size_t i = 0; i < n; i++) {
			fputs(pass == 0 ? "hbwatch_heartbeat_age_seconds"
					: "hbwatch_heartbeat_timeout_seconds",
			      f);
			write_labels(f, &p[i]);
			fputc(' ', f);
			write_seconds(f, pass == 1 ? p[i].timeout_ns : p[i].age_ns);
		}
	}
}

int metrics_is_proc_line(const char *line)
{
	static const char *const fams[] = {"hbwatch_registered_processes",
					   "hbwatch_heartbeat_age_seconds",
					   "hbwatch_heartbeat_timeout_seconds"};

	if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0)
		line += 7;
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		size_t n = strlen(fams[i]);

		if (strncmp(line, fams[i], n) == 0 &&
		    (line[n] == ' ' || line[n] == '{' || line[n] == '\0' || line[n] == '\n'))
			return 1;
	}
	return 0;
}
