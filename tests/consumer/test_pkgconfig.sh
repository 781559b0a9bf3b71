#!/bin/sh
# A program outside the tree, built against the INSTALLED library: the build
# is installed into a scratch DESTDIR, the program is compiled with
# "cc $(pkg-config --cflags --libs hbwatch)" (PKG_CONFIG_SYSROOT_DIR maps the
# installed paths into the DESTDIR), run against a live hbwatch (private IPC
# namespace, own key), shows in "hbctl status --json", and is killed when it
# stops beating.  TAP output.
set -u
: "${HBWATCH:?run through meson test}" "${HBCTL:?}" "${BUILD_ROOT:?}" "${CONSUMER_SRC:?}"
. "${TAP_SH:?}"
for tool in meson pkg-config cc; do
	command -v "$tool" >/dev/null || skip_all "$tool is not installed"
done

tap_scratch consumer 45

plan 7
DEST="$DIR/dest"
check "meson install into a DESTDIR" \
	'meson install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$DEST" >"$DIR/install.log" 2>&1'
PC=$(find "$DEST" -name hbwatch.pc | head -n 1)
check "hbwatch.pc is installed ($PC)" '[ -n "$PC" ]'
export PKG_CONFIG_PATH="$(dirname "$PC")" PKG_CONFIG_SYSROOT_DIR="$DEST"
FLAGS=$(pkg-config --cflags --libs hbwatch)
echo "# pkg-config --cflags --libs hbwatch: $FLAGS"
# shellcheck disable=SC2086 # FLAGS is a list of options
check "the consumer builds with cc and pkg-config only" \
	'cc -std=c11 -Wall -Werror -o "$DIR/consumer" "$CONSUMER_SRC" $FLAGS 2>"$DIR/cc.log"'
# The .pc file lives in LIBDIR/pkgconfig.
LIBDIR=$(dirname "$(dirname "$PC")")
check "it links the installed libhbwatch.so.0" \
	'LD_LIBRARY_PATH="$LIBDIR" ldd "$DIR/consumer" | grep -q "$LIBDIR/libhbwatch.so.0"'

cat >"$DIR/hbwatch.ini" <<INI
[hbwatch]
key = $KEY
slots = 16
group =
kill_grace = 300ms

[consumer]
timeout = 2s
INI
hbwatch_start
wait_for 5 hbwatch_up

mkfifo "$DIR/ready"
(ulimit -c 0; LD_LIBRARY_PATH="$LIBDIR" exec "$DIR/consumer" consumer 300 600 >"$DIR/ready") &
C=$!
PIDS="$PIDS $C"
read -r word cpid <"$DIR/ready"
check "it registered" '[ "$word" = registered ] && [ "$cpid" = "$C" ]'
# hbwatch takes a registration up within milliseconds ("unseen" until then).
listed_ok() {
	"$HBCTL" status --json >"$DIR/status.json" &&
		grep -Eq "\"pid\":$C,\"uid\":[0-9]+,\"name\":\"consumer\",[^}]*\"state\":\"ok\"" "$DIR/status.json"
}
check "hbctl status --json shows its pid under its name, ok" 'wait_for 1 listed_ok'
wait "$C"
st=$?
check "hbwatch killed it when it stopped beating (status $st)" \
	'[ $st -eq 134 ] && grep -q "sent SIGABRT to consumer (pid $C)" "$DIR/hbwatch.log"'

if [ "$T_FAILED" -ne 0 ]; then
	for f in install.log cc.log hbwatch.log status.json; do
		[ -f "$DIR/$f" ] && { echo "# $f:"; sed 's/^/#   /' "$DIR/$f"; }
	done
fi
tap_exit
