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
#include <sys/shm.h>

#include "census.h"
#include "clock.h"
#include "ctl.h"
#include "deadline.h"
#include "record.h"
#include "registry.h"
#include "status.h"
#include "timens.h"
#include "vouch.h"

/* The live owner of REG by the kernel's word: the holder of the owner's
 * lock (registry.h), which the registry's owner made.  Without a holder,
 * none runs: *OWNER stays the header's.  Returns 0, or -errno if there is
 * no such lock. */
static int ctl_lock_owner(const struct hb_registry *reg, pid_t *owner, bool *alive)
{
	struct shmid_ds ds;
	pid_t pid;
	int r;

	if (shmctl(reg->shmid, IPC_STAT, &ds) < 0)
		return -errno;
	r = registry_lock_holder(reg->key, ds.shm_perm.uid, &pid);
	if (r < 0)
		return r;
	*alive = r == 1;
	if (*alive)
		*owner = pid;
	return 0;
}

int ctl_view_load(int key, struct ctl_view *v, char *why, size_t why_len)
{
	struct hb_registry reg;
	struct hb_status st;
	struct shmid_ds ds;
	int r = registry_attach(key, true, &reg, why, why_len);

	*v = (struct ctl_view){0};
	if (r < 0)
		return r;
	v->owner = atomic_load(&reg.hdr->owner_pid);
	if (shmctl(reg.shmid, IPC_STAT, &ds) == 0) {
		v->group = ds.shm_perm.gid;
		v->has_group = true;
	}
	if (ctl_lock_owner(&reg, &v->owner, &v->alive) < 0)
		/* No lock (an hbwatch before it): as clients decide it (vouch.h). */
		v->alive = registry_owner_alive(&reg);
	else if (atomic_load(&reg.hdr->owner_pid) == 0) {
		/* A clean stop clears the pid before the lock goes. */
		v->alive = false;
		v->owner = 0;
	}
	r = v->alive ? status_attach(&reg, &st) : -ENOENT;
	/* Published but not hbwatch's own (or not of this layout): say so. */
	v->unreadable = r < 0 && r != -ENOENT;
	v->denied = r == -EACCES; /* not root, not in its group: hbctl(1) */
	if (r == 0) {
		v->e = calloc(st.capacity ? st.capacity : 1, sizeof(*v->e));
		if (v->e) {
			int n = status_read(&st, v->e, st.capacity);
			v->n = n > 0 ? (uint32_t)n : 0;
			v->have = n >= 0;
		}
		status_detach(&st);
	}
	registry_detach(&reg);
	return 0;
}

const struct hb_status_entry *ctl_view_find(const struct ctl_view *v, int shmid)
{
	for (uint32_t i = 0; i < v->n; i++)
		if (v->e[i].shmid == shmid)
			return &v->e[i];
	return NULL;
}

void ctl_view_free(struct ctl_view *v)
{
	free(v->e);
	*v = (struct ctl_view){0};
}

bool ctl_watched(const struct census_entry *e, const struct ctl_view *v)
{
	const struct hb_status_entry *d = ctl_view_find(v, e->shmid);

	/* Not seen yet (it registered a moment ago): counts as watched. */
	return !v->have || !d || d->state != HB_STATUS_REFUSED;
}

uint64_t ctl_entry_timeout(const struct census_entry *e, const struct ctl_view *v)
{
	const struct hb_status_entry *d = ctl_view_find(v, e->shmid);

	return d && d->timeout_ns ? d->timeout_ns : e->v.timeout_ns;
}

