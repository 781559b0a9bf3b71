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

struct demo {
	const char *name, *label, *how;
	unsigned timeout, hang_after, work;
	hb_task *task;
};

static void usage(FILE *to)
{
	fprintf(to, "Usage: hbwatch-demo [-n NAME] [-t TIMEOUT_MS] [-H HANG_AFTER_MS] "
		    "[-T LABEL] [-m pause|spin|read|stop] [-w WORK_MS]\n"
		    "Registers as NAME (default hbwatch-demo) and beats every "
		    "TIMEOUT/4; with -H, stops beating after that long but stays alive,\n"
		    "asleep (-m pause, the default), in a busy loop (spin), blocked "
		    "reading a pipe (read) or stopped (stop).\n"
		    "With -T, also beats a task LABEL with the same timeout, and -H "
		    "stops the task's beats instead of the process's.\n"
		    "With -w, spends WORK_MS of CPU after each beat.\n");
}

/* Fill D from the command line.  Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct demo *d)
{
	int c;

	while ((c = getopt(argc, argv, "n:t:H:T:m:w:h")) != -1) {
		switch (c) {
		case 'n':
			d->name = optarg;
			break;
		case 'T':
			d->label = optarg;
			break;
		case 'm':
			d->how = optarg;
			if (strcmp(d->how, "pause") && strcmp(d->how, "spin") &&
			    strcmp(d->how, "read") && strcmp(d->how, "stop")) {
				fprintf(stderr, "hbwatch-demo: bad -m value '%s'\n", d->how);
				return 2;
			}
			break;
		case 'w':
			if (parse_ms(optarg, &d->work) < 0) {
				fprintf(stderr, "hbwatch-demo: bad -w value '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
		case 'H':
			if (parse_ms(optarg, c == 't' ? &d->timeout : &d->hang_after) < 0 ||
			    (c == 't' && d->timeout == 0)) {
				fprintf(stderr, "hbwatch-demo: bad -%c value '%s'\n", c, optarg);
				return 2;
			}
			break;
		default:
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	return -1;
}

/* Register, and open the task if asked.  Returns 0 or the exit status. */
static int start(struct demo *d)
{
	int r = hb_register(d->name, d->timeout);

	if (r < 0) {
		fprintf(stderr, "hbwatch-demo: cannot register as %s: %s\n", d->name, strerror(-r));
		return 1;
	}
	if (d->label) {
		r = hb_task_open(&d->task, d->label, d->timeout);
		if (r < 0) {
			fprintf(stderr, "hbwatch-demo: cannot open task %s: %s\n", d->label,
				strerror(-r));
			return 1;
		}
	}
	printf("hbwatch-demo[%d]: registered as %s, timeout %u ms%s%s%s\n", (int)getpid(), d->name,
	       d->timeout, d->label ? ", task " : "", d->label ? d->label : "",
	       d->hang_after ? ", will hang" : "");
	fflush(stdout);
	return 0;
}

/* Beat every timeout/4 until -H says to stop (the task's beats, or the
 * process's: then hang as -m says).  Returns the exit status on failure. */
static int beat_loop(const struct demo *d)
{
	unsigned step = d->timeout / 4 ? d->timeout / 4 : 1;
	bool task_silent = false;
	int r;

	for (unsigned elapsed = 0;; elapsed += step) {
		bool hung = d->hang_after && elapsed >= d->hang_after;

		if (d->task && hung) {
			if (!task_silent) {
				printf("hbwatch-demo[%d]: task %s stopped beating (the process "
				       "beats on)\n",
				       (int)getpid(), d->label);
				fflush(stdout);
				task_silent = true;
			}
		} else if (d->task) {
			r = hb_task_beat(d->task);
			if (r < 0) {
				fprintf(stderr, "hbwatch-demo: task beat failed: %s\n",
					strerror(-r));
				return 1;
			}
		} else if (hung) {
			printf("hbwatch-demo[%d]: stopped beating (hung, but alive: %s)\n",
			       (int)getpid(), d->how);
			fflush(stdout);
			hang(d->how);
		}
		r = hb_beat();
		if (r < 0) {
			fprintf(stderr, "hbwatch-demo: beat failed: %s\n", strerror(-r));
			return 1;
		}
		if (d->work)
			work_ms(d->work);
		sleep_ms(step);
	}
}

int main(int argc, char **argv)
{
	struct demo d = {.name = "hbwatch-demo", .how = "pause", .timeout = 2000};
	int r = parse_args(argc, argv, &d);

	if (r >= 0)
		return r;
	r = start(&d);
	return r ? r : beat_loop(&d);
}
