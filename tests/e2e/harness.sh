# End-to-end harness, sourced by the test_*.sh scripts: boots a throwaway
# systemd as PID 1 of new pid/mount/uts/ipc/net namespaces over an overlay
# of /, with the build installed into it (see docs/TESTING.md), runs
# commands inside with nsenter, and always tears it down.  Output is TAP.
#
# Environment (set by tests/e2e/meson.build):
#   HBWATCH_BUILD_ROOT   the meson build directory to install into the guest
# Without root or the tools the test is skipped (a TAP plan of 0).

set -u

# TAP: check, wait_for, diag, skip, skip_all, bail (tests/tap.sh).
# shellcheck source=../tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

GUEST_PID=
UNSHARE_PID=
SCRATCH=
M=

done_testing() {
	# On a failure, what hbwatch said is the first thing one wants.
	if [ "$T_FAILED" -gt 0 ] && [ -n "${GUEST_PID:-}" ]; then
		diag "hbwatch's journal (last 80 lines):"
		diag "$(g journalctl -u hbwatch.service --no-pager -o short-monotonic 2>&1 | tail -80)"
	fi
	tap_done
}

# Run a command inside the guest (all its namespaces, its root and cwd).
g() { nsenter -t "$GUEST_PID" -a -r -w "$@"; }
gsh() { g /bin/sh -c "$*"; }
# A unit property, e.g. prop hbwatch.service MainPID
prop() { g systemctl show -P "$2" "$1"; }

# Where meson installs a file (its path inside the guest): the installed
# path whose basename is $1.
installed_path() {
	python3 - "$HBWATCH_BUILD_ROOT/meson-info/intro-installed.json" "$1" <<'EOF'
import json, os, sys
for dst in json.load(open(sys.argv[1])).values():
    if os.path.basename(dst) == sys.argv[2]:
        print(dst)
        break
else:
    sys.exit(1)
EOF
}

# Pids registered under NAME in the guest's table, one per line, with
# state; "PID STATE".  Uses hbctl status --json inside the guest.
hb_entries() {
	g "$HBCTL" status --json | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    if e.get("name") == sys.argv[1]:
        print(e["pid"], e["state"])' "$1"
}
# hb_has NAME PID: PID is registered under NAME and beating.
hb_has() { hb_entries "$1" | grep -qx "$2 ok"; }

# journal_has UNIT-OR-MATCH JSON-CONDITION: some record of
# 'journalctl ARGS -o json' satisfies a Python condition on dict r.
journal_has() {
	local cond=$1
	shift
	g journalctl --no-pager -o json "$@" | python3 -c '
import json, sys
cond = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    if eval("(" + cond + ")", {}, {"r": r}):
        sys.exit(0)
sys.exit(1)' "$cond"
}

guest_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$UNSHARE_PID" ] && kill -0 "$UNSHARE_PID" 2>/dev/null; then
		if [ -n "$GUEST_PID" ]; then
			timeout 10 nsenter -t "$GUEST_PID" -a -r -w systemctl poweroff --no-block \
				>/dev/null 2>&1
		fi
		for _ in $(seq 150); do
			kill -0 "$UNSHARE_PID" 2>/dev/null || break
			sleep 0.1
		done
		# Still there: SIGKILL the guest's PID 1, which ends its whole
		# pid namespace.
		if kill -0 "$UNSHARE_PID" 2>/dev/null; then
			diag "guest did not power off in 15 s: killing its PID 1 ($GUEST_PID)"
			[ -n "$GUEST_PID" ] && kill -KILL "$GUEST_PID" 2>/dev/null
			kill -KILL "$UNSHARE_PID" 2>/dev/null
		fi
		wait "$UNSHARE_PID" 2>/dev/null
	fi
	if [ -n "$M" ] && mountpoint -q "$M"; then
		umount -R "$M" 2>/dev/null || umount -R -l "$M"
	fi
	if [ -n "$SCRATCH" ] && ! mountpoint -q "$M"; then
		rm -rf --one-file-system "$SCRATCH"
	fi
	# Cgroups the guest's systemd made at the top of the host's hierarchy
	# and left behind (empty ones only; rmdir refuses the others).
	if [ -n "$SCRATCH" ] && [ -f "$CG_BEFORE" ]; then
		cgroup_dirs | LC_ALL=C comm -13 "$CG_BEFORE" - | sort -r |
			while read -r d; do rmdir "$d" 2>/dev/null; done
		rm -f "$CG_BEFORE"
	fi
	exit "$rc"
}

