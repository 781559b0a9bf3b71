#!/bin/sh
# man-lint: every built page passes mandoc -Tlint at warning level and
# above (below that, mandoc only notes scdoc's long source lines and
# lower-case titles).  TAP, one point per page; a skip without mandoc.
. "$(dirname "$0")/../tests/tap.sh"
command -v mandoc >/dev/null 2>&1 || skip_all "mandoc is not installed"
plan $#
for page in "$@"; do
	check "${page##*/}" mandoc -Tlint -W warning "$page"
done
tap_exit
