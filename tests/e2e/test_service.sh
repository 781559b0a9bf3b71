#!/bin/bash
# hbwatch.service under a real systemd: it starts, every shipped unit
# verifies, the hardening score beats systemd-oomd's, the catalog reaches
# journalctl -x, the demo template shows the whole loop, and deadlines are
# lifted to SCHED_RR (or, where the kernel refuses, hbwatch says so and
# still kills).
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

# Deadlines first, as the unit runs it: no CAP_SYS_NICE, LimitRTPRIO=1,
# no RestrictRealtime=, sched_setscheduler() let through the filter.  The
# loop's thread is at SCHED_OTHER between deadlines; hbwatch-lift sleeps
# at SCHED_RR 1 and lifts it at each one.
hb_pid() { prop hbwatch.service MainPID; }
lifter() {
	gsh 'for t in /proc/$(systemctl show -P MainPID hbwatch.service)/task/*; do
		[ "$(cat $t/comm)" = hbwatch-lift ] && echo ${t##*/}; done; true'
}
# The real-time runtime of hbwatch's cpu cgroup (cgroup v1 with real-time
# group scheduling), or "none".
rt_runtime() {
	gsh 'c=$(awk -F: "\$2 ~ /(^|,)cpu(,|\$)/ {print \$3}" /proc/$(systemctl show -P MainPID hbwatch.service)/cgroup)
		for d in /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/cpu; do
			[ -n "$c" ] && [ -r "$d$c/cpu.rt_runtime_us" ] && { cat "$d$c/cpu.rt_runtime_us"; exit; }
		done; echo none'
}
started_says() { # TEXT: the journal of hbwatch's current process says it
	journal_has "r.get('_PID') == '$(hb_pid)' and '$1' in r.get('MESSAGE', '')" -u hbwatch.service
}
hung_demo_killed() { # DESCRIPTION
	g systemctl start hbwatch-demo@1500.service
	local hung
	hung=$(main_pid hbwatch-demo@1500.service)
	check "$1 ($hung)" \
		wait_for 15 journal_has "r.get('HBWATCH_EVENT') == 'signal-sent' and r.get('OBJECT_PID') == '$hung'" \
		-u hbwatch-demo@1500.service
	g systemctl stop hbwatch-demo@1500.service
}

# hbwatch's soft RLIMIT_RTPRIO: systemd sets LimitRTPRIO=1 as closely as
# it can, and without CAP_SYS_RESOURCE (some containers) it cannot raise a
# hard limit of 0.
rtprio() {
	gsh 'awk "/^Max realtime priority/ {print \$4}" /proc/$(systemctl show -P MainPID hbwatch.service)/limits'
}
# Why SCHED_RR must be refused to hbwatch here, or nothing.
refusal() {
	[ "$(rt_runtime)" = 0 ] && echo "its cpu cgroup has no real-time runtime"
	[ "$(rtprio)" = 0 ] && echo "its RLIMIT_RTPRIO is 0 (LimitRTPRIO=1 could not be applied: no CAP_SYS_RESOURCE)"
	true
}
why=$(refusal | paste -sd ";" | sed "s/;/; /g")
diag "hbwatch's cpu cgroup: $(gsh 'grep ":cpu" /proc/$(systemctl show -P MainPID hbwatch.service)/cgroup'); cpu.rt_runtime_us: $(rt_runtime); RLIMIT_RTPRIO: $(rtprio)"
if [ -n "$why" ]; then
	check "SCHED_RR refused ($why): the journal says so" \
		started_says "cannot use SCHED_RR priority 1 for deadlines: Operation not permitted"
	skip "hbwatch-lift runs at SCHED_RR 1" "$why"
else
	check "the journal says deadlines are lifted to SCHED_RR 1" started_says "deadlines first"
	check "hbwatch-lift runs at SCHED_RR (reset on fork), priority 1" \
		eval 't=$(lifter) && [ -n "$t" ] && out=$(g chrt -p "$t") && echo "$out" &&
			echo "$out" | grep -q "policy: SCHED_RR|SCHED_RESET_ON_FORK$" &&
			echo "$out" | grep -q "priority: 1$"'
	check "between deadlines the loop runs at SCHED_OTHER" \
		wait_for 5 eval 'g chrt -p "$(hb_pid)" | grep -q "policy: SCHED_OTHER|SCHED_RESET_ON_FORK$"'
fi

# deadline_priority = 0 in a drop-in: no lifting thread, still kills.
printf '[hbwatch]\ndeadline_priority = 0\n' >"$M$CONFD/90-e2e-nolift.ini"
check "with deadline_priority = 0: systemctl restart hbwatch" g systemctl restart hbwatch.service
check "the journal says deadlines are not lifted" started_says "deadline_priority = 0"
check "no hbwatch-lift thread" eval '[ -z "$(lifter)" ]'
hung_demo_killed "with deadline_priority = 0, hbwatch still kills the hung demo worker"
rm "$M$CONFD/90-e2e-nolift.ini"

# Where the kernel refuses SCHED_RR: on cgroup v1 under real-time group
# scheduling, once a unit of system.slice uses the cpu controller, systemd
# gives hbwatch a cpu cgroup of its own with no real-time runtime.  hbwatch
# says so, starts anyway, and kills.
g systemd-run --quiet --unit=e2e-cpuweight.service -p CPUWeight=50 sleep infinity
check "systemctl restart hbwatch beside a unit with CPUWeight=" g systemctl restart hbwatch.service
check "hbwatch.service is active" wait_for 5 g systemctl is-active hbwatch.service
why=$(refusal | paste -sd ";" | sed "s/;/; /g")
diag "hbwatch's cpu cgroup now: $(gsh 'grep ":cpu" /proc/$(systemctl show -P MainPID hbwatch.service)/cgroup'); cpu.rt_runtime_us: $(rt_runtime)"
if [ -n "$why" ]; then
	check "the journal says why SCHED_RR is refused" \
		started_says "cannot use SCHED_RR priority 1 for deadlines: Operation not permitted"
	check "no hbwatch-lift thread" eval '[ -z "$(lifter)" ]'
	hung_demo_killed "SCHED_RR refused ($why): hbwatch still kills the hung demo worker"
else
	skip "refused SCHED_RR is said and deadlines still kill" \
		"hbwatch's cpu cgroup has real-time runtime: no refusal to see on this host"
fi
g systemctl stop e2e-cpuweight.service
check "back to the defaults: hbwatch restarts" \
	eval 'g systemctl restart hbwatch.service && g systemctl is-active hbwatch.service'

done_testing
