/* bench_scale: how the daemon's cost grows with the table, and what it
 * costs while real clients beat.
 *
 *   bench_scale HBWATCH scan [SLOTS...]     (default: 1024 16384 65536)
 *   bench_scale HBWATCH idle [SECONDS [CLIENTS]]       (default: 60 1000)
 *
 * scan.  For each size N, a table of N slots (private IPC namespace,
 * private key) is filled completely: 64k real processes are too many for
 * this VM, so the N registrations belong to 64 real, long-lived sleeper
 * processes, repeated (slot i holds sleeper i % 64, with its true start
 * time).  To the daemon each slot is a separate, valid, active
 * registration: it opens a pidfd per slot and tracks each, exactly as for
 * N distinct processes; only the process count differs, which the scan
 * never looks at.  Two figures:
 *   slot reads   in-process: table_slot_read() over all N slots (the
 *                lock-free snapshot every scan takes of every slot), the
 *                median of 21 passes;
 *   daemon scan  the real hbwatch, as a black box, adopting that full
 *                table (slots = N, action = log, timeouts of an hour so no
 *                deadline fires): we ring the table's doorbell K times,
 *                spaced well apart, and each ring makes the daemon run one
 *                full scan (watch_scan + re-arm + status); its CPU time (sum
 *                of sum_exec_runtime over its threads, from each
 *                task's schedstat in /proc, ns resolution) over the K rings, minus its
 *                CPU time over an equally long quiet stretch, divided by K.
 *                It includes the wake-up (futex -> doorbell thread ->
 *                eventfd -> sd-event), so it is the cost of a scan as the
 *                daemon pays it.
 * Linear growth shows as a constant ns per slot across the sizes.  The
 * daemon needs an fd per slot: it is started with RLIMIT_NOFILE = N + 256
 * when we may raise it (CAP_SYS_RESOURCE), else with our hard limit; the
 * report says how many fds it ended with.
 *
 * idle.  The real hbwatch (1024 slots, action = kill) and CLIENTS real
 * processes that register (timeout 3 s) and beat once a second, each at
 * its own phase, for SECONDS: the daemon's CPU time over the window, per
 * minute and as a share of one core (target < 0.1 %), and its peak RSS,
 * VmHWM (target < 4 MiB).
 * Prints figures and RESULT {json}; never asserts.
 */
#include <stdbool.h>

#include "bench_common.h"
#include "proc.h"
#include "table.h"

#define BENCH_KEY 0x4bd7e7cbu
#define SLEEPERS  64

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static rlim_t nofile_max(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_max : 0;
}

struct scan_res {
	unsigned n;
	double read_us, daemon_us, daemon_quiet_us;
	unsigned long hwm_kb;
	int adopted_fds;
};

static int scan_one(const char *hbwatch, unsigned n, const pid_t *sl, const uint64_t *st,
		    struct scan_res *o)
{
	struct hb_table t;
	struct bench_daemon d = {0};
	char why[256] = "", conf[256];
	bool adopted;
	double pass[21];

	*o = (struct scan_res){.n = n};
	if (table_create((int)BENCH_KEY, n, (gid_t)-1, &t, &adopted, why, sizeof(why)) < 0) {
		fprintf(stderr, "cannot create a table of %u slots: %s\n", n, why);
		return -1;
	}
	uint64_t now = now_ns();
	for (unsigned i = 0; i < n; i++)
		table_slot_fill(&t, i, sl[i % SLEEPERS], st[i % SLEEPERS], 3600000000000ull, now,
				"scale");

	/* Slot reads, in process. */
	for (int k = 0; k < 21; k++) {
		struct hb_slot_view v;
		uint64_t sum = 0, t0 = bench_now();
		for (unsigned i = 0; i < n; i++)
			if (table_slot_read(&t, i, &v) == 0)
				sum += v.beat_ns;
		pass[k] = (double)(bench_now() - t0) / 1e3;
		if (sum == 42)
			printf(" ");
	}
	o->read_us = bench_median_d(pass, 21);

