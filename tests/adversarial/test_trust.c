/* hbwatch signals a process (or restarts its unit) only on the word of
 * someone who could already signal it with kill(2): root or the process's
 * own uid.  Each case here is an attack by a real other uid (setpriv, no
 * accounts needed): ADV_ATTACKER_UID is a member of the registry's group
 * ADV_GROUP, ADV_VICTIM_UID owns processes it must not reach, and root owns
 * the rest.  Every case asserts that the innocent process lives and was
 * never signalled, that the right event kind was logged, and that hbwatch
 * still kills a real hung worker afterwards.
 *
 * Event kinds on stderr stand for the journal's MESSAGE_IDs: each kind has
 * exactly one (src/daemon/report/event.c), so "untrusted" on a line means
 * MESSAGE_ID=5e0b8ad2... under journald. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "util.h"

TestSuite(trust, .init = adv_init, .fini = adv_fini, .timeout = 90);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* [watched] is what the attacks aim at: its cap makes any forged record
 * late at once.  [hung] is for adv_still_kills(). */
#define BASE_CONF                                                                                  \
	"kill_grace = 300ms\n[watched]\ntimeout = 500ms\n[slow]\ntimeout = 1h\n"                   \
	"[hung]\ntimeout = 1s\n"

static uint64_t registry_tail(void)
{
	struct hb_registry_header h;

	hbd_registry_header(&h);
	return atomic_load(&h.tail);
}

/* A group member runs "hbctl register --pid" on a process it may not
 * signal, root's and another user's: hbctl refuses before it writes
 * anything (no record made, nothing announced) and says why. */
Test(trust, hbctl_register_of_others_process)
{
	adv_start(BASE_CONF);
	pid_t victims[] = {hbd_sleeper(), adv_sleeper_as(ADV_VICTIM_UID, false, 0)};
	uint64_t tail = registry_tail();

	for (int i = 0; i < 2; i++) {
		char pid[16], out[256], err[1024], want[96];
		snprintf(pid, sizeof(pid), "%d", (int)victims[i]);
		int st = adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, out, sizeof(out), err, sizeof(err),
				    "$HBCTL", "register", "--name", "watched", "--timeout", "1ms",
				    "--pid", pid, NULL);
		cr_assert_eq(tu_exit_code(st), 1, "hbctl register --pid %s: status 0x%x: %s", pid,
			     (unsigned)st, err);
		snprintf(want, sizeof(want),
			 "you may not signal pid %d, so you may not register it", (int)victims[i]);
		cr_assert(strstr(err, want), "hbctl's error does not say '%s': %s", want, err);
	}
	cr_assert_eq(adv_segments_of(ADV_ATTACKER_UID), 0, "hbctl made a record anyway");
	cr_assert_eq(registry_tail(), tail, "hbctl announced something anyway");
	for (int i = 0; i < 2; i++)
		hbd_assert_left_alone(victims[i], i == 0 ? 1500 : 0);
	cr_assert_eq(hbd_log_count("deadline-missed", 0, "watched"), 0);
	adv_still_kills("hung");
}

/* The same attacker writes the record itself (hbforge): naming root's
 * process and another user's, kept or handed to root as hbctl's records
 * are.  Its creator could not signal the process: untrusted, once per
 * record (not again at each census), left in place as evidence. */
