#!/bin/bash
# The bash completion, sourced into a real bash: hbctl's commands and each
# command's options, the services of the configuration that hbwatch
# --check-config lists (for check and register --name), the pids hbctl
# status lists (for --pid), and hbwatch's options.
# TAP output.  Run through isolate.sh: a real hbwatch on a key of its own
# watches one registered process, whose pid must be offered.
set -u
: "${HBWATCH:?run through meson test}" "${HBCTL:?}" "${COMPLETION:?}"
. "$TAP_SH"
tap_scratch completion 49
plan 10

cat >"$DIR/hbwatch.ini" <<INI
[hbwatch]
key = $KEY
group =

[web]
timeout = 1min
INI
mkdir "$DIR/hbwatch.d"
printf '[db-2]\ntimeout = 1min\n' >"$DIR/hbwatch.d/db.ini"
# hbwatch and hbctl as the completion calls them, from PATH; hbwatch on
# this test's configuration.
mkdir "$DIR/bin"
printf '#!/bin/sh\nexec "%s" -c "%s" "$@"\n' "$HBWATCH" "$DIR/hbwatch.ini" >"$DIR/bin/hbwatch"
chmod +x "$DIR/bin/hbwatch"
ln -s "$HBCTL" "$DIR/bin/hbctl"
export PATH="$DIR/bin:$PATH"

hbwatch_start
wait_for 5 hbwatch_up || bail "hbwatch did not come up: $(cat "$DIR/hbwatch.log")"
sleep 600 &
SLEEPER=$!
PIDS="$PIDS $SLEEPER"
"$HBCTL" register --name web --timeout 1min --pid $SLEEPER --wait 5s

. "$COMPLETION"
# complete WORD...: what the completion offers for the last word, sorted,
# on one line.
complete_line() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	local f
	case $1 in hbctl) f=_hbctl ;; hbwatch) f=_hbwatch ;; esac
	$f "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# is WANT WORD...
is() {
	local want=$1 got
	shift
	got=$(complete_line "$@")
	[ "$got" = "$want" ] || { echo "# '$*': got '$got', want '$want'"; return 1; }
}
check "commands" 'is "beat check metrics register remove status unregister" hbctl ""'
check "commands starting with re" 'is "register remove" hbctl re'
check "global options" 'is "--help --key --version" hbctl --'
check "register's options" 'is "--name --pid --timeout --wait" hbctl register --'
check "status --json after -k KEY" 'is "--json" hbctl -k "$KEY" status -'
check "check: the configured services" 'is "db-2 web" hbctl check ""'
check "register --name: the configured services" 'is "web" hbctl register --name w'
check "beat --pid: the registered process" 'is "$SLEEPER" hbctl beat --pid ""'
check "unregister --pid with -k KEY" 'is "$SLEEPER" hbctl -k "$KEY" unregister --pid ""'
check "hbwatch's options" 'is "--check-config --config" hbwatch --c'
tap_exit
