#!/bin/sh
# man-lint: every built page passes mandoc -Tlint at warning level and
# above (below that, mandoc only notes scdoc's long source lines and
# lower-case titles).  TAP, one point per page; a skip without mandoc.
if ! command -v mandoc >/dev/null 2>&1; then
	echo "1..0 # SKIP mandoc is not installed"
	exit 0
fi
echo "1..$#"
n=0 rc=0
for page in "$@"; do
	n=$((n + 1))
	if out=$(mandoc -Tlint -W warning "$page" 2>&1); then
		echo "ok $n - ${page##*/}"
	else
		echo "not ok $n - ${page##*/}"
		printf '%s\n' "$out" | sed 's/^/# /'
		rc=1
	fi
done
exit $rc