	/* The daemon over the full table. */
	snprintf(conf, sizeof(conf),
		 "[hbwatch]\nkey = 0x%x\nslots = %u\ngroup =\n\n[scale]\naction = log\n",
		 BENCH_KEY, n);
	if (bench_daemon_start(&d, hbwatch, conf, BENCH_KEY, n + 256) < 0) {
		bench_daemon_stop(&d, 1);
		table_detach(&t);
		bench_remove_ipc(BENCH_KEY);
		return -1;
	}
	/* Adopted once it holds a pidfd per slot. */
	/* (or once the count stops growing: an fd limit below N leaves the
	 * rest refused, which the report shows). */
	for (int i = 0, same = 0, prev = -1; i < 600 && same < 10; i++) {
		o->adopted_fds = count_fds(d.pid);
		if (o->adopted_fds >= (int)n)
			break;
		same = o->adopted_fds == prev ? same + 1 : 0;
		prev = o->adopted_fds;
		bench_sleep(50000000u);
	}
	bench_sleep(300000000u);
	unsigned k = 200;
	uint64_t gap = 3000000u + (uint64_t)(o->read_us * 1000.0 * 6.0);
	/* Quiet stretch as long as the ringing one: the periodic scans
	 * (once a second) and the loop's own costs. */
	uint64_t c0 = bench_cpu_ns(d.pid), t0 = bench_now();
	bench_sleep(gap * k);
	uint64_t c1 = bench_cpu_ns(d.pid), t1 = bench_now();
	uint64_t next = bench_now();
	for (unsigned i = 0; i < k; i++) {
		table_ring(&t);
		next += gap;
		bench_sleep_until(next);
	}
	bench_sleep(gap);
	uint64_t c2 = bench_cpu_ns(d.pid), t2 = bench_now();
	/* Scale the quiet CPU to the ringing stretch's length. */
	double quiet = (double)(c1 - c0) * (double)(t2 - t1) / (double)(t1 - t0);
	o->daemon_quiet_us = quiet / 1e3;
	o->daemon_us = ((double)(c2 - c1) - quiet) / k / 1e3;
	o->hwm_kb = bench_status_kb(d.pid, "VmHWM");
	bench_daemon_stop(&d, 0);
	table_detach(&t);
	bench_remove_ipc(BENCH_KEY);
	return 0;
}

static int do_scan(const char *hbwatch, int argc, char **argv)
{
	unsigned sizes[8] = {1024, 16384, 65536}, ns_ = 3;
	pid_t sl[SLEEPERS];
	uint64_t st[SLEEPERS];
	struct scan_res res[8];
	unsigned ok = 0;

	if (argc > 0) {
		ns_ = 0;
		for (int i = 0; i < argc && ns_ < 8; i++)
			sizes[ns_++] = (unsigned)strtoul(argv[i], NULL, 10);
	}
	for (int i = 0; i < SLEEPERS; i++) {
		sl[i] = fork();
		if (sl[i] == 0) {
			for (;;)
				pause();
		}
		if (sl[i] < 0 || proc_starttime(sl[i], &st[i]) < 0) {
			fprintf(stderr, "cannot start the sleepers\n");
			for (int j = 0; j <= i; j++)
				if (sl[j] > 0) {
					kill(sl[j], SIGKILL);
					waitpid(sl[j], NULL, 0);
				}
			return 1;
		}
	}
	for (unsigned s = 0; s < ns_; s++)
		if (sizes[s] >= 1 && sizes[s] <= HB_SLOTS_MAX &&
		    scan_one(hbwatch, sizes[s], sl, st, &res[ok]) == 0)
			ok++;
	for (int i = 0; i < SLEEPERS; i++) {
		kill(sl[i], SIGKILL);
		waitpid(sl[i], NULL, 0);
	}
	printf("scan cost over a full table (every slot a live registration of one of %d real "
	       "processes)\n\n",
	       SLEEPERS);
	printf("%8s %14s %10s %16s %10s %12s %12s\n", "slots", "slot reads us", "ns/slot",
	       "daemon scan us", "ns/slot", "daemon fds", "VmHWM kB");
	for (unsigned i = 0; i < ok; i++)
		printf("%8u %14.1f %10.1f %16.1f %10.1f %12d %12lu\n", res[i].n, res[i].read_us,
		       res[i].read_us * 1e3 / res[i].n, res[i].daemon_us,
		       res[i].daemon_us * 1e3 / res[i].n, res[i].adopted_fds, res[i].hwm_kb);
	for (unsigned i = 0; i < ok; i++)
		if (res[i].adopted_fds < (int)res[i].n)
			printf("note: at %u slots the daemon holds %d fds: its RLIMIT_NOFILE (hard limit "
			       "%llu here) is below one pidfd per slot, so the slots beyond it were "
			       "refused (EMFILE) and cost less per scan than adopted ones\n",
			       res[i].n, res[i].adopted_fds, (unsigned long long)nofile_max());
	printf("RESULT {\"bench\":\"scale\",\"sizes\":[");
	for (unsigned i = 0; i < ok; i++)
		printf("%s{\"slots\":%u,\"slot_reads_us\":%.1f,\"daemon_scan_us\":%.1f,"
		       "\"daemon_ns_per_slot\":%.1f,\"daemon_hwm_kb\":%lu}",
		       i ? "," : "", res[i].n, res[i].read_us, res[i].daemon_us,
		       res[i].daemon_us * 1e3 / res[i].n, res[i].hwm_kb);
	printf("]}\n");
	return ok ? 0 : 1;
}

