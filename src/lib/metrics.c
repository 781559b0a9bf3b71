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
	static const char *const fam[] = {"hbwatch_heartbeat_age_seconds",
					  "hbwatch_heartbeat_timeout_seconds",
					  "hbwatch_open_tasks"};
	static const char *const help[] = {"Time since the process's last heartbeat.",
					   "Heartbeat timeout that applies to the process.",
					   "Task heartbeats the process holds open."};

	for (int pass = 0; pass < 3; pass++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", fam[pass], help[pass], fam[pass]);
		for (size_t i = 0; i < n; i++) {
			fputs(fam[pass], f);
			write_labels(f, &p[i]);
			fputc(' ', f);
			if (pass == 2)
				fprintf(f, "%u\n", p[i].tasks);
			else
				write_seconds(f, pass == 1 ? p[i].timeout_ns : p[i].age_ns);
		}
	}
}

int metrics_is_proc_line(const char *line)
{
	static const char *const fams[] = {
	    "hbwatch_registered_processes", "hbwatch_heartbeat_age_seconds",
	    "hbwatch_heartbeat_timeout_seconds", "hbwatch_open_tasks"};

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
