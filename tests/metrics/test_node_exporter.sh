#!/bin/sh
# hbwatch's textfile scraped for real: hbwatch writes metrics_dir/hbwatch.prom,
# Debian's prometheus-node-exporter serves it on loopback through its textfile
# collector, and the scrape must show a kill counted for the service whose
# worker hung, the series of the healthy worker (by name and pid), and no
# textfile error.
# TAP output.  Skipped (77) without node_exporter.  Run through isolate.sh
# (private IPC namespace), on a key of its own; everything started here is
# stopped by pid.
set -u
. "${TAP_SH:?run through meson test}"
[ -n "$NODE_EXPORTER" ] || skip_all "prometheus-node-exporter is not installed"
: "${HBWATCH:?run through meson test}" "${HBWORKER:?}" "${HBCTL:?}"

tap_scratch metrics 46

plan 8
mkdir "$DIR/textfile"
cat >"$DIR/hbwatch.ini" <<INI
[hbwatch]
key = $KEY
slots = 16
group =
kill_grace = 300ms
metrics_dir = $DIR/textfile

[x]
timeout = 2s
INI
hbwatch_start
check "hbwatch created its registry" 'wait_for 5 hbwatch_up'

"$HBWORKER" --name x --timeout-ms 2000 --beat-ms 100 --quiet >/dev/null &
HEALTHY=$!
PIDS="$PIDS $HEALTHY"
"$HBWORKER" --name x --timeout-ms 300 --hang-after-ms 200 --quiet >/dev/null &
HUNG=$!
PIDS="$PIDS $HUNG"
wait $HUNG
check "the hung worker was killed by SIGABRT" '[ $? -eq 134 ]'

prom="$DIR/textfile/hbwatch.prom"
check "hbwatch.prom counts the kill" \
	'wait_for 5 grep -qx "hbwatch_kills_total{service=\"x\"} 1" "$prom"'

PORT=$(free_ports 1)
node_exporter_start "$DIR/textfile" "$PORT"
scrape() { curl -fsS "http://127.0.0.1:$PORT/metrics" >"$DIR/scrape"; }
check "node_exporter answers on 127.0.0.1:$PORT" 'wait_for 10 scrape'
has() { grep -qx "$1" "$DIR/scrape"; }
check "scrape: hbwatch_kills_total{service=\"x\"} 1" 'has "hbwatch_kills_total{service=\"x\"} 1"'
check "scrape: hbwatch_deadlines_missed_total{service=\"x\"} 1" \
	'has "hbwatch_deadlines_missed_total{service=\"x\"} 1"'
check "scrape: the healthy worker's timeout series" \
	'grep -Eq "^hbwatch_heartbeat_timeout_seconds\{name=\"x\",pid=\"$HEALTHY\"\} 2(\.0+)?$" "$DIR/scrape"'
# The hung worker is gone, so one process is left; the file is rewritten
# within a second of that, so scrape again until it shows.
one_left() { scrape && has "hbwatch_registered_processes 1" && has "node_textfile_scrape_error 0"; }
check "scrape: one registered process and no textfile error" 'wait_for 10 one_left'

echo "# scrape excerpt:"
grep -E '^hbwatch_(kills|deadlines|heartbeat|registered)' "$DIR/scrape" | sed 's/^/#   /'
if [ "$T_FAILED" -ne 0 ]; then
	echo "# hbwatch log:"; sed 's/^/#   /' "$DIR/hbwatch.log"
	echo "# node_exporter log:"; tail -5 "$DIR/ne.log" | sed 's/^/#   /'
fi
kill "$NE_PID"
wait "$NE_PID" 2>/dev/null
tap_exit
