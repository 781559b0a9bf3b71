#!/bin/bash
# What an administrator relies on, under the real systemd:
#  - the configuration is layered: the package's hbwatch.ini stays as
#    installed, drop-ins in the admin's directory add to it, a symlink to
#    /dev/null masks one, and a second 'meson install' overwrites none;
#  - limit_action = kill-unit: a unit that keeps hanging past kill_burst is
#    handed to systemd, whose StartLimitBurst= and OnFailure= then act, and
#    'systemctl --failed' shows it;
#  - kill_group = yes under KillMode=process: a shell job's hung child dies
#    with the shell, where without it the child outlives it.
. "$(dirname "$0")/harness.sh"

guest_setup
ADMIN=${CONFD%/hbwatch.d}

# ---- Layering, before boot --------------------------------------------
vendor_sum=$(sha256sum <"$M$CONF")
printf '[hbwatch]\nslots = 512\n' >"$M$CONFD/10-admin.ini"
printf '[e2e-masked]\ntimeout = banana\n' >"$M$CONFD/20-masked.ini.orig"
ln -s /dev/null "$M$CONFD/20-masked.ini"
printf 'edited by the admin\n' >"$M$ADMIN/notes.txt"
admin_sum=$(cd "$M$ADMIN" && find . -type f -o -type l | sort | xargs sha256sum 2>/dev/null)
meson install -C "$HBWATCH_BUILD_ROOT" --no-rebuild --quiet --destdir "$M" >/dev/null 2>&1
check "a second meson install changes nothing in $ADMIN" \
	eval '[ "$(cd "$M$ADMIN" && find . -type f -o -type l | sort | xargs sha256sum 2>/dev/null)" = "$admin_sum" ]'
check "the package's hbwatch.ini ($CONF) is as shipped" eval '[ "$(sha256sum <"$M$CONF")" = "$vendor_sum" ]'
check "meson install put no hbwatch.ini in $ADMIN" eval '[ ! -e "$M$ADMIN/hbwatch.ini" ]'
rm -f "$M$CONFD/20-masked.ini.orig" "$M$ADMIN/notes.txt"

# ---- Units ------------------------------------------------------------
mkdir -p "$M/etc/systemd/system"
# e2e-flap hangs at every start; a sleep in the unit shows KillUnit's reach.
cat >"$M/etc/systemd/system/e2e-flap.service" <<UNIT
[Unit]
Description=e2e: hangs at every start
StartLimitIntervalSec=300
StartLimitBurst=2
OnFailure=e2e-onfailure.service

[Service]
User=nobody
ExecStart=/bin/sh -c 'sleep 1000 & exec $DEMO -n e2e-flap -t 1000 -H 500'
LimitCORE=0
RestartSec=200ms
UNIT
cat >"$M/etc/systemd/system/e2e-onfailure.service" <<UNIT
[Service]
Type=oneshot
ExecStart=/bin/touch /run/e2e-onfailure
UNIT
# Shell jobs as cron runs them (KillMode=process): the shell registers
# itself, then waits for a child that never ends.
for job in e2e-job-group e2e-job-solo; do
	cat >"$M/etc/systemd/system/$job.service" <<UNIT
[Service]
User=nobody
KillMode=process
ExecStart=/bin/sh -c '$HBCTL register --name $job --timeout 1s || exit 7; sleep 1000 & echo \$! >/run/e2e/$job.child; wait'
UNIT
done
for u in e2e-flap e2e-job-group e2e-job-solo; do
	mkdir -p "$M/etc/systemd/system/$u.service.d"
	cp "$M$DOCDIR/hbwatch-watched.conf.example" "$M/etc/systemd/system/$u.service.d/hbwatch.conf"
done
# KillMode=process jobs must not come back: no restart for them.
for job in e2e-job-group e2e-job-solo; do
	printf '[Service]\nRestart=no\n' >"$M/etc/systemd/system/$job.service.d/norestart.conf"
done
write_section 80-e2e.ini e2e-flap e2e-flap.service "kill_burst = 1" "kill_interval = 10min" \
	"limit_action = kill-unit"
write_section 80-e2e.ini e2e-job-group e2e-job-group.service "kill_group = yes" "signal = SIGTERM"
write_section 80-e2e.ini e2e-job-solo e2e-job-solo.service "signal = SIGTERM"
mkdir -p "$M/etc/systemd/system/hbwatch.service.d"
cp "$M$DOCDIR/hbwatch-restart-unit.conf.example" "$M/etc/systemd/system/hbwatch.service.d/bus.conf"
guest_start

