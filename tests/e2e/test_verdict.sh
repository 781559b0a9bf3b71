#!/bin/bash
# Late is not hung, under a real systemd: a healthy service held to
# CPUQuota=5% beats late but lives, with deadline-deferred records that
# carry the figures; the same service hung in a busy loop still dies within
# its timeout plus starve_grace; a service frozen through the cgroup v1
# freezer for more than three timeouts lives, is watched again after the
# thaw, and is killed when it then hangs.
. "$(dirname "$0")/harness.sh"

MISSED=a3e1e2b08efe4f97be2db085ea452ff1
SENT=1c1cbbc12a14442e9494fb5aa67076a7
DEFERRED=f43f94c012a04dfc9117ebabc6df151c
FROZEN=85d6b8689f474e50aab39f7a9684d0db

guest_setup
# victim UNIT DEMO-ARGS [EXTRA SERVICE LINES]: the demo worker with a
# 300 ms timeout, not restarted (one process each).
victim() {
	local unit=$1 args=$2 extra=${3:-} section=${4:-}
	cat >"$M/etc/systemd/system/$unit.service" <<EOT
[Unit]
Description=e2e verdict victim $unit

[Service]
User=nobody
ExecStart=$DEMO -n $unit -t 300 $args
LimitCORE=0
$extra
EOT
	mkdir -p "$M/etc/systemd/system/$unit.service.d"
	cp "$M$DOCDIR/hbwatch-watched.conf.example" \
		"$M/etc/systemd/system/$unit.service.d/hbwatch.conf"
	printf '[Service]\nRestart=no\n' >"$M/etc/systemd/system/$unit.service.d/50-once.conf"
	write_section 80-e2e.ini "$unit" "$unit.service" $section
}
# 20 ms of CPU after each beat, every 75 ms: some 400 ms at 5 %, and up to
# 600 ms as the quota's periods fall.  The default starve_grace (one
# timeout) allows 600 ms in all, no margin: the healthy one gets 1 s.
victim e2e-starved "-w 20" "CPUQuota=5%" "starve_grace=1s"
victim e2e-starved-hung "-w 20 -H 1500 -m spin" "CPUQuota=5%"
# Beats until 4 s after it starts (frozen from about 0.5 s to 1.5 s), then
# hangs asleep.
victim e2e-frozen "-H 4000"
guest_start

check "systemctl start hbwatch" g systemctl start hbwatch.service
check "start the victims" g systemctl start e2e-starved.service e2e-starved-hung.service \
	e2e-frozen.service
declare -A pid
for v in e2e-starved e2e-starved-hung e2e-frozen; do pid[$v]=$(main_pid $v.service); done

# The freeze, through the v1 freezer (systemd 252 on a hybrid tree has no
# "systemctl freeze" for it).
FREEZER=/sys/fs/cgroup/freezer/e2e-verdict
if gsh "[ -d /sys/fs/cgroup/freezer ] && mkdir $FREEZER &&
	echo ${pid[e2e-frozen]} >$FREEZER/cgroup.procs && echo FROZEN >$FREEZER/freezer.state"; then
	froze=yes
	check "e2e-frozen: left alone and said so (frozen record)" \
		wait_for 5 journal_has "r.get('HBWATCH_NAME') == 'e2e-frozen' and
			r.get('OBJECT_PID') == '${pid[e2e-frozen]}'" MESSAGE_ID=$FROZEN
	sleep 1
	check "e2e-frozen: alive after more than three timeouts frozen" \
		eval '[ "$(main_pid e2e-frozen.service)" = "${pid[e2e-frozen]}" ]'
	check "e2e-frozen: no deadline missed while frozen" \
		eval '! journal_has "r.get(\"HBWATCH_NAME\") == \"e2e-frozen\"" MESSAGE_ID=$MISSED'
	check "thaw" gsh "echo THAWED >$FREEZER/freezer.state"
else
	froze=
	echo "ok $((T_N += 1)) - e2e-frozen: frozen through the v1 freezer # SKIP the guest has no v1 freezer hierarchy"
fi

# The healthy starved one, ten timeouts on.
sleep 2
check "e2e-starved: still the same process after ten timeouts" \
	eval '[ "$(g systemctl is-active e2e-starved.service)" = active ] &&
		[ "$(main_pid e2e-starved.service)" = "${pid[e2e-starved]}" ]'
check "e2e-starved: deadline-deferred records with the figures" \
	journal_has "r.get('HBWATCH_NAME') == 'e2e-starved' and
		r.get('OBJECT_PID') == '${pid[e2e-starved]}' and
		'HBWATCH_WINDOW_USEC' in r and 'HBWATCH_THROTTLED_USEC' in r and
		(int(r.get('HBWATCH_RUNQ_WAIT_USEC', 0)) > 0 or int(r['HBWATCH_THROTTLED_USEC']) > 0) and
		'is starved: ' in r['MESSAGE']" MESSAGE_ID=$DEFERRED
diag "$(g journalctl --no-pager -o cat MESSAGE_ID=$DEFERRED HBWATCH_NAME=e2e-starved | head -2)"
diag "$(g journalctl --no-pager -o json MESSAGE_ID=$DEFERRED HBWATCH_NAME=e2e-starved | head -1 | python3 -c "import json,sys; r=json.load(sys.stdin); print({k: v for k, v in r.items() if k.startswith(\"HBWATCH_\") or k == \"OBJECT_PID\"})")"
check "e2e-starved: never signalled" \
	eval '! journal_has "r.get(\"HBWATCH_NAME\") == \"e2e-starved\"" MESSAGE_ID=$SENT'

# The starved and hung one: deferred once, then killed, within its
# timeout plus starve_grace (300 ms each) and a scan's latency.
check "e2e-starved-hung: killed" wait_for 10 eval \
	'journal_has "r.get(\"HBWATCH_NAME\") == \"e2e-starved-hung\"" MESSAGE_ID=$SENT'
check "e2e-starved-hung: deferred first" \
	journal_has "r.get('HBWATCH_NAME') == 'e2e-starved-hung'" MESSAGE_ID=$DEFERRED
check "e2e-starved-hung: acted on starve_grace after its deadline, not later" \
	journal_has "r.get('HBWATCH_NAME') == 'e2e-starved-hung' and
		300000 <= int(r['HBWATCH_LATE_USEC']) <= 800000" MESSAGE_ID=$MISSED
diag "$(g journalctl --no-pager -o cat MESSAGE_ID=$MISSED HBWATCH_NAME=e2e-starved-hung | head -1)"

if [ -n "$froze" ]; then
	check "e2e-frozen: watched again after the thaw, killed once it hangs" \
		wait_for 10 journal_has "r.get('HBWATCH_NAME') == 'e2e-frozen' and
			r.get('OBJECT_PID') == '${pid[e2e-frozen]}'" MESSAGE_ID=$SENT
	check "e2e-frozen: said frozen once" \
		eval '[ "$(g journalctl --no-pager -o cat MESSAGE_ID=$FROZEN HBWATCH_NAME=e2e-frozen |
			grep -c "is frozen")" = 1 ]'
fi
done_testing
