#!/bin/bash
# bench_detect.sh [HANGS [WAVE [BACKGROUND [SYSTEMD_HANGS]]]]
# Detection latency, deadline -> signal arrival, three ways on one hang
# schedule, in one run:
#   hbwatch   measured: the real daemon, HANGS (200) hangs with timeouts of
#             50 ms..2 s in waves of WAVE (25), while BACKGROUND (1000)
#             other processes beat once a second (bench_detect);
#   guardian  the teaching design's 10 s scan + SIGTERM, 5 s wait, SIGKILL,
#             one victim after another, simulated on the same schedule;
#   systemd   WatchdogSec= on the first SYSTEMD_HANGS (80) hangs of the
#             same schedule, measured under a real systemd (bench_sdwd.sh).
# Writes the CDF plot to $BENCH_PLOTS/latency.png (gnuplot) and prints a
# final RESULT {json} line.  Root only (namespaces).  Never asserts.
set -u
HANGS=${1:-200}
WAVE=${2:-25}
BG=${3:-1000}
SDN=${4:-80}
HERE=$(cd "$(dirname "$0")" && pwd)
: "${HBWATCH_BUILD_ROOT:=$(cd "$HERE/../.." && pwd)/build}"
export HBWATCH_BUILD_ROOT
PLOTS=${BENCH_PLOTS:-$HERE/plots}
[ "$(id -u)" -eq 0 ] || { echo "bench_detect.sh: needs root (namespaces)"; exit 77; }
OUT=$(mktemp -d /tmp/hbwatch-bench-detect.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

"$HBWATCH_BUILD_ROOT/tests/bench/bench_detect" "$HBWATCH_BUILD_ROOT/src/daemon/hbwatch" \
	"$HANGS" "$WAVE" "$BG" "$OUT" | tee "$OUT/detect.txt"
[ -s "$OUT/hbwatch.dat" ] || { echo "bench_detect produced nothing"; exit 1; }

if [ "$SDN" -gt 0 ]; then
	bash "$HERE/bench_sdwd.sh" "$OUT" "$SDN" 8 2>&1 | grep -E '^# (systemd part|guest)|Bail' || true
fi
[ -s "$OUT/systemd.dat" ] || echo "# systemd's WatchdogSec= not measured (no guest)"

python3 - "$OUT" <<'PY'
import json, math, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return sorted(float(l) for l in open(p) if l.strip()) if os.path.exists(p) else []
def pct(v, p):
    return v[max(1, min(len(v), math.ceil(p / 100 * len(v)))) - 1]
def st(v):
    return {"n": len(v), "median_ms": round(pct(v, 50), 3), "p99_ms": round(pct(v, 99), 3),
            "max_ms": round(v[-1], 3), "min_ms": round(v[0], 3)} if v else None
hb, gd, sd = load("hbwatch.dat"), load("guardian.dat"), load("systemd.dat")
r = json.loads(open(os.path.join(out, "detect.txt")).read().split("RESULT ")[-1])
res = {"bench": "detect-all", "hbwatch": st(hb), "guardian": st(gd), "systemd": st(sd),
       "guardian_checkproc": r.get("guardian_checkproc"),
       "daemon_cpu_pct": r.get("daemon_cpu_pct"), "daemon_hwm_kb": r.get("daemon_hwm_kb")}
print("\n%-30s %6s %10s %10s %10s %10s" % ("deadline -> signal, ms", "n", "min", "median", "p99", "max"))
for k in ("hbwatch", "systemd", "guardian"):
    s = res[k]
    if s:
        print("%-30s %6d %10.3f %10.3f %10.3f %10.3f" % (k, s["n"], s["min_ms"], s["median_ms"], s["p99_ms"], s["max_ms"]))
for k in ("systemd", "guardian"):
    if res[k] and hb:
        res[k + "_over_hbwatch_median"] = round(res[k]["median_ms"] / res["hbwatch"]["median_ms"], 1)
        res[k + "_over_hbwatch_p99"] = round(res[k]["p99_ms"] / res["hbwatch"]["p99_ms"], 1)
        print("%s / hbwatch: median x%.1f, p99 x%.1f" % (k, res[k + "_over_hbwatch_median"], res[k + "_over_hbwatch_p99"]))
print("RESULT " + json.dumps(res, separators=(",", ":")))
# CDF inputs for gnuplot: sorted value, cumulative fraction.
for name, v in (("hbwatch", hb), ("guardian", gd), ("systemd", sd)):
    with open(os.path.join(out, name + ".cdf"), "w") as f:
        for i, x in enumerate(v):
            f.write("%.6f %.6f\n" % (max(x, 0.001), (i + 1) / len(v)))
PY

if command -v gnuplot >/dev/null 2>&1; then
	mkdir -p "$PLOTS"
	sdplot=
	[ -s "$OUT/systemd.cdf" ] && sdplot=", '$OUT/systemd.cdf' using 1:2 with steps lw 2 lc rgb '#d95f02' title sprintf(\"systemd WatchdogSec= (measured, n=%d)\", $(wc -l <"$OUT/systemd.cdf"))"
	gnuplot <<GP
set terminal pngcairo size 1000,680 font 'DejaVu Sans,11'
set output '$PLOTS/latency.png'
set title "Deadline to signal arrival: hbwatch vs systemd WatchdogSec= vs 10 s-scan guardian\n($(wc -l <"$OUT/hbwatch.cdf") hangs, timeouts 50 ms..2 s, $BG background beaters; $(date -u +%Y-%m-%d), 2-core VM)"
set logscale x
set xrange [0.01:1e6]
set format x "10^{%L}"
set xlabel "latency after the deadline, ms (log scale)"
set ylabel "fraction of hangs signalled"
set yrange [0:1.02]
set grid xtics ytics mxtics
set key outside below vertical maxrows 3
set arrow from 5,0 to 5,1.02 nohead dt 2 lc rgb '#888888'
set label "p99 target 5 ms" at 5.5,0.5 tc rgb '#666666'
plot '$OUT/hbwatch.cdf' using 1:2 with steps lw 2 lc rgb '#1b9e77' title "hbwatch (measured)" $sdplot, \
     '$OUT/guardian.cdf' using 1:2 with steps lw 2 lc rgb '#7570b3' title "guardian: 10 s scan, SIGTERM + 5 s wait each (simulated, 100 phases)"
GP
	echo "plot: $PLOTS/latency.png"
else
	echo "# gnuplot not installed (apt-get install gnuplot-nox): no plot"
fi
