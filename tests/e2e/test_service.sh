#!/bin/bash
# hbwatch.service under a real systemd: it starts, every shipped unit
# verifies, the hardening score beats systemd-oomd's, the catalog reaches
# journalctl -x, the demo template shows the whole loop, and the real-time
# drop-in puts hbwatch at SCHED_RR and it still kills.
. "$(dirname "$0")/harness.sh"

guest_setup
# Debian's systemd-oomd.service (systemd 252), the reference score, unless
# the machine has it installed.
[ -e "$M/lib/systemd/system/systemd-oomd.service" ] ||
	cp "$(dirname "$0")/systemd-oomd.service" "$M/etc/systemd/system/systemd-oomd.service"
cp "$M$EXAMPLES/70-demo.ini.example" "$M$CONFD/70-demo.ini"
# A unit carrying the shipped drop-in, so systemd-analyze verify checks it.
printf '[Service]\nExecStart=/bin/true\n' >"$M/etc/systemd/system/e2e-dropin.service"
mkdir -p "$M/etc/systemd/system/e2e-dropin.service.d"
cp "$M$DOCDIR/hbwatch-watched.conf.example" "$M/etc/systemd/system/e2e-dropin.service.d/hbwatch.conf"
guest_start

check "systemctl start hbwatch" g systemctl start hbwatch.service
check "hbwatch.service is active" wait_for 5 g systemctl is-active hbwatch.service
check "the registry belongs to group hbwatch, mode 0664" \
	gsh "ipcs -m -c | grep -E '^[0-9]+ +664 +root +root +root +hbwatch'"
check "hbwatch has CAP_KILL and no other capability" \
	gsh "grep -q '^CapEff:.*0000000000000020' /proc/\$(systemctl show -P MainPID hbwatch)/status"
check "hbwatch cannot reach the system bus" \
	gsh "nsenter -t \$(systemctl show -P MainPID hbwatch) -m test ! -e /run/dbus/system_bus_socket"
check "the start record is in the journal (MESSAGE_ID 1545d77a...)" \
	journal_has 'r.get("HBWATCH_EVENT") == "started"' MESSAGE_ID=1545d77a0a9f4afb9394ed3d34791d05
check "journalctl -x shows the catalog text for it" \
	gsh "journalctl -x -u hbwatch --no-pager | grep -q 'Subject: hbwatch started'"

for u in hbwatch.service hbwatch-demo@0.service e2e-dropin.service; do
	check "systemd-analyze verify $u" \
		gsh "out=\$(systemd-analyze verify $u 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
done

score() {
	g systemd-analyze security --no-pager "$1" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}
ours=$(score hbwatch.service)
oomd=$(score systemd-oomd.service)
diag "systemd-analyze security: hbwatch.service $ours, systemd-oomd.service $oomd"
g systemd-analyze security --no-pager hbwatch.service | grep -E '^✗' | sed 's/^/# /'
check "hbwatch.service scores below systemd-oomd.service ($ours < $oomd)" \
	python3 -c "import sys; sys.exit(not (0 < float('$ours') < float('$oomd')))"

# The demo: @0 beats forever, @1500 stops after 1.5 s and is killed (2 s
# timeout) and restarted.
check "systemctl start hbwatch-demo@0 hbwatch-demo@1500" \
	g systemctl start hbwatch-demo@0.service hbwatch-demo@1500.service
healthy=$(main_pid hbwatch-demo@0.service)
first=$(main_pid hbwatch-demo@1500.service)
check "both demo workers registered" \
	wait_for 5 eval 'hb_has hbwatch-demo "$healthy" && hb_has hbwatch-demo "$first"'
check "the hung demo worker is killed and restarted (NRestarts >= 1)" \
	wait_for 15 eval '[ "$(prop hbwatch-demo@1500.service NRestarts)" -ge 1 ]'
second=$(main_pid hbwatch-demo@1500.service)
check "its new process ($second, was $first) registers and beats" \
	wait_for 5 eval '[ "$second" != "$first" ] && hb_has hbwatch-demo "$second"'
check "the healthy demo worker was never signalled" \
	eval '[ "$(main_pid hbwatch-demo@0.service)" = "$healthy" ] && hb_has hbwatch-demo "$healthy"'
check "hbwatch's kill record shows under journalctl -u hbwatch-demo@1500" \
	journal_has "r.get('HBWATCH_EVENT') == 'signal-sent' and r.get('OBJECT_PID') == '$first'" \
	-u hbwatch-demo@1500.service
g systemctl stop 'hbwatch-demo@*.service'

# The shipped real-time drop-in, installed where an administrator puts it.
# systemd sets the policy before RestrictRealtime='s filter is in place; a
# cpu cgroup of the unit's own with no real-time runtime (cgroup v1 under
# RT group scheduling) would refuse it ("Failed at step SETSCHEDULER").
sched() { gsh "chrt -p \$(systemctl show -P MainPID hbwatch.service)"; }
mkdir -p "$M/etc/systemd/system/hbwatch.service.d"
cp "$M$DOCDIR/hbwatch-realtime.conf.example" "$M/etc/systemd/system/hbwatch.service.d/realtime.conf"
g systemctl daemon-reload
check "with hbwatch-realtime.conf: systemctl restart hbwatch" g systemctl restart hbwatch.service
check "hbwatch.service is active" wait_for 5 g systemctl is-active hbwatch.service
diag "$(sched 2>&1)"
diag "its cpu cgroup: $(gsh 'grep ":cpu:" /proc/$(systemctl show -P MainPID hbwatch.service)/cgroup')"
check "hbwatch runs at SCHED_RR (reset on fork), priority 1" \
	eval 'out=$(sched) && echo "$out" &&
		echo "$out" | grep -q "policy: SCHED_RR|SCHED_RESET_ON_FORK$" &&
		echo "$out" | grep -q "priority: 1$"'
check "systemctl start hbwatch-demo@1500" g systemctl start hbwatch-demo@1500.service
rt_hung=$(main_pid hbwatch-demo@1500.service)
check "at SCHED_RR, hbwatch still kills the hung demo worker ($rt_hung)" \
	wait_for 15 journal_has "r.get('HBWATCH_EVENT') == 'signal-sent' and r.get('OBJECT_PID') == '$rt_hung'" \
	-u hbwatch-demo@1500.service
g systemctl stop hbwatch-demo@1500.service
rm "$M/etc/systemd/system/hbwatch.service.d/realtime.conf"
g systemctl daemon-reload
check "without the drop-in: hbwatch restarts at SCHED_OTHER" \
	eval 'g systemctl restart hbwatch.service && g systemctl is-active hbwatch.service &&
		sched | grep -q "policy: SCHED_OTHER$"'

done_testing
