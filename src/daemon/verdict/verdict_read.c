/* The verdict's facts, read: /proc/PID/status, the late thread's
 * schedstat, the process's cgroups (freezer, cpu throttling, PSI) and the
 * host's PSI.  Small files read into stack buffers; nothing allocated.
 * Everything is parsed by verdict.c (pure). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "verdict.h"
#include "verdict_read.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define PATH_SIZE   512

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	return proc_read_at(AT_FDCWD, path, buf, size);
}

/* Where the unified hierarchy is mounted: /sys/fs/cgroup on a unified
 * host, /sys/fs/cgroup/unified on a hybrid one. */
static const char *v2_root(void)
{
	return access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0 ? CGROUP_ROOT
								    : CGROUP_ROOT "/unified";
}

struct cgroup_paths {
	char v2[PATH_SIZE], cpu[PATH_SIZE], freezer[PATH_SIZE];
};

static int cgroup_paths(pid_t pid, struct cgroup_paths *p)
{
	char path[48], buf[2048];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	return verdict_parse_cgroup(buf, p->v2, p->cpu, p->freezer, PATH_SIZE);
}

/* The throttling of the cpu cgroup of P: the v1 cpu controller's cpu.stat
 * on a hybrid tree, else the unified one's. */
static int read_throttle(const struct cgroup_paths *p, uint64_t *nr, uint64_t *ns)
{
	char path[PATH_SIZE + 64], buf[1024];

	if (p->cpu[0])
		snprintf(path, sizeof(path), CGROUP_ROOT "/cpu%s/cpu.stat",
			 strcmp(p->cpu, "/") == 0 ? "" : p->cpu);
	else if (p->v2[0])
		snprintf(path, sizeof(path), "%s%s/cpu.stat", v2_root(),
			 strcmp(p->v2, "/") == 0 ? "" : p->v2);
	else
		return -ENOENT;
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -ENOENT;
	return verdict_parse_cpu_stat(buf, nr, ns);
}

static int read_delay(pid_t pid, pid_t tid, uint64_t *delay)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid,
		 (int)(tid ? tid : pid));
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	return verdict_parse_schedstat(buf, delay);
}

void verdict_sample(struct verdict_mark *m, pid_t pid, pid_t tid, uint64_t now)
{
	struct cgroup_paths p;

	m->at_ns = now;
	m->have_delay = read_delay(pid, tid, &m->run_delay_ns) == 0;
	m->have_throttle = cgroup_paths(pid, &p) == 0 &&
			   read_throttle(&p, &m->nr_throttled, &m->throttled_ns) == 0;
}

static void read_frozen(const struct cgroup_paths *p, struct verdict_facts *f)
{
	char path[PATH_SIZE + 64], buf[512];
	bool frozen = false;

	if (p->v2[0] && strcmp(p->v2, "/") != 0) {
		snprintf(path, sizeof(path), "%s%s/cgroup.events", v2_root(), p->v2);
		if (read_file(path, buf, sizeof(buf)) >= 0 &&
		    verdict_parse_cgroup_events(buf, &frozen) == 0 && frozen) {
			f->frozen = true;
			f->frozen_by = "cgroup.events";
			return;
		}
	}
	if (p->freezer[0] && strcmp(p->freezer, "/") != 0) {
		snprintf(path, sizeof(path), CGROUP_ROOT "/freezer%s/freezer.state", p->freezer);
		if (read_file(path, buf, sizeof(buf)) >= 0 &&
		    verdict_parse_freezer_state(buf, &frozen) == 0 && frozen) {
			f->frozen = true;
			f->frozen_by = "freezer.state";
		}
	}
}

/* The cgroup's pressure where the unified tree has the process in a
 * cgroup of its own, else the host's. */
static void read_psi(const struct cgroup_paths *p, struct verdict_facts *f)
{
	static const char *const res[] = {"cpu", "io", "memory"};
	char path[PATH_SIZE + 64], buf[512];
	bool cg = p->v2[0] && strcmp(p->v2, "/") != 0;

	if (cg) {
		snprintf(path, sizeof(path), "%s%s/cpu.pressure", v2_root(), p->v2);
		cg = access(path, R_OK) == 0;
	}
	f->psi_cgroup = cg;
	for (unsigned r = 0; r < PSI_MAX; r++) {
		if (cg)
			snprintf(path, sizeof(path), "%s%s/%s.pressure", v2_root(), p->v2, res[r]);
		else
			snprintf(path, sizeof(path), "/proc/pressure/%s", res[r]);
		f->have_psi[r] = read_file(path, buf, sizeof(buf)) >= 0 &&
				 verdict_parse_psi(buf, &f->psi_some[r], &f->psi_full[r]) == 0;
	}
}

int verdict_read(pid_t pid, pid_t tid, const struct verdict_mark *m, uint64_t now,
		 struct verdict_facts *f)
{
	char path[48], buf[4096];
	struct cgroup_paths p;
	uint64_t delay, nr, ns;

	*f = (struct verdict_facts){0};
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, buf, sizeof(buf)) < 0 ||
	    verdict_parse_status(buf, &f->state, &f->tracer, &f->core_dumping) < 0)
		return -ESRCH;
	f->read = true;
	/* The thread that last beat, once the record names it; until then
	 * the main thread. */
	f->tid = tid ? tid : pid;
	if (m->at_ns && now > m->at_ns) {
		f->window_ns = now - m->at_ns;
		if (m->have_delay && read_delay(pid, tid, &delay) == 0 &&
		    delay >= m->run_delay_ns) {
			f->have_wait = true;
			f->wait_ns = delay - m->run_delay_ns;
		}
	}
	if (cgroup_paths(pid, &p) < 0)
		return 0;
	read_frozen(&p, f);
	if (f->window_ns && m->have_throttle && read_throttle(&p, &nr, &ns) == 0 &&
	    nr >= m->nr_throttled && ns >= m->throttled_ns) {
		f->have_throttle = true;
		f->nr_throttled = nr - m->nr_throttled;
		f->throttled_ns = ns - m->throttled_ns;
	}
	read_psi(&p, f);
	return 0;
}

int verdict_read_dumping(pid_t pid, bool *dumping)
{
	char path[48], buf[4096], state;
	pid_t tracer;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, buf, sizeof(buf)) < 0 ||
	    verdict_parse_status(buf, &state, &tracer, dumping) < 0)
		return -ESRCH;
	return 0;
}
