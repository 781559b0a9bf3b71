#!/bin/sh
# Run a test as PID 1 of fresh PID, mount and IPC namespaces, with /proc
# remounted for the new PID namespace (so /proc/sys/kernel/ns_last_pid is
# its own).  Without root, inside a user namespace where we are root; where
# neither works the whole test is a TAP skip.
. "$(dirname "$0")/../tap.sh"
command -v unshare >/dev/null 2>&1 || skip_all "unshare(1) is missing"
if [ "$(id -u)" -eq 0 ]; then
	exec unshare --ipc --pid --fork --mount-proc -- "$@"
fi
if unshare --user --map-root-user --ipc --pid --fork --mount-proc true 2>/dev/null; then
	exec unshare --user --map-root-user --ipc --pid --fork --mount-proc -- "$@"
fi
skip_all "needs root or user namespaces for private PID and IPC namespaces"
