/* Attacks on the registry, the one segment others may write or take: a
 * user squatting hbwatch's key before it starts, the registry removed from
 * under the running daemon, and a group member moving the daemon's
 * doorbell wait onto another futex word (FUTEX_CMP_REQUEUE) before a stop,
 * or keeping the header's "awake" set so that no client wakes hbwatch.
 * Event kinds on stderr stand for MESSAGE_IDs (see test_trust.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "util.h"

TestSuite(registry, .init = adv_init, .fini = adv_fini, .timeout = 90);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

#define BASE_CONF "kill_grace = 300ms\n[slow]\ntimeout = 1h\n[hung]\ntimeout = 1s\n"

/* A group member takes hbwatch's key first, mode 0666, once with garbage
 * and once with a registry header that looks just like hbwatch's.
 * hbwatch refuses to start (exit 1) naming the creator, adopts nothing
 * and changes nothing: not a byte, not the owner, mode or group, and it
 * makes no semaphore.  Once the squatter's segment is gone it starts. */
Test(registry, squatted_key_is_never_adopted)
{
	adv_need_uids();
	adv_config(BASE_CONF);
	for (int header = 0; header < 2; header++) {
		struct shmid_ds before, after;
		char out[128], err[4096], want[160];
		size_t size = registry_size(HB_RING_MIN);
		int st = adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, out, sizeof(out), NULL, 0,
				    "$HBFORGE", "--squat", "576", "--mode", "0666",
				    header ? "--squat-header" : NULL, NULL);
		cr_assert_eq(size, 576u);
		cr_assert_eq(tu_exit_code(st), 0, "squatting failed (0x%x)", (unsigned)st);
		int id = adv_shmid_in(out);
		cr_assert_geq(id, 0);
		unsigned char *mem = shmat(id, NULL, SHM_RDONLY), copy[576];
		cr_assert(mem != (void *)-1);
		memcpy(copy, mem, size);
		cr_assert_eq(shmctl(id, IPC_STAT, &before), 0);

		st = hbd_run(NULL, 0, err, sizeof(err), "-c", H.conf, NULL);
		cr_assert_eq(tu_exit_code(st), 1, "hbwatch started on a squatted key (0x%x): %s",
			     (unsigned)st, err);
		snprintf(want, sizeof(want), "was created by uid %u, pid ", ADV_ATTACKER_UID);
		cr_assert(strstr(err, want), "the error does not name the creator: %s", err);
		cr_assert(strstr(err, ": registry: "), "not a registry event: %s", err);
		cr_assert(strstr(err, "never adopts"), "%s", err);
		cr_assert_eq(memcmp(copy, mem, size), 0, "the squatted segment was written");
		cr_assert_eq(shmctl(id, IPC_STAT, &after), 0);
		cr_assert_eq(after.shm_perm.uid, ADV_ATTACKER_UID);
		cr_assert_eq(after.shm_perm.gid, before.shm_perm.gid);
		cr_assert_eq(after.shm_perm.mode & 0777, 0666u);
		cr_assert_eq(after.shm_nattch, 1u, "someone else attached it"); /* ours */
		cr_assert(semget(H.key, 0, 0) < 0 && errno == ENOENT, "a semaphore appeared");
		shmdt(mem);
		cr_assert_eq(shmctl(id, IPC_RMID, NULL), 0);
	}
	hbd_start();
	adv_still_kills("hung");
}

/* Root removes the registry from under the running daemon (hbctl remove).
 * hbwatch says so (event registry) and makes a new one; what it watched
 * stays watched (a registration made before, hanging after, is killed)
 * and new clients can register again within about 2 s. */
Test(registry, removed_from_under_the_daemon)
{
	char out[256], err[512];

	adv_config(BASE_CONF);
	hbd_start();
	/* Registered now, hangs once the registry is gone. */
	pid_t before = hbd_worker("hung", 1000, "--beat-ms", "50", "--hang-after-ms", "1500", NULL);
	int old = shmget(H.key, 0, 0);
	cr_assert_geq(old, 0);
	char *argv[] = {(char *)tu_prog("HBCTL"), "remove", NULL};
	int st = tu_run(argv, out, sizeof(out), err, sizeof(err), 10000);
	uint64_t t0 = hbd_now_ns();
	cr_assert_eq(tu_exit_code(st), 0, "hbctl remove: %s", err);

	/* A new registry at the key, ready for clients. */
	int id = -1;
	struct hb_registry reg;
	while (hbd_now_ns() - t0 < 5000000000u) {
		id = shmget(H.key, 0, 0);
		if (id >= 0 && registry_attach(H.key, false, &reg, NULL, 0) == 0) {
			registry_detach(&reg);
			break;
		}
		id = -1;
		hbd_sleep_ms(10);
	}
	uint64_t back_ms = (hbd_now_ns() - t0) / 1000000u;
	hbd_figure("registry removed: a new one was there %llu ms later",
		   (unsigned long long)back_ms);
	cr_assert_geq(id, 0, "no new registry within 5 s");
	cr_assert_neq(id, old);
	cr_assert_lt(back_ms, 2500, "the registry came back only after %llu ms",
		     (unsigned long long)back_ms);
	cr_assert(hbd_log_wait("registry", 0, "was removed from under hbwatch", 1000));
	cr_assert(hbd_log_wait("registry", 0, "made a new registry", 1000));
	struct shmid_ds ds;
	cr_assert_eq(shmctl(id, IPC_STAT, &ds), 0);
	/* The configured group (empty, hence ours, in a user namespace). */
	cr_assert_eq(ds.shm_perm.gid, adv_group(), "the new registry is not the group's");
	cr_assert_eq(ds.shm_perm.mode & 0777, 0664u);

	adv_assert_killed(before, 10000);
	adv_still_kills("hung");
}

