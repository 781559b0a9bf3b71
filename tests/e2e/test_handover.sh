#!/bin/bash
# Unit-wide actions under a real systemd and its bus: RestartUnit and
# KillUnit reach every process of a unit, whatever its uid, so hbwatch asks
# for one only when the registrant could signal each of them itself.  A
# unit whose root shell holds a root process, a uid-3001 process and a
# registrant running as nobody: when the registrant hangs, hbwatch refuses
# to restart the unit, says which processes stopped it, and signals the
# hung process alone.  (test_kill.sh's e2e-restart, a unit of nobody's
# processes only, is the control: it is restarted.)  The same unit shape
# under limit_action = kill-unit: its registrant hangs again and again
# (kill_burst = 1), and the KillUnit is refused in the same way.
. "$(dirname "$0")/harness.sh"

guest_setup
# mixed_unit NAME DESCRIPTION BODY: e2e-NAME.service, whose root script
# /etc/e2e-NAME.sh starts a root process (its pid in /run/e2e/NAME.root),
# then runs BODY (shell; $gid is hbwatch's group there) and waits.
mixed_unit() {
	cat >"$M/etc/e2e-$1.sh" <<EOF
#!/bin/sh
mkdir -p /run/e2e
gid=\$(getent group hbwatch | cut -d: -f3)
sleep infinity &
echo \$! >/run/e2e/$1.root
$3
wait
EOF
	chmod 0755 "$M/etc/e2e-$1.sh"
	cat >"$M/etc/systemd/system/e2e-$1.service" <<EOF
[Unit]
Description=e2e: $2
Wants=hbwatch.service
After=hbwatch.service

[Service]
ExecStart=/etc/e2e-$1.sh
LimitCORE=0
EOF
}
nobody="setpriv --reuid=65534 --regid=65534 --groups=\"\$gid\""
mixed_unit shared "one unit, three uids" "\
setpriv --reuid=3001 --regid=3001 --clear-groups sleep infinity &
echo \$! >/run/e2e/shared.other
$nobody $DEMO -n e2e-shared -t 1000 -H 800 &
echo \$! >/run/e2e/shared.demo"
mixed_unit limit "a root process beside a registrant that hangs again and again" \
	"(while :; do $nobody $DEMO -n e2e-limit -t 1000 -H 800; done) &"
write_section 80-e2e.ini e2e-limit e2e-limit.service "kill_burst = 1" "kill_interval = 1h" \
	"limit_action = kill-unit"
write_section 80-e2e.ini e2e-shared e2e-shared.service "action = restart-unit"
mkdir -p "$M/etc/systemd/system/hbwatch.service.d"
cp "$M$DOCDIR/hbwatch-restart-unit.conf.example" "$M/etc/systemd/system/hbwatch.service.d/restart-unit.conf"
guest_start

check "systemctl start hbwatch" g systemctl start hbwatch.service
check "start e2e-shared" g systemctl start e2e-shared.service
check "its three processes are there" wait_for 10 eval 'g test -s /run/e2e/shared.demo'
root=$(g cat /run/e2e/shared.root)
other=$(g cat /run/e2e/shared.other)
demo=$(g cat /run/e2e/shared.demo)
shell=$(main_pid e2e-shared.service)
diag "shell $shell, root's sleep $root, uid 3001's sleep $other, registrant $demo"

check "hbwatch refuses to restart e2e-shared.service and names root's process" \
	wait_for 15 journal_has "r.get('HBWATCH_EVENT') == 'untrusted' and
		r.get('HBWATCH_UNIT') == 'e2e-shared.service' and
		'not asking systemd to restart e2e-shared.service' in r.get('MESSAGE', '') and
		'pid $root (uid 0)' in r.get('MESSAGE', '') and
		'pid $other (uid 3001)' in r.get('MESSAGE', '')" -u hbwatch.service
check "... and signals the hung process alone (SIGABRT to pid $demo)" \
	wait_for 5 journal_has "r.get('MESSAGE_ID') == '1c1cbbc12a14442e9494fb5aa67076a7' and
		r.get('HBWATCH_PID') == '$demo' and r.get('HBWATCH_SIGNAL') == 'SIGABRT'" \
	-u hbwatch.service
check "the registrant ($demo) is gone" wait_for 5 eval '! g kill -0 '"$demo"' 2>/dev/null'
sleep 2
restarted() {
	journal_has "r.get('MESSAGE_ID') == 'c9fb70243fe44ac28334a5410930a592' and
		r.get('HBWATCH_UNIT') == 'e2e-shared.service'" -u hbwatch.service
}
check "no restart-unit record for e2e-shared" eval '! restarted'
check "root's process ($root) and uid 3001's ($other) still live" \
	g kill -0 "$root" "$other"
check "e2e-shared.service is still active, same main process, not restarted" \
	eval '[ "$(g systemctl is-active e2e-shared.service)" = active ] &&
	      [ "$(main_pid e2e-shared.service)" = "$shell" ] &&
	      [ "$(prop e2e-shared.service NRestarts)" = 0 ]'
g systemctl stop e2e-shared.service

check "start e2e-limit" g systemctl start e2e-limit.service
check "its root process is there" wait_for 10 eval 'g test -s /run/e2e/limit.root'
lroot=$(g cat /run/e2e/limit.root)
check "limit_action = kill-unit: hbwatch refuses KillUnit of e2e-limit.service, naming root's process" \
	wait_for 20 journal_has "r.get('HBWATCH_EVENT') == 'untrusted' and
		r.get('HBWATCH_UNIT') == 'e2e-limit.service' and
		'not asking systemd to kill every process of e2e-limit.service' in r.get('MESSAGE', '') and
		'pid $lroot (uid 0)' in r.get('MESSAGE', '')" -u hbwatch.service
handed() {
	journal_has "r.get('MESSAGE_ID') == '3f7e56018a3247b091fdcc5e6aa5bdd3' and
		r.get('HBWATCH_UNIT') == 'e2e-limit.service'" -u hbwatch.service
}
sleep 1
check "no handed-over record for e2e-limit" eval '! handed'
check "root's process ($lroot) in e2e-limit still lives, the unit is active" \
	eval 'g kill -0 '"$lroot"' && [ "$(g systemctl is-active e2e-limit.service)" = active ]'
g systemctl stop e2e-limit.service

check "hbwatch.service is still active" g systemctl is-active hbwatch.service
done_testing
