#!/usr/bin/env bash
# audit-verify-names-the-bad-line.sh - the hash chain (I4): `dumpgate audit
# verify` accepts an intact log, offline (PATH) and fetched from the gate by
# an auditor, and refuses with the line number a copy with one byte changed,
# a line deleted, two lines swapped, or a torn last line; an account that is
# no auditor is refused.  At start, a torn last line is quarantined to a
# side file and recorded; a complete but bad last line is not (the gate
# refuses to start).
. "${DG_SRC:?}/tests/lib/lib.sh"

gate_init
LOG=$T/state/audit.log
gate_start || bail "dumpgated did not start"

# ~10 records: start, 4 x (submitted, stored), a withdrawal, a refusal
for k in 1 2 3 4; do
  mkfile "$T/files/f$k" $((1000 * k))
  id=$(dg dg-alice submit --profile crashdump --reason "INC-7 record $k" "$T/files/f$k")
done
dg dg-alice withdraw "$id" >/dev/null 2>&1 # a record if the scan has not ended it yet
dg dg-mallory submit --profile crashdump --reason "INC-7 refused" "$T/files/f1" >/dev/null 2>&1
# Scans append records by themselves: wait until none is running, so that
# the copies below are of a log nobody is writing.
settle_all || bail "the transfers did not settle_all"
N=$(wc -l < "$LOG")
ok $([ "$N" -ge 10 ]; echo $?) "the gate's log holds $N records"

verify() { "$T/bin/dumpgate" audit verify "$1" 2>&1; } # prints, returns the exit status
cp "$LOG" "$T/intact.log"

out=$(verify "$T/intact.log"); rc=$?
is "$rc" 0 "an intact copy verifies (exit 0)"
like "$out" "verified: $N records" "and the message counts $N records"

out=$(dg dg-admin audit verify 2>&1); rc=$?
is "$rc" 0 "dg-admin: audit verify of the gate's own log passes ($out)"
out=$(dg dg-auditor audit verify 2>&1); rc=$?
is "$rc" 0 "dg-auditor: audit verify of the gate's own log passes"
out=$(dg dg-mallory audit verify 2>&1); rc=$?
is "$rc" 1 "dg-mallory: audit verify is refused (exit 1)"
like "$out" "auditor|dg-auditors" "dg-mallory: the message says auditors only ($out)"
unlike "$out" "verified" "dg-mallory: nothing is verified"

# refused CASE-FILE LINE DESCRIPTION
refused() {
  local f=$1 line=$2; shift 2
  local out rc
  out=$(verify "$f"); rc=$?
  is "$rc" 1 "$*: verify exits 1"
  like "$out" "line $line([^0-9]|\$)" "$*: the message names line $line"
  diag "$out"
}

# one byte changed in line 5: in its prev hash (caught at line 5 itself) ...
awk 'NR == 5 { sub(/"prev":"./, "\"prev\":\"" (substr($0, index($0, "\"prev\":\"") + 8, 1) == "0" ? "1" : "0")) } { print }' \
  "$T/intact.log" > "$T/prev5.log"
