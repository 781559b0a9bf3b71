/* bench_detect: how long after its deadline a hung process receives
 * hbwatch's signal.
 *
 * Starts the real hbwatch on a private key with a generated configuration,
 * then runs HANGS workers in waves of WAVE concurrent processes.  Each
 * worker registers with a timeout drawn from 50..500 ms, beats for a random
 * while, notes the time of its last beat, and stops beating.  Its SIGABRT
 * handler reads CLOCK_MONOTONIC on arrival and reports arrival - (last beat
 * + timeout) through a pipe: the latency as the victim sees it, which
 * includes hbwatch's timer wake-up, scan, checks, and signal delivery.
 * Optionally BACKGROUND other processes beat all the while.
 *
 * Usage: bench_detect HBWATCH [HANGS [WAVE [BACKGROUND]]]
 * Prints a table and a final line: RESULT {json}.  Not a test: it never
 * fails on a figure.  Run it as root: it puts itself in a private IPC
 * namespace (or set HBWATCH_BENCH_NO_UNSHARE=1 to rely on the private key).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hbwatch.h>

#define BENCH_KEY "4bd7e7c7"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static volatile uint64_t worker_deadline;
static int worker_report_fd = -1;

static void on_abort(int sig)
{
	int64_t late = (int64_t)(mono_ns() - worker_deadline);

	(void)sig;
	if (write(worker_report_fd, &late, sizeof(late)) != sizeof(late))
		_exit(3);
	_exit(0);
}

/* A worker: register, beat for BEAT_FOR_NS, then hang until signalled. */
static void worker(unsigned timeout_ms, uint64_t beat_for_ns, int report_fd)
{
	struct sigaction sa = {.sa_handler = on_abort};
	uint64_t start;

	worker_report_fd = report_fd;
	sigaction(SIGABRT, &sa, NULL);
	if (hb_register("bench", timeout_ms) < 0)
		_exit(2);
	start = mono_ns();
	while (mono_ns() - start < beat_for_ns) {
		hb_beat();
		sleep_ns((uint64_t)timeout_ms * 1000000u / 4);
	}
	uint64_t last = mono_ns();
	hb_beat();
	worker_deadline = last + (uint64_t)timeout_ms * 1000000u;
	for (;;)
		pause();
}

/* A background process that beats every 100 ms until killed. */
static void beater(void)
{
	if (hb_register("background", 1000) < 0)
		_exit(2);
	for (;;) {
		hb_beat();
		sleep_ns(100000000u);
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static pid_t start_daemon(const char *hbwatch, const char *dir)
{
	char conf[256], log[256];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/hbwatch.ini", dir);
	snprintf(log, sizeof(log), "%s/hbwatch.log", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(
	    f,
	    "[hbwatch]\nkey = 0x%s\nslots = 4096\ngroup =\nkill_grace = 5s\n\n"
	    "[bench]\naction = kill\nsignal = SIGABRT\nkill_burst = 1000\nkill_interval = 1ms\n\n"
	    "[background]\naction = log\n",
	    BENCH_KEY);
	fclose(f);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execl(hbwatch, hbwatch, "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	unsigned hangs = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 120;
	unsigned wave = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 20;
	unsigned background = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;
	char dir[] = "/tmp/hbwatch-bench-XXXXXX";
	int64_t *late;
	pid_t daemon, *bg;
	unsigned got = 0, failed = 0;
	int pipefd[2];

	if (argc < 2 || hangs == 0 || wave == 0) {
		fprintf(stderr, "usage: bench_detect HBWATCH [HANGS [WAVE [BACKGROUND]]]\n");
		return 2;
	}
	if (!getenv("HBWATCH_BENCH_NO_UNSHARE") && geteuid() == 0 && unshare(CLONE_NEWIPC) < 0) {
		perror("unshare(CLONE_NEWIPC)");
		return 1;
	}
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	setenv("HBWATCH_KEY", BENCH_KEY, 1);
	if (!mkdtemp(dir) || pipe(pipefd) < 0) {
		perror("setup");
		return 1;
	}
	daemon = start_daemon(argv[1], dir);
	/* Ready once the table exists (the daemon creates it before READY=1). */
	for (int i = 0; i < 500 && shmget(0x4bd7e7c7, 0, 0) < 0; i++)
		sleep_ns(10000000u);

	bg = calloc(background + 1, sizeof(*bg));
	late = calloc(hangs, sizeof(*late));
	for (unsigned i = 0; i < background; i++) {
		bg[i] = fork();
		if (bg[i] == 0)
			beater();
	}
	srand(42);
	for (unsigned done = 0; done < hangs; done += wave) {
		unsigned n = hangs - done < wave ? hangs - done : wave;
		for (unsigned i = 0; i < n; i++) {
			unsigned timeout = 50 + (unsigned)(rand() % 451);
			uint64_t beat_for = (uint64_t)(rand() % 300) * 1000000u;
			if (fork() == 0) {
				close(pipefd[0]);
				worker(timeout, beat_for, pipefd[1]);
			}
		}
		for (unsigned i = 0; i < n; i++) {
			int status;
			pid_t p = wait(&status);
			if (p < 0)
				break;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed++;
		}
		int64_t v;
		while (got < hangs) {
			int fl = fcntl(pipefd[0], F_GETFL);
			fcntl(pipefd[0], F_SETFL, fl | O_NONBLOCK);
			if (read(pipefd[0], &v, sizeof(v)) != sizeof(v))
				break;
			late[got++] = v;
		}
	}
	for (unsigned i = 0; i < background; i++)
		kill(bg[i], SIGKILL);
	for (unsigned i = 0; i < background; i++)
		waitpid(bg[i], NULL, 0);
	kill(daemon, SIGTERM);
	waitpid(daemon, NULL, 0);

	if (got == 0) {
		fprintf(stderr, "no measurements (%u workers failed); see %s/hbwatch.log\n", failed,
			dir);
		return 1;
	}
	qsort(late, got, sizeof(*late), cmp_i64);
	double med = (double)late[got / 2] / 1e6, p99 = (double)late[(got * 99) / 100] / 1e6;
	double min = (double)late[0] / 1e6, max = (double)late[got - 1] / 1e6;
	printf("hangs measured    %u (of %u; %u workers failed)\n", got, hangs, failed);
	printf("concurrent hangs  %u per wave, timeouts 50..500 ms, %u background beaters\n", wave,
	       background);
	printf("deadline -> signal arrival, ms: min %.3f  median %.3f  p99 %.3f  max %.3f\n", min,
	       med, p99, max);
	printf("RESULT {\"hangs\":%u,\"background\":%u,\"min_ms\":%.3f,\"median_ms\":%.3f,"
	       "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
	       got, background, min, med, p99, max);
	char path[300];
	snprintf(path, sizeof(path), "%s/hbwatch.ini", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/hbwatch.log", dir);
	unlink(path);
	rmdir(dir);
	shmctl(shmget(0x4bd7e7c7, 0, 0), IPC_RMID, NULL);
	semctl(semget(0x4bd7e7c7, 0, 0), 0, IPC_RMID);
	return 0;
}
