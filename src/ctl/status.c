/* hbctl status: every heartbeat record on the host, read-only and without
 * any lock.  Records are readable by everyone and found by enumerating the
 * host's segments, so it works for users outside the hbwatch group too, and
 * it shows each record with the verdict hbwatch reaches on the same kernel
 * facts (a record that is not its owner's word is "untrusted"). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "clock.h"
#include "ctl.h"
#include "registry.h"

int ctl_registry_owner(int key, pid_t *owner, bool *alive, char *why, size_t why_len)
{
	struct hb_registry reg;
	int r = registry_attach(key, true, &reg, why, why_len);

	*owner = 0;
	*alive = false;
	if (r < 0)
		return r;
	*owner = atomic_load(&reg.hdr->owner_pid);
	registry_detach(&reg);
	/* EPERM: it exists but belongs to someone we may not signal. */
	*alive = *owner > 0 && (kill(*owner, 0) == 0 || errno == EPERM);
	return 0;
}

const char *ctl_entry_state(const struct census_entry *e, uint64_t now)
{
	if (e->busy)
		return "busy";
	if (!e->alive)
		return "stale";
	if (!e->trusted)
		return "untrusted";
	if (!e->v.name_ok)
		return "bad-name";
	return ctl_entry_age(e, now) > e->v.timeout_ns ? "late" : "ok";
}

uint64_t ctl_entry_age(const struct census_entry *e, uint64_t now)
{
	/* A beat newer than our clock reading raced us: it is fresh. */
	return e->v.beat_ns < now ? now - e->v.beat_ns : 0;
}

static void print_json(const struct ctl *ctl, const struct census_entry *e, size_t n, int reg_r,
		       pid_t owner, bool alive, uint64_t now)
{
	printf("{\"key\":\"0x%x\",\"registry\":%s,\"owner_pid\":%d,\"owner_alive\":%s,"
	       "\"entries\":[",
	       (unsigned)ctl->key, reg_r == 0 ? "true" : "false", (int)owner,
	       alive ? "true" : "false");
	for (size_t k = 0; k < n; k++) {
		printf("%s{\"shmid\":%d,\"pid\":%d,\"uid\":%u,\"name\":\"", k ? "," : "",
		       e[k].shmid, (int)e[k].pid, (unsigned)e[k].cuid);
		json_write_escaped(stdout, e[k].v.name, strlen(e[k].v.name));
		printf(
		    "\",\"timeout_ms\":%llu,\"age_ms\":%llu,\"state\":\"%s\",\"start_time\":%llu,"
		    "\"trusted\":%s,\"why\":\"",
		    (unsigned long long)(e[k].v.timeout_ns / 1000000u),
		    (unsigned long long)(ctl_entry_age(&e[k], now) / 1000000u),
		    ctl_entry_state(&e[k], now), (unsigned long long)e[k].v.start_time,
		    e[k].trusted ? "true" : "false");
		json_write_escaped(stdout, e[k].why, strlen(e[k].why));
		printf("\"}");
	}
	printf("]}\n");
}

enum { COL_SHMID, COL_PID, COL_NAME, COL_TIMEOUT, COL_AGE, COL_STATE, COL_N };

struct row {
	char shmid[16], pid[16], timeout[32], age[32];
};

static void row_fill(const struct census_entry *e, uint64_t now, struct row *r)
{
	snprintf(r->shmid, sizeof(r->shmid), "%d", e->shmid);
	snprintf(r->pid, sizeof(r->pid), "%d", (int)e->pid);
	format_duration_ms(r->timeout, sizeof(r->timeout), e->v.timeout_ns / 1000000u);
	format_duration_ms(r->age, sizeof(r->age), ctl_entry_age(e, now) / 1000000u);
}

static void print_text(const struct ctl *ctl, const struct census_entry *e, size_t n, int reg_r,
		       const char *reg_why, pid_t owner, bool alive, uint64_t now)
{
	static const char *const head[COL_N] = {"RECORD", "PID", "NAME", "TIMEOUT", "AGE", "STATE"};
	int w[COL_N];

	if (reg_r == 0 && owner > 0)
		printf("hbwatch at key 0x%x: pid %d (%s); %zu registration%s\n", (unsigned)ctl->key,
		       (int)owner, alive ? "running" : "not running", n, n == 1 ? "" : "s");
	else
		printf("hbwatch at key 0x%x: %s%s; %zu registration%s\n", (unsigned)ctl->key,
		       reg_r == -ENOENT ? "not running (no registry)" : "registry unreadable: ",
		       reg_r == -ENOENT ? "" : reg_why, n, n == 1 ? "" : "s");
	if (n == 0)
		return;
	for (int c = 0; c < COL_N; c++)
		w[c] = (int)strlen(head[c]);
	for (size_t k = 0; k < n; k++) {
		struct row r;
		int len[COL_N] = {0};

		row_fill(&e[k], now, &r);
		len[COL_SHMID] = (int)strlen(r.shmid);
		len[COL_PID] = (int)strlen(r.pid);
		len[COL_NAME] = (int)text_escaped_len(e[k].v.name, strlen(e[k].v.name));
		len[COL_TIMEOUT] = (int)strlen(r.timeout);
		len[COL_AGE] = (int)strlen(r.age);
		for (int c = 0; c < COL_STATE; c++)
			if (len[c] > w[c])
				w[c] = len[c];
	}
	printf("%*s  %*s  %-*s  %*s  %*s  %s\n", w[COL_SHMID], head[COL_SHMID], w[COL_PID],
	       head[COL_PID], w[COL_NAME], head[COL_NAME], w[COL_TIMEOUT], head[COL_TIMEOUT],
	       w[COL_AGE], head[COL_AGE], head[COL_STATE]);
	for (size_t k = 0; k < n; k++) {
		int nw = (int)text_escaped_len(e[k].v.name, strlen(e[k].v.name));
		struct row r;

		row_fill(&e[k], now, &r);
		printf("%*s  %*s  ", w[COL_SHMID], r.shmid, w[COL_PID], r.pid);
		text_write_escaped(stdout, e[k].v.name, strlen(e[k].v.name));
		printf("%*s  %*s  %*s  %s", w[COL_NAME] - nw, "", w[COL_TIMEOUT], r.timeout,
		       w[COL_AGE], r.age, ctl_entry_state(&e[k], now));
		if (!e[k].trusted && e[k].alive)
			printf(" (%s)", e[k].why);
		putchar('\n');
	}
}

int cmd_status(const struct ctl *ctl, int argc, char **argv)
{
	struct census_entry *e = NULL;
	uint64_t now;
	size_t n = 0;
	bool json = false, alive;
	char reg_why[512] = "";
	pid_t owner;
	int r, reg_r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			ctl_error("status: unknown argument '%s' (try 'hbctl --help')", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	reg_r = ctl_registry_owner(ctl->key, &owner, &alive, reg_why, sizeof(reg_why));
	if (reg_r < 0 && !reg_why[0])
		snprintf(reg_why, sizeof(reg_why), "%s", strerror(-reg_r));
	r = census_collect(&e, &n);
	if (r < 0) {
		ctl_error("cannot enumerate heartbeat records: %s", strerror(-r));
		return CTL_EXIT_FAIL;
	}
	now = now_ns();
	if (json)
		print_json(ctl, e, n, reg_r, owner, alive, now);
	else
		print_text(ctl, e, n, reg_r, reg_why, owner, alive, now);
	free(e);
	return CTL_EXIT_OK;
}
