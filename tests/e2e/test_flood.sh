#!/bin/bash
# No log flood when a hand-over cannot reach systemd.  hbwatch.service hides
# the system bus (no restart-unit drop-in here), and a unit of nobody's
# processes runs $N workers that all hang under kill_burst = 1 and
# limit_action = kill-unit: the first is killed, each of the others is
# handed over, and the KillUnit fails for want of a bus, again every second
# for each.  Those repeats (the deadline seen again and the bus error) are
# rate-limited: in about 10 s hbwatch writes no more than its log budget
# (200 limited records per 30 s) plus the records that are never limited
# (each worker's first deadline, the kill).  Unlimited, it was two records
# per worker and second, about 20 * $N.  The hung workers are still dealt
# with as hbwatch.ini(5) says: one kill within kill_burst, then the
# hand-over tried again every second, the others left alive and watched.
. "$(dirname "$0")/harness.sh"

N=30
BUDGET=200 # LOG_LIMIT_BURST, src/daemon/report/log.h

guest_setup
cat >"$M/etc/e2e-flood.sh" <<EOF
#!/bin/sh
mkdir -p /run/e2e-flood
for i in \$(seq $N); do
	$DEMO -n e2e-flood -t 1000 -H 800 &
	echo \$! >>/run/e2e-flood/pids
done
wait
EOF
chmod 0755 "$M/etc/e2e-flood.sh"
cat >"$M/etc/systemd/system/e2e-flood.service" <<EOF
[Unit]
Description=e2e: $N workers of one uid that all hang

[Service]
User=nobody
RuntimeDirectory=e2e-flood
ExecStart=/etc/e2e-flood.sh
LimitCORE=0
EOF
mkdir -p "$M/etc/systemd/system/e2e-flood.service.d"
cp "$M$DOCDIR/hbwatch-watched.conf.example" "$M/etc/systemd/system/e2e-flood.service.d/hbwatch.conf"
write_section 80-e2e.ini e2e-flood e2e-flood.service "kill_burst = 1" "kill_interval = 1h" \
	"limit_action = kill-unit"
guest_start

# Restarted now, so that its log budget's 30 s windows (counted from its
# start) most often hold the whole run in one.
check "systemctl restart hbwatch" g systemctl restart hbwatch.service
check "the system bus is hidden from hbwatch" \
	eval '! g nsenter -t "$(main_pid hbwatch.service)" -m test -e /run/dbus/system_bus_socket &&
	      g test -S /run/dbus/system_bus_socket'
cursor=$(g journalctl -u hbwatch.service -n 1 -o json --no-pager |
	python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["__CURSOR"])')
check "start e2e-flood" g systemctl start e2e-flood.service
check "its $N workers are there" wait_for 10 eval '[ "$(g cat /run/e2e-flood/pids 2>/dev/null | wc -l)" = '"$N"' ]'
pids=$(g cat /run/e2e-flood/pids)
# The workers hang 0.8 s after they start and miss their 1 s deadline
# about 1 s later; from then on, about 10 s of retries.
sleep 12

# records [JSON-CONDITION]: how many of hbwatch's records since the start
# of e2e-flood satisfy a Python condition on dict r (all without one).
records() {
	g journalctl --no-pager -o json -u hbwatch.service --after-cursor="$cursor" |
		python3 -c '
import json, sys
cond = sys.argv[1]
print(sum(1 for line in sys.stdin if eval("(" + cond + ")", {}, {"r": json.loads(line)})))' \
			"${1:-True}"
}
total=$(records)
diag "hbwatch wrote $total records in ~10 s of $N hung workers: $(
	g journalctl --no-pager -o json -u hbwatch.service --after-cursor="$cursor" |
		python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l).get("HBWATCH_EVENT", "-") for l in sys.stdin)
print(", ".join("%s %d" % kv for kv in sorted(c.items())))')"

# The design first: one kill, the hand-over tried and failing for want of
# a bus, the others alive and still watched.
killed=$(records "r.get('MESSAGE_ID') == '1c1cbbc12a14442e9494fb5aa67076a7' and
	r.get('HBWATCH_NAME') == 'e2e-flood'")
check "one worker was killed within kill_burst = 1 (kill records: $killed)" [ "$killed" = 1 ]
victim=$(g journalctl --no-pager -o json -u hbwatch.service --after-cursor="$cursor" |
	python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r.get("MESSAGE_ID") == "1c1cbbc12a14442e9494fb5aa67076a7":
        print(r.get("HBWATCH_PID", ""))
        break')
check "... it was one of the workers (pid $victim), and it is gone" \
	eval 'echo "$pids" | grep -qx "$victim" && ! g kill -0 "$victim" 2>/dev/null'
check "the hand-over was tried: KillUnit of e2e-flood.service failed for want of a bus" \
	journal_has "r.get('HBWATCH_UNIT') == 'e2e-flood.service' and
		'system bus for KillUnit of e2e-flood.service' in r.get('MESSAGE', '')" -u hbwatch.service
check "... and tried again: more than one such record" \
	[ "$(records "r.get('HBWATCH_UNIT') == 'e2e-flood.service' and
		'system bus for KillUnit of e2e-flood.service' in r.get('MESSAGE', '')")" -gt 1 ]
check "no handed-over record (systemd was never reached)" \
	[ "$(records "r.get('MESSAGE_ID') == '3f7e56018a3247b091fdcc5e6aa5bdd3'")" = 0 ]
others=$(echo "$pids" | grep -vx "$victim")
check "the other $((N - 1)) workers are alive (left to the hand-over, not killed one by one)" \
	g kill -0 $others
watched=$(hb_entries e2e-flood | awk '{print $1}' | sort)
check "... and still watched (hbctl status lists each)" \
	eval '[ "$(echo "$others" | sort)" = "$watched" ]'
check "each missed deadline was told at least once (a first deadline is never held back)" \
	[ "$(records "r.get('HBWATCH_EVENT') == 'deadline-missed' and
		r.get('HBWATCH_NAME') == 'e2e-flood'")" -ge "$N" ]

# The bound: the log budget of each 30 s window the run reached into
# (counted from hbwatch's start: its first window opens at its first look
# around, a little later), plus each worker's first deadline and the kill's
# records, plus a few of hbwatch's own.  Unlimited: ~20 * N.
started=$(prop hbwatch.service ExecMainStartTimestampMonotonic)
last=$(g journalctl --no-pager -o json -u hbwatch.service --after-cursor="$cursor" |
	python3 -c '
import json, sys
print(max(int(json.loads(l)["__MONOTONIC_TIMESTAMP"]) for l in sys.stdin))')
windows=$(((last - started) / 30000000 + 1))
bound=$((windows * BUDGET + N + 15))
diag "the run reached into $windows window(s) of hbwatch's log budget"
check "no flood: $total records in ~10 s <= $bound (unlimited: ~$((20 * N)))" \
	[ "$total" -le "$bound" ]

g systemctl stop e2e-flood.service
check "hbwatch.service is still active" g systemctl is-active hbwatch.service
done_testing
