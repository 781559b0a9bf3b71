#!/bin/sh
# Run a test as PID 1 of fresh PID, mount and IPC namespaces, with /proc
# remounted for the new PID namespace (so /proc/sys/kernel/ns_last_pid is
# its own).  Without root, inside a user namespace where we are root; where
# neither works the whole test is a TAP skip.
. "$(dirname "$0")/../tap.sh"
command -v unshare >/dev/null 2>&1 || skip_all "unshare(1) is missing"
# --mount-proc makes / private in the new mount namespace, which fails
# where / is not a mount point (a chroot): then say so instead of failing.
why_not() {
	case "$1" in
	*propagation*|*"Invalid argument"*)
		echo "$1 (/ is not a mount point, as in a chroot: bind-mount the root onto itself, or run in a container or VM)" ;;
	*) echo "$1" ;;
	esac
}
if [ "$(id -u)" -eq 0 ]; then
	if err=$(unshare --ipc --pid --fork --mount-proc true 2>&1); then
		exec unshare --ipc --pid --fork --mount-proc -- "$@"
	fi
	skip_all "no private PID namespace with its own /proc: $(why_not "$err" | tr "\n" " ")"
	exit 0
fi
if err=$(unshare --user --map-root-user --ipc --pid --fork --mount-proc true 2>&1); then
	exec unshare --user --map-root-user --ipc --pid --fork --mount-proc -- "$@"
fi
skip_all "needs root or user namespaces for private PID and IPC namespaces: $(why_not "$err" | tr '\n' ' ')"
