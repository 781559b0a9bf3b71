/* One hbwatch per key.  The running daemon holds the owner's lock, a
 * semaphore at its key that the kernel releases when it dies: a second
 * hbwatch on the same key refuses to start and says who runs and how to
 * run a private one, leaving the first one's registry alone; a restart
 * after the owner died takes over at once; a semaphore at the key that
 * another user made, or that others may operate, is refused.  hbctl names
 * the live owner, read as the uid in no group. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "registry.h"
#include "util.h"

TestSuite(owner, .init = adv_init, .fini = adv_fini, .timeout = 90);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

#define BASE_CONF "kill_grace = 300ms\n[slow]\ntimeout = 1h\n[hung]\ntimeout = 1s\n"

static int32_t header_owner(void)
{
	struct hb_registry_header h;

	hbd_registry_header(&h);
	return atomic_load(&h.owner_pid);
}

/* hbctl status --json as the uid in no group, and hbctl check NAME as a
 * member of hbwatch's group (as a monitoring agent runs: the uid in no
 * group sees no other uid's registration, hbctl(1)), name OWNER as
 * hbwatch, running. */
static void hbctl_names(pid_t owner, const char *name)
{
	char out[8192], err[1024], want[64];
	int st = adv_run_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, out, sizeof(out), err, sizeof(err),
			    "$HBCTL", "status", "--json", NULL);

	cr_assert_eq(tu_exit_code(st), 0, "hbctl status: 0x%x: %s", (unsigned)st, err);
	snprintf(want, sizeof(want), "\"owner_pid\":%d,\"owner_alive\":true", (int)owner);
	cr_assert(strstr(out, want), "hbctl status does not say '%s': %s", want, out);
	st = adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, out, sizeof(out), err, sizeof(err), "$HBCTL",
			"check", name, NULL);
	cr_assert_eq(tu_exit_code(st), 0, "hbctl check %s: %s%s", name, out, err);
	cr_assert(strstr(out, "HBWATCH OK"), "hbctl check %s: %s", name, out);
}

/* A second hbwatch on a running one's key (say, 'hbwatch -c test.ini' on
 * a host whose hbwatch.service runs) exits 1 at once, naming the running
 * one and how to run a private one; the first keeps its registry, hbctl
 * names it, new clients register, and it still kills a real hang. */
Test(owner, second_daemon_refused)
{
	char out[512], err[2048], want[96];

	adv_start(BASE_CONF);
	pid_t first = H.daemon;
	pid_t w = hbd_worker("slow", 3600000, "--beat-ms", "100", NULL);

	int st = hbd_run(out, sizeof(out), err, sizeof(err), "-c", H.conf, NULL);
	cr_assert_eq(tu_exit_code(st), 1, "a second hbwatch: status 0x%x: %s", (unsigned)st, err);
	snprintf(want, sizeof(want), "hbwatch (pid %d) already runs on key 0x%x", (int)first,
		 (unsigned)H.key);
	cr_assert(strstr(err, want), "the refusal does not say '%s': %s", want, err);
	cr_assert(strstr(err, "HBWATCH_KEY") && strstr(err, "unshare --ipc"),
		  "the refusal does not say how to run a private one: %s", err);
	cr_assert(hbd_alive(first), "the first hbwatch died");
	cr_assert_eq(header_owner(), first, "the second hbwatch took over the registry");
	hbctl_names(first, "slow");
	/* A new client registers with the first one. */
	pid_t w2 = hbd_worker("slow", 3600000, "--beat-ms", "100", NULL);
	cr_assert(hbd_alive(w) && hbd_alive(w2));
	adv_still_kills("hung");
}

/* A restart after the owner died, however it died (here SIGKILL, with no
 * chance to clean up), takes over at once: the kernel released its lock. */
Test(owner, takeover_from_dead_owner)
{
	adv_start(BASE_CONF);
	pid_t first = H.daemon;
	pid_t w = hbd_worker("slow", 3600000, "--beat-ms", "100", NULL);
	int st;

	hbd_kill(first, SIGKILL);
	cr_assert(hbd_wait_exit(first, 5000, &st));
	H.daemon = 0;
	hbd_start();
	cr_assert_neq(H.daemon, first);
	cr_assert(hbd_log_wait("started", 0, "adopted the registry", 5000));
	cr_assert_eq(header_owner(), H.daemon);
	hbctl_names(H.daemon, "slow");
	cr_assert(hbd_alive(w));
	adv_still_kills("hung");
}

/* The semaphore at the key made beforehand by another user, or by root
 * with a mode that lets others operate it: hbwatch refuses to start,
 * names it and how to remove it, and leaves it be. */
Test(owner, foreign_semaphore_refused)
{
	char out[512], err[2048], want[160];
	struct semid_ds ds;

	adv_need_uids();
	adv_config(BASE_CONF);
	int st = adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, out, sizeof(out), err, sizeof(err),
			    "$HBHOSTILE", "--semaphore", "666", NULL);
	cr_assert_eq(tu_exit_code(st), 0, "hbhostile --semaphore: %s", err);
	int id = semget(H.key, 0, 0);
	cr_assert_geq(id, 0);

	st = hbd_run(out, sizeof(out), err, sizeof(err), "-c", H.conf, NULL);
	cr_assert_eq(tu_exit_code(st), 1, "hbwatch started: 0x%x: %s", (unsigned)st, err);
	snprintf(want, sizeof(want), "the semaphore at key 0x%x was created by uid %u",
		 (unsigned)H.key, ADV_ATTACKER_UID);
	cr_assert(strstr(err, want), "the refusal does not say '%s': %s", want, err);
	cr_assert(strstr(err, "ipcrm -S"), "%s", err);
	cr_assert_eq(semctl(id, 0, IPC_STAT, &ds), 0, "hbwatch removed it");
	cr_assert_eq(semctl(id, 0, IPC_RMID), 0);

	/* Root's own, but anyone may operate it: no lock either. */
	id = semget(H.key, 1, IPC_CREAT | IPC_EXCL | 0666);
	cr_assert_geq(id, 0);
	st = hbd_run(out, sizeof(out), err, sizeof(err), "-c", H.conf, NULL);
	cr_assert_eq(tu_exit_code(st), 1, "hbwatch started: 0x%x: %s", (unsigned)st, err);
	snprintf(want, sizeof(want), "the semaphore at key 0x%x has mode 0666", (unsigned)H.key);
	cr_assert(strstr(err, want), "the refusal does not say '%s': %s", want, err);
	cr_assert_eq(semctl(id, 0, IPC_STAT, &ds), 0, "hbwatch removed it");
	cr_assert_eq(semctl(id, 0, IPC_RMID), 0);

	hbd_start();
	adv_still_kills("hung");
}
