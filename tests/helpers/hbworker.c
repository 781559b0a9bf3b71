/* hbworker: a heartbeat client for tests, using only the public API.
 *
 * hbworker --name NAME --timeout-ms N [--beat-ms N] [--hang-after-ms N]
 *          [--exit-after-ms N] [--ignore SIGNAL]... [--no-register]
 *          [--wait-ms N] [--task LABEL:TIMEOUT_MS[:HANG_AFTER_MS[:EXTEND_MS]]]...
 *          [--many-tasks N] [--pause-after-ms N --pause-ms N [--extend-ms N]]
 *          [--hang-how pause|spin|read|stop] [--threads N]
 *          [--ready-fd FD] [--quiet] [--seccomp-ipc]
 *          [--work-ms N] [--touch-mb N] [--core]
 *
 * Registers, then beats every --beat-ms (default timeout/4) until
 * --hang-after-ms (then keeps living without beating) or --exit-after-ms
 * (then returns from main, so the atexit unregistration runs).
 * --hang-how says how it hangs: asleep (pause, the default), in a busy
 * loop (spin), blocked reading a pipe nobody writes (read), or stopped by
 * its own SIGSTOP (stop).  --threads N starts N more threads that only
 * sleep.
 *
 * --work-ms N spends N ms of CPU (its own thread's CPU time, so a process
 * denied the CPU takes longer) after each beat.  --touch-mb N writes N MB
 * of memory before registering (a core dump of some size), and --core
 * allows core dumps (the test harness disables them).
 *
 * Each --task is opened after registering and beaten with the process
 * until its own HANG_AFTER_MS (then it stays open, silent, while the
 * process and the other tasks beat on; with EXTEND_MS, it calls
 * hb_task_extend(EXTEND_MS) once as it falls silent).  --pause-after-ms stops the
 * process's beats for --pause-ms, after hb_extend(--extend-ms) if given.
 * Exit status 5: a task call failed.
 *
 * Exit status: 0 normal exit; 2 usage error; 4 hb_beat() failed; and when
 * With --wait-ms, hb_register_wait() instead of hb_register(), and 15
 * for -EPERM (hbwatch refused the registration).  When
 * hb_register() fails, the error it returned: 10 -ENOENT, 11 -ENOSPC,
 * 12 -EINVAL, 13 -ETIMEDOUT, 14 -EPROTO, 16 -ENOSYS, 3 anything else.
 *
 * --seccomp-ipc first installs a seccomp filter under which shmget(),
 * shmat() and shmctl() fail with EPERM, as systemd's
 * SystemCallFilter=~@ipc with SystemCallErrorNumber=EPERM does (exit 2 on
 * an architecture the filter does not know).  Tests check
 * specific errnos through this status, so keep the mapping stable.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hbwatch.h"

#define EXIT_USAGE    2
#define EXIT_REGISTER 3
#define EXIT_BEAT     4
#define EXIT_TASK     5
#define MAX_TASKS     (8 + HB_TASKS_MAX)
#define NEVER	      UINT64_MAX

struct opts {
	const char *name;
	bool have_timeout;
	unsigned int timeout_ms;
	uint64_t beat_ms; /* 0: timeout/4 */
	uint64_t hang_ms; /* NEVER: do not hang */
	uint64_t exit_ms; /* NEVER: run until killed */
	bool reg;
	bool wait;
	uint64_t wait_ms;
	int ready_fd; /* -1: none */
	bool quiet;
	bool seccomp_ipc;
	struct {
		char label[HB_TASK_LABEL_MAX + 1];
		unsigned timeout_ms;
		uint64_t hang_ms;   /* NEVER: beats until the end */
		unsigned extend_ms; /* hb_task_extend() as it falls silent; 0: none */
		hb_task *t;
	} task[MAX_TASKS];
	int n_tasks;
	uint64_t pause_ms, pause_len_ms; /* NEVER: no pause */
	unsigned extend_ms;		 /* 0: no hb_extend() */
	const char *hang_how;		 /* pause, spin, read, stop */
	uint64_t threads;		 /* more threads, asleep */
	uint64_t work_ms;		 /* CPU spent after each beat */
	uint64_t touch_mb;		 /* memory written before registering */
	bool core;			 /* allow core dumps */
};

/* LABEL:TIMEOUT_MS[:HANG_AFTER_MS[:EXTEND_MS]] */
static int parse_u64(const char *s, uint64_t max, uint64_t *out);

