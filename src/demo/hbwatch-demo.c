/* hbwatch-demo: a worker that beats, and optionally stops beating while
 * staying alive, to show hbwatch at work (the quick start and the demo
 * service use it).  With -T, it also keeps a task heartbeat, and it is
 * the task that stops beating: hbwatch acts on the process for it. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hbwatch.h>

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

int main(int argc, char **argv)
{
	const char *name = "hbwatch-demo", *label = NULL;
	unsigned timeout = 2000, hang_after = 0;
	hb_task *task = NULL;
	bool task_silent = false;
	int c, r;

	while ((c = getopt(argc, argv, "n:t:H:T:h")) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'T':
			label = optarg;
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
			    "[-T LABEL]\n"
			    "Registers as NAME (default hbwatch-demo) and beats every "
			    "TIMEOUT/4; with -H, stops beating after that long but stays alive.\n"
			    "With -T, also beats a task LABEL with the same timeout, and -H "
			    "stops the task's beats instead of the process's.\n");
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
			printf("hbwatch-demo[%d]: stopped beating (hung, but alive)\n",
			       (int)getpid());
			fflush(stdout);
			for (;;)
				pause();
		}
		r = hb_beat();
		if (r < 0) {
			fprintf(stderr, "hbwatch-demo: beat failed: %s\n", strerror(-r));
			return 1;
		}
		sleep_ms(timeout / 4 ? timeout / 4 : 1);
	}
}