cgroup_dirs() {
	find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | LC_ALL=C sort
}

# Units of the host that must not start in the guest: consoles (the guest
# would take the host's terminals), things that touch host devices or
# global kernel settings, and everything the host enabled itself
# (databases, web servers, timers ...).
mask_units() {
	local d=$M/etc/systemd/system u
	mkdir -p "$d"
	for u in getty@.service serial-getty@.service console-getty.service \
		container-getty@.service autovt@.service \
		systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
		systemd-udev-trigger.service systemd-udev-settle.service \
		systemd-sysctl.service systemd-modules-load.service systemd-binfmt.service \
		kmod-static-nodes.service systemd-timesyncd.service systemd-pstore.service \
		systemd-networkd.service systemd-resolved.service systemd-logind.service \
		systemd-hwdb-update.service systemd-random-seed.service \
		systemd-remount-fs.service systemd-firstboot.service \
		proc-sys-fs-binfmt_misc.automount sys-kernel-debug.mount \
		sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
		dev-hugepages.mount dev-mqueue.mount tmp.mount \
		apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
		fstrim.timer dpkg-db-backup.timer logrotate.timer \
		$(find /etc/systemd/system -path '*.wants/*' -printf '%f\n' 2>/dev/null |
			grep -v -e '^dbus' -e '^hbwatch' | sort -u); do
		ln -sf /dev/null "$d/$u"
	done
}

# The script that becomes the guest: runs in the new namespaces, prepares
# /proc, /sys, /dev, /run, /tmp, then execs systemd in the overlay.
write_boot_script() {
	cat >"$SCRATCH/boot.sh" <<'EOF'
#!/bin/sh
set -e
M=$1
mount --make-rprivate /
mount -t proc proc "$M/proc"
mount -t sysfs sysfs "$M/sys"
mount --rbind /sys/fs/cgroup "$M/sys/fs/cgroup"
mount -t tmpfs -o mode=755,nosuid dev "$M/dev"
for n in null zero full random urandom tty; do
	touch "$M/dev/$n"
	mount --bind "/dev/$n" "$M/dev/$n"
done
mkdir -p "$M/dev/pts" "$M/dev/shm" "$M/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$M/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev run "$M/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$M/tmp"
export container=other
exec chroot "$M" /lib/systemd/systemd --system --unit=multi-user.target \
	</dev/null >"${M%/*}/console.log" 2>&1
EOF
	chmod +x "$SCRATCH/boot.sh"
}

# guest_root NAME [TOOL...]: the guest's root, shared by every guest test
# (e2e and the Debian package's): skips without root or without the tools
# (TOOL... beyond the harness's own), makes $SCRATCH (/var/tmp/NAME.*) with
# the overlay of / at $M, masks the host's units and gives the guest a
# fresh machine id.  guest_cleanup undoes it all on exit.  The caller then
# installs into $M and adds its units before guest_start.
guest_root() {
	local name=$1 t
	shift
	[ "$(id -u)" -eq 0 ] || skip_all "needs root to boot systemd in namespaces"
	for t in unshare nsenter mount umount chroot python3 /lib/systemd/systemd "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip_all "needs $t"
	done

	SCRATCH=$(mktemp -d "/var/tmp/$name.XXXXXX")
	M=$SCRATCH/root
	CG_BEFORE=$SCRATCH.cgroups
	trap guest_cleanup EXIT
	trap 'exit 130' INT TERM
	cgroup_dirs >"$CG_BEFORE"
	mkdir "$SCRATCH/upper" "$SCRATCH/work" "$M"
	mount -t overlay overlay \
		-o "lowerdir=/,upperdir=$SCRATCH/upper,workdir=$SCRATCH/work" "$M" ||
		bail "cannot mount the overlay"

	mask_units
	# A fresh machine id, so the guest's journal is its own.
	rm -f "$M/etc/machine-id"
	: >"$M/etc/machine-id"
}

