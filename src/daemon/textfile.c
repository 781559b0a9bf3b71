/* The metrics file for node_exporter's textfile collector: metrics_dir/
 * hbwatch.prom, the same process series as "hbctl metrics" plus the counters
 * only the daemon knows.  Written to a hidden temporary file in the same
 * directory and renamed over the old one, so the collector never reads half
 * a file (it ignores names not ending in .prom).  Rewritten when a counter
 * or a registration changes, at most once a second, and at least every
 * TEXTFILE_REFRESH_NS so the ages it holds stay roughly current. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "deadline.h"
#include "log.h"
#include "metrics.h"
#include "textfile.h"

#define TEXTFILE_NAME	    "hbwatch.prom"
#define TEXTFILE_GAP_NS	    (1000u * 1000000u)
#define TEXTFILE_REFRESH_NS (UINT64_C(15) * 1000000000u)

static const struct {
	const char *family;
	enum event_kind kind;
	const char *help;
} families[] = {
    {"hbwatch_deadlines_missed_total", EVENT_DEADLINE_MISSED, "Heartbeat deadlines missed."},
    {"hbwatch_kills_total", EVENT_SIGNAL_SENT, "Processes sent the service's signal."},
    {"hbwatch_escalations_total", EVENT_ESCALATED, "Processes sent SIGKILL after kill_grace."},
    {"hbwatch_restarts_total", EVENT_RESTART_UNIT, "Unit restarts asked of systemd."},
    {"hbwatch_handovers_total", EVENT_HANDED_OVER,
     "Units handed to systemd (limit_action) after kill_burst was used up."},
    {"hbwatch_refused_total", EVENT_REFUSED,
     "Registrations not watched: no such service, or against their section."},
    {"hbwatch_untrusted_total", EVENT_UNTRUSTED,
     "Registrations not the word of someone who may signal the process (never acted on)."},
    {"hbwatch_rate_limited_total", EVENT_RATE_LIMITED,
     "Missed deadlines not acted on because of kill_burst."},
    {"hbwatch_unkillable_total", EVENT_UNKILLABLE,
     "Processes still there kill_grace after SIGKILL (held by the kernel, e.g. in D)."},
};

static void write_sample(FILE *f, const char *family, const char *name, uint64_t v)
{
	fprintf(f, "%s{service=\"", family);
	metrics_write_label(f, name);
	fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

/* hbwatch_deferrals_total{service=,reason=}: deadlines not acted on (yet)
 * because the process was starved, frozen, debugged or writing its core. */
static const struct {
	const char *reason;
	enum event_kind kind;
} deferrals[] = {
    {"starved", EVENT_DEFERRED},
    {"frozen", EVENT_FROZEN},
    {"debugged", EVENT_DEBUGGED},
    {"dumping", EVENT_DUMPING},
};

static void write_deferral(FILE *f, const char *name, const struct counter *c)
{
	for (size_t k = 0; k < sizeof(deferrals) / sizeof(deferrals[0]); k++) {
		fprintf(f, "hbwatch_deferrals_total{service=\"");
		metrics_write_label(f, name);
		fprintf(f, "\",reason=\"%s\"} %llu\n", deferrals[k].reason,
			(unsigned long long)(c ? c->n[deferrals[k].kind] : 0));
	}
}

static void write_deferrals(FILE *f, const struct daemon *d)
{
	fprintf(f, "# HELP hbwatch_deferrals_total Missed deadlines not acted on (yet): the "
		   "process was starved (deferred by starve_grace), frozen, debugged, or writing "
		   "its core (SIGKILL waited).\n# TYPE hbwatch_deferrals_total counter\n");
	for (size_t i = 0; i < d->settings.n_services; i++)
		write_deferral(f, d->settings.services[i].name,
			       stats_find(&d->stats, d->settings.services[i].name));
	for (size_t i = 0; i < d->stats.n_counters; i++)
		if (!settings_find(&d->settings, d->stats.counters[i].name))
			write_deferral(f, d->stats.counters[i].name, &d->stats.counters[i]);
}

/* Every watched service gets a sample (0 until something happens, so rate()
 * works from the start), then every other name something was counted for. */
