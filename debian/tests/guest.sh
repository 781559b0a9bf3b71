#!/bin/bash
# Guest test of the Debian packages: boot a throwaway systemd as PID 1 of
# new namespaces over an overlay of / (tests/e2e/harness.sh, see
# docs/TESTING.md), install the built .debs into it with dpkg, and check
# install, a watched service built against libhbwatch-dev, the C++ header
# and the Python package, upgrade, remove and purge.  dpkg, systemd and SysV IPC all act inside the guest (its own
# overlay root, PID and IPC namespaces), so the host is never touched.
#
# Usage, as root:  debian/tests/guest.sh DIR UPGRADE_DIR
#   DIR          hbwatch_*.deb, libhbwatch0_*.deb, libhbwatch-dev_*.deb and
#                python3-hbwatch_*.deb
#   UPGRADE_DIR  the same four packages at a higher version
# Output is TAP; exits 0 only if every check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

if [ $# -ne 2 ]; then
	echo "usage: $0 DIR UPGRADE_DIR" >&2
	exit 2
fi
OLD_DIR=$(cd "$1" && pwd)
NEW_DIR=$(cd "$2" && pwd)

# shellcheck source=../../tests/e2e/harness.sh
. "$top/tests/e2e/harness.sh"

# The harness is written for 'set -u' alone: under -e a status check in an
# assignment (is-system-running while booting) would end this script, and
# under pipefail an early-exiting reader would fail a pipeline that
# succeeded.  Its steps run with both off.
harness() {
	local rc=0
	set +e +o pipefail
	"$@"
	rc=$?
	set -e -o pipefail
	return "$rc"
}

KEY=0x00005098                    # hbwatch's registry key as ipcs prints it
CLIENT=/usr/local/bin/hbtest-client
HANG=/run/hbtest/hang             # the client stops beating when it appears
SIGNAL_SENT=1c1cbbc12a14442e9494fb5aa67076a7   # MESSAGE_ID of signal-sent
LIBDIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# Upper bounds of waits, in seconds; generous, since a loaded 2-core CI
# machine can be slow.  Each step usually takes a fraction of its bound
# (hbwatch kills within milliseconds of the client's 1 s deadline).
SHORT=20
LONG=40

# deb DIR PACKAGE: the one .deb of PACKAGE in DIR (not its -dbgsym).
deb() {
	local f
	f=$(find "$1" -maxdepth 1 -name "$2_*.deb" | sort | tail -n 1)
	[ -n "$f" ] || bail "no $2_*.deb in $1"
	echo "$f"
}

# Every path a 'meson install' (prefix /usr or /usr/local) of hbwatch
# leaves; none may pre-exist in the guest, or the test would prove the
# host's copy rather than the package's.
LEFTOVERS='/etc/hbwatch /usr/local/etc/hbwatch /usr/sbin/hbwatch /usr/local/sbin/hbwatch
/usr/bin/hbctl /usr/local/bin/hbctl /usr/include/hbwatch.h /usr/local/include/hbwatch.h
/usr/include/hbwatch.hpp /usr/local/include/hbwatch.hpp /usr/lib/python3/dist-packages/hbwatch
/usr/libexec/hbwatch /usr/local/libexec/hbwatch /usr/lib/systemd/catalog/hbwatch.catalog
/usr/local/lib/systemd/catalog/hbwatch.catalog /usr/lib/sysusers.d/hbwatch.conf
/usr/local/lib/sysusers.d/hbwatch.conf /lib/systemd/system/hbwatch.service
/lib/systemd/system/hbwatch-demo@.service /usr/local/lib/systemd/system/hbwatch.service
/usr/local/lib/systemd/system/hbwatch-demo@.service /etc/systemd/system/hbwatch.service.d'

deb_guest_setup() {
	local p
	OLD=(); NEW=()
	for p in hbwatch libhbwatch0 libhbwatch-dev python3-hbwatch; do
		OLD+=("$(deb "$OLD_DIR" "$p")")
		NEW+=("$(deb "$NEW_DIR" "$p")")
	done
	OLD_VERSION=$(dpkg-deb -f "${OLD[0]}" Version)
	NEW_VERSION=$(dpkg-deb -f "${NEW[0]}" Version)
	dpkg --compare-versions "$NEW_VERSION" gt "$OLD_VERSION" ||
		bail "upgrade version $NEW_VERSION is not above $OLD_VERSION"

	# The same root as the e2e tests' guests (the overlay, the masked
	# units, a fresh machine id); the harness's teardown (poweroff,
	# unmount, remove, cgroups) runs with -e off and gets this script's
	# status to exit with.
	harness guest_root hbwatch-deb dpkg-architecture
	trap 'rc=$?; set +e +o pipefail; (exit "$rc"); guest_cleanup' EXIT

	# The guest plays a Debian machine that never had hbwatch.  These are
	# whiteouts in the overlay; the host keeps its files.
	#  - policy-rc.d: container images deny service starts with it (exit
	#    101); a real machine has none, and the postinst must start hbwatch.
	rm -f "$M/usr/sbin/policy-rc.d"
	for p in $LEFTOVERS; do
		if [ -e "$M$p" ]; then
			diag "removing the host's unpackaged $p from the guest"
			rm -rf "$M$p"
		fi
	done
	#  - the hbwatch group, which the package must create.
	for p in group gshadow; do
		[ -f "$M/etc/$p" ] && sed -i '/^hbwatch:/d' "$M/etc/$p"
	done
	#  - a catalog database built without hbwatch.catalog (the guest's boot
	#    rebuilds it from what is there now).
	rm -f "$M/var/lib/systemd/catalog/database"

	mkdir -p "$M/var/tmp/hbtest/old" "$M/var/tmp/hbtest/new"
	cp "${OLD[@]}" "$M/var/tmp/hbtest/old/"
	cp "${NEW[@]}" "$M/var/tmp/hbtest/new/"
	# The same files as the guest sees them (dpkg there runs without a
	# shell, so no globs).
	G_OLD=(); G_NEW=()
	for p in "${OLD[@]}"; do G_OLD+=("/var/tmp/hbtest/old/${p##*/}"); done
	for p in "${NEW[@]}"; do G_NEW+=("/var/tmp/hbtest/new/${p##*/}"); done
	cp "$here/hbtest-client.c" "$M/var/tmp/hbtest/"

	# The watched service: libhbwatch from the package, the drop-in the
	# project documents (group, ordering after hbwatch), Restart=always.
	cat >"$M/etc/systemd/system/hbtest.service" <<EOF
[Unit]
Description=hbwatch package test: a service watched through libhbwatch
Wants=hbwatch.service
After=hbwatch.service

[Service]
User=nobody
SupplementaryGroups=hbwatch
ExecStart=$CLIENT hbtest 1000 $HANG
Restart=always
RestartSec=200ms
LimitCORE=0
EOF
}

# must DESCRIPTION COMMAND...: a check the rest of the test builds on;
# stop at once if it fails.
must() {
	local failed=$T_FAILED
	check "$@"
	[ "$T_FAILED" -eq "$failed" ] || bail "cannot go on after: $1"
}

# dpkg_g ARGS...: dpkg in the guest.  Its output goes to the TAP stream
# as diagnostics (fd 3, which check does not capture): the transcript of
# install, upgrade, remove and purge.
exec 3>&1
dpkg_g() {
	local out rc=0 t0=$SECONDS
	out=$(g env DEBIAN_FRONTEND=noninteractive dpkg "$@" 2>&1) || rc=$?
	diag "\$ dpkg $*    (exit $rc, $((SECONDS - t0)) s)" \
		"$(printf '%s\n' "$out" | sed 's/^/  /')" >&3
	return "$rc"
}

# hb_json PYTHON-EXPR: evaluate an expression on 'hbctl status --json' in
# the guest (j is the document); prints its value.
hb_json() {
	g hbctl status --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}
# hb_state NAME PID: the state hbctl reports for PID under NAME, or nothing.
hb_state() {
	hb_json "next((e['state'] for e in j['entries'] if e['name'] == '$1' and e['pid'] == $2), '')"
}
is_ok() { [ "$(hb_state "$1" "$2")" = ok ]; }

# signal_sent_to PID: hbwatch's journal has a signal-sent record for PID.
signal_sent_to() {
	g journalctl --no-pager -o json "MESSAGE_ID=$SIGNAL_SENT" | python3 -c '
import json, sys
found = any(json.loads(l).get("HBWATCH_PID") == sys.argv[1] for l in sys.stdin)
sys.exit(0 if found else 1)' "$1"
}

# The registry segment at hbwatch's key in the guest's IPC namespace.
registry_present() { g ipcs -m | awk -v k="$KEY" '$1 == k { f = 1 } END { exit !f }'; }
registry_absent() { ! registry_present; }

unit_pid() { g systemctl show -P MainPID "$1"; }
unit_is() { [ "$(g systemctl is-active "$1" 2>/dev/null)" = "$2" ]; }
nrestarts() { g systemctl show -P NRestarts "$1"; }
installed_version() { g dpkg-query -W -f '${Status} ${Version}' "$1" 2>/dev/null; }
not_installed() {
	case $(g dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null) in
	'' | not-installed) return 0 ;;
	*) return 1 ;;
	esac
}
group_exists() { g getent group hbwatch >/dev/null; }
# (grep without -q in pipelines: -q stops reading at the first match, and
# the writer's SIGPIPE would fail the pipeline under pipefail.)
in_catalog() { g journalctl --list-catalog 2>/dev/null | grep "^$SIGNAL_SENT " >/dev/null; }
conffile_listed() { g dpkg-query -W -f '${Conffiles}\n' hbwatch | grep " $1 " >/dev/null; }
# client_lib: the file the client's libhbwatch.so.0 resolves to, and the
# package that owns it ("PATH PACKAGE").
client_lib() {
	local lib
	lib=$(g ldd "$CLIENT" | awk '$1 == "libhbwatch.so.0" { print $3 }')
	lib=$(g realpath "$lib")
	echo "$lib $(g dpkg -S "$lib" | cut -d: -f1)"
}
exists() { g test -e "$1"; }
absent() { ! g test -e "$1"; }
pid_alive() { g kill -0 "$1" 2>/dev/null; }

