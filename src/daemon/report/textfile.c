/* The metrics file for node_exporter's textfile collector: metrics_dir/
 * hbwatch.prom, the same process series as "hbctl metrics" plus the counters
 * only the daemon knows and its own health.  Written to a hidden temporary
 * file with a random name in the same directory and renamed over the old
 * one, so the collector never reads half a file (it ignores names not
 * ending in .prom).  Rewritten when a counter or a registration changes, at
 * most once a second, and at least every TEXTFILE_REFRESH_NS so the ages it
 * holds stay roughly current and its mtime tells that hbwatch runs.
 *
 * hbwatch writes there as root: the directory is opened once, through
 * safedir_open() (nobody but root may be able to change its path), and every
 * file operation is relative to that handle, so a path swapped afterwards
 * changes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "deadline.h"
#include "log.h"
#include "metrics.h"
#include "safedir.h"
#include "textfile.h"

#define TEXTFILE_NAME	    "hbwatch.prom"
#define TEXTFILE_GAP_NS	    (1000u * 1000000u)
#define TEXTFILE_REFRESH_NS (UINT64_C(15) * 1000000000u)

static const struct {
	const char *family;
	enum stats_counter counter;
	const char *help;
} families[] = {
    {"hbwatch_deadlines_missed_total", STATS_DEADLINES_MISSED, "Heartbeat deadlines missed."},
    {"hbwatch_kills_total", STATS_KILLS, "Processes sent the service's signal."},
    {"hbwatch_escalations_total", STATS_ESCALATIONS, "Processes sent SIGKILL after kill_grace."},
    {"hbwatch_restarts_total", STATS_RESTARTS, "Unit restarts asked of systemd."},
    {"hbwatch_handovers_total", STATS_HANDOVERS,
     "Units handed to systemd (limit_action) after kill_burst was used up."},
    {"hbwatch_refused_total", STATS_REFUSED,
     "Registrations not watched: no such service, or against their section."},
    {"hbwatch_untrusted_total", STATS_UNTRUSTED,
     "Registrations not the word of someone who may signal the process (never acted on)."},
    {"hbwatch_rate_limited_total", STATS_RATE_LIMITED,
     "Missed deadlines not acted on because of kill_burst."},
    {"hbwatch_unkillable_total", STATS_UNKILLABLE,
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
	enum stats_counter counter;
} deferrals[] = {
    {"starved", STATS_DEFERRED_STARVED},
    {"frozen", STATS_DEFERRED_FROZEN},
    {"debugged", STATS_DEFERRED_DEBUGGED},
    {"dumping", STATS_DEFERRED_DUMPING},
};

static void write_deferral(FILE *f, const char *name, const struct counter *c)
{
	for (size_t k = 0; k < sizeof(deferrals) / sizeof(deferrals[0]); k++) {
		fprintf(f, "hbwatch_deferrals_total{service=\"");
		metrics_write_label(f, name);
		fprintf(f, "\",reason=\"%s\"} %llu\n", deferrals[k].reason,
			(unsigned long long)(c ? c->n[deferrals[k].counter] : 0));
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
				     c ? c->n[families[k].counter] : 0);
		}
		for (size_t i = 0; i < d->stats.n_counters; i++)
			if (!settings_find(&d->settings, d->stats.counters[i].name))
				write_sample(f, families[k].family, d->stats.counters[i].name,
					     d->stats.counters[i].n[families[k].counter]);
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

/* hbwatch's own health: whether it runs, which version, since when, what
 * it costs, and how full the tables are that registrations need. */
