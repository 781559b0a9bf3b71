/* Harness for the daemon tests: see harness.h. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "record.h"
#include "util.h"

struct hbd H;

uint64_t hbd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hbd_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *env_path(const char *var)
{
	const char *p = getenv(var);

	cr_assert(p && *p, "$%s is not set (run through meson test)", var);
	return p;
}

void hbd_track(pid_t pid)
{
	cr_assert(H.n_kids < HBD_MAX_KIDS, "too many children");
	H.kids[H.n_kids++] = pid;
}

static void kid_reaped(pid_t pid)
{
	for (int i = 0; i < H.n_kids; i++)
		if (H.kids[i] == pid)
			H.kids[i] = 0;
}

/* The notify socket is drained all the time by a thread of its own, as
 * systemd would: a datagram queue left full (net.unix.max_dgram_qlen, 10
 * by default) blocks the daemon in sd_notify().  Lines are kept in order;
 * waits consume them up to the one they were waiting for. */
static struct {
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char **lines;
	size_t n, cap, next; /* next: first line not consumed by a wait */
	atomic_bool stop;
	atomic_bool deaf;     /* hbd_notify_deaf(): leave the socket unread */
	atomic_bool deaf_ack; /* the reader has stopped reading */
} N = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void notify_add(const char *l)
{
	if (N.n == N.cap) {
		size_t cap = N.cap ? 2 * N.cap : 64;
		char **p = realloc(N.lines, cap * sizeof(*p));
		if (!p)
			return;
		N.lines = p;
		N.cap = cap;
	}
	N.lines[N.n] = strdup(l);
	if (N.lines[N.n])
		N.n++;
	if (strncmp(l, "STATUS=", 7) == 0)
		snprintf(H.status, sizeof(H.status), "%s", l + 7);
}

static void *notify_thread(void *arg)
{
	char buf[4096];

	while (!atomic_load(&N.stop)) {
		struct pollfd p = {.fd = H.notify_fd, .events = POLLIN};
		ssize_t n;

		if (atomic_load(&N.deaf)) {
			atomic_store(&N.deaf_ack, true);
			hbd_sleep_ms(20);
			continue;
		}
		atomic_store(&N.deaf_ack, false);
		if (poll(&p, 1, 20) <= 0)
			continue;
		while (!atomic_load(&N.deaf) &&
		       (n = recv(H.notify_fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			pthread_mutex_lock(&N.lock);
			for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l;
			     l = strtok_r(NULL, "\n", &save))
				notify_add(l);
			pthread_cond_broadcast(&N.cond);
			pthread_mutex_unlock(&N.lock);
		}
	}
	return NULL;
}

static void notify_start(void)
{
	atomic_store(&N.stop, false);
	cr_assert(pthread_create(&N.thread, NULL, notify_thread, NULL) == 0);
	N.running = true;
}

static void notify_stop(void)
{
	if (!N.running)
		return;
	atomic_store(&N.stop, true);
	pthread_join(N.thread, NULL);
	N.running = false;
	for (size_t i = 0; i < N.n; i++)
		free(N.lines[i]);
	free(N.lines);
	N.lines = NULL;
	N.n = N.cap = N.next = 0;
}

/* Is the condition met?  LINE: an unconsumed line equal to it (consumed
 * with everything before it); else H.status contains STATUS. */
static bool notify_check(const char *line, const char *status)
{
	if (!line)
		return status && strstr(H.status, status) != NULL;
	for (size_t i = N.next; i < N.n; i++)
		if (strcmp(N.lines[i], line) == 0) {
			N.next = i + 1;
			return true;
		}
	return false;
}

static bool notify_wait(const char *line, const char *status, int timeout_ms)
{
	uint64_t end = hbd_now_ns() + (uint64_t)timeout_ms * 1000000u;
	bool ok;

	for (;;) {
		pthread_mutex_lock(&N.lock);
		ok = notify_check(line, status);
		if (!ok) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&N.cond, &N.lock, &ts);
			ok = notify_check(line, status);
		}
		pthread_mutex_unlock(&N.lock);
		if (ok)
			return true;
		if (hbd_now_ns() >= end)
			return false;
		if (H.daemon && !H.daemon_exited) {
			int st;
			if (waitpid(H.daemon, &st, WNOHANG) == H.daemon) {
				H.daemon_exited = true;
				H.daemon_status = st;
			}
		} else if (H.daemon_exited) {
			/* Give the reader a moment for what the daemon sent last. */
			hbd_sleep_ms(50);
			pthread_mutex_lock(&N.lock);
			ok = notify_check(line, status);
			pthread_mutex_unlock(&N.lock);
			return ok;
		}
	}
}

