/* hbctl register | beat | unregister: heartbeats for shell scripts.  The
 * registration names a process (by default hbctl's parent, the shell that
 * ran it) and records that process's start time, so a later process that
 * reuses the pid is never taken for it: beat and unregister act only on
 * the slot whose pid and start time both match. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "duration.h"
#include "proc.h"
#include "table.h"

struct script_args {
	const char *name;
	const char *timeout;
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

/* Attach read-write and read the start time of PID.  Prints the error. */
static int open_for(const struct ctl *ctl, const char *cmd, pid_t pid, struct hb_table *t,
		    uint64_t *start_time)
{
	char why[256] = "";
	int r = proc_starttime(pid, start_time);

	if (r < 0) {
		ctl_error("%s: cannot read the start time of pid %d: %s", cmd, (int)pid,
			  r == -ESRCH ? "no such process" : strerror(-r));
		return r;
	}
	r = table_attach(ctl->key, false, t, why, sizeof(why));
	if (r < 0)
		ctl_error("%s: %s", cmd, why[0] ? why : "cannot attach the heartbeat table");
	return r;
}

int cmd_register(const struct ctl *ctl, int argc, char **argv)
{
	struct script_args a = {0};
	struct hb_table t;
	uint64_t timeout_ns, start_time;
	int r;

	if (args_parse(argc, argv, true, &a) < 0)
		return CTL_EXIT_USAGE;
	if (!a.name || !a.timeout) {
		ctl_error("register: --name and --timeout are required");
		return CTL_EXIT_USAGE;
	}
	if (name_validate(a.name) < 0) {
		ctl_error("register: bad name '%s': use 1 to %d letters, digits and -_.:@", a.name,
			  HB_NAME_MAX);
		return CTL_EXIT_USAGE;
	}
	r = duration_parse(a.timeout, &timeout_ns);
	if (r < 0 || timeout_ns < 1000000u || timeout_ns > (uint64_t)HB_TIMEOUT_MAX_MS * 1000000u) {
		ctl_error("register: bad timeout '%s': expected a duration from 1ms to 24h, such "
			  "as 30s or 5min",
			  a.timeout);
		return CTL_EXIT_USAGE;
	}
	if (open_for(ctl, "register", a.pid, &t, &start_time) < 0)
		return CTL_EXIT_FAIL;
	r = table_register(&t, a.pid, start_time, timeout_ns, a.name, NULL);
	table_detach(&t);
	if (r < 0) {
		ctl_error("register: cannot register pid %d: %s", (int)a.pid,
			  r == -ENOSPC	    ? "the table is full"
			  : r == -ETIMEDOUT ? "the table's lock stayed held for 2 s"
					    : strerror(-r));
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

/* beat and unregister: the same lookup, a different action. */
static int by_process(const struct ctl *ctl, int argc, char **argv, bool beat)
{
	struct script_args a = {0};
	struct hb_table t;
	uint64_t start_time;
	int r;

	if (args_parse(argc, argv, false, &a) < 0)
		return CTL_EXIT_USAGE;
	if (open_for(ctl, argv[0], a.pid, &t, &start_time) < 0)
		return CTL_EXIT_FAIL;
	r = beat ? table_beat_process(&t, a.pid, start_time)
		 : table_unregister_process(&t, a.pid, start_time);
	table_detach(&t);
	if (r == -ENOENT) {
		ctl_error("%s: pid %d is not registered (or hbwatch freed its slot: register "
			  "again)",
			  argv[0], (int)a.pid);
		return CTL_EXIT_FAIL;
	}
	if (r < 0) {
		ctl_error("%s: pid %d: %s", argv[0], (int)a.pid, strerror(-r));
		return CTL_EXIT_FAIL;
	}
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
