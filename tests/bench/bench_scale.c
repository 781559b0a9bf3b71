/* bench_scale: how the daemon's cost grows with the number of records, and
 * what it costs while real clients beat.
 *
 *   bench_scale HBWATCH scan [RECORDS...]  (default: 1024 16384 32000)
 *   bench_scale HBWATCH idle [SECONDS [CLIENTS]]       (default: 60 1000)
 *
 * scan.  For each size N, N heartbeat records are made in a private IPC
 * namespace (kernel.shmmni raised there: a record is a segment, and the
 * kernel allows at most 32768 per namespace unless booted with
 * ipcmni_extend, so 64k cannot be measured any more).  N real processes
 * are too many for this VM, so the N records name 64 real, long-lived
 * sleeper processes, repeated (record i names sleeper i % 64, with its
 * true start time): they are made the way hbctl makes records for shell
 * jobs (record_create() for another process, owned by root, which the
 * daemon trusts and removes when done).  To the daemon each record is a
 * separate, valid, active registration: it attaches it, opens a pidfd for
 * it and tracks its deadline, exactly as for N distinct processes; only
 * the process count differs, which the scan never looks at.  Two figures:
 *   record reads  in-process: record_read() over all N records (the
 *                 lock-free snapshot every scan takes of every record),
 *                 the median of 21 passes;
 *   daemon scan   the real hbwatch, as a black box, watching those N
 *                 records (slots = N, action = log, timeouts of an hour so
 *                 no deadline fires): we ring the registry's doorbell K
 *                 times, spaced well apart, and each ring makes the daemon
 *                 run one full scan (ring read + watch_scan + re-arm +
 *                 status); its CPU time (sum of sum_exec_runtime over its
 *                 threads, from each task's schedstat in /proc, ns
 *                 resolution) over the K rings, minus its CPU time over an
 *                 equally long quiet stretch, divided by K.  It includes
 *                 the wake-up (futex -> doorbell thread -> eventfd ->
 *                 sd-event), so it is the cost of a scan as the daemon pays
 *                 it.  The quiet stretch holds the periodic census (every
 *                 5 s, all segments of the namespace), which is thus not in
 *                 the scan figure.
 * Linear growth shows as a constant ns per record across the sizes.  The
 * daemon needs an fd per record: it is started with RLIMIT_NOFILE = N +
 * 256 when we may raise it (CAP_SYS_RESOURCE), else with our hard limit;
 * the report says how many fds it ended with.
 *
 * idle.  The real hbwatch (slots = 1024, action = kill) and CLIENTS real
 * processes that register (timeout 3 s) and beat once a second, each at
 * its own phase, for SECONDS: the daemon's CPU time over the window, per
 * minute and as a share of one core (target < 0.1 %), and its peak RSS,
 * VmHWM (target < 4 MiB).
 * Prints figures and RESULT {json}; never asserts.
 */
#include <stdbool.h>
#include <sys/prctl.h>

#include <hbwatch.h>

#include "bench_common.h"
#include "proc.h"
#include "record.h"
#include "registry.h"

#define BENCH_KEY   0x4bd7e7cbu
#define SLEEPERS    64
#define RECORDS_MAX (BENCH_SHMMNI_MAX - 256u)

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

/* N open records, record i naming sleeper i % SLEEPERS. */
struct records {
	unsigned n;
	struct hb_record_map *rec;
	int *shmid;
};

static void records_drop(struct records *rs)
{
	/* Not marked for removal (they name other processes): remove them. */
	for (unsigned i = 0; i < rs->n; i++) {
		record_unmap(&rs->rec[i]);
		shmctl(rs->shmid[i], IPC_RMID, NULL);
	}
	free(rs->rec);
	free(rs->shmid);
	*rs = (struct records){0};
}

