#!/usr/bin/env bash
# SERIAL: switches kernel auditing off machine-wide for a moment (restored
# in a trap).  With kernel_audit = required the gate refuses to start when
# the kernel would drop its records; with auditing on it starts.
source "$DG_SRC/tests/lib/lib.sh"
require_root
command -v auditctl >/dev/null || bail "auditctl missing (auditd package)"
was=$(auditctl -s 2>/dev/null | awk '/^enabled/ {print $2}')
[ "$was" = 1 ] || bail "kernel auditing is disabled: scripts/test starts auditd"
on_exit "auditctl -e $was >/dev/null 2>&1"

gate_init
auditctl -e 0 >/dev/null
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --foreground 2>&1); rc=$?
auditctl -e "$was" >/dev/null
is "$rc" 1 "with kernel auditing disabled a required gate refuses to start"
like "$out" "kernel_audit = required: kernel auditing is disabled" "the message says why and names kernel_audit"
[ ! -S "$SOCK" ] || ! "$T/bin/dumpgate" status >/dev/null 2>&1
ok $? "nothing answers on its socket"
is "$(cat "$T/state/audit.log" 2>/dev/null | grep -c '"event":"gate_started"')" 0 "it recorded no start"

gate_start
ok $? "with auditing enabled the same gate starts"
done_testing