void hbd_init(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char key[32];

	memset(&H, 0, sizeof(H));
	H.notify_fd = -1;
	snprintf(H.dir, sizeof(H.dir), "/tmp/hbwatch-test-XXXXXX");
	cr_assert(mkdtemp(H.dir), "mkdtemp: %s", strerror(errno));
	snprintf(H.conf, sizeof(H.conf), "%s/hbwatch.ini", H.dir);
	snprintf(H.log, sizeof(H.log), "%s/hbwatch.log", H.dir);
	snprintf(H.wlog, sizeof(H.wlog), "%s/workers.log", H.dir);
	snprintf(H.sock, sizeof(H.sock), "%s/notify", H.dir);
	/* A key of its own per test, on top of the private IPC namespace. */
	H.key = 0x48000000 | ((int)getpid() & 0xffffff);
	snprintf(key, sizeof(key), "0x%x", (unsigned)H.key);
	setenv("HBWATCH_KEY", key, 1);
	unsetenv("JOURNAL_STREAM");
	unsetenv("NOTIFY_SOCKET");

	H.notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert(H.notify_fd >= 0, "socket: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", H.sock);
	cr_assert(bind(H.notify_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s: %s", H.sock,
		  strerror(errno));
	notify_start();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void daemon_reap(int timeout_ms)
{
	int st;

	if (!H.daemon || H.daemon_exited)
		return;
	if (hbd_wait_exit(H.daemon, timeout_ms, &st)) {
		H.daemon_exited = true;
		H.daemon_status = st;
	}
}

void hbd_registry_header(struct hb_registry_header *out)
{
	struct hb_registry reg;

	cr_assert_eq(registry_attach(H.key, true, &reg, NULL, 0), 0, "no registry at 0x%x",
		     (unsigned)H.key);
	*out = reg.hdr_copy;
	registry_detach(&reg);
}

void hbd_trace(pid_t pid, bool attach)
{
	pid_t parent = getpid();

	cr_assert_eq(H.tracer, 0, "pid %d is traced already", (int)H.tracer);
	H.tracer = fork();
	cr_assert_geq(H.tracer, 0, "fork: %s", strerror(errno));
	if (H.tracer == 0) {
		hbd_child_setup(parent);
		if (attach ? ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0
			   : ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0 ||
				 ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0)
			_exit(1);
		(void)waitpid(pid, NULL, __WALL);
		for (;;)
			pause();
	}
}

void hbd_untrace(void)
{
	if (H.tracer > 0) {
		kill(H.tracer, SIGKILL);
		waitpid(H.tracer, NULL, 0);
	}
	H.tracer = 0;
}

void hbd_fini(void)
{
	/* The tracer first: a traced process's exit goes to its tracer, and
	 * the waits below would not see it. */
	hbd_untrace();
	for (int i = 0; i < H.n_kids; i++) {
		if (H.kids[i] <= 0)
			continue;
		kill(H.kids[i], SIGKILL);
		waitpid(H.kids[i], NULL, 0);
		H.kids[i] = 0;
	}
	if (H.daemon && !H.daemon_exited) {
		kill(H.daemon, SIGTERM);
		daemon_reap(5000);
		if (!H.daemon_exited) {
			kill(H.daemon, SIGKILL);
			waitpid(H.daemon, NULL, 0);
		}
	}
	H.daemon = 0;
	for (int i = 0; i < H.n_made; i++)
		shmctl(H.made[i], IPC_RMID, NULL);
	H.n_made = 0;
	registry_remove(H.key);
	notify_stop();
	if (H.notify_fd >= 0)
		close(H.notify_fd);
	H.notify_fd = -1;
	if (H.dir[0])
		nftw(H.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int hbd_config(const char *fmt, ...)
{
	char head[256];
	int n, lines = 1;
	FILE *f;
	va_list ap;

	n = snprintf(head, sizeof(head), "[hbwatch]\nkey = 0x%x\nslots = 128\ngroup =\n",
		     (unsigned)H.key);
	for (int i = 0; i < n; i++)
		lines += head[i] == '\n';
	f = fopen(H.conf, "w");
	cr_assert(f, "%s: %s", H.conf, strerror(errno));
	fputs(head, f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	cr_assert(fclose(f) == 0);
	return lines;
}

/* In a child: die with the test process, no core files, default signal
 * handling whatever the runner set up. */
void hbd_child_setup(pid_t parent)
{
	struct rlimit nocore = {0, 0};
	sigset_t none;

	/* No core files, but the hard limit kept: a worker run with --core
	 * may ask for them. */
	if (getrlimit(RLIMIT_CORE, &nocore) == 0)
		nocore.rlim_cur = 0;
	else
		nocore = (struct rlimit){0, 0};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setrlimit(RLIMIT_CORE, &nocore);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
}

void hbd_redirect(int fd, const char *path)
{
	int f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (f < 0 || dup2(f, fd) < 0)
		_exit(126);
	close(f);
}

void hbd_start(void)
{
	pid_t parent = getpid();
	const char *exe = env_path("HBWATCH");
	pid_t pid;

	cr_assert(!H.daemon || H.daemon_exited, "daemon already running");
	H.daemon = 0;
	H.daemon_exited = false;
	pthread_mutex_lock(&N.lock);
	H.status[0] = '\0';
	N.next = N.n; /* what an earlier daemon sent is not this one's */
	pthread_mutex_unlock(&N.lock);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		hbd_child_setup(parent);
		hbd_redirect(STDOUT_FILENO, H.log);
		hbd_redirect(STDERR_FILENO, H.log);
		setenv("NOTIFY_SOCKET", H.sock, 1);
		if (H.rt_limited) {
			struct rlimit rl = {H.rtprio, H.rtprio};

			if (prctl(PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0) < 0 ||
			    setrlimit(RLIMIT_RTPRIO, &rl) < 0) {
				fprintf(stderr,
					"cannot drop CAP_SYS_NICE or set RLIMIT_RTPRIO: %s\n",
					strerror(errno));
				_exit(126);
			}
		}
		if (H.preload) {
			/* An ASan daemon would refuse a library loaded before
			 * its runtime. */
			const char *asan = getenv("ASAN_OPTIONS");
			char opts[512];

			snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
				 asan ? asan : "", asan && *asan ? ":" : "");
			setenv("ASAN_OPTIONS", opts, 1);
			setenv("LD_PRELOAD", H.preload, 1);
		}
		if (H.watchdog_usec) {
			char v[32];
			snprintf(v, sizeof(v), "%llu", (unsigned long long)H.watchdog_usec);
			setenv("WATCHDOG_USEC", v, 1);
			snprintf(v, sizeof(v), "%d", (int)getpid());
			setenv("WATCHDOG_PID", v, 1);
		}
		execl(exe, exe, "-c", H.conf, (char *)NULL);
		_exit(127);
	}
	H.daemon = pid;
	if (!hbd_wait_notify("READY=1", 10000)) {
		hbd_log_dump();
		cr_assert_fail("hbwatch (pid %d) not ready within 10 s%s", (int)pid,
			       H.daemon_exited ? " (it exited)" : "");
	}
}

void hbd_reload(void)
{
	cr_assert(kill(H.daemon, SIGHUP) == 0);
	cr_assert(hbd_wait_notify("RELOADING=1", 10000), "no RELOADING=1 after SIGHUP");
	cr_assert(hbd_wait_notify("READY=1", 10000), "no READY=1 after the reload");
}

int hbd_stop(void)
{
	if (!H.daemon_exited) {
		cr_assert(kill(H.daemon, SIGTERM) == 0);
		daemon_reap(10000);
		cr_assert(H.daemon_exited, "hbwatch did not stop within 10 s of SIGTERM");
	}
	return H.daemon_status;
}

int hbd_notify_count(const char *line)
{
	int n = 0;

	pthread_mutex_lock(&N.lock);
	for (size_t i = 0; i < N.n; i++)
		if (strcmp(N.lines[i], line) == 0)
			n++;
	pthread_mutex_unlock(&N.lock);
	return n;
}

bool hbd_wait_notify(const char *line, int timeout_ms)
{
	return notify_wait(line, NULL, timeout_ms);
}

bool hbd_wait_status(const char *substr, int timeout_ms)
{
	return notify_wait(NULL, substr, timeout_ms);
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f;
	size_t n = 0;

	if (!buf || !len)
		return;
	buf[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

int hbd_run(char *out, size_t out_len, char *err, size_t err_len, ...)
{
	pid_t parent = getpid();
	const char *exe = env_path("HBWATCH");
	char *argv[16];
	char opath[160], epath[160];
	int argc = 0, st;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)exe;
	va_start(ap, err_len);
	for (char *a; (a = va_arg(ap, char *)) && argc < 15;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	snprintf(opath, sizeof(opath), "%s/run.out", H.dir);
	snprintf(epath, sizeof(epath), "%s/run.err", H.dir);
	unlink(opath);
	unlink(epath);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		hbd_child_setup(parent);
		hbd_redirect(STDOUT_FILENO, opath);
		hbd_redirect(STDERR_FILENO, epath);
		setenv("NOTIFY_SOCKET", H.sock, 1);
		execv(exe, argv);
		_exit(127);
	}
	hbd_track(pid);
	cr_assert(hbd_wait_exit(pid, 10000, &st), "hbwatch %s did not exit within 10 s",
		  argc > 1 ? argv[1] : "");
	slurp(opath, out, out_len);
	slurp(epath, err, err_len);
	return st;
}

pid_t hbd_worker(const char *name, unsigned timeout_ms, ...)
{
	const char *exe = env_path("HBWORKER");
	char tmo[16];
	char *argv[32];
	int argc = 0;
	va_list ap;

	snprintf(tmo, sizeof(tmo), "%u", timeout_ms);
	argv[argc++] = (char *)exe;
	argv[argc++] = "--name";
	argv[argc++] = (char *)name;
	argv[argc++] = "--timeout-ms";
	argv[argc++] = tmo;
	argv[argc++] = "--ready-fd";
	argv[argc++] = "3";
	argv[argc++] = "--quiet";
	va_start(ap, timeout_ms);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return hbd_worker_exec(argv, name);
}

void hbd_need_pidfd(void)
{
	const char *why = getenv("HBD_DAEMON_NO_PIDFD");

	if (!why || !*why)
		return;
	/* Skipping ends the test without its .fini: clean up first. */
	hbd_fini();
	cr_skip_test("hbwatch runs where pidfd_open(2) fails (%s): it cannot watch a process", why);
}

pid_t hbd_worker_exec(char *const argv[], const char *what)
{
	pid_t parent = getpid();
	char line[64], expect[32];
	int fds[2];
	pid_t pid;

	cr_assert(pipe2(fds, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		hbd_child_setup(parent);
		hbd_redirect(STDOUT_FILENO, H.wlog);
		hbd_redirect(STDERR_FILENO, H.wlog);
		if (dup2(fds[1], 3) < 0) /* dup2 clears FD_CLOEXEC */
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	hbd_track(pid);

	struct pollfd p = {.fd = fds[0], .events = POLLIN};
	ssize_t n = 0;
	/* Generous: a loaded host may take seconds to start a worker. */
	if (poll(&p, 1, 30000) == 1)
		n = read(fds[0], line, sizeof(line) - 1);
	close(fds[0]);
	if (n <= 0) {
		int st = 0;
		bool exited = hbd_wait_exit(pid, 1000, &st);
		hbd_log_dump();
		cr_assert_fail("hbworker %s did not register (%s, %s %d)", what,
			       exited ? "exited" : "no answer",
			       exited && WIFSIGNALED(st) ? "signal" : "status",
			       exited && WIFSIGNALED(st) ? WTERMSIG(st)
			       : exited && WIFEXITED(st) ? WEXITSTATUS(st)
							 : -1);
	}
	line[n] = '\0';
	/* A wrapper that execs (setpriv) leaves the worker its pid. */
	snprintf(expect, sizeof(expect), "READY %d\n", (int)pid);
	cr_assert_str_eq(line, expect);
	return pid;
}

pid_t hbd_sleeper(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		hbd_child_setup(parent);
		for (;;)
			pause();
	}
	hbd_track(pid);
	return pid;
}

bool hbd_alive(pid_t pid)
{
	siginfo_t si = {0};

	/* WNOWAIT: look without reaping, so a later wait still sees how. */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return false;
	return si.si_pid == 0;
}

void hbd_kill(pid_t pid, int sig)
{
	cr_assert(pid > 1);
	cr_assert(kill(pid, sig) == 0, "kill %d: %s", (int)pid, strerror(errno));
}

bool hbd_wait_exit(pid_t pid, int timeout_ms, int *status)
{
	struct hbd_death d = {.pid = pid};

	if (hbd_wait_deaths(&d, 1, timeout_ms) != 1)
		return false;
	if (status)
		*status = d.status;
	return true;
}

int hbd_wait_deaths(struct hbd_death *d, int n, int timeout_ms)
{
	struct pollfd p[HBD_MAX_KIDS];
	int fds[HBD_MAX_KIDS], idx[HBD_MAX_KIDS];
	uint64_t end = hbd_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct hb_record_map rec[HBD_MAX_KIDS];
	int dead = 0;

	cr_assert(n <= HBD_MAX_KIDS);
	for (int i = 0; i < n; i++) {
		int shmid = tu_record_of(d[i].pid);

		d[i].dead = false;
		fds[i] = pidfd_open(d[i].pid, 0);
		cr_assert(fds[i] >= 0, "pidfd_open %d: %s", (int)d[i].pid, strerror(errno));
		/* Its record, kept attached: the last beat survives the process. */
		rec[i] = (struct hb_record_map){0};
		if (shmid >= 0)
			record_attach(shmid, true, &rec[i]);
	}
	for (;;) {
		/* Beats first: the last one seen before the death is the last. */
		for (int i = 0; i < n; i++) {
			uint64_t b;
			if (d[i].dead || !rec[i].rec)
				continue;
			b = atomic_load_explicit(&rec[i].rec->beat_ns, memory_order_acquire);
			if (b > d[i].last_beat_ns)
				d[i].last_beat_ns = b;
		}
		if (dead == n || hbd_now_ns() >= end)
			break;
		int m = 0;
		for (int i = 0; i < n; i++)
			if (!d[i].dead) {
				p[m] = (struct pollfd){.fd = fds[i], .events = POLLIN};
				idx[m++] = i;
			}
		int r = poll(p, (nfds_t)m, 2);
		uint64_t now = hbd_now_ns();
		for (int k = 0; r > 0 && k < m; k++) {
			struct hbd_death *e = &d[idx[k]];
			int st;

			if (!(p[k].revents & (POLLIN | POLLHUP)))
				continue;
			if (waitpid(e->pid, &st, WNOHANG) != e->pid)
				continue;
			e->dead = true;
			e->status = st;
			e->died_ns = now;
			kid_reaped(e->pid);
			dead++;
		}
	}
	for (int i = 0; i < n; i++) {
		close(fds[i]);
		record_unmap(&rec[i]);
	}
	return dead;
}

int hbd_record_of(pid_t pid)
{
	return tu_record_of(pid);
}

bool hbd_wait_record_gone(pid_t pid, int timeout_ms)
{
	uint64_t end = hbd_now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		if (hbd_record_of(pid) < 0)
			return true;
		if (hbd_now_ns() >= end)
			return false;
		hbd_sleep_ms(5);
	}
}

int hbd_make_record(pid_t pid, uint64_t start_time, const char *name, unsigned timeout_ms,
		    uint64_t beat_ns)
{
	struct hb_registry reg;
	struct hb_record *rec;
	int r, shmid;

	cr_assert(H.n_made < HBD_MAX_KIDS, "too many records");
	r = record_create(pid, start_time, false, &rec, &shmid);
	cr_assert(r == 0, "record_create: %s", strerror(-r));
	H.made[H.n_made++] = shmid;
	record_set(rec, HB_RECORD_OPEN, (uint64_t)timeout_ms * 1000000u, name);
	record_beat(rec, beat_ns);
	record_detach(rec);
	r = registry_attach(H.key, false, &reg, NULL, 0);
	cr_assert(r == 0, "registry_attach 0x%x: %s", (unsigned)H.key, strerror(-r));
	registry_announce(&reg, shmid);
	registry_detach(&reg);
	return shmid;
}

/* Does LINE (NUL-terminated) mention "pid PID" as a whole number? */
static bool mentions_pid(const char *line, pid_t pid)
{
	for (const char *p = line; (p = strstr(p, "pid ")); p += 4) {
		char *end;
		long v = strtol(p + 4, &end, 10);
		if (end != p + 4 && v == pid && !(*end >= '0' && *end <= '9'))
			return true;
	}
	return false;
}

static int log_scan(const char *event, pid_t pid, const char *extra, char *out, size_t len)
{
	char tag[64], *line = NULL;
	size_t cap = 0;
	int count = 0;
	FILE *f = fopen(H.log, "r");

	if (!f)
		return 0;
	if (event)
		snprintf(tag, sizeof(tag), ": %s: ", event);
	while (getline(&line, &cap, f) > 0) {
		if (event && !strstr(line, tag))
			continue;
		if (pid && !mentions_pid(line, pid))
			continue;
		if (extra && !strstr(line, extra))
			continue;
		if (out && count == 0)
			snprintf(out, len, "%s", line);
		count++;
	}
	free(line);
	fclose(f);
	return count;
}

int hbd_log_count(const char *event, pid_t pid, const char *extra)
{
	return log_scan(event, pid, extra, NULL, 0);
}

bool hbd_log_line(const char *event, pid_t pid, const char *extra, char *out, size_t len)
{
	out[0] = '\0';
	return log_scan(event, pid, extra, out, len) > 0;
}

bool hbd_log_wait(const char *event, pid_t pid, const char *extra, int timeout_ms)
{
	uint64_t end = hbd_now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		if (log_scan(event, pid, extra, NULL, 0) > 0)
			return true;
		if (hbd_now_ns() >= end)
			break;
		hbd_sleep_ms(5);
	}
	fprintf(stderr, "# no log line with event %s, pid %d, text \"%s\" within %d ms\n",
		event ? event : "(any)", (int)pid, extra ? extra : "", timeout_ms);
	hbd_log_dump();
	return false;
}

void hbd_figure(const char *fmt, ...)
{
	const char *path = getenv("HBD_FIGURES");
	char msg[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cr_log_info("%s", msg);
	if (path && (f = fopen(path, "a"))) {
		fprintf(f, "%s\n", msg);
		fclose(f);
	}
}

int hbd_main(int argc, char **argv)
{
	char path[] = "/tmp/hbwatch-figures-XXXXXX";
	struct criterion_test_set *tests;
	int fd, result = 0;

	fd = mkstemp(path);
	if (fd >= 0) {
		close(fd);
		setenv("HBD_FIGURES", path, 1);
	}
	tests = criterion_initialize();
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	if (fd >= 0) {
		FILE *f = fopen(path, "r");
		char line[600];

		fflush(stdout);
		while (f && fgets(line, sizeof(line), f))
			printf("# %s", line);
		if (f)
			fclose(f);
		fflush(stdout);
		unlink(path);
	}
	return result;
}

/* The last LEN - 1 bytes of PATH, between rulers, to OUT. */
static void dump_tail(FILE *out, const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		if (fseek(f, -(long)(len - 1), SEEK_END) < 0)
			rewind(f);
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	fprintf(out, "---- %s%s ----\n%s%s---- end ----\n", n == len - 1 ? "the end of " : "", path,
		buf, n && buf[n - 1] != '\n' ? "\n" : "");
}

/* To the file hbd_main() prints after the run (Criterion's TAP output
 * carries nothing a test writes), else to stderr. */
void hbd_log_dump(void)
{
	const char *path = getenv("HBD_FIGURES");
	FILE *out = path ? fopen(path, "a") : NULL;
	char buf[16384];

	dump_tail(out ? out : stderr, H.log, buf, sizeof(buf));
	dump_tail(out ? out : stderr, H.wlog, buf, 4096);
	if (out)
		fclose(out);
}

void hbd_notify_deaf(bool deaf)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, sent = 0;

	atomic_store(&N.deaf, deaf);
	if (!deaf)
		return;
	/* Fill only once the reader has stopped, or it drains the filler. */
	for (int i = 0; i < 500 && !atomic_load(&N.deaf_ack); i++)
		hbd_sleep_ms(2);
	cr_assert(atomic_load(&N.deaf_ack), "the notify reader did not stop");
	/* Fill the queue the way a busy manager's would be: until the kernel
	 * refuses another datagram. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", H.sock);
	cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	while (send(fd, "X_FILLER=1", 10, MSG_DONTWAIT) == 10)
		sent++;
	cr_assert(errno == EAGAIN, "filling the notify socket: %s", strerror(errno));
	cr_assert(sent > 0, "the notify socket took no datagram");
	close(fd);
}

void hbd_assert_left_alone(pid_t w, int ms)
{
	int st = 0;

	if (hbd_wait_exit(w, ms, &st)) {
		char why[2048] = "no deadline-missed record";

		(void)hbd_log_line("deadline-missed", w, NULL, why, sizeof(why));
		cr_assert_fail("pid %d died (status 0x%x): %s", (int)w, st, why);
	}
	cr_assert(hbd_alive(w));
	cr_assert_eq(hbd_log_count("signal-sent", w, NULL), 0, "pid %d was signalled", (int)w);
	cr_assert_eq(hbd_log_count("escalated", w, NULL), 0);
}

void hbd_assert_killed_by(const struct hbd_death *d, int sig)
{
	cr_assert(d->dead, "pid %d is still alive", (int)d->pid);
	cr_assert(WIFSIGNALED(d->status), "pid %d exited with status %d instead of being killed",
		  (int)d->pid, WIFEXITED(d->status) ? WEXITSTATUS(d->status) : -1);
	cr_assert_eq(WTERMSIG(d->status), sig, "pid %d died by signal %d, expected %d", (int)d->pid,
		     WTERMSIG(d->status), sig);
}
