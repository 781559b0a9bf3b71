/* Fairness and the view.  One unprivileged uid (in no group at all) fills
 * slots= with beating records under a section without user= or unit=: a
 * root service that registers afterwards and hangs is still killed, and
 * so is a service of a section with user=, because each uid has only its
 * share (uid_share=) and a quarter of slots= is kept for root and user=
 * sections.  The host's segments near kernel.shmmni: hbwatch warns once,
 * naming the uid holding the most.  And a user outside hbwatch's group
 * sees of another uid's hung process no more than /proc shows it: the
 * kernel refuses it the records and the verdicts (wchan, CPU, thread
 * states, task labels), and under /proc mounted hidepid=1 or 2 hbctl
 * shows it no other uid's registration at all. */
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "registry.h"
#include "util.h"

TestSuite(fair, .init = adv_init, .fini = adv_fini, .timeout = 120);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

#define OUT_MAX 65536

/* adv_config() with slots = SLOTS (real other ids: adv_need_uids()). */
static void fair_config(unsigned slots, const char *more)
{
	FILE *f = fopen(H.conf, "w");

	cr_assert(f, "%s: %s", H.conf, strerror(errno));
	fprintf(f, "[hbwatch]\nkey = 0x%x\nslots = %u\ngroup = %u\n%s", (unsigned)H.key, slots,
		ADV_GROUP, more);
	cr_assert(fclose(f) == 0);
}

/* Entries of uid UID in STATE (NULL: any) in hbctl status --json OUT. */
static int json_count(const char *out, uid_t uid, const char *state)
{
	char want_uid[32], want_state[48];
	int n = 0;

	snprintf(want_uid, sizeof(want_uid), "\"uid\":%u,", (unsigned)uid);
	snprintf(want_state, sizeof(want_state), "\"state\":\"%s", state ? state : "");
	for (const char *p = strstr(out, "{\"shmid\":"); p;) {
		const char *next = strstr(p + 1, "{\"shmid\":");
		size_t len = next ? (size_t)(next - p) : strlen(p);
		const char *u = memmem(p, len, want_uid, strlen(want_uid));
		const char *s = memmem(p, len, want_state, strlen(want_state));

		n += u && s;
		p = next;
	}
	return n;
}

static void status_as(uid_t uid, gid_t gid, char *out)
{
	char err[1024];
	int st = adv_run_as(uid, gid, out, OUT_MAX, err, sizeof(err), "$HBCTL", "status", "--json",
			    NULL);

	cr_assert_eq(tu_exit_code(st), 0, "hbctl status as uid %d: 0x%x: %s", (int)uid,
		     (unsigned)st, err);
}

/* Wait until hbctl status (as root) has N entries of UID in STATE (NULL:
 * N at least that hbwatch has judged, in any state but "unseen"). */
static bool wait_count(uid_t uid, const char *state, int n, int ms, char *out)
{
	uint64_t end = hbd_now_ns() + (uint64_t)ms * 1000000u;

	for (;;) {
		status_as((uid_t)-1, ADV_NO_GROUP, out);
		if (state ? json_count(out, uid, state) == n
			  : json_count(out, uid, NULL) - json_count(out, uid, "unseen") >= n)
			return true;
		if (hbd_now_ns() >= end)
			return false;
		hbd_sleep_ms(200);
	}
}

/* A process of UID (groups GID) holding one record of its own, named
 * NAME, beating for an hour, never announced: the census finds it. */
static pid_t record_holder(uid_t uid, gid_t gid, const char *name, const char *mode)
{
	return adv_start_as(uid, gid, "ready", NULL, 0, "$HBFORGE", "--self", "--no-announce",
			    "--name", name, "--timeout-ms", "3600000", mode ? "--mode" : NULL, mode,
			    NULL);
}

#define FAIR_CONF "kill_grace = 300ms\n[open]\ntimeout = 1h\n[hung]\ntimeout = 1s\n"

