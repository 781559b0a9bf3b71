/* worker: a threaded service with one hbwatch task per worker thread.
 *
 *   worker [NAME [WORKERS]]       (defaults: worker, 4)
 *
 * The process registers under NAME (a section of hbwatch.ini) and beats
 * from its main thread; each worker thread opens a task of its own
 * ("worker-N") and beats it after every job.  If one worker hangs, its
 * task stops beating and hbwatch signals the process, although the main
 * thread and the other workers are fine.  A job known to be long extends
 * the task first.  Build: cc -std=c11 -pthread worker.c $(pkg-config
 * --cflags --libs hbwatch). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hbwatch.h>

#define MAX_WORKERS 64

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop)
		;
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	char label[HB_NAME_MAX + 1];
	hb_task *task;
	int r;

	snprintf(label, sizeof(label), "worker-%d", id);
	/* Each job takes well under a second: beat at least every 5 s. */
	r = hb_task_open(&task, label, 5000);
	if (r < 0) {
		fprintf(stderr, "%s: hb_task_open: %s\n", label, strerror(-r));
		return NULL;
	}
	for (unsigned long job = 1; !stop; job++) {
		if (job % 100 == 0) {
			/* A job known to be long: 20 s more for this one. */
			hb_task_extend(task, 20000);
			sleep_ms(2000);
		} else {
			sleep_ms(100); /* ... one job ... */
		}
		hb_task_beat(task);
	}
	hb_task_close(task);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "worker";
	int n = argc > 2 ? atoi(argv[2]) : 4;
	pthread_t threads[MAX_WORKERS];
	struct sigaction sa;
	int r, started = 0;

	if (n < 1 || n > MAX_WORKERS) {
		fprintf(stderr, "usage: worker [NAME [WORKERS (1-%d)]]\n", MAX_WORKERS);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* The process itself: beat at least every 10 s. */
	r = hb_register(name, 10000);
	if (r < 0) {
		fprintf(stderr, "hb_register: %s\n", strerror(-r));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		r = pthread_create(&threads[i], NULL, worker, (void *)(long)i);
		if (r != 0) {
			fprintf(stderr, "pthread_create: %s\n", strerror(r));
			stop = 1;
			break;
		}
		started++;
	}
	while (!stop) {
		sleep_ms(1000);
		hb_beat();
	}
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	hb_unregister();
	return 0;
}
