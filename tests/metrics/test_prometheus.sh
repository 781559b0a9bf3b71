#!/bin/sh
# The fleet view end to end, with real parts on loopback: hbwatch writes
# metrics_dir/hbwatch.prom, prometheus-node-exporter serves it (textfile
# collector), and a real prometheus scrapes it every second and evaluates
# the shipped rules every second.  A watched process hangs and is killed:
# HbwatchProcessesKilled must fire, as /api/v1/alerts shows it, with the
# service's and the host's labels.  Every panel of the Grafana dashboard is
# then sent to Prometheus's query API and must be accepted.  Then hbwatch
# stops: HbwatchNotRunning must fire (after its "for: 1m").
# Usage: test_prometheus.sh RULES ALERTS DASHBOARD CHECK_DASHBOARD_PY
# TAP output.  Skipped without prometheus, node_exporter, curl or python3.
# Run through isolate.sh (private IPC namespace), on a key of its own;
# ports are picked free at run time; everything started here is stopped by
# pid, and every wait is bounded.
set -u
RULES=$1 ALERTS=$2 DASHBOARD=$3 CHECK_DASHBOARD=$4
. "${TAP_SH:?run through meson test}"
PROM=$(command -v prometheus || true)
for need in "$NODE_EXPORTER:prometheus-node-exporter" "$PROM:prometheus" \
	"$(command -v curl):curl" "$(command -v python3):python3"; do
	[ -n "${need%%:*}" ] || skip_all "${need#*:} is not installed"
done
: "${HBWATCH:?run through meson test}" "${HBWORKER:?}" "${HBCTL:?}"

tap_scratch prometheus 47
plan 9
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

# Two free loopback ports, picked now so parallel runs do not collide.
set -- $(free_ports 2)
NEPORT=$1 PPORT=$2
node_exporter_start "$DIR/textfile" "$NEPORT"
cat >"$DIR/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
  - $ALERTS
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$NEPORT']
YML
"$PROM" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" >"$DIR/prometheus.log" 2>&1 &
PROMPID=$!
PIDS="$PIDS $PROMPID"
API="http://127.0.0.1:$PPORT"

# q EXPR: the values of EXPR, one per line.
q() {
	curl -fsS -G "$API/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json, sys
for r in json.load(sys.stdin)["data"]["result"]: print(r["value"][1])'
}
# A healthy worker for the dashboard's process panels, beating throughout.
"$HBWORKER" --name x --timeout-ms 2000 --beat-ms 100 --quiet >/dev/null &
PIDS="$PIDS $!"
# The kill counter must be seen at 0 before the kill, or increase() has
# nothing to compare the 1 with.
seen_zero() { [ "$(q 'hbwatch_kills_total{service="x"}')" = 0 ]; }
check "prometheus scrapes hbwatch's kill counter at 0 (ports $NEPORT, $PPORT)" \
	'wait_for 30 seen_zero'

"$HBWORKER" --name x --timeout-ms 300 --hang-after-ms 200 --quiet >/dev/null &
HUNG=$!
PIDS="$PIDS $HUNG"
wait $HUNG
check "the hung worker was killed by SIGABRT" '[ $? -eq 134 ]'

# firing NAME: the alerts NAME that fire, as /api/v1/alerts returns them,
# into $DIR/NAME.json; true if there is one.
firing() {
	curl -fsS "$API/api/v1/alerts" | python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin)["data"]["alerts"]
     if x["labels"]["alertname"] == sys.argv[1] and x["state"] == "firing"]
open(sys.argv[2], "w").write(json.dumps(a, indent=2) + "\n")
sys.exit(0 if a else 1)' "$1" "$DIR/$1.json"
}
# labels_are NAME JSON: the one firing alert NAME has exactly these labels.
labels_are() {
	python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
want = json.loads(sys.argv[2])
sys.exit(0 if len(a) == 1 and a[0]["labels"] == want else 1)' "$DIR/$1.json" "$2"
}
check "HbwatchProcessesKilled fires" 'wait_for 30 firing HbwatchProcessesKilled'
check "HbwatchProcessesKilled: service x, warning, this host" \
	"labels_are HbwatchProcessesKilled '{\"alertname\": \"HbwatchProcessesKilled\", \"instance\": \"127.0.0.1:$NEPORT\", \"service\": \"x\", \"severity\": \"warning\"}'"
echo "# /api/v1/alerts, HbwatchProcessesKilled:"
sed 's/^/#   /' "$DIR/HbwatchProcessesKilled.json"

check "every dashboard query is accepted by prometheus" \
	'python3 "$CHECK_DASHBOARD" "$API" "$DASHBOARD" --nonempty "Kills and what came of them" \
		--nonempty "Watched processes" >"$DIR/dashboard.log" 2>&1'
sed 's/^/#   /' "$DIR/dashboard.log"

kill -TERM "$HBPID"
wait "$HBPID"
check "hbwatch stopped and said so in its file" \
	'grep -qx "hbwatch_up 0" "$DIR/textfile/hbwatch.prom"'
check "HbwatchNotRunning fires (after its minute)" 'wait_for 100 firing HbwatchNotRunning'
check "HbwatchNotRunning: critical, this host" \
	"labels_are HbwatchNotRunning '{\"alertname\": \"HbwatchNotRunning\", \"instance\": \"127.0.0.1:$NEPORT\", \"severity\": \"critical\"}'"
echo "# /api/v1/alerts, HbwatchNotRunning:"
sed 's/^/#   /' "$DIR/HbwatchNotRunning.json"

if [ "$T_FAILED" -ne 0 ]; then
	echo "# hbwatch log:"; sed 's/^/#   /' "$DIR/hbwatch.log"
	echo "# prometheus log:"; tail -20 "$DIR/prometheus.log" | sed 's/^/#   /'
	echo "# hbwatch.prom:"; sed 's/^/#   /' "$DIR/textfile/hbwatch.prom"
fi
tap_exit
