#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "deadline.h"
#include "log.h"
#include "manager.h"
#include "notify.h"

/* How long READY=1, RELOADING=1, STOPPING=1 may wait for room in the
 * manager's queue; they are rare and systemd acts on them. */
#define NOTIFY_WAIT_MS 1000u

#define STATUS_GAP_NS (1000u * 1000000u)

/* WATCHDOG=1 from a timer of the loop itself, so a stuck loop stops the
 * pings.  Sent without blocking (the kill path must never wait on PID 1),
 * four times per WatchdogSec=, and a ping that finds the manager's queue
 * full is retried within WATCHDOG_RETRY_USEC: a busy boot can fill that
 * queue for seconds, and two lost pings in a row would get us killed. */
#define WATCHDOG_RETRY_USEC 50000u

void manager_open(struct daemon *d)
{
	int r = notify_open(&d->notify);

	if (r < 0)
		log_warning("ignoring NOTIFY_SOCKET: %s", strerror(-r));
}

void manager_ready(struct daemon *d)
{
	notify_send(&d->notify, NOTIFY_WAIT_MS, "READY=1");
}

void manager_reloaded(struct daemon *d)
{
	manager_ready(d);
	d->status[0] = '\0'; /* STATUS= said afresh */
}

void manager_reloading(struct daemon *d)
{
	notify_send(&d->notify, NOTIFY_WAIT_MS, "RELOADING=1");
}

void manager_stopping(struct daemon *d)
{
	notify_send(&d->notify, NOTIFY_WAIT_MS, "STOPPING=1");
}

void manager_failed(struct daemon *d, int r)
{
	char msg[32];

	snprintf(msg, sizeof(msg), "ERRNO=%d", -r);
	notify_send(&d->notify, NOTIFY_WAIT_MS, msg);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* STATUS= at most once per STATUS_GAP_NS, never waiting for the manager:
 * an update that finds its queue full is retried by the status timer. */
void manager_status(struct daemon *d)
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
	manager_status(d);
	return 0;
}

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

int manager_watchdog_start(struct daemon *d)
{
	if (sd_watchdog_enabled(false, &d->mgr.watchdog_usec) <= 0)
		return 0;
	return sd_event_add_time_relative(d->event, &d->mgr.watchdog_timer, CLOCK_MONOTONIC,
					  d->mgr.watchdog_usec / 4, 1000, on_watchdog, d);
}

void manager_close(struct daemon *d)
{
	d->mgr.status_timer = sd_event_source_disable_unref(d->mgr.status_timer);
	d->mgr.watchdog_timer = sd_event_source_disable_unref(d->mgr.watchdog_timer);
	notify_close(&d->notify);
}
