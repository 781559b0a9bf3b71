/* The verdict on a late process, from recorded /proc, cgroup and PSI text
 * (pure): each parser on the kernel's own formats, then one table of facts
 * and policies with the verdict each must get, then the core dump wait. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "verdict.h"

#define MS 1000000ull

/* /proc/PID/status as the kernel writes it (the lines that matter). */
static const char *status_text(char *buf, size_t len, char state, int tracer, int dumping)
{
	snprintf(buf, len,
		 "Name:\tworker\nUmask:\t0022\nState:\t%c (%s)\nTgid:\t4242\nNgid:\t0\n"
		 "Pid:\t4242\nPPid:\t1\nTracerPid:\t%d\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
		 "FDSize:\t64\nThreads:\t1\n%s"
		 "voluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t2\n",
		 state,
		 state == 't'	? "tracing stop"
		 : state == 'D' ? "disk sleep"
		 : state == 'R' ? "running"
				: "sleeping",
		 tracer,
		 dumping < 0 ? ""
		 : dumping   ? "CoreDumping:\t1\nTHP_enabled:\t1\n"
			     : "CoreDumping:\t0\nTHP_enabled:\t1\n");
	return buf;
}

Test(verdict_parse, status)
{
	char buf[1024], state;
	pid_t tracer;
	bool dumping;

	cr_assert_eq(verdict_parse_status(status_text(buf, sizeof(buf), 't', 777, 0), &state,
					  &tracer, &dumping),
		     0);
	cr_assert_eq(state, 't');
	cr_assert_eq(tracer, 777);
	cr_assert(!dumping);
	cr_assert_eq(verdict_parse_status(status_text(buf, sizeof(buf), 'D', 0, 1), &state, &tracer,
					  &dumping),
		     0);
	cr_assert(dumping);
	cr_assert_eq(state, 'D');
	/* Before Linux 4.15 there is no CoreDumping line: not dumping. */
	cr_assert_eq(verdict_parse_status(status_text(buf, sizeof(buf), 'S', 0, -1), &state,
					  &tracer, &dumping),
		     0);
	cr_assert(!dumping);
	cr_assert_eq(verdict_parse_status("Name:\tx\nState:\t\n", &state, &tracer, &dumping),
		     -EINVAL);
	cr_assert_eq(verdict_parse_status("Name:\tx\nState:\tS (sleeping)\nTracerPid:\t-1\n",
					  &state, &tracer, &dumping),
		     -EINVAL);
}

Test(verdict_parse, schedstat)
{
	uint64_t d;

	cr_assert_eq(verdict_parse_schedstat("8424227 34520777 4\n", &d), 0);
	cr_assert_eq(d, 34520777u);
	cr_assert_eq(verdict_parse_schedstat("8424227 34520777", &d), 0);
	cr_assert_eq(verdict_parse_schedstat("8424227\n", &d), -EINVAL);
	cr_assert_eq(verdict_parse_schedstat("x 1 2\n", &d), -EINVAL);
	cr_assert_eq(verdict_parse_schedstat("1 -2 3\n", &d), -EINVAL);
}

Test(verdict_parse, cpu_stat_v1_and_v2)
{
	uint64_t nr, ns;

	/* v1 cpu controller: throttled_time in nanoseconds. */
	cr_assert_eq(verdict_parse_cpu_stat("nr_periods 40\nnr_throttled 31\nthrottled_time "
					    "2794000000\nnr_bursts 0\nburst_time 0\n",
					    &nr, &ns),
		     0);
	cr_assert_eq(nr, 31);
	cr_assert_eq(ns, 2794000000ull);
	/* v2: throttled_usec. */
	cr_assert_eq(verdict_parse_cpu_stat("usage_usec 1000\nuser_usec 600\nsystem_usec 400\n"
					    "nr_periods 12\nnr_throttled 9\nthrottled_usec 855000\n"
					    "nr_bursts 0\nburst_usec 0\n",
					    &nr, &ns),
		     0);
	cr_assert_eq(nr, 9);
	cr_assert_eq(ns, 855000000ull);
	/* v2 without the cpu controller enabled: usage only, nothing to say. */
	cr_assert_eq(
	    verdict_parse_cpu_stat("usage_usec 1000\nuser_usec 600\nsystem_usec 400\n", &nr, &ns),
	    -EINVAL);
	cr_assert_eq(verdict_parse_cpu_stat("nr_throttled x\nthrottled_usec 1\n", &nr, &ns),
		     -EINVAL);
}

