/* hbwatch: owns the registry of heartbeat records and kills exactly the process whose
 * heartbeat is older than its timeout.  Everything happens on one sd-event
 * loop: signals, the deadline timer, pidfds, escalation timers, D-Bus. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "deadline.h"
#include "duration.h"
#include "intake.h"
#include "legacy.h"
#include "log.h"
#include "notify.h"
#include "precheck.h"
#include "signame.h"
#include "textfile.h"
#include "view.h"
#include "watch.h"

/* How long READY=1, RELOADING=1, STOPPING=1 may wait for room in the
 * manager's queue; they are rare and systemd acts on them. */
#define NOTIFY_WAIT_MS 1000u

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: hbwatch [-c FILE] [--check-config [--show]]\n"
	    "Heartbeat watchdog: kills the process whose heartbeat is older than its timeout.\n\n"
	    "  -c, --config FILE   read FILE and the drop-ins hbwatch.d/*.ini beside it,\n"
	    "                      instead of the layered directories (highest first)\n"
	    "                      " HBWATCH_CONFIG_DIRS_TEXT "\n"
	    "      --check-config  validate the configuration, list the files it is made\n"
	    "                      of, and exit\n"
	    "      --show          with --check-config: every value in force, as parsed,\n"
	    "                      and the file:line it was set at\n"
	    "  -h, --help          show this help\n"
	    "      --version       show the version\n\n"
	    "Exit status: 0 success, 1 configuration or registry error, 2 usage error.\n"
	    "Signals: SIGTERM/SIGINT stop (registrations stay), SIGHUP reloads the "
	    "configuration.\n");
}

#define STATUS_GAP_NS (1000u * 1000000u)

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* STATUS= at most once per STATUS_GAP_NS, never waiting for the manager:
 * an update that finds its queue full is retried by the status timer. */
static void status_update(struct daemon *d)
{
	char status[sizeof(d->status)];
	uint64_t now = now_ns();

	snprintf(status, sizeof(status), "Watching %u process%s of %zu service%s; %u acted on%s%s",
		 d->ws.n_active, d->ws.n_active == 1 ? "" : "es", d->settings.n_services,
		 d->settings.n_services == 1 ? "" : "s", d->stats.n_acted,
		 d->stats.last_action[0] ? "; last: " : "", d->stats.last_action);
	if (strcmp(status, d->status) == 0 || d->notify.fd < 0)
		return;
	if (now - d->mgr.status_sent_ns >= STATUS_GAP_NS) {
		char msg[sizeof(status) + 8];
		snprintf(msg, sizeof(msg), "STATUS=%s", status);
		if (notify_send(&d->notify, 0, msg) == 0) {
			memcpy(d->status, status, sizeof(status));
			d->mgr.status_sent_ns = now;
			return;
		}
		d->mgr.status_sent_ns = now; /* full: try again after the gap */
	}
	if (!d->mgr.status_timer &&
	    sd_event_add_time(d->event, &d->mgr.status_timer, CLOCK_MONOTONIC,
			      deadline_usec_ceil(d->mgr.status_sent_ns + STATUS_GAP_NS), 1000,
			      on_status_timer, d) < 0)
		d->mgr.status_timer = NULL;
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	d->mgr.status_timer = sd_event_source_disable_unref(d->mgr.status_timer);
	status_update(d);
	return 0;
}

/* WATCHDOG=1 from a timer of the loop itself, so a stuck loop stops the
 * pings.  Sent without blocking (the kill path must never wait on PID 1),
 * four times per WatchdogSec=, and a ping that finds the manager's queue
 * full is retried within WATCHDOG_RETRY_USEC: a busy boot can fill that
 * queue for seconds, and two lost pings in a row would get us killed. */
