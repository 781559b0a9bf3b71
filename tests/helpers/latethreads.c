/* Preloaded into a program (LD_PRELOAD), makes every thread it creates
 * start HB_LATE_THREADS_MS (default 200) milliseconds late, as a loaded
 * machine may: the creator runs on meanwhile.  For tests of what a program
 * does before its threads have run. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef int create_fn(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct late {
	void *(*start)(void *);
	void *arg;
};

static void *late_start(void *p)
{
	struct late l = *(struct late *)p;
	const char *v = getenv("HB_LATE_THREADS_MS");
	long ms = v ? atol(v) : 200;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};

	free(p);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return l.start(l.arg);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
	static create_fn *real;
	struct late *l;
	int r;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
	if (!real)
		abort();
	l = malloc(sizeof(*l));
	if (!l)
		return real(t, attr, start, arg);
	*l = (struct late){.start = start, .arg = arg};
	r = real(t, attr, late_start, l);
	if (r != 0)
		free(l);
	return r;
}