static int records_make(struct records *rs, unsigned n, const pid_t *sl, const uint64_t *st)
{
	*rs = (struct records){.rec = calloc(n, sizeof(*rs->rec)),
			       .shmid = calloc(n, sizeof(*rs->shmid))};
	if (!rs->rec || !rs->shmid)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int r = record_create(sl[i % SLEEPERS], st[i % SLEEPERS], false, &rs->rec[i].rec,
				      &rs->shmid[i]);
		if (r < 0)
			return r;
		rs->n++;
		r = record_geometry(rs->rec[i].rec, HB_RECORD_SIZE, &rs->rec[i], NULL, 0);
		if (r < 0)
			return r;
		record_set(rs->rec[i].rec, HB_RECORD_OPEN, 3600000000000ull, "scale");
	}
	return 0;
}

/* The lock-free snapshot of every record, as each scan takes it: the
 * median of 21 passes, in microseconds. */
static double read_pass_us(const struct records *rs)
{
	double pass[21];
	uint64_t sum = 0;

	for (int k = 0; k < 21; k++) {
		struct hb_record_view v;
		uint64_t t0 = bench_now();

		for (unsigned i = 0; i < rs->n; i++)
			if (record_read(&rs->rec[i], &v) == 0)
				sum += v.beat_ns;
		pass[k] = (double)(bench_now() - t0) / 1e3;
	}
	if (sum == 42) /* keeps the reads from being optimised away */
		printf(" ");
	return bench_median_d(pass, 21);
}

/* Until the daemon holds a pidfd per record, or its count stops growing
 * (an fd limit below N leaves the rest unwatched, which the report shows). */
static int wait_adopted(pid_t daemon, unsigned n)
{
	int fds = -1;

	for (int i = 0, same = 0, prev = -1; i < 1200 && same < 20; i++) {
		fds = bench_count_fds(daemon);
		if (fds >= (int)n)
			break;
		same = fds == prev ? same + 1 : 0;
		prev = fds;
		bench_sleep(50000000u);
	}
	return fds;
}

/* The daemon's CPU per doorbell ring (one full scan each), net of what it
 * spends over an equally long quiet stretch. */
static void daemon_scan_cost(struct scan_res *o, pid_t daemon, struct hb_registry *reg)
{
	unsigned k = 200;
	uint64_t gap = 3000000u + (uint64_t)(o->read_us * 1000.0 * 6.0);
	uint64_t c0 = bench_cpu_ns(daemon), t0 = bench_now();

	bench_sleep(gap * k);
	uint64_t c1 = bench_cpu_ns(daemon), t1 = bench_now();
	uint64_t next = bench_now();
	for (unsigned i = 0; i < k; i++) {
		registry_ring_doorbell(reg);
		next += gap;
		bench_sleep_until(next);
	}
	bench_sleep(gap);
	uint64_t c2 = bench_cpu_ns(daemon), t2 = bench_now();
	/* Scale the quiet CPU to the ringing stretch's length. */
	double quiet = (double)(c1 - c0) * (double)(t2 - t1) / (double)(t1 - t0);
	o->daemon_quiet_us = quiet / 1e3;
	o->daemon_us = ((double)(c2 - c1) - quiet) / k / 1e3;
}

static int scan_one(const char *hbwatch, unsigned n, const pid_t *sl, const uint64_t *st,
		    struct scan_res *o)
{
	struct records rs;
	struct hb_registry reg;
	struct bench_daemon d = {0};
	char conf[256];
	int r;

	*o = (struct scan_res){.n = n};
	r = records_make(&rs, n, sl, st);
	if (r < 0) {
		fprintf(stderr, "cannot make %u records (%u made): %s\n", n, rs.n, strerror(-r));
		records_drop(&rs);
		return -1;
	}
	o->read_us = read_pass_us(&rs);

	snprintf(conf, sizeof(conf),
		 "[hbwatch]\nkey = 0x%x\nslots = %u\ngroup =\n\n[scale]\naction = log\n", BENCH_KEY,
		 n);
	if (bench_daemon_start(&d, hbwatch, conf, BENCH_KEY, n + 256) < 0 ||
	    registry_attach((int)BENCH_KEY, false, &reg, NULL, 0) < 0) {
		bench_daemon_stop(&d, 1);
		records_drop(&rs);
		bench_remove_ipc(BENCH_KEY);
		return -1;
	}
	o->adopted_fds = wait_adopted(d.pid, n);
	bench_sleep(300000000u);
	daemon_scan_cost(o, d.pid, &reg);
	o->hwm_kb = bench_status_kb(d.pid, "VmHWM");
	bench_daemon_stop(&d, 0);
	registry_detach(&reg);
	records_drop(&rs);
	bench_remove_ipc(BENCH_KEY);
	return 0;
}