static void client(unsigned i, int ready_fd)
{
	if (hb_register("idle", 3000) < 0)
		_exit(2);
	if (write(ready_fd, "r", 1) != 1)
		_exit(3);
	close(ready_fd);
	bench_sleep((uint64_t)(i * 7919u % 1000u) * 1000000u);
	uint64_t next = bench_now();
	for (;;) {
		hb_beat();
		next += 1000000000u;
		bench_sleep_until(next);
	}
}

static int do_idle(const char *hbwatch, unsigned secs, unsigned n)
{
	struct bench_daemon d = {0};
	char conf[256];
	pid_t *pids = calloc(n, sizeof(*pids));
	int ready[2];
	unsigned ready_n = 0;

	snprintf(conf, sizeof(conf),
		 "[hbwatch]\nkey = 0x%x\nslots = 1024\ngroup =\n\n[idle]\naction = kill\n"
		 "signal = SIGABRT\n",
		 BENCH_KEY);
	if (pipe2(ready, O_CLOEXEC) < 0 ||
	    bench_daemon_start(&d, hbwatch, conf, BENCH_KEY, n + 256) < 0) {
		bench_daemon_stop(&d, 1);
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready[0]);
			client(i, ready[1]);
		}
	}
	close(ready[1]);
	char c;
	while (ready_n < n && read(ready[0], &c, 1) == 1)
		ready_n++;
	close(ready[0]);
	bench_sleep(3000000000u); /* adopted, settled */
	uint64_t c0 = bench_cpu_ns(d.pid), t0 = bench_now();
	bench_sleep((uint64_t)secs * 1000000000u);
	uint64_t c1 = bench_cpu_ns(d.pid), t1 = bench_now();
	unsigned long hwm = bench_status_kb(d.pid, "VmHWM"), rss = bench_status_kb(d.pid, "VmRSS");
	int fds = count_fds(d.pid);
	unsigned alive = 0;
	for (unsigned i = 0; i < n; i++) {
		int st;
		if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == 0)
			alive++;
	}
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	bench_daemon_stop(&d, 0);
	bench_remove_ipc(BENCH_KEY);
	double wall = (double)(t1 - t0) / 1e9, cpu_ms = (double)(c1 - c0) / 1e6;
	double per_min = cpu_ms * 60.0 / wall, pct = cpu_ms / 10.0 / wall;
	printf("hbwatch with %u clients (%u registered) beating once a second, %.1f s window\n\n",
	       n, ready_n, wall);
	printf("CPU time            %.1f ms in %.1f s = %.1f ms per minute = %.4f%% of a core "
	       "(target < 0.1%%)\n",
	       cpu_ms, wall, per_min, pct);
	printf("peak RSS (VmHWM)    %lu kB (VmRSS %lu kB; target < 4096 kB)\n", hwm, rss);
	printf("open fds            %d; clients still alive %u of %u (none should be killed)\n",
	       fds, alive, n);
	printf("RESULT {\"bench\":\"idle\",\"clients\":%u,\"seconds\":%.1f,\"cpu_ms\":%.1f,"
	       "\"cpu_ms_per_min\":%.1f,\"cpu_pct\":%.4f,\"hwm_kb\":%lu,\"rss_kb\":%lu,"
	       "\"alive\":%u}\n",
	       n, wall, cpu_ms, per_min, pct, hwm, rss, alive);
	free(pids);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[2], "scan") && strcmp(argv[2], "idle"))) {
		fprintf(stderr, "usage: bench_scale HBWATCH scan [SLOTS...]\n"
				"       bench_scale HBWATCH idle [SECONDS [CLIENTS]]\n");
		return 2;
	}
	int ns = bench_isolate(BENCH_KEY);
	if (!ns)
		fprintf(stderr, "note: no private IPC namespace (not root?); private key only\n");
	if (strcmp(argv[2], "scan") == 0)
		return do_scan(argv[1], argc - 3, argv + 3);
	unsigned secs = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 60;
	unsigned n = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1000;
	if (secs == 0 || n == 0 || n > 1000) {
		fprintf(stderr, "bench_scale idle: SECONDS >= 1, CLIENTS 1..1000\n");
		return 2;
	}
	return do_idle(argv[1], secs, n);
}
