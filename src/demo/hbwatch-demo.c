/* hbwatch-demo: a worker that beats, and optionally stops beating while
 * staying alive, to show hbwatch at work (the quick start and the demo
 * service use it).  With -T, it also keeps a task heartbeat, and it is
 * the task that stops beating: hbwatch acts on the process for it. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hbwatch.h>

/* Spend MS of this thread's CPU time: real work, which a process denied
 * the CPU (a CPUQuota=, a busy host) takes longer to do. */
static void work_ms(unsigned ms)
{
	struct timespec ts;
	unsigned long long end, t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec +
	      ms * 1000000ull;
	do {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		t = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	} while (t < end);
}

static int parse_ms(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 86400000ul)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Hang the way HOW says, for good: asleep, in a busy loop, blocked in a
 * read of a pipe nobody writes, or stopped.  hbwatch's record of the
 * missed deadline says which (hbwatch(8), JOURNAL FIELDS). */
static void hang(const char *how)
{
	volatile unsigned long spins = 0;
	int p[2];
	char c;

	if (strcmp(how, "spin") == 0)
		for (;;)
			spins++;
	if (strcmp(how, "read") == 0 && pipe(p) == 0)
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
	if (strcmp(how, "stop") == 0)
		raise(SIGSTOP);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	const char *name = "hbwatch-demo", *label = NULL, *how = "pause";
	unsigned timeout = 2000, hang_after = 0, work = 0;
	hb_task *task = NULL;
	bool task_silent = false;
	int c, r;

	while ((c = getopt(argc, argv, "n:t:H:T:m:w:h")) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'T':
			label = optarg;
			break;
		case 'm':
			how = optarg;
			if (strcmp(how, "pause") && strcmp(how, "spin") && strcmp(how, "read") &&
			    strcmp(how, "stop")) {
				fprintf(stderr, "hbwatch-demo: bad -m value '%s'\n", how);
				return 2;
			}
			break;
		case 'w':
			if (parse_ms(optarg, &work) < 0) {
				fprintf(stderr, "hbwatch-demo: bad -w value '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
		case 'H':
			if (parse_ms(optarg, c == 't' ? &timeout : &hang_after) < 0 ||
			    (c == 't' && timeout == 0)) {
				fprintf(stderr, "hbwatch-demo: bad -%c value '%s'\n", c, optarg);
				return 2;
			}
			break;
		default:
			fprintf(
			    c == 'h' ? stdout : stderr,
			    "Usage: hbwatch-demo [-n NAME] [-t TIMEOUT_MS] [-H HANG_AFTER_MS] "
			    "[-T LABEL] [-m pause|spin|read|stop] [-w WORK_MS]\n"
			    "Registers as NAME (default hbwatch-demo) and beats every "
			    "TIMEOUT/4; with -H, stops beating after that long but stays alive,\n"
			    "asleep (-m pause, the default), in a busy loop (spin), blocked "
			    "reading a pipe (read) or stopped (stop).\n"
			    "With -T, also beats a task LABEL with the same timeout, and -H "
			    "stops the task's beats instead of the process's.\n"
			    "With -w, spends WORK_MS of CPU after each beat.\n");
			return c == 'h' ? 0 : 2;
		}
	}
	r = hb_register(name, timeout);
	if (r < 0) {
		fprintf(stderr, "hbwatch-demo: cannot register as %s: %s\n", name, strerror(-r));
		return 1;
	}
	if (label) {
		r = hb_task_open(&task, label, timeout);
		if (r < 0) {
			fprintf(stderr, "hbwatch-demo: cannot open task %s: %s\n", label,
				strerror(-r));
			return 1;
		}
	}
	printf("hbwatch-demo[%d]: registered as %s, timeout %u ms%s%s%s\n", (int)getpid(), name,
	       timeout, label ? ", task " : "", label ? label : "",
	       hang_after ? ", will hang" : "");
	fflush(stdout);
	for (unsigned elapsed = 0;; elapsed += timeout / 4 ? timeout / 4 : 1) {
		if (task && hang_after && elapsed >= hang_after) {
			if (!task_silent) {
				printf("hbwatch-demo[%d]: task %s stopped beating (the process "
				       "beats on)\n",
				       (int)getpid(), label);
				fflush(stdout);
				task_silent = true;
			}
		} else if (task) {
			r = hb_task_beat(task);
			if (r < 0) {
				fprintf(stderr, "hbwatch-demo: task beat failed: %s\n",
					strerror(-r));
				return 1;
			}
		} else if (hang_after && elapsed >= hang_after) {
			printf("hbwatch-demo[%d]: stopped beating (hung, but alive: %s)\n",
			       (int)getpid(), how);
			fflush(stdout);
			hang(how);
		}
		r = hb_beat();
		if (r < 0) {
			fprintf(stderr, "hbwatch-demo: beat failed: %s\n", strerror(-r));
			return 1;
		}
		if (work)
			work_ms(work);
		sleep_ms(timeout / 4 ? timeout / 4 : 1);
	}
}
