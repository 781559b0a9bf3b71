/* The record of a missed deadline says why the process hung, as /proc
 * saw it before the signal: a busy loop (R, CPU near the time since its
 * last beat), a blocked pipe read (S, wchan naming the pipe), a process
 * stopped by SIGSTOP (T; it still dies of its signal, not of SIGKILL). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

TestSuite(triage, .init = hbd_init, .fini = hbd_fini, .timeout = 60);

int main(int argc, char **argv)
{
	return hbd_main(argc, argv);
}

/* The value of field NAME in a stderr line: NAME="value". */
static bool field(const char *line, const char *name, char *out, size_t len)
{
	char key[64];
	const char *p, *q;

	snprintf(key, sizeof(key), "%s=\"", name);
	p = strstr(line, key);
	if (!p || (p[-1] != ' ' && p[-1] != '['))
		return false;
	p += strlen(key);
	q = strchr(p, '"');
	if (!q || (size_t)(q - p) >= len)
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return true;
}

static unsigned long long field_u(const char *line, const char *name)
{
	char v[32];

	cr_assert(field(line, name, v, sizeof(v)), "no %s in: %s", name, line);
	return strtoull(v, NULL, 10);
}

/* The deadline-missed line of W, after W died of SIG. */
static void missed_line(pid_t w, int sig, char *line, size_t len)
{
	int st;

	cr_assert(hbd_wait_exit(w, 10000, &st), "pid %d was not killed", (int)w);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == sig, "pid %d: status 0x%x, expected signal %d",
		  (int)w, st, sig);
	cr_assert(hbd_log_wait("deadline-missed", w, NULL, 2000));
	cr_assert(hbd_log_line("deadline-missed", w, NULL, line, len));
	cr_log_info("%s", line);
}

Test(triage, busy_loop_is_running_and_spends_its_cpu)
{
	char line[2048], state[128];

	/* starve_grace = 0: on a loaded host a busy loop may be runnable
	 * rather than running most of the time, and would be deferred; what
	 * is looked at here is the triage of the deadline itself. */
	hbd_config("kill_grace = 5s\n[busy]\ntimeout = 500ms\nstarve_grace = 0\n");
	hbd_start();
	pid_t w = hbd_worker("busy", 500, "--beat-ms", "100", "--hang-after-ms", "400",
			     "--hang-how", "spin", NULL);
	missed_line(w, SIGABRT, line, sizeof(line));

	cr_assert(field(line, "HBWATCH_PROC_STATE", state, sizeof(state)), "%s", line);
	cr_assert_eq(state[0], 'R', "state %s", state);
	cr_assert(strstr(state, "(threads: 1 R)"), "state %s", state);
	cr_assert_eq(field_u(line, "HBWATCH_THREADS"), 1);
	unsigned long long cpu = field_u(line, "HBWATCH_CPU_USEC_SINCE_BEAT");
	unsigned long long win = field_u(line, "HBWATCH_CPU_WINDOW_USEC");
	/* It spun for the whole window, but shares the CPUs with whatever
	 * else runs: at least a quarter of it, and the words follow the
	 * figure (spinning from half on). */
	cr_assert_geq(cpu * 4, win, "CPU %llu us in a window of %llu us", cpu, win);
	cr_assert_geq(win * 4, 500000ull * 2, "window %llu us: the sample is far from the beat",
		      win);
	cr_assert(
	    strstr(line, cpu * 2 >= win + 20000 ? "; spinning: " : "; runnable but starved: ") ||
		(cpu * 2 >= win - 20000 && strstr(line, "; spinning: ")),
	    "%s", line);
	cr_assert(strstr(line, "% CPU since its last beat"), "%s", line);
	hbd_figure("busy loop: %llu us of CPU in a window of %llu us", cpu, win);
}

Test(triage, blocked_read_sleeps_in_the_pipe)
{
	char line[2048], state[128], wchan[128];

	hbd_config("kill_grace = 5s\n[blocked]\ntimeout = 500ms\n");
	hbd_start();
	pid_t w = hbd_worker("blocked", 500, "--beat-ms", "100", "--hang-after-ms", "300",
			     "--hang-how", "read", NULL);
	missed_line(w, SIGABRT, line, sizeof(line));

	cr_assert(field(line, "HBWATCH_PROC_STATE", state, sizeof(state)), "%s", line);
	cr_assert_str_eq(state, "S (threads: 1 S)");
	cr_assert(field(line, "HBWATCH_WCHAN", wchan, sizeof(wchan)), "%s", line);
	/* The daemon runs as root here: the wchan is readable. */
	cr_assert(strstr(wchan, "pipe_read"), "wchan %s", wchan);
	char words[160];
	snprintf(words, sizeof(words), "blocked in %s: ", wchan);
	cr_assert(strstr(line, words), "%s", line);
	unsigned long long cpu = field_u(line, "HBWATCH_CPU_USEC_SINCE_BEAT");
	unsigned long long win = field_u(line, "HBWATCH_CPU_WINDOW_USEC");
	cr_assert_leq(cpu * 10, win, "a blocked reader used %llu us of %llu us", cpu, win);
	/* Read last, only while the budget lasts (a loaded machine may not
	 * leave time for it). */
	if (strstr(line, "HBWATCH_VOLUNTARY_CTXT_SWITCHES="))
		cr_assert(field_u(line, "HBWATCH_VOLUNTARY_CTXT_SWITCHES") > 0, "%s", line);
}