const char *ctl_entry_state(const struct census_entry *e, const struct ctl_view *v, uint64_t now,
			    const char **why)
{
	const struct hb_status_entry *d;

	*why = NULL;
	if (e->busy)
		return "busy";
	if (!e->alive)
		return "stale";
	if (!e->trusted) {
		*why = e->why;
		return "untrusted";
	}
	if (!v->have)
		return !e->v.name_ok				 ? "bad-name"
		       : ctl_entry_age(e, now) > e->v.timeout_ns ? "late"
								 : "ok";
	d = ctl_view_find(v, e->shmid);
	if (!d)
		return "unseen"; /* registered, not picked up by hbwatch yet */
	if (d->state == HB_STATUS_REFUSED) {
		*why = d->reason;
		return "refused";
	}
	if (d->state == HB_STATUS_OK) {
		if (ctl_entry_extended(e, v, now))
			return "extended";
		return ctl_entry_age(e, now) > d->timeout_ns ? "late" : "ok";
	}
	/* Held back: why ("starved: 92 % waiting for CPU", "being debugged:
	 * traced by pid 7"). */
	if (d->state == HB_STATUS_DEFERRED || d->state == HB_STATUS_DEBUGGED) {
		*why = d->reason;
		return status_state_name(d->state);
	}
	if (d->triage.words[0] && d->state != HB_STATUS_FROZEN)
		*why = d->triage.words; /* why it hung, as hbwatch saw it */
	return status_state_name(d->state);
}

/* How long the extension asked for at AT until UNTIL of a heartbeat that
 * beat at BEAT with TIMEOUT still holds as of NOW, as hbwatch reckons it. */
static uint64_t extension_left(const struct hb_status_entry *d, uint64_t beat, uint64_t timeout,
			       uint64_t at, uint64_t until, uint64_t now)
{
	uint64_t max = deadline_extend_max(d ? d->extend_max_ns : HB_EXTEND_AUTO, timeout);
	bool extended;
	uint64_t due = deadline_extended(beat, timeout, at, until, max, &extended);

	return extended && due > now ? due - now : 0;
}

uint64_t ctl_entry_extended(const struct census_entry *e, const struct ctl_view *v, uint64_t now)
{
	const struct hb_status_entry *d = ctl_view_find(v, e->shmid);

	return extension_left(d, e->v.beat_ns, ctl_entry_timeout(e, v), e->v.ext_at_ns,
			      e->v.ext_until_ns, now);
}

unsigned ctl_entry_tasks(const struct census_entry *e, struct hb_task_view *out, unsigned cap)
{
	struct hb_record_map m;
	unsigned n;

	/* Attached afresh: its geometry, not E's, bounds the read. */
	if (e->v.task_high == 0 || record_attach(e->shmid, true, &m) < 0)
		return 0;
	n = record_read_tasks(&m, e->v.task_high, out, cap);
	record_unmap(&m);
	for (unsigned i = 0; i < n; i++)
		timens_task_to_ours(&out[i], e->clock_rel_ns);
	return n;
}

const char *ctl_task_state(const struct census_entry *e, const struct hb_task_view *t,
			   const struct ctl_view *v, uint64_t now, uint64_t *timeout_ns,
			   uint64_t *ext_left_ns)
{
	const struct hb_status_entry *d = ctl_view_find(v, e->shmid);
	uint64_t age = t->beat_ns < now ? now - t->beat_ns : 0;

	*timeout_ns = deadline_timeout((uint64_t)t->timeout_ms * 1000000u, d ? d->cap_ns : 0);
	*ext_left_ns =
	    extension_left(d, t->beat_ns, *timeout_ns, t->ext_at_ns, t->ext_until_ns, now);
	if (d && d->state != HB_STATUS_OK && d->state != HB_STATUS_REFUSED &&
	    d->missed_task == (int32_t)t->index && d->missed_gen == t->gen)
		return status_state_name(d->state);
	if (*ext_left_ns)
		return "extended";
	return *timeout_ns && age > *timeout_ns ? "late" : "ok";
}

const struct hb_status_triage *ctl_entry_triage(const struct census_entry *e,
						const struct ctl_view *v)
{
	const struct hb_status_entry *d = v->have ? ctl_view_find(v, e->shmid) : NULL;

	/* Only for a deadline hbwatch acted on: an older triage of a process
	 * that beat again since says nothing of it now. */
	if (!d || d->state == HB_STATUS_OK || d->state == HB_STATUS_REFUSED ||
	    !d->triage.words[0] || !e->alive || !e->trusted || e->busy)
		return NULL;
	return &d->triage;
}

static void print_json_string(const char *key, const char *s, const char *after)
{
	printf("\"%s\":\"", key);
	json_write_escaped(stdout, s, strlen(s));
	printf("\"%s", after);
}