Test(trust, forged_record_naming_others_process, .timeout = 120)
{
	adv_start(BASE_CONF);
	pid_t victims[] = {hbd_sleeper(), adv_sleeper_as(ADV_VICTIM_UID, false, 0)};
	unsigned victim_uid[] = {0, ADV_VICTIM_UID};
	int shmids[4], n = 0;

	for (int i = 0; i < 2; i++)
		for (int hand = 0; hand < 2; hand++) {
			char pid[16], out[256], want[160];
			snprintf(pid, sizeof(pid), "%d", (int)victims[i]);
			int st = adv_run_as(ADV_ATTACKER_UID, ADV_GROUP, out, sizeof(out), NULL, 0,
					    "$HBFORGE", "--pid", pid, "--name", "watched",
					    hand ? "--hand-to-root" : NULL, NULL);
			cr_assert_eq(tu_exit_code(st), 0, "hbforge failed: 0x%x", (unsigned)st);
			int id = adv_shmid_in(out);
			struct shmid_ds ds;
			cr_assert_geq(id, 0);
			cr_assert_eq(shmctl(id, IPC_STAT, &ds), 0);
			cr_assert_eq(ds.shm_perm.uid, hand ? 0u : ADV_ATTACKER_UID);
			cr_assert_eq(ds.shm_perm.cuid, ADV_ATTACKER_UID);
			shmids[n++] = id;
			snprintf(want, sizeof(want), "record %d (", id);
			cr_assert(hbd_log_wait("untrusted", victims[i], want, 10000));
			snprintf(want, sizeof(want),
				 "record %d (name \"watched\", pid %d, created by uid %u", id,
				 (int)victims[i], ADV_ATTACKER_UID);
			cr_assert_eq(hbd_log_count("untrusted", victims[i], want), 1);
			snprintf(want, sizeof(want),
				 "created by uid %u, who could not signal a process of uid %u",
				 ADV_ATTACKER_UID, victim_uid[i]);
			cr_assert_geq(hbd_log_count("untrusted", victims[i], want), 1,
				      "the reason is not the creator");
		}
	for (int i = 0; i < 2; i++) {
		hbd_assert_left_alone(victims[i], i == 0 ? 1500 : 0);
		cr_assert_eq(hbd_log_count("deadline-missed", victims[i], NULL), 0);
	}
	/* Past a periodic census (5 s): turned down once, not again. */
	hbd_sleep_ms(6000);
	for (int k = 0; k < n; k++) {
		char want[64];
		struct shmid_ds ds;
		snprintf(want, sizeof(want), "record %d (", shmids[k]);
		cr_assert_eq(hbd_log_count("untrusted", 0, want), 1,
			     "record %d was reported more than once", shmids[k]);
		cr_assert_eq(shmctl(shmids[k], IPC_STAT, &ds), 0,
			     "the daemon removed evidence (record %d)", shmids[k]);
	}
	for (int i = 0; i < 2; i++)
		hbd_assert_left_alone(victims[i], 0);
	adv_still_kills("hung");
}

/* A record its group or everyone may write, naming its own creator: its
 * writers are not only its owner, so it is nobody's word. */
Test(trust, shared_write_record_of_its_own)
{
	static const struct {
		const char *mode, *who;
	} modes[] = {
	    {"0666", "its group and everyone"}, {"0660", "its group"}, {"0606", "everyone"}};
	pid_t forger[3];

	adv_start(BASE_CONF);
	for (int i = 0; i < 3; i++) {
		char out[256], want[160];
		forger[i] =
		    adv_start_as(ADV_ATTACKER_UID, ADV_GROUP, "ready", out, sizeof(out), "$HBFORGE",
				 "--self", "--mode", modes[i].mode, "--name", "watched", NULL);
		int id = adv_shmid_in(out);
		cr_assert_geq(id, 0);
		snprintf(want, sizeof(want), "its mode %s lets %s write it", modes[i].mode + 1,
			 modes[i].who);
		cr_assert(hbd_log_wait("untrusted", forger[i], want, 10000));
	}
	for (int i = 0; i < 3; i++) {
		hbd_assert_left_alone(forger[i], i == 0 ? 1500 : 0);
		cr_assert_eq(hbd_log_count("deadline-missed", forger[i], NULL), 0);
	}
	adv_still_kills("hung");
}

/* The positive control: another uid's own registrations are its word.  A
 * uid-3001 worker that hangs is killed, and so is a uid-3001 process that
 * uid 3001 registered with hbctl and that never beats. */
