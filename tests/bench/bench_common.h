/* Helpers shared by the benchmarks (header-only, static functions).
 *
 * Isolation: bench_isolate() puts the process in a private IPC namespace
 * when it can (root), so the registry and the heartbeat records made in it
 * are its own and vanish with it; the key is a private one in any case
 * (never the host's 0x5098).  Every process a benchmark starts is tracked
 * by pid and killed by pid.
 */
#ifndef HBWATCH_BENCH_COMMON_H
#define HBWATCH_BENCH_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h" /* now_ns(): CLOCK_MONOTONIC, the clock of heartbeats */
#include "registry.h"

static inline void bench_sleep(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Sleep until the absolute CLOCK_MONOTONIC time AT_NS. */
static inline void bench_sleep_until(uint64_t at_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(at_ns / 1000000000u),
			      .tv_nsec = (long)(at_ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Private IPC namespace if we may; sets HBWATCH_KEY to KEY either way.
 * Returns 1 if namespaced, 0 if only the private key protects the host. */
static inline int bench_isolate(unsigned key)
{
	char k[16];
	int ns = 0;

	if (!getenv("HBWATCH_BENCH_NO_UNSHARE"))
		ns = unshare(CLONE_NEWIPC) == 0;
	snprintf(k, sizeof(k), "0x%x", key);
	setenv("HBWATCH_KEY", k, 1);
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	return ns;
}

/* Remove the registry at KEY.  Records need no removal: the library marks
 * each for removal at creation, and it goes with its process. */
static inline void bench_remove_ipc(unsigned key)
{
	int shmid = shmget((key_t)key, 0, 0);

	if (shmid >= 0)
		shmctl(shmid, IPC_RMID, NULL);
}

/* The number in the file PATH (a sysctl), or -errno. */
static inline long bench_read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v;

	if (!f)
		return -errno;
	if (fscanf(f, "%ld", &v) != 1)
		v = -EIO;
	fclose(f);
	return v;
}

#define BENCH_SHMMNI	 "/proc/sys/kernel/shmmni"
#define BENCH_SHMMNI_MAX 32768u /* IPCMNI, unless the kernel was booted with ipcmni_extend */

/* Raise kernel.shmmni (segments per IPC namespace) to WANT, in our own IPC
 * namespace only (NAMESPACED): with a record per registration, the default
 * of 4096 caps how many processes can register.  The host's is never
 * touched.  Returns the limit now in force, or -errno. */
static inline long bench_shmmni(unsigned want, int namespaced)
{
	long cur = bench_read_long(BENCH_SHMMNI);
	FILE *f;

	if (cur < 0 || (unsigned long)cur >= want || !namespaced)
		return cur;
	f = fopen(BENCH_SHMMNI, "w");
	if (!f)
		return cur;
	fprintf(f, "%u\n", want < BENCH_SHMMNI_MAX ? want : BENCH_SHMMNI_MAX);
	fclose(f);
	return bench_read_long(BENCH_SHMMNI);
}

/* Does KEY hold a registry the daemon has finished making?  It publishes
 * the magic last, so a client that attaches earlier would be refused. */
static inline int bench_registry_ready(unsigned key)
{
	int shmid = shmget((key_t)key, 0, 0);
	const struct hb_registry_header *h;
	int ok;

	if (shmid < 0)
		return 0;
	h = shmat(shmid, NULL, SHM_RDONLY);
	if (h == (void *)-1)
		return 0;
	ok = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == HB_REGISTRY_MAGIC;
	shmdt(h);
	return ok;
}

/* Open fds of PID (the daemon holds one pidfd per watched process), or -1. */
static inline int bench_count_fds(pid_t pid)
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

struct bench_daemon {
	pid_t pid;
	char dir[64];
	char conf[96];
	char log[96];
};

/* Start HBWATCH with CONFIG (the whole ini text) in a fresh temp dir;
 * NOFILE, if not 0, is its RLIMIT_NOFILE (soft and hard).  Waits until the
 * registry at KEY is ready.  Returns 0 or -1. */
static inline int bench_daemon_start(struct bench_daemon *d, const char *hbwatch,
				     const char *config, unsigned key, rlim_t nofile)
{
	FILE *f;

	snprintf(d->dir, sizeof(d->dir), "/tmp/hbwatch-bench-XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	snprintf(d->conf, sizeof(d->conf), "%s/hbwatch.ini", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/hbwatch.log", d->dir);
	f = fopen(d->conf, "w");
	if (!f)
		return -1;
	fputs(config, f);
	fclose(f);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		/* A benchmark that dies leaves no daemon behind. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (nofile && setrlimit(RLIMIT_NOFILE, &(struct rlimit){nofile, nofile}) < 0) {
			/* No CAP_SYS_RESOURCE: as high as the hard limit allows. */
			struct rlimit rl;
			if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
				rl.rlim_cur = nofile < rl.rlim_max ? nofile : rl.rlim_max;
				setrlimit(RLIMIT_NOFILE, &rl);
			}
		}
		unsetenv("NOTIFY_SOCKET");
		execl(hbwatch, hbwatch, "-c", d->conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		if (bench_registry_ready(key))
			return 0;
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			fprintf(stderr, "hbwatch exited at start; see %s\n", d->log);
			return -1;
		}
		bench_sleep(10000000u);
	}
	return -1;
}

/* Stop the daemon (by pid) and remove its files; KEEP_LOG keeps the dir. */
static inline void bench_daemon_stop(struct bench_daemon *d, int keep_log)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (int i = 0; i < 300 && waitpid(d->pid, NULL, WNOHANG) == 0; i++)
			bench_sleep(10000000u);
		if (waitpid(d->pid, NULL, WNOHANG) == 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
		}
		d->pid = 0;
	}
	if (!keep_log && d->dir[0]) {
		unlink(d->conf);
		unlink(d->log);
		rmdir(d->dir);
	}
}

/* CPU time of PID so far, in ns: the scheduler's exact sum_exec_runtime
 * (first field of /proc/PID/task/TID/schedstat) summed over its threads
 * (hbwatch has the event loop and the doorbell thread).  0 if unreadable. */
static inline uint64_t bench_cpu_ns(pid_t pid)
{
	char path[300], line[128];
	struct dirent *e;
	uint64_t sum = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		unsigned long long run = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && sscanf(line, "%llu", &run) == 1)
			sum += run;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

/* A field of /proc/PID/status in kB (e.g. "VmHWM"), or 0. */
static inline unsigned long bench_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtoul(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static inline int bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile P (0..100) of sorted V[N]. */
static inline int64_t bench_pct_i64(const int64_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static inline double bench_median_d(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