/* "triage":{...} of E, or null. */
static void print_json_triage(const struct hb_status_triage *t)
{
	printf(",\"triage\":");
	if (!t) {
		printf("null");
		return;
	}
	printf("{");
	print_json_string("proc_state", t->state, ",");
	print_json_string("wchan", t->wchan, ",");
	printf("\"threads\":%u,", (unsigned)t->threads);
	if (t->cpu_usec != UINT64_MAX)
		printf("\"cpu_usec_since_beat\":%llu,\"cpu_window_usec\":%llu,",
		       (unsigned long long)t->cpu_usec, (unsigned long long)t->window_usec);
	else
		printf("\"cpu_usec_since_beat\":null,\"cpu_window_usec\":null,");
	print_json_string("summary", t->words, "}");
}

uint64_t ctl_entry_age(const struct census_entry *e, uint64_t now)
{
	/* A beat newer than our clock reading raced us: it is fresh. */
	return e->v.beat_ns < now ? now - e->v.beat_ns : 0;
}

static void print_json_tasks(const struct census_entry *e, const struct ctl_view *view,
			     uint64_t now)
{
	struct hb_task_view t[HB_TASK_SLOTS];
	unsigned n = ctl_entry_tasks(e, t, HB_TASK_SLOTS);

	for (unsigned i = 0; i < n; i++) {
		uint64_t tmo, left;
		const char *state = ctl_task_state(e, &t[i], view, now, &tmo, &left);

		printf("%s{\"slot\":%u,\"generation\":%u,\"label\":\"", i ? "," : "",
		       (unsigned)t[i].index, (unsigned)t[i].gen);
		json_write_escaped(stdout, t[i].label, strlen(t[i].label));
		printf(
		    "\",\"timeout_ms\":%llu,\"requested_timeout_ms\":%u,\"age_ms\":%llu,"
		    "\"state\":\"%s\",\"extended_ms\":%llu}",
		    (unsigned long long)(tmo / 1000000u), t[i].timeout_ms,
		    (unsigned long long)((t[i].beat_ns < now ? now - t[i].beat_ns : 0) / 1000000u),
		    state, (unsigned long long)(left / 1000000u));
	}
}

static void print_json(const struct ctl *ctl, const struct census_entry *e, size_t n, int reg_r,
		       const struct ctl_view *view, uint64_t now)
{
	printf("{\"key\":\"0x%x\",\"registry\":%s,\"owner_pid\":%d,\"owner_alive\":%s,"
	       "\"verdicts\":%s,\"entries\":[",
	       (unsigned)ctl->key, reg_r == 0 ? "true" : "false", (int)view->owner,
	       view->alive ? "true" : "false", view->have ? "true" : "false");
	for (size_t k = 0; k < n; k++) {
		const char *why, *state = ctl_entry_state(&e[k], view, now, &why);

		printf("%s{\"shmid\":%d,\"pid\":%d,\"uid\":%u,\"name\":\"", k ? "," : "",
		       e[k].shmid, (int)e[k].pid, (unsigned)e[k].cuid);
		json_write_escaped(stdout, e[k].v.name, strlen(e[k].v.name));
		printf("\",\"timeout_ms\":%llu,\"requested_timeout_ms\":%llu,\"age_ms\":%llu,"
		       "\"state\":\"%s\",\"start_time\":%llu,\"trusted\":%s,\"why\":\"",
		       (unsigned long long)(ctl_entry_timeout(&e[k], view) / 1000000u),
		       (unsigned long long)(e[k].v.timeout_ns / 1000000u),
		       (unsigned long long)(ctl_entry_age(&e[k], now) / 1000000u), state,
		       (unsigned long long)e[k].v.start_time, e[k].trusted ? "true" : "false");
		if (!why)
			why = e[k].why; /* stale: why (the census's word) */
		json_write_escaped(stdout, why, strlen(why));
		printf("\",\"extended_ms\":%llu",
		       (unsigned long long)(ctl_entry_extended(&e[k], view, now) / 1000000u));
		print_json_triage(ctl_entry_triage(&e[k], view));
		printf(",\"tasks\":[");
		print_json_tasks(&e[k], view, now);
		printf("]}");
	}
	printf("]}\n");
}