# hang_and_recover PID WHAT: make the client PID hang, then check that
# hbwatch signals it, systemd restarts the unit, and the new process is
# registered.  Leaves the new pid in NEW_PID.
hang_and_recover() {
	local pid=$1 what=$2 before
	before=$(nrestarts hbtest.service)
	g touch "$HANG"
	check "$what: hbwatch signals the hung client (pid $pid, journal signal-sent record)" \
		wait_for "$LONG" signal_sent_to "$pid"
	check "$what: pid $pid is gone" wait_for "$LONG" eval "! pid_alive $pid"
	check "$what: systemd restarted hbtest.service (NRestarts above $before)" \
		wait_for "$LONG" eval "[ \"\$(nrestarts hbtest.service)\" -gt $before ]"
	NEW_PID=
	wait_for "$SHORT" eval 'NEW_PID=$(unit_pid hbtest.service); [ "$NEW_PID" != 0 ] && [ "$NEW_PID" != '"$pid"' ] && is_ok hbtest "$NEW_PID"' || true
	must "$what: the restarted client (pid ${NEW_PID:-none}) is registered and beating" \
		eval "[ -n '$NEW_PID' ] && is_ok hbtest '$NEW_PID'"
	diag "$what, hbwatch's journal: $(g journalctl --no-pager -o cat \
		"MESSAGE_ID=$SIGNAL_SENT" "HBWATCH_PID=$pid" | tail -n 1)"
}

