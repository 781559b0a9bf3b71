#!/bin/sh
# Run a test in a fresh IPC namespace, so the SysV objects it creates are
# its own and vanish with it, whatever key it uses.  As root, a plain IPC
# namespace; otherwise inside a user namespace where we are root, which is
# all most tests need (tests that need real other uids skip themselves
# there).  Where neither is possible the whole test is a TAP skip.
. "$(dirname "$0")/tap.sh"
command -v unshare >/dev/null 2>&1 || skip_all "unshare(1) is missing: no private IPC namespace"
if [ "$(id -u)" -eq 0 ]; then
	exec unshare --ipc -- "$@"
fi
if unshare --user --map-root-user --ipc true 2>/dev/null; then
	exec unshare --user --map-root-user --ipc -- "$@"
fi
skip_all "needs root or unprivileged user namespaces for a private IPC namespace"
