#!/usr/bin/env bash
# hostile-session-is-ended.sh - the monitor's state table (I5): a session
# that was taken over and sends raw monitor messages out of state, of an
# unknown type, with a bad header, trailing bytes, an fd, a string longer
# than the message, more than MSG_MAX bytes, or a second request while one
# is outstanding, is ended: the gate logs "protocol violation", appends a
# protocol_violation record, and nothing else changes.
# Accepts twin: a well-formed MSG_LIST through the same relay is answered
# with MSG_DATA + MSG_RESULT and the session stays.
# (h) holds a request with an upload from a pipe (the relay's "P" command)
# that a second connection waits on.
#
# The gate runs tests/tools/hostile-session.c as its session program; the
# test drives it with dg-rawclient ("TEXT M<hex>" = one raw datagram).
. "${DG_SRC:?}/tests/lib/lib.sh"

gate_init

# ---- raw monitor messages (gate/msg.h: header {u32 type, u32 len}, host
# order = little endian here, then the fields)
[ "$(printf '\1\0' | od -An -tu2 | tr -d ' ')" = 1 ] || skip_all "the hex helpers assume a little-endian host"
u32() { printf '%02x%02x%02x%02x' $(( $1 & 255 )) $(( ($1 >> 8) & 255 )) $(( ($1 >> 16) & 255 )) $(( ($1 >> 24) & 255 )); }
u64() { printf '%s%s' "$(u32 $(( $1 & 0xffffffff )))" "$(u32 $(( $1 >> 32 )))"; }
strhex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
str() { local h; h=$(strhex "$1"); printf '%s%s' "$(u32 $(( ${#h} / 2 )))" "$h"; } # u32 len + bytes
msg() { # msg TYPE [PAYLOAD-HEX]
  local p=${2:-}
  printf '%s%s%s' "$(u32 "$1")" "$(u32 $(( ${#p} / 2 )))" "$p"
}
hex2bin() { local h; h=$(sed 's/../\\x&/g'); printf '%b' "$h"; }
MSG_LIST=2 MSG_SHOW=3 MSG_WAIT=4 MSG_STATUS=7 MSG_COMMIT=8
MSG_DATA=101 MSG_RESULT=103

# rawclient as USER with commands on stdin; prints its frames
relay() { local u=$1; as "$u" timeout 20 "$T/bin/dg-rawclient" "$SOCK"; }