static int do_scan(const char *hbwatch, int argc, char **argv, int ns)
{
	unsigned sizes[8] = {1024, 16384, 32000}, ns_ = 3;
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
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed benchmark */
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
	unsigned biggest = 0;
	for (unsigned s = 0; s < ns_; s++)
		if (sizes[s] <= RECORDS_MAX && sizes[s] > biggest)
			biggest = sizes[s];
	bench_shmmni(biggest + 256, ns);
	for (unsigned s = 0; s < ns_; s++) {
		if (sizes[s] < 1 || sizes[s] > RECORDS_MAX) {
			printf("note: %u records not measured: a record is a segment, and an IPC "
			       "namespace holds at most %u (kernel.shmmni, IPCMNI)\n",
			       sizes[s], BENCH_SHMMNI_MAX);
			continue;
		}
		if (scan_one(hbwatch, sizes[s], sl, st, &res[ok]) == 0)
			ok++;
	}
	for (int i = 0; i < SLEEPERS; i++) {
		kill(sl[i], SIGKILL);
		waitpid(sl[i], NULL, 0);
	}
	printf("scan cost over N records (every record a live registration of one of %d real "
	       "processes)\n\n",
	       SLEEPERS);
	printf("%8s %15s %10s %16s %10s %12s %12s\n", "records", "record reads us", "ns/rec",
	       "daemon scan us", "ns/rec", "daemon fds", "VmHWM kB");
	for (unsigned i = 0; i < ok; i++)
		printf("%8u %15.1f %10.1f %16.1f %10.1f %12d %12lu\n", res[i].n, res[i].read_us,
		       res[i].read_us * 1e3 / res[i].n, res[i].daemon_us,
		       res[i].daemon_us * 1e3 / res[i].n, res[i].adopted_fds, res[i].hwm_kb);
	for (unsigned i = 0; i < ok; i++)
		if (res[i].adopted_fds < (int)res[i].n)
			printf(
			    "note: at %u records the daemon holds %d fds: its RLIMIT_NOFILE (hard "
			    "limit %llu here) is below one pidfd per record, so the records beyond "
			    "it are not watched (EMFILE) and cost nothing per scan\n",
			    res[i].n, res[i].adopted_fds, (unsigned long long)nofile_max());
	printf("RESULT {\"bench\":\"scale\",\"sizes\":[");
	for (unsigned i = 0; i < ok; i++)
		printf("%s{\"records\":%u,\"record_reads_us\":%.1f,\"daemon_scan_us\":%.1f,"
		       "\"daemon_ns_per_record\":%.1f,\"daemon_fds\":%d,\"daemon_hwm_kb\":%lu}",
		       i ? "," : "", res[i].n, res[i].read_us, res[i].daemon_us,
		       res[i].daemon_us * 1e3 / res[i].n, res[i].adopted_fds, res[i].hwm_kb);
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
	int fds = bench_count_fds(d.pid);
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
		fprintf(stderr, "usage: bench_scale HBWATCH scan [RECORDS...]\n"
				"       bench_scale HBWATCH idle [SECONDS [CLIENTS]]\n");
		return 2;
	}
	int ns = bench_isolate(BENCH_KEY);
	if (!ns)
		fprintf(stderr, "note: no private IPC namespace (not root?); private key only\n");
	if (strcmp(argv[2], "scan") == 0)
		return do_scan(argv[1], argc - 3, argv + 3, ns);
	unsigned secs = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 60;
	unsigned n = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1000;
	if (secs == 0 || n == 0 || n > 1000) {
		fprintf(stderr, "bench_scale idle: SECONDS >= 1, CLIENTS 1..1000\n");
		return 2;
	}
	return do_idle(argv[1], secs, n);
}
