# The TAP library of the shell tests (POSIX sh; bash sources it too): test
# points, diagnostics, skips, bail-outs, polling, and the plan either first
# (plan N) or last (done_testing).  Every shell test writes TAP through it.
#
# Cleanup of what a test starts, for the tests that run the daemon
# directly: call tap_cleanup_on_exit after setting DIR (a scratch directory
# the test owns); append the pids the test starts to PIDS.  On exit every
# pid in PIDS is killed and reaped, the table at $HBWATCH_KEY is removed
# through $HBCTL, and DIR is deleted.

T_N=0      # test points so far
T_FAILED=0 # of which failed

# plan N: the plan, before the points.
plan() { echo "1..$1"; }
ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
# skip [DESCRIPTION] REASON: a point that was not tested, and why.
skip() {
	T_N=$((T_N + 1))
	if [ $# -ge 2 ]; then echo "ok $T_N - $1 # SKIP $2"; else echo "ok $T_N # SKIP $1"; fi
}
# diag LINE...: each line as a TAP diagnostic.
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# check DESCRIPTION COMMAND ARG...: one point for COMMAND's status.
# check DESCRIPTION CODE: the same for shell CODE (one word), evaluated with
# the caller's $? (so CODE may test it) and its variables.
# Either runs in a subshell; its output is shown as diagnostics when it
# fails.
check() {
	_tap_st=$? # the caller's, for CODE that tests it
	_tap_desc=$1
	shift
	if _tap_out=$(if [ $# -eq 1 ]; then
		(exit "$_tap_st")
		eval "$1"
	else
		"$@"
	fi 2>&1); then
		ok "$_tap_desc"
	else
		not_ok "$_tap_desc"
		[ -n "$_tap_out" ] && diag "$_tap_out"
	fi
	return 0
}

# wait_for SECONDS COMMAND...: poll every 50 ms until COMMAND succeeds
# (its output discarded); fails after SECONDS.
wait_for() {
	_tap_end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_tap_end" ] && return 1
		sleep 0.05
	done
	return 0
}

# skip_all REASON: a plan of 0 with a reason, exit 0: meson counts the file
# as skipped (a non-zero exit would be an error).
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# bail REASON: stop the whole test.
bail() {
	echo "Bail out! $*"
	exit 1
}

# tap_done: the plan after the points (for a test that gave none first),
# and exit 0 only if every point passed.
tap_done() {
	echo "1..$T_N"
	tap_exit
}
# tap_exit: exit 0 only if every point passed.
tap_exit() {
	[ "$T_FAILED" -eq 0 ]
	exit $?
}
done_testing() { tap_done; }

PIDS=""
tap_cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	"$HBCTL" remove >/dev/null 2>&1
	rm -rf "$DIR"
}
tap_cleanup_on_exit() { trap tap_cleanup EXIT; }

# For the tests that run the daemon themselves, with $HBWATCH and $HBCTL
# (set by meson test), through isolate.sh:
#
# tap_scratch NAME KEYBYTE: $DIR, a scratch directory
# /tmp/hbwatch-NAME-XXXXXX, and $KEY, a key of the test's own (KEYBYTE, two
# hex digits, then the low 24 bits of the pid), exported as HBWATCH_KEY;
# both cleaned up on exit (tap_cleanup_on_exit).
tap_scratch() {
	DIR=$(mktemp -d "/tmp/hbwatch-$1-XXXXXX")
	KEY=$(printf '0x%s%06x' "$2" $(($$ & 0xffffff)))
	export HBWATCH_KEY=$KEY
	tap_cleanup_on_exit
}

# hbwatch_start [CONF]: hbwatch on CONF ($DIR/hbwatch.ini by default) in
# the background, its output in $DIR/hbwatch.log; its pid in HBPID and
# PIDS.  Wait for it with: wait_for 5 hbwatch_up
hbwatch_start() {
	"$HBWATCH" -c "${1:-$DIR/hbwatch.ini}" >"$DIR/hbwatch.log" 2>&1 &
	HBPID=$!
	PIDS="$PIDS $HBPID"
}
# hbwatch_up: hbctl sees the registry at $HBWATCH_KEY and its live owner
# (status answers without a registry too).
hbwatch_up() {
	"$HBCTL" status --json | grep -q '"registry":true,"owner_pid":[0-9]*,"owner_alive":true'
}

# free_ports N: N free loopback TCP ports, picked now, on one line.
free_ports() {
	python3 -c 'import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))' "$1"
}

# NODE_EXPORTER: Debian's prometheus-node-exporter (or node_exporter), or
# empty.  node_exporter_start TEXTFILE_DIR PORT: it serves TEXTFILE_DIR's
# *.prom (its textfile collector alone) on 127.0.0.1:PORT, its output in
# $DIR/ne.log; its pid in NE_PID and PIDS.
NODE_EXPORTER=$(command -v prometheus-node-exporter || command -v node_exporter || true)
node_exporter_start() {
	"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$2" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$1" >"$DIR/ne.log" 2>&1 &
	NE_PID=$!
	PIDS="$PIDS $NE_PID"
}
