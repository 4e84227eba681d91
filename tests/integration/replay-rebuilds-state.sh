#!/usr/bin/env bash
# replay-rebuilds-state.sh - I4: the log is the truth.  With everything in
# the state directory deleted but audit.log, a restart rebuilds the same
# transfers: list --json and show --json are byte-identical.
# Refuses twin: a log with one record deleted from the middle stops the gate
# at start with a message naming the line, and the gate leaves the file
# exactly as it found it.
. "${DG_SRC:?}/tests/lib/lib.sh"

gate_init
LOG=$T/state/audit.log
# Scans start 2 s late (the real scanner behind a wrapper), so that a
# transfer is still not final when the test withdraws it.
printf '#!/bin/sh\n# the real scanner, started late\nsleep 2\nexec %s/bin/dumpgate-scan "$@"\n' "$T" > "$T/bin/slow-scan"
chmod 755 "$T/bin/slow-scan"
SCANNER_PROGRAM=$T/bin/slow-scan
write_config
gate_start || bail "dumpgated did not start"

# wait until no transfer is in a state the gate leaves by itself (scans)

mkfile "$T/files/a" 120000
mkfile "$T/files/b" 80000
printf 'line one\nline two\n' > "$T/files/c.log"; chmod 644 "$T/files/c.log"
ids=()
ids+=("$(dg dg-alice submit --profile crashdump --reason "INC-6 first" "$T/files/a")")
ids+=("$(dg dg-dave submit --profile crashdump --reason 'INC-6 "quoted" é \ tab	end' "$T/files/b")")
ids+=("$(dg dg-alice submit --profile logs --reason "INC-6 log" "$T/files/c.log")")
ids+=("$(head -c 5000 /dev/urandom | dg dg-alice2 submit --profile crashdump --reason "INC-6 stream" -)")
ok $(for i in "${ids[@]}"; do [[ $i =~ ^[0-9a-f]{32}$ ]] || exit 1; done; echo 0) "four transfers submitted"
dg dg-dave withdraw "${ids[1]}" >/dev/null; ok $? "one of them withdrawn"
# a refused request leaves a record but no transfer
dg dg-mallory submit --profile crashdump --reason "INC-6 nope" "$T/files/a" >/dev/null 2>&1
settle_all; ok $? "the scans of the other transfers finished"

LIST1=$(dg dg-admin list --json)
is "$(printf '%s' "$LIST1" | jq -r '[.[].state] | join(" ")' | sed 's/[a-z]*withdrawn/W/; s/[a-z]\+/X/g')" "X W X X" \
  "list shows four transfers, the second withdrawn ($(printf '%s' "$LIST1" | jq -r '[.[].state] | join(" ")'))"
declare -A SHOW1=()
for i in "${ids[@]}"; do SHOW1[$i]=$(dg dg-admin show "$i" --json); done
LISTW1=$(dg dg-admin list --state withdrawn --json)
ALICE1=$(dg dg-alice list --json)
gate_stop

# ---- delete everything but the log
# The signing key is not state but identity: it stays (a gate refuses to
# start without the key it made at its first start).
find "$T/state" -mindepth 1 -maxdepth 1 ! -name audit.log ! -name 'signing.*' -exec rm -rf {} +
is "$(ls -A "$T/state" | tr '\n' ' ')" "audit.log signing.key signing.pub " "the state directory holds only audit.log and the signing key"
gate_start || bail "dumpgated did not start from the log alone"
is "$(dg dg-admin list --json)" "$LIST1" "list --json (admin) is byte-identical after the rebuild"
for i in "${ids[@]}"; do
  is "$(dg dg-admin show "$i" --json)" "${SHOW1[$i]}" "show --json ${i:0:8} is byte-identical"
done
is "$(dg dg-admin list --state withdrawn --json)" "$LISTW1" "list --state withdrawn is byte-identical"
is "$(dg dg-alice list --json)" "$ALICE1" "what the person alice sees is byte-identical"
out=$("$T/bin/dumpgate" audit verify "$LOG"); ok $? "the chain verifies: $out"
gate_stop

# ---- refuses twin: one record deleted from the middle
n=$(wc -l < "$LOG")
mid=$(( n / 2 ))
sed -i "${mid}d" "$LOG"
before=$(sha256sum < "$LOG")
files_before=$(ls -A "$T/state" | tr '\n' ' ')
: > "$T/start.log"
"$T/bin/dumpgated" --config "$CONF" --foreground 2> "$T/start.log" &
P=$!
timeout 15 tail --pid="$P" -f /dev/null
kill -0 "$P" 2>/dev/null && { kill -KILL "$P"; ok 1 "the gate refuses to start on a log with line $mid deleted (still running)"; } ||
  ok 0 "the gate refuses to start on a log with line $mid of $n deleted"
wait "$P"; rc=$?
ok $([ "$rc" -ne 0 ]; echo $?) "it exits with a failure status ($rc)"
msg=$(cat "$T/start.log")
diag "$msg"
like "$msg" "(line |audit\\.log:)$mid([^0-9]|\$)" "the message names line $mid"
like "$msg" "refusing to start" "the message says it refuses to start"
is "$(sha256sum < "$LOG")" "$before" "the log is left byte for byte as it was"
is "$(ls -A "$T/state" | tr '\n' ' ')" "$files_before" "no side file was created"
[ -S "$SOCK" ] && "$T/bin/dumpgate" status >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "nothing answers on the socket"
done_testing