/* 18 processes of a uid in no group, one record each, under [open]:
 * before, they took all 16 slots and the hung root worker was never
 * watched.  Now the uid gets its share (16 / 8 = 2), the other 16 are
 * refused (the budget of refused registrations is slots= too) with a
 * reason naming the share, and root's worker is killed. */
Test(fair, one_uid_cannot_crowd_out_root, .timeout = 180)
{
	static char out[OUT_MAX];
	pid_t holders[18];

	adv_need_uids();
	fair_config(16, FAIR_CONF);
	hbd_start();
	for (int i = 0; i < 18; i++)
		holders[i] = record_holder(ADV_OUTSIDER_UID, ADV_NO_GROUP, "open", NULL);
	/* All judged (before: 16 watched, 2 waiting for a slot). */
	cr_assert(wait_count(ADV_OUTSIDER_UID, NULL, 16, 15000, out), "%s", out);
	adv_still_kills("hung");
	cr_assert(
	    hbd_log_wait("refused", 0, "uid 3003 holds its share: uid_share=2 of slots=16", 15000));
	cr_assert(wait_count(ADV_OUTSIDER_UID, "refused", 16, 15000, out),
		  "not 16 of uid 3003's refused: %s", out);
	cr_assert_eq(json_count(out, ADV_OUTSIDER_UID, "ok"), 2, "%s", out);
	cr_assert(strstr(out, "uid 3003 holds its share: uid_share=2 of slots=16"), "%s", out);

	/* One of its watched processes ends: one refused is taken up. */
	for (int i = 0; i < 18; i++) {
		char pidkey[48];
		snprintf(pidkey, sizeof(pidkey), "\"pid\":%d,\"uid\":3003", (int)holders[i]);
		const char *p = strstr(out, pidkey);
		if (p && strstr(p, "\"state\":\"") == strstr(p, "\"state\":\"ok\"")) {
			hbd_kill(holders[i], SIGKILL);
			break;
		}
	}
	cr_assert(wait_count(ADV_OUTSIDER_UID, "refused", 15, 10000, out), "%s", out);
	cr_assert_eq(json_count(out, ADV_OUTSIDER_UID, "ok"), 2, "%s", out);
}

/* Two uids fill the whole shared room (two shares of 6 of the 12 that
 * slots = 16 leaves them).  A third uid's registration under [open] is
 * refused (the room is full), but its service under [mine] (user = that
 * uid) has room kept: it hangs and is killed, as is root's. */
Test(fair, user_section_keeps_its_room, .timeout = 180)
{
	static char out[OUT_MAX];

	adv_need_uids();
	char conf[256];

	snprintf(conf, sizeof(conf),
		 "uid_share = 6\nkill_grace = 300ms\n[open]\ntimeout = 1h\n"
		 "[mine]\ntimeout = 1s\nuser = %u\n[hung]\ntimeout = 1s\n",
		 ADV_VICTIM_UID);
	fair_config(16, conf);
	hbd_start();
	for (int i = 0; i < 9; i++) {
		record_holder(ADV_OUTSIDER_UID, ADV_NO_GROUP, "open", NULL);
		record_holder(ADV_ATTACKER_UID, ADV_GROUP, "open", NULL);
	}
	/* All judged (before: 16 of the 18 watched, all slots taken). */
	uint64_t end = hbd_now_ns() + 15000000000ull;
	for (;;) {
		status_as((uid_t)-1, ADV_NO_GROUP, out);
		int judged = json_count(out, ADV_OUTSIDER_UID, NULL) +
			     json_count(out, ADV_ATTACKER_UID, NULL) -
			     json_count(out, ADV_OUTSIDER_UID, "unseen") -
			     json_count(out, ADV_ATTACKER_UID, "unseen");
		if (judged >= 16)
			break;
		cr_assert_lt(hbd_now_ns(), end, "not judged: %s", out);
		hbd_sleep_ms(200);
	}
	pid_t mine = adv_worker_as(ADV_VICTIM_UID, ADV_GROUP, "mine", 500, "--beat-ms", "50",
				   "--hang-after-ms", "100", NULL);
	adv_assert_killed(mine, 10000);
	adv_still_kills("hung");

	cr_assert(hbd_log_wait("refused", 0, "uid 3003 holds its share: uid_share=6", 15000));
	cr_assert(hbd_log_wait("refused", 0, "uid 3002 holds its share: uid_share=6", 15000));
	cr_assert(wait_count(ADV_ATTACKER_UID, "ok", 6, 15000, out), "%s", out);
	cr_assert(wait_count(ADV_OUTSIDER_UID, "ok", 6, 15000, out), "%s", out);
	pid_t open = adv_worker_as(ADV_VICTIM_UID, ADV_GROUP, "open", 3600000, NULL);
	cr_assert(hbd_log_wait("refused", open, "shared room full: 12 of slots=16", 15000));
}