Test(trust, other_uid_registering_itself_is_killed)
{
	char pid[16], err[1024];

	adv_start(BASE_CONF);
	pid_t w = adv_worker_as(ADV_VICTIM_UID, ADV_GROUP, "watched", 500, "--beat-ms", "50",
				"--hang-after-ms", "200", NULL);
	adv_assert_killed(w, 10000);

	pid_t s = adv_sleeper_as(ADV_VICTIM_UID, false, 0);
	snprintf(pid, sizeof(pid), "%d", (int)s);
	int st =
	    adv_run_as(ADV_VICTIM_UID, ADV_GROUP, NULL, 0, err, sizeof(err), "$HBCTL", "register",
		       "--name", "watched", "--timeout", "500ms", "--pid", pid, NULL);
	cr_assert_eq(tu_exit_code(st), 0, "hbctl register as uid %u: %s", ADV_VICTIM_UID, err);
	adv_assert_killed(s, 10000);
	cr_assert_eq(hbd_log_count("untrusted", 0, NULL), 0);
	adv_still_kills("hung");
}

/* A record's owner sets its timeout to 0 (not enforced, and said so:
 * odd-registration),
 * then restores it: the hung process is killed afterwards, the refusal
 * was not for good. */
Test(trust, timeout_zero_then_restored)
{
	char id[16], want[96];

	adv_start(BASE_CONF);
	/* [slow] caps nothing: the record's own timeout is what counts. */
	pid_t w = adv_worker_as(ADV_VICTIM_UID, ADV_GROUP, "slow", 3000, "--beat-ms", "50",
				"--hang-after-ms", "100", NULL);
	int shmid = hbd_record_of(w);
	cr_assert_geq(shmid, 0);
	snprintf(id, sizeof(id), "%d", shmid);
	int st = adv_run_as(ADV_VICTIM_UID, ADV_GROUP, NULL, 0, NULL, 0, "$HBFORGE", "--rewrite",
			    id, "--name", "slow", "--timeout-ms", "0", "--beat-ago-ms", "0", NULL);
	cr_assert_eq(tu_exit_code(st), 0);
	snprintf(want, sizeof(want), "record %d) asks for a timeout of 0 ns", shmid);
	cr_assert(hbd_log_wait("odd-registration", w, want, 5000));
	hbd_sleep_ms(50);
	uint64_t restored = hbd_now_ns();
	st = adv_run_as(ADV_VICTIM_UID, ADV_GROUP, NULL, 0, NULL, 0, "$HBFORGE", "--rewrite", id,
			"--name", "slow", "--timeout-ms", "1000", "--beat-ago-ms", "0", NULL);
	cr_assert_eq(tu_exit_code(st), 0);
	struct hbd_death d = {.pid = w};
	cr_assert_eq(hbd_wait_deaths(&d, 1, 10000), 1, "not killed after its timeout came back");
	cr_assert(WIFSIGNALED(d.status));
	cr_assert_geq(d.died_ns, restored + 900000000u, "killed before its restored deadline");
	cr_assert(hbd_log_wait("signal-sent", w, NULL, 5000));
	cr_assert_eq(hbd_log_count("signal-sent", w, NULL), 1);
	adv_still_kills("hung");
}

/* Run cpactive (the classic client) as UID with ARGS after --key and
 * --name NAME; it prints "registered PID".  With --pid it exits at once,
 * else it stays (tracked).  Returns its pid. */
static pid_t cpactive_as(uid_t uid, const char *name, const char *a1, const char *a2,
			 const char *a3, const char *a4)
{
	char key[32];

	snprintf(key, sizeof(key), "0x%x", (unsigned)adv_legacy_key());
	if (a1 && strcmp(a1, "--pid") == 0) {
		char out[128];
		int st =
		    adv_run_as(uid, ADV_NO_GROUP, out, sizeof(out), NULL, 0, "$CPACTIVE", "--key",
			       key, "--name", name, "--timeout", "1", a1, a2, a3, a4, NULL);
		cr_assert_eq(tu_exit_code(st), 0, "cpactive failed (0x%x)", (unsigned)st);
		return 0;
	}
	return adv_start_as(uid, ADV_NO_GROUP, "registered ", NULL, 0, "$CPACTIVE", "--key", key,
			    "--name", name, "--timeout", "1", a1, a2, a3, a4, NULL);
}