static int parse_task(struct opts *o, const char *arg)
{
	char buf[128], *tmo, *hang, *ext = NULL;
	uint64_t v;

	if (o->n_tasks == MAX_TASKS || strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	tmo = strchr(buf, ':');
	if (!tmo)
		return -EINVAL;
	*tmo++ = '\0';
	hang = strchr(tmo, ':');
	if (hang) {
		*hang++ = '\0';
		ext = strchr(hang, ':');
		if (ext)
			*ext++ = '\0';
	}
	if (strlen(buf) > HB_TASK_LABEL_MAX || parse_u64(tmo, UINT_MAX, &v) < 0)
		return -EINVAL;
	strcpy(o->task[o->n_tasks].label, buf);
	o->task[o->n_tasks].timeout_ms = (unsigned)v;
	o->task[o->n_tasks].hang_ms = NEVER;
	if (hang && parse_u64(hang, UINT64_C(1) << 40, &o->task[o->n_tasks].hang_ms) < 0)
		return -EINVAL;
	if (ext && parse_u64(ext, UINT_MAX, &v) < 0)
		return -EINVAL;
	o->task[o->n_tasks].extend_ms = ext ? (unsigned)v : 0;
	o->n_tasks++;
	return 0;
}

/* A filter that answers the System V shared-memory calls with EPERM and
 * allows everything else, for the native architecture only. */
static int seccomp_deny_ipc(void)
{
#if defined(__x86_64__)
	const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const unsigned arch = AUDIT_ARCH_AARCH64;
#else
	const unsigned arch = 0;
#endif
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shmget, 3, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shmat, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shmctl, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (arch == 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		fprintf(stderr, "hbworker: cannot install the seccomp filter: %s\n",
			arch ? strerror(errno) : "unknown architecture");
		return -1;
	}
	return 0;
}

static int register_status(int r)
{
	switch (r) {
	case -ENOENT:
		return 10;
	case -ENOSPC:
		return 11;
	case -EINVAL:
		return 12;
	case -ETIMEDOUT:
		return 13;
	case -EPROTO:
		return 14;
	case -EPERM:
		return 15;
	case -ENOSYS:
		return 16;
	default:
		return EXIT_REGISTER;
	}
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A signal by number ("15") or name, with or without "SIG" ("TERM", "SIGABRT"). */
static int parse_signal(const char *s, int *sig)
{
	uint64_t v;

	if (parse_u64(s, (uint64_t)SIGRTMAX, &v) == 0) {
		*sig = (int)v;
		return v >= 1 ? 0 : -EINVAL;
	}
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *abbrev = sigabbrev_np(i);

		if (abbrev && strcmp(abbrev, s) == 0) {
			*sig = i;
			return 0;
		}
	}
	return -EINVAL;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: hbworker --name NAME --timeout-ms N [--beat-ms N] [--hang-after-ms N]\n"
	    "                [--exit-after-ms N] [--ignore SIGNAL]... [--no-register]\n"
	    "                [--wait-ms N]\n"
	    "                [--task LABEL:TIMEOUT_MS[:HANG_AFTER_MS[:EXTEND_MS]]]...\n"
	    "                [--many-tasks N] [--pause-after-ms N --pause-ms N [--extend-ms N]]\n"
	    "                [--hang-how pause|spin|read|stop] [--threads N]\n"
	    "                [--ready-fd FD] [--quiet]\n"
	    "                [--work-ms N] [--touch-mb N] [--core]\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"beat-ms", required_argument, NULL, 'b'},
	    {"hang-after-ms", required_argument, NULL, 'H'},
	    {"exit-after-ms", required_argument, NULL, 'x'},
	    {"ignore", required_argument, NULL, 'i'},
	    {"no-register", no_argument, NULL, 'N'},
	    {"wait-ms", required_argument, NULL, 'w'},
	    {"ready-fd", required_argument, NULL, 'r'},
	    {"task", required_argument, NULL, 'T'},
	    {"pause-after-ms", required_argument, NULL, 'P'},
	    {"pause-ms", required_argument, NULL, 'L'},
	    {"extend-ms", required_argument, NULL, 'E'},
	    {"many-tasks", required_argument, NULL, 'M'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"seccomp-ipc", no_argument, NULL, 'S'},
	    {"hang-how", required_argument, NULL, 'm'},
	    {"threads", required_argument, NULL, 'j'},
	    {"work-ms", required_argument, NULL, 'W'},
	    {"touch-mb", required_argument, NULL, 'B'},
	    {"core", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	/* Durations are capped so that adding them to the clock cannot wrap. */
	const uint64_t max_ms = UINT64_C(1) << 40;
	uint64_t v;
	int c, idx, sig;

	*o = (struct opts){.hang_ms = NEVER,
			   .exit_ms = NEVER,
			   .reg = true,
			   .ready_fd = -1,
			   .pause_ms = NEVER,
			   .pause_len_ms = 0,
			   .hang_how = "pause"};
	while ((c = getopt_long(argc, argv, "", lopts, &idx)) != -1) {
		int r = 0;

		switch (c) {
		case 'n':
			o->name = optarg;
			break;
		case 't':
			/* 0 and too-large values pass: tests want hb_register() to see them. */
			r = parse_u64(optarg, UINT_MAX, &v);
			o->timeout_ms = (unsigned int)v;
			o->have_timeout = true;
			break;
		case 'b':
			r = parse_u64(optarg, max_ms, &o->beat_ms);
			if (r == 0 && o->beat_ms == 0)
				r = -EINVAL;
			break;
		case 'H':
			r = parse_u64(optarg, max_ms, &o->hang_ms);
			break;
		case 'x':
			r = parse_u64(optarg, max_ms, &o->exit_ms);
			break;
		case 'i':
			r = parse_signal(optarg, &sig);
			if (r == 0 && signal(sig, SIG_IGN) == SIG_ERR)
				r = -EINVAL; /* SIGKILL, SIGSTOP */
			break;
		case 'N':
			o->reg = false;
			break;
		case 'w':
			r = parse_u64(optarg, UINT_MAX, &o->wait_ms);
			o->wait = true;
			break;
		case 'r':
			r = parse_u64(optarg, INT_MAX, &v);
			o->ready_fd = (int)v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'T':
			r = parse_task(o, optarg);
			break;
		case 'P':
			r = parse_u64(optarg, max_ms, &o->pause_ms);
			break;
		case 'L':
			r = parse_u64(optarg, max_ms, &o->pause_len_ms);
			break;
		case 'E':
			r = parse_u64(optarg, UINT_MAX, &v);
			o->extend_ms = (unsigned)v;
			break;
		case 'M':
			/* N more tasks "m0".."mN-1", each with the process's timeout. */
			r = parse_u64(optarg, HB_TASKS_MAX, &v);
			for (uint64_t k = 0; r == 0 && k < v; k++) {
				char spec[64];
				snprintf(spec, sizeof(spec), "m%llu:%u", (unsigned long long)k,
					 o->timeout_ms ? o->timeout_ms : 1000u);
				r = parse_task(o, spec);
			}
			break;
		case 'j':
			r = parse_u64(optarg, 256, &o->threads);
			break;
		case 'W':
			r = parse_u64(optarg, 60000, &o->work_ms);
			break;
		case 'B':
			r = parse_u64(optarg, 65536, &o->touch_mb);
			break;
		case 'C':
			o->core = true;
			break;
		case 'm':
			o->hang_how = optarg;
			if (strcmp(optarg, "pause") && strcmp(optarg, "spin") &&
			    strcmp(optarg, "read") && strcmp(optarg, "stop"))
				r = -EINVAL;
			break;
		case 'S':
			o->seccomp_ipc = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "hbworker: bad value '%s' for --%s\n", optarg,
				lopts[idx].name);
			return -EINVAL;
		}
	}
	if (optind < argc || (o->reg && (!o->name || !o->have_timeout))) {
		usage(stderr);
		return -EINVAL;
	}
	if (o->beat_ms == 0)
		o->beat_ms = o->timeout_ms / 4 ? o->timeout_ms / 4 : 1;
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleep until monotonic time AT (ms), or for good if AT is NEVER. */
static void sleep_until(uint64_t at)
{
	struct timespec ts;

	if (at == NEVER) {
		for (;;)
			pause();
	}
	ts.tv_sec = (time_t)(at / 1000u);
	ts.tv_nsec = (long)(at % 1000u) * 1000000L;
	/* Restart after a handled signal: only the deadline ends the sleep. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Hang as HOW says until monotonic time AT (ms; NEVER: for good). */
static void hang(const char *how, uint64_t at)
{
	int p[2];
	char c;

	if (strcmp(how, "spin") == 0) {
		while (mono_ms() < at)
			;
		return;
	}
	if (strcmp(how, "read") == 0 && pipe(p) == 0) {
		/* Nobody writes: blocks in the kernel's pipe read for good. */
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		return;
	}
	if (strcmp(how, "stop") == 0)
		raise(SIGSTOP);
	sleep_until(at);
}

/* Spend MS of this thread's CPU time. */
static void work(uint64_t ms)
{
	struct timespec ts;
	uint64_t end, t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + ms * 1000000u;
	do {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	} while (t < end);
}

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static int ready(int fd)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "READY %d\n", (int)getpid());

	/* One write below PIPE_BUF: lines of many workers sharing one pipe
	 * never interleave. */
	if (write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "hbworker: cannot write to --ready-fd %d: %s\n", fd,
			strerror(errno));
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	uint64_t start, next, hang_at, exit_at;
	int r;

	/* Lines must reach a pipe as they happen, not when the buffer fills. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv, &o) < 0)
		return EXIT_USAGE;
	if (o.core) {
		struct rlimit rl;
		/* As large as the hard limit allows. */
		if (getrlimit(RLIMIT_CORE, &rl) < 0 || (rl.rlim_cur = rl.rlim_max) == 0 ||
		    setrlimit(RLIMIT_CORE, &rl) < 0) {
			fprintf(stderr, "hbworker: cannot allow core dumps: %s\n", strerror(errno));
			return EXIT_USAGE;
		}
	}
	if (o.touch_mb) {
		/* Populated in one call (no page fault each), then written:
		 * pages of the zero page would be left out of a core. */
		size_t n = (size_t)o.touch_mb << 20;
		char *m = mmap(NULL, n, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (m == MAP_FAILED)
			return EXIT_USAGE;
		memset(m, 0x5a, n); /* kept: the core carries it */
		__asm__ volatile("" : : "r"(m) : "memory");
	}
	start = mono_ms();
	hang_at = o.hang_ms == NEVER ? NEVER : start + o.hang_ms;
	exit_at = o.exit_ms == NEVER ? NEVER : start + o.exit_ms;

	for (uint64_t i = 0; i < o.threads; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, sleeper, NULL) != 0)
			return EXIT_USAGE;
	}
	if (o.seccomp_ipc && seccomp_deny_ipc() < 0)
		return EXIT_USAGE;
	if (o.reg) {
		r = o.wait ? hb_register_wait(o.name, o.timeout_ms, (unsigned int)o.wait_ms)
			   : hb_register(o.name, o.timeout_ms);
		if (r < 0) {
			if (!o.quiet)
				printf("register failed: %s (errno %d)\n", strerror(-r), r);
			return register_status(r);
		}
		if (!o.quiet)
			printf("registered pid=%d\n", (int)getpid());
	}
	for (int i = 0; i < o.n_tasks; i++) {
		r = hb_task_open(&o.task[i].t, o.task[i].label, o.task[i].timeout_ms);
		if (r < 0) {
			if (!o.quiet)
				printf("task open failed: %s (errno %d)\n", strerror(-r), r);
			return EXIT_TASK;
		}
	}
	if (o.ready_fd >= 0 && ready(o.ready_fd) < 0)
		return EXIT_USAGE;

	next = start + o.beat_ms;
	for (;;) {
		uint64_t wake = next;

		if (!o.reg || hang_at <= next)
			wake = hang_at; /* no more beats: wait for the end */
		if (exit_at <= wake)
			wake = exit_at;
		if (wake == NEVER)
			sleep_until(NEVER);
		sleep_until(wake);
		if (wake == exit_at)
			break;
		if (wake == hang_at) {
			if (!o.quiet)
				printf("hanging pid=%d\n", (int)getpid());
			hang(o.hang_how, exit_at);
			break;
		}
		uint64_t now = mono_ms();
		bool paused = o.pause_ms != NEVER && now >= start + o.pause_ms &&
			      now < start + o.pause_ms + o.pause_len_ms;

		if (paused && o.extend_ms) {
			r = hb_extend(o.extend_ms);
			if (!o.quiet)
				printf("extended by %u ms pid=%d: %d\n", o.extend_ms, (int)getpid(),
				       r);
			o.extend_ms = 0; /* once */
			if (r < 0)
				return EXIT_BEAT;
		}
		r = paused ? 0 : hb_beat();
		if (r < 0) {
			if (!o.quiet)
				printf("beat failed: %s (errno %d)\n", strerror(-r), r);
			return EXIT_BEAT;
		}
		for (int i = 0; i < o.n_tasks; i++) {
			if (o.task[i].hang_ms == NEVER || now < start + o.task[i].hang_ms) {
				if (hb_task_beat(o.task[i].t) < 0)
					return EXIT_TASK;
			} else if (o.task[i].extend_ms) {
				if (hb_task_extend(o.task[i].t, o.task[i].extend_ms) < 0)
					return EXIT_TASK;
				o.task[i].extend_ms = 0; /* once */
			}
		}
		if (o.work_ms)
			work(o.work_ms);
		/* A fixed cadence from the start, not from each wake-up, so a
		 * slow wake-up does not push every later beat back. */
		next += o.beat_ms;
		if (next < mono_ms())
			next = mono_ms() + o.beat_ms;
	}
	if (!o.quiet)
		printf("exiting pid=%d\n", (int)getpid());
	return 0;
}
