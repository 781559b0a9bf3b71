#!/bin/bash
# run-all.sh [BUILD_DIR [REPEAT]]: build the benchmarks and run them all,
# REPEAT times (default 1), as root; about 12 minutes per repetition on a
# 2-core VM (the stampede curve up to 20 000 processes is 8 of them).  Each benchmark prints its figures and a RESULT {json} line;
# this script collects the RESULT lines into BUILD_DIR/bench-results.jsonl
# (one line per benchmark and repetition, with "run" added) and the full
# output into BUILD_DIR/bench-log.txt, and ends with a Markdown table of the
# medians over the repetitions (summarize.py).  The detection benchmark also
# writes tests/bench/plots/latency.png.  Nothing here asserts on a figure.
#   Fresh machine: apt-get install -y meson ninja-build gcc pkg-config \
#     libsystemd-dev libinih-dev libcriterion-dev scdoc gnuplot-nox
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
B=${1:-$SRC/build}
REPEAT=${2:-1}
[ "$(id -u)" -eq 0 ] || { echo "run-all.sh: run as root (private IPC namespaces, a systemd guest)"; exit 1; }
[ -d "$B" ] || meson setup "$B" "$SRC" >/dev/null || exit 1
B=$(cd "$B" && pwd)
# Only what the benchmarks need, so an unrelated broken test does not stop us;
# the man pages too, for the systemd guest installs the whole build.
MAN=$(ninja -C "$B" -t targets all 2>/dev/null | sed -n 's|^\(man/[^:]*\): .*|\1|p')
# shellcheck disable=SC2086
ninja -C "$B" $MAN src/daemon/hbwatch src/ctl/hbctl src/demo/hbwatch-demo tests/bench/mkregistry \
	tests/bench/bench_beat tests/bench/bench_threads tests/bench/bench_detect \
	tests/bench/bench_sdwd_victim tests/bench/bench_escalate tests/bench/bench_register \
	tests/bench/bench_scale tests/bench/bench_stampede >/dev/null || exit 1
HB=$B/src/daemon/hbwatch
BB=$B/tests/bench
LOG=$B/bench-log.txt
OUT=$B/bench-results.jsonl
: >"$LOG"
: >"$OUT"
run() { # NAME COMMAND...
	local name=$1
	shift
	echo "=== $name (run $r): $*" | tee -a "$LOG"
	"$@" 2>&1 | tee -a "$LOG" | tee /dev/stderr | sed -n 's/^RESULT //p' |
		python3 -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l); d.setdefault("bench", sys.argv[2]); d["run"] = int(sys.argv[1])
    print(json.dumps(d, separators=(",", ":")))' "$r" "$name" >>"$OUT"
}
for r in $(seq "$REPEAT"); do
	run beat "$BB/bench_beat"
	run threads "$BB/bench_threads"
	run detect env HBWATCH_BUILD_ROOT="$B" BENCH_PLOTS="$HERE/plots" bash "$HERE/bench_detect.sh"
	run escalate "$BB/bench_escalate" "$HB" 100 5000 3
	run register "$BB/bench_register" "$HB" 1000 3
	run scale "$BB/bench_scale" "$HB" scan 1024 16384 32000
	run idle "$BB/bench_scale" "$HB" idle 60 1000
	run stampede "$BB/bench_stampede" "$HB" 1000 2000 5000 10000 20000
done
echo "results: $OUT; full output: $LOG"
echo
python3 "$HERE/summarize.py" "$OUT"
