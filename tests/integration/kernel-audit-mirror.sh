#!/usr/bin/env bash
# Every record of the gate's log is mirrored to the kernel audit trail
# (AUDIT_TRUSTED_APP) with the SHA-256 of its exact line, and user text
# only hex-encoded; kernel_audit = off mirrors nothing and says so.
source "$DG_SRC/tests/lib/lib.sh"
require_root
command -v ausearch >/dev/null || bail "ausearch missing (auditd package)"
auditctl -s 2>/dev/null | grep -q "^pid 0$" && bail "no audit daemon collects the kernel records: scripts/test starts auditd"
[ "$(auditctl -s 2>/dev/null | awk '/^enabled/ {print $2}')" = 1 ] ||
  bail "kernel auditing is disabled: scripts/test starts auditd"

gate_init
gate_start || bail "dumpgated did not start"
is "$(dg dg-alice status | awk '/^kernel_audit:/ {print $2}')" required "status says kernel_audit: required"
printf 'reason with "quotes"\nand a newline\n' > "$T/files/a.txt"; chmod 644 "$T/files/a.txt"
id=$(dg dg-alice submit --profile crashdump --reason 'INC-K "odd" reason' "$T/files/a.txt")
ok $? "alice submits"
settle_one "$id" >/dev/null
gate_stop

# Every line of the gate's log has a kernel record with the same hash
# (auditd writes its log asynchronously: look again for a while).
for _ in $(seq 1 40); do
  kern=$(ausearch -m 1121 --input-logs 2>/dev/null | grep -o "op=dumpgate seq=[0-9]* event=[a-z_]* transfer=[0-9a-fnoe]* line_sha256=[0-9a-f]*")
  n=0 missing=0
  while IFS= read -r line; do
    n=$((n + 1))
    h=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
    grep -q "line_sha256=$h" <<<"$kern" || missing=$((missing + 1))
  done < "$T/state/audit.log"
  [ "$missing" -eq 0 ] && break
  sleep 0.5
done
ok $([ "$n" -ge 5 ] && [ "$missing" -eq 0 ]; echo $?) "all $n records of the log are in the kernel trail with their line's SHA-256 ($missing missing)"
like "$(grep "transfer=$id" <<<"$kern" | head -n 1)" "event=submitted" "the submission is there under its transfer id"
raw=$(ausearch -m 1121 --input-logs --raw 2>/dev/null | grep "transfer=$id")
unlike "$raw" 'odd' "the reason's text never appears as text (hex only)"
like "$raw" "data=[0-9a-f]+" "the record's line travels hex-encoded"

# refuses twin: kernel_audit = off mirrors nothing
EXTRA_GATE="kernel_audit = off"
sed -i "s/^scanner_user = .*/&\nkernel_audit = off/" "$CONF"
gate_start || bail "dumpgated did not start with kernel_audit = off"
is "$(dg dg-alice status | awk '/^kernel_audit:/ {print $2}')" off "status says kernel_audit: off"
id2=$(dg dg-alice submit --profile crashdump --reason "INC-K off" "$T/files/a.txt")
ok $? "alice submits with the mirror off"
settle_one "$id2" >/dev/null
is "$(ausearch -m 1121 --input-logs 2>/dev/null | grep -c "transfer=$id2")" 0 "nothing about it reaches the kernel trail"
like "$(cat "$T/gated.log")" "kernel_audit = off" "the gate warns that the mirror is off"
done_testing
