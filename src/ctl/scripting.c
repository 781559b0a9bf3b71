/* hbctl register | beat | unregister: heartbeats for shell scripts.  The
 * registration names a process (by default hbctl's parent, the shell that
 * ran it) and records that process's start time, so a later process that
 * reuses the pid is never taken for it: beat and unregister act only on
 * the record whose pid and start time both match.  The record is the
 * caller's own (its creator is the caller's uid), and hbctl makes one only
 * for a process the caller could signal itself. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "duration.h"
#include "proc.h"
#include <sys/pidfd.h>
#include <sys/shm.h>

#include "census.h"
#include "clock.h"
#include "record.h"
#include "registry.h"
#include "status.h"
#include "timens.h"

struct script_args {
	const char *name;
	const char *timeout;
	const char *wait; /* --wait DURATION: until hbwatch takes it up */
	pid_t pid;
};

int ctl_parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	/* pid 1 (init) is never a target, so never a registration either. */
	if (errno || *end || v < 2 || v > INT_MAX)
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

/* "--opt VALUE" or "--opt=VALUE": the value, or NULL if ARGV[*I] is not OPT. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

/* Parse ARGV; NAME and TIMEOUT are accepted only when WANT_REG. */
static int args_parse(int argc, char **argv, bool want_reg, struct script_args *a)
{
	a->pid = getppid();
	for (int i = 1; i < argc; i++) {
		bool missing = false;
		const char *v;

		if (want_reg && (v = opt_value(argc, argv, &i, "--name", &missing))) {
			a->name = v;
		} else if (want_reg && (v = opt_value(argc, argv, &i, "--timeout", &missing))) {
			a->timeout = v;
		} else if (want_reg && (v = opt_value(argc, argv, &i, "--wait", &missing))) {
			a->wait = v;
		} else if ((v = opt_value(argc, argv, &i, "--pid", &missing))) {
			if (ctl_parse_pid(v, &a->pid) < 0) {
				ctl_error("%s: bad pid '%s': expected a number from 2 up", argv[0],
					  v);
				return -EINVAL;
			}
		} else {
			if (missing)
				ctl_error("%s: option '%s' needs a value", argv[0], argv[i]);
			else
				ctl_error("%s: unknown argument '%s' (try 'hbctl --help')", argv[0],
					  argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* The start time of PID, and proof that we could signal it ourselves:
 * hbctl registers only processes its caller could kill(2) anyway, which is
 * also all that hbwatch will act on (the pidfd's signal 0 asks the kernel
 * exactly that, and cannot hit a later process that reused the pid).
 * Prints the error. */
static int target_open(const char *cmd, pid_t pid, uint64_t *start_time)
{
	int fd, r;

	fd = pidfd_open(pid, 0);
	if (fd < 0) {
		ctl_error("%s: pid %d: %s", cmd, (int)pid,
			  errno == ESRCH ? "no such process" : strerror(errno));
		return -errno;
	}
	r = proc_starttime(pid, start_time);
	if (r == 0 && pidfd_send_signal(fd, 0, NULL, 0) < 0)
		r = -errno;
	close(fd);
	if (r == -EPERM)
		ctl_error("%s: you may not signal pid %d, so you may not %s it: hbctl acts only "
			  "for processes its caller could kill itself",
			  cmd, (int)pid, strcmp(cmd, "beat") == 0 ? "beat for" : cmd);
	else if (r < 0)
		ctl_error("%s: pid %d: %s", cmd, (int)pid,
			  r == -ESRCH ? "no such process" : strerror(-r));
	return r;
}

/* Our own record for the process PID with START_TIME: one that names it,
 * that we created, and that still carries only our word. */
struct find {
	pid_t pid;
	uint64_t start_time;
	bool open_only;
	int shmid;
};

static int find_one(int shmid, const struct shmid_ds *ds, void *userdata)
{
	struct find *f = userdata;
	struct census_entry e;

	if (ds->shm_perm.cuid != geteuid() || census_inspect(shmid, ds, &e) < 0 || e.busy)
		return 0;
	if ((e.v.flags & HB_RECORD_SELF) || e.v.pid != f->pid || e.v.start_time != f->start_time)
		return 0;
	if (f->open_only && e.v.state != HB_RECORD_OPEN)
		return 0;
	f->shmid = shmid;
	return 1;
}

static int find_record(pid_t pid, uint64_t start_time, bool open_only)
{
	struct find f = {
	    .pid = pid, .start_time = start_time, .open_only = open_only, .shmid = -ENOENT};
	int r = census_each(find_one, &f);

	return r < 0 ? r : f.shmid;
}

static void announce(const struct ctl *ctl, int shmid)
{
	struct hb_registry reg;

	if (registry_attach(ctl->key, false, &reg, NULL, 0) == 0) {
		registry_announce(&reg, shmid);
		registry_detach(&reg);
	}
}

/* --wait: until hbwatch's published verdicts list the record, as
 * hb_register_wait() does.  The registration stays whatever happens. */
static int wait_taken_up(const struct ctl *ctl, int shmid, uint32_t seq, pid_t pid,
			 uint64_t wait_ns)
{
	uint64_t deadline = now_ns() + wait_ns;

	for (;;) {
		int r = status_of_record(ctl->key, shmid, seq);

		if (r == HB_STATUS_REFUSED) {
			ctl_error("register: hbwatch does not watch pid %d (see 'hbctl status' and "
				  "its journal for why); the registration stays",
				  (int)pid);
			return CTL_EXIT_FAIL;
		}
		if (r > 0)
			return CTL_EXIT_OK;
		if (now_ns() >= deadline) {
			ctl_error("register: hbwatch has not taken pid %d up yet; the registration "
				  "stays",
				  (int)pid);
			return CTL_EXIT_FAIL;
		}
		nanosleep(&(struct timespec){.tv_nsec = 2000000L}, NULL);
	}
}

/* Register's arguments A, checked, and their values *TIMEOUT_NS and
 * *WAIT_NS.  Returns CTL_EXIT_OK, or CTL_EXIT_USAGE (said). */
static int register_values(const struct script_args *a, uint64_t *timeout_ns, uint64_t *wait_ns)
{
	int r;

	if (!a->name || !a->timeout) {
		ctl_error("register: --name and --timeout are required");
		return CTL_EXIT_USAGE;
	}
	if (name_validate(a->name) < 0) {
		ctl_error("register: bad name '%s': use 1 to %d letters, digits and -_.:@", a->name,
			  HB_NAME_MAX);
		return CTL_EXIT_USAGE;
	}
	r = duration_parse(a->timeout, timeout_ns);
	if (r < 0 || *timeout_ns < 1000000u ||
	    *timeout_ns > (uint64_t)HB_TIMEOUT_MAX_MS * 1000000u) {
		ctl_error("register: bad timeout '%s': expected a duration from 1ms to 24h, such "
			  "as 30s or 5min",
			  a->timeout);
		return CTL_EXIT_USAGE;
	}
	if (a->wait && duration_parse(a->wait, wait_ns) < 0) {
		ctl_error("register: bad --wait '%s': expected a duration such as 5s", a->wait);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

/* PID's record (its start time START_TIME), the one it has or a new one
 * REG's group may read, in M and *SHMID.  Returns 0 or -errno (said). */
static int record_for(pid_t pid, uint64_t start_time, const struct hb_registry *reg,
		      struct hb_record_map *m, int *shmid)
{
	int r;

	*shmid = find_record(pid, start_time, false);
	if (*shmid >= 0)
		r = record_attach(*shmid, false, m);
	else if ((r = record_create(pid, start_time, false, &m->rec, shmid)) == 0)
		(void)record_share_group(*shmid, reg->shmid); /* else root's alone */
	if (r < 0) {
		ctl_error("register: cannot make a heartbeat record for pid %d: %s", (int)pid,
			  r == -ENOSPC ? "the host's limit of shared-memory segments "
					 "(kernel.shmmni) is reached"
				       : strerror(-r));
	}
	return r;
}

int cmd_register(const struct ctl *ctl, int argc, char **argv)
{
	struct script_args a = {0};
	struct hb_registry reg;
	struct hb_record_map m = {0};
	uint64_t timeout_ns, start_time = 0, wait_ns = 0;
	int64_t rel;
	uint32_t seq;
	char why[256] = "";
	int r, shmid;

	if (args_parse(argc, argv, true, &a) < 0)
		return CTL_EXIT_USAGE;
	r = register_values(&a, &timeout_ns, &wait_ns);
	if (r != CTL_EXIT_OK)
		return r;
	if (target_open("register", a.pid, &start_time) < 0)
		return CTL_EXIT_FAIL;
	/* hbwatch must be there, and let us announce, before anything is made. */
	r = registry_attach(ctl->key, false, &reg, why, sizeof(why));
	if (r < 0) {
		ctl_error("register: %s", why[0] ? why : strerror(-r));
		return CTL_EXIT_FAIL;
	}
	if (record_for(a.pid, start_time, &reg, &m, &shmid) < 0) {
		registry_detach(&reg);
		return CTL_EXIT_FAIL;
	}
	/* The record keeps to its process's clock, whatever ours (timens.h). */
	if (timens_relative(a.pid, &rel) < 0)
		rel = 0;
	record_set_at(m.rec, HB_RECORD_OPEN, timeout_ns, a.name, timens_now_for(rel));
	seq = atomic_load(&m.rec->seq);
	record_unmap(&m);
	registry_announce(&reg, shmid);
	registry_detach(&reg);
	return a.wait ? wait_taken_up(ctl, shmid, seq, a.pid, wait_ns) : CTL_EXIT_OK;
}

/* beat and unregister: the same look-up, a different action. */
static int by_process(const struct ctl *ctl, int argc, char **argv, bool beat)
{
	struct script_args a = {0};
	struct hb_record_map m;
	struct hb_record_view v = {0};
	uint64_t start_time = 0;
	int r, shmid;

	if (args_parse(argc, argv, false, &a) < 0)
		return CTL_EXIT_USAGE;
	if (target_open(argv[0], a.pid, &start_time) < 0)
		return CTL_EXIT_FAIL;
	shmid = find_record(a.pid, start_time, true);
	if (shmid == -ENOENT) {
		ctl_error("%s: pid %d is not registered (by you)", argv[0], (int)a.pid);
		return CTL_EXIT_FAIL;
	}
	r = shmid < 0 ? shmid : record_attach(shmid, false, &m);
	if (r < 0) {
		ctl_error("%s: pid %d: %s", argv[0], (int)a.pid, strerror(-r));
		return CTL_EXIT_FAIL;
	}
	if (beat) {
		int64_t rel;

		if (timens_relative(a.pid, &rel) < 0)
			rel = 0;
		record_beat(m.rec, timens_now_for(rel));
		record_unmap(&m);
		return CTL_EXIT_OK;
	}
	if (record_read(&m, &v) < 0)
		v.timeout_ns = 0;
	record_set(m.rec, HB_RECORD_CLOSED, v.timeout_ns, v.name_ok ? v.name : NULL);
	record_unmap(&m);
	/* We created it, so we may remove it; hbwatch detaches on the news. */
	shmctl(shmid, IPC_RMID, NULL);
	announce(ctl, shmid);
	return CTL_EXIT_OK;
}
int cmd_beat(const struct ctl *ctl, int argc, char **argv)
{
	return by_process(ctl, argc, argv, true);
}

int cmd_unregister(const struct ctl *ctl, int argc, char **argv)
{
	return by_process(ctl, argc, argv, false);
}
