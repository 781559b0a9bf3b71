#!/usr/bin/env python3
"""summarize.py RESULTS.jsonl: the median over repeated runs of each figure
that run-all.sh collected, with the spread (min..max over runs) as the
measure of noise.  Prints a Markdown table."""
import json
import statistics
import sys
from collections import defaultdict

FIGURES = [
    ("beat", "hb_beat_ns", "hb_beat, ns"),
    ("beat", "bare_ns", "bare clock read + store, ns"),
    ("beat", "sd_notify_ns", "sd_notify(WATCHDOG=1), ns"),
    ("beat", "beat_over_bare", "hb_beat / bare"),
    ("beat", "notify_over_beat", "sd_notify / hb_beat"),
    ("threads", "beat_ns.t1", "beat, 1 thread, ns"),
    ("threads", "beat_ns.t2", "beat, 2 threads (distinct records), ns"),
    ("threads", "beat_ns.t64", "beat, 64 threads (distinct records), ns"),
    ("threads", "beat_ns.packed_t2", "beat, 2 threads, same cache line (packed), ns"),
    ("threads", "beat_t64_over_t1", "64 threads / 1 thread"),
    ("threads", "beat_packed_over_records_t2", "packed / records, 2 threads"),
    ("detect-all", "hbwatch.median_ms", "hbwatch detection median, ms"),
    ("detect-all", "hbwatch.p99_ms", "hbwatch detection p99, ms"),
    ("detect-all", "hbwatch.max_ms", "hbwatch detection max, ms"),
    ("detect-all", "systemd.median_ms", "systemd WatchdogSec= median, ms"),
    ("detect-all", "systemd.p99_ms", "systemd WatchdogSec= p99, ms"),
    ("detect-all", "systemd.max_ms", "systemd WatchdogSec= max, ms"),
    ("detect-all", "guardian.median_ms", "guardian (sim) median, ms"),
    ("detect-all", "guardian.p99_ms", "guardian (sim) p99, ms"),
    ("detect-all", "systemd_over_hbwatch_median", "systemd / hbwatch, median"),
    ("detect-all", "systemd_over_hbwatch_p99", "systemd / hbwatch, p99"),
    ("detect-all", "guardian_over_hbwatch_median", "guardian / hbwatch, median"),
    ("detect-all", "guardian_over_hbwatch_p99", "guardian / hbwatch, p99"),
    ("escalate", "last_gone_median_ms", "escalation: last of 100 gone, ms after deadline"),
    ("escalate", "overhead_median_ms", "escalation: overhead over kill_grace, ms"),
    ("escalate", "overhead_max_ms", "escalation: worst round overhead, ms"),
    ("register", "total_ms", "1000 registrations at once: total, ms"),
    ("register", "median_us", "registration median, us"),
    ("register", "p99_us", "registration p99, us"),
    ("register", "watched_ms", "1000 registrations: all watched, ms"),
    ("register", "duplicates", "duplicate records"),
    ("register", "lost", "lost records"),
    ("scale", "sizes.0.daemon_scan_us", "daemon scan, 1k records, us"),
    ("scale", "sizes.1.daemon_scan_us", "daemon scan, 16k records, us"),
    ("scale", "sizes.2.daemon_scan_us", "daemon scan, 32k records, us"),
    ("scale", "sizes.0.record_reads_us", "record reads, 1k records, us"),
    ("scale", "sizes.1.record_reads_us", "record reads, 16k records, us"),
    ("scale", "sizes.2.record_reads_us", "record reads, 32k records, us"),
    ("scale", "sizes.0.daemon_hwm_kb", "daemon VmHWM, 1k records, kB"),
    ("scale", "sizes.1.daemon_hwm_kb", "daemon VmHWM, 16k records, kB"),
    ("scale", "sizes.2.daemon_hwm_kb", "daemon VmHWM, 32k records, kB"),
    ("idle", "cpu_ms_per_min", "idle, 1000 clients: CPU ms per minute"),
    ("idle", "cpu_pct", "idle, 1000 clients: % of a core"),
    ("idle", "hwm_kb", "idle, 1000 clients: peak RSS (VmHWM), kB"),
    ("stampede", "n.1000.failed", "stampede 1 000: failed registrations"),
    ("stampede", "n.1000.register_ms.p50", "stampede 1 000: hb_register p50, ms"),
    ("stampede", "n.1000.register_ms.p99", "stampede 1 000: hb_register p99, ms"),
    ("stampede", "n.1000.register_ms.max", "stampede 1 000: hb_register max, ms"),
    ("stampede", "n.1000.all_registered_ms", "stampede 1 000: all registered, ms"),
    ("stampede", "n.1000.all_watched_ms", "stampede 1 000: all watched, ms"),
    ("stampede", "n.1000.detect.median_ms", "stampede 1 000: detection median, ms"),
    ("stampede", "n.1000.detect.max_ms", "stampede 1 000: detection max, ms"),
    ("stampede", "n.1000.daemon.stampede_cpu_ms", "stampede 1 000: hbwatch CPU, release to all watched, ms"),
    ("stampede", "n.1000.daemon.steady_cpu_pct", "stampede 1 000: hbwatch steady, % of a core"),
    ("stampede", "n.1000.daemon.hwm_kb", "stampede 1 000: hbwatch VmHWM, kB"),
    ("stampede", "n.2000.failed", "stampede 2 000: failed registrations"),
    ("stampede", "n.2000.register_ms.p50", "stampede 2 000: hb_register p50, ms"),
    ("stampede", "n.2000.register_ms.p99", "stampede 2 000: hb_register p99, ms"),
    ("stampede", "n.2000.register_ms.max", "stampede 2 000: hb_register max, ms"),
    ("stampede", "n.2000.all_registered_ms", "stampede 2 000: all registered, ms"),
    ("stampede", "n.2000.all_watched_ms", "stampede 2 000: all watched, ms"),
    ("stampede", "n.2000.detect.median_ms", "stampede 2 000: detection median, ms"),
    ("stampede", "n.2000.detect.max_ms", "stampede 2 000: detection max, ms"),
    ("stampede", "n.2000.daemon.stampede_cpu_ms", "stampede 2 000: hbwatch CPU, release to all watched, ms"),
    ("stampede", "n.2000.daemon.steady_cpu_pct", "stampede 2 000: hbwatch steady, % of a core"),
    ("stampede", "n.2000.daemon.hwm_kb", "stampede 2 000: hbwatch VmHWM, kB"),
    ("stampede", "n.5000.failed", "stampede 5 000: failed registrations"),
    ("stampede", "n.5000.register_ms.p50", "stampede 5 000: hb_register p50, ms"),
    ("stampede", "n.5000.register_ms.p99", "stampede 5 000: hb_register p99, ms"),
    ("stampede", "n.5000.register_ms.max", "stampede 5 000: hb_register max, ms"),
    ("stampede", "n.5000.all_registered_ms", "stampede 5 000: all registered, ms"),
    ("stampede", "n.5000.all_watched_ms", "stampede 5 000: all watched, ms"),
    ("stampede", "n.5000.detect.median_ms", "stampede 5 000: detection median, ms"),
    ("stampede", "n.5000.detect.max_ms", "stampede 5 000: detection max, ms"),
    ("stampede", "n.5000.daemon.stampede_cpu_ms", "stampede 5 000: hbwatch CPU, release to all watched, ms"),
    ("stampede", "n.5000.daemon.steady_cpu_pct", "stampede 5 000: hbwatch steady, % of a core"),
    ("stampede", "n.5000.daemon.hwm_kb", "stampede 5 000: hbwatch VmHWM, kB"),
    ("stampede", "n.10000.failed", "stampede 10 000: failed registrations"),
    ("stampede", "n.10000.register_ms.p50", "stampede 10 000: hb_register p50, ms"),
    ("stampede", "n.10000.register_ms.p99", "stampede 10 000: hb_register p99, ms"),
    ("stampede", "n.10000.register_ms.max", "stampede 10 000: hb_register max, ms"),
    ("stampede", "n.10000.all_registered_ms", "stampede 10 000: all registered, ms"),
    ("stampede", "n.10000.all_watched_ms", "stampede 10 000: all watched, ms"),
    ("stampede", "n.10000.detect.median_ms", "stampede 10 000: detection median, ms"),
    ("stampede", "n.10000.detect.max_ms", "stampede 10 000: detection max, ms"),
    ("stampede", "n.10000.daemon.stampede_cpu_ms", "stampede 10 000: hbwatch CPU, release to all watched, ms"),
    ("stampede", "n.10000.daemon.steady_cpu_pct", "stampede 10 000: hbwatch steady, % of a core"),
    ("stampede", "n.10000.daemon.hwm_kb", "stampede 10 000: hbwatch VmHWM, kB"),
    ("stampede", "n.20000.failed", "stampede 20 000: failed registrations"),
    ("stampede", "n.20000.register_ms.p50", "stampede 20 000: hb_register p50, ms"),
    ("stampede", "n.20000.register_ms.p99", "stampede 20 000: hb_register p99, ms"),
    ("stampede", "n.20000.register_ms.max", "stampede 20 000: hb_register max, ms"),
    ("stampede", "n.20000.all_registered_ms", "stampede 20 000: all registered, ms"),
    ("stampede", "n.20000.all_watched_ms", "stampede 20 000: all watched, ms"),
    ("stampede", "n.20000.detect.median_ms", "stampede 20 000: detection median, ms"),
    ("stampede", "n.20000.detect.max_ms", "stampede 20 000: detection max, ms"),
    ("stampede", "n.20000.daemon.stampede_cpu_ms", "stampede 20 000: hbwatch CPU, release to all watched, ms"),
    ("stampede", "n.20000.daemon.steady_cpu_pct", "stampede 20 000: hbwatch steady, % of a core"),
    ("stampede", "n.20000.daemon.hwm_kb", "stampede 20 000: hbwatch VmHWM, kB"),
]


def get(d, path):
    for p in path.split("."):
        if d is None:
            return None
        d = d[int(p)] if isinstance(d, list) else d.get(p)
    return d


def main():
    runs = defaultdict(list)
    for line in open(sys.argv[1]):
        d = json.loads(line)
        runs[d.get("bench") or ("beat" if "hb_beat_ns" in d else "?")].append(d)
    print("| figure | median | min..max over runs | runs |")
    print("|---|---:|---:|---:|")
    for bench, path, label in FIGURES:
        vals = [v for v in (get(d, path) for d in runs[bench]) if v is not None]
        if not vals:
            continue
        med = statistics.median(vals)
        fmt = (lambda x: "%.3g" % x) if abs(med) < 100 else (lambda x: "%.0f" % x)
        print("| %s | %s | %s..%s | %d |" % (label, fmt(med), fmt(min(vals)), fmt(max(vals)),
                                            len(vals)))


main()
