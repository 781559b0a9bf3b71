#!/bin/bash
# The runtime layer of the configuration (/run/hbwatch) under the real
# systemd: hbwatch.service sees /run only through what it binds, and an
# administrator's runtime drop-ins there must reach the daemon, not only
# 'hbwatch --check-config' run from a root shell:
#  - 'enabled = no' in /run/hbwatch/hbwatch.d turns a service off: its hung
#    process is left alone and the refusal names the /run file;
#  - a symlink to /dev/null there masks the package's drop-in of that name
#    (in /usr/lib/hbwatch/hbwatch.d; one in /etc would win over /run): its
#    section is gone, its hung process is left alone;
#  - the service sandbox's own --check-config (ExecReload=) lists both.
. "$(dirname "$0")/harness.sh"

guest_setup
RUNCONFD=/run/hbwatch/hbwatch.d
VENDORCONFD=${CONF%/*}/hbwatch.d

# Two victims that hang once at their start, one with a section in the
# admin's directory, one in the package's, and a control that is watched
# as usual.
write_victim e2e-rt-off.service e2e-rt-off
write_victim e2e-rt-mask.service e2e-rt-mask
write_victim e2e-rt-on.service e2e-rt-on
write_section 80-e2e.ini e2e-rt-off e2e-rt-off.service
mkdir -p "$M$VENDORCONFD"
CONFD=$VENDORCONFD write_section 81-mask.ini e2e-rt-mask e2e-rt-mask.service
write_section 80-e2e.ini e2e-rt-on e2e-rt-on.service
guest_start

check "tmpfiles.d made $RUNCONFD at boot" g test -d "$RUNCONFD"
gsh "printf '[e2e-rt-off]\nenabled = no\n' >$RUNCONFD/90-off.ini && ln -s /dev/null $RUNCONFD/81-mask.ini"
check "systemctl start hbwatch" g systemctl start hbwatch.service
check "systemctl reload hbwatch (its --check-config runs in the sandbox)" \
	g systemctl reload hbwatch.service
check "inside the sandbox, --check-config reads the runtime mask" \
	wait_for 10 gsh "journalctl -u hbwatch.service --no-pager -o cat | grep -q 'then $RUNCONFD/81-mask.ini (masked: a symlink to /dev/null)'"
check "inside the sandbox, --check-config sees enabled = no in $RUNCONFD/90-off.ini" \
	gsh "journalctl -u hbwatch.service --no-pager -o cat | grep -q '^\[e2e-rt-off\] is disabled at $RUNCONFD/90-off.ini:2'"

for u in e2e-rt-off e2e-rt-mask e2e-rt-on; do
	arm_hang "$u.service"
done
check "start the three victims" g systemctl start e2e-rt-off.service e2e-rt-mask.service e2e-rt-on.service
on=$(main_pid e2e-rt-on.service)
off=$(main_pid e2e-rt-off.service)
mask=$(main_pid e2e-rt-mask.service)
check "the daemon refuses e2e-rt-off ($off), naming the runtime drop-in" \
	wait_for 10 journal_has "r.get('MESSAGE_ID') == '47262b2a8caa4797b6269ac0d582ad1f' and
		r.get('HBWATCH_NAME') == 'e2e-rt-off' and '$RUNCONFD/90-off.ini:2' in r.get('MESSAGE', '')" \
	-u hbwatch.service
check "the daemon does not watch e2e-rt-mask ($mask): its section is masked" \
	wait_for 10 journal_has "r.get('MESSAGE_ID') == '47262b2a8caa4797b6269ac0d582ad1f' and
		r.get('HBWATCH_NAME') == 'e2e-rt-mask'" -u hbwatch.service
# The control proves the daemon enforces meanwhile.
check "e2e-rt-on ($on), watched as usual, is killed when it hangs" \
	wait_for 15 journal_has "r.get('MESSAGE_ID') == '1c1cbbc12a14442e9494fb5aa67076a7' and
		r.get('HBWATCH_NAME') == 'e2e-rt-on'" -u hbwatch.service
check "the disabled and the masked service's hung processes are left alone" \
	eval 'g kill -0 '"$off"' && g kill -0 '"$mask"' &&
		[ "$(main_pid e2e-rt-off.service)" = '"$off"' ] && [ "$(main_pid e2e-rt-mask.service)" = '"$mask"' ]'
check "no signal-sent record for them" \
	eval '[ "$(g journalctl -u hbwatch.service --no-pager -o json MESSAGE_ID=1c1cbbc12a14442e9494fb5aa67076a7 HBWATCH_NAME=e2e-rt-off + MESSAGE_ID=1c1cbbc12a14442e9494fb5aa67076a7 HBWATCH_NAME=e2e-rt-mask | wc -l)" = 0 ]'

check "hbwatch.service is still active" g systemctl is-active hbwatch.service
done_testing
