/* The daemon's view of its registrations, for hbctl: a System V segment
 * that hbwatch alone writes (created by the daemon), whose shmid it
 * publishes in the registry header.  Mode 0640, in the registry's group:
 * it tells how hung processes of every uid hung (wchan, CPU, thread
 * states), which /proc hides from other users, so only root and hbwatch's
 * group may read it; the kernel enforces that, not hbctl (hbctl(1)).
 * Each entry says what hbwatch does with one heartbeat record: the
 * effective timeout (the section's cap applied) and its state, with the
 * reason when it is not watched.
 *
 * The registry is writable by its group, so the shmid found there is a
 * hint: a reader trusts the segment only if the kernel says it was created
 * by the registry's owner pid and is owned and only writable by the
 * registry's owner (status_attach() checks). */
#ifndef HBWATCH_STATUS_H
#define HBWATCH_STATUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "registry.h"

#define HB_STATUS_MAGIC	  UINT64_C(0x3130415453574248) /* "HBWSTA01", little endian */
#define HB_STATUS_VERSION 2u
#define HB_STATUS_REASON  88
#define HB_STATUS_MODE	  0640

enum hb_status_state {
	HB_STATUS_OK = 1,	/* watched, deadline enforced */
	HB_STATUS_ACTED,	/* signalled or restarted; waiting for it to go */
	HB_STATUS_LOGGED,	/* deadline missed, only logged (action=log) */
	HB_STATUS_RATE_LIMITED, /* deadline missed, held back by kill_burst */
	HB_STATUS_REFUSED,	/* not watched: no such service, or against its section */
	HB_STATUS_UNKILLABLE,	/* still there kill_grace after SIGKILL */
	HB_STATUS_DEFERRED,	/* deadline missed while starved: waits starve_grace (reason) */
	HB_STATUS_FROZEN,	/* deadline missed while its cgroup is frozen: left alone */
	HB_STATUS_DEBUGGED,	/* deadline missed while a tracer holds it: left alone */
	HB_STATUS_DUMPING,	/* signalled, writing its core: SIGKILL waits (dump_max) */
};

struct hb_status_header {
	uint64_t magic;
	uint32_t version;
	uint32_t entry_size;
	uint32_t capacity;
	_Atomic uint32_t seq;	/* odd while the daemon rewrites the entries */
	_Atomic uint32_t count; /* entries in use */
	int32_t daemon_pid;
	_Atomic uint64_t written_ns; /* CLOCK_MONOTONIC of the last rewrite */
	uint8_t reserved[64 - 40];
};

/* What hbwatch saw of a process at its missed deadline (or, unkillable,
 * at its last look): see hbwatch(8), JOURNAL FIELDS.  words[0] == 0: none. */
struct hb_status_triage {
	uint64_t cpu_usec; /* CPU used since the sample near its last beat; UINT64_MAX: unknown */
	uint64_t window_usec; /* over how long */
	uint32_t threads;
	char state[44]; /* HBWATCH_PROC_STATE, cut to fit */
	char wchan[56]; /* HBWATCH_WCHAN, cut to fit */
	char words[72]; /* what MESSAGE says of it, cut to fit */
};

struct hb_status_entry {
	int32_t shmid;			/* the heartbeat record */
	int32_t pid;			/* its process, in the daemon's PID namespace */
	uint32_t state;			/* enum hb_status_state */
	uint32_t seq;			/* the registration judged: the record's seq then */
	uint64_t timeout_ns;		/* effective: the section's cap applied; 0 if refused */
	uint64_t since_ns;		/* CLOCK_MONOTONIC when it entered STATE (acted, limited) */
	char reason[HB_STATUS_REASON];	/* why, for REFUSED; NUL-terminated */
	uint64_t cap_ns;		/* the section's timeout cap, for tasks too; 0: none */
	uint64_t extend_max_ns;		/* its extend_max=; UINT64_MAX: 10 x each timeout */
	int32_t missed_task;		/* ACTED/LOGGED for this task slot; -1: the process */
	uint32_t missed_gen;		/* ... and generation */
	struct hb_status_triage triage; /* missed a deadline: why it hung */
};

_Static_assert(sizeof(struct hb_status_header) == 64, "status header layout");
_Static_assert(sizeof(struct hb_status_triage) == 192, "status triage layout");
_Static_assert(sizeof(struct hb_status_entry) == 336, "status entry layout");

/* A status segment being written (daemon) or read (hbctl). */
struct hb_status {
	int shmid;
	struct hb_status_header *hdr;
	struct hb_status_entry *e;
	uint32_t capacity;
};

/* Create a status segment for CAPACITY entries, mode HB_STATUS_MODE, in
 * group GID ((gid_t)-1: ours).  Returns 0 or -errno. */
int status_create(uint32_t capacity, gid_t gid, struct hb_status *s);

/* Remove and detach S.  Safe on a zeroed S. */
void status_destroy(struct hb_status *s);

/* Begin and end a rewrite (the seqlock). */
void status_write_begin(struct hb_status *s);
void status_write_end(struct hb_status *s, uint32_t count, uint64_t now);

/* Attach, read-only, the status segment REG points at, if it is the
 * daemon's own (see above).  Returns 0, -ENOENT (none published), -EPERM
 * (not the daemon's: ignored) or another -errno. */
int status_attach(const struct hb_registry *reg, struct hb_status *s);

/* Detach.  Safe on a zeroed S. */
void status_detach(struct hb_status *s);

/* Copy the entries (at most MAX) consistently into OUT.  Returns the
 * number copied, or -EAGAIN if the daemon kept rewriting them. */
int status_read(const struct hb_status *s, struct hb_status_entry *out, uint32_t max);

/* Find the entry of record SHMID consistently, into *OUT.  Returns 0,
 * -ENOENT (no entry: not taken up yet), or -EAGAIN (being rewritten). */
int status_find(const struct hb_status *s, int shmid, struct hb_status_entry *out);

/* hbwatch's state of record SHMID, registration SEQ (the record's seq after
 * its owner wrote it), as the daemon at KEY publishes it: an HB_STATUS_*
 * value, 0 if it has not judged that registration (yet), or -errno
 * (-ENOENT no registry or no verdicts published). */
int status_of_record(int key, int shmid, uint32_t seq);

/* "ok", "acted-on", "logged", "rate-limited", "refused", "unkillable",
 * "deferred", "frozen", "debugged", "dumping". */
const char *status_state_name(uint32_t state);

#endif