Test(triage, stopped_process_says_so_and_dies_of_its_signal)
{
	char line[2048], state[128];

	hbd_config("kill_grace = 3s\n[stopped]\ntimeout = 500ms\n");
	hbd_start();
	pid_t w = hbd_worker("stopped", 500, "--beat-ms", "100", "--hang-after-ms", "300",
			     "--hang-how", "stop", NULL);
	/* Dies of SIGABRT long before kill_grace: SIGCONT follows it. */
	missed_line(w, SIGABRT, line, sizeof(line));

	cr_assert(field(line, "HBWATCH_PROC_STATE", state, sizeof(state)), "%s", line);
	cr_assert_str_eq(state, "T (threads: 1 T)");
	cr_assert(strstr(line, "; stopped (T) ["), "%s", line);
	cr_assert_eq(hbd_log_count("escalated", w, NULL), 0);
}

/* Three more threads asleep: the summary counts them all (or says how
 * many the time budget left unread). */
Test(triage, threads_are_counted)
{
	char line[2048], state[128];

	hbd_config("kill_grace = 5s\n[many]\ntimeout = 500ms\n");
	hbd_start();
	pid_t w = hbd_worker("many", 500, "--beat-ms", "100", "--hang-after-ms", "300",
			     "--hang-how", "read", "--threads", "3", NULL);
	missed_line(w, SIGABRT, line, sizeof(line));

	cr_assert(field(line, "HBWATCH_PROC_STATE", state, sizeof(state)), "%s", line);
	cr_assert_eq(field_u(line, "HBWATCH_THREADS"), 4);
	/* Every thread read, or those the budget left out said to be so. */
	unsigned s_n = 0, unread = 0;
	int k = sscanf(state, "S (threads: %u S, %u not read)", &s_n, &unread);
	cr_assert(k >= 1 && s_n >= 1 && s_n + unread == 4 &&
		      (k == 2 || strcmp(state, "S (threads: 4 S)") == 0),
		  "state %s", state);
	hbd_figure("4 threads asleep: %s", state);
}

/* action = log: the process stays, and hbctl status shows why it hung
 * (text and --json) for as long as hbwatch holds its missed deadline. */
Test(triage, hbctl_status_shows_why)
{
	char out[8192], err[1024], line[2048];

	hbd_config("kill_grace = 5s\n[quiet]\ntimeout = 500ms\naction = log\n");
	hbd_start();
	pid_t w = hbd_worker("quiet", 500, "--beat-ms", "100", "--hang-after-ms", "300",
			     "--hang-how", "read", NULL);
	cr_assert(hbd_log_wait("deadline-missed", w, "blocked in ", 5000));
	cr_assert(hbd_log_line("deadline-missed", w, NULL, line, sizeof(line)));
	/* The segment is rewritten after the scan: give it a moment. */
	hbd_sleep_ms(200);

	int st = tu_run((char *[]){(char *)tu_prog("HBCTL"), "status", "--json", NULL}, out,
			sizeof(out), err, sizeof(err), 5000);
	cr_assert_eq(tu_exit_code(st), 0, "hbctl: %s", err);
	cr_assert(tu_json_valid(out), "%s", out);
	cr_assert(strstr(out, "\"state\":\"logged\""), "%s", out);
	cr_assert(strstr(out, "\"triage\":{\"proc_state\":\"S (threads: 1 S)\",\"wchan\":\""), "%s",
		  out);
	cr_assert(strstr(out, "pipe_read\",\"threads\":1,\"cpu_usec_since_beat\":"), "%s", out);
	cr_assert(strstr(out, "\"summary\":\"blocked in "), "%s", out);

	st = tu_run((char *[]){(char *)tu_prog("HBCTL"), "status", NULL}, out, sizeof(out), err,
		    sizeof(err), 5000);
	cr_assert_eq(tu_exit_code(st), 0, "hbctl: %s", err);
	cr_assert(strstr(out, "logged (blocked in "), "%s", out);
	cr_assert(strstr(out, "pipe_read"), "%s", out);
	cr_assert(hbd_alive(w));
	hbd_kill(w, SIGKILL);
	cr_assert(hbd_wait_exit(w, 5000, NULL));
}
