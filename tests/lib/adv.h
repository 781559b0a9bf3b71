/* Shared by the adversarial tests: the fixture, a configuration whose
 * registry belongs to a group other uids can join, running programs as
 * real other uids (setpriv), and the assertions every attack ends with.
 *
 * The uids and the group need no accounts: ADV_VICTIM_UID owns processes
 * an attacker must not reach, ADV_ATTACKER_UID is a member of ADV_GROUP
 * (the registry's group, so it may scribble on the registry) and owns
 * nothing but what it makes, and ADV_OUTSIDER_UID is in no group at all
 * (it can still make records, which the census finds).  A program run
 * through setpriv keeps setpriv's pid. */
#ifndef HBWATCH_ADV_H
#define HBWATCH_ADV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define ADV_VICTIM_UID	 3001u
#define ADV_ATTACKER_UID 3002u
#define ADV_OUTSIDER_UID 3003u /* in no group at all */
#define ADV_GROUP	 4242u
#define ADV_NO_GROUP	 TU_NO_GROUP

/* Fixtures: the harness's, plus removal of every segment the test uids
 * created and of the classic table at adv_legacy_key(). */
void adv_init(void);
void adv_fini(void);

/* Write H.conf as hbd_config() does, but with group = ADV_GROUP, so that
 * group members may announce (and scribble on the registry). */
void adv_config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The group adv_config() gives the registry: ADV_GROUP with real other
 * ids, else (a user namespace) our own gid. */
gid_t adv_group(void);

/* Skip the test unless setpriv can take real other uids (real root; not
 * inside a user namespace that maps only root). */
void adv_need_uids(void);

/* The start of most attacks: adv_need_uids(), adv_config("%s", CONF),
 * hbd_start(). */
void adv_start(const char *conf);

/* A key for this test's classic table, removed by adv_fini(). */
int adv_legacy_key(void);

/* A CLOCK_MONOTONIC beat well in the past: any deadline is missed. */
uint64_t adv_long_ago(void);

/* Fork a child (tracked by the harness) that sleeps as uid/gid UID, or
 * as ours if UID is (uid_t)-1; in its own process group if PGRP; with
 * signal IGNORE ignored if > 0 (every other signal at its default). */
pid_t adv_sleeper_as(uid_t uid, bool pgrp, int ignore);

/* Run PROG (a path, or $VAR if it starts with '$') with the NULL-terminated
 * arguments as UID (groups: GID, or none if ADV_NO_GROUP) through setpriv
 * (or as ourselves, directly, if UID is (uid_t)-1), to completion within
 * 60 s.  OUT and ERR (may be NULL) get its output.
 * Returns the wait status. */
int adv_run_as(uid_t uid, gid_t gid, char *out, size_t out_len, char *err, size_t err_len,
	       const char *prog, ...) __attribute__((sentinel));

/* Start PROG as UID (as above), tracked by the harness.  WAIT_FOR: its
 * stdout is read until a line that starts with WAIT_FOR ("ready", ...),
 * within 10 s, and copied into OUT (may be NULL); PROG must write nothing
 * after that line.  WAIT_FOR NULL: its stdout goes to the workers' log and
 * nothing is awaited.  Returns its pid. */
pid_t adv_start_as(uid_t uid, gid_t gid, const char *wait_for, char *out, size_t out_len,
		   const char *prog, ...) __attribute__((sentinel));

/* hbworker as UID (groups GID) registered as NAME with TIMEOUT_MS and
 * the extra arguments; waits for its registration.  Returns its pid. */
pid_t adv_worker_as(uid_t uid, gid_t gid, const char *name, unsigned timeout_ms, ...)
    __attribute__((sentinel));

/* The first "shmid N" in OUT, or -1. */
int adv_shmid_in(const char *out);

/* PID (a child) must be killed by hbwatch within MS: it ends on a signal
 * and the log has a signal-sent record for it. */
void adv_assert_killed(pid_t pid, int ms);

/* The closing check of every attack: hbwatch is alive and still kills a
 * real hung worker (registered as NAME, which the configuration watches
 * with a timeout of at most 1 s). */
void adv_still_kills(const char *name);

/* Lines in the daemon's log so far. */
int adv_log_lines(void);

/* CPU time (user + system) PID has used, in milliseconds. */
uint64_t adv_cpu_ms(pid_t pid);

/* Heartbeat-record-sized segments created by UID. */
int adv_segments_of(uid_t uid);

#endif
