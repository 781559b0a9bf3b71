/* hbctl: inspect hbwatch's heartbeat records, register shell jobs, manage
 * the registry. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "key.h"
#include "registry.h"

static const struct command commands[] = {
    {"status", "[--json]",
     "list registered processes: record, pid, name, timeout, age of the last beat, state",
     cmd_status},
    {"wait-ready", "[--timeout TIME]",
     "wait until hbwatch runs at the key and takes registrations (default: up to 30s)",
     cmd_wait_ready},
    {"remove", "[--force]", "delete the registry at the key (--force: even if it is not hbwatch's)",
     cmd_remove},
    {"register", "--name NAME --timeout TIME [--pid PID] [--wait TIME]",
     "register PID (default: hbctl's parent, the calling shell); --wait: until hbwatch watches it",
     cmd_register},
    {"beat", "[--pid PID]", "record a heartbeat for PID (default: hbctl's parent)", cmd_beat},
    {"unregister", "[--pid PID]", "remove the registration of PID (default: hbctl's parent)",
     cmd_unregister},
    {"check", "NAME", "monitoring-plugin check of the processes registered as NAME (exit 0/1/2/3)",
     cmd_check},
    {"metrics", "[--counters FILE]",
     "Prometheus text format: process series, plus the daemon's counters from FILE", cmd_metrics},
};

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hbctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl [-k KEY] [-h] [--version] COMMAND [ARGS]\n"
		"\n"
		"Inspect hbwatch's heartbeat records and manage its registry.\n"
		"\n"
		"Options:\n"
		"  -k, --key KEY  System V key of the registry, in hex (default: $HBWATCH_KEY,\n"
		"                 else 0x%x)\n"
		"  -h, --help     show this help and exit\n"
		"      --version  show the version and exit\n"
		"\n"
		"Commands:\n",
		HB_KEY_DEFAULT);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args,
			commands[i].help);
	fprintf(f, "\n"
		   "States (status): ok; late (no beat within the timeout); extended (carried\n"
		   "past its timeout by hb_extend()); acted-on (signalled or restarted,\n"
		   "waiting for it to go); logged (action=log); rate-limited (held back by\n"
		   "kill_burst); unkillable (still there after SIGKILL); refused (hbwatch does\n"
		   "not watch it, and why); unseen (not picked up yet); stale (the process is\n"
		   "gone or its pid was reused); untrusted (others may write the record, or\n"
		   "its writer could not signal the process: hbwatch never acts on it); busy\n"
		   "(the record was being rewritten); bad-name (no valid name); deferred\n"
		   "(late but starved of CPU or I/O: waits starve_grace); frozen (its cgroup\n"
		   "is frozen: left alone); debugged (held by a tracer: left alone); dumping\n"
		   "(signalled and writing its core: SIGKILL waits, up to dump_max).\n"
		   "\n"
		   "Exit status:\n"
		   "  0  success\n"
		   "  1  the operation failed (hbwatch not running, also for status and\n"
		   "     wait-ready; not permitted; foreign segment, ...); the reason is\n"
		   "     printed on stderr\n"
		   "  2  usage error (unknown command or option, bad key)\n"
		   "check exits 0 OK, 1 WARNING (a beat older than half the timeout),\n"
		   "2 CRITICAL (older than the timeout, no live process, hbwatch not\n"
		   "running), 3 UNKNOWN (usage errors included, reported on stdout).\n");
}

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* The command word of ARGV, found before the options are parsed: the first
 * word that is neither an option nor the argument of -k/--key.  NULL if
 * none. */
static const char *command_peek(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "-k") == 0 || strcmp(argv[i], "--key") == 0) {
			i++;
			continue;
		}
		if (argv[i][0] != '-')
			return argv[i];
	}
	return NULL;
}

/* A usage error: on stderr with exit 2, except for 'check', whose caller
 * is a monitoring system that reads stdout and knows only 0 to 3. */
static int usage_error(int argc, char **argv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int usage_error(int argc, char **argv, const char *fmt, ...)
{
	const char *cmd = command_peek(argc, argv);
	va_list ap;

	va_start(ap, fmt);
	if (cmd && strcmp(cmd, "check") == 0) {
		fputs("HBWATCH UNKNOWN - ", stdout);
		vprintf(fmt, ap);
		fputc('\n', stdout);
		va_end(ap);
		return CTL_CHECK_UNKNOWN;
	}
	fputs("hbctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return CTL_EXIT_USAGE;
}

/* hbctl's own options, before the command; *KEY_ARG gets --key's value.
 * Returns -1 to go on, or the exit status. */
static int options_parse(int argc, char **argv, const char **key_arg)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	int c;

	opterr = 0;
	/* '+': stop at the command, whose own arguments are its business. */
	while ((c = getopt_long(argc, argv, "+:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			*key_arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("hbctl %s\n", HBWATCH_VERSION);
			return CTL_EXIT_OK;
		case ':':
			return usage_error(argc, argv,
					   "option '%s' needs an argument (try 'hbctl --help')",
					   argv[optind - 1]);
		default:
			/* optopt is set for a short option, 0 for a long one. */
			if (optopt)
				return usage_error(argc, argv,
						   "unknown option '-%c' (try 'hbctl --help')",
						   optopt);
			return usage_error(argc, argv, "unknown option '%s' (try 'hbctl --help')",
					   argv[optind - 1]);
		}
	}
	return -1;
}

/* The registry key in *KEY: KEY_ARG (--key), else $HBWATCH_KEY or the
 * default.  Returns -1 to go on, or the exit status. */
static int key_choose(int argc, char **argv, const char *key_arg, int *key)
{
	if (key_arg) {
		if (key_parse(key_arg, key) < 0) {
			return usage_error(argc, argv,
					   "bad key '%s': expected hex, 1 to 0x7fffffff", key_arg);
		}
	} else if (key_from_env(key) < 0) {
		return usage_error(argc, argv,
				   "bad key in $HBWATCH_KEY: expected hex, 1 to 0x7fffffff");
	}
	return -1;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	const char *key_arg = NULL;
	struct ctl ctl;
	int r;

	r = options_parse(argc, argv, &key_arg);
	if (r >= 0)
		return r;
	if (optind >= argc) {
		ctl_error("no command given (try 'hbctl --help')");
		return CTL_EXIT_USAGE;
	}
	cmd = command_find(argv[optind]);
	if (!cmd) {
		ctl_error("unknown command '%s' (try 'hbctl --help')", argv[optind]);
		return CTL_EXIT_USAGE;
	}
	r = key_choose(argc, argv, key_arg, &ctl.key);
	if (r >= 0)
		return r;
	r = cmd->run(&ctl, argc - optind, argv + optind);
	/* Output lost (a full disk, a closed pipe) is a failure, not success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (r == CTL_EXIT_OK)
			ctl_error("cannot write output: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	return r;
}