#define WATCHDOG_RETRY_USEC 50000u

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	uint64_t next = d->mgr.watchdog_usec / 4, now = now_ns();
	int r = notify_send(&d->notify, 0, "WATCHDOG=1");

	if (r == 0) {
		if (d->mgr.watchdog_failing_since && d->mgr.watchdog_warned)
			log_notice("watchdog pings reach the service manager again");
		d->mgr.watchdog_failing_since = 0;
		d->mgr.watchdog_warned = false;
	} else {
		if (!d->mgr.watchdog_failing_since)
			d->mgr.watchdog_failing_since = now;
		if (!d->mgr.watchdog_warned &&
		    now - d->mgr.watchdog_failing_since >= d->mgr.watchdog_usec * 1000u / 4) {
			log_warning(
			    "watchdog pings have not reached the service manager for %llu "
			    "ms (%s); retrying every %u ms",
			    (unsigned long long)((now - d->mgr.watchdog_failing_since) / 1000000u),
			    strerror(-r), WATCHDOG_RETRY_USEC / 1000u);
			d->mgr.watchdog_warned = true;
		}
		if (next > WATCHDOG_RETRY_USEC)
			next = WATCHDOG_RETRY_USEC;
	}
	/* A time source fires once: move it and enable it again, or the
	 * pings stop and systemd kills us at WatchdogSec=. */
	if (sd_event_source_set_time(s, usec + next) < 0 ||
	    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) < 0)
		log_error("cannot re-arm the watchdog timer: the service manager will restart "
			  "hbwatch");
	return 0;
}

static uint64_t min_service_timeout(const struct settings *s)
{
	uint64_t min = 0;

	for (size_t i = 0; i < s->n_services; i++)
		if (s->services[i].timeout_ns && (!min || s->services[i].timeout_ns < min))
			min = s->services[i].timeout_ns;
	return min;
}

static void timer_arm(struct daemon *d, uint64_t at_ns)
{
	/* 1 µs accuracy: sd-event's default slack (250 ms) would let a hung
	 * process live a quarter second past its deadline. */
	int r = sd_event_source_set_time(d->scan.source, deadline_usec_ceil(at_ns));

	if (r >= 0)
		r = sd_event_source_set_enabled(d->scan.source, SD_EVENT_ONESHOT);
	if (r < 0)
		log_error("cannot arm the deadline timer: %s", strerror(-r));
	d->scan.at_ns = at_ns;
}

static int registry_setup(struct daemon *d);

/* Once a second: is the registry still there?  Only root (or our uid) can
 * remove it, but then clients could no longer announce: say so and make a
 * new one.  Watching goes on meanwhile, records do not need it. */
#define REGISTRY_CHECK_NS (1000u * 1000000ull)

static void registry_watch(struct daemon *d, uint64_t now)
{
	struct event e = {.kind = EVENT_REGISTRY, .slot = -1};
	int r;

	if (now - d->reg.checked_ns < REGISTRY_CHECK_NS)
		return;
	d->reg.checked_ns = now;
	if (d->reg.r.hdr) {
		r = registry_check(&d->reg.r);
		if (r != -EIDRM) {
			/* Its group may write all of it: the header included. */
			if (r == 0 && registry_repair(&d->reg.r)) {
				e.limited = true;
				log_event(
				    LOG_WARNING, &e,
				    "the registry's header at key 0x%x was rewritten (by a member "
				    "of its group); put back",
				    d->settings.key);
			}
			return;
		}
		log_event(LOG_WARNING, &e,
			  "the registry at key 0x%x was removed from under hbwatch; making a new "
			  "one (watched processes stay watched)",
			  d->settings.key);
		doorbell_stop(&d->doorbell);
		registry_detach(&d->reg.r);
	}
	r = registry_setup(d);
	if (r < 0)
		return;
	log_event(LOG_NOTICE, &e, "made a new registry at key 0x%x", d->settings.key);
}

static void scan_and_arm(struct daemon *d)
{
	uint64_t next, legacy_next, intake_next, now = now_ns();

	registry_watch(d, now);
	next = watch_scan(d);
	legacy_next = legacy_scan(d);
	if (legacy_next < next)
		next = legacy_next;
	/* After the scans: new records are found with their deadlines still
	 * ahead, and a census is kept away from the one due next. */
	intake_next = intake_run(d, now, next);
	log_flush_suppressed();
	view_update(d, now);
	if (intake_next < next)
		next = intake_next;
	if (!d->reg.r.hdr && now + REGISTRY_CHECK_NS < next)
		next = now + REGISTRY_CHECK_NS;
	timer_arm(d, next);
	status_update(d);
	textfile_update(d);
}

