#!/bin/sh
# The examples run: examples/c/worker.c, examples/cpp/worker.cpp (as built)
# and examples/python/threaded_service.py each register under a watched
# service of a private hbwatch (own IPC namespace through isolate.sh, own
# key), are listed by hbctl as ok with their workers' tasks (worker-N) ok,
# and stop cleanly (status 0) on SIGTERM.  TAP output; an example whose toolchain is
# missing (its path empty) is a skipped point.
#   test_examples.sh C_WORKER CPP_WORKER PYTHON3
set -u
: "${HBWATCH:?run through meson test}" "${HBCTL:?}" "${TAP_SH:?}" "${EXAMPLES:?}"
C_WORKER=$1 CPP_WORKER=$2 PYTHON3=$3

. "$TAP_SH"
tap_scratch examples 45

cat >"$DIR/hbwatch.ini" <<INI
[hbwatch]
key = $KEY
slots = 16
group =

[ex-c]
timeout = 30s
[ex-cpp]
timeout = 30s
[ex-python]
timeout = 30s
INI
hbwatch_start
wait_for 5 hbwatch_up

plan 9
# try NAME COMMAND...: start it with 3 workers, wait until hbctl shows it
# ok, SIGTERM it, and expect status 0.
try() {
	name=$1
	shift
	if [ -z "$1" ]; then
		for _ in 1 2 3; do skip "$name: no toolchain"; done
		return
	fi
	"$@" "$name" 3 >"$DIR/$name.log" 2>&1 &
	p=$!
	PIDS="$PIDS $p"
	listed_ok() {
		"$HBCTL" status --json >"$DIR/status.json" &&
			grep -Eq "\"pid\":$p,\"uid\":[0-9]+,\"name\":\"$name\",[^}]*\"state\":\"ok\"" "$DIR/status.json"
	}
	check "$name: runs, and hbctl lists it as ok" 'wait_for 10 listed_ok'
	# Its entry up to the end of its task list: one task per worker.
	tasks_ok() {
		"$HBCTL" status --json |
			sed -n "s/.*\"pid\":$p,\([^]]*\)\].*/\1/p" >"$DIR/entry" &&
			for i in 0 1 2; do
				grep -Eq "\"label\":\"worker-$i\",[^}]*\"state\":\"ok\"" "$DIR/entry" || return 1
			done
	}
	check "$name: hbctl lists its 3 workers' tasks as ok" 'wait_for 10 tasks_ok'
	sleep 0.5
	kill -TERM "$p"
	wait "$p"
	st=$?
	check "$name: stops cleanly on SIGTERM (status $st)" '[ $st -eq 0 ]'
	if [ $st -ne 0 ]; then sed 's/^/#   /' "$DIR/$name.log"; fi
}
try ex-c "$C_WORKER"
try ex-cpp "$CPP_WORKER"
if [ -n "$PYTHON3" ]; then
	try ex-python "$PYTHON3" "$EXAMPLES/python/threaded_service.py"
else
	try ex-python ""
fi
if [ "$T_FAILED" -ne 0 ]; then
	echo "# hbwatch.log:"; sed 's/^/#   /' "$DIR/hbwatch.log"
fi
tap_exit
