/* Reading a process's triage facts from /proc on the kill path: one
 * directory fd for /proc/PID, files opened relative to it and read with
 * pread() into stack buffers, nothing allocated.  The start time read
 * through that directory proves it is the registered process, and every
 * later read goes through the same directory, so a pid reused meanwhile
 * cannot slip in (its files then fail with ESRCH). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "proc.h"
#include "triage.h"

/* Read file NAME under directory fd DIR into BUF (NUL-terminated).
 * Returns the length or -errno. */
static ssize_t read_at(int dir, const char *name, char *buf, size_t size)
{
	ssize_t n = proc_read_at(dir, name, buf, size);

	return n == -ENOENT ? -ESRCH : n; /* the process or thread is gone */
}

static int open_pid_dir(pid_t pid)
{
	char path[32];

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	int dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return dir;
}

/* The state of each thread but the main one, and the wchan of those in D,
 * until END_NS. */
static void read_threads(int dir, pid_t pid, struct triage_facts *f, uint64_t end_ns)
{
	char dents[2048] __attribute__((aligned(8)));
	char buf[512], w[64], main_name[16];
	int td = openat(dir, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ssize_t nb;

	if (td < 0)
		return;
	snprintf(main_name, sizeof(main_name), "%d", (int)pid);
	while ((nb = getdents64(td, dents, sizeof(dents))) > 0) {
		for (ssize_t off = 0; off < nb;) {
			struct dirent64 *e = (struct dirent64 *)(void *)(dents + off);
			char path[48];
			ssize_t n;

			off += e->d_reclen;
			if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
			    strcmp(e->d_name, main_name) == 0)
				continue;
			if (now_ns() >= end_ns)
				goto out;
			snprintf(path, sizeof(path), "%.16s/stat", e->d_name);
			n = read_at(td, path, buf, sizeof(buf));
			if (n < 0 || triage_add_thread(f, buf, (size_t)n) != 'D')
				continue; /* a thread that ended meanwhile is not counted */
			snprintf(path, sizeof(path), "%.16s/wchan", e->d_name);
			n = read_at(td, path, buf, sizeof(buf));
			w[0] = '\0';
			if (n >= 0)
				triage_set_wchan(w, buf, (size_t)n);
			triage_add_d_wchan(f, w);
		}
	}
out:
	close(td);
}

int triage_read(pid_t pid, uint64_t start_time, uint64_t budget_ns, struct triage_facts *f)
{
	uint64_t t0 = now_ns();
	uint64_t end = budget_ns > UINT64_MAX - t0 ? UINT64_MAX : t0 + budget_ns;
	char buf[1024], status[4096];
	ssize_t n;
	int dir;

	*f = (struct triage_facts){0};
	dir = open_pid_dir(pid);
	if (dir < 0) {
		snprintf(f->why, sizeof(f->why), "%s", dir == -ESRCH ? "gone" : strerror(-dir));
		return dir;
	}
	n = read_at(dir, "stat", buf, sizeof(buf));
	if (n < 0 || triage_parse_process(f, buf, (size_t)n) < 0) {
		int r = n < 0 ? (int)n : -EINVAL;
		*f = (struct triage_facts){0};
		snprintf(f->why, sizeof(f->why), "%s", r == -ESRCH ? "gone" : strerror(-r));
		close(dir);
		return r;
	}
	if (f->start_time != start_time) {
		*f = (struct triage_facts){0};
		snprintf(f->why, sizeof(f->why), "its pid is another process's now");
		close(dir);
		return -ESRCH;
	}
	n = read_at(dir, "wchan", buf, sizeof(buf));
	if (n >= 0)
		triage_set_wchan(f->wchan, buf, (size_t)n);
	if (f->threads > 1)
		read_threads(dir, pid, f, end);
	/* Last, and only in time: the threads' states say more. */
	if (now_ns() < end) {
		n = read_at(dir, "status", status, sizeof(status));
		if (n >= 0)
			(void)triage_parse_ctxt(f, status);
	}
	close(dir);
	return 0;
}

int triage_cpu_ticks(pid_t pid, uint64_t start_time, uint64_t *ticks)
{
	struct proc_stat st;
	int r = proc_stat_facts(pid, &st);

	if (r < 0)
		return r;
	if (st.start_time != start_time)
		return -ESRCH;
	*ticks = st.cpu_ticks;
	return 0;
}

void triage_baseline(struct triage_mark *m, uint64_t beat_ns, uint64_t now, uint64_t cpu_ticks)
{
	m->beat_ns = beat_ns;
	m->at_ns = now;
	m->cpu_ticks = cpu_ticks;
}

void triage_sample(struct triage_mark *m, pid_t pid, uint64_t start_time, uint64_t beat_ns,
		   uint64_t now, uint64_t min_gap_ns, unsigned *warm_left)
{
	uint64_t ticks = 0;

	if (beat_ns == m->beat_ns || (m->at_ns && now - m->at_ns < min_gap_ns))
		return;
	if (!m->warm && *warm_left > 0) {
		/* One look that reads everything: the kernel makes its /proc
		 * entries for the process now (a first read costs several
		 * times a later one), not on the kill path.  A few per pass,
		 * so thousands of new processes never stall a pass. */
		struct triage_facts f;
		(*warm_left)--;
		if (triage_read(pid, start_time, UINT64_MAX, &f) < 0)
			return;
		m->warm = true;
		ticks = f.cpu_ticks;
	} else if (triage_cpu_ticks(pid, start_time, &ticks) < 0) {
		return;
	}
	m->beat_ns = beat_ns;
	m->at_ns = now;
	m->cpu_ticks = ticks;
}