is "$(cmp "$T/intact.log" "$T/prev5.log" | wc -l)" 1 "(setup) prev5.log differs from the log in one place"
refused "$T/prev5.log" 5 "one byte of line 5's prev hash changed"
# ... and in its body (the next line's prev no longer matches line 5)
awk 'NR == 5 { sub(/"seq":5,"time":"20/, "\"seq\":5,\"time\":\"21") } { print }' "$T/intact.log" > "$T/body5.log"
is "$(cmp -l "$T/intact.log" "$T/body5.log" | wc -l)" 1 "(setup) body5.log differs from the log in exactly one byte"
out=$(verify "$T/body5.log"); rc=$?
is "$rc" 1 "one byte of line 5's time changed: verify exits 1"
like "$out" "line 5([^0-9]|\$)" "one byte of line 5's time changed: the message names line 5"
diag "$out"
# the same byte made invalid JSON
awk 'NR == 5 { sub(/^\{/, "[") } { print }' "$T/intact.log" > "$T/json5.log"
refused "$T/json5.log" 5 "line 5's first byte changed (not JSON)"
sed '5d' "$T/intact.log" > "$T/del5.log"
refused "$T/del5.log" 5 "line 5 deleted"
awk 'NR == 4 { keep = $0; next } NR == 5 { print; print keep; next } { print }' "$T/intact.log" > "$T/swap45.log"
is "$(sed -n 4p "$T/swap45.log")" "$(sed -n 5p "$T/intact.log")" "(setup) swap45.log has lines 4 and 5 swapped"
refused "$T/swap45.log" 4 "lines 4 and 5 swapped (line 4 is the first bad one)"
head -c -25 "$T/intact.log" > "$T/torn.log"
refused "$T/torn.log" "$N" "the last line torn (no final newline)"
like "$(verify "$T/torn.log")" "torn" "the torn copy is called torn"
printf '%s\n' '{"seq":999}' >> "$T/extra.log"; cat "$T/intact.log" "$T/extra.log" > "$T/appended.log"
refused "$T/appended.log" $((N + 1)) "a bogus complete record appended"
is "$(head -c "$(stat -c %s "$T/intact.log")" "$LOG" | sha256sum)" "$(sha256sum < "$T/intact.log")" \
  "the gate's own log was only appended to (the refusal of dg-mallory is a record)"

# ---- torn tail at start: quarantined, not dropped
gate_stop
n_before=$(wc -l < "$LOG")
cp "$LOG" "$T/before-torn.log"
TAIL='{"seq":'$((n_before + 1))',"time":"2026-11-28T16:15:20Z","event":"subm'
printf '%s' "$TAIL" >> "$LOG"
gate_start; ok $? "the gate starts on a log with a torn last line"
side=$(ls "$T/state" | grep '^audit\.log\.torn-')
is "$(printf '%s\n' "$side" | grep -c .)" 1 "exactly one side file audit.log.torn-* exists ($side)"
is "$(cat "$T/state/$side" 2>/dev/null)" "$TAIL" "it holds exactly the torn bytes"
like "$(cat "$T/gated.log")" "torn.*$side|$side.*torn" "gated.log reports the torn line and the side file"
is "$(head -c "$(stat -c %s "$T/before-torn.log")" "$LOG" | sha256sum)" "$(sha256sum < "$T/before-torn.log")" \
  "every complete record before it is unchanged"
out=$(verify "$LOG"); ok $? "the log verifies after the quarantine: $out"
q=$(jq -c 'select(.event == "torn_tail_quarantined")' "$LOG")
is "$(printf '%s' "$q" | jq -r .seq)" $((n_before + 1)) "a torn_tail_quarantined record follows the last complete record"
like "$q" "$side" "and names the side file"
is "$(jq -r .event "$LOG" | sed -n "$((n_before + 2))p")" gate_started "then the gate started"
out=$(dg dg-auditor audit verify 2>&1); ok $? "auditor: the gate's log verifies through the gate"

# ---- refuses twin: a complete bad last line is damage, not a torn write
gate_stop
printf '%s\n' '{"seq":1,"bogus":true}' >> "$LOG"
bad_line=$(wc -l < "$LOG")
before=$(sha256sum < "$LOG")
: > "$T/start.log"
timeout 15 "$T/bin/dumpgated" --config "$CONF" --foreground 2> "$T/start.log"; rc=$?
ok $([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; echo $?) "the gate refuses to start on a complete bad last line (status $rc)"
like "$(cat "$T/start.log")" "(line |audit\\.log:)$bad_line([^0-9]|\$)" "its message names line $bad_line"
diag "$(cat "$T/start.log")"
is "$(sha256sum < "$LOG")" "$before" "the log is left as it was"
is "$(ls "$T/state" | grep -c '^audit\.log\.torn-')" 1 "no new side file"
done_testing