/* A registration rang the doorbell (at most once a millisecond: the
 * doorbell's thread batches them): take up what the ring names.  Only the
 * new records are looked at, whatever the number of watched processes;
 * the timer is brought forward if one of them is due first. */
static int on_doorbell(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	uint64_t now = now_ns(), next;

	doorbell_drain(&d->doorbell);
	next = intake_ring(d, now);
	if (next < d->scan.at_ns)
		timer_arm(d, next);
	view_update(d, now);
	status_update(d);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	scan_and_arm(userdata);
	return 0;
}

/* Once per section and configuration: not again at a reload for a section
 * that had no unit= in the configuration in force (BEFORE, may be NULL),
 * and never for one that says "unit = none". */
static void warn_unchecked_services(const struct settings *s, const struct settings *before)
{
	for (size_t i = 0; i < s->n_services; i++) {
		const struct service *svc = &s->services[i], *was;

		if (svc->unit || svc->no_unit || svc->action == ACTION_LOG)
			continue;
		was = before ? settings_find(before, svc->name) : NULL;
		if (was && !was->unit && !was->no_unit && was->action != ACTION_LOG)
			continue;
		log_warning("%s:%u: [%s] has no unit=: its processes are acted on without "
			    "checking which systemd unit they run in ('unit = none' says that "
			    "is meant)",
			    svc->file, svc->line, svc->name);
	}
}

/* The file given with -c (and its hbwatch.d), else the layered directories. */
static int config_load(const struct daemon *d, struct settings *s, char *err, size_t err_len)
{
	static const char *const dirs[] = {HBWATCH_CONFIG_DIRS};

	if (d->config_path)
		return settings_load(d->config_path, s, err, err_len);
	return settings_load_dirs(dirs, sizeof(dirs) / sizeof(dirs[0]), s, err, err_len);
}

/* --check-config: which files made the configuration, and what they set
 * aside, so the layering is never a guess. */
static void config_print(const struct settings *s)
{
	for (size_t i = 0; i < s->sources.n; i++)
		printf("%s %s%s\n", i == 0 ? "read" : "  then", s->sources.v[i].path,
		       s->sources.v[i].masked ? " (masked: a symlink to /dev/null)" : "");
	for (size_t i = 0; i < s->n_disabled; i++)
		printf("[%s] is disabled at %s:%u\n", s->disabled[i].name,
		       s->disabled[i].enabled_file, s->disabled[i].enabled_line);
}

/* One line of --show: KEY = VALUE, and where it was set (or "default"). */
static void show_line(const struct settings *s, const char *section, const char *key,
		      const char *value)
{
	const struct setting_origin *o = settings_origin(s, section, key);

	if (o)
		printf("%-14s = %-24s ; %s:%u\n", key, value, o->file, o->line);
	else
		printf("%-14s = %-24s ; default\n", key, value);
}

static const char *show_duration(char *buf, size_t len, uint64_t ns)
{
	if (duration_format(ns, buf, len) < 0)
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	return buf;
}