static void write_counters(FILE *f, const struct daemon *d)
{
	for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", families[k].family,
			families[k].help, families[k].family);
		for (size_t i = 0; i < d->settings.n_services; i++) {
			const struct counter *c =
			    stats_find(&d->stats, d->settings.services[i].name);

			write_sample(f, families[k].family, d->settings.services[i].name,
				     c ? c->n[families[k].kind] : 0);
		}
		for (size_t i = 0; i < d->stats.n_counters; i++)
			if (!settings_find(&d->settings, d->stats.counters[i].name))
				write_sample(f, families[k].family, d->stats.counters[i].name,
					     d->stats.counters[i].n[families[k].kind]);
	}
}

/* The series of the registrations hbwatch watches, as it applies them:
 * the timeout is the effective one (the section's cap applied). */
static void write_procs(FILE *f, struct daemon *d)
{
	struct metrics_proc *p = calloc(d->ws.n ? d->ws.n : 1, sizeof(*p));
	uint64_t now = now_ns();
	size_t n = 0;

	if (!p)
		return;
	for (size_t i = 0; i < d->ws.n; i++) {
		const struct watch *w = d->ws.v[i];
		const struct service *svc = settings_find(&d->settings, w->v.name);

		unsigned tasks = 0;

		if (w->state == WATCH_REFUSED || w->state == WATCH_FREE || !svc)
			continue;
		for (uint32_t k = 0; k < w->n_tasks; k++)
			tasks += w->tasks[k].open;
		p[n++] = (struct metrics_proc){
		    .name = w->name,
		    .pid = w->pid,
		    .age_ns = w->v.beat_ns < now ? now - w->v.beat_ns : 0,
		    .timeout_ns = deadline_timeout(w->v.timeout_ns, svc->timeout_ns),
		    .tasks = tasks};
	}
	metrics_write_procs(f, p, n);
	free(p);
}

static int textfile_write(struct daemon *d)
{
	const char *dir = d->settings.metrics_dir;
	char *tmp = NULL, *path = NULL;
	FILE *f = NULL;
	int fd = -1, r = 0;

	if (asprintf(&tmp, "%s/." TEXTFILE_NAME ".XXXXXX", dir) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (asprintf(&path, "%s/" TEXTFILE_NAME, dir) < 0) {
		path = NULL;
		r = -ENOMEM;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	/* mkostemp() makes it 0600; the collector may run as another user. */
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		r = -errno;
		goto out_unlink;
	}
	fd = -1;
	write_procs(f, d);
	write_counters(f, d);
	write_deferrals(f, d);
	/* No fsync(): the rename alone makes the switch atomic for readers, and
	 * durability across a crash is worthless for a file rewritten within a
	 * second of the next start, while fsync() on this loop could block the
	 * kill path for as long as the disk is busy. */
	if (fflush(f) != 0 || ferror(f)) {
		r = errno ? -errno : -EIO;
		goto out_unlink;
	}
	r = fclose(f) == 0 ? 0 : -errno;
	f = NULL;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0)
		goto out;
out_unlink:
	unlink(tmp);
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(path);
	return r;
}

static int on_textfile_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	d->textfile.timer = sd_event_source_disable_unref(d->textfile.timer);
	textfile_update(d);
	return 0;
}

void textfile_update(struct daemon *d)
{
	uint64_t now = now_ns();
	int r;

	if (!d->settings.metrics_dir)
		return;
	if (!d->stats.dirty && d->textfile.written_ns &&
	    now - d->textfile.written_ns < TEXTFILE_REFRESH_NS)
		return;
	if (d->textfile.written_ns && now - d->textfile.written_ns < TEXTFILE_GAP_NS) {
		if (!d->textfile.timer &&
		    sd_event_add_time(d->event, &d->textfile.timer, CLOCK_MONOTONIC,
				      deadline_usec_ceil(d->textfile.written_ns + TEXTFILE_GAP_NS),
				      1000, on_textfile_timer, d) < 0)
			d->textfile.timer = NULL;
		return;
	}
	r = textfile_write(d);
	/* Written or not, wait the gap: a failing disk is not retried in a loop. */
	d->textfile.written_ns = now;
	if (r < 0) {
		if (!d->textfile.warned)
			log_warning("cannot write %s/" TEXTFILE_NAME ": %s (retrying every second; "
				    "said once)",
				    d->settings.metrics_dir, strerror(-r));
		d->textfile.warned = true;
		return;
	}
	if (d->textfile.warned)
		log_notice("wrote %s/" TEXTFILE_NAME " again", d->settings.metrics_dir);
	d->textfile.warned = false;
	d->stats.dirty = false;
}

void textfile_finish(struct daemon *d)
{
	d->textfile.timer = sd_event_source_disable_unref(d->textfile.timer);
}
