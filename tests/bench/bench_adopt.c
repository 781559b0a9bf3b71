/* bench_adopt: what each step of a registration costs, on both sides, for
 * fresh processes (each one looked up in /proc for the first time, as in a
 * stampede).
 *
 *   bench_adopt [K]   (default 300 processes)
 *
 * In a private IPC namespace, with a registry made here (no daemon):
 *  - the client: K forked processes each time the steps of hb_register()
 *    (client.c's do_register()): attach the registry, vouch for it, create
 *    the record, share it with the registry's group, fill it, announce;
 *  - hbwatch's adoption of each of them, step by step, with the calls the
 *    daemon makes (watch_consider(), watch_evaluate()): IPC_STAT, attach
 *    and read the record, pidfd_open, /proc/PID/stat, then the uids and
 *    the clock offset both ways: from /proc (status, timens_offsets, the
 *    path of kernels before 6.13) and through the pidfd (pidinfo.h), and
 *    the exit's epoll registration.
 * Prints the median and p90 of each step in microseconds, and a RESULT
 * {json}; asserts nothing. */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "bench_common.h"
#include "pidinfo.h"
#include "proc.h"
#include "record.h"
#include "registry.h"
#include "timens.h"
#include "vouch.h"

#define KEY	0x4bd7e7cdu
#define K_MAX	5000u
#define C_STEPS 6
#define D_STEPS 11

static const char *const c_names[C_STEPS] = {"registry_attach", "registry_vouch",
					     "record_create",	"record_share_group",
					     "record_set",	"registry_announce"};
static const char *const d_names[D_STEPS] = {"IPC_STAT",
					     "record_attach (shmat)",
					     "record_read",
					     "pidfd_open",
					     "/proc/PID/stat (start, CPU)",
					     "/proc/PID/status (uids)",
					     "timens_offsets x2 (clock)",
					     "PIDFD_GET_INFO (uids)",
					     "PIDFD_GET_TIME_NAMESPACE",
					     "epoll_ctl ADD (exit)",
					     "close, shmdt (the exit)"};

struct child_rep {
	_Atomic int32_t done;
	int32_t shmid;
	int32_t r;
	uint64_t ns[C_STEPS];
};

static void child(struct child_rep *rep, int go_fd)
{
	struct hb_registry reg;
	struct hb_record *rec;
	uint64_t t[C_STEPS + 1];
	int shmid = -1, r;
	char c;

	/* Wait for our turn: one at a time, as measured figures want. */
	if (read(go_fd, &c, 1) != 1)
		_exit(1);
	t[0] = now_ns();
	r = registry_attach((int)KEY, false, &reg, NULL, 0);
	t[1] = now_ns();
	if (r == 0)
		r = registry_vouch(&reg, NULL, 0);
	t[2] = now_ns();
	if (r == 0)
		r = record_create(getpid(), 0, true, &rec, &shmid);
	t[3] = now_ns();
	if (r == 0)
		(void)record_share_group(shmid, reg.shmid);
	t[4] = now_ns();
	if (r == 0)
		record_set(rec, HB_RECORD_OPEN, 60000000000ull, "adopt");
	t[5] = now_ns();
	if (r == 0)
		registry_announce(&reg, shmid);
	t[6] = now_ns();
	rep->r = r;
	rep->shmid = shmid;
	for (int i = 0; i < C_STEPS; i++)
		rep->ns[i] = t[i + 1] - t[i];
	atomic_store(&rep->done, 1);
	for (;;)
		pause();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void pct(uint64_t *v, unsigned n, double *p50, double *p90)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	*p50 = n ? (double)v[n / 2] / 1e3 : 0;
	*p90 = n ? (double)v[n * 9 / 10] / 1e3 : 0;
}