static void show_service(const struct settings *s, const struct service *svc)
{
	char v[128];

	printf("\n[%s]%s\n", svc->name, svc->enabled ? "" : " ; disabled");
	show_line(s, svc->name, "unit",
		  svc->unit	 ? svc->unit
		  : svc->no_unit ? "none"
				 : "(any: not checked)");
	if (svc->has_user)
		snprintf(v, sizeof(v), "%s (uid %u)", svc->user, (unsigned)svc->uid);
	else
		snprintf(v, sizeof(v), "%s", svc->user ? svc->user : "(any)");
	show_line(s, svc->name, "user", v);
	show_line(s, svc->name, "timeout",
		  svc->timeout_ns ? show_duration(v, sizeof(v), svc->timeout_ns)
				  : "(no cap: as the process asks)");
	show_line(s, svc->name, "action", action_name(svc->action));
	snprintf(v, sizeof(v), "%s (%d)", signal_name(svc->signal) ? signal_name(svc->signal) : "?",
		 svc->signal);
	show_line(s, svc->name, "signal", v);
	snprintf(v, sizeof(v), "%u", svc->kill_burst);
	show_line(s, svc->name, "kill_burst", v);
	show_line(s, svc->name, "kill_interval",
		  show_duration(v, sizeof(v), svc->kill_interval_ns));
	show_line(s, svc->name, "kill_group", svc->kill_group ? "yes" : "no");
	show_line(s, svc->name, "limit_action", limit_action_name(svc->limit_action));
	show_line(s, svc->name, "enabled", svc->enabled ? "yes" : "no");
	if (svc->extend_max_ns == HB_EXTEND_AUTO)
		snprintf(v, sizeof(v), "(10 x each timeout)");
	else
		show_duration(v, sizeof(v), svc->extend_max_ns);
	show_line(s, svc->name, "extend_max", v);
}

/* --check-config --show: every value in force, as parsed, and the file
 * and line it came from, so that "5 minutes" or "5098" is never a guess. */
static void config_show(const struct settings *s)
{
	char v[128];

	printf("\n[hbwatch]\n");
	snprintf(v, sizeof(v), "0x%x", (unsigned)s->key);
	show_line(s, "hbwatch", "key", v);
	snprintf(v, sizeof(v), "%u", s->slots);
	show_line(s, "hbwatch", "slots", v);
	if (s->has_gid)
		snprintf(v, sizeof(v), "%s (gid %u)", s->group, (unsigned)s->gid);
	else
		snprintf(v, sizeof(v), "(hbwatch's own)");
	show_line(s, "hbwatch", "group", v);
	show_line(s, "hbwatch", "kill_grace", show_duration(v, sizeof(v), s->kill_grace_ns));
	show_line(s, "hbwatch", "metrics_dir", s->metrics_dir ? s->metrics_dir : "(none)");
	for (size_t i = 0; i < s->n_services; i++)
		show_service(s, &s->services[i]);
	for (size_t i = 0; i < s->n_disabled; i++)
		show_service(s, &s->disabled[i]);
	if (s->legacy) {
		printf("\n[legacy]\n");
		snprintf(v, sizeof(v), "0x%x", (unsigned)s->legacy_key);
		show_line(s, "legacy", "key", v);
		show_line(s, "legacy", "allow_shared_writers", s->legacy_shared ? "yes" : "no");
	}
}

