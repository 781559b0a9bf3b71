#!/bin/sh
# metrics_dir against a real second uid: hbwatch writes hbwatch.prom as
# root, so no other user may steer where it lands or what it replaces.
#  - A user who owns a directory above metrics_dir swaps metrics_dir for a
#    symlink to root's 0700 directory: hbwatch refuses metrics_dir and
#    writes nothing there.
#  - In a sticky world-writable metrics_dir (owned by root), the user
#    pre-creates hbwatch.prom, first as a file, then as a symlink to a file
#    of root's: hbwatch, with only CAP_KILL as under its unit, still writes
#    its own file over the name, never through the symlink.
# TAP output.  Needs real root and setpriv (a real second uid); skipped
# otherwise.  Run through isolate.sh (private IPC namespace).
set -u
: "${HBWATCH:?run through meson test}" "${HBCTL:?}"
SETPRIV=${SETPRIV:-$(command -v setpriv || true)}
. "$TAP_SH"
if [ "$(id -u)" -ne 0 ] || [ -z "$SETPRIV" ] || ! grep -q '^ *0 *0 *4294967295' /proc/self/uid_map; then
	skip_all "needs real root and setpriv for a second uid"
fi
U=64123 # the other user: any uid that owns nothing here
as_user() { "$SETPRIV" --reuid=$U --regid=$U --clear-groups -- "$@"; }

tap_scratch metricsdir 48
chmod 0755 "$DIR"
plan 7

# run_hbwatch METRICS_DIR: hbwatch with only CAP_KILL, as under its unit,
# long enough to write its file (it writes within a second of starting).
run_hbwatch() {
	cat >"$DIR/hbwatch.ini" <<INI
[hbwatch]
key = $KEY
slots = 16
group =
metrics_dir = $1

[x]
timeout = 2s
INI
	"$SETPRIV" --bounding-set=-all,+kill --inh-caps=-all -- \
		"$HBWATCH" -c "$DIR/hbwatch.ini" 2>"$DIR/hbwatch.log" &
	hb=$!
	PIDS="$PIDS $hb"
	sleep 2
	kill -TERM $hb
	wait $hb
}

# 1. A symlink swapped in below a directory the user owns.
mkdir -m 0700 "$DIR/secret"
mkdir -m 0755 "$DIR/user"
chown $U:$U "$DIR/user"
as_user mkdir "$DIR/user/metrics"
as_user sh -c "rmdir '$DIR/user/metrics' && ln -s '$DIR/secret' '$DIR/user/metrics'"
run_hbwatch "$DIR/user/metrics"
check "a symlink swapped in by another user: nothing written through it" \
	'[ ! -e "$DIR/secret/hbwatch.prom" ]'
check "metrics_dir refused, naming the directory another user owns" \
	'grep -q "metrics_dir $DIR/user/metrics refused.*$DIR/user belongs to uid $U" "$DIR/hbwatch.log"'
sed 's/^/#   /' "$DIR/hbwatch.log" | grep metrics_dir

# 2. A sticky world-writable metrics_dir owned by root, with hbwatch.prom
# pre-created there by the user: hbwatch replaces it with its own file.
mkdir -m 1777 "$DIR/sticky"
as_user sh -c "echo 'hbwatch_kills_total{service=\"x\"} 999' >'$DIR/sticky/hbwatch.prom'"
run_hbwatch "$DIR/sticky"
owner() { stat -c %u "$1"; }
check "sticky dir: the user's hbwatch.prom replaced by hbwatch's" \
	'[ -f "$DIR/sticky/hbwatch.prom" ] && [ "$(owner "$DIR/sticky/hbwatch.prom")" = 0 ] &&
	 grep -qx "hbwatch_up 0" "$DIR/sticky/hbwatch.prom" &&
	 ! grep -q 999 "$DIR/sticky/hbwatch.prom"'
check "sticky dir: no cannot-write warning" '! grep -q "cannot write" "$DIR/hbwatch.log"'

# 3. The same with a symlink to a file of root's: replaced, not followed.
echo "root's own" >"$DIR/secret/target"
rm -f "$DIR/sticky/hbwatch.prom"
as_user ln -s "$DIR/secret/target" "$DIR/sticky/hbwatch.prom"
run_hbwatch "$DIR/sticky"
check "sticky dir: root's file behind the user's symlink untouched" \
	'[ "$(cat "$DIR/secret/target")" = "root'"'"'s own" ]'
check "sticky dir: hbwatch.prom is hbwatch's own file now" \
	'[ ! -L "$DIR/sticky/hbwatch.prom" ] && grep -qx "hbwatch_up 0" "$DIR/sticky/hbwatch.prom"'
check "sticky dir: no temporary files left behind" \
	'[ "$(ls -A "$DIR/sticky")" = hbwatch.prom ]'
tap_exit