static void write_self(FILE *f, const struct daemon *d, bool up)
{
	struct rusage ru;
	struct shm_info used;
	struct shminfo lim;
	long rss_pages = 0, page = sysconf(_SC_PAGESIZE);
	FILE *statm = fopen("/proc/self/statm", "re");

	if (statm) {
		if (fscanf(statm, "%*d %ld", &rss_pages) != 1)
			rss_pages = 0;
		fclose(statm);
	}
	fprintf(f,
		"# HELP hbwatch_up 1 while hbwatch runs; 0 written when it stops.\n"
		"# TYPE hbwatch_up gauge\nhbwatch_up %d\n"
		"# HELP hbwatch_build_info hbwatch's version.\n"
		"# TYPE hbwatch_build_info gauge\n"
		"hbwatch_build_info{version=\"" HBWATCH_VERSION "\"} 1\n"
		"# HELP hbwatch_start_time_seconds When hbwatch started, in seconds since the "
		"epoch.\n"
		"# TYPE hbwatch_start_time_seconds gauge\nhbwatch_start_time_seconds %lld\n",
		up ? 1 : 0, (long long)d->textfile.started);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(f,
			"# HELP hbwatch_cpu_seconds_total CPU time hbwatch used (user and "
			"system).\n"
			"# TYPE hbwatch_cpu_seconds_total counter\n"
			"hbwatch_cpu_seconds_total %ld.%06ld\n",
			(long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000000),
			(long)((ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) % 1000000));
	if (rss_pages > 0 && page > 0)
		fprintf(f,
			"# HELP hbwatch_resident_memory_bytes hbwatch's resident memory.\n"
			"# TYPE hbwatch_resident_memory_bytes gauge\n"
			"hbwatch_resident_memory_bytes %lld\n",
			(long long)rss_pages * page);
	fprintf(f,
		"# HELP hbwatch_slots Processes hbwatch can watch at once (slots=).\n"
		"# TYPE hbwatch_slots gauge\nhbwatch_slots %u\n"
		"# HELP hbwatch_slots_used Slots in use, refused registrations included.\n"
		"# TYPE hbwatch_slots_used gauge\nhbwatch_slots_used %zu\n",
		d->settings.slots, up ? d->ws.n : 0);
	/* The host's SysV shared memory: every registration needs a segment. */
	if (shmctl(0, IPC_INFO, (struct shmid_ds *)(void *)&lim) >= 0 &&
	    shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&used) >= 0)
		fprintf(f,
			"# HELP hbwatch_shm_segments SysV shared memory segments on the host.\n"
			"# TYPE hbwatch_shm_segments gauge\nhbwatch_shm_segments %d\n"
			"# HELP hbwatch_shm_segments_limit The host's limit on them "
			"(kernel.shmmni).\n"
			"# TYPE hbwatch_shm_segments_limit gauge\n"
			"hbwatch_shm_segments_limit %lu\n",
			used.used_ids, lim.shmmni);
}

/* A new file with a random hidden name in DIRFD: a name others cannot
 * guess, so nothing they made in a shared directory is opened or followed. */
