#!/bin/sh
# Run hbwatch under valgrind, for the daemon tests (their harness starts
# $HBWATCH): HBWATCH=this script, HBWATCH_REAL=the real binary,
# VALGRIND_LOG_DIR=where each run's report goes (hbwatch.PID.log).
# Errors and definite leaks make the daemon exit 99; .ci/run also checks
# every report's summary, since tests do not all assert the exit status.
: "${HBWATCH_REAL:?set HBWATCH_REAL to the hbwatch binary}"
: "${VALGRIND_LOG_DIR:?set VALGRIND_LOG_DIR}"
exec valgrind --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --error-exitcode=99 \
	--track-fds=no --log-file="$VALGRIND_LOG_DIR/hbwatch.%p.log" \
	"$HBWATCH_REAL" "$@"