/* Segments near kernel.shmmni (lowered in a private IPC namespace): one
 * warning naming uid 3003, not repeated while the episode lasts, and
 * again after it ended and came back. */
Test(fair, shm_limit_warning, .timeout = 120)
{
	struct shm_info info;
	char mni[32];
	FILE *f;

	adv_need_uids();
	cr_assert_eq(unshare(CLONE_NEWIPC), 0, "unshare(CLONE_NEWIPC): %s", strerror(errno));
	adv_config("kill_grace = 300ms\n[hung]\ntimeout = 1s\n");
	hbd_start();
	cr_assert_geq(shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info), 0);
	snprintf(mni, sizeof(mni), "%d\n", info.used_ids + 20);
	f = fopen("/proc/sys/kernel/shmmni", "w");
	if (!f || fputs(mni, f) < 0 || fclose(f) != 0)
		cr_skip_test("cannot set kernel.shmmni in a private IPC namespace here");

	pid_t h = adv_start_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, "ready", NULL, 0, "$HBFORGE",
			       "--self", "--no-announce", "--count", "19", "--name", "x", NULL);
	cr_assert(
	    hbd_log_wait("odd-registration", 0, "most segments are held by uid 3003 (19)", 15000));
	cr_assert(hbd_log_count("odd-registration", 0, "kernel.shmmni=") == 1);
	hbd_sleep_ms(6000); /* another census: the same episode */
	cr_assert_eq(hbd_log_count("odd-registration", 0, "kernel.shmmni="), 1);
	hbd_kill(h, SIGKILL);
	hbd_sleep_ms(6000); /* a census sees it over */
	adv_start_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, "ready", NULL, 0, "$HBFORGE", "--self",
		     "--no-announce", "--count", "19", "--name", "x", NULL);
	uint64_t end = hbd_now_ns() + 15000000000ull;
	while (hbd_log_count("odd-registration", 0, "kernel.shmmni=") < 2 && hbd_now_ns() < end)
		hbd_sleep_ms(100);
	cr_assert_eq(hbd_log_count("odd-registration", 0, "kernel.shmmni="), 2);
	adv_still_kills("hung");
}

/* As UID (groups: GID, none if ADV_NO_GROUP), attach SHMID read-only:
 * 0 or the errno. */