# guest_setup: the guest's root with this build installed, prepared; the
# caller may then add test units and configuration under $M before
# guest_start.
guest_setup() {
	[ -n "${HBWATCH_BUILD_ROOT:-}" ] || skip_all "HBWATCH_BUILD_ROOT is not set (run through meson test)"
	guest_root hbwatch-e2e meson
	meson install -C "$HBWATCH_BUILD_ROOT" --no-rebuild --quiet --destdir "$M" \
		>"$SCRATCH/install.log" 2>&1 || bail "meson install failed: $(tail -5 "$SCRATCH/install.log")"
	ldconfig -r "$M"
	systemd-sysusers --root="$M" >/dev/null 2>&1 || bail "systemd-sysusers failed"

	HBWATCH=$(installed_path hbwatch) || bail "hbwatch is not installed by the build"
	HBCTL=$(installed_path hbctl) || bail "hbctl is not installed by the build"
	DEMO=$(installed_path hbwatch-demo) || bail "hbwatch-demo is not installed by the build"
	CONF=$(installed_path hbwatch.ini) || bail "hbwatch.ini is not installed by the build"
	# The administrator's drop-ins: SYSCONFDIR/hbwatch/hbwatch.d (/etc when
	# the prefix is /usr), as meson.build places confdir.  The package's
	# hbwatch.ini above stays as installed.
	CONFD=$(python3 - "$HBWATCH_BUILD_ROOT/meson-info/intro-buildoptions.json" <<'EOF'
import json, os, sys
opts = {o["name"]: o["value"] for o in json.load(open(sys.argv[1]))}
prefix, sysconf = opts["prefix"], opts["sysconfdir"]
base = "/etc" if prefix == "/usr" else os.path.join(prefix, sysconf)
print(os.path.join(base, "hbwatch", "hbwatch.d"))
EOF
	) || bail "cannot find the configuration directory of the build"
	mkdir -p "$M$CONFD"
	EXAMPLES=$(installed_path 70-demo.ini.example) || bail "example drop-ins not installed"
	EXAMPLES=${EXAMPLES%/*}
	UNITDIR=$(installed_path hbwatch.service) || bail "hbwatch.service is not installed"
	UNITDIR=${UNITDIR%/*}
	DOCDIR=$(installed_path hbwatch-watched.conf.example) || bail "drop-in example not installed"
	DOCDIR=${DOCDIR%/*}
	mkdir -p "$M/etc/systemd/system"
	# An AddressSanitizer build (.ci/run's sanitizer stage): LeakSanitizer's
	# exit-time check needs ptrace, which the unit's system call filter
	# rightly denies ("LeakSanitizer has encountered a fatal error"), so
	# the guest's hbwatch runs without it.  Memory errors are still caught;
	# leaks are checked by every suite that runs outside the sandbox.
	if ldd "$M$HBWATCH" 2>/dev/null | grep -q libasan; then
		mkdir -p "$M/etc/systemd/system/hbwatch.service.d"
		printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' \
			>"$M/etc/systemd/system/hbwatch.service.d/asan.conf"
	fi
}

# If this script dies without its EXIT trap (meson's timeout ends with
# SIGKILL), a watcher in a session of its own ends the guest: it kills the
# process whose root is the overlay (the guest's PID 1, never a reused
# pid), unmounts and removes the scratch directory.
start_deadman() {
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null; do sleep 1; done
		[ -d "$2" ] || exit 0
		[ "$(readlink "/proc/$3/root")" = "$4" ] && kill -KILL "$3"
		sleep 1
		mountpoint -q "$4" && { umount -R "$4" || umount -R -l "$4"; }
		mountpoint -q "$4" || rm -rf --one-file-system "$2"
		find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | LC_ALL=C sort |
			LC_ALL=C comm -13 "$5" - | sort -r | while read -r d; do rmdir "$d"; done
		rm -f "$5"
	' deadman "$$" "$SCRATCH" "$GUEST_PID" "$M" "$CG_BEFORE" </dev/null >/dev/null 2>&1 &
}

guest_start() {
	local state
	# One guest at a time on this host: a guest has no cgroup namespace and
	# builds its tree at the top of the host's, where a second would
	# collide.  The guest inherits the lock and holds it until it is gone.
	exec {GUEST_LOCK_FD}>/tmp/hbwatch-e2e-guest.lock
	flock "$GUEST_LOCK_FD"
	write_boot_script
	setsid unshare --pid --fork --mount --uts --ipc --net "$SCRATCH/boot.sh" "$M" &
	UNSHARE_PID=$!
	for _ in $(seq 100); do
		GUEST_PID=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null)
		GUEST_PID=${GUEST_PID%% *}
		[ -n "$GUEST_PID" ] && [ "$(cat "/proc/$GUEST_PID/comm" 2>/dev/null)" = systemd ] && break
		GUEST_PID=
		sleep 0.1
	done
	[ -n "$GUEST_PID" ] || bail "the guest's systemd did not start: $(cat "$SCRATCH/console.log" 2>/dev/null)"
	start_deadman
	for _ in $(seq 300); do
		state=$(g systemctl is-system-running 2>/dev/null)
		case $state in
		running | degraded) break ;;
		esac
		sleep 0.1
	done
	case $state in
	running | degraded) ;;
	*) bail "the guest did not boot (state '$state')" ;;
	esac
	diag "guest systemd (host pid $GUEST_PID) is $state after ${SECONDS}s"
	[ "$state" = degraded ] && diag "$(g systemctl --failed --no-legend --plain 2>&1)"
	g journalctl --update-catalog >/dev/null 2>&1
}

# A test unit running the demo worker as NAME, which hangs once when the
# flag file /run/e2e/UNIT.hang exists at its start (the flag is consumed,
# so the restarted process beats on), under the shipped drop-in.
# write_victim UNIT NAME [EXTRA DROP-IN LINES] [MORE hbwatch-demo ARGUMENTS]
write_victim() {
	local unit=$1 name=$2 extra=${3:-} args=${4:-}
	cat >"$M/etc/systemd/system/$unit" <<EOF
[Unit]
Description=e2e victim $name

[Service]
User=nobody
ExecStart=/bin/sh -c 'if [ -e /run/e2e/%n.hang ]; then rm -f /run/e2e/%n.hang; exec $DEMO -n $name -t 1000 $args -H 800; fi; exec $DEMO -n $name -t 1000 $args'
LimitCORE=0
RestartSec=200ms
EOF
	mkdir -p "$M/etc/systemd/system/$unit.d"
	cp "$M$DOCDIR/hbwatch-watched.conf.example" "$M/etc/systemd/system/$unit.d/hbwatch.conf"
	if [ -n "$extra" ]; then
		printf '[Service]\n%s\n' "$extra" >"$M/etc/systemd/system/$unit.d/50-extra.conf"
	fi
}

# A hbwatch.d section for a victim: write_section FILE NAME UNIT [KEY=VALUE...]
write_section() {
	local file=$1 name=$2 unit=$3
	shift 3
	{
		printf '[%s]\nunit = %s\ntimeout = 5s\n' "$name" "$unit"
		printf '%s\n' "$@"
	} >>"$M$CONFD/$file"
}

# Make VICTIM hang once at its next start.
arm_hang() {
	gsh "mkdir -p /run/e2e && chmod 0777 /run/e2e && touch /run/e2e/$1.hang && chmod 0666 /run/e2e/$1.hang"
}

# is_inactive UNIT: the unit is inactive (stopped, not failed).
is_inactive() { [ "$(g systemctl is-active "$1")" = inactive ]; }

# MainPID of a unit once it is running (and not PID 0).
main_pid() {
	local pid
	pid=$(prop "$1" MainPID)
	[ -n "$pid" ] && [ "$pid" != 0 ] && echo "$pid"
}
