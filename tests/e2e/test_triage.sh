#!/bin/bash
# Why it hung, under a real systemd: three services stop beating three
# ways (a busy loop, a blocked pipe read, SIGSTOP), and hbwatch's
# missed-deadline record in the journal says which, with the fields taken
# before its signal (HBWATCH_PROC_STATE, HBWATCH_WCHAN,
# HBWATCH_CPU_USEC_SINCE_BEAT ...).  The stopped one dies of SIGABRT with
# a core dump, not of the SIGKILL escalation.  hbwatch runs with the
# shipped wchan drop-in (CAP_SYS_PTRACE), without which wchan is hidden.
. "$(dirname "$0")/harness.sh"

MISSED=a3e1e2b08efe4f97be2db085ea452ff1

guest_setup
# victim UNIT HOW [EXTRA SERVICE LINES [SECTION LINES]]: the demo worker,
# 1 s timeout, hangs HOW 0.6 s after it starts; not restarted (one record
# each).
victim() {
	local unit=$1 how=$2 extra=${3:-} section=${4:-}
	cat >"$M/etc/systemd/system/$unit.service" <<EOF
[Unit]
Description=e2e triage victim ($how)

[Service]
User=nobody
WorkingDirectory=/var/tmp/e2e-cores
ExecStart=$DEMO -n $unit -t 1000 -H 600 -m $how
$extra
EOF
	mkdir -p "$M/etc/systemd/system/$unit.service.d"
	cp "$M$DOCDIR/hbwatch-watched.conf.example" \
		"$M/etc/systemd/system/$unit.service.d/hbwatch.conf"
	printf '[Service]\nRestart=no\n' >"$M/etc/systemd/system/$unit.service.d/50-once.conf"
	write_section 80-e2e.ini "$unit" "$unit.service" $section
}
mkdir -p "$M/var/tmp/e2e-cores"
chmod 1777 "$M/var/tmp/e2e-cores"
# The guest inherits the test run's nice level, and the host may be busy:
# the busy one runs at a high priority for its one second of spinning, so
# that what is measured is its loop, not the host's load; and it is not
# deferred as starved (starve_grace=0) should the host's load win anyway.
victim e2e-busy spin "LimitCORE=0
Nice=-10" "starve_grace=0"
victim e2e-blocked read LimitCORE=0
# A core file of the stopped one is written in its working directory
# (the host's kernel.core_pattern is checked below).  In an
# AddressSanitizer build (.ci/run) the demo loads libasan, whose runtime
# sets RLIMIT_CORE to 0 unless told otherwise (its shadow memory is kept
# out of the dump).
victim e2e-stopped stop "LimitCORE=infinity
Environment=ASAN_OPTIONS=disable_coredump=0:detect_leaks=0"
mkdir -p "$M/etc/systemd/system/hbwatch.service.d"
cp "$M$DOCDIR/hbwatch-wchan.conf.example" "$M/etc/systemd/system/hbwatch.service.d/wchan.conf"
guest_start

check "systemctl start hbwatch" g systemctl start hbwatch.service
check "start the victims" g systemctl start e2e-busy.service e2e-blocked.service e2e-stopped.service
declare -A pid
for v in e2e-busy e2e-blocked e2e-stopped; do pid[$v]=$(main_pid $v.service); done
for v in e2e-busy e2e-blocked e2e-stopped; do
	check "$v (pid ${pid[$v]}): hbwatch records its missed deadline" \
		wait_for 15 journal_has "r.get('HBWATCH_NAME') == '$v'" MESSAGE_ID=$MISSED
done

# record V: the missed-deadline record of V's first process, as JSON.
record() {
	g journalctl --no-pager -o json MESSAGE_ID=$MISSED HBWATCH_NAME="$1" \
		OBJECT_PID="${pid[$1]}" | head -1
}
# assert V PYTHON-CONDITION: on dict r, the record of V.
assert() {
	local rec
	rec=$(record "$1")
	python3 -c '
import json, sys
r = json.loads(sys.argv[1])
if not eval("(" + sys.argv[2] + ")"):
    print("record:", json.dumps(r, indent=1, sort_keys=True))
    sys.exit(1)' "$rec" "$2"
}
# The records themselves, as journalctl -o json gives them.
for v in e2e-busy e2e-blocked e2e-stopped; do
	diag "the record of $v:" "$(record $v)"
done

