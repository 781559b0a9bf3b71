#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "census.h"
#include "util.h"

#define TRACK_MAX 1024

/* Test-side bookkeeping, not library state: each Criterion test runs in
 * its own process, so these belong to exactly one test. */
static pid_t tracked[TRACK_MAX];
static int ntracked;
static int current_key;

int64_t tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tu_key_use(int n)
{
	char buf[32];

	current_key = TU_KEY_BASE + n;
	(void)registry_remove(current_key);
	snprintf(buf, sizeof(buf), "0x%x", (unsigned)current_key);
	setenv("HBWATCH_KEY", buf, 1);
	return current_key;
}

void tu_registry_create(uint32_t slots, struct hb_registry *r)
{
	char why[512] = "";
	bool adopted;
	int rc = registry_create(current_key, slots, (gid_t)-1, r, &adopted, why, sizeof(why));

	cr_assert_eq(rc, 0, "registry_create(0x%x, %u): %s (%s)", (unsigned)current_key, slots,
		     strerror(-rc), why);
	cr_assert(!adopted, "a registry was already at key 0x%x", (unsigned)current_key);
}

static void track(pid_t pid)
{
	cr_assert_lt(ntracked, TRACK_MAX, "too many children");
	tracked[ntracked++] = pid;
}

void tu_untrack(pid_t pid)
{
	for (int i = 0; i < ntracked; i++) {
		if (tracked[i] == pid) {
			tracked[i] = tracked[--ntracked];
			return;
		}
	}
}

void tu_cleanup(void)
{
	for (int i = 0; i < ntracked; i++)
		kill(tracked[i], SIGKILL);
	/* SIGKILL ends even a stopped process, so these waits are short. */
	for (int i = 0; i < ntracked; i++)
		while (waitpid(tracked[i], NULL, 0) < 0 && errno == EINTR)
			;
	ntracked = 0;
	if (current_key)
		(void)registry_remove(current_key);
}

const char *tu_prog(const char *env)
{
	const char *p = getenv(env);

	cr_assert(p && *p, "$%s is not set (run through meson test)", env);
	return p;
}

pid_t tu_fork(void)
{
	pid_t pid;

	/* Flushed first, or the child's exit would write our buffers twice. */
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid > 0)
		track(pid);
	return pid;
}