deb_guest_setup
harness guest_start

# ---- Install ----------------------------------------------------------
check "the guest starts without hbwatch (no group, no catalog entries)" \
	eval '! group_exists && ! in_catalog && absent /etc/hbwatch'
must "dpkg -i installs hbwatch, libhbwatch0, libhbwatch-dev, python3-hbwatch $OLD_VERSION" \
	dpkg_g -i "${G_OLD[@]}"
check "hbwatch $OLD_VERSION is installed" \
	eval "[ \"\$(installed_version hbwatch)\" = 'install ok installed $OLD_VERSION' ]"
check "the postinst created the hbwatch group (systemd-sysusers)" group_exists
check "the journal catalog knows hbwatch's records (systemd's catalog trigger)" in_catalog
check "hbwatch.service is enabled" eval '[ "$(g systemctl is-enabled hbwatch.service)" = enabled ]'
check "hbwatch.service is active" wait_for "$SHORT" unit_is hbwatch.service active
check "hbwatch made its registry at key $KEY" wait_for "$SHORT" registry_present
check "the package's configuration is /usr/lib/hbwatch/hbwatch.ini, not a conffile" \
	eval 'exists /usr/lib/hbwatch/hbwatch.ini && ! conffile_listed /usr/lib/hbwatch/hbwatch.ini'