Test(verdict_parse, freezers)
{
	bool frozen;

	cr_assert_eq(verdict_parse_cgroup_events("populated 1\nfrozen 1\n", &frozen), 0);
	cr_assert(frozen);
	cr_assert_eq(verdict_parse_cgroup_events("populated 1\nfrozen 0\n", &frozen), 0);
	cr_assert(!frozen);
	cr_assert_eq(verdict_parse_cgroup_events("populated 1\n", &frozen), -EINVAL);
	cr_assert_eq(verdict_parse_freezer_state("FROZEN\n", &frozen), 0);
	cr_assert(frozen);
	cr_assert_eq(verdict_parse_freezer_state("FREEZING\n", &frozen), 0);
	cr_assert(frozen);
	cr_assert_eq(verdict_parse_freezer_state("THAWED\n", &frozen), 0);
	cr_assert(!frozen);
	cr_assert_eq(verdict_parse_freezer_state("FROZENX\n", &frozen), -EINVAL);
}

Test(verdict_parse, psi)
{
	unsigned some, full;

	cr_assert_eq(verdict_parse_psi("some avg10=99.49 avg60=72.52 avg300=27.08 total=108976146\n"
				       "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
				       &some, &full),
		     0);
	cr_assert_eq(some, 9949);
	cr_assert_eq(full, 0);
	cr_assert_eq(verdict_parse_psi("some avg10=0.62 avg60=0.53 avg300=0.87 total=13099246\n"
				       "full avg10=61.05 avg60=0.00 avg300=0.04 total=4088381\n",
				       &some, &full),
		     0);
	cr_assert_eq(some, 62);
	cr_assert_eq(full, 6105);
	/* cpu before 5.13: no full line. */
	cr_assert_eq(
	    verdict_parse_psi("some avg10=3.00 avg60=0.53 avg300=0.87 total=1\n", &some, &full), 0);
	cr_assert_eq(full, 0);
	cr_assert_eq(verdict_parse_psi("some avg10=3 avg60=0.53\n", &some, &full), -EINVAL);
	cr_assert_eq(verdict_parse_psi("full avg10=1.00 avg60=0 avg300=0 total=0\n", &some, &full),
		     -EINVAL);
}

Test(verdict_parse, cgroup_hybrid_and_unified)
{
	char v2[64], cpu[64], fr[64];

	cr_assert_eq(verdict_parse_cgroup("12:freezer:/hbwatch-test\n11:cpu,cpuacct:/slow\n"
					  "4:memory:/x\n1:name=systemd:/system.slice/a.service\n"
					  "0::/system.slice/a.service\n",
					  v2, cpu, fr, sizeof(v2)),
		     0);
	cr_assert_str_eq(v2, "/system.slice/a.service");
	cr_assert_str_eq(cpu, "/slow");
	cr_assert_str_eq(fr, "/hbwatch-test");
	/* cpuacct alone is not cpu. */
	cr_assert_eq(verdict_parse_cgroup("2:cpuacct:/a\n0::/\n", v2, cpu, fr, sizeof(v2)), 0);
	cr_assert_str_eq(cpu, "");
	cr_assert_str_eq(v2, "/");
	cr_assert_eq(verdict_parse_cgroup("0::/user.slice\n", v2, cpu, fr, sizeof(v2)), 0);
	cr_assert_str_eq(v2, "/user.slice");
	cr_assert_str_eq(fr, "");
	cr_assert_eq(verdict_parse_cgroup("garbage\n", v2, cpu, fr, sizeof(v2)), -EINVAL);
	cr_assert_eq(verdict_parse_cgroup("", v2, cpu, fr, sizeof(v2)), -EINVAL);
}

/* The decision table. */
struct row {
	const char *what;
	char state;
	int tracer;
	bool frozen;
	uint64_t window_ms, wait_ms, throttled_ms; /* throttled_ms ~0: unknown */
	unsigned io_full;			   /* hundredths */
	uint64_t grace_ms;
	bool deferred, debugged_kill;
	enum verdict want;
	const char *why;
};

#define NO_THROTTLE UINT64_MAX