/* A group member keeps moving whoever waits on the doorbell onto another
 * futex word (FUTEX_CMP_REQUEUE).  New registrations are still found
 * (the loop reads the ring on its own timer) and a hung one is killed;
 * SIGTERM then stops hbwatch within a few seconds (the doorbell thread
 * waits 500 ms at most and is joined with a timeout). */
Test(registry, requeued_doorbell_then_sigterm)
{
	char out[128];

	adv_need_uids();
	adv_config(BASE_CONF);
	hbd_start();
	int st = adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, out, sizeof(out), NULL, 0, "$HBFORGE",
			    "--requeue-for-ms", "2000", NULL);
	cr_assert_eq(tu_exit_code(st), 0);
	long moved = -1;
	cr_assert_eq(sscanf(out, "requeued %ld", &moved), 1, "hbforge said '%s'", out);
	hbd_figure("requeue: %ld waits of the doorbell thread moved in 2 s", moved);
	cr_assert_gt(moved, 0, "the doorbell thread was never requeued: the test proves nothing");

	/* Again, in the background, for longer than everything below. */
	adv_start_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, NULL, 0, "$HBFORGE", "--requeue-for-ms",
		     "30000", NULL);
	hbd_sleep_ms(300);
	pid_t w = hbd_worker("hung", 500, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	adv_assert_killed(w, 10000);
	uint64_t t0 = hbd_now_ns();
	st = hbd_stop();
	uint64_t stop_ms = (hbd_now_ns() - t0) / 1000000u;
	hbd_figure("requeue: hbwatch stopped %llu ms after SIGTERM", (unsigned long long)stop_ms);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hbwatch ended 0x%x", (unsigned)st);
	cr_assert_lt(stop_ms, 5000, "stopping took %llu ms", (unsigned long long)stop_ms);
	/* The registry stayed; the next hbwatch takes it back, requeuer or not. */
	hbd_start();
	adv_still_kills("hung");
}

/* A group member keeps the registry's "awake" set, so clients skip the
 * futex wake: hbwatch's doorbell thread never waits longer than 500 ms,
 * so new registrations are still taken up within about that, and a hung
 * one is killed. */
Test(registry, forged_awake_delays_by_at_most_the_bounded_wait)
{
	adv_need_uids();
	adv_config(BASE_CONF);
	hbd_start();
	adv_start_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, NULL, 0, "$HBFORGE", "--awake-for-ms",
		     "20000", NULL);
	hbd_sleep_ms(300);
	uint64_t t0 = hbd_now_ns();
	pid_t s = hbd_worker("slow", 60000, "--beat-ms", "1000", NULL);
	cr_assert(hbd_wait_status("Watching 1 process", 5000), "STATUS: %s", H.status);
	uint64_t seen_ms = (hbd_now_ns() - t0) / 1000000u;
	hbd_figure("awake forged: a registration watched %llu ms after it was made",
		   (unsigned long long)seen_ms);
	cr_assert_lt(seen_ms, 2000, "taken up only after %llu ms", (unsigned long long)seen_ms);
	pid_t w = hbd_worker("hung", 500, "--beat-ms", "50", "--hang-after-ms", "100", NULL);
	adv_assert_killed(w, 10000);
	cr_assert(hbd_alive(s));
}

/* A group member may write the whole registry, header included, and
 * overwrites its magic.  Registering is an announcement, a hint: new
 * clients get through again within a second (hbwatch puts its header
 * back), and hbwatch starts again on a registry of its own that a group
 * member spoilt (it recognises its own segment by owner, size and mode,
 * and repairs the header rather than refuse it for good). */
Test(registry, header_smashed_by_group_member)
{
	struct hb_registry reg;
	int r = -1;

	adv_need_uids();
	adv_config(BASE_CONF);
	hbd_start();
	int st = adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, NULL, 0, NULL, 0, "$HBFORGE",
			    "--smash-header", NULL);
	cr_assert_eq(tu_exit_code(st), 0);
	uint64_t t0 = hbd_now_ns();
	while (hbd_now_ns() - t0 < 5000000000u) {
		r = registry_attach(H.key, false, &reg, NULL, 0);
		if (r == 0) {
			registry_detach(&reg);
			break;
		}
		hbd_sleep_ms(20);
	}
	cr_assert_eq(r, 0, "clients still cannot register 5 s later: %s", strerror(-r));
	adv_still_kills("hung");
	hbd_stop();
	hbd_start();
	adv_still_kills("hung");
}