/* A classic table others may write (mode 0666, as the lesson code makes
 * it), made by uid 3002 and naming root's process: not watched at all,
 * and the error says the mode and the way out. */
Test(trust, classic_table_others_may_write)
{
	char pid[16], want[64];

	adv_need_uids();
	pid_t victim = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)victim);
	cpactive_as(ADV_ATTACKER_UID, "watched", "--pid", pid, NULL, NULL);
	adv_config("kill_grace = 300ms\n[legacy]\nkey = 0x%x\n[watched]\ntimeout = 1s\n"
		   "[hung]\ntimeout = 1s\n",
		   (unsigned)adv_legacy_key());
	hbd_start();

	snprintf(want, sizeof(want), "the classic table at key 0x%x has mode 666",
		 (unsigned)adv_legacy_key());
	cr_assert(hbd_log_wait("untrusted", 0, want, 10000));
	cr_assert_eq(hbd_log_count("untrusted", 0, "allow_shared_writers = yes"), 1);
	hbd_assert_left_alone(victim, 2500);
	cr_assert_eq(hbd_log_count(NULL, 0, "legacy record"), 0, "a record of it was looked at");
	cr_assert_eq(hbd_log_count(NULL, 0, "watching the classic heartbeat table"), 0);
	adv_still_kills("hung");
}

/* A classic table only its owner (uid 3002) may write: its records are
 * uid 3002's word.  One names root's process: untrusted, never signalled.
 * One is uid 3002's own hung client: killed, so the table is watched. */
Test(trust, classic_table_of_another_user)
{
	char pid[16], out[128], key[32], want[160];

	adv_need_uids();
	/* The segment exists before the classic client comes: it keeps 0644. */
	snprintf(key, sizeof(key), "0x%x", (unsigned)adv_legacy_key());
	setenv("HBWATCH_KEY", key, 1);
	int st = adv_run_as(ADV_ATTACKER_UID, ADV_NO_GROUP, out, sizeof(out), NULL, 0, "$HBFORGE",
			    "--squat", "72000", "--mode", "0644", NULL);
	snprintf(key, sizeof(key), "0x%x", (unsigned)H.key);
	setenv("HBWATCH_KEY", key, 1);
	cr_assert_eq(tu_exit_code(st), 0, "squatting the classic key failed");
	pid_t victim = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)victim);
	cpactive_as(ADV_ATTACKER_UID, "watched", "--pid", pid, NULL, NULL);
	pid_t own = cpactive_as(ADV_ATTACKER_UID, "watched", "--hang-after-ms", "0", NULL, NULL);
	adv_config("kill_grace = 300ms\n[legacy]\nkey = 0x%x\n[watched]\ntimeout = 1s\n"
		   "[hung]\ntimeout = 1s\n",
		   (unsigned)adv_legacy_key());
	hbd_start();

	cr_assert(hbd_log_wait(NULL, 0, "watching the classic heartbeat table", 10000));
	snprintf(want, sizeof(want),
		 "created by uid %u, who could not signal a process of uid 0 itself",
		 ADV_ATTACKER_UID);
	cr_assert(hbd_log_wait("untrusted", victim, want, 10000));
	adv_assert_killed(own, 10000);
	hbd_assert_left_alone(victim, 1500);
	cr_assert_eq(hbd_log_count("deadline-missed", victim, NULL), 0);
	adv_still_kills("hung");
}

/* A client in a PID namespace of its own that shares the IPC namespace
 * (unshare --pid --fork, with or without a /proc of its own): it is pid 1
 * there, but the kernel reports the record's creator in the daemon's PID
 * namespace (shm_cpid), so it is registered with its host pid and killed
 * when it hangs (by SIGKILL after kill_grace: as a namespace's init it
 * does not die of the service's signal). */
