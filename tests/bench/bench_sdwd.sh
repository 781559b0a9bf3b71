#!/bin/bash
# bench_sdwd.sh OUTDIR [N [K]]: systemd's own WatchdogSec= on the first N
# hangs of OUTDIR/schedule.txt (written by bench_detect), under a real
# systemd 252 booted as PID 1 of new namespaces over an overlay of / by
# the end-to-end harness (tests/e2e/harness.sh, sourced read-only; see
# docs/TESTING.md).  K instances of a Type=notify template unit run the
# hangs in parallel, each main process stops sending WATCHDOG=1 and measures
# the watchdog signal (SIGABRT) in its handler (bench_sdwd_victim).
# Writes OUTDIR/systemd.dat (one latency in ms per line).  Root only.
set -u
OUTDIR=$1
N=${2:-80}
K=${3:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
: "${HBWATCH_BUILD_ROOT:?set HBWATCH_BUILD_ROOT to the meson build directory}"
VICTIM=$HBWATCH_BUILD_ROOT/tests/bench/bench_sdwd_victim
[ -x "$VICTIM" ] || { echo "# $VICTIM is not built" >&2; exit 1; }

# One guest at a time on this machine (they share the host's cgroup tree):
# wait while an end-to-end test has one up.
busy() {
	local m
	for m in /var/tmp/hbwatch-e2e.*/root; do
		mountpoint -q "$m" 2>/dev/null && return 0
	done
	return 1
}
for _ in $(seq 240); do busy || break; sleep 1; done
busy && { echo "# another systemd guest is still up after 4 min; skipping" >&2; exit 1; }

# shellcheck source=../e2e/harness.sh
. "$HERE/../e2e/harness.sh"
guest_setup >&2
W=/var/tmp/hbwatch-bench-sdwd
mkdir -p "$M$W"
cp "$OUTDIR/schedule.txt" "$M$W/schedule.txt"
cat >"$M/etc/systemd/system/bench-wd@.service" <<UNIT
[Unit]
Description=hbwatch benchmark: WatchdogSec= victim %i
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
ExecStart=$VICTIM $W/schedule.txt %i $K $N $W/sd.dat $W
WatchdogSec=2s
Restart=on-failure
RestartSec=100ms
LimitCORE=0
UNIT
guest_start >&2
units=$(seq -f 'bench-wd@%g.service' 1 "$K")
# shellcheck disable=SC2086
g systemctl start --no-block $units
t0=$SECONDS
while [ $((SECONDS - t0)) -lt 300 ]; do
	# shellcheck disable=SC2086
	states=$(g systemctl is-active $units 2>/dev/null | sort -u | tr '\n' ' ')
	[ "$states" = "inactive " ] && break
	sleep 0.5
done
echo "# systemd part: ${N} hangs in ${K} units took $((SECONDS - t0)) s (unit states: $states)" >&2
awk '{print $3}' "$M$W/sd.dat" >"$OUTDIR/systemd.dat"
cp "$M$W/sd.dat" "$OUTDIR/systemd-raw.dat"
exit 0
