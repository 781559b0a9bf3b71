/* hbctl status: a lock-free snapshot of the table.  It attaches read-only
 * and never takes the semaphore, so it works while a lock holder is stuck
 * and cannot disturb registrations. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "proc.h"
#include "table.h"

struct entry {
	uint32_t slot;
	bool busy; /* table_slot_read() kept racing a writer: nothing else is known */
	struct hb_slot_view v;
	uint64_t age_ms;
	const char *state;
};

struct snapshot {
	uint32_t slot_count;
	int32_t owner_pid;
	bool owner_alive;
	struct entry *e;
	size_t n;
};

static bool pid_alive(pid_t pid)
{
	/* EPERM: it exists but belongs to someone we may not signal. */
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* The order matters: a record whose process is gone is stale even if its
 * last beat is old, since nobody is left to be late. */
static const char *entry_state(const struct entry *e, uint64_t timeout_ms)
{
	uint64_t st;
	int r;

	if (e->busy)
		return "busy";
	if (!e->v.name_ok)
		return "bad-name";
	r = proc_starttime(e->v.pid, &st);
	if (r == -ESRCH || (r == 0 && st != e->v.start_time))
		return "stale";
	return e->age_ms > timeout_ms ? "late" : "ok";
}

static int snapshot_take(const struct hb_table *t, struct snapshot *s)
{
	uint64_t now = now_ns();
	size_t cap = 0;

	*s = (struct snapshot){.slot_count = t->slot_count};
	s->owner_pid = atomic_load(&t->hdr->owner_pid);
	s->owner_alive = pid_alive(s->owner_pid);
	for (uint32_t i = 0; i < t->slot_count; i++) {
		struct entry e = {.slot = i};

		if (table_slot_read(t, i, &e.v) < 0)
			e.busy = true;
		else if (e.v.pid == 0)
			continue;
		if (s->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct entry *ne = realloc(s->e, ncap * sizeof(*ne));
			if (!ne) {
				free(s->e);
				return -ENOMEM;
			}
			s->e = ne;
			cap = ncap;
		}
		/* A beat newer than our clock reading raced us: it is fresh. */
		e.age_ms = e.v.beat_ns < now ? (now - e.v.beat_ns) / 1000000u : 0;
		e.state = entry_state(&e, e.v.timeout_ns / 1000000u);
		s->e[s->n++] = e;
	}
	return 0;
}

static void print_json(const struct ctl *ctl, const struct snapshot *s)
{
	printf("{\"key\":\"0x%x\",\"slots\":%u,\"owner_pid\":%d,\"owner_alive\":%s,\"entries\":[",
	       (unsigned)ctl->key, s->slot_count, (int)s->owner_pid,
	       s->owner_alive ? "true" : "false");
	for (size_t k = 0; k < s->n; k++) {
		const struct entry *e = &s->e[k];

		printf("%s{\"slot\":%u,", k ? "," : "", e->slot);
		if (e->busy) {
			printf("\"pid\":null,\"name\":null,\"timeout_ms\":null,\"age_ms\":null,"
			       "\"state\":\"busy\",\"start_time\":null}");
			continue;
		}
		printf("\"pid\":%d,\"name\":\"", (int)e->v.pid);
		json_write_escaped(stdout, e->v.name, strlen(e->v.name));
		printf(
		    "\",\"timeout_ms\":%llu,\"age_ms\":%llu,\"state\":\"%s\",\"start_time\":%llu}",
		    (unsigned long long)(e->v.timeout_ns / 1000000u), (unsigned long long)e->age_ms,
		    e->state, (unsigned long long)e->v.start_time);
	}
	printf("]}\n");
}

enum { COL_SLOT, COL_PID, COL_NAME, COL_TIMEOUT, COL_AGE, COL_STATE, COL_N };

struct row {
	char slot[16], pid[16], timeout[32], age[32];
};

static void row_fill(const struct entry *e, struct row *r)
{
	snprintf(r->slot, sizeof(r->slot), "%u", e->slot);
	if (e->busy) {
		strcpy(r->pid, "-");
		strcpy(r->timeout, "-");
		strcpy(r->age, "-");
		return;
	}
	snprintf(r->pid, sizeof(r->pid), "%d", (int)e->v.pid);
	format_duration_ms(r->timeout, sizeof(r->timeout), e->v.timeout_ns / 1000000u);
	format_duration_ms(r->age, sizeof(r->age), e->age_ms);
}

static size_t name_width(const struct entry *e)
{
	return e->busy ? 1 : text_escaped_len(e->v.name, strlen(e->v.name));
}

static void print_text(const struct ctl *ctl, const struct snapshot *s)
{
	static const char *const head[COL_N] = {"SLOT", "PID", "NAME", "TIMEOUT", "AGE", "STATE"};
	int w[COL_N];

	printf("hbwatch table at key 0x%x: %u slots, %zu in use, ", (unsigned)ctl->key,
	       s->slot_count, s->n);
	if (s->owner_pid > 0)
		printf("owner pid %d (%s)\n", (int)s->owner_pid,
		       s->owner_alive ? "running" : "not running");
	else
		printf("no owner recorded\n");
	if (s->n == 0)
		return;

	for (int c = 0; c < COL_N; c++)
		w[c] = (int)strlen(head[c]);
	for (size_t k = 0; k < s->n; k++) {
		struct row r;
		int len[COL_N] = {0};

		row_fill(&s->e[k], &r);
		len[COL_SLOT] = (int)strlen(r.slot);
		len[COL_PID] = (int)strlen(r.pid);
		len[COL_NAME] = (int)name_width(&s->e[k]);
		len[COL_TIMEOUT] = (int)strlen(r.timeout);
		len[COL_AGE] = (int)strlen(r.age);
		for (int c = 0; c < COL_STATE; c++)
			if (len[c] > w[c])
				w[c] = len[c];
	}
	printf("%*s  %*s  %-*s  %*s  %*s  %s\n", w[COL_SLOT], head[COL_SLOT], w[COL_PID],
	       head[COL_PID], w[COL_NAME], head[COL_NAME], w[COL_TIMEOUT], head[COL_TIMEOUT],
	       w[COL_AGE], head[COL_AGE], head[COL_STATE]);
	for (size_t k = 0; k < s->n; k++) {
		const struct entry *e = &s->e[k];
		struct row r;

		row_fill(e, &r);
		printf("%*s  %*s  ", w[COL_SLOT], r.slot, w[COL_PID], r.pid);
		if (e->busy)
			fputc('-', stdout);
		else
			text_write_escaped(stdout, e->v.name, strlen(e->v.name));
		printf("%*s  %*s  %*s  %s\n", w[COL_NAME] - (int)name_width(e), "", w[COL_TIMEOUT],
		       r.timeout, w[COL_AGE], r.age, e->state);
	}
}

int cmd_status(const struct ctl *ctl, int argc, char **argv)
{
	struct hb_table t;
	struct snapshot s;
	char why[256] = "";
	bool json = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			ctl_error("status: unknown argument '%s' (try 'hbctl --help')", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	r = table_attach(ctl->key, true, &t, why, sizeof(why));
	if (r < 0) {
		if (why[0])
			ctl_error("%s", why);
		else
			ctl_error("cannot attach the heartbeat table at key 0x%x: %s",
				  (unsigned)ctl->key, strerror(-r));
		return CTL_EXIT_FAIL;
	}
	r = snapshot_take(&t, &s);
	table_detach(&t);
	if (r < 0) {
		ctl_error("cannot read the table: %s", strerror(-r));
		return CTL_EXIT_FAIL;
	}
	if (json)
		print_json(ctl, &s);
	else
		print_text(ctl, &s);
	free(s.e);
	return CTL_EXIT_OK;
}