static void client_in_pid_namespace(bool mount_proc)
{
	const char *unshare = getenv("UNSHARE"), *worker = tu_prog("HBWORKER");
	pid_t parent = getpid(), outer, inner = 0;
	char line[64] = "";
	int fds[2];

	if (!unshare || !*unshare)
		cr_skip_test("unshare(1) not found");
	adv_config(BASE_CONF);
	hbd_start();
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	outer = fork();
	cr_assert(outer >= 0);
	if (outer == 0) {
		char *argv[24];
		int argc = 0;

		hbd_child_setup(parent);
		if (dup2(fds[1], 3) < 0)
			_exit(126);
		argv[argc++] = (char *)unshare;
		argv[argc++] = "--pid";
		argv[argc++] = "--fork";
		argv[argc++] = "--kill-child=SIGKILL";
		if (mount_proc)
			argv[argc++] = "--mount-proc";
		argv[argc++] = "--";
		argv[argc++] = (char *)worker;
		static char *const worker_args[] = {"--name",	  "hung", "--timeout-ms",    "500",
						    "--beat-ms",  "50",	  "--hang-after-ms", "1500",
						    "--ready-fd", "3",	  "--quiet",	     NULL};
		for (int k = 0; worker_args[k]; k++)
			argv[argc++] = worker_args[k];
		argv[argc] = NULL;
		execv(unshare, argv);
		_exit(127);
	}
	close(fds[1]);
	H.kids[H.n_kids++] = outer;
	struct pollfd p = {.fd = fds[0], .events = POLLIN};
	ssize_t n = poll(&p, 1, 10000) == 1 ? read(fds[0], line, sizeof(line) - 1) : 0;
	close(fds[0]);
	cr_assert_gt(n, 0, "the namespaced worker did not register");
	line[n] = '\0';
	cr_assert_str_eq(line, "READY 1\n", "not pid 1 of its own namespace: %s", line);

	/* Its host pid: unshare's only child. */
	char path[96], kids[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)outer, (int)outer);
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s: %s", path, strerror(errno));
	cr_assert(fgets(kids, sizeof(kids), f));
	fclose(f);
	inner = (pid_t)atoi(kids);
	cr_assert_gt(inner, 1);
	cr_assert_geq(hbd_record_of(inner), 0, "no record names host pid %d", (int)inner);
	hbd_figure("pid namespace%s: worker is pid 1 inside, host pid %d in its record's shm_cpid",
		   mount_proc ? " with its own /proc" : "", (int)inner);

	int pfd = pidfd_open(inner, 0);
	cr_assert_geq(pfd, 0);
	struct pollfd q = {.fd = pfd, .events = POLLIN};
	int dead = poll(&q, 1, 10000);
	close(pfd);
	if (dead != 1)
		hbd_log_dump();
	cr_assert_eq(dead, 1, "the namespaced worker was not killed");
	cr_assert(hbd_log_wait("signal-sent", inner, "hung", 5000));
	cr_assert_eq(hbd_log_count("stale-record", inner, NULL), 0);
	cr_assert(hbd_wait_exit(outer, 5000, NULL));
	adv_still_kills("hung");
}

Test(trust, client_in_own_pid_namespace_with_its_proc)
{
	client_in_pid_namespace(true);
}

/* The same without a /proc of its own (unshare --pid --fork alone):
 * getpid() is 1 there while /proc is still the host's, so the library
 * reads its start time from /proc/self/stat, which names the right
 * process, not from /proc/<getpid()>/stat, the host's init. */
Test(trust, client_in_own_pid_namespace)
{
	client_in_pid_namespace(false);
}

/* One process of a user in no group at all makes more heartbeat records
 * than slots=, all its own (mode 0644, naming itself), never announced:
 * the census finds them anyway.  They are trusted (its own word) and
 * refused (no such service).  Refused registrations have a budget of
 * their own, and a process gets one registration, so they crowd out
 * nobody: the hung root worker below is still killed. */
Test(trust, records_of_one_user_fill_the_slots)
{
	char out[128];

	adv_start(BASE_CONF);
	adv_start_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, "ready", out, sizeof(out), "$HBFORGE",
		     "--self", "--count", "200", "--no-announce", "--name", "unlisted", NULL);
	cr_assert(hbd_log_wait("refused", 0, "\"unlisted\" is not a watched service", 10000));
	adv_still_kills("hung");
}
