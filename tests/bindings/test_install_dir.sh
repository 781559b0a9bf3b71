#!/bin/sh
# Where "meson install" puts the Python package, for two prefixes: a
# directory that the python3 meson found imports from, so that
# "import hbwatch" works after installing with any prefix.  Configures the
# source tree in scratch build directories (nothing is built or
# installed: meson introspect says where each file would go).  TAP.
set -u
. "$(dirname "$0")/../tap.sh"
: "${SRC_ROOT:?run through meson test}" "${PYTHON:?}"
command -v meson >/dev/null || skip_all "meson is not installed"
DIR=$(mktemp -d /tmp/hbwatch-pyinstall-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
plan 4
# installed_to BUILD: the directory the Python package would go into.
installed_to() {
	meson introspect "$1" --installed | "$PYTHON" -c '
import json, os, sys
for src, dst in json.load(sys.stdin).items():
    if dst.endswith(os.path.join("hbwatch", "__init__.py")):
        print(os.path.dirname(os.path.dirname(dst)))'
}
# imported_from DIR: python3 imports from DIR (it is on sys.path).
imported_from() {
	[ -n "$1" ] && "$PYTHON" -c 'import os, sys
sys.exit(os.path.normpath(sys.argv[1]) not in [os.path.normpath(p) for p in sys.path if p])' "$1"
}
n=0
for prefix in /usr/local /usr; do
	b="$DIR/build$n"
	n=$((n + 1))
	if ! meson setup "$b" "$SRC_ROOT" --prefix="$prefix" -Dtests=disabled \
		-Dpython.purelibdir= >"$DIR/setup.log" 2>&1; then
		not_ok "meson setup --prefix=$prefix"
		diag "$(cat "$DIR/setup.log")"
		skip "prefix $prefix: where the package goes" "not configured"
		continue
	fi
	ok "meson setup --prefix=$prefix"
	dest=$(installed_to "$b")
	check "prefix $prefix: the package goes to '$dest', which $PYTHON imports from" \
		'imported_from "$dest" || { "$PYTHON" -c "import sys; print(\"sys.path:\", sys.path)"; false; }'
done
tap_exit
