/* hbctl's scripting and monitoring commands against the real daemon:
 * register/beat/unregister (pid and start time), check's exit codes and
 * line, metrics' label escaping, and a shell job killed when it stops
 * beating. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "proc.h"

TestSuite(ctl, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

/* Run hbctl with the NULL-terminated arguments; stdout and stderr go to
 * OUT (LEN bytes, NUL-terminated).  Returns the exit code (-1: no exit). */
static int ctl(char *out, size_t len, ...)
{
	const char *exe = getenv("HBCTL");
	char *argv[16];
	int argc = 0, fds[2], st;
	size_t n = 0;
	va_list ap;
	pid_t pid;

	cr_assert(exe, "$HBCTL is not set");
	argv[argc++] = (char *)exe;
	va_start(ap, len);
	for (char *a; (a = va_arg(ap, char *)) && argc < 15;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	cr_assert(pipe(fds) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execv(exe, argv);
		_exit(127);
	}
	close(fds[1]);
	for (ssize_t r; n + 1 < len && (r = read(fds[0], out + n, len - 1 - n)) > 0;)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void slot_view(pid_t pid, struct hb_slot_view *v)
{
	int s = hbd_slot_of(pid);

	cr_assert(s >= 0, "pid %d is not registered", (int)pid);
	cr_assert_eq(table_slot_read(hbd_table(), (uint32_t)s, v), 0);
}

/* Age the beat of PID's slot to AGE_MS ago, as if it had stopped beating. */
static void age_beat(pid_t pid, unsigned age_ms)
{
	int s = hbd_slot_of(pid);

	cr_assert(s >= 0);
	atomic_store(&hbd_table()->slots[s].beat_ns, hbd_now_ns() - (uint64_t)age_ms * 1000000u);
}

Test(ctl, register_beat_unregister)
{
	char out[1024], pid[16];
	struct hb_slot_view v;
	uint64_t st, beat;

	hbd_config("[job]\naction = log\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);
	cr_assert_eq(proc_starttime(s, &st), 0);

	cr_assert_eq(ctl(out, sizeof(out), "register", "--name", "job", "--timeout", "1min 30s",
			 "--pid", pid, NULL),
		     0, "%s", out);
	slot_view(s, &v);
	cr_assert_str_eq(v.name, "job");
	cr_assert_eq(v.start_time, st, "the start time of pid %d was not recorded", (int)s);
	cr_assert_eq(v.timeout_ns, 90ull * 1000000000u);
	cr_assert(hbd_log_wait(NULL, 0, NULL, 1000));
	cr_assert_eq(hbd_log_count("refused", s, NULL), 0, "the daemon refused it");

	age_beat(s, 5000);
	slot_view(s, &v);
	beat = v.beat_ns;
	cr_assert_eq(ctl(out, sizeof(out), "beat", "--pid", pid, NULL), 0, "%s", out);
	slot_view(s, &v);
	cr_assert(v.beat_ns > beat + 4000000000u, "beat did not move the heartbeat");

	cr_assert_eq(ctl(out, sizeof(out), "unregister", "--pid", pid, NULL), 0, "%s", out);
	cr_assert_eq(hbd_slot_of(s), -1, "the slot was not freed");
	cr_assert_eq(ctl(out, sizeof(out), "beat", "--pid", pid, NULL), 1);
	cr_assert(strstr(out, "is not registered"), "%s", out);
}

Test(ctl, refuses_bad_arguments)
{
	char out[1024];

	hbd_config("[job]\naction = log\n");
	hbd_start();
	cr_assert_eq(ctl(out, sizeof(out), "register", "--name", "job", "--timeout", "30s", "--pid",
			 "2147483646", NULL),
		     1);
	cr_assert(strstr(out, "cannot read the start time of pid 2147483646"), "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "register", "--name", "job", "--timeout", "soon", NULL),
		     2);
	cr_assert_eq(ctl(out, sizeof(out), "register", "--name", "job", "--timeout", "25h", NULL),
		     2);
	cr_assert_eq(ctl(out, sizeof(out), "register", "--timeout", "30s", NULL), 2);
	cr_assert_eq(ctl(out, sizeof(out), "register", "--name", "a b", "--timeout", "1s", NULL),
		     2);
	cr_assert_eq(ctl(out, sizeof(out), "beat", "--pid", "1", NULL), 2);
	cr_assert_eq(ctl(out, sizeof(out), "beat", "--pid", "12x", NULL), 2);
	for (uint32_t i = 0; i < hbd_table()->slot_count; i++)
		cr_assert_eq(atomic_load(&hbd_table()->slots[i].pid), 0, "slot %u was written", i);
}

/* A slot of an earlier process with the same pid (other start time) is not
 * the process's registration: beat and unregister leave it alone. */
Test(ctl, start_time_pinned)
{
	char out[1024], pid[16];
	uint64_t st;

	hbd_config("[job]\naction = log\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);
	cr_assert_eq(proc_starttime(s, &st), 0);
	hbd_fill_slot(s, st + 1, "job", 60000, hbd_now_ns());

	cr_assert_eq(ctl(out, sizeof(out), "beat", "--pid", pid, NULL), 1, "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "unregister", "--pid", pid, NULL), 1, "%s", out);
	/* Registering takes that slot over with the right start time. */
	cr_assert_eq(ctl(out, sizeof(out), "register", "--name", "job", "--timeout", "1min",
			 "--pid", pid, NULL),
		     0, "%s", out);
	struct hb_slot_view v;
	slot_view(s, &v);
	cr_assert_eq(v.start_time, st);
	cr_assert_eq(ctl(out, sizeof(out), "beat", "--pid", pid, NULL), 0, "%s", out);
}

Test(ctl, check_exit_codes)
{
	char out[1024], pid[16];

	hbd_config("[job]\naction = log\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s);
	cr_assert_eq(ctl(out, sizeof(out), "register", "--name", "job", "--timeout", "30s", "--pid",
			 pid, NULL),
		     0, "%s", out);

	cr_assert_eq(ctl(out, sizeof(out), "check", "job", NULL), 0, "%s", out);
	cr_assert(strncmp(out, "HBWATCH OK - job: 1 process, oldest beat ", 41) == 0, "%s", out);
	cr_assert(strstr(out, " ago (timeout 30s)|age="), "%s", out);
	cr_assert(strstr(out, "s;15;30\n"), "%s", out);

	age_beat(s, 20000);
	cr_assert_eq(ctl(out, sizeof(out), "check", "job", NULL), 1, "%s", out);
	cr_assert(strstr(out, "HBWATCH WARNING - job: 1 process, oldest beat 20"), "%s", out);

	age_beat(s, 45000);
	cr_assert_eq(ctl(out, sizeof(out), "check", "job", NULL), 2, "%s", out);
	cr_assert(strncmp(out, "HBWATCH CRITICAL - job", 22) == 0, "%s", out);

	/* A second, fresh process: the oldest beat still decides. */
	pid_t s2 = hbd_sleeper();
	snprintf(pid, sizeof(pid), "%d", (int)s2);
	cr_assert_eq(ctl(out, sizeof(out), "register", "--name", "job", "--timeout", "30s", "--pid",
			 pid, NULL),
		     0);
	cr_assert_eq(ctl(out, sizeof(out), "check", "job", NULL), 2, "%s", out);
	cr_assert(strstr(out, "job: 2 processes"), "%s", out);

	/* Gone processes are not live registrations. */
	hbd_kill(s, SIGKILL);
	hbd_kill(s2, SIGKILL);
	cr_assert(hbd_wait_exit(s, 5000, NULL) && hbd_wait_exit(s2, 5000, NULL));
	cr_assert_eq(ctl(out, sizeof(out), "check", "job", NULL), 2, "%s", out);
	cr_assert_str_eq(out, "HBWATCH CRITICAL - job: no live process registered\n");

	cr_assert_eq(ctl(out, sizeof(out), "-k", "0x7ffffff0", "check", "job", NULL), 3, "%s", out);
	cr_assert(strncmp(out, "HBWATCH UNKNOWN - no heartbeat table", 36) == 0, "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "check", NULL), 3, "%s", out);
}

/* Label values escaped as the exposition format wants, whatever the
 * table holds. */
Test(ctl, metrics_escaping)
{
	char out[8192], want[256];
	uint64_t st;

	hbd_config("[job]\naction = log\n");
	hbd_start();
	pid_t s = hbd_sleeper();
	cr_assert_eq(proc_starttime(s, &st), 0);
	int slot = hbd_fill_slot(s, st, "a\"b\\c\nd\001", 7000, hbd_now_ns());

	cr_assert_eq(ctl(out, sizeof(out), "metrics", NULL), 0, "%s", out);
	snprintf(want, sizeof(want),
		 "\nhbwatch_heartbeat_timeout_seconds{name=\"a\\\"b\\\\c\\nd\\\\x01\","
		 "pid=\"%d\",slot=\"%d\"} 7.000\n",
		 (int)s, slot);
	cr_assert(strstr(out, want), "no %s in\n%s", want, out);
	cr_assert(strstr(out, "\nhbwatch_slots_total 128\nhbwatch_slots_used 1\n") ||
		      strstr(out, "\nhbwatch_slots_used 1\n"),
		  "%s", out);
	cr_assert(strstr(out, "# TYPE hbwatch_heartbeat_age_seconds gauge\n"), "%s", out);
}

/* The hbctl(1) example: a shell job registers itself ($$), beats in its
 * loop, then hangs; hbwatch kills the shell. */
Test(ctl, shell_job_killed)
{
	const char *script =
	    "\"$HBCTL\" register --name job --timeout 400ms --pid $$ || exit 7\n"
	    "for i in 1 2 3 4 5; do \"$HBCTL\" beat --pid $$ || exit 8; sleep 0.1; "
	    "done\n"
	    "exec sleep 100\n";
	int st = 0;

	hbd_config("kill_grace = 300ms\n[job]\n");
	hbd_start();
	pid_t parent = getpid(), sh = fork();
	cr_assert(sh >= 0);
	if (sh == 0) {
		hbd_child_setup(parent);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	H.kids[H.n_kids++] = sh;
	cr_assert(hbd_wait_exit(sh, 10000, &st), "the hung job was not killed");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status 0x%x", st);
	cr_assert_eq(hbd_log_count("signal-sent", sh, "SIGABRT"), 1);
	cr_assert(hbd_log_count("deadline-missed", sh, NULL) == 1);
}