static int attach_as(uid_t uid, gid_t gid, int shmid)
{
	pid_t pid = fork();
	int st;

	cr_assert(pid >= 0);
	if (pid == 0) {
		if ((gid == ADV_NO_GROUP ? setgroups(0, NULL) : setgroups(1, &gid)) < 0 ||
		    setresgid(gid == ADV_NO_GROUP ? uid : gid, gid == ADV_NO_GROUP ? uid : gid,
			      gid == ADV_NO_GROUP ? uid : gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(100);
		_exit(shmat(shmid, NULL, SHM_RDONLY) == (void *)-1 ? errno : 0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 100, "could not become uid %u", uid);
	return WEXITSTATUS(st);
}

#define VIEW_CONF "kill_grace = 300ms\n[payroll]\ntimeout = 1h\naction = log\n"

/* A hung root process with a task whose label is its business: hbwatch
 * logs it, with its wchan, CPU and thread states, in its verdicts. */
static pid_t hung_payroll(void)
{
	pid_t w = hbd_worker("payroll", 300, "--beat-ms", "50", "--hang-after-ms", "100", "--task",
			     "payroll-batch:60000", NULL);

	cr_assert(hbd_log_wait("deadline-missed", w, NULL, 10000));
	return w;
}

static int status_shmid(void)
{
	struct hb_registry reg;
	int id;

	cr_assert_eq(registry_attach(H.key, true, &reg, NULL, 0), 0);
	id = atomic_load(&reg.hdr->status_shmid);
	registry_detach(&reg);
	cr_assert_gt(id, 0, "no status segment published");
	return id;
}

/* Root and the group see everything; a user in no group sees nothing of
 * root's hung process, and the kernel, not hbctl, says so: it cannot
 * attach the record or the verdicts. */
Test(fair, view_is_for_root_and_group)
{
	static char out[OUT_MAX];

	adv_need_uids();
	adv_config(VIEW_CONF);
	hbd_start();
	pid_t w = hung_payroll();
	int rec = hbd_record_of(w), view = status_shmid();

	hbd_sleep_ms(300); /* the view is rewritten at the next pass */
	status_as((uid_t)-1, ADV_NO_GROUP, out);
	cr_assert(strstr(out, "payroll-batch") && strstr(out, "\"wchan\":"), "root: %s", out);
	status_as(ADV_ATTACKER_UID, ADV_GROUP, out);
	cr_assert(strstr(out, "payroll-batch") && strstr(out, "\"wchan\":"), "group: %s", out);

	status_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, out);
	cr_assert(!strstr(out, "payroll") && !strstr(out, "\"wchan\":") &&
		      !strstr(out, "\"cpu_usec_since_beat\":") && !strstr(out, "\"threads\":"),
		  "uid 3003 sees root's process: %s", out);
	cr_assert(strstr(out, "\"verdicts\":false"), "%s", out);

	cr_assert_eq(attach_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, rec), EACCES,
		     "uid 3003 may read root's record");
	cr_assert_eq(attach_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, view), EACCES,
		     "uid 3003 may read hbwatch's verdicts");
	cr_assert_eq(attach_as(ADV_ATTACKER_UID, ADV_GROUP, rec), 0);
	cr_assert_eq(attach_as(ADV_ATTACKER_UID, ADV_GROUP, view), 0);
}

/* A record left readable to all (an older client's) of another uid: shown
 * to a user in no group while /proc shows it the process, and not at all
 * under a /proc mounted hidepid=1 or 2 (a private mount namespace). */
Test(fair, hidepid_hides_other_uids)
{
	static char out[OUT_MAX];
	char mark[48];

	adv_need_uids();
	adv_config(VIEW_CONF);
	hbd_start();
	pid_t v = record_holder(ADV_VICTIM_UID, ADV_GROUP, "payroll", "0644");
	snprintf(mark, sizeof(mark), "\"pid\":%d,", (int)v);

	status_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, out);
	cr_assert(strstr(out, mark), "without hidepid /proc shows pid %d: %s", (int)v, out);

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		cr_skip_test("no private mount namespace here: %s", strerror(errno));
	for (int hide = 1; hide <= 2; hide++) {
		char opt[16];

		snprintf(opt, sizeof(opt), "hidepid=%d", hide);
		if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, opt) < 0)
			cr_skip_test("cannot mount /proc with %s: %s", opt, strerror(errno));
		status_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, out);
		cr_assert(!strstr(out, mark) && !strstr(out, "payroll"),
			  "%s: uid 3003 sees uid 3001's pid %d: %s", opt, (int)v, out);
		status_as(ADV_ATTACKER_UID, ADV_GROUP, out);
		cr_assert(strstr(out, "payroll"), "%s: the group sees all: %s", opt, out);
	}
}