# A valid MSG_LIST as USER through the hostile relay: prints the list JSON
# (MSG_DATA payload) and then the result JSON on a second line; status 1 if
# the answer is not exactly MSG_DATA* + MSG_RESULT.
relay_list() {
  local out line hex type len data="" result="" nres=0 bad=0
  out=$(printf 'PRINT R\nEND R\nTEXT M%s\n' "$(msg $MSG_LIST "$(str "")")" | relay "$1")
  while IFS= read -r line; do
    case $line in
      "R "*) hex=${line#R }
             type=$(( 16#${hex:6:2}${hex:4:2}${hex:2:2}${hex:0:2} ))
             if [ "$type" = $MSG_DATA ]; then data+=$(printf '%s' "${hex:16}" | hex2bin)
             elif [ "$type" = $MSG_RESULT ]; then result=$(printf '%s' "${hex:24}" | hex2bin); nres=$((nres + 1))
             else bad=1; fi ;;
      *) bad=1 ;;
    esac
  done <<< "$out"
  printf '%s\n%s\n' "$data" "$result"
  [ $bad = 0 ] && [ $nres = 1 ]
}

# ---- phase 1: a normal gate makes some state
gate_start || bail "dumpgated did not start"
mkfile "$T/files/a" 3000
mkfile "$T/files/b" 5000
ID1=$(dg dg-alice submit --profile crashdump --reason "INC-3 hostile a" "$T/files/a")
ID2=$(dg dg-dave submit --profile crashdump --reason "INC-3 hostile b" "$T/files/b")
ID3=$(printf 'some log\n' | dg dg-alice submit --profile logs --reason "INC-3 log" -)
# Scans move transfers on by themselves: wait until none is in a state the
# gate leaves without a person acting, so that only the attacks could change
# the list.
settle_all || bail "the transfers did not settle_all within 30 s"
LIST0=$(dg dg-admin list --json)
is "$(printf '%s' "$LIST0" | jq length)" 3 "three transfers exist before the attacks"
gate_stop

# ---- phase 2: the same state dir, sessions replaced by the hostile relay
SESSION_PROGRAM=$T/bin/dg-hostile-session
write_config
# gate_start checks readiness with the real CLI, which the relay does not speak.
hostile_start() {
  local n0; n0=$(grep -c "listening on" "$T/gated.log")
  "$T/bin/dumpgated" --config "$CONF" --foreground 2>>"$T/gated.log" &
  GATE_PID=$!
  for _ in $(seq 1 150); do
    [ "$(grep -c "listening on" "$T/gated.log")" -gt "$n0" ] && [ -S "$SOCK" ] && return 0
    kill -0 "$GATE_PID" 2>/dev/null || { GATE_PID=; return 1; }
    sleep 0.1
  done
  return 1
}
hostile_start || bail "dumpgated with the hostile session did not start"

LOG=$T/state/audit.log
violations_logged() { grep -c "protocol violation" "$T/gated.log"; }
violations_audited() { jq -s '[.[] | select(.event == "protocol_violation")] | length' "$LOG"; }

# Twin first: the relay works and a well-formed request is served.
out=$(relay_list dg-admin); rc=$?
ok $rc "twin: a well-formed MSG_LIST gets MSG_DATA then one MSG_RESULT back"
RL0=$(printf '%s\n' "$out" | sed -n 1p)
is "$RL0" "$LIST0" "twin: the MSG_DATA bytes are exactly what list --json printed through the real session"
like "$(printf '%s\n' "$out" | sed -n 2p)" '^\{"ok":true,"count":3\}$' "twin: the MSG_RESULT says ok, 3 transfers"
raw=$(printf 'PRINT R\nEND R\nTEXT M%s\n' "$(msg $MSG_STATUS)" | relay dg-mallory)
like "$raw" '^R 67000000' "twin: MSG_STATUS as another account is answered too"
unlike "$raw" '(^X|EOF)' "twin: and the session is not ended"
is "$(violations_audited)" 0 "twin: no protocol_violation record"
is "$(violations_logged)" 0 "twin: no protocol violation in the gate's log"

# attack NAME WHAT-REGEX CLIENT-LINES...: one hostile connection as
# $ATTACKER (dg-mallory unless set); the list must be $WANT_LIST afterwards
ATTACKER=dg-mallory
WANT_LIST=
attack() {
  local name=$1 what=$2; shift 2
  local nl na out
  nl=$(violations_logged)
  na=$(violations_audited)
  out=$(printf '%s\n' "$@" | relay "$ATTACKER")
  check_violation "$name" "$what" "$out" "$nl" "$na"
}
# check_violation NAME WHAT-REGEX CLIENT-OUTPUT LOGGED-BEFORE AUDITED-BEFORE
check_violation() {
  local name=$1 what=$2 out=$3 nl=$4 na=$5 last list
  like "$out" '(^|[[:space:]])(X 0|EOF)$' "$name: the monitor ends the session (client sees X or EOF)"
  unlike "$out" '^R ' "$name: no answer is served"
  is "$(violations_logged)" $((nl + 1)) "$name: the gate logs one protocol violation"
  like "$(grep "protocol violation" "$T/gated.log" | tail -n 1)" "account $ATTACKER\\): protocol violation: $what" \
    "$name: the log line says what was wrong"
  is "$(violations_audited)" $((na + 1)) "$name: one protocol_violation record is appended"
  last=$(jq -c 'select(.event == "protocol_violation")' "$LOG" | tail -n 1)
  like "$(printf '%s' "$last" | jq -r '.event + " " + .actor.account + " " + .details.what')" \
    "^protocol_violation $ATTACKER $what" "$name: the record names the account and what was wrong"
  list=$(relay_list dg-admin); ok $? "$name: afterwards the gate still serves a valid request"
  is "$(printf '%s\n' "$list" | sed -n 1p)" "${WANT_LIST:-$RL0}" "$name: the transfer list is byte-identical"
}

ID1HEX=$(strhex "$ID1")
attack "(a) MSG_COMMIT while idle" "request 8 not allowed in state 1" \
  "TEXT M$(msg $MSG_COMMIT "$(u64 4096)")"
attack "(b) unknown type 9999" "unknown request type 9999" \
  "TEXT M$(msg 9999 "$(str "")")"
attack "(c) len field larger than the datagram" "malformed message header \\(12 bytes\\)" \
  "TEXT M$(u32 $MSG_LIST)$(u32 8)$(u32 0)"
attack "(c') len field smaller than the datagram" "malformed message header \\(16 bytes\\)" \
  "TEXT M$(u32 $MSG_LIST)$(u32 4)$(u32 0)$(u32 0)"
attack "(c'') datagram shorter than a header" "malformed message header \\(3 bytes\\)" \
  "TEXT M020000"
attack "(d) MSG_LIST with trailing bytes" "malformed list" \
  "TEXT M$(msg $MSG_LIST "$(str "")00")"
attack "(e) MSG_LIST carrying an fd" "request 2 carried a file descriptor" \
  "TEXT F$(msg $MSG_LIST "$(str "")")"
attack "(f) MSG_SHOW string length beyond the message" "malformed show" \
  "TEXT M$(msg $MSG_SHOW "$(u32 1000)$ID1HEX")"
# one byte over MSG_MAX (65600): the monitor's read is truncated
big=$(head -c $((65601 - 12)) /dev/zero | od -An -tx1 -v | tr -d ' \n')
attack "(g) datagram of MSG_MAX+1 bytes" "unreadable message" \
  "TEXT M$(u32 $MSG_LIST)$(u32 $((65601 - 8)))$(u32 $((65601 - 12)))$big"
# (i) a reason that is not UTF-8 (the real session refuses it; a
# compromised one sends it): the session ends, nothing is recorded but the
# violation, and the gate keeps running and restarts (it used to abort on
# the record and then refuse to replay it).
attack "(i) MSG_SUBMIT whose reason is not UTF-8" "submit reason is not valid UTF-8" \
  "TEXT P$(msg 1 "$(str crashdump)$(u32 4)626164ff$(str x)$(u32 1)")"
# (j) token enroll without a key but with key bytes, (k) with an account
# name the real session never sends: both end the session before anything
# is checked or recorded about tokens.
MSG_TOKEN_ENROLL=11
attack "(j) MSG_TOKEN_ENROLL with has_key 0 and key bytes" "token enroll without a key carried key bytes" \
  "TEXT M$(msg $MSG_TOKEN_ENROLL "$(str dg-bob)$(str "")$(u32 0)00112233445566778899aabbccddeeff")"
attack "(k) MSG_TOKEN_ENROLL for an account name with a newline" "malformed token enroll" \
  "TEXT M$(msg $MSG_TOKEN_ENROLL "$(str "dg-bob
x")$(str "")$(u32 0)00000000000000000000000000000000")"
# twin: the same message with a valid account is served (refused as not
# an admin, an answer, no violation)
nl=$(violations_logged)
out=$(printf '%s\n' "TEXT M$(msg $MSG_TOKEN_ENROLL "$(str dg-bob)$(str "")$(u32 0)00000000000000000000000000000000")" | relay dg-mallory)
like "$out" '^R ' "twin: a well-formed token enroll from a non-admin is answered"
is "$(violations_logged)" "$nl" "twin: and is no violation"
gate_stop
# (gate_start's readiness probe speaks the real protocol, not the relay's)
"$T/bin/dumpgated" --config "$CONF" --foreground 2>>"$T/gated.log" &
GATE_PID=$!
for _ in $(seq 1 100); do
  [ -S "$SOCK" ] && relay_list dg-admin >/dev/null 2>&1 && break
  sleep 0.1
done
kill -0 "$GATE_PID" 2>/dev/null && relay_list dg-admin >/dev/null 2>&1
ok $? "(i) the gate restarts after it: its log replays"

# (h) needs a request the monitor holds.  Connection A (dg-alice) starts an
# upload from a pipe the relay never writes to ("P"): the transfer stays
# `submitted` and a wait on it from connection B is outstanding.
MSG_SUBMIT=1
mkfifo -m 600 "$T/a.in"
relay dg-alice < "$T/a.in" > "$T/a.out" 2>&1 &
A_SH=$!
exec 9> "$T/a.in"
on_exit "exec 9>&-; pkill -P $A_SH 2>/dev/null"
echo "TEXT P$(msg $MSG_SUBMIT "$(str crashdump)$(str "INC-3 held upload")$(str held)$(u32 1)")" >&9
HID=
for _ in $(seq 1 50); do
  HID=$(relay_list dg-admin | sed -n 1p | jq -r '.[] | select(.state == "submitted") | .id')
  [ -n "$HID" ] && break
  sleep 0.1
done
like "$HID" '^[0-9a-f]{32}$' "(h) setup: a held upload is a submitted transfer"
RLH=$(relay_list dg-admin | sed -n 1p)
WANT_LIST=$RLH
ATTACKER=dg-alice
attack "(h) a second request while a wait is outstanding" "request 2 not allowed in state 4" \
  "TEXT M$(msg $MSG_WAIT "$(str "$HID")$(u32 10)")" \
  "TEXT M$(msg $MSG_LIST "$(str "")")"
attack "(h') MSG_COMMIT while a wait is outstanding" "request 8 not allowed in state 4" \
  "TEXT M$(msg $MSG_WAIT "$(str "$HID")$(u32 10)")" \
  "TEXT M$(msg $MSG_COMMIT "$(u64 1)")"
# (h'') and on connection A itself: a request while its upload runs.
WANT_LIST=
nl=$(violations_logged); na=$(violations_audited)
echo "TEXT M$(msg $MSG_WAIT "$(str "$HID")$(u32 10)")" >&9
timeout 10 tail --pid="$A_SH" -f /dev/null
exec 9>&-
check_violation "(h'') a wait while the same session's upload runs" "request 4 not allowed in state 2" \
  "$(grep -v '^R ' "$T/a.out")" "$nl" "$na"
ab=$(jq -c --arg id "$HID" 'select(.transfer == $id and .event == "aborted")' "$LOG")
like "$(printf '%s' "$ab" | jq -r .details.reason)" "session ended" \
  "(h'') the upload of the ended session is aborted with a reason"
is "$(find "$T/state/spool" -name "$HID*" | wc -l)" 0 "(h'') nothing of it is left in the spool"
ATTACKER=dg-mallory

# No session of those connections is left behind.
left=
for _ in $(seq 1 20); do left=$(pgrep -P "$GATE_PID"); [ -z "$left" ] && break; sleep 0.1; done
is "$left" "" "no hostile session outlives its violation"
ok $(kill -0 "$GATE_PID" 2>/dev/null; echo $?) "the monitor is still running"
gate_stop

# ---- phase 3: back to the real session on the same state
unset SESSION_PROGRAM
write_config
gate_start || bail "dumpgated with the real session did not start again"
is "$(dg dg-admin list --json)" "$LIST0" "after all attacks, list --json through the real session is byte-identical"
out=$("$T/bin/dumpgate" audit verify "$LOG"); ok $? "the audit chain verifies ($out)"
dg dg-admin show "$HID" >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "the held upload's transfer does not exist"
done_testing
