/* hbwatch: owns the registry of heartbeat records and kills exactly the process whose
 * heartbeat is older than its timeout.  Everything happens on one sd-event
 * loop: signals, the deadline timer, pidfds, escalation timers, D-Bus.
 * This file is the command line, the settings, the wiring and the loop;
 * what the loop runs is in the folders (docs/ARCHITECTURE.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "deadline.h"
#include "intake.h"
#include "intake_state.h"
#include "legacy.h"
#include "log.h"
#include "manager.h"
#include "precheck.h"
#include "registry_link.h"
#include "show.h"
#include "textfile.h"
#include "view.h"
#include "watch.h"

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
	lift_arm(&d->lift, at_ns);
}

static void scan_and_arm(struct daemon *d)
{
	uint64_t next, legacy_next, intake_next, now = now_ns();
	uint64_t work_began = lift_work_begins();

	registry_link_check(d, now);
	next = watch_scan(d);
	legacy_next = legacy_scan(d);
	if (legacy_next < next)
		next = legacy_next;
	/* The deadlines are dealt with; what follows runs at the normal
	 * policy, as the processes it concerns do. */
	lift_lower(&d->lift, next, work_began);
	/* After the scans: new records are found with their deadlines still
	 * ahead, and a census is kept away from the one due next. */
	intake_next = intake_run(d, now, next);
	event_flush_suppressed();
	view_update(d, now);
	if (intake_next < next)
		next = intake_next;
	next = registry_link_next(d, now, next);
	timer_arm(d, next);
	manager_status(d);
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
	manager_status(d);
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

static void reload(struct daemon *d)
{
	struct settings fresh = {0};
	struct event e = {.kind = EVENT_RELOADED, .who.slot = -1};
	char err[4096]; /* every mistake, one line each */
	int r;

	manager_reloading(d);
	r = config_load(d, &fresh, err, sizeof(err));
	if (r < 0) {
		log_error("reload failed, keeping the configuration in force: %s", err);
	} else {
		if (fresh.key != d->settings.key || fresh.slots != d->settings.slots ||
		    fresh.gid != d->settings.gid)
			log_warning(
			    "key, slots and group take effect at the next start; the registry "
			    "in use stays as it is");
		if (fresh.deadline_priority != d->settings.deadline_priority)
			log_warning("deadline_priority takes effect at the next start; %d stays "
				    "in force",
				    d->settings.deadline_priority);
		lift_set_budget(&d->lift, fresh.deadline_budget_ns);
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
		intake_reconsider(d);
		d->stats.dirty = true;
		event_emit(&d->stats, &e, "configuration reloaded from %s: %zu services",
			   d->settings.path, d->settings.n_services);
	}
	manager_reloaded(d);
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
	manager_stopping(d);
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
		r = doorbell_start(&d->doorbell, &d->reg.r, d->event, d->reg.on_doorbell, d);
	if (r >= 0)
		r = manager_watchdog_start(d);
	if (r >= 0)
		r = lift_start(&d->lift, d->settings.deadline_priority,
			       d->settings.deadline_budget_ns);
	return r < 0 ? r : 0;
}

/* The kernel grows a process's file table by doubling it, and once threads
 * share the table each growth waits for an RCU grace period: 10 to 27 ms
 * inside one openat() of the loop, six times in a trace of a 10 000
 * stampede.  Grown here instead, to the TOP files slots= needs, while
 * hbwatch has one thread and growing is cheap.  Best effort: without it
 * the table grows as before. */
static void fd_table_presize(rlim_t top)
{
	int src, fd;

	if (top < 2 || top > INT_MAX)
		return;
	src = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return;
	fd = fcntl(src, F_DUPFD_CLOEXEC, (int)(top - 1));
	if (fd >= 0)
		close(fd);
	close(src);
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
	fd_table_presize(rl.rlim_cur < need ? rl.rlim_cur : need);
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

static int daemon_setup(struct daemon *d)
{
	int r = registry_link_setup(d);

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
	lift_stop(&d->lift);
	doorbell_stop(&d->doorbell);
	view_finish(d);
	watch_finish(d);
	intake_finish(d);
	intake_free(&d->intake);
	legacy_reset(d, true);
	textfile_finish(d);
	stats_finish(&d->stats);
	d->scan.source = sd_event_source_disable_unref(d->scan.source);
	manager_close(d);
	d->bus = sd_bus_flush_close_unref(d->bus);
	d->event = sd_event_unref(d->event);
	registry_link_finish(d);
	settings_finish(&d->settings);
	free(d->rl.v);
}

/* What the command line asks for. */
struct run {
	bool check_only; /* --check-config */
	bool show;	 /* --show */
};

/* Parse the command line into D and RUN.  False if hbwatch is to exit at
 * once, with *STATUS (--help, --version, a usage error). */
static bool parse_args(int argc, char **argv, struct daemon *d, struct run *run, int *status)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
	    {"show", no_argument, NULL, 'S'},	      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d->config_path = optarg;
			break;
		case 'C':
			run->check_only = true;
			break;
		case 'S':
			run->show = true;
			break;
		case 'h':
			usage(stdout);
			*status = 0;
			return false;
		case 'V':
			printf("hbwatch " HBWATCH_VERSION "\n");
			*status = 0;
			return false;
		default:
			usage(stderr);
			*status = 2;
			return false;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hbwatch: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		*status = 2;
		return false;
	}
	return true;
}

/* --check-config: what the configuration is made of, the mistakes it
 * would meet at run time, and (SHOW) every value in force.  Returns the
 * exit status. */
static int check_config(struct settings *s, bool show)
{
	unsigned w = precheck_settings(s);

	config_print_sources(s);
	if (show)
		config_show(s);
	printf("%s: OK, %zu watched service%s%s\n", s->path, s->n_services,
	       s->n_services == 1 ? "" : "s", w ? " (see the warnings above)" : "");
	settings_finish(s);
	return 0;
}

/* Set up, run the loop until SIGTERM, tear down.  Returns the exit status. */
static int run_daemon(struct daemon *d)
{
	int r;

	d->scan.period_ns = deadline_scan_period(min_service_timeout(&d->settings));
	r = daemon_setup(d);
	if (r >= 0)
		r = loop_setup(d);
	if (r < 0) {
		if (d->event)
			log_error("cannot set up the event loop: %s", strerror(-r));
		manager_failed(d, r);
		daemon_finish(d);
		return 1;
	}
	scan_and_arm(d);
	manager_ready(d);
	r = sd_event_loop(d->event);
	if (r < 0)
		log_error("event loop failed: %s", strerror(-r));
	daemon_finish(d);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct daemon d = {.config_path = NULL,
			   .self = getpid(),
			   .doorbell.efd = -1,
			   .lift.tfd = -1,
			   .notify.fd = -1,
			   .textfile.dirfd = -1,
			   .legacy = {.shmid = -1, .bad_shmid = -1},
			   .reg.on_doorbell = on_doorbell};
	struct run run = {0};
	char err[4096]; /* every mistake, one line each */
	int r;

	log_init();
	manager_open(&d);
	if (!parse_args(argc, argv, &d, &run, &r))
		return r;
	if (config_load(&d, &d.settings, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	warn_unchecked_services(&d.settings, NULL);
	if (run.check_only)
		return check_config(&d.settings, run.show);
	return run_daemon(&d);
}