static int open_temp(int dirfd, char *name, size_t len)
{
	for (int tries = 0; tries < 100; tries++) {
		uint64_t rnd;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
			rnd = now_ns() ^ ((uint64_t)getpid() << 32);
		snprintf(name, len, "." TEXTFILE_NAME ".%012llx",
			 (unsigned long long)(rnd & 0xffffffffffffu));
		fd =
		    openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

/* Open metrics_dir once (again after a reload that changed it); said once
 * while it stays refused. */
static int textfile_open(struct daemon *d)
{
	const char *dir = d->settings.metrics_dir;
	char why[PATH_MAX + 160];
	int fd;

	if (d->textfile.dirfd >= 0 && d->textfile.dir && strcmp(d->textfile.dir, dir) == 0)
		return 0;
	if (d->textfile.dirfd >= 0)
		close(d->textfile.dirfd);
	d->textfile.dirfd = -1;
	free(d->textfile.dir);
	d->textfile.dir = strdup(dir);
	if (!d->textfile.dir)
		return -ENOMEM;
	fd = safedir_open(dir, geteuid(), why, sizeof(why));
	if (fd < 0) {
		if (!d->textfile.warned)
			log_error("metrics_dir %s refused, no hbwatch.prom written: %s (every "
				  "directory on its path must be writable by root alone; said "
				  "once)",
				  dir, why);
		d->textfile.warned = true;
		return fd;
	}
	d->textfile.dirfd = fd;
	return 0;
}

static int textfile_write(struct daemon *d, bool up)
{
	int dirfd = d->textfile.dirfd;
	char tmp[64];
	FILE *f = NULL;
	int fd, r = 0;

	fd = open_temp(dirfd, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	/* The mode asked for is cut by the umask; the collector may run as
	 * another user. */
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		r = -errno;
		close(fd);
		goto out_unlink;
	}
	write_self(f, d, up);
	if (up)
		write_procs(f, d);
	write_counters(f, d);
	write_deferrals(f, d);
	/* No fsync(): the rename alone makes the switch atomic for readers, and
	 * durability across a crash is worthless for a file rewritten within a
	 * second of the next start, while fsync() on this loop could block the
	 * kill path for as long as the disk is busy. */
	if (fflush(f) != 0 || ferror(f)) {
		r = errno ? -errno : -EIO;
		fclose(f);
		goto out_unlink;
	}
	if (fclose(f) != 0) {
		r = -errno;
		goto out_unlink;
	}
	/* Over whatever holds the name, never through it: a file someone else
	 * put there in a sticky directory is replaced (hbwatch owns the
	 * directory), a symlink is replaced, not followed. */
	if (renameat(dirfd, tmp, dirfd, TEXTFILE_NAME) == 0)
		return 0;
	r = -errno;
out_unlink:
	unlinkat(dirfd, tmp, 0);
	return r;
}

static int on_textfile_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	d->textfile.timer = sd_event_source_disable_unref(d->textfile.timer);
	textfile_update(d);
	return 0;
}

/* Have textfile_update() called again at AT_NS at the latest. */
static void textfile_arm(struct daemon *d, uint64_t at_ns)
{
	if (d->textfile.timer && d->textfile.timer_ns <= at_ns)
		return;
	if (d->textfile.timer) {
		if (sd_event_source_set_time(d->textfile.timer, deadline_usec_ceil(at_ns)) >= 0) {
			d->textfile.timer_ns = at_ns;
			return;
		}
		d->textfile.timer = sd_event_source_disable_unref(d->textfile.timer);
	}
	if (sd_event_add_time(d->event, &d->textfile.timer, CLOCK_MONOTONIC,
			      deadline_usec_ceil(at_ns), 1000, on_textfile_timer, d) < 0)
		d->textfile.timer = NULL;
	else
		d->textfile.timer_ns = at_ns;
}

void textfile_update(struct daemon *d)
{
	uint64_t now = now_ns();
	int r;

	if (!d->settings.metrics_dir)
		return;
	if (!d->textfile.started)
		d->textfile.started = time(NULL);
	if (!d->stats.dirty && d->textfile.written_ns &&
	    now - d->textfile.written_ns < TEXTFILE_REFRESH_NS) {
		textfile_arm(d, d->textfile.written_ns + TEXTFILE_REFRESH_NS);
		return;
	}
	if (d->textfile.written_ns && now - d->textfile.written_ns < TEXTFILE_GAP_NS) {
		textfile_arm(d, d->textfile.written_ns + TEXTFILE_GAP_NS);
		return;
	}
	r = textfile_open(d);
	if (r == 0)
		r = textfile_write(d, true);
	/* Written or not, wait the gap: a failing disk is not retried in a loop;
	 * and come back for the refresh even if nothing happens meanwhile. */
	d->textfile.written_ns = now;
	textfile_arm(d, now + TEXTFILE_REFRESH_NS);
	if (r < 0) {
		if (!d->textfile.warned) {
			struct stat st;
			char owner[64] = "";

			if ((r == -EPERM || r == -EACCES) &&
			    fstatat(d->textfile.dirfd, TEXTFILE_NAME, &st, AT_SYMLINK_NOFOLLOW) ==
				0 &&
			    st.st_uid != geteuid())
				snprintf(owner, sizeof(owner), " (it belongs to uid %u)",
					 (unsigned)st.st_uid);
			log_warning("cannot write %s/" TEXTFILE_NAME "%s: %s (retrying every "
				    "second; said once)",
				    d->settings.metrics_dir, owner, strerror(-r));
		}
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
	/* A last file that says hbwatch stopped, without the process series,
	 * whose ages would stay frozen in it. */
	if (d->textfile.dirfd >= 0 && d->settings.metrics_dir && textfile_write(d, false) < 0)
		log_warning("cannot write %s/" TEXTFILE_NAME " on stopping",
			    d->settings.metrics_dir);
	if (d->textfile.dirfd >= 0)
		close(d->textfile.dirfd);
	d->textfile.dirfd = -1;
	free(d->textfile.dir);
	d->textfile.dir = NULL;
}