# The busy loop: running, and it used the CPU of the time since its beat.
check "e2e-busy: state R (HBWATCH_PROC_STATE, HBWATCH_STATE)" \
	assert e2e-busy "r['HBWATCH_PROC_STATE'].startswith('R (threads: ') and r['HBWATCH_STATE'] == 'R'"
check "e2e-busy: CPU since its beat >= 50 % of the time since its beat" \
	assert e2e-busy "int(r['HBWATCH_CPU_USEC_SINCE_BEAT']) * 2 >=
		int(r['HBWATCH_TIMEOUT_USEC']) + int(r['HBWATCH_LATE_USEC'])"
check "e2e-busy: the window ends at the deadline and starts near the beat" \
	assert e2e-busy "500000 <= int(r['HBWATCH_CPU_WINDOW_USEC']) <=
		int(r['HBWATCH_TIMEOUT_USEC']) + int(r['HBWATCH_LATE_USEC']) + 250000"
check "e2e-busy: MESSAGE says it spins" \
	assert e2e-busy "'; spinning: ' in r['MESSAGE'] and '% CPU since its last beat' in r['MESSAGE']"

# The blocked reader: asleep in the pipe.
check "e2e-blocked: state S, one thread" \
	assert e2e-blocked "r['HBWATCH_PROC_STATE'] == 'S (threads: 1 S)' and r['HBWATCH_THREADS'] == '1'"
check "e2e-blocked: almost no CPU since its beat" \
	assert e2e-blocked "int(r['HBWATCH_CPU_USEC_SINCE_BEAT']) * 10 <= int(r['HBWATCH_CPU_WINDOW_USEC'])"
# The wchan needs a kernel that shows it: the guest's own reading of a
# sleeping process says whether this one does.
if [ "$(gsh 'sleep 2 & sleep 0.3; cat /proc/$!/wchan')" = 0 ]; then
	check "e2e-blocked: HBWATCH_WCHAN says the wchan is unknown" \
		assert e2e-blocked "r['HBWATCH_WCHAN'] == 'unknown'"
	skip "e2e-blocked: wchan names the pipe" "this kernel shows no wchan (/proc/PID/wchan reads 0)"
else
	check "e2e-blocked: HBWATCH_WCHAN names the pipe read" \
		assert e2e-blocked "'pipe_read' in r['HBWATCH_WCHAN']"
	check "e2e-blocked: MESSAGE says where it is blocked" \
		assert e2e-blocked "'; blocked in ' + r['HBWATCH_WCHAN'] + ': ' in r['MESSAGE']"
fi

# The stopped one: T, then SIGABRT with a core, not SIGKILL.
check "e2e-stopped: state T, MESSAGE says stopped (T)" \
	assert e2e-stopped "r['HBWATCH_PROC_STATE'] == 'T (threads: 1 T)' and '; stopped (T)' in r['MESSAGE']"
check "e2e-stopped: the unit ends (failed)" \
	wait_for 10 eval '[ "$(g systemctl is-active e2e-stopped.service)" = failed ]'
check "e2e-stopped: systemd saw it die of SIGABRT (ExecMainStatus=6), not SIGKILL (9)" \
	eval '[ "$(prop e2e-stopped.service ExecMainStatus)" = 6 ]'
if [ "$(cat /proc/sys/kernel/core_pattern)" = core ]; then
	check "e2e-stopped: with a core dump (Result=core-dump, a core file in its directory)" \
		eval '[ "$(prop e2e-stopped.service Result)" = core-dump ] &&
		      [ -n "$(find "$M/var/tmp/e2e-cores" -name "core*" -type f | head -1)" ]'
else
	check "e2e-stopped: with a core dump (Result=core-dump)" \
		eval '[ "$(prop e2e-stopped.service Result)" = core-dump ]'
fi
check "e2e-stopped: no SIGKILL escalation" \
	eval '! journal_has "r.get(\"HBWATCH_EVENT\") == \"escalated\"" -u hbwatch.service'
check "journalctl HBWATCH_STATE=T finds the stopped one" \
	journal_has "r.get('HBWATCH_NAME') == 'e2e-stopped'" HBWATCH_STATE=T
check "journalctl -x explains the fields (catalog)" \
	gsh "journalctl -x --no-pager MESSAGE_ID=$MISSED HBWATCH_NAME=e2e-blocked | grep -q 'HBWATCH_WCHAN'"
check "hbwatch.service is still active" g systemctl is-active hbwatch.service

done_testing