static void reload(struct daemon *d)
{
	struct settings fresh = {0};
	struct event e = {.kind = EVENT_RELOADED, .slot = -1};
	char err[4096]; /* every mistake, one line each */
	int r;

	notify_send(&d->notify, NOTIFY_WAIT_MS, "RELOADING=1");
	r = config_load(d, &fresh, err, sizeof(err));
	if (r < 0) {
		log_error("reload failed, keeping the configuration in force: %s", err);
	} else {
		if (fresh.key != d->settings.key || fresh.slots != d->settings.slots ||
		    fresh.gid != d->settings.gid)
			log_warning(
			    "key, slots and group take effect at the next start; the registry "
			    "in use stays as it is");
		warn_unchecked_services(&fresh, &d->settings);
		settings_finish(&d->settings);
		d->settings = fresh;
		d->scan.period_ns = deadline_scan_period(min_service_timeout(&d->settings));
		/* Re-evaluate every registration under the new rules; what is
		 * known (late, logged, being killed) keeps its state. */
		watch_reevaluate(d);
		d->view_dirty = d->view_all = true; /* caps and timeouts */
		legacy_reevaluate(d);
		/* Records turned down may be welcome under the new rules. */
		idmap_free(&d->intake.turned_down);
		d->intake.census_soon = true;
		d->stats.dirty = true;
		log_event(LOG_NOTICE, &e, "configuration reloaded from %s: %zu services",
			  d->settings.path, d->settings.n_services);
	}
	notify_send(&d->notify, NOTIFY_WAIT_MS, "READY=1");
	d->status[0] = '\0';
	scan_and_arm(d);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	if (si->ssi_signo == SIGHUP) {
		reload(d);
		return 0;
	}
	log_info("received %s, stopping; registrations stay for the next start",
		 si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	notify_send(&d->notify, NOTIFY_WAIT_MS, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int loop_setup(struct daemon *d)
{
	sigset_t mask;
	int r;

	r = sd_event_default(&d->event);
	if (r < 0)
		return r;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGHUP, on_signal, d);
	if (r >= 0)
		r = sd_event_add_time(d->event, &d->scan.source, CLOCK_MONOTONIC, 0, 1, on_timer,
				      d);
	if (r >= 0)
		r = doorbell_start(&d->doorbell, &d->reg.r, d->event, on_doorbell, d);
	if (r >= 0 && sd_watchdog_enabled(false, &d->mgr.watchdog_usec) > 0)
		r = sd_event_add_time_relative(d->event, &d->mgr.watchdog_timer, CLOCK_MONOTONIC,
					       d->mgr.watchdog_usec / 4, 1000, on_watchdog, d);
	return r < 0 ? r : 0;
}

/* Each watched registration holds a pidfd.  systemd gives services a soft
 * limit of 1024 open files and a hard one of 524288, expecting programs
 * that need more (and never use select(): sd-event uses epoll) to raise
 * the soft limit themselves. */
static void fd_limit_raise(uint32_t slot_count)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)slot_count + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		log_warning("open-file limit %llu is below the %llu needed to watch %u processes "
			    "(slots=); raise LimitNOFILE= of hbwatch.service",
			    (unsigned long long)rl.rlim_max, (unsigned long long)need, slot_count);
}

/* Each registered process needs a System V segment of its own, and the
 * kernel allows kernel.shmmni segments per IPC namespace (4096 by default,
 * shared with every other program).  Read through shmctl(IPC_INFO), which
 * the unit's ProcSubset=pid does not hide.  Said once, with the setting. */
static void shm_limit_check(uint32_t slots)
{
	struct shminfo si = {0};

	if (shmctl(0, IPC_INFO, (struct shmid_ds *)(void *)&si) < 0)
		return;
	if (si.shmmni < (unsigned long)slots + 64)
		log_warning(
		    "kernel.shmmni is %lu: fewer processes than slots=%u can register "
		    "(each needs a segment; hb_register() then fails with ENOSPC); "
		    "install hbwatch's sysctl.d file or run 'sysctl -w kernel.shmmni=32768'",
		    si.shmmni, slots);
}

/* Make (or adopt our own) registry at the key.  At start a failure is
 * fatal; later (re-creation) it is said once per cause and retried. */
static int registry_setup(struct daemon *d)
{
	struct settings *s = &d->settings;
	char why[768] = "";
	bool adopted;
	int r;

	r = registry_create(s->key, s->slots, s->has_gid ? s->gid : (gid_t)-1, &d->reg.r, &adopted,
			    why, sizeof(why));
	if (r < 0) {
		if (r != d->reg.last_errno) {
			struct event e = {.kind = EVENT_REGISTRY, .slot = -1};
			log_event(LOG_ERR, &e, "cannot set up the registry at key 0x%x: %s", s->key,
				  why[0] ? why : strerror(-r));
		}
		d->reg.last_errno = r;
		registry_detach(&d->reg.r);
		return r;
	}
	d->reg.last_errno = 0;
	view_announce(d);
	/* Hints older than us are covered by the census that follows. */
	d->intake.head = atomic_load(&d->reg.r.hdr->tail);
	d->intake.pending_since = 0;
	d->intake.census_soon = true;
	d->intake.census_last_ns = 0;
	if (d->event) {
		r = doorbell_start(&d->doorbell, &d->reg.r, d->event, on_doorbell, d);
		if (r < 0)
			log_error("cannot listen on the registry's doorbell: %s (new records are "
				  "found by the census, within seconds)",
				  strerror(-r));
	}
	struct event e = {.kind = EVENT_STARTED, .slot = -1};
	log_event(LOG_INFO, &e,
		  "%s the registry at key 0x%x; watching up to %u processes of %zu "
		  "services",
		  adopted ? "adopted" : "created", s->key, s->slots, s->n_services);
	return 0;
}

