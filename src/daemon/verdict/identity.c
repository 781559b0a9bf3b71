#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "identity.h"
#include "pidinfo.h"
#include "proc.h"

bool identity_pid_ok(pid_t pid, pid_t self)
{
	return pid > 1 && pid != self;
}

bool identity_atime_stale(const struct identity_facts *f)
{
	if (!f->have_atime || f->gone)
		return false;
	return f->start_real_err || f->atime < 0 ||
	       f->start_real_ns > ((uint64_t)f->atime + 1) * 1000000000u + IDENTITY_START_SLACK_NS;
}

uint64_t identity_pinned_start(const struct identity_facts *f)
{
	if (f->recorded)
		return f->recorded;
	if (f->have_atime)
		return f->start_time;
	if (f->gone || !identity_pid_ok(f->pid, f->self))
		return 0;
	return proc_start_matches(f->start_time, 0, f->started_by) ? f->start_time : 0;
}

int identity_pin(pid_t pid, pid_t self, int *pidfd)
{
	if (*pidfd >= 0 || !identity_pid_ok(pid, self))
		return 0;
	*pidfd = pidfd_open(pid, 0);
	if (*pidfd < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

static void origin(char *buf, size_t len, const struct service *svc)
{
	snprintf(buf, len, "[%s] (%s:%u)", svc->name, svc->file ? svc->file : "?", svc->line);
}

/* What no process check accepts: a kernel thread (never signalled), or a
 * process whose uids could not be read (looked at again later). */
static enum identity_verdict process_refusal(bool kthread, int uids_err, char *why, size_t why_len)
{
	if (kthread) {
		snprintf(why, why_len, "it is a kernel thread");
		return IDENTITY_UNTRUSTED;
	}
	if (uids_err) {
		snprintf(why, why_len, "cannot read its user: %s", strerror(-uids_err));
		return IDENTITY_RETRY;
	}
	return IDENTITY_OK;
}

/* Is F's pid one hbwatch may ever act on?  Not 0, a group or init, nor
 * hbwatch itself, whatever else is known of it. */
static enum identity_verdict pid_rule(const struct identity_facts *f, char *why, size_t why_len)
{
	if (f->pid <= 0) {
		snprintf(why, why_len, "it names pid %d", (int)f->pid);
		return IDENTITY_UNTRUSTED;
	}
	if (!identity_pid_ok(f->pid, f->self)) {
		snprintf(why, why_len, "pid %d (%s) is never signalled", (int)f->pid,
			 f->pid == 1 ? "init" : "hbwatch itself");
		return IDENTITY_UNTRUSTED;
	}
	return IDENTITY_OK;
}

/* Is the process there, and the one that made the registration: its start
 * time as recorded or no later than the record's bound, and (a classic
 * record) started by its last beat? */
static enum identity_verdict same_process_rule(const struct identity_facts *f, char *why,
					       size_t why_len)
{
	if (f->gone) {
		snprintf(why, why_len, "no such process");
		return IDENTITY_STALE;
	}
	if (!proc_start_matches(f->start_time, f->recorded, f->started_by)) {
		if (f->recorded || !f->started_by)
			snprintf(why, why_len,
				 "start time differs, the pid belongs to another process now");
		else
			snprintf(why, why_len,
				 "it started after its record was made, the pid belongs to "
				 "another process now (or its CLOCK_BOOTTIME runs behind "
				 "ours: another time namespace)");
		return IDENTITY_STALE;
	}
	/* A classic record: the process the pidfd pins is the one that wrote
	 * it if it was alive when the record was last written. */
	if (identity_atime_stale(f)) {
		if (f->start_real_err)
			snprintf(why, why_len, "cannot read its start time: %s",
				 strerror(-f->start_real_err));
		else
			snprintf(why, why_len,
				 "the process started after the record's last heartbeat (atime "
				 "%lld), so its pid belongs to another process now",
				 (long long)f->atime);
		return IDENTITY_STALE;
	}
	return IDENTITY_OK;
}

/* Is the registration the word of someone who may signal its process? */
static enum identity_verdict writer_rule(const struct identity_facts *f, char *why, size_t why_len)
{
	if (f->have_ownership) {
		struct ownership_facts own = f->own;

		own.ruid = f->ruid;
		own.suid = f->suid;
		if (ownership_check(&own, why, why_len) != OWNERSHIP_OK)
			return IDENTITY_UNTRUSTED;
	}
	return IDENTITY_OK;
}

/* The enabled section of S that F's name is, in *SVC; else UNWATCHED. */
static enum identity_verdict section_rule(const struct identity_facts *f, const struct settings *s,
					  const struct service **svc, char *why, size_t why_len)
{
	const struct service *sv;

	if (!f->name_ok) {
		snprintf(why, why_len,
			 "its name is not a service name (1 to %d letters, digits and "
			 "-_.:@)",
			 HB_NAME_MAX);
		return IDENTITY_UNWATCHED;
	}
	sv = settings_find(s, f->name);
	if (!sv && (sv = settings_find_disabled(s, f->name)) != NULL) {
		snprintf(why, why_len, "[%s] is disabled ('enabled = no' at %s:%u)", f->name,
			 sv->enabled_file, sv->enabled_line);
		return IDENTITY_UNWATCHED;
	}
	if (!sv) {
		snprintf(why, why_len, "\"%s\" is not a watched service in %s", f->name,
			 s->path ? s->path : "the configuration");
		return IDENTITY_UNWATCHED;
	}
	*svc = sv;
	return IDENTITY_OK;
}

/* Does F's process run where section SV says: its unit= and user=? */
static enum identity_verdict placement_rule(const struct identity_facts *f,
					    const struct service *sv, char *why, size_t why_len)
{
	char at[HB_NAME_SIZE + 300];

	origin(at, sizeof(at), sv);
	if (sv->unit && !f->unit) {
		/* ENODATA is systemd's "in no unit": say it in words; any other
		 * error is a failure to find out, said as such. */
		if (!f->unit_err || f->unit_err == -ENODATA)
			snprintf(why, why_len,
				 "it runs in no systemd unit (not started by systemd, or hbwatch "
				 "sees another cgroup tree), but %s requires unit %s",
				 at, sv->unit);
		else
			snprintf(why, why_len,
				 "its systemd unit could not be read (%s), but %s requires unit %s",
				 strerror(-f->unit_err), at, sv->unit);
		return IDENTITY_MISMATCH;
	}
	if (sv->unit && fnmatch(sv->unit, f->unit, 0) != 0) {
		snprintf(why, why_len, "it runs in %s, but %s requires unit %s", f->unit, at,
			 sv->unit);
		return IDENTITY_MISMATCH;
	}
	if (sv->has_user && f->ruid != sv->uid) {
		snprintf(why, why_len, "it runs as uid %u, but %s requires user %s",
			 (unsigned)f->ruid, at, sv->user);
		return IDENTITY_MISMATCH;
	}
	return IDENTITY_OK;
}

/* The rules in order: the first that refuses decides. */
enum identity_verdict identity_decide(const struct identity_facts *f, const struct settings *s,
				      const struct service **svc, char *why, size_t why_len)
{
	enum identity_verdict v;

	*svc = NULL;
	if ((v = pid_rule(f, why, why_len)) != IDENTITY_OK ||
	    (v = same_process_rule(f, why, why_len)) != IDENTITY_OK ||
	    (v = process_refusal(f->kthread, f->uids_err, why, why_len)) != IDENTITY_OK ||
	    (v = writer_rule(f, why, why_len)) != IDENTITY_OK ||
	    (v = section_rule(f, s, svc, why, why_len)) != IDENTITY_OK ||
	    (v = placement_rule(f, *svc, why, why_len)) != IDENTITY_OK)
		return v;
	snprintf(why, why_len, "ok");
	return IDENTITY_OK;
}

/* The facts every identity check reads of PID: one read of stat (start
 * time, kernel thread, CPU), then its uids (*UIDS_ERR: 0 or -errno, -ESRCH
 * if it went meanwhile): from the kernel through PIDFD (>= 0), which pins
 * the process the stat read found (its start time is checked by the
 * caller), else from /proc/PID/status.  Returns 0, or -ESRCH if it is
 * gone. */
static int process_read(pid_t pid, int pidfd, struct proc_stat *st, int *uids_err, uid_t *ruid,
			uid_t *suid)
{
	uid_t euid;

	*uids_err = 0;
	if (proc_stat_facts(pid, st) < 0)
		return -ESRCH;
	if (pidfd >= 0 && (*uids_err = pidinfo_uids(pidfd, ruid, suid)) != -EOPNOTSUPP)
		return 0;
	*uids_err = proc_uids(pid, ruid, &euid, suid);
	return 0;
}

void identity_gather(struct identity_facts *f, pid_t pid)
{
	identity_gather_pinned(f, pid, -1);
}

void identity_gather_pinned(struct identity_facts *f, pid_t pid, int pidfd)
{
	struct proc_stat st;
	char *unit = NULL;
	int r;

	f->pid = pid;
	f->self = getpid();
	f->gone = false;
	f->unit = NULL;
	f->unit_err = 0;
	if (process_read(pid, pidfd, &st, &f->uids_err, &f->ruid, &f->suid) < 0) {
		f->gone = true;
		return;
	}
	f->start_time = st.start_time;
	f->kthread = st.kthread;
	f->cpu_ticks = st.cpu_ticks;
	if (f->have_atime)
		f->start_real_err = proc_start_realtime(f->start_time, &f->start_real_ns);
	if (f->uids_err == -ESRCH)
		f->gone = true;
	if (f->skip_unit)
		return; /* two /proc reads of cgroups saved per registration */
	r = sd_pid_get_unit(pid, &unit);
	f->unit = r >= 0 ? unit : NULL;
	f->unit_err = r >= 0 ? 0 : r;
}

/* Nothing read: no pidfd holds it (it is gone), or it is init or
 * hbwatch, which identity_decide() refuses by name. */
static void build_unpinned(struct identity_facts *f, pid_t pid, pid_t self)
{
	f->pid = pid;
	f->self = self;
	f->gone = identity_pid_ok(pid, self);
	f->unit = NULL;
	f->unit_err = 0;
}

void identity_build(struct identity_facts *f, pid_t pid, pid_t self, bool pinned)
{
	if (identity_pid_ok(pid, self) && pinned)
		identity_gather(f, pid);
	else
		build_unpinned(f, pid, self);
}

void identity_build_pidfd(struct identity_facts *f, pid_t pid, pid_t self, int pidfd)
{
	if (identity_pid_ok(pid, self) && pidfd >= 0)
		identity_gather_pinned(f, pid, pidfd);
	else
		build_unpinned(f, pid, self);
}

enum identity_verdict identity_may_signal(const struct ownership_facts *writer,
					  const struct signal_facts *f, char *why, size_t why_len)
{
	enum identity_verdict v;

	if (!identity_pid_ok(f->pid, f->self)) {
		snprintf(why, why_len, "pid %d is never signalled", (int)f->pid);
		return IDENTITY_UNTRUSTED;
	}
	if (f->gone) {
		snprintf(why, why_len, "no such process");
		return IDENTITY_STALE;
	}
	if (f->recorded && f->start_time != f->recorded) {
		snprintf(why, why_len,
			 "start time differs, the pid belongs to another process now");
		return IDENTITY_STALE;
	}
	v = process_refusal(f->kthread, f->uids_err, why, why_len);
	if (v != IDENTITY_OK)
		return v;
	/* Both writers: either could have aimed the signal. */
	if (!uid_may_signal(writer->cuid, f->ruid, f->suid) ||
	    !uid_may_signal(writer->uid, f->ruid, f->suid)) {
		snprintf(why, why_len,
			 "it runs as uid %u (saved uid %u), which uid %u could not signal itself",
			 (unsigned)f->ruid, (unsigned)f->suid,
			 (unsigned)(uid_may_signal(writer->cuid, f->ruid, f->suid) ? writer->uid
										   : writer->cuid));
		return IDENTITY_UNTRUSTED;
	}
	snprintf(why, why_len, "ok");
	return IDENTITY_OK;
}

void identity_gather_signal(struct signal_facts *f, pid_t pid)
{
	struct proc_stat st;

	f->pid = pid;
	f->self = getpid();
	f->gone = false;
	if (process_read(pid, -1, &st, &f->uids_err, &f->ruid, &f->suid) < 0) {
		f->gone = true;
		return;
	}
	f->start_time = st.start_time;
	f->kthread = st.kthread;
	if (f->uids_err == -ESRCH)
		f->gone = true;
}
