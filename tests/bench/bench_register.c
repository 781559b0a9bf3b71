/* bench_register: N processes register at once.
 *
 *   bench_register HBWATCH [N [ROUNDS]]        (defaults: 1000, 3)
 *
 * Each round starts the real hbwatch (private IPC namespace, private key,
 * slots = 1024, the default) and forks N processes that wait at a gate
 * (bench_fleet.h); released together, each times hb_register() with
 * CLOCK_MONOTONIC and reports it, then holds its registration until
 * killed.  hb_register() attaches the registry, reads its start time,
 * creates its own record segment, fills it and announces it (one
 * fetch-and-add, one store, a futex wake): no lock is shared with the
 * others.  The daemon runs throughout, woken by the doorbell.
 *   total  = last registration done - release
 *   per registration: median, p99, max (as each client saw it)
 *   watched = how long until the daemon held a pidfd for every one
 * Then the census (every record in the namespace) is checked: every child
 * that registered holds exactly one open record, nobody else holds one:
 * duplicates, lost and foreign must be 0.  Prints figures and RESULT
 * {json}; never asserts.
 */
#include "bench_fleet.h"

#define BENCH_KEY 0x4bd7e7cau
#define SLOTS	  1024u

struct round {
	double total_ms, med_us, p99_us, max_us, watched_ms;
	unsigned ok, failed, dup, lost, foreign;
};

/* Until the daemon holds WANT more fds than BASE (a pidfd per watched
 * process), or stops gaining them.  Returns the ns since RELEASE, or 0 if
 * it never got there. */
static uint64_t wait_watched(pid_t daemon, int base, unsigned want, uint64_t release)
{
	int prev = -1, same = 0;

	for (int i = 0; i < 3000 && same < 500; i++) {
		int fds = bench_count_fds(daemon);

		if (fds >= base + (int)want)
			return now_ns() - release;
		same = fds == prev ? same + 1 : 0;
		prev = fds;
		bench_sleep(2000000u);
	}
	return 0;
}

static void round_figures(const struct fleet *f, struct round *o)
{
	int64_t *dur = calloc(f->got + 1, sizeof(*dur));
	uint64_t last = f->release_ns;

	for (unsigned i = 0; i < f->got; i++) {
		const struct fleet_rep *x = &f->reps[i];

		if (x->r < 0) {
			o->failed++;
			continue;
		}
		dur[o->ok++] = (int64_t)(x->t1 - x->t0);
		if (x->t1 > last)
			last = x->t1;
	}
	qsort(dur, o->ok, sizeof(*dur), bench_cmp_i64);
	o->total_ms = (double)(last - f->release_ns) / 1e6;
	o->med_us = (double)bench_pct_i64(dur, o->ok, 50) / 1e3;
	o->p99_us = (double)bench_pct_i64(dur, o->ok, 99) / 1e3;
	o->max_us = o->ok ? (double)dur[o->ok - 1] / 1e3 : 0;
	free(dur);
}

static int one_round(const char *hbwatch, unsigned n, struct round *o)
{
	struct bench_daemon d = {0};
	struct fleet f = {.name = "reg", .timeout_ms = 60000};
	struct fleet_check c;
	char conf[256];
	int base;

	*o = (struct round){0};
	snprintf(conf, sizeof(conf),
		 "[hbwatch]\nkey = 0x%x\nslots = %u\ngroup =\n\n[reg]\naction = log\n", BENCH_KEY,
		 SLOTS);
	if (bench_daemon_start(&d, hbwatch, conf, BENCH_KEY, n + 256) < 0) {
		bench_daemon_stop(&d, 1);
		return -1;
	}
	base = bench_count_fds(d.pid);
	if (fleet_start(&f, n) < 0 || f.started < n) {
		fprintf(stderr, "cannot start %u processes (%u started): %s\n", n, f.started,
			strerror(f.fork_errno));
		fleet_stop(&f);
		bench_daemon_stop(&d, 0);
		return -1;
	}
	fleet_wait_ready(&f, 60000000000ull);
	bench_sleep(200000000u);
	fleet_release(&f);
	fleet_collect(&f, 60000000000ull);
	round_figures(&f, o);
	o->watched_ms = (double)wait_watched(d.pid, base, o->ok, f.release_ns) / 1e6;
	c = fleet_verify(&f);
	o->dup = c.dup;
	o->foreign = c.foreign;
	o->lost = c.err < 0 ? o->ok : c.lost;
	o->failed += f.started - f.got; /* never reported */
	fleet_stop(&f);
	bench_daemon_stop(&d, 0);
	bench_remove_ipc(BENCH_KEY);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000;
	unsigned rounds = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 3;
	double tot[32], med[32], p99[32], mx[32], wat[32];
	unsigned ok = 0, dup = 0, lost = 0, foreign = 0, failed = 0;

	if (argc < 2 || n == 0 || n > SLOTS || rounds == 0 || rounds > 32) {
		fprintf(stderr, "usage: bench_register HBWATCH [N (1..%u) [ROUNDS]]\n", SLOTS);
		return 2;
	}
	int ns = bench_isolate(BENCH_KEY);
	printf("registration: %u processes released at once, slots = %u, hbwatch running%s\n\n", n,
	       SLOTS, ns ? "; private IPC namespace" : "");
	printf("%-6s %10s %12s %12s %12s %11s %6s %6s %6s %7s\n", "round", "total ms", "median us",
	       "p99 us", "max us", "watched ms", "ok", "dup", "lost", "failed");
	for (unsigned r = 0; r < rounds; r++) {
		struct round x;
		if (one_round(argv[1], n, &x) < 0) {
			fprintf(stderr, "round %u: could not run\n", r + 1);
			continue;
		}
		printf("%-6u %10.1f %12.1f %12.1f %12.1f %11.1f %6u %6u %6u %7u\n", r + 1,
		       x.total_ms, x.med_us, x.p99_us, x.max_us, x.watched_ms, x.ok, x.dup, x.lost,
		       x.failed);
		tot[ok] = x.total_ms;
		med[ok] = x.med_us;
		p99[ok] = x.p99_us;
		mx[ok] = x.max_us;
		wat[ok] = x.watched_ms;
		dup += x.dup;
		lost += x.lost;
		foreign += x.foreign;
		failed += x.failed;
		ok++;
	}
	if (!ok)
		return 1;
	double mt = bench_median_d(tot, ok), mm = bench_median_d(med, ok),
	       mp = bench_median_d(p99, ok), mmax = bench_median_d(mx, ok),
	       mw = bench_median_d(wat, ok);
	printf("\nmedian of rounds: total %.1f ms, per registration median %.1f us, p99 %.1f us, "
	       "max %.1f us; all watched by hbwatch %.1f ms after the release (0: never)\n"
	       "records: %u duplicate, %u lost, %u foreign; %u registrations failed\n",
	       mt, mm, mp, mmax, mw, dup, lost, foreign, failed);
	printf("RESULT {\"bench\":\"register\",\"n\":%u,\"rounds\":%u,\"total_ms\":%.1f,"
	       "\"median_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"watched_ms\":%.1f,"
	       "\"duplicates\":%u,\"lost\":%u,\"foreign\":%u,\"failed\":%u}\n",
	       n, ok, mt, mm, mp, mmax, mw, dup, lost, foreign, failed);
	return 0;
}