static int daemon_setup(struct daemon *d)
{
	int r = registry_setup(d);

	if (r < 0)
		return r;
	fd_limit_raise(d->settings.slots);
	shm_limit_check(d->settings.slots);
	if (view_setup(d) == 0)
		view_announce(d);
	return 0;
}

static void daemon_finish(struct daemon *d)
{
	doorbell_stop(&d->doorbell);
	view_finish(d);
	watch_finish(d);
	idmap_free(&d->intake.turned_down);
	intake_free(&d->intake);
	legacy_reset(d, true);
	textfile_finish(d);
	stats_finish(&d->stats);
	d->scan.source = sd_event_source_disable_unref(d->scan.source);
	d->mgr.status_timer = sd_event_source_disable_unref(d->mgr.status_timer);
	d->mgr.watchdog_timer = sd_event_source_disable_unref(d->mgr.watchdog_timer);
	d->bus = sd_bus_flush_close_unref(d->bus);
	d->event = sd_event_unref(d->event);
	if (d->reg.r.hdr) {
		/* The registry stays for the next start (no registration is
		 * lost), but clients learn at once that nobody watches: they
		 * take a registry that names no live hbwatch as "not running". */
		int32_t self = (int32_t)getpid();
		atomic_compare_exchange_strong(&d->reg.r.hdr->owner_pid, &self, 0);
	}
	registry_detach(&d->reg.r);
	settings_finish(&d->settings);
	free(d->rl.v);
	notify_close(&d->notify);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
	    {"show", no_argument, NULL, 'S'},	      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {0},
	};
	struct daemon d = {.config_path = NULL,
			   .self = getpid(),
			   .doorbell.efd = -1,
			   .notify.fd = -1,
			   .textfile.dirfd = -1,
			   .legacy = {.shmid = -1, .bad_shmid = -1}};
	bool check_only = false, show = false;
	char err[4096]; /* every mistake, one line each */
	int c, r;

	log_init();
	r = notify_open(&d.notify);
	if (r < 0)
		log_warning("ignoring NOTIFY_SOCKET: %s", strerror(-r));
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'S':
			show = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("hbwatch " HBWATCH_VERSION "\n");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hbwatch: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	r = config_load(&d, &d.settings, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return 1;
	}
	warn_unchecked_services(&d.settings, NULL);
	if (check_only) {
		unsigned w = precheck_settings(&d.settings);

		config_print(&d.settings);
		if (show)
			config_show(&d.settings);
		printf("%s: OK, %zu watched service%s%s\n", d.settings.path, d.settings.n_services,
		       d.settings.n_services == 1 ? "" : "s", w ? " (see the warnings above)" : "");
		settings_finish(&d.settings);
		return 0;
	}
	d.scan.period_ns = deadline_scan_period(min_service_timeout(&d.settings));

	r = daemon_setup(&d);
	if (r >= 0)
		r = loop_setup(&d);
	if (r < 0) {
		if (d.event)
			log_error("cannot set up the event loop: %s", strerror(-r));
		char msg[32];
		snprintf(msg, sizeof(msg), "ERRNO=%d", -r);
		notify_send(&d.notify, NOTIFY_WAIT_MS, msg);
		daemon_finish(&d);
		return 1;
	}
	scan_and_arm(&d);
	notify_send(&d.notify, NOTIFY_WAIT_MS, "READY=1");
	r = sd_event_loop(d.event);
	if (r < 0)
		log_error("event loop failed: %s", strerror(-r));
	daemon_finish(&d);
	return r < 0 ? 1 : 0;
}
