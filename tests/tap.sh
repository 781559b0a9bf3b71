# Shared by the shell tests: TAP output and cleanup of what a test starts.
# Source it after setting DIR (a scratch directory the test owns); append
# the pids the test starts to PIDS.  On exit every pid in PIDS is killed
# and reaped, the table at $HBWATCH_KEY is removed through $HBCTL, and DIR
# is deleted.

PIDS=""
tap_cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	"$HBCTL" remove >/dev/null 2>&1
	rm -rf "$DIR"
}
trap tap_cleanup EXIT

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
# check DESCRIPTION SHELL-CODE: one TAP line for the code's status.
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
# wait_for SECONDS COMMAND...: poll every 50 ms until COMMAND succeeds.
wait_for() {
	end=$(($(date +%s) + $1)); shift
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s)" -gt "$end" ] && return 1
		sleep 0.05
	done
}
