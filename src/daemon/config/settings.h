/* The daemon's configuration: the main INI file, then every *.ini in the
 * hbwatch.d directories, in strcmp() order; a later file overrides an
 * earlier one key by key, a new section in a drop-in adds a service, and
 * 'enabled = no' sets one aside (the way systemd drop-ins work).  Without
 * -c, the files come from layered directories: /etc/hbwatch over
 * /run/hbwatch over /usr/lib/hbwatch (layers.h).  See hbwatch.ini(5).
 *
 * Loading is parse -> validate -> return a whole new struct settings, so a
 * reload that fails leaves the settings in force untouched: load into a
 * fresh struct, then swap.  No global state. */
#ifndef HBWATCH_SETTINGS_H
#define HBWATCH_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "deadline.h"
#include "layers.h"
#include "name.h"

/* How many processes hbwatch watches at once (slots=). */
#define HB_SLOTS_DEFAULT 1024u
#define HB_SLOTS_MAX	 65536u

/* starve_grace unset: as long as the heartbeat's own timeout. */
#define HB_GRACE_AUTO UINT64_MAX

/* The main file's name in each configuration directory. */
#define SETTINGS_MAIN_FILE "hbwatch.ini"

enum action {
	ACTION_KILL,	     /* send the service's signal, SIGKILL after kill_grace */
	ACTION_RESTART_UNIT, /* ask systemd to restart the process's unit */
	ACTION_LOG,	     /* only warn */
};

/* What happens to a hung process once its unit instance has used up
 * kill_burst: wait for the window to reopen, or hand the unit to systemd,
 * whose Restart=, StartLimitBurst=, OnFailure= and 'systemctl --failed'
 * then see what is wrong (hbwatch.ini(5), limit_action). */
enum limit_action {
	LIMIT_WAIT,	    /* act again when kill_interval allows (default) */
	LIMIT_KILL_UNIT,    /* send the service's signal to every process of the unit */
	LIMIT_RESTART_UNIT, /* ask systemd to restart the unit */
};

/* One watched service: a section other than [hbwatch]. */
struct service {
	char name[HB_NAME_SIZE]; /* the heartbeat name processes register under */
	char *unit;		 /* fnmatch(3) pattern of the unit, or NULL: not checked */
	char *user;		 /* as written (name or uid), or NULL: any user */
	bool has_user;		 /* uid is meaningful */
	uid_t uid;
	uint64_t timeout_ns; /* cap on the client's timeout; 0: no cap */
	enum action action;
	char *action_file; /* where action was last set, or NULL */
	unsigned action_line;
	int signal;
	unsigned kill_burst;	   /* at most kill_burst kills ... */
	uint64_t kill_interval_ns; /* ... per kill_interval (rate limit) */
	bool kill_group;	   /* signal the process's whole process group */
	enum limit_action limit_action;
	char *limit_file; /* where limit_action was last set, or NULL */
	unsigned limit_line;
	bool enabled;	    /* enabled = (default yes) */
	char *enabled_file; /* where 'enabled' was last set, or NULL */
	unsigned enabled_line;
	uint64_t extend_max_ns;	  /* how far past the last beat an extension reaches;
				   * 0: extensions ignored; HB_EXTEND_AUTO: 10 x timeout */
	uint64_t starve_grace_ns; /* how long a starved late process is deferred;
				   * 0: never; HB_GRACE_AUTO: 1 x its timeout */
	bool debugged_kill;	  /* debugged = kill: a debugged process is acted on */
	unsigned warn_at_pct;	  /* warn_at=: deadline-near at this % of the timeout; 0: off */
	char *file;		  /* where the section was first seen */
	unsigned line;
	bool no_unit; /* unit = none: knowingly no unit, not warned about */
};

/* Where a value was set, for --check-config --show: the last setting of
 * KEY in SECTION ("hbwatch", "legacy" or a service's name) wins. */
struct setting_origin {
	char section[HB_NAME_SIZE];
	const char *key; /* static */
	char *file;
	unsigned line;
};

struct settings {
	char *path;		    /* the main file, as given or as found */
	struct layer_files sources; /* every file read, the main one first */
	int key;
	uint32_t slots;
	/* uid_share=: a count, or a percentage of slots; both 0: the default */
	uint32_t uid_share, uid_share_pct;
	char *group;  /* as written (name or gid); "" keeps the daemon's group */
	bool has_gid; /* gid is meaningful */
	gid_t gid;
	uint64_t kill_grace_ns;
	uint64_t dump_max_ns;	     /* how long SIGKILL waits for a core dump in progress */
	int deadline_priority;	     /* SCHED_RR priority of deadline work (lift.h); 0: off */
	uint64_t deadline_budget_ns; /* the most CPU time it may take lifted in a second */
	char *metrics_dir;	     /* node_exporter textfile directory, or NULL: none */
	bool legacy;		     /* watch a classic CPActive table ([legacy], enabled) */
	int legacy_key;		     /* its System V key */
	bool legacy_shared;	     /* watch it even if others may write it */
	struct service *services;    /* enabled, in order of first appearance */
	size_t n_services;
	struct service *disabled; /* enabled = no: not watched */
	size_t n_disabled;
	struct setting_origin *origins; /* where each value in force was set */
	size_t n_origins;
};

/* Where KEY of SECTION was last set, or NULL: its default. */
const struct setting_origin *settings_origin(const struct settings *s, const char *section,
					     const char *key);

/* Load PATH and its drop-ins into *S (its previous contents are ignored,
 * not freed).  Groups and users are resolved now.  Returns 0; -EINVAL for
 * a configuration error, with ERR set to "FILE:LINE: message", one line
 * per mistake in the order found ("FILE: message" when no line applies); -ENOMEM; or another -errno
 * for an I/O or name-service error, with ERR "FILE: strerror" or
 * "FILE:LINE: message".  On failure *S is zeroed and owns nothing.
 * ERR may be NULL when ERR_LEN is 0. */
int settings_load(const char *path, struct settings *s, char *err, size_t err_len);

/* The same for the layered directories DIRS[0..N_DIRS), highest priority
 * first (layers.h): an error if none of them has hbwatch.ini. */
int settings_load_dirs(const char *const *dirs, size_t n_dirs, struct settings *s, char *err,
		       size_t err_len);

/* Free what *S owns and zero it.  Safe on a zeroed or failed-to-load *S. */
void settings_finish(struct settings *s);

/* The service whose section is NAME, or NULL.  Valid until S is freed. */
const struct service *settings_find(const struct settings *s, const char *name);

/* The disabled section NAME (enabled = no), or NULL: for messages only. */
const struct service *settings_find_disabled(const struct settings *s, const char *name);

/* "kill", "restart-unit" or "log" (the configuration spelling); "?" for a
 * value outside the enum. */
const char *action_name(enum action a);

/* "wait", "kill-unit" or "restart-unit"; "?" for a value outside the enum. */
const char *limit_action_name(enum limit_action a);

#endif
