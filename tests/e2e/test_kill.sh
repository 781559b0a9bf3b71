#!/bin/bash
# Watched services under systemd: a worker that stops beating is killed by
# hbwatch and restarted by systemd, with the default SIGABRT and with
# SIGTERM (which needs RestartForceExitStatus=SIGTERM: without it the
# service stays down), or restarted through D-Bus (action=restart-unit);
# hbwatch's records show under journalctl -u VICTIM through OBJECT_PID;
# a process whose task stops beating is killed, the records naming the task.
. "$(dirname "$0")/harness.sh"

guest_setup
# Victims run as nobody under the shipped drop-in (hbwatch group,
# Restart=on-failure) and hang once, 0.8 s after they start (1 s timeout).
write_victim e2e-abrt.service e2e-abrt
write_victim e2e-term.service e2e-term "RestartForceExitStatus=SIGTERM"
write_victim e2e-term-norestart.service e2e-term-norestart
write_victim e2e-restart.service e2e-restart
# Its task "job" stops beating while the process beats on.
write_victim e2e-task.service e2e-task "" "-T job"
write_section 80-e2e.ini e2e-abrt e2e-abrt.service
write_section 80-e2e.ini e2e-term e2e-term.service "signal = SIGTERM"
write_section 80-e2e.ini e2e-term-norestart e2e-term-norestart.service "signal = SIGTERM"
write_section 80-e2e.ini e2e-restart e2e-restart.service "action = restart-unit"
write_section 80-e2e.ini e2e-task e2e-task.service
# restart-unit needs the system bus, which hbwatch.service hides unless
# the shipped drop-in gives it back.
mkdir -p "$M/etc/systemd/system/hbwatch.service.d"
cp "$M$DOCDIR/hbwatch-restart-unit.conf.example" "$M/etc/systemd/system/hbwatch.service.d/restart-unit.conf"
guest_start

victims="e2e-abrt e2e-term e2e-term-norestart e2e-restart e2e-task"
check "systemctl start hbwatch" g systemctl start hbwatch.service
for v in $victims; do arm_hang $v.service; done
check "start the victims" g systemctl start $(printf '%s.service ' $victims)
declare -A first
# Every pid first: the victims hang 0.8 s after they start, and on a slow
# machine one can be dealt with before its turn in a second loop.
for v in $victims; do first[$v]=$(main_pid $v.service); done
# registered: listed by hbctl now, or already acted on by hbwatch.
registered() {
	hb_entries "$1" | grep -q "^$2 " ||
		journal_has "r.get('HBWATCH_PID') == '$2' and r.get('HBWATCH_EVENT') in
			('deadline-missed', 'signal-sent', 'restart-unit')" -u hbwatch.service
}
for v in $victims; do
	check "$v (pid ${first[$v]}) registers" wait_for 5 registered $v "${first[$v]}"
done

# SIGABRT (the default) under Restart=on-failure.
check "e2e-abrt: killed and restarted by systemd (NRestarts >= 1)" \
	wait_for 10 eval '[ "$(prop e2e-abrt.service NRestarts)" -ge 1 ]'
second=$(main_pid e2e-abrt.service)
check "e2e-abrt: the new process ($second) registers and beats" \
	wait_for 5 eval '[ "$second" != "${first[e2e-abrt]}" ] && hb_has e2e-abrt "$second"'
check "e2e-abrt: the killed process's record is gone" \
	eval '! hb_entries e2e-abrt | grep -q "^${first[e2e-abrt]} "'
check "e2e-abrt: systemd saw it die of SIGABRT" \
	gsh "journalctl -u e2e-abrt.service --no-pager | grep -q 'status=6/ABRT'"
check "journalctl -u e2e-abrt shows hbwatch's deadline record (MESSAGE_ID a3e1e2b0..., OBJECT_PID)" \
	journal_has "r.get('MESSAGE_ID') == 'a3e1e2b08efe4f97be2db085ea452ff1' and
		r.get('HBWATCH_NAME') == 'e2e-abrt' and r.get('OBJECT_PID') == '${first[e2e-abrt]}' and
		int(r.get('HBWATCH_LATE_USEC', 0)) > 0 and r.get('HBWATCH_TIMEOUT_USEC') == '1000000'" \
	-u e2e-abrt.service
check "journalctl -u e2e-abrt shows hbwatch's kill record (MESSAGE_ID 1c1cbbc1..., SIGABRT)" \
	journal_has "r.get('MESSAGE_ID') == '1c1cbbc12a14442e9494fb5aa67076a7' and
		r.get('HBWATCH_NAME') == 'e2e-abrt' and r.get('OBJECT_PID') == '${first[e2e-abrt]}' and
		r.get('HBWATCH_SIGNAL') == 'SIGABRT' and r.get('SYSLOG_IDENTIFIER') == 'hbwatch'" \
	-u e2e-abrt.service
