#!/bin/sh
# The shipped Prometheus rules, as installed: promtool checks them and runs
# their unit tests (monitoring/tests/hbwatch.test.yml: every alert fires on
# its series with its labels and annotations, and not across an hbwatch
# restart).  TAP output; skipped without promtool.
# Usage: test_promtool.sh RULES ALERTS TESTS
set -u
. "$(dirname "$0")/../tap.sh"
command -v promtool >/dev/null 2>&1 || skip_all "promtool is not installed (Debian: prometheus)"
plan 2
# Each report of promtool's is shown, passing or not.
out=$(promtool check rules "$1" "$2" 2>&1)
check "promtool check rules" '[ $? -eq 0 ]'
diag "$out"
out=$(promtool test rules "$3" 2>&1)
check "promtool test rules" '[ $? -eq 0 ]'
diag "$out"
tap_exit
