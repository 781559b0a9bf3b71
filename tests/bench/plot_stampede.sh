#!/bin/bash
# Plot bench_stampede's curve: time until all N processes are registered
# and hb_register()'s p99, against N, for one or more runs; and, for runs
# that measured it, the machine's floor: as many processes released the
# same way with nothing to do.
#
#   tests/bench/plot_stampede.sh LABEL=FILE [LABEL=FILE ...]
#
# Each FILE holds bench_stampede's output (its RESULT {json} line is
# read).  Writes $BENCH_PLOTS/stampede.png (default tests/bench/plots)
# with gnuplot; prints the table it plotted.  Never asserts.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PLOTS=${BENCH_PLOTS:-$HERE/plots}
[ $# -gt 0 ] || { echo "usage: $0 LABEL=FILE..." >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot_stampede.sh: gnuplot is not installed" >&2; exit 1; }
OUT=$(mktemp -d /tmp/hbwatch-plot-stampede.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

plots=
i=0
for arg in "$@"; do
	label=${arg%%=*}
	file=${arg#*=}
	python3 - "$file" >"$OUT/$i.dat" <<'PY'
import json, sys
res = None
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        res = json.loads(line[7:])
if not res:
    sys.exit("no RESULT line in " + sys.argv[1])
for n, r in sorted(res["n"].items(), key=lambda kv: int(kv[0])):
    if r.get("ran") and r.get("all_registered_ms"):
        print(n, r["all_registered_ms"], r["register_ms"]["p99"], r.get("floor_all_ms") or "NaN")
PY
	echo "# $label: N, all registered (ms), hb_register p99 (ms), floor (ms)"
	cat "$OUT/$i.dat"
	c1=$((i * 2 + 1))
	plots="$plots${plots:+, }'$OUT/$i.dat' using 1:2 with linespoints lw 2 pt 7 lc $c1 title '$label: all registered'"
	plots="$plots, '$OUT/$i.dat' using 1:3 with linespoints lw 2 pt 5 dt 2 lc $c1 title '$label: hb_register p99'"
	# The machine's floor (as many processes, nothing to do), where measured.
	if awk '$4 != "NaN" { f = 1 } END { exit !f }' "$OUT/$i.dat"; then
		plots="$plots, '$OUT/$i.dat' using 1:4 with linespoints lw 1 pt 1 dt 3 lc rgb '#444444' title '$label: floor, processes doing nothing'"
	fi
	i=$((i + 1))
done

mkdir -p "$PLOTS"
gnuplot <<GP
set terminal pngcairo size 1000,640 font 'DejaVu Sans,11'
set output '$PLOTS/stampede.png'
set termoption noenhanced
set title "N processes call hb_register() at the same moment (bench_stampede, 2-core VM, $(date -u +%Y-%m-%d))"
set logscale xy
set xlabel "N processes at once (log scale)"
set ylabel "ms after the release (log scale)"
set grid xtics ytics mytics
set key top left
set xrange [800:25000]
set arrow from 800,1000 to 25000,1000 nohead dt 3 lc rgb '#888888'
set arrow from 800,250 to 25000,250 nohead dt 3 lc rgb '#888888'
set label "target at 10 000: all within 1 s" at 900,1200 tc rgb '#666666'
set label "target at 10 000: p99 <= 250 ms" at 900,300 tc rgb '#666666'
plot $plots
GP
echo "wrote $PLOTS/stampede.png"