int main(int argc, char **argv)
{
	unsigned k = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
	struct child_rep *reps;
	struct hb_registry reg;
	uint64_t *cv[C_STEPS], *dv[D_STEPS];
	double c50[C_STEPS], c90[C_STEPS], d50[D_STEPS], d90[D_STEPS];
	pid_t *pids;
	bool adopted;
	unsigned ok = 0;
	int ep, ns;

	if (k == 0 || k > K_MAX) {
		fprintf(stderr, "usage: bench_adopt [K (1..%u)]\n", K_MAX);
		return 2;
	}
	ns = bench_isolate(KEY);
	if (registry_create((int)KEY, 16384, (gid_t)-1, &reg, &adopted, NULL, 0) < 0) {
		fprintf(stderr, "bench_adopt: cannot create a registry\n");
		return 1;
	}
	atomic_store(&reg.hdr->owner_pid, (int32_t)getpid());
	reps = mmap(NULL, k * sizeof(*reps), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		    0);
	pids = calloc(k, sizeof(*pids));
	for (int i = 0; i < C_STEPS; i++)
		cv[i] = calloc(k, sizeof(uint64_t));
	for (int i = 0; i < D_STEPS; i++)
		dv[i] = calloc(k, sizeof(uint64_t));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (reps == MAP_FAILED || !pids || ep < 0)
		return 1;
	for (unsigned i = 0; i < k; i++) {
		int p[2];
		char c = 1;

		if (pipe(p) < 0)
			break;
		pids[i] = fork();
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(p[1]);
			child(&reps[i], p[0]);
		}
		close(p[0]);
		/* Its registration, then hbwatch's adoption of it: the steps
		 * one after the other, each process fresh. */
		(void)!write(p[1], &c, 1);
		close(p[1]);
		for (int w = 0; w < 25000 && !atomic_load(&reps[i].done); w++)
			bench_sleep(200000u);
		if (!atomic_load(&reps[i].done) || reps[i].r < 0 || reps[i].shmid < 0)
			continue;

		struct shmid_ds ds;
		struct hb_record_map m;
		struct hb_record_view v;
		uid_t ru, eu, su;
		int64_t rel;
		uint64_t t[D_STEPS + 1];
		int fd, nsfd;

		t[0] = now_ns();
		shmctl(reps[i].shmid, IPC_STAT, &ds);
		t[1] = now_ns();
		if (record_attach_sized(reps[i].shmid, ds.shm_segsz, true, &m) < 0)
			continue;
		t[2] = now_ns();
		record_read(&m, &v);
		t[3] = now_ns();
		fd = pidfd_open(pids[i], 0);
		t[4] = now_ns();
		struct proc_stat st;
		proc_stat_facts(pids[i], &st);
		t[5] = now_ns();
		proc_uids(pids[i], &ru, &eu, &su);
		t[6] = now_ns();
		timens_relative(pids[i], &rel);
		t[7] = now_ns();
		pidinfo_uids(fd, &ru, &su);
		t[8] = now_ns();
		nsfd = pidinfo_same_timens(fd);
		t[9] = now_ns();
		epoll_ctl(ep, EPOLL_CTL_ADD, fd,
			  &(struct epoll_event){.events = EPOLLIN | EPOLLET});
		t[10] = now_ns();
		close(fd);
		record_unmap(&m);
		t[11] = now_ns();
		(void)nsfd;
		for (int s = 0; s < C_STEPS; s++)
			cv[s][ok] = reps[i].ns[s];
		for (int s = 0; s < D_STEPS; s++)
			dv[s][ok] = t[s + 1] - t[s];
		ok++;
	}
	for (unsigned i = 0; i < k; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	registry_detach(&reg);
	bench_remove_ipc(KEY);
	printf("bench_adopt: %u fresh processes, each registering, then adopted step by step%s\n",
	       ok, ns ? "; private IPC namespace" : "");
	printf("\n%-30s %10s %10s\n", "hb_register() step", "p50 us", "p90 us");
	for (int s = 0; s < C_STEPS; s++) {
		pct(cv[s], ok, &c50[s], &c90[s]);
		printf("%-30s %10.1f %10.1f\n", c_names[s], c50[s], c90[s]);
	}
	printf("\n%-30s %10s %10s\n", "adoption step (hbwatch)", "p50 us", "p90 us");
	for (int s = 0; s < D_STEPS; s++) {
		pct(dv[s], ok, &d50[s], &d90[s]);
		printf("%-30s %10.1f %10.1f\n", d_names[s], d50[s], d90[s]);
	}
	printf("RESULT {\"bench\":\"adopt\",\"processes\":%u,\"client_p50_us\":{", ok);
	for (int s = 0; s < C_STEPS; s++)
		printf("%s\"%s\":%.1f", s ? "," : "", c_names[s], c50[s]);
	printf("},\"adoption_p50_us\":{");
	for (int s = 0; s < D_STEPS; s++)
		printf("%s\"%s\":%.1f", s ? "," : "", d_names[s], d50[s]);
	printf("}}\n");
	return 0;
}