static const struct row rows[] = {
    {"asleep, hung", 'S', 0, false, 300, 1, NO_THROTTLE, 0, 300, false, false, VERDICT_ACT,
     "not starved (0 % waiting"},
    {"spinning, hung, CPU to itself", 'R', 0, false, 300, 30, NO_THROTTLE, 0, 300, false, false,
     VERDICT_ACT, "not starved (10 %"},
    {"runnable, 92 % waiting", 'R', 0, false, 1000, 920, NO_THROTTLE, 0, 300, false, false,
     VERDICT_DEFER_STARVED, "starved: 92 % waiting for CPU"},
    {"exactly half waiting: starved", 'R', 0, false, 1000, 500, NO_THROTTLE, 0, 300, false, false,
     VERDICT_DEFER_STARVED, "starved: 50 %"},
    {"49 % waiting: not starved", 'R', 0, false, 1000, 490, NO_THROTTLE, 0, 300, false, false,
     VERDICT_ACT, "not starved"},
    {"starved, already deferred for this beat", 'R', 0, false, 1000, 920, NO_THROTTLE, 0, 300, true,
     false, VERDICT_ACT, "deferred once already"},
    {"starved, starve_grace = 0", 'R', 0, false, 1000, 920, NO_THROTTLE, 0, 0, false, false,
     VERDICT_ACT, "starve_grace = 0"},
    {"throttled by its cgroup", 'R', 0, false, 1000, 300, 800, 0, 300, false, false,
     VERDICT_DEFER_STARVED, "starved: 80 % throttled by its cpu cgroup"},
    {"cgroup throttled, but it sleeps", 'S', 0, false, 1000, 0, 800, 0, 300, false, false,
     VERDICT_ACT, "not starved"},
    {"in D under I/O pressure", 'D', 0, false, 1000, 0, NO_THROTTLE, 7000, 300, false, false,
     VERDICT_DEFER_STARVED, "starved: in D under 70 % I/O pressure"},
    {"in D, no pressure", 'D', 0, false, 1000, 0, NO_THROTTLE, 1000, 300, false, false, VERDICT_ACT,
     "not starved"},
    {"asleep under I/O pressure", 'S', 0, false, 1000, 0, NO_THROTTLE, 9000, 300, false, false,
     VERDICT_ACT, "not starved"},
    {"no window (no sample yet)", 'R', 0, false, 0, 0, NO_THROTTLE, 0, 300, false, false,
     VERDICT_ACT, "not starved"},
    {"frozen (v1 freezer)", 'D', 0, true, 1000, 0, NO_THROTTLE, 0, 300, false, false,
     VERDICT_LEAVE_FROZEN, "frozen (freezer.state)"},
    {"frozen even with grace 0 and debugged = kill", 'D', 5, true, 1000, 0, NO_THROTTLE, 0, 0, true,
     true, VERDICT_LEAVE_FROZEN, "frozen"},
    {"ptrace-stopped", 't', 99, false, 1000, 0, NO_THROTTLE, 0, 300, false, false,
     VERDICT_LEAVE_DEBUGGED, "being debugged: traced by pid 99, stopped by its tracer (t)"},
    {"traced, running", 'R', 99, false, 1000, 0, NO_THROTTLE, 0, 300, false, false,
     VERDICT_LEAVE_DEBUGGED, "being debugged: traced by pid 99"},
    {"tracing stop, tracer unknown", 't', 0, false, 1000, 0, NO_THROTTLE, 0, 0, false, false,
     VERDICT_LEAVE_DEBUGGED, "stopped by its tracer"},
    {"debugged = kill", 't', 99, false, 1000, 0, NO_THROTTLE, 0, 0, false, true, VERDICT_ACT,
     "starve_grace = 0"},
    {"stopped by SIGSTOP (T) is no debugger", 'T', 0, false, 1000, 0, NO_THROTTLE, 0, 300, false,
     false, VERDICT_ACT, "not starved"},
};

Test(verdict, table)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct verdict_facts f = {.read = true,
					  .state = r->state,
					  .tracer = r->tracer,
					  .frozen = r->frozen,
					  .frozen_by = r->frozen ? "freezer.state" : NULL,
					  .window_ns = r->window_ms * MS,
					  .have_wait = r->window_ms != 0,
					  .wait_ns = r->wait_ms * MS};
		struct verdict_policy p = {.starve_grace_ns = r->grace_ms * MS,
					   .deferred = r->deferred,
					   .debugged_kill = r->debugged_kill};
		char why[160];

		if (r->throttled_ms != NO_THROTTLE) {
			f.have_throttle = true;
			f.throttled_ns = r->throttled_ms * MS;
			f.nr_throttled = 10;
		}
		f.have_psi[PSI_IO] = true;
		f.psi_full[PSI_IO] = r->io_full;

		enum verdict v = verdict_decide(&f, &p, why, sizeof(why));
		cr_expect_eq(v, r->want, "%s: verdict %d, want %d (%s)", r->what, v, r->want, why);
		cr_expect(strstr(why, r->why), "%s: why \"%s\", want \"%s\"", r->what, why, r->why);
	}
}

/* Still waiting on the run queue: schedstat counts a wait only when it
 * ends, the CPU figure of the window shows it now. */