pid_t tu_spawn(char *const argv[], int keep_fd, int out_fd, int err_fd)
{
	pid_t parent = getpid();
	pid_t pid = tu_fork();

	if (pid == 0) {
		/* If Criterion kills the test on timeout, no fini runs: the
		 * kernel then ends the children instead. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd >= 0 ? out_fd : null, 1) < 0 ||
		    (err_fd >= 0 && dup2(err_fd, 2) < 0))
			_exit(127);
		if (keep_fd == 3) {
			if (fcntl(3, F_SETFD, 0) < 0)
				_exit(127);
		} else if (keep_fd >= 0 && dup2(keep_fd, 3) < 0) {
			_exit(127);
		}
		/* Criterion's and other tests' descriptors must not leak into
		 * the child: a ready pipe held open by a stray child never
		 * reaches EOF. */
		closefrom(keep_fd >= 0 ? 4 : 3);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int tu_wait(pid_t pid, int timeout_ms)
{
	int fd = pidfd_open(pid, 0), status;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int64_t deadline = tu_now_ms() + timeout_ms;

	cr_assert_geq(fd, 0, "pidfd_open(%d): %s", (int)pid, strerror(errno));
	for (;;) {
		int64_t left = deadline - tu_now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			break;
		if (r == 0 || (r < 0 && errno != EINTR)) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	while (waitpid(pid, &status, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid(%d): %s", (int)pid, strerror(errno));
	tu_untrack(pid);
	return status;
}

int tu_wait_stopped(pid_t pid, int timeout_ms)
{
	int64_t deadline = tu_now_ms() + timeout_ms;

	/* A stop is no pidfd event; /proc shows the state as soon as the
	 * signal is taken. */
	for (;;) {
		char path[64], buf[512], *p;
		FILE *f;
		size_t n;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (!f)
			return -1;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't'))
			return 0;
		if (tu_now_ms() > deadline)
			return -1;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
}

int tu_read_ready(int fd, const char *word, int n, pid_t *pids, int timeout_ms)
{
	int64_t deadline = tu_now_ms() + timeout_ms;
	char buf[8192];
	size_t have = 0, wlen = strlen(word);
	int got = 0;

	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - tu_now_ms();
		char *nl;
		ssize_t r;

		/* Whole lines in the buffer first. */
		while (got < n && (nl = memchr(buf, '\n', have))) {
			char *end;
			long v;

			*nl = '\0';
			cr_assert(strncmp(buf, word, wlen) == 0 && buf[wlen] == ' ',
				  "unexpected ready line '%s'", buf);
			errno = 0;
			v = strtol(buf + wlen + 1, &end, 10);
			cr_assert(!errno && *end == '\0' && v > 0, "bad pid in '%s'", buf);
			pids[got++] = (pid_t)v;
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
		}
		if (got == n)
			break;
		if (left <= 0)
			break;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		r = read(fd, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	return got;
}

/* Append what FD has to BUF (LEN bytes, *HAVE used, kept NUL-terminated).
 * Returns false at EOF.  Bytes beyond LEN - 1 are read and dropped, so a
 * chatty child never blocks on a full pipe. */
static bool drain(int fd, char *buf, size_t len, size_t *have)
{
	char tmp[4096];
	ssize_t r = read(fd, tmp, sizeof(tmp));

	if (r < 0 && errno == EINTR)
		return true;
	if (r <= 0)
		return false;
	size_t take = (size_t)r;
	if (take > len - 1 - *have)
		take = len - 1 - *have;
	memcpy(buf + *have, tmp, take);
	*have += take;
	buf[*have] = '\0';
	return true;
}

int tu_run(char *const argv[], char *out, size_t out_len, char *err, size_t err_len, int timeout_ms)
{
	int po[2], pe[2], status;
	size_t ho = 0, he = 0;
	int64_t deadline = tu_now_ms() + timeout_ms;
	pid_t pid;

	cr_assert(out_len > 0 && err_len > 0);
	out[0] = err[0] = '\0';
	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	pid = tu_spawn(argv, -1, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);
	struct pollfd p[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int64_t left = deadline - tu_now_ms();
		int r;

		cr_assert_gt(left, 0, "%s did not finish within %d ms", argv[0], timeout_ms);
		r = poll(p, 2, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert_geq(r, 0, "poll: %s", strerror(errno));
		if (p[0].revents && !drain(po[0], out, out_len, &ho)) {
			close(po[0]);
			p[0].fd = -1;
		}
		if (p[1].revents && !drain(pe[0], err, err_len, &he)) {
			close(pe[0]);
			p[1].fd = -1;
		}
	}
	status = tu_wait(pid, (int)(deadline - tu_now_ms() > 0 ? deadline - tu_now_ms() : 0));
	cr_assert_neq(status, -1, "%s did not exit within %d ms", argv[0], timeout_ms);
	return status;
}

int tu_exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int count_one(int shmid, const struct shmid_ds *ds, void *userdata)
{
	struct census_entry e;
	int *n = userdata;

	if (census_inspect(shmid, ds, &e) == 0 && (e.busy || e.v.state == HB_RECORD_OPEN))
		(*n)++;
	return 0;
}

int tu_records_count(void)
{
	int n = 0;

	cr_assert_eq(census_each(count_one, &n), 0);
	return n;
}

struct find_pid {
	pid_t pid;
	int shmid;
};

static int find_one(int shmid, const struct shmid_ds *ds, void *userdata)
{
	struct find_pid *f = userdata;
	struct census_entry e;

	if (census_inspect(shmid, ds, &e) < 0 || e.pid != f->pid)
		return 0;
	if (!e.busy && e.v.state != HB_RECORD_OPEN)
		return 0;
	f->shmid = shmid;
	return 1;
}

int tu_record_of(pid_t pid)
{
	struct find_pid f = {.pid = pid, .shmid = -1};

	census_each(find_one, &f);
	return f.shmid;
}

/* A strict recursive-descent JSON checker: enough to prove that hbctl's
 * output parses, without a JSON library in the test dependencies. */
struct json {
	const char *p;
	int depth;
};

static bool json_value(struct json *j);

static void json_ws(struct json *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static bool json_lit(struct json *j, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(j->p, lit, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool json_number(struct json *j)
{
	if (*j->p == '-')
		j->p++;
	if (*j->p == '0')
		j->p++;
	else if (*j->p >= '1' && *j->p <= '9')
		while (is_digit(*j->p))
			j->p++;
	else
		return false;
	if (*j->p == '.') {
		j->p++;
		if (!is_digit(*j->p))
			return false;
		while (is_digit(*j->p))
			j->p++;
	}
	if (*j->p == 'e' || *j->p == 'E') {
		j->p++;
		if (*j->p == '+' || *j->p == '-')
			j->p++;
		if (!is_digit(*j->p))
			return false;
		while (is_digit(*j->p))
			j->p++;
	}
	return true;
}

static bool json_string(struct json *j)
{
	if (*j->p++ != '"')
		return false;
	for (;;) {
		unsigned char c = (unsigned char)*j->p++;

		if (c == '"')
			return true;
		if (c < 0x20) /* includes the terminating NUL */
			return false;
		if (c != '\\')
			continue;
		c = (unsigned char)*j->p++;
		if (c == 'u') {
			for (int k = 0; k < 4; k++, j->p++)
				if (!*j->p || !strchr("0123456789abcdefABCDEF", *j->p))
					return false;
		} else if (!c || !strchr("\"\\/bfnrt", c)) {
			return false;
		}
	}
}

static bool json_container(struct json *j, char close, bool object)
{
	j->p++;
	json_ws(j);
	if (*j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		json_ws(j);
		if (object) {
			if (!json_string(j))
				return false;
			json_ws(j);
			if (*j->p++ != ':')
				return false;
		}
		if (!json_value(j))
			return false;
		json_ws(j);
		if (*j->p == close) {
			j->p++;
			return true;
		}
		if (*j->p++ != ',')
			return false;
	}
}

static bool json_value(struct json *j)
{
	bool ok;

	json_ws(j);
	if (++j->depth > 64)
		return false;
	switch (*j->p) {
	case '{':
		ok = json_container(j, '}', true);
		break;
	case '[':
		ok = json_container(j, ']', false);
		break;
	case '"':
		ok = json_string(j);
		break;
	case 't':
		ok = json_lit(j, "true");
		break;
	case 'f':
		ok = json_lit(j, "false");
		break;
	case 'n':
		ok = json_lit(j, "null");
		break;
	default:
		ok = json_number(j);
	}
	j->depth--;
	return ok;
}

bool tu_json_valid(const char *s)
{
	struct json j = {.p = s};

	if (!json_value(&j))
		return false;
	json_ws(&j);
	return *j.p == '\0';
}

int tu_segments_count(void)
{
	struct shm_info info;
	int r = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);

	cr_assert_geq(r, 0, "shmctl(SHM_INFO): %s", strerror(errno));
	return info.used_ids;
}

int tu_record_view(int shmid, struct hb_record_view *v)
{
	struct hb_record_map m;
	int r = record_attach(shmid, true, &m);

	if (r < 0)
		return r;
	r = record_read(&m, v);
	record_unmap(&m);
	return r;
}

/* Records of tu_record_make(), attached until the test process ends: they
 * are marked for removal, so that is also when they go. */
static struct hb_record *made[TRACK_MAX];
static int nmade;

int tu_record_make(pid_t pid, uint64_t start_time, const char *name, unsigned timeout_ms,
		   uint64_t beat_ns, struct hb_record **rec)
{
	struct hb_registry reg;
	struct hb_record *r;
	int shmid, rc;

	cr_assert_lt(nmade, TRACK_MAX, "too many records");
	rc = record_create(pid, start_time, false, &r, &shmid);
	cr_assert_eq(rc, 0, "record_create(pid %d): %s", (int)pid, strerror(-rc));
	cr_assert_eq(shmctl(shmid, IPC_RMID, NULL), 0, "IPC_RMID: %s", strerror(errno));
	made[nmade++] = r;
	record_set(r, HB_RECORD_OPEN, (uint64_t)timeout_ms * 1000000u, name);
	record_beat(r, beat_ns);
	if (current_key && registry_attach(current_key, false, &reg, NULL, 0) == 0) {
		registry_announce(&reg, shmid);
		registry_detach(&reg);
	}
	if (rec)
		*rec = r;
	return shmid;
}

bool tu_read_until(int fd, const char *needle, char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = tu_now_ms() + timeout_ms;
	size_t have = strlen(buf);

	cr_assert_gt(len, have);
	while (!strstr(buf, needle)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - tu_now_ms();
		int r;

		if (left <= 0)
			return false;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !drain(fd, buf, len, &have))
			return strstr(buf, needle) != NULL;
	}
	return true;
}

const char *tu_setpriv(void)
{
	static char found[512];
	const char *path = getenv("PATH");

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && n + sizeof("/setpriv") < sizeof(found)) {
			snprintf(found, sizeof(found), "%.*s/setpriv", (int)n, path);
			if (access(found, X_OK) == 0)
				return found;
		}
		path += n + (path[n] == ':');
	}
	return NULL;
}

bool tu_can_become(uid_t uid)
{
	char out[256], err[256], id[16], want[32];
	const char *setpriv = tu_setpriv();
	int status;

	if (!setpriv)
		return false;
	snprintf(id, sizeof(id), "%u", (unsigned)uid);
	/* Ask the kernel what we became, not only whether setpriv exited 0. */
	status = tu_run((char *[]){(char *)setpriv, "--reuid", id, "--regid", id, "--clear-groups",
				   "--", "/bin/sh", "-c", "echo $(id -u) $(id -G)", NULL},
			out, sizeof(out), err, sizeof(err), 20000);
	snprintf(want, sizeof(want), "%u %u\n", (unsigned)uid, (unsigned)uid);
	return tu_exit_code(status) == 0 && strcmp(out, want) == 0;
}
