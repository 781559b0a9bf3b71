#!/bin/sh
# Where "meson install" puts the Python package, for two prefixes: a
# directory that the python3 meson found imports from, so that
# "import hbwatch" works after installing with any prefix.  Configures the
# source tree in scratch build directories (nothing is built or
# installed: meson introspect says where each file would go).  TAP.
set -u
: "${SRC_ROOT:?run through meson test}" "${PYTHON:?}"
if ! command -v meson >/dev/null; then
	echo "1..0 # SKIP meson is not installed"
	exit 0
fi
DIR=$(mktemp -d /tmp/hbwatch-pyinstall-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
n=0
echo "1..4"
for prefix in /usr/local /usr; do
	b="$DIR/build$n"
	if meson setup "$b" "$SRC_ROOT" --prefix="$prefix" -Dtests=disabled \
		-Dpython.purelibdir= >"$DIR/setup.log" 2>&1; then
		n=$((n + 1)); echo "ok $n - meson setup --prefix=$prefix"
	else
		n=$((n + 1)); echo "not ok $n - meson setup --prefix=$prefix"
		sed 's/^/# /' "$DIR/setup.log"
		n=$((n + 1)); echo "not ok $n - # SKIP not configured"
		continue
	fi
	dest=$(meson introspect "$b" --installed | "$PYTHON" -c '
import json, os, sys
for src, dst in json.load(sys.stdin).items():
    if dst.endswith(os.path.join("hbwatch", "__init__.py")):
        print(os.path.dirname(os.path.dirname(dst)))')
	n=$((n + 1))
	if [ -n "$dest" ] && "$PYTHON" -c 'import os, sys
sys.exit(os.path.normpath(sys.argv[1]) not in [os.path.normpath(p) for p in sys.path if p])' "$dest"; then
		echo "ok $n - prefix $prefix: the package goes to $dest, which $PYTHON imports from"
	else
		echo "not ok $n - prefix $prefix: the package goes to '$dest', which $PYTHON does not import from"
		"$PYTHON" -c 'import sys; print("# sys.path:", sys.path)'
	fi
done
