/* bench_beat: what one heartbeat costs, hb_beat() against the alternatives.
 *
 *   bench_beat [-r ROUNDS] [-m ROUND_MS]     (defaults: 7 rounds of ~100 ms)
 *
 * Four methods, measured in one run:
 *   hb_beat    the public API, through the shared libhbwatch (a PLT call, as
 *              a service makes it), registered for real: one atomic load of
 *              the published record, the clock read, one store into the
 *              process's own heartbeat record;
 *   hb_task_beat  the same for a task opened with hb_task_open(): a check
 *              that the registration it belongs to still stands (one
 *              atomic load), the clock read, one store into its slot;
 *   sd_notify  sd_notify(0, "WATCHDOG=1") to an AF_UNIX datagram socket this
 *              program binds and drains, standing in for PID 1;
 *   bare       clock_gettime(CLOCK_MONOTONIC) plus a release store to a
 *              cache-line aligned word: the least a beat can cost.
 * Each round runs every method for about ROUND_MS, in a rotating order so
 * that machine noise and cache effects hit them alike; the report is the
 * median per-op time of each.  Targets: sd_notify/hb_beat >= 100 and
 * hb_beat/bare <= 2, hb_task_beat/bare <= 2.  Informational: the exit status is 0 whatever the
 * figures (1 only if the benchmark could not run).
 *
 * The registry.  hb_register() needs one to announce its record in.  The
 * benchmark links only the public hbwatch_dep: linking the internal static
 * library too would put a second copy of the client code (and its state) in
 * the program, and its hb_beat() would shadow the shared library's, so we
 * would time the wrong function.  The registry is therefore created by the
 * separate mkregistry helper (internal API, path compiled in), at a private
 * key in a private IPC namespace when we are root, else at an unused key
 * derived from our pid; never at the host's 0x5098.  It is removed at the
 * end; the record is marked for removal by hb_register() itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <hbwatch.h>

#ifndef BENCH_MKREGISTRY
#error "BENCH_MKREGISTRY must name the mkregistry helper"
#endif

#define ROUNDS_DEFAULT	 7
#define ROUNDS_MAX	 99
#define ROUND_MS_DEFAULT 100
#define QUIT_MSG	 "BENCH_QUIT=1"

extern char **environ;

enum { M_BEAT, M_NOTIFY, M_BARE, M_TASK, M_COUNT };
static const char *const method_name[M_COUNT] = {"hb_beat", "sd_notify", "bare", "hb_task_beat"};
static hb_task *bench_task;

/* Cleanup state, read by the signal handler too. */
static volatile sig_atomic_t ipc_key; /* 0: no registry of ours */
static char sock_dir[64];
static char sock_path[sizeof(sock_dir) + 16];

/* The bare method's target: alone on its cache line like a record's beat_ns,
 * so no false sharing with anything else we touch. */
static _Alignas(64) _Atomic uint64_t bare_cell;

