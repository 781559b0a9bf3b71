#!/bin/bash
# hbwatch as users run it: for SOAK_SECONDS (default 120) under a real
# systemd, with its own watchdog shortened to 2 s, while services beat,
# hang and are restarted, and a second uid tries to aim hbwatch at a root
# process.  hbwatch must stay up the whole time (no watchdog kill, no
# restart), deal with every hang, and act on nobody's word but the owner's.
. "$(dirname "$0")/harness.sh"

SOAK=${SOAK_SECONDS:-120}
guest_setup
write_victim e2e-steady@.service e2e-steady
write_victim e2e-hang.service e2e-hang
write_section 80-e2e.ini e2e-steady 'e2e-steady@*.service'
# A hang every 10 s for SOAK_SECONDS: above the default kill_burst.
write_section 80-e2e.ini e2e-hang e2e-hang.service "kill_burst = 1000"
# A root process registered under a watched name with no unit= check, the
# target of the attack below: only its own word (root's) may aim at it.
cat >"$M/etc/systemd/system/e2e-root.service" <<EOF2
[Service]
ExecStart=$DEMO -n e2e-root -t 2000
EOF2
write_section 80-e2e.ini e2e-root ''
sed -i '/^unit = $/d' "$M$CONFD/80-e2e.ini"
# The attacker's tool, inside the guest's root: the build directory may be
# under /tmp, which the guest replaces with a tmpfs.
install -D -m 0755 "$HBWATCH_BUILD_ROOT/tests/helpers/hbforge" "$M/usr/local/libexec/hbwatch-e2e/hbforge"
# The watchdog at 2 s: the soak spans SOAK/2 periods.
mkdir -p "$M/etc/systemd/system/hbwatch.service.d"
printf '[Service]\nWatchdogSec=2s\n' >"$M/etc/systemd/system/hbwatch.service.d/50-soak.conf"
guest_start

check "systemctl start hbwatch (WatchdogSec=2s)" g systemctl start hbwatch.service
hbpid=$(main_pid hbwatch.service)
check "start three steady workers, e2e-hang and a root service" \
	g systemctl start e2e-steady@1.service e2e-steady@2.service e2e-steady@3.service \
	e2e-hang.service e2e-root.service
rootpid=$(main_pid e2e-root.service)
check "the root service ($rootpid) registers" wait_for 5 hb_has e2e-root "$rootpid"

# The attack: uid nobody in group hbwatch registers root's process with a
# 1 ms timeout (hbctl must refuse), then writes a record of its own naming
# it (hbwatch must not trust it).
check "nobody cannot register root's process through hbctl" \
	eval '! g setpriv --reuid=nobody --regid=nogroup --groups=hbwatch \
		"$HBCTL" register --name e2e-root --timeout 1ms --pid "$rootpid" 2>/dev/null'

FORGE=/usr/local/libexec/hbwatch-e2e/hbforge
# As a transient unit, so the guest's systemd owns (and ends) it.
g systemd-run --quiet --unit=e2e-forger -p User=nobody -p SupplementaryGroups=hbwatch \
	"$FORGE" --pid "$rootpid" --name e2e-root --timeout-ms 1 --beat-ago-ms 60000 --hold
check "nobody's own record naming root's process is not trusted" \
	wait_for 10 journal_has 'r.get("HBWATCH_EVENT") == "untrusted" and
		r.get("HBWATCH_PID") == "'"$rootpid"'" and "OBJECT_PID" not in r' -u hbwatch.service

rounds=0 killed=0 t0=$SECONDS
while [ $((SECONDS - t0)) -lt "$SOAK" ]; do
	arm_hang e2e-hang.service
	g systemctl reset-failed e2e-hang.service
	g systemctl restart e2e-hang.service
	before=$(main_pid e2e-hang.service)
	rounds=$((rounds + 1))
	if wait_for 10 eval 'p=$(main_pid e2e-hang.service) && [ "$p" != "$before" ] &&
		hb_has e2e-hang "$p"'; then
		killed=$((killed + 1))
	fi
	sleep 5
done
diag "soak: ${SOAK}s, $rounds hangs, $killed killed and restarted"
check "every hang was killed and the service restarted ($killed of $rounds)" \
	[ "$killed" -eq "$rounds" ]
check "hbwatch never restarted (NRestarts 0, MainPID $hbpid)" \
	eval '[ "$(prop hbwatch.service NRestarts)" = 0 ] && [ "$(main_pid hbwatch.service)" = "$hbpid" ]'
check "no watchdog timeout in the journal" \
	eval '! gsh "journalctl -u hbwatch.service --no-pager | grep -qi \"watchdog timeout\""'
w1=$(prop hbwatch.service WatchdogTimestampMonotonic)
sleep 2.5
w2=$(prop hbwatch.service WatchdogTimestampMonotonic)
check "the watchdog is still fed at the end (timestamp moved: $w1 -> $w2)" [ "$w2" -gt "$w1" ]
check "the steady workers were never signalled" \
	eval '[ "$(prop e2e-steady@1.service NRestarts)$(prop e2e-steady@2.service NRestarts)$(prop e2e-steady@3.service NRestarts)" = 000 ]'
check "the root service was never signalled (same pid, still beating)" \
	eval '[ "$(main_pid e2e-root.service)" = "$rootpid" ] && hb_has e2e-root "$rootpid"'
check "no signal record names the root service" \
	eval '! journal_has "r.get(\"HBWATCH_EVENT\") in (\"signal-sent\", \"escalated\") and r.get(\"HBWATCH_PID\") == \"$rootpid\"" -u hbwatch.service'
if [ "$T_FAILED" -gt 0 ]; then
	diag "hbwatch's journal:"
	diag "$(g journalctl -u hbwatch.service --no-pager -o short-monotonic | tail -60)"
fi
lines=$(g journalctl -u hbwatch.service --no-pager -o cat | wc -l)
diag "hbwatch wrote $lines journal lines in the soak"
check "hbwatch's journal stays small (under 40 lines per hang: $lines lines)" \
	[ "$lines" -lt $((40 * rounds + 100)) ]
g systemctl stop e2e-forger.service
g systemctl stop e2e-steady@1.service e2e-steady@2.service e2e-steady@3.service \
	e2e-hang.service e2e-root.service

done_testing