check "nothing is shipped in /etc/hbwatch but the empty hbwatch.d" \
	eval '[ -z "$(gsh "find /etc/hbwatch -mindepth 1 ! -path /etc/hbwatch/hbwatch.d")" ]'
check "a fresh install watches nothing (hbwatch --check-config: 0 watched services)" \
	eval 'g hbwatch --check-config | grep "OK, 0 watched services" >/dev/null'

# ---- A watched service, built against the package ----------------------
must "a client builds against libhbwatch-dev (pkg-config hbwatch)" \
	gsh "cc -std=c11 -Wall -Wextra -Werror -o $CLIENT /var/tmp/hbtest/hbtest-client.c \$(pkg-config --cflags --libs hbwatch)"
check "the client runs with the packaged library (libhbwatch0's $LIBDIR/libhbwatch.so.0.*)" \
	eval '[[ "$(client_lib)" == "$LIBDIR/libhbwatch.so.0."*" libhbwatch0" ]]'
check "hbwatch.hpp from libhbwatch-dev builds with c++ -std=c++17 -Werror" \
	gsh 'printf "#include <hbwatch.hpp>\nint main() { hbwatch::registration r(\"x\", std::chrono::seconds(1)); }\n" |
		c++ -std=c++17 -Wall -Wextra -Werror -pedantic -x c++ -o /var/tmp/hbtest/cxx - $(pkg-config --cflags --libs hbwatch)'
# Debian's python3 finds the module and it loads the packaged library:
# beat() unregistered is OSError(ENOTCONN) from libhbwatch itself.  By
# path: the guest inherits the caller's PATH, which may name another one.
check "python3-hbwatch imports and calls the packaged libhbwatch.so.0" \
	gsh '/usr/bin/python3 -c "import errno, hbwatch
try:
    hbwatch.beat()
except OSError as e:
    raise SystemExit(e.errno != errno.ENOTCONN)
raise SystemExit(1)"'

# A section for it, and the metrics textfile (to check that remove takes
# it away): metrics_dir plus the unit drop-in the package documents.
gsh 'mkdir -p /run/hbtest /var/lib/hbtest-metrics && chmod 0777 /run/hbtest'
gsh 'cat >/etc/hbwatch/hbwatch.d/90-hbtest.ini' <<'EOF'
[hbtest]
unit = hbtest.service
user = nobody
timeout = 5s
EOF
gsh 'cat >/etc/hbwatch/hbwatch.d/10-metrics.ini' <<'EOF'
[hbwatch]
metrics_dir = /var/lib/hbtest-metrics
EOF
gsh 'mkdir -p /etc/systemd/system/hbwatch.service.d && sed "s|/var/lib/prometheus/node-exporter|/var/lib/hbtest-metrics|" /usr/share/doc/hbwatch/hbwatch-metrics.conf.example >/etc/systemd/system/hbwatch.service.d/metrics.conf'
g systemctl daemon-reload
check "hbwatch restarts with the drop-ins" g systemctl restart hbwatch.service
check "hbtest.service starts" g systemctl start hbtest.service
wait_for "$SHORT" eval 'PID=$(unit_pid hbtest.service); [ "$PID" != 0 ] && is_ok hbtest "$PID"' || true
PID=$(unit_pid hbtest.service)
must "the client (pid $PID) is registered and beating" is_ok hbtest "$PID"
check "hbwatch writes its metrics textfile" wait_for "$LONG" exists /var/lib/hbtest-metrics/hbwatch.prom

hang_and_recover "$PID" "before the upgrade"
PID=$NEW_PID

