#!/bin/bash
# Quick start: install what is missing, build, and run hbwatch with the
# shipped configuration (conf/hbwatch.ini, which watches nothing) plus a
# drop-in for the demo service, next to two demo workers, one of which
# stops beating.  Within seconds hbwatch reports the missed deadline
# and kills exactly that worker; the healthy one keeps running.
#
# It runs in a private IPC namespace, so a table already on this host (key
# 0x5098) is neither touched nor in the way.  Run as root from a clone:
#   bash src/demo/quickstart.sh            (DEMO_SECONDS=N to watch longer)
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
	echo "quickstart: run as root (it installs packages and uses an IPC namespace)" >&2
	exit 1
fi

pkgs=(build-essential meson ninja-build pkg-config libsystemd-dev libinih-dev
      libcriterion-dev scdoc util-linux)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "==> installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "==> building"
[ -d build/meson-info ] || meson setup build >/dev/null
meson compile -C build >/dev/null

# The shipped configuration gives the table to group hbwatch (as the
# sysusers.d snippet does on install).
getent group hbwatch >/dev/null || groupadd --system hbwatch

exec unshare --ipc -- bash -c '
	set -u
	ulimit -c 0   # the demo worker is killed with SIGABRT: no core file here
	pids=()
	trap "kill \${pids[*]} 2>/dev/null; wait 2>/dev/null" EXIT
	conf=$(mktemp -d); trap "kill \${pids[*]} 2>/dev/null; wait 2>/dev/null; rm -rf $conf" EXIT
	cp conf/hbwatch.ini "$conf"/ && mkdir "$conf"/hbwatch.d
	# The demo workers run outside systemd: "unit = none" says so.
	printf "[hbwatch-demo]\ntimeout = 2s\nunit = none\n" >"$conf"/hbwatch.d/70-demo.ini
	echo "==> hbwatch -c conf/hbwatch.ini + hbwatch.d/70-demo.ini (private IPC namespace)"
	build/src/daemon/hbwatch -c "$conf"/hbwatch.ini & pids+=($!)
	build/src/ctl/hbctl wait-ready --timeout 5s
	build/src/demo/hbwatch-demo -n hbwatch-demo -t 2000 & pids+=($!)
	build/src/demo/hbwatch-demo -n hbwatch-demo -t 2000 -H 3000 & hung=$!; pids+=($hung)
	sleep 1
	echo "==> hbctl status"; build/src/ctl/hbctl status
	echo "==> worker $hung stops beating in 2 s; its timeout is 2 s"
	wait $hung; rc=$?
	echo "==> worker $hung is gone (exit status $rc: $( [ $rc -gt 128 ] && kill -l $((rc-128)) ))"
	sleep 0.5
	echo "==> hbctl status"; build/src/ctl/hbctl status
	sleep "${DEMO_SECONDS:-2}"
	echo "==> stopping; the healthy worker was never signalled"
'