enum { COL_SHMID, COL_PID, COL_NAME, COL_TIMEOUT, COL_AGE, COL_STATE, COL_N };

struct row {
	char shmid[16], pid[16], timeout[32], age[32];
};

static void row_fill(const struct census_entry *e, const struct ctl_view *view, uint64_t now,
		     struct row *r)
{
	snprintf(r->shmid, sizeof(r->shmid), "%d", e->shmid);
	snprintf(r->pid, sizeof(r->pid), "%d", (int)e->pid);
	format_duration_ms(r->timeout, sizeof(r->timeout), ctl_entry_timeout(e, view) / 1000000u);
	format_duration_ms(r->age, sizeof(r->age), ctl_entry_age(e, now) / 1000000u);
}

static void print_header(const struct ctl *ctl, size_t n, int reg_r, const char *reg_why,
			 const struct ctl_view *view)
{
	printf("hbwatch at key 0x%x: ", (unsigned)ctl->key);
	if (reg_r == -ENOENT)
		printf("not running (no registry)");
	else if (reg_r < 0)
		printf("registry unreadable: %s", reg_why);
	else if (view->owner <= 0)
		printf("not running (stopped; its registry stays for the next start)");
	else
		printf("pid %d (%s)", (int)view->owner, view->alive ? "running" : "not running");
	printf("; %zu registration%s%s\n", n, n == 1 ? "" : "s",
	       view->denied	  ? " (its verdicts are for root and its group only)"
	       : view->unreadable ? " (its verdicts are not readable)"
				  : "");
}

/* The tasks of E, each on a line of its own under its process, the label
 * in the NAME column after "task ". */
static void print_text_tasks(const struct census_entry *e, const struct ctl_view *view,
			     uint64_t now, const int *w)
{
	struct hb_task_view t[HB_TASK_SLOTS];
	unsigned n = ctl_entry_tasks(e, t, HB_TASK_SLOTS);

	for (unsigned i = 0; i < n; i++) {
		uint64_t tmo, left;
		const char *state = ctl_task_state(e, &t[i], view, now, &tmo, &left);
		char tbuf[32], abuf[32];
		int lw = (int)strlen(t[i].label) + 5;

		format_duration_ms(tbuf, sizeof(tbuf), tmo / 1000000u);
		format_duration_ms(abuf, sizeof(abuf),
				   (t[i].beat_ns < now ? now - t[i].beat_ns : 0) / 1000000u);
		printf("%*s  %*s  task %s%*s  %*s  %*s  %s", w[COL_SHMID], "", w[COL_PID], "",
		       t[i].label, w[COL_NAME] > lw ? w[COL_NAME] - lw : 0, "", w[COL_TIMEOUT],
		       tbuf, w[COL_AGE], abuf, state);
		if (left) {
			char lbuf[32];
			format_duration_ms(lbuf, sizeof(lbuf), left / 1000000u);
			printf(" (%s more)", lbuf);
		}
		putchar('\n');
	}
}

/* Widen W for the task rows of E. */
static void widths_tasks(const struct census_entry *e, const struct ctl_view *view, uint64_t now,
			 int *w)
{
	struct hb_task_view t[HB_TASK_SLOTS];
	unsigned n = ctl_entry_tasks(e, t, HB_TASK_SLOTS);

	for (unsigned i = 0; i < n; i++) {
		uint64_t tmo, left;
		char tbuf[32], abuf[32];
		int lw = (int)strlen(t[i].label) + 5;

		(void)ctl_task_state(e, &t[i], view, now, &tmo, &left);
		format_duration_ms(tbuf, sizeof(tbuf), tmo / 1000000u);
		format_duration_ms(abuf, sizeof(abuf),
				   (t[i].beat_ns < now ? now - t[i].beat_ns : 0) / 1000000u);
		if (lw > w[COL_NAME])
			w[COL_NAME] = lw;
		if ((int)strlen(tbuf) > w[COL_TIMEOUT])
			w[COL_TIMEOUT] = (int)strlen(tbuf);
		if ((int)strlen(abuf) > w[COL_AGE])
			w[COL_AGE] = (int)strlen(abuf);
	}
}

