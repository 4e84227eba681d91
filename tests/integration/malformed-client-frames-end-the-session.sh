#!/usr/bin/env bash
# malformed-client-frames-end-the-session.sh - the client protocol is strict
# (gate/proto.h): invalid JSON, an unknown op, "v":2, an extra key, an
# unknown frame type, an oversized frame, a commit without a submit and a
# second request while one is outstanding each get an 'E' frame with
# ok false and the connection is closed; the gate's state does not change
# and it keeps answering.
# Accepts twin: a valid status request gets ok true and the session stays.
. "${DG_SRC:?}/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

mkfile "$T/files/a" 2000
ID=$(dg dg-alice submit --profile crashdump --reason "INC-4 frames" "$T/files/a")
like "$ID" '^[0-9a-f]{32}$' "a transfer is stored"
# Scans move transfers on by themselves: wait until none is in a state the
# gate leaves without a person acting, so that only the frames below could
# change the list.
settle_all || bail "the transfer did not settle_all within 30 s"
LIST0=$(dg dg-admin list --json)
WANT_LIST=$LIST0

# rawclient as dg-alice; commands on stdin
raw() { as dg-alice timeout 20 "$T/bin/dg-rawclient" "$SOCK"; }
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

# session children of the gate (argv[0] dumpgate-session; not scanners)
n_sessions() {
  local p n=0
  for p in $(pgrep -P "$GATE_PID"); do
    [ "$(tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | head -n 1)" = dumpgate-session ] && n=$((n + 1))
  done
  echo $n
}
BASE_SESSIONS=0 # sessions that are meant to stay (a paused upload's)
sessions_gone() {
  local i
  for i in $(seq 1 30); do [ "$(n_sessions)" = "$BASE_SESSIONS" ] && return 0; sleep 0.1; done
  return 1
}

# refused NAME ERROR-REGEX LINES...
refused() {
  local name=$1 err=$2 out e; shift 2
  out=$(printf '%s\n' "$@" | raw)
  e=$(printf '%s\n' "$out" | grep '^E ' | tail -n 1)
  is "$(printf '%s' "${e#E }" | jq -r '.ok' 2>/dev/null)" false "$name: an E frame with ok false"
  like "$(printf '%s' "${e#E }" | jq -r '.error' 2>/dev/null)" "$err" "$name: the error says why"
  diag "$name: ${e#E }"
  is "$(printf '%s\n' "$out" | tail -n 1)" EOF "$name: then the session closes the connection"
  sessions_gone; ok $? "$name: the session process is gone"
  is "$(dg dg-admin list --json)" "$WANT_LIST" "$name: list --json is unchanged"
  out=$(dg dg-alice status); ok $? "$name: the gate still answers"
}

# ---- accepts twin
out=$(printf '%s\n' 'Q {"v":1,"op":"status"}' | raw)
like "$out" '^E \{"ok":true' 'twin: Q {"v":1,"op":"status"} gets E ok true'
unlike "$out" 'EOF' "twin: and the session keeps the connection"

# ---- refuses
refused "invalid JSON" "JSON" 'Q {"v":1,"op":"status"'
refused "not an object" "not a JSON object" 'Q ["v",1]'
refused "unknown op" "unknown op" 'Q {"v":1,"op":"frobnicate"}'
refused '"v":2' "version" 'Q {"v":2,"op":"status"}'
refused "missing v" "missing key" 'Q {"op":"status"}'
refused "an extra key" "unknown key" 'Q {"v":1,"op":"status","extra":1}'
refused "a duplicate key" "duplicate key" 'Q {"v":1,"op":"status","op":"status"}'
refused "a wrong JSON type" "not an integer" 'Q {"v":"1","op":"status"}'
refused "trailing bytes after the JSON" "trailing" "RAW $(hex 'Q{"v":1,"op":"status"}x')"
refused "frame type Z" "expected a request frame" "RAW $(hex 'Z{"v":1,"op":"status"}')"
# An empty datagram reads as a hang-up (recv returns 0): no 'E' is owed,
# but the connection must still end.
out=$(printf 'RAW \n' | raw)
is "$(printf '%s\n' "$out" | tail -n 1)" EOF "an empty frame: the session closes the connection"
unlike "$out" '^E \{"ok":true' "an empty frame: nothing is served"
sessions_gone; ok $? "an empty frame: the session process is gone"
refused "a 70000-byte frame" "too large" "BIG 70000"
refused "a frame one byte over the limit (65537)" "too large" "BIG 65537"
refused "a commit frame with no submit outstanding" "expected a request" "RAW $(hex 'C{"bytes":0}')"
refused "a list with an fd" "fd|file|pipe" "FD $T/files/a" 'Q {"v":1,"op":"list"}'
# A wait is outstanding only on a transfer that is not final: an upload
# paused mid-stream (a FIFO whose writer the test holds) is one.
FIFO=$T/files/stream
mkfifo -m 644 "$FIFO"
exec 7<>"$FIFO"
on_exit 'exec 7>&-'
dg dg-alice submit --profile crashdump --reason "INC-4 held" - < "$FIFO" > /dev/null 2>&1 7>&- &
HELD=$!
printf 'partial' >&7
HID=
for _ in $(seq 1 50); do
  HID=$(dg dg-admin list --json | jq -r '.[] | select(.state == "submitted") | .id')
  [ -n "$HID" ] && break
  sleep 0.1
done
like "$HID" '^[0-9a-f]{32}$' "(setup) a paused upload is a submitted transfer"
WANT_LIST=$(dg dg-admin list --json)
BASE_SESSIONS=1
refused "two requests while a wait is outstanding" "outstanding" \
  "Q {\"v\":1,\"op\":\"wait\",\"id\":\"$HID\",\"timeout\":10}" 'Q {"v":1,"op":"status"}'
refused "a commit while a wait is outstanding" "outstanding" \
  "Q {\"v\":1,\"op\":\"wait\",\"id\":\"$HID\",\"timeout\":10}" "RAW $(hex 'C{"bytes":0}')"
refused "a list while a wait is outstanding" "outstanding" \
  "Q {\"v\":1,\"op\":\"wait\",\"id\":\"$HID\",\"timeout\":10}" 'Q {"v":1,"op":"list"}'
# end the paused upload: its client goes (the FIFO's writer stays open, or
# the upload would end as a complete file), the gate aborts it
pkill -P "$HELD" 2>/dev/null
wait "$HELD" 2>/dev/null
for _ in $(seq 1 50); do [ "$(dg dg-admin list --json)" = "$LIST0" ] && break; sleep 0.1; done
is "$(dg dg-admin list --json)" "$LIST0" "after the paused upload is abandoned, list --json is as before"
exec 7>&-

done_testing
