#!/usr/bin/env bash
# crash-recovery.sh - I4/I6: kill -9 of the daemon at any point leaves every
# transfer in its previous state or its next one.
#  (a) killed while an upload is paused mid-stream: after the restart the
#      transfer does not exist, an `aborted` record says the gate stopped,
#      and nothing of it is left in the spool (refuses: a half upload never
#      becomes a transfer);
#  (b) killed right after a submit returned: the transfer exists, stored (or
#      further on: the restarted gate resumes its scan) with the same sha256
#      (accepts: what the client was told is kept);
#  (c) ten rounds of kill -9 at a random moment during several submits (and
#      the scans they start): the chain verifies, every listed transfer was
#      stored and has a spool object of its sha256, none is left half-way
#      (submitted, or stored/scanning once the restarted gate settled),
#      every submit that printed an id is among them, no child of a killed
#      monitor survives it, and no *.part file or orphan object remains.
. "${DG_SRC:?}/tests/lib/lib.sh"

gate_init
LOG=$T/state/audit.log
SPOOL=$T/state/spool
gate_start || bail "dumpgated did not start"

verify_chain() { "$T/bin/dumpgate" audit verify "$LOG" 2>&1; }
admin_list() { dg dg-admin list --json; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- (a) an upload paused mid-stream
FIFO=$T/files/stream
mkfifo -m 644 "$FIFO"
# Our end is open read-write first, so the gate never sees an early EOF and
# the writes below never block on a missing reader.
exec 7<>"$FIFO"
on_exit 'exec 7>&-'
dg dg-alice submit --profile crashdump --reason "INC-5 paused" - < "$FIFO" > "$T/paused.out" 2> "$T/paused.err" 7>&- &
SUBMIT=$!
head -c 1048576 /dev/urandom >&7
PART=
for _ in $(seq 1 100); do
  PART=$(find "$SPOOL" -name '*.part' -size 1024k 2>/dev/null | head -n 1)
  [ -n "$PART" ] && break
  sleep 0.1
done
[ -n "$PART" ] || bail "the upload did not reach 1 MiB in the spool"
PAUSED_ID=$(basename "$PART" .part)
diag "paused upload $PAUSED_ID at $(stat -c %s "$PART") bytes"
is "$(jq -r "select(.transfer == \"$PAUSED_ID\") | .event" "$LOG" | tr '\n' ' ')" "submitted " \
  "(a) the intent is in the log before the kill"

gate_kill9
timeout 10 tail --pid="$SUBMIT" -f /dev/null; wait "$SUBMIT"
ok $([ $? -ne 0 ]; echo $?) "(a) the interrupted submit fails on the client side"
is "$(cat "$T/paused.out")" "" "(a) and prints no transfer id"
exec 7>&-

gate_start || bail "dumpgated did not restart after (a)"
is "$(admin_list | jq --arg id "$PAUSED_ID" '[.[] | select(.id == $id)] | length')" 0 \
  "(a) after the restart the interrupted transfer does not exist"
ab=$(jq -c "select(.transfer == \"$PAUSED_ID\" and .event == \"aborted\")" "$LOG")
like "$(printf '%s' "$ab" | jq -r .details.reason)" 'gate stopped' "(a) an aborted record says the gate stopped during the upload"
is "$(printf '%s' "$ab" | jq -r .details.intent_seq)" \
  "$(jq -r "select(.transfer == \"$PAUSED_ID\" and .event == \"submitted\") | .seq" "$LOG")" \
  "(a) the aborted record names the submitted record it cancels"
is "$(find "$SPOOL" -name "$PAUSED_ID*" | wc -l)" 0 "(a) neither $PAUSED_ID.part nor an object is left in the spool"
is "$(find "$SPOOL" -name '*.part' | wc -l)" 0 "(a) no *.part file at all"
out=$(verify_chain); ok $? "(a) the chain verifies: $out"
dg dg-alice show "$PAUSED_ID" >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "(a) show of the interrupted id is refused"

# ---- (b) kill -9 right after a submit returned
mkfile "$T/files/b" 300000
ID_B=$(dg dg-alice submit --profile crashdump --reason "INC-5 stored" "$T/files/b")
gate_kill9
like "$ID_B" '^[0-9a-f]{32}$' "(b) the submit returned an id before the kill"
is "$(jq -r "select(.transfer == \"$ID_B\") | .event" "$LOG" | head -n 2 | tr '\n' ' ')" "submitted stored " \
  "(b) the stored record was appended"
gate_start || bail "dumpgated did not restart after (b)"
show=$(dg dg-admin show "$ID_B" --json)
# stored, or further on: the restarted gate resumes its scan
like "$(printf '%s' "$show" | jq -r .state)" '^[a-z]+$' \
  "(b) after the restart the transfer exists and is stored or past it ($(printf '%s' "$show" | jq -r .state))"
unlike "$(printf '%s' "$show" | jq -r .state)" '^submitted$' "(b) and is not back to submitted"
is "$(printf '%s' "$show" | jq -r .sha256)" "$(sha "$T/files/b")" "(b) with the file's sha256"
is "$(sha "$SPOOL/$ID_B")" "$(sha "$T/files/b")" "(b) its spool object has the same sha256"
out=$(verify_chain); ok $? "(b) the chain verifies: $out"

# ---- (c) kill -9 at random moments (0-300 ms in) during several submits
SIZES=(20000 300000 1500000 3000000)
declare -A EXPECT=()   # id -> sha256 of what a successful submit sent
n_ok=0 n_fail=0 survivors=
# fields of /proc/PID/stat after the "(comm)": state is 3, starttime 22
proc_state() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }
proc_start() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
for round in $(seq 1 10); do
  pids=()
  for k in 0 1 2 3; do mkfile "$T/files/r$round-$k" "${SIZES[$k]}"; done
  for k in 0 1 2 3; do
    f=$T/files/r$round-$k
    if [ $k = 3 ]; then # one stream per round
      (dg dg-dave submit --profile crashdump --reason "INC-5 r$round-$k" - < "$f" > "$f.id" 2>/dev/null) &
    else
      (dg dg-alice submit --profile crashdump --reason "INC-5 r$round-$k" "$f" > "$f.id" 2>/dev/null) &
    fi
    pids+=($!)
  done
  sleep "$(printf '0.%03d' $((RANDOM % 300)))"
  # the monitor's children and their start times, with builtins only, so
  # that the kill follows the sleep closely
  kids=()
  read -r -a ck < "/proc/$GATE_PID/task/$GATE_PID/children" 2>/dev/null || ck=()
  for k in "${ck[@]}"; do
    read -r line < "/proc/$k/stat" 2>/dev/null || continue
    f=(${line##*) })
    kids+=("$k:${f[19]}")
  done
  gate_kill9
  for k in "${kids[@]}"; do
    # the same process (start time), still running (a zombie is dead)
    st=$(proc_start "${k%%:*}")
    [ -n "$st" ] && [ "$st" = "${k#*:}" ] && [ "$(proc_state "${k%%:*}")" != Z ] &&
      survivors+=" ${k%%:*}($(tr '\0' ' ' < "/proc/${k%%:*}/cmdline" 2>/dev/null))"
  done
  for p in "${pids[@]}"; do timeout 20 tail --pid="$p" -f /dev/null; wait "$p"; done
  for k in 0 1 2 3; do
    f=$T/files/r$round-$k
    if [ -s "$f.id" ]; then EXPECT[$(cat "$f.id")]=$(sha "$f"); n_ok=$((n_ok + 1)); else n_fail=$((n_fail + 1)); fi
  done
  gate_start || bail "dumpgated did not restart in round $round"
done
diag "(c) rounds done after ${SECONDS}s"
diag "(c) 40 submits: $n_ok printed an id before the kill, $n_fail did not;" \
  "$(jq -r 'select(.event == "aborted") | .details.reason' "$LOG" | grep -c "gate stopped") uploads were cut by a kill"

is "$survivors" "" "(c) no session or scanner outlived a killed monitor"
out=$(verify_chain); ok $? "(c) after 10 kill -9 rounds the chain verifies: $out"
is "$(admin_list | jq -r '[.[] | select(.state == "submitted")] | length')" 0 \
  "(c) right after the last restart no transfer is left half-uploaded"
# the restarted gate resumes interrupted scans; let it finish
settle() {
  local i l
  for i in $(seq 1 150); do
    l=$(admin_list)
    if printf '%s' "$l" | jq -e 'all(.[]; .state | IN("submitted", "stored", "scanning", "approved", "releasing") | not)' >/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}
settle; ok $? "(c) every interrupted scan is resumed and finishes"
diag "(c) settled after ${SECONDS}s"
LIST=$(admin_list)
diag "(c) states: $(printf '%s' "$LIST" | jq -r '[.[].state] | group_by(.) | map("\(.[0])=\(length)") | join(" ")')"
is "$(printf '%s' "$LIST" | jq -r '[.[] | select(.sha256 == null)] | length')" 0 \
  "(c) every transfer in the list was stored (has its sha256)"
stored_ids=$(jq -r 'select(.event == "stored") | .transfer' "$LOG" | sort -u)
is "$(printf '%s' "$LIST" | jq -r '.[].id' | sort)" "$stored_ids" \
  "(c) the list is exactly the transfers with a stored record"
bad=
while read -r id sum; do
  [ -f "$SPOOL/$id" ] || { bad+=" $id:missing"; continue; }
  [ "$(sha "$SPOOL/$id")" = "$sum" ] || bad+=" $id:sha"
done < <(printf '%s' "$LIST" | jq -r '.[] | "\(.id) \(.sha256)"')
is "$bad" "" "(c) every listed transfer has its spool object, with the listed sha256"
missing=
for id in "${!EXPECT[@]}"; do
  got=$(printf '%s' "$LIST" | jq -r --arg id "$id" '.[] | select(.id == $id) | .sha256')
  [ "$got" = "${EXPECT[$id]}" ] || missing+=" $id"
done
is "$missing" "" "(c) every submit that printed an id is listed with the sha256 of its file"
is "$(find "$SPOOL" -name '*.part' | wc -l)" 0 "(c) no *.part file remains"
orphans=
for f in "$SPOOL"/*; do
  [ -e "$f" ] || continue
  id=$(basename "$f")
  printf '%s' "$LIST" | jq -e --arg id "$id" 'any(.[]; .id == $id)' >/dev/null || orphans+=" $id"
done
is "$orphans" "" "(c) no spool object without a transfer"
# Every submitted record is matched by exactly one stored or aborted record.
open=$(jq -rs '[.[] | select(.transfer != null)] | group_by(.transfer)[]
  | select(map(.event) | (index("submitted") != null) and ((map(select(. == "stored" or . == "aborted")) | length) != 1))
  | .[0].transfer' "$LOG")
is "$open" "" "(c) every submitted intent ended in exactly one stored or aborted record"
done_testing