check "journalctl MESSAGE_ID=1c1cbbc1... HBWATCH_NAME=e2e-abrt finds it" \
	journal_has "r.get('OBJECT_PID') == '${first[e2e-abrt]}'" \
	MESSAGE_ID=1c1cbbc12a14442e9494fb5aa67076a7 HBWATCH_NAME=e2e-abrt
check "journalctl -x shows the catalog text of the kill" \
	gsh "journalctl -x -u e2e-abrt.service --no-pager |
	     grep -q 'Subject: hbwatch sent SIGABRT to e2e-abrt (pid ${first[e2e-abrt]})'"

# A task that stops beating gets its process killed and restarted; the
# records name the task (HBWATCH_TASK=, and the label in MESSAGE).
check "e2e-task: killed for its task and restarted (NRestarts >= 1)" \
	wait_for 10 eval '[ "$(prop e2e-task.service NRestarts)" -ge 1 ]'
check "journalctl -u e2e-task shows the deadline record naming the task (HBWATCH_TASK=job)" \
	journal_has "r.get('MESSAGE_ID') == 'a3e1e2b08efe4f97be2db085ea452ff1' and
		r.get('HBWATCH_NAME') == 'e2e-task' and r.get('HBWATCH_TASK') == 'job' and
		r.get('OBJECT_PID') == '${first[e2e-task]}' and 'its task job' in r.get('MESSAGE', '')" \
	-u e2e-task.service
check "journalctl -u e2e-task shows the kill record naming the task" \
	journal_has "r.get('MESSAGE_ID') == '1c1cbbc12a14442e9494fb5aa67076a7' and
		r.get('HBWATCH_TASK') == 'job' and r.get('OBJECT_PID') == '${first[e2e-task]}'" \
	-u e2e-task.service

# SIGTERM with RestartForceExitStatus=SIGTERM.
check "e2e-term (SIGTERM, RestartForceExitStatus=SIGTERM): restarted (NRestarts >= 1)" \
	wait_for 10 eval '[ "$(prop e2e-term.service NRestarts)" -ge 1 ]'
second=$(main_pid e2e-term.service)
check "e2e-term: the new process ($second) registers and beats" \
	wait_for 5 eval '[ "$second" != "${first[e2e-term]}" ] && hb_has e2e-term "$second"'
check "e2e-term: hbwatch sent SIGTERM (journalctl -u e2e-term)" \
	journal_has "r.get('HBWATCH_SIGNAL') == 'SIGTERM' and r.get('OBJECT_PID') == '${first[e2e-term]}'" \
	-u e2e-term.service

# SIGTERM without it: a clean exit for systemd, so no restart.
check "e2e-term-norestart (SIGTERM, Restart=on-failure only): killed" \
	wait_for 10 journal_has "r.get('HBWATCH_SIGNAL') == 'SIGTERM' and
		r.get('OBJECT_PID') == '${first[e2e-term-norestart]}'" -u e2e-term-norestart.service
check "e2e-term-norestart: inactive" wait_for 5 is_inactive e2e-term-norestart.service
sleep 1
check "e2e-term-norestart: not restarted (NRestarts=0, Result=success, still inactive)" \
	eval '[ "$(prop e2e-term-norestart.service NRestarts)" = 0 ] &&
	      [ "$(prop e2e-term-norestart.service Result)" = success ] &&
	      is_inactive e2e-term-norestart.service'

# action=restart-unit: systemd restarts the unit on hbwatch's request.
check "e2e-restart (action=restart-unit): restarted through D-Bus, new MainPID" \
	wait_for 10 eval 'p=$(main_pid e2e-restart.service) && [ "$p" != "${first[e2e-restart]}" ]'
second=$(main_pid e2e-restart.service)
check "e2e-restart: the new process ($second) registers and beats" \
	wait_for 5 hb_has e2e-restart "$second"
check "e2e-restart: hbwatch's restart-unit record (MESSAGE_ID c9fb7024..., HBWATCH_UNIT)" \
	journal_has "r.get('MESSAGE_ID') == 'c9fb70243fe44ac28334a5410930a592' and
		r.get('HBWATCH_UNIT') == 'e2e-restart.service'" -u e2e-restart.service

check "hbwatch.service is still active" g systemctl is-active hbwatch.service
check "no core files were left behind" \
	eval '[ -z "$(find "$SCRATCH/upper" -xdev -name "core*" -type f | head -1)" ]'

done_testing
