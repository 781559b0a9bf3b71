#!/bin/sh
# A service written with a binding that hangs in one task is killed:
# hbwatch runs with a private configuration (own IPC namespace through
# isolate.sh, own key), the program (tests/bindings/hang.cpp built, or
# hang.py run by python3) registers, opens a task, beats both, then keeps
# beating the process but no longer the task.  hbwatch must signal it with
# the service's configured signal (SIGUSR2 here) and name the service, the
# pid and the task in its log.  TAP output.
#   test_killed.sh LANGUAGE PROGRAM [ARG...]   (an empty PROGRAM: skip)
set -u
: "${HBWATCH:?run through meson test}" "${HBCTL:?}" "${TAP_SH:?}"
LANGUAGE=$1
shift
. "$TAP_SH"
[ -n "${1:-}" ] || skip_all "no $LANGUAGE toolchain"

tap_scratch bindings 4b

NAME=hang-$LANGUAGE
LABEL=stuck-$LANGUAGE
plan 5
cat >"$DIR/hbwatch.ini" <<INI
[hbwatch]
key = $KEY
slots = 16
group =
kill_grace = 5s

[$NAME]
timeout = 10s
signal = SIGUSR2
INI
hbwatch_start
wait_for 5 hbwatch_up

mkfifo "$DIR/out"
(ulimit -c 0; exec "$@" "$NAME" "$LABEL" >"$DIR/out" 2>"$DIR/program.log") &
P=$!
PIDS="$PIDS $P"
exec 3<"$DIR/out"
read -r word ppid <&3
check "$LANGUAGE: it registered and opened its task" '[ "$word" = registered ] && [ "$ppid" = "$P" ]'
read -r silent <&3
check "$LANGUAGE: its task went silent while the process beats" '[ "$silent" = task-silent ]'
wait "$P"
st=$?
# "kill -l STATUS" names the signal of a 128+N status.
check "$LANGUAGE: killed by the configured signal, SIGUSR2 (status $st)" \
	'[ $st -gt 128 ] && [ "$(kill -l $st)" = USR2 ]'
check "$LANGUAGE: hbwatch's log names the service and the pid" \
	'grep -q "sent SIGUSR2 to $NAME (pid $P)" "$DIR/hbwatch.log"'
check "$LANGUAGE: hbwatch's log names the task as the one that missed its deadline" \
	'grep -q "deadline-missed: $NAME (pid $P, .* of its task $LABEL:" "$DIR/hbwatch.log"'

# What hbwatch said about it, in meson's log.
grep -E "pid $P[,)]" "$DIR/hbwatch.log" | sed 's/^/# /'
if [ "$T_FAILED" -ne 0 ]; then
	for f in hbwatch.log program.log; do
		[ -f "$DIR/$f" ] && { echo "# $f:"; sed 's/^/#   /' "$DIR/$f"; }
	done
fi
tap_exit
