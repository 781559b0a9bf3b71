#!/bin/bash
# hbwatch's own life under systemd: a reload with a broken configuration
# keeps the old one, stop leaves every registration in place and a later
# start finds them all
# registration, and after SIGKILL systemd restarts it and it keeps watching.
. "$(dirname "$0")/harness.sh"

guest_setup
write_victim e2e-steady@.service e2e-steady
write_victim e2e-hang.service e2e-hang
write_section 80-e2e.ini e2e-steady 'e2e-steady@*.service'
write_section 80-e2e.ini e2e-hang e2e-hang.service
guest_start

# The pids registered as NAME and beating, sorted, on one line.
beating() { hb_entries "$1" | awk '$2 == "ok" { print $1 }' | sort -n | xargs; }
# hang_is_killed: make e2e-hang hang once from a fresh start and see
# hbwatch kill it and systemd restart it.
hang_is_killed() {
	local before
	arm_hang e2e-hang.service
	# Each round is two starts: keep StartLimitBurst= out of the way.
	g systemctl reset-failed e2e-hang.service
	g systemctl restart e2e-hang.service || return 1
	before=$(main_pid e2e-hang.service)
	wait_for 10 eval '[ "$(prop e2e-hang.service NRestarts)" -ge 1 ] &&
		p=$(main_pid e2e-hang.service) && [ "$p" != "$before" ] && hb_has e2e-hang "$p"'
}

check "systemctl start hbwatch" g systemctl start hbwatch.service
check "start two steady workers and e2e-hang" \
	g systemctl start e2e-steady@1.service e2e-steady@2.service e2e-hang.service
steady="$(main_pid e2e-steady@1.service) $(main_pid e2e-steady@2.service)"
steady=$(echo $steady | tr ' ' '\n' | sort -n | xargs)
check "both steady workers ($steady) beat" wait_for 5 eval '[ "$(beating e2e-steady)" = "$steady" ]'
hbpid=$(main_pid hbwatch.service)

# A broken drop-in that would also turn the kills of e2e-hang into logs.
printf '[e2e-hang]\naction = log\ntimeout = banana\n' >"$M$CONFD/90-broken.ini"
check "systemctl reload hbwatch with a broken drop-in fails" eval '! g systemctl reload hbwatch.service'
check "hbwatch is still active, same MainPID" \
	eval '[ "$(g systemctl is-active hbwatch.service)" = active ] && [ "$(main_pid hbwatch.service)" = "$hbpid" ]'
check "the reload error names file and line (90-broken.ini:3)" \
	gsh "journalctl -u hbwatch.service --no-pager | grep -q '90-broken.ini:3'"
check "SIGHUP sent directly: the daemon keeps the configuration in force" \
	eval 'g systemctl kill -s HUP --kill-who=main hbwatch.service &&
	      wait_for 5 gsh "journalctl -u hbwatch.service --no-pager | grep -q \"reload failed, keeping\"" &&
	      [ "$(g systemctl is-active hbwatch.service)" = active ]'
check "the old configuration is in force: a hang is still killed and restarted" hang_is_killed
rm -f "$M$CONFD/90-broken.ini"
# A unit= typo is valid syntax, but hbwatch --check-config asks systemd.
printf '[e2e-typo]\nunit = e2e-tpyo.service\n' >"$M$CONFD/95-typo.ini"
check "--check-config warns about a unit= that matches no unit (95-typo.ini:1, the section)" \
	gsh "$HBWATCH --check-config 2>&1 | grep -q '95-typo.ini:1: \[e2e-typo\] unit = e2e-tpyo.service matches no unit known to systemd'"
check "--check-config does not warn about the units that exist" \
	eval '! gsh "$HBWATCH --check-config 2>&1" | grep "matches no unit" | grep -v e2e-tpyo'
rm -f "$M$CONFD/95-typo.ini"
check "a valid reload succeeds (reloaded record, MESSAGE_ID 1621d1e0...)" \
	eval 'g systemctl reload hbwatch.service &&
	      wait_for 5 journal_has "r.get(\"HBWATCH_EVENT\") == \"reloaded\"" MESSAGE_ID=1621d1e0e3e2421094bec8dbcc3f5d8b'

# Stop: the registry stays, the workers keep beating into their records.
check "systemctl stop hbwatch" g systemctl stop hbwatch.service
check "hbwatch is inactive" is_inactive hbwatch.service
check "the registry is still there (ipcs -m: key 0x00005098)" gsh "ipcs -m | grep -q '^0x00005098 '"
check "hbctl status still lists the steady workers" \
	eval '[ "$(hb_entries e2e-steady | cut -d" " -f1 | sort -n | xargs)" = "$steady" ]'
check "systemctl start hbwatch again" g systemctl start hbwatch.service
check "hbwatch adopted the registry" \
	gsh "journalctl -u hbwatch.service --no-pager -n 20 | grep -q 'adopted the registry at key 0x5098'"
newpid=$(main_pid hbwatch.service)
check "the registry records the new daemon (owner_pid $newpid)" \
	eval 'g "$HBCTL" status --json | python3 -c "import json,sys; sys.exit(json.load(sys.stdin)[\"owner_pid\"] != $newpid)"'
check "every registration is intact ($steady beating)" \
	wait_for 5 eval '[ "$(beating e2e-steady)" = "$steady" ]'
check "after the restart a hang is killed" hang_is_killed

# SIGKILL: systemd restarts it (Restart=on-failure), and it keeps watching.
hbpid=$(main_pid hbwatch.service)
# --kill-who=main: the daemon is one process; signalling "all" also walks
# the cgroup for auxiliary processes, and that walk can race the dying main
# process (seen: "Failed to send signal SIGKILL to auxiliary processes:
# Input/output error") although the SIGKILL itself was delivered.
check "systemctl kill -s KILL hbwatch" g systemctl kill -s KILL --kill-who=main hbwatch.service
check "systemd restarts hbwatch (NRestarts >= 1, new MainPID, active)" \
	wait_for 15 eval '[ "$(prop hbwatch.service NRestarts)" -ge 1 ] &&
		p=$(main_pid hbwatch.service) && [ "$p" != "$hbpid" ] &&
		[ "$(g systemctl is-active hbwatch.service)" = active ]'
check "every registration survived ($steady beating)" \
	wait_for 5 eval '[ "$(beating e2e-steady)" = "$steady" ]'
check "after SIGKILL and restart a hang is killed" hang_is_killed
check "the steady workers were never signalled" \
	eval '[ "$(prop e2e-steady@1.service NRestarts)$(prop e2e-steady@2.service NRestarts)" = 00 ]'

done_testing
