#!/usr/bin/env bash
# SERIAL: switches kernel auditing off machine-wide for a moment, and stops
# auditd for a moment (both restored in a trap).  With kernel_audit =
# required the gate refuses to start when the kernel would drop its records,
# when no audit daemon collects them, or when the registered one was killed
# and is gone; with both in place it starts.
source "$DG_SRC/tests/lib/lib.sh"
require_root
command -v auditctl >/dev/null || bail "auditctl missing (auditd package)"
was=$(auditctl -s 2>/dev/null | awk '/^enabled/ {print $2}')
[ "$was" = 1 ] || bail "kernel auditing is disabled: scripts/test starts auditd"
on_exit "auditctl -e $was >/dev/null 2>&1"
on_exit "bash '$DG_SRC/scripts/auditd-up' >/dev/null"

gate_init
auditctl -e 0 >/dev/null
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --foreground 2>&1); rc=$?
auditctl -e "$was" >/dev/null
is "$rc" 1 "with kernel auditing disabled a required gate refuses to start"
like "$out" "kernel_audit = required: kernel auditing is disabled" "the message says why and names kernel_audit"
[ ! -S "$SOCK" ] || ! "$T/bin/dumpgate" status >/dev/null 2>&1
ok $? "nothing answers on its socket"
is "$(cat "$T/state/audit.log" 2>/dev/null | grep -c '"event":"gate_started"')" 0 "it recorded no start"


# Auditing enabled but no daemon: the kernel prints records to its ring
# buffer, rate-limited, where they are lost.
pkill -TERM -x auditd
for _ in $(seq 1 100); do pgrep -x auditd >/dev/null || break; sleep 0.1; done
! pgrep -x auditd >/dev/null && auditctl -s | grep -q '^pid 0$' || bail "auditd did not stop"
auditctl -e 1 >/dev/null
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --foreground 2>&1); rc=$?
bash "$DG_SRC/scripts/auditd-up" >/dev/null || bail "auditd did not come back"
is "$rc" 1 "with auditing enabled but no audit daemon a required gate refuses to start"
like "$out" "no audit daemon collects its records" "the message says no daemon collects the records"

# An audit daemon killed outright (SIGKILL, as a machine's processes are
# when a session ends) stays registered with the kernel until the kernel
# next fails to deliver a record to it: a stale pid, and the records would
# go to the ring buffer just the same.
pkill -KILL -x auditd
for _ in $(seq 1 100); do pgrep -x auditd >/dev/null || break; sleep 0.1; done
stale=$(auditctl -s | awk '/^pid / {print $2}')
! pgrep -x auditd >/dev/null && [ "${stale:-0}" != 0 ] || bail "auditd killed with SIGKILL did not leave its pid registered ($stale)"
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --foreground 2>&1); rc=$?
is "$rc" 1 "with a killed audit daemon still registered a required gate refuses to start"
like "$out" "audit daemon registered with the kernel is no longer running" "the message says the registered daemon is gone"
# ... also when its pid now belongs to another process (pids wrap): make
# the next pid the stale one, through ns_last_pid
impostor=
for _ in $(seq 1 20); do
  echo $((stale - 1)) > /proc/sys/kernel/ns_last_pid 2>/dev/null || break
  sleep 300 &
  [ "$!" = "$stale" ] && { impostor=$!; break; }
  kill "$!"
done
[ -n "$impostor" ] || bail "could not start a process with the stale pid $stale"
on_exit "kill $impostor 2>/dev/null"
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --foreground 2>&1); rc=$?
is "$rc" 1 "with the stale pid reused by another process (sleep) a required gate still refuses to start"
like "$out" "audit daemon registered with the kernel is no longer running" "... naming the same reason"
bash "$DG_SRC/scripts/auditd-up" >/dev/null
ok $? "auditd-up replaces the stale registration, though its pid is alive"
kill "$impostor" 2>/dev/null
now=$(auditctl -s | awk '/^pid / {print $2}')
[ "$now" != "$stale" ] && [ "${now:-0}" != 0 ]
ok $? "a new audit daemon is registered ($stale -> $now)"
[ "$(cat "/proc/$now/comm" 2>/dev/null)" = auditd ]
ok $? "... and it is a running auditd"

gate_start
ok $? "with auditing enabled and auditd collecting the same gate starts"
done_testing