static const struct {
	const char *what;
	char state;
	uint64_t cpu_ms; /* of a 1 s window */
	bool deferred;
	enum verdict want;
	const char *why;
} cpu_rows[] = {
    {"runnable, 3 % CPU, wait not counted yet", 'R', 30, false, VERDICT_DEFER_STARVED,
     "starved: 97 % waiting for CPU"},
    {"runnable, half the CPU", 'R', 500, false, VERDICT_DEFER_STARVED, "starved: 50 %"},
    {"spinning with the CPU to itself", 'R', 980, false, VERDICT_ACT, "not starved (2 %"},
    {"asleep with no CPU is hung, not starved", 'S', 0, false, VERDICT_ACT, "not starved (0 %"},
    {"in D with no CPU, no pressure", 'D', 0, false, VERDICT_ACT, "not starved (0 %"},
    {"runnable, little CPU, deferred once already", 'R', 30, true, VERDICT_ACT,
     "deferred once already"},
};

Test(verdict, cpu_table)
{
	for (size_t i = 0; i < sizeof(cpu_rows) / sizeof(cpu_rows[0]); i++) {
		struct verdict_facts f = {.read = true,
					  .state = cpu_rows[i].state,
					  .have_cpu = true,
					  .cpu_ns = cpu_rows[i].cpu_ms * MS,
					  .cpu_window_ns = 1000 * MS};
		struct verdict_policy p = {.starve_grace_ns = 300 * MS,
					   .deferred = cpu_rows[i].deferred};
		char why[160];
		enum verdict v = verdict_decide(&f, &p, why, sizeof(why));

		cr_expect_eq(v, cpu_rows[i].want, "%s: verdict %d (%s)", cpu_rows[i].what, v, why);
		cr_expect(strstr(why, cpu_rows[i].why), "%s: why \"%s\", want \"%s\"",
			  cpu_rows[i].what, why, cpu_rows[i].why);
	}
}

Test(verdict, unread_facts_act)
{
	struct verdict_facts f = {0};
	struct verdict_policy p = {.starve_grace_ns = 1};
	char why[64];

	cr_assert_eq(verdict_decide(&f, &p, why, sizeof(why)), VERDICT_ACT);
}

Test(verdict, dump_wait)
{
	struct verdict_facts f = {.read = true, .core_dumping = true};

	cr_assert(verdict_wait_dump(&f, 0, 60000 * MS));
	cr_assert(verdict_wait_dump(&f, 59999 * MS, 60000 * MS));
	cr_assert(!verdict_wait_dump(&f, 60000 * MS, 60000 * MS), "dump_max is a bound");
	cr_assert(!verdict_wait_dump(&f, 0, 0), "dump_max = 0: never waits");
	f.core_dumping = false;
	cr_assert(!verdict_wait_dump(&f, 0, 60000 * MS));
	f = (struct verdict_facts){.core_dumping = true};
	cr_assert(!verdict_wait_dump(&f, 0, 60000 * MS), "gone: nothing to wait for");
}

Test(verdict, fields_carry_the_figures)
{
	struct verdict_facts f = {.read = true,
				  .state = 'R',
				  .tid = 4242,
				  .window_ns = 400 * MS,
				  .have_wait = true,
				  .wait_ns = 368 * MS,
				  .have_throttle = true,
				  .nr_throttled = 4,
				  .throttled_ns = 380 * MS};
	struct verdict_fields fl;
	char all[1024] = "";

	f.have_psi[PSI_CPU] = true;
	f.psi_some[PSI_CPU] = 9949;
	verdict_fields(&f, &fl);
	for (const char *const *p = fl.v; *p; p++) {
		strcat(all, *p);
		strcat(all, "|");
	}
	cr_assert_str_eq(all, "HBWATCH_WINDOW_USEC=400000|HBWATCH_RUNQ_WAIT_USEC=368000|"
			      "HBWATCH_THROTTLED_USEC=380000|HBWATCH_NR_THROTTLED=4|"
			      "HBWATCH_WAIT_TID=4242|HBWATCH_PSI_CPU=host some 99.49 full 0.00|");
}

Test(verdict, hold_names)
{
	cr_assert_str_eq(verdict_hold_name(HOLD_STARVED), "starved");
	cr_assert_str_eq(verdict_hold_name(HOLD_FROZEN), "frozen");
	cr_assert_str_eq(verdict_hold_name(HOLD_DEBUGGED), "debugged");
	cr_assert_str_eq(verdict_hold_name(HOLD_DUMPING), "dumping");
	cr_assert_str_eq(verdict_hold_name(HOLD_MAX), "");
}