check "systemctl start hbwatch" g systemctl start hbwatch.service
check "--check-config lists the package's file first, then the admin's drop-ins, the mask marked" \
	gsh "$HBWATCH --check-config | head -4 | tr '\n' '|' | grep -qx 'read $CONF|  then $CONFD/10-admin.ini|  then $CONFD/20-masked.ini (masked: a symlink to /dev/null)|  then $CONFD/80-e2e.ini|'"
check "the admin's drop-in is in force (slots = 512 in hbwatch's start record)" \
	gsh "journalctl -u hbwatch.service --no-pager -o cat | grep -q 'watching up to 512 processes'"

# ---- limit_action = kill-unit ------------------------------------------
gsh 'mkdir -p /run/e2e && chmod 0777 /run/e2e'
check "start e2e-flap" g systemctl start e2e-flap.service
first=$(main_pid e2e-flap.service)
check "e2e-flap ($first): hbwatch kills the first hang itself" \
	wait_for 15 journal_has "r.get('MESSAGE_ID') == '1c1cbbc12a14442e9494fb5aa67076a7' and
		r.get('HBWATCH_NAME') == 'e2e-flap'" -u hbwatch.service
check "the second hang is handed to systemd (handed-over record, MESSAGE_ID 3f7e5601..., HBWATCH_UNIT)" \
	wait_for 20 journal_has "r.get('MESSAGE_ID') == '3f7e56018a3247b091fdcc5e6aa5bdd3' and
		r.get('HBWATCH_UNIT') == 'e2e-flap.service' and r.get('HBWATCH_SIGNAL') == 'SIGABRT'" \
	-u hbwatch.service
check "systemd takes over: e2e-flap ends failed" \
	wait_for 20 eval '[ "$(g systemctl is-failed e2e-flap.service)" = failed ]'
diag "e2e-flap: Result=$(prop e2e-flap.service Result) NRestarts=$(prop e2e-flap.service NRestarts)"
check "StartLimitBurst=2 stopped the restarts (start-limit-hit in its journal)" \
	gsh "journalctl -u e2e-flap.service --no-pager | grep -qi 'start request repeated too quickly\|start-limit-hit'"
check "systemctl --failed lists e2e-flap" \
	gsh "systemctl --failed --no-legend --plain | grep -q '^e2e-flap.service'"
check "OnFailure= ran (e2e-onfailure.service)" wait_for 10 g test -e /run/e2e-onfailure
check "hbwatch signalled e2e-flap itself exactly once (the rest was systemd's)" \
	eval '[ "$(g journalctl -u hbwatch.service --no-pager -o json MESSAGE_ID=1c1cbbc12a14442e9494fb5aa67076a7 HBWATCH_NAME=e2e-flap | wc -l)" = 1 ]'
check "one hand-over only" \
	eval '[ "$(g journalctl -u hbwatch.service --no-pager -o json MESSAGE_ID=3f7e56018a3247b091fdcc5e6aa5bdd3 | wc -l)" = 1 ]'
check "systemd saw the handed-over process die of SIGABRT" \
	gsh "journalctl -u e2e-flap.service --no-pager | grep -c 'status=6/ABRT' | grep -qx 2"

# ---- kill_group under KillMode=process -----------------------------------
check "start the two shell jobs" g systemctl start e2e-job-group.service e2e-job-solo.service
for job in e2e-job-group e2e-job-solo; do
	check "$job: the shell registers and its child is there" \
		wait_for 10 eval 'g test -s /run/e2e/'$job'.child'
done
gchild=$(g cat /run/e2e/e2e-job-group.child)
schild=$(g cat /run/e2e/e2e-job-solo.child)
check "e2e-job-group: hbwatch signals the shell and its process group" \
	wait_for 15 journal_has "r.get('MESSAGE_ID') == '1c1cbbc12a14442e9494fb5aa67076a7' and
		r.get('HBWATCH_NAME') == 'e2e-job-group' and 'process group' in r.get('MESSAGE', '')" \
	-u hbwatch.service
check "e2e-job-solo: hbwatch signals the shell" \
	wait_for 15 journal_has "r.get('MESSAGE_ID') == '1c1cbbc12a14442e9494fb5aa67076a7' and
		r.get('HBWATCH_NAME') == 'e2e-job-solo'" -u hbwatch.service
check "kill_group = yes: the hung child ($gchild) is gone with the shell" \
	wait_for 10 eval '! g kill -0 '"$gchild"' 2>/dev/null'
check "kill_group = no: under KillMode=process the child ($schild) outlives the shell" \
	eval 'sleep 1; g kill -0 '"$schild"
g kill -KILL "$schild" 2>/dev/null || true

check "hbwatch.service is still active" g systemctl is-active hbwatch.service
done_testing
