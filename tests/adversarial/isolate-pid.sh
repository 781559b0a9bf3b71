#!/bin/sh
# Run a test as PID 1 of fresh PID, mount and IPC namespaces, with /proc
# remounted for the new PID namespace (so /proc/sys/kernel/ns_last_pid is
# its own).  Needs root; without it the test is skipped (exit 77).
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root for private PID and IPC namespaces"
	exit 77
fi
exec unshare --ipc --pid --fork --mount-proc -- "$@"
