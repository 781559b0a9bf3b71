#!/bin/sh
# The shipped Prometheus rules, as installed: promtool checks them and runs
# their unit tests (monitoring/tests/hbwatch.test.yml: every alert fires on
# its series with its labels and annotations, and not across an hbwatch
# restart).  TAP output; skipped without promtool.
# Usage: test_promtool.sh RULES ALERTS TESTS
set -u
if ! command -v promtool >/dev/null 2>&1; then
	echo "1..0 # SKIP promtool is not installed (Debian: prometheus)"
	exit 0
fi
echo "1..2"
fails=0
if out=$(promtool check rules "$1" "$2" 2>&1); then
	echo "ok 1 - promtool check rules"
else
	echo "not ok 1 - promtool check rules"; fails=1
fi
echo "$out" | sed 's/^/# /'
if out=$(promtool test rules "$3" 2>&1); then
	echo "ok 2 - promtool test rules"
else
	echo "not ok 2 - promtool test rules"; fails=1
fi
echo "$out" | sed 's/^/# /'
exit $fails