static void print_text(const struct ctl *ctl, const struct census_entry *e, size_t n, int reg_r,
		       const char *reg_why, const struct ctl_view *view, uint64_t now)
{
	static const char *const head[COL_N] = {"RECORD", "PID", "NAME", "TIMEOUT", "AGE", "STATE"};
	int w[COL_N];

	print_header(ctl, n, reg_r, reg_why, view);
	if (n == 0)
		return;
	for (int c = 0; c < COL_N; c++)
		w[c] = (int)strlen(head[c]);
	for (size_t k = 0; k < n; k++) {
		struct row r;
		int len[COL_N] = {0};

		row_fill(&e[k], view, now, &r);
		len[COL_SHMID] = (int)strlen(r.shmid);
		len[COL_PID] = (int)strlen(r.pid);
		len[COL_NAME] = (int)text_escaped_len(e[k].v.name, strlen(e[k].v.name));
		len[COL_TIMEOUT] = (int)strlen(r.timeout);
		len[COL_AGE] = (int)strlen(r.age);
		for (int c = 0; c < COL_STATE; c++)
			if (len[c] > w[c])
				w[c] = len[c];
		widths_tasks(&e[k], view, now, w);
	}
	printf("%*s  %*s  %-*s  %*s  %*s  %s\n", w[COL_SHMID], head[COL_SHMID], w[COL_PID],
	       head[COL_PID], w[COL_NAME], head[COL_NAME], w[COL_TIMEOUT], head[COL_TIMEOUT],
	       w[COL_AGE], head[COL_AGE], head[COL_STATE]);
	for (size_t k = 0; k < n; k++) {
		int nw = (int)text_escaped_len(e[k].v.name, strlen(e[k].v.name));
		const char *why, *state = ctl_entry_state(&e[k], view, now, &why);
		struct row r;

		row_fill(&e[k], view, now, &r);
		printf("%*s  %*s  ", w[COL_SHMID], r.shmid, w[COL_PID], r.pid);
		text_write_escaped(stdout, e[k].v.name, strlen(e[k].v.name));
		printf("%*s  %*s  %*s  %s", w[COL_NAME] - nw, "", w[COL_TIMEOUT], r.timeout,
		       w[COL_AGE], r.age, state);
		if (why && *why) {
			printf(" (");
			text_write_escaped(stdout, why, strlen(why));
			printf(")");
		} else if (strcmp(state, "extended") == 0) {
			char left[32];
			format_duration_ms(left, sizeof(left),
					   ctl_entry_extended(&e[k], view, now) / 1000000u);
			printf(" (%s more)", left);
		}
		putchar('\n');
		print_text_tasks(&e[k], view, now, w);
	}
}

int cmd_status(const struct ctl *ctl, int argc, char **argv)
{
	struct census_entry *e = NULL;
	struct ctl_view view;
	char reg_why[512] = "";
	uint64_t now;
	size_t n = 0;
	bool json = false;
	int r, reg_r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			ctl_error("status: unknown argument '%s' (try 'hbctl --help')", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	reg_r = ctl_view_load(ctl->key, &view, reg_why, sizeof(reg_why));
	if (reg_r < 0 && !reg_why[0])
		snprintf(reg_why, sizeof(reg_why), "%s", strerror(-reg_r));
	r = ctl_census_collect(&view, &e, &n);
	if (r < 0) {
		ctl_view_free(&view);
		ctl_error("cannot enumerate heartbeat records: %s", strerror(-r));
		return CTL_EXIT_FAIL;
	}
	now = now_ns();
	if (json)
		print_json(ctl, e, n, reg_r, &view, now);
	else
		print_text(ctl, e, n, reg_r, reg_why, &view, now);
	free(e);
	r = reg_r < 0 || !view.alive ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	ctl_view_free(&view);
	/* The records are listed either way; the exit says whether hbwatch
	 * runs, as hbctl(1) promises. */
	return r;
}