static atomic_ulong beat_failures;
static atomic_ulong notify_failures;
static atomic_ulong notify_received;
static unsigned long notify_sent; /* main thread only */
static int sock_fd = -1;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Async-signal-safe: only system calls. */
static void cleanup(void)
{
	if (ipc_key) {
		int shmid = shmget(ipc_key, 0, 0);

		if (shmid >= 0)
			shmctl(shmid, IPC_RMID, NULL);
		ipc_key = 0;
	}
	if (sock_path[0])
		unlink(sock_path);
	if (sock_dir[0])
		rmdir(sock_dir);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* True if no segment lives at KEY, so mkregistry will create a registry
 * rather than adopt or refuse someone else's. */
static int key_unused(int key)
{
	return shmget(key, 0, 0) < 0 && errno == ENOENT;
}

/* Pick the key and make sure the host's registry is out of reach. */
static int choose_key(int *namespaced)
{
	*namespaced = unshare(CLONE_NEWIPC) == 0;
	/* 0x4842xxxx ("HB") plus pid bits: far from 0x5098, and distinct for
	 * concurrent runs; probe onwards in case a stale one is in the way. */
	for (int i = 0; i < 64; i++) {
		int key = (int)(0x48420000u | (((unsigned)getpid() + (unsigned)i) & 0xffffu));

		if (key_unused(key))
			return key;
	}
	return -1;
}

static int make_registry(int key)
{
	char keystr[16], *argv[] = {(char *)BENCH_MKREGISTRY, (char *)"64", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, r;

	snprintf(keystr, sizeof(keystr), "0x%x", (unsigned)key);
	if (setenv("HBWATCH_KEY", keystr, 1) < 0)
		return -errno;
	/* Nothing of the helper's may clutter the report. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		fprintf(stderr, "bench_beat: cannot run %s: %s\n", argv[0], strerror(r));
		return -r;
	}
	ipc_key = key; /* from here on the registry may exist: remove it at exit */
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench_beat: %s failed\n", argv[0]);
		return -EIO;
	}
	return 0;
}

/* The stand-in for PID 1: read datagrams as fast as they come, so senders
 * never find the queue full (a full queue would block sd_notify and we
 * would time our receiver, not the sender). */
static void *drain(void *arg)
{
	char buf[256];

	(void)arg;
	for (;;) {
		ssize_t n = recv(sock_fd, buf, sizeof(buf) - 1, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf[n] = '\0';
		if (strcmp(buf, QUIT_MSG) == 0)
			break;
		atomic_fetch_add_explicit(&notify_received, 1, memory_order_relaxed);
	}
	return NULL;
}

static int make_socket(pthread_t *thread)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *tmp = getenv("TMPDIR");
	int one = 1, big = 4 << 20, r;

	if (!tmp || strlen(tmp) + sizeof("/hbbench.XXXXXX") > sizeof(sock_dir))
		tmp = "/tmp";
	snprintf(sock_dir, sizeof(sock_dir), "%s/hbbench.XXXXXX", tmp);
	if (!mkdtemp(sock_dir)) {
		sock_dir[0] = '\0';
		return -errno;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/notify", sock_dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock_fd < 0)
		return -errno;
	if (bind(sock_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	/* PID 1 sets SO_PASSCRED on its notify socket, which makes the kernel
	 * attach credentials to every datagram: part of what a sender pays. */
	setsockopt(sock_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	/* A deep queue absorbs bursts while the drain thread is descheduled;
	 * the forced variant needs CAP_NET_ADMIN, the plain one is capped. */
	if (setsockopt(sock_fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(sock_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	r = pthread_create(thread, NULL, drain, NULL);
	if (r != 0)
		return -r;
	/* Also hides a real NOTIFY_SOCKET: the benchmark must never send
	 * WATCHDOG=1 to the service manager it happens to run under. */
	if (setenv("NOTIFY_SOCKET", sock_path, 1) < 0)
		return -errno;
	return 0;
}

static void stop_socket(pthread_t thread)
{
	/* The drain thread blocks in recv(): wake it with a datagram it knows. */
	sd_notify(0, QUIT_MSG);
	pthread_join(thread, NULL);
	close(sock_fd);
	unsetenv("NOTIFY_SOCKET");
}

/* Run METHOD N times; return the elapsed nanoseconds.  The loops are kept
 * alike (a call, a check of the result where there is one) so the figures
 * differ by the work done, not by the harness. */
static uint64_t run(int method, uint64_t n)
{
	unsigned long fails = 0;
	uint64_t t0 = mono_ns();

	switch (method) {
	case M_BEAT:
		for (uint64_t i = 0; i < n; i++)
			fails += hb_beat() != 0;
		atomic_fetch_add(&beat_failures, fails);
		break;
	case M_TASK:
		for (uint64_t i = 0; i < n; i++)
			fails += hb_task_beat(bench_task) != 0;
		atomic_fetch_add(&beat_failures, fails);
		break;
	case M_NOTIFY:
		/* > 0 is sent; 0 would mean NOTIFY_SOCKET vanished, < 0 is an error. */
		for (uint64_t i = 0; i < n; i++)
			fails += sd_notify(0, "WATCHDOG=1") <= 0;
		atomic_fetch_add(&notify_failures, fails);
		notify_sent += n;
		break;
	default:
		for (uint64_t i = 0; i < n; i++) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			atomic_store_explicit(
			    &bare_cell, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
			    memory_order_release);
		}
		break;
	}
	return mono_ns() - t0;
}

/* Warm up METHOD (page faults, caches, CPU frequency) and find how many
 * operations fill about ROUND_MS. */
static uint64_t calibrate(int method, unsigned round_ms)
{
	uint64_t n = 64, ns;

	for (;;) {
		ns = run(method, n);
		if (ns >= 20000000u || n >= (UINT64_C(1) << 40))
			break;
		n *= 4;
	}
	/* Once more at the final size, so the first timed round is warm too. */
	n = n * round_ms * 1000000u / (ns ? ns : 1);
	if (n == 0)
		n = 1;
	run(method, n);
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned rounds = ROUNDS_DEFAULT, round_ms = ROUND_MS_DEFAULT;
	double per_op[M_COUNT][ROUNDS_MAX], med[M_COUNT];
	uint64_t n[M_COUNT];
	pthread_t drainer;
	int opt, key, namespaced, r;

	while ((opt = getopt(argc, argv, "r:m:h")) != -1) {
		switch (opt) {
		case 'r':
			if (parse_uint(optarg, 1, ROUNDS_MAX, &rounds) < 0)
				goto usage;
			break;
		case 'm':
			if (parse_uint(optarg, 1, 10000, &round_ms) < 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	key = choose_key(&namespaced);
	if (key < 0) {
		fprintf(stderr, "bench_beat: no unused SysV key found\n");
		return 1;
	}
	r = make_registry(key);
	if (r == 0)
		r = hb_register("bench-beat", 60000);
	if (r == 0)
		r = hb_task_open(&bench_task, "bench-task", 60000);
	if (r < 0) {
		fprintf(stderr, "bench_beat: cannot set up the registry at key 0x%x: %s\n",
			(unsigned)key, strerror(-r));
		cleanup();
		return 1;
	}
	r = make_socket(&drainer);
	if (r < 0) {
		fprintf(stderr, "bench_beat: cannot set up the notify socket: %s\n", strerror(-r));
		hb_unregister();
		cleanup();
		return 1;
	}

	for (int m = 0; m < M_COUNT; m++)
		n[m] = calibrate(m, round_ms);
	for (unsigned i = 0; i < rounds; i++) {
		for (int j = 0; j < M_COUNT; j++) {
			int m = (int)((i + (unsigned)j) % M_COUNT);

			per_op[m][i] = (double)run(m, n[m]) / (double)n[m];
		}
	}
	stop_socket(drainer);
	hb_task_close(bench_task);
	hb_unregister();
	cleanup();

	printf("hbwatch beat benchmark: %u rounds of ~%u ms per method, median per op\n", rounds,
	       round_ms);
	printf("registry at private key 0x%x%s\n\n", (unsigned)key,
	       namespaced ? " in a private IPC namespace" : "");
	printf("%-12s %12s %12s %12s %14s\n", "method", "median ns", "min ns", "max ns",
	       "ops/round");
	for (int m = 0; m < M_COUNT; m++) {
		med[m] = median(per_op[m], (int)rounds); /* sorts: min and max at the ends */
		printf("%-12s %12.1f %12.1f %12.1f %14llu\n", method_name[m], med[m], per_op[m][0],
		       per_op[m][rounds - 1], (unsigned long long)n[m]);
	}

	double notify_over_beat = med[M_NOTIFY] / med[M_BEAT];
	double beat_over_bare = med[M_BEAT] / med[M_BARE];
	double task_over_bare = med[M_TASK] / med[M_BARE];

	printf("\n%-22s %10.1f   target >= 100  %s\n", "sd_notify / hb_beat", notify_over_beat,
	       notify_over_beat >= 100 ? "PASS" : "MISS");
	printf("%-22s %10.2f   target <= 2    %s\n", "hb_beat / bare", beat_over_bare,
	       beat_over_bare <= 2 ? "PASS" : "MISS");
	printf("%-22s %10.2f   target <= 2    %s\n", "hb_task_beat / bare", task_over_bare,
	       task_over_bare <= 2 ? "PASS" : "MISS");
	/* Counted over every call, warm-up included; the drain thread has
	 * read all the queue when it sees the quit message, which came last. */
	printf("failures: hb_beat and hb_task_beat %lu, sd_notify %lu; datagrams received %lu of "
	       "%lu sent\n",
	       atomic_load(&beat_failures), atomic_load(&notify_failures),
	       atomic_load(&notify_received), notify_sent);
	printf("RESULT {\"hb_beat_ns\":%.2f,\"sd_notify_ns\":%.1f,\"bare_ns\":%.2f,"
	       "\"hb_task_beat_ns\":%.2f,\"notify_over_beat\":%.1f,\"beat_over_bare\":%.3f,"
	       "\"task_over_bare\":%.3f,\"beat_failures\":%lu,\"notify_failures\":%lu}\n",
	       med[M_BEAT], med[M_NOTIFY], med[M_BARE], med[M_TASK], notify_over_beat,
	       beat_over_bare, task_over_bare, atomic_load(&beat_failures),
	       atomic_load(&notify_failures));
	return 0;

usage:
	fprintf(stderr, "Usage: bench_beat [-r ROUNDS (1..%d)] [-m ROUND_MS (1..10000)]\n",
		ROUNDS_MAX);
	return 2;
}