# ---- Upgrade ----------------------------------------------------------
# The client keeps running through the upgrade: registrations live in the
# processes' own records, and the restarted hbwatch finds them by census.
HBWATCH_PID=$(unit_pid hbwatch.service)
RESTARTS=$(nrestarts hbtest.service)
diag "before the upgrade: hbwatch pid $HBWATCH_PID, client pid $PID, NRestarts $RESTARTS"
must "dpkg -i upgrades to $NEW_VERSION" dpkg_g -i "${G_NEW[@]}"
check "hbwatch $NEW_VERSION is installed" \
	eval "[ \"\$(installed_version hbwatch)\" = 'install ok installed $NEW_VERSION' ]"
check "the upgrade restarted hbwatch (pid $HBWATCH_PID before)" \
	wait_for "$SHORT" eval 'unit_is hbwatch.service active && [ "$(unit_pid hbwatch.service)" != 0 ] && [ "$(unit_pid hbwatch.service)" != '"$HBWATCH_PID"' ]'
diag "after the upgrade: hbwatch pid $(unit_pid hbwatch.service)"
check "the client was not restarted (same pid $PID, NRestarts $RESTARTS)" \
	eval "[ \"\$(unit_pid hbtest.service)\" = $PID ] && [ \"\$(nrestarts hbtest.service)\" = $RESTARTS ]"
check "hbctl status still lists the client, pid $PID, beating" wait_for "$SHORT" is_ok hbtest "$PID"
check "the new hbwatch owns the registry" \
	eval '[ "$(hb_json "j[\"owner_pid\"]")" = "$(unit_pid hbwatch.service)" ]'
check "the administrator's drop-ins survived the upgrade" \
	exists /etc/hbwatch/hbwatch.d/90-hbtest.ini
# Listed is not yet watched: the new daemon must act on the registration
# made under the old one.
hang_and_recover "$PID" "after the upgrade"

# ---- Remove -----------------------------------------------------------
check "dpkg -r hbwatch" dpkg_g -r hbwatch
check "hbwatch.service is stopped" eval '! unit_is hbwatch.service active'
check "the administrator's configuration stays until purge" \
	exists /etc/hbwatch/hbwatch.d/90-hbtest.ini
check "the registry at $KEY is gone (hbctl remove in prerm)" registry_absent
check "the metrics textfile is gone" absent /var/lib/hbtest-metrics/hbwatch.prom
check "the watched service runs on without hbwatch" unit_is hbtest.service active

# ---- Purge ------------------------------------------------------------
check "dpkg -P hbwatch" dpkg_g -P hbwatch
check "/etc/hbwatch is gone, with the administrator's drop-ins" absent /etc/hbwatch
check "no segment at $KEY (ipcs -m)" registry_absent
check "dpkg lists hbwatch as not installed, no config-files left" not_installed hbwatch
if group_exists; then
	diag "the hbwatch group stays after purge (Debian policy for system groups)"
fi
g systemctl stop hbtest.service || true

# ---- Another program's segment at the key is left alone -----------------
# Reinstall, stop hbwatch and drop its registry, then let some other
# program own a segment at the same key: removing the package must keep it.
must "dpkg -i reinstalls hbwatch $NEW_VERSION" dpkg_g -i "${G_NEW[0]}"
g systemctl stop hbwatch.service
g hbctl remove >/dev/null
FOREIGN=$(g python3 -c '
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
r = libc.shmget(0x5098, 4096, 0o1600)
if r < 0:
    raise SystemExit("shmget: errno %d" % ctypes.get_errno())
print(r)')
diag "a foreign segment at $KEY: shmid $FOREIGN"
check "dpkg -P hbwatch with a foreign segment at the key" dpkg_g -P hbwatch
check "the foreign segment is still there (shmid $FOREIGN)" \
	eval "g ipcs -m -i $FOREIGN >/dev/null 2>&1 && registry_present"
g ipcrm -m "$FOREIGN" || true

check "dpkg -P python3-hbwatch libhbwatch-dev libhbwatch0" \
	dpkg_g -P python3-hbwatch libhbwatch-dev libhbwatch0

harness done_testing
