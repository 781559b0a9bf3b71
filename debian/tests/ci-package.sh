#!/bin/bash
# Packaging stage, self-contained so that .ci/run can call it: install
# what packaging needs, build the Debian packages from a clean export of
# HEAD with only the declared Build-Depends, require a lintian run with no
# error and no warning, build again at a bumped version, and run the guest
# test (install, a watched service, upgrade, remove, purge) in a throwaway
# systemd.  As root, from anywhere in a clone:
#   bash debian/tests/ci-package.sh [OUT]
# OUT (default build-deb/ in the clone, made afresh) keeps the packages and
# the logs.  Exits non-zero if any step fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
export LC_ALL=C.UTF-8

if [ "$(id -u)" -ne 0 ]; then
	echo "ci-package.sh: run as root (apt-get, and the guest test boots systemd in namespaces)" >&2
	exit 1
fi
if ! git -C "$top" rev-parse --verify -q HEAD >/dev/null; then
	echo "ci-package.sh: $top is not a git clone with a commit to export" >&2
	exit 1
fi

OUT=${1:-$top/build-deb}
step() { printf '\n==> %s\n' "$*"; }
# fail MESSAGE LOG: say what failed and show the end of its log.
fail() {
	echo "ci-package.sh: $1 (log: $2)" >&2
	tail -n 40 "$2" >&2
	exit 1
}

# Packaging tools; the build dependencies come from debian/control below.
# git exports the source; systemd, dbus, util-linux, python3, pkg-config
# and a compiler are what the guest test uses (the guest's root is this
# machine's, seen through an overlay).
step "Installing the packaging tools"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential dpkg-dev debhelper devscripts libdistro-info-perl fakeroot lintian git \
	systemd dbus util-linux procps python3 pkg-config

VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
UPGRADE_VERSION=$VERSION+test1
rm -rf "$OUT"
mkdir -p "$OUT/release" "$OUT/upgrade"
# Readable by everyone: lintian and the guest read the packages from here.
chmod 0755 "$OUT" "$OUT/release" "$OUT/upgrade"

# export DIR: the committed tree (HEAD) as hbwatch-VERSION/ in DIR, with
# nothing of this working copy's builds or uncommitted changes.
export_source() {
	git -C "$top" archive --format=tar --prefix="hbwatch-$VERSION/" HEAD | tar -x -C "$1"
	echo "$1/hbwatch-$VERSION"
}
if [ -n "$(git -C "$top" status --porcelain --untracked-files=no)" ]; then
	echo "note: uncommitted changes are not packaged; the export is HEAD ($(git -C "$top" rev-parse --short HEAD))"
fi

step "Build dependencies of hbwatch $VERSION (debian/control)"
SRC=$(export_source "$OUT/release")
# apt reads the Build-Depends of the exported tree itself, so only what
# debian/control declares is installed for the build.
apt-get build-dep -y -q --no-install-recommends "$SRC"
(cd "$SRC" && dpkg-checkbuilddeps)
echo "dpkg-checkbuilddeps: all Build-Depends satisfied"

# Both builds use every CPU (dpkg-buildpackage alone builds with one job).
JOBS="parallel=$(nproc)"
step "Building hbwatch $VERSION (dpkg-buildpackage -us -uc, source and binaries)"
(cd "$SRC" && DEB_BUILD_OPTIONS="$JOBS" dpkg-buildpackage -us -uc) >"$OUT/build-release.log" 2>&1 ||
	fail "the package build failed" "$OUT/build-release.log"
ls -l "$OUT/release"/*.deb

step "lintian (fails on any error or warning), meanwhile the upgrade build"
# --allow-root: CI runs as root, and lintian only reads the packages.
# -I: informational tags are shown too, but only errors and warnings fail.
# It reads only the release's files, so the upgrade build goes on beside it.
lintian --allow-root --fail-on error,warning -I \
	"$OUT/release/hbwatch_${VERSION}_$(dpkg --print-architecture).changes" \
	>"$OUT/lintian.log" 2>&1 &
lintian_pid=$!

step "Building hbwatch $UPGRADE_VERSION for the upgrade test"
USRC=$(export_source "$OUT/upgrade")
# The same tree under a higher version, as the next release would be.
# nocheck: its unit suite is the one the release build just ran.
(cd "$USRC" && DEBFULLNAME="hbwatch CI" DEBEMAIL="ci@localhost" \
	dch --preserve --newversion "$UPGRADE_VERSION" --distribution unstable --force-distribution \
	"Upgrade test build.")
(cd "$USRC" && DEB_BUILD_OPTIONS="nocheck $JOBS" dpkg-buildpackage -us -uc -b) \
	>"$OUT/build-upgrade.log" 2>&1 || upgrade_rc=$?

if wait "$lintian_pid"; then
	lintian_rc=0
else
	lintian_rc=$?
fi
cat "$OUT/lintian.log"
[ "$lintian_rc" -eq 0 ] || fail "lintian found errors or warnings" "$OUT/lintian.log"
echo "lintian: no error, no warning"
[ "${upgrade_rc:-0}" -eq 0 ] || fail "the upgrade package build failed" "$OUT/build-upgrade.log"

step "Guest test: install, watched service, upgrade, remove, purge"
if bash "$here/guest.sh" "$OUT/release" "$OUT/upgrade" 2>&1 | tee "$OUT/guest.log"; then
	guest_rc=0
else
	guest_rc=$?
fi
passed=$(grep -c '^ok ' "$OUT/guest.log" || true)
failed=$(grep -c '^not ok ' "$OUT/guest.log" || true)
echo "guest: $passed passed, $failed failed"
[ "$guest_rc" -eq 0 ] || fail "the guest test failed (exit $guest_rc)" "$OUT/guest.log"

step "Packages"
ls -l "$OUT/release"/*.deb
echo "ci-package.sh: OK"
