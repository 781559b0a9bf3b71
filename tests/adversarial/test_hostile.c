/* A record's owner may rewrite every byte of its record at any moment,
 * the header that says how big the record is included.  Readers (hbwatch's
 * scans, hbctl status) read only within what they decided when they
 * attached it, from the kernel's size of the segment: a rewritten layout
 * is refused, never followed past the mapping.
 *
 * The hostile owner (hbhostile) is a real other uid; hbctl reads as the
 * uid that is in no group at all.  Each case ends with hbwatch alive and
 * still killing a real hung worker. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adv.h"
#include "harness.h"
#include "util.h"

TestSuite(hostile, .init = adv_init, .fini = adv_fini, .timeout = 120);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

#define BASE_CONF "kill_grace = 300ms\n[slow]\ntimeout = 1h\n[hung]\ntimeout = 1s\n"

/* hbctl status --json as the uid in no group: it ends by itself, with a
 * JSON document, never on a signal nor with a sanitizer's report. */
static void status_as_outsider(int round)
{
	static char out[1 << 16], err[8192];
	int st = adv_run_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, out, sizeof(out), err, sizeof(err),
			    "$HBCTL", "status", "--json", NULL);

	cr_assert_not(WIFSIGNALED(st), "hbctl status (run %d) died of signal %d: %s", round,
		      WIFSIGNALED(st) ? WTERMSIG(st) : 0, err);
	cr_assert(!strstr(err, "Sanitizer") && !strstr(err, "runtime error"),
		  "hbctl status (run %d): %s", round, err);
	cr_assert_eq(tu_exit_code(st), 0, "hbctl status (run %d): status 0x%x: %s", round,
		     (unsigned)st, err);
	cr_assert_eq(out[0], '{', "hbctl status (run %d) wrote no JSON: %s", round, out);
}

/* A 4 KiB record of layout 1, valid when hbwatch adopted it, rewritten as
 * layout 2 with every task slot in use (8 KiB of slots).  hbwatch reads
 * none of the 4 KiB that are not there (the page above is unmapped: the
 * 8 KiB record attached just above it was closed and detached first), and
 * says it no longer trusts the record, and why. */
Test(hostile, layout_rewritten_after_adoption)
{
	char out[256], want[96];
	int a, b;

	adv_need_uids();
	adv_config(BASE_CONF);
	hbd_start();
	pid_t h = adv_start_as(ADV_OUTSIDER_UID, ADV_NO_GROUP, "ready", out, sizeof(out),
			       "$HBHOSTILE", "--relayout", "nobody", NULL);
	cr_assert_eq(sscanf(out, "shmid %d\nshmid %d", &a, &b), 2, "hbhostile said '%s'", out);
	/* Not announced (no group): the census adopts them, refused by name. */
	snprintf(want, sizeof(want), "record %d)", b);
	cr_assert(hbd_log_wait("refused", h, want, 10000), "record %d was not adopted", b);
	snprintf(want, sizeof(want), "record %d)", a);
	cr_assert(hbd_log_wait("refused", h, want, 10000), "record %d was not adopted", a);

	hbd_kill(h, SIGUSR1);
	snprintf(want, sizeof(want), "record %d (name \"nobody\", pid %d) any more", b, (int)h);
	bool said = hbd_log_wait("untrusted", h, want, 5000);
	cr_assert(hbd_alive(H.daemon), "hbwatch died reading record %d", b);
	cr_assert(said, "no word of record %d's new layout", b);
	cr_assert_eq(hbd_log_count("untrusted", h, "changed after it was attached"), 1);
	status_as_outsider(0);
	adv_still_kills("hung");
}

/* The hostile owner rewrites random bytes and words of its records'
 * headers, layout and task geometry included, in segments of several
 * sizes, for HBWATCH_HOSTILE_S seconds (30 by default) while hbwatch scans
 * them and hbctl status --json reads them as another uid, again and again.
 * Neither crashes, and a real hang is still killed afterwards. */
Test(hostile, owner_scribbles_headers, .timeout = 600)
{
	const char *env = getenv("HBWATCH_HOSTILE_S");
	long secs = env && *env ? strtol(env, NULL, 10) : 30;
	char ms[32];
	int runs = 0;

	adv_need_uids();
	cr_assert_gt(secs, 0, "HBWATCH_HOSTILE_S=%s", env);
	adv_config(BASE_CONF);
	hbd_start();
	snprintf(ms, sizeof(ms), "%ld", secs * 1000);
	pid_t h = adv_start_as(ADV_ATTACKER_UID, ADV_GROUP, "ready", NULL, 0, "$HBHOSTILE",
			       "--scribble-ms", ms, "slow", "nobody", NULL);
	uint64_t end = hbd_now_ns() + (uint64_t)secs * 1000000000u;

	while (hbd_now_ns() < end) {
		status_as_outsider(runs++);
		cr_assert(hbd_alive(H.daemon), "hbwatch died after %d hbctl runs", runs);
	}
	int st = 0;
	cr_assert(hbd_wait_exit(h, 30000, &st), "hbhostile did not finish");
	cr_assert_eq(tu_exit_code(st), 0, "hbhostile failed (0x%x)", (unsigned)st);
	cr_assert(hbd_alive(H.daemon), "hbwatch died");
	int untrusted = hbd_log_count("untrusted", 0, "changed after it was attached");
	hbd_figure("hostile owner: %ld s, %d hbctl status runs, %d records refused on a "
		   "changed header",
		   secs, runs, untrusted);
	cr_assert_gt(untrusted, 0, "no rewrite ever reached hbwatch");
	adv_still_kills("hung");
}
