#!/bin/sh
# Run a test in a fresh IPC namespace, so the SysV objects it creates are
# its own and vanish with it, whatever key it uses.  Needs root; without it
# the test is skipped (exit 77, meson's skip code).
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root for a private IPC namespace"
	exit 77
fi
exec unshare --ipc -- "$@"
