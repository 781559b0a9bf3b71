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

static void write_labels(FILE *f, const struct hb_slot_view *v, uint32_t slot)
{
	fputs("{name=\"", f);
	metrics_write_label(f, v->name);
	fprintf(f, "\",pid=\"%d\",slot=\"%u\"}", (int)v->pid, slot);
}

void metrics_write_slots(FILE *f, const struct hb_table *t, uint64_t now)
{
	uint32_t used = 0;

	for (uint32_t i = 0; i < t->slot_count; i++)
		if (atomic_load_explicit(&t->slots[i].pid, memory_order_relaxed) != 0)
			used++;
	fputs("# HELP hbwatch_slots_total Slots in the heartbeat table.\n"
	      "# TYPE hbwatch_slots_total gauge\n",
	      f);
	fprintf(f, "hbwatch_slots_total %u\n", t->slot_count);
	fputs("# HELP hbwatch_slots_used Slots holding a registration.\n"
	      "# TYPE hbwatch_slots_used gauge\n",
	      f);
	fprintf(f, "hbwatch_slots_used %u\n", used);
	/* One family at a time: the format wants a family's samples together. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			fputs("# HELP hbwatch_heartbeat_age_seconds Time since the process's "
			      "last heartbeat.\n"
			      "# TYPE hbwatch_heartbeat_age_seconds gauge\n",
			      f);
		else
			fputs("# HELP hbwatch_heartbeat_timeout_seconds Heartbeat timeout the "
			      "process registered with.\n"
			      "# TYPE hbwatch_heartbeat_timeout_seconds gauge\n",
			      f);
		for (uint32_t i = 0; i < t->slot_count; i++) {
			struct hb_slot_view v;

			if (atomic_load_explicit(&t->slots[i].pid, memory_order_relaxed) == 0 ||
			    table_slot_read(t, i, &v) < 0 || v.pid == 0 || !v.name_ok)
				continue;
			fputs(pass == 0 ? "hbwatch_heartbeat_age_seconds"
					: "hbwatch_heartbeat_timeout_seconds",
			      f);
			write_labels(f, &v, i);
			fputc(' ', f);
			/* A beat newer than our clock reading raced us: age 0. */
			write_seconds(f, pass == 1 ? v.timeout_ns
						   : (v.beat_ns < now ? now - v.beat_ns : 0));
		}
	}
}

int metrics_is_slot_line(const char *line)
{
	static const char *const fams[] = {"hbwatch_slots_total", "hbwatch_slots_used",
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
