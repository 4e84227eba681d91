#!/usr/bin/env bash
# oversized-submit-is-refused: profile logs has max_size = 1M.  One byte
# more is refused, as a file (before any byte is copied) and as a stream
# (while copying, with an `aborted` record), with a message naming
# max_size and nothing left in the spool.  Twin: exactly 1M is accepted.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

dgt() { local u=$1; shift; as "$u" timeout 30 "$T/bin/dumpgate" "$@"; }
spool_count() { find "$T/state/spool" -mindepth 1 -maxdepth 1 | wc -l; }
ntransfers() { dg dg-admin list --json | jq length; }
# A stored transfer goes on to be scanned (issue 3), later approved: here
# "stored" means it reached `stored` and is in no final state since.
STORED_RE='^(stored|scanning|clean|pending)$'
textfile() { # PATH BYTES: readable text of exactly BYTES bytes
  yes "a line of a perfectly ordinary log file" | head -c "$2" > "$1"
  chmod 644 "$1"
}

MB=1048576
big=$T/files/big.log
textfile "$big" $((MB + 1))
exact=$T/files/exact.log
textfile "$exact" $MB

# ---- refuses: a file of 1M + 1 bytes
out=$(dgt dg-alice submit --profile logs --reason "INC-2 file" "$big" 2>&1)
rc=$?
is "$rc" 1 "submit of a 1M+1 byte file exits 1"
like "$out" "max_size" "the message names max_size"
like "$out" "logs" "the message names the profile"
like "$out" "nothing was stored" "the message says nothing was stored"
unlike "$out" "^[0-9a-f]{32}$" "no transfer id is printed"
is "$(spool_count)" 0 "nothing is in the spool"
is "$(ntransfers)" 0 "list is empty"
is "$(dg dg-alice list --json | jq length)" 0 "list is empty for the requester too"
is "$(jq -r 'select(.event == "request_refused") | .details.code' "$T/state/audit.log")" too_large \
  "the refusal is in the audit log as request_refused (too_large)"

# ---- refuses: the same bytes streamed on stdin
out=$(dgt dg-alice submit --profile logs --reason "INC-2 stream" - < "$big" 2>&1)
rc=$?
is "$rc" 1 "a stream of 1M+1 bytes exits 1"
like "$out" "max_size" "the message names max_size"
like "$out" "nothing was stored" "the message says nothing was stored"
is "$(spool_count)" 0 "nothing is in the spool (no object, no .part)"
is "$(ntransfers)" 0 "list is still empty"
sid=$(jq -r 'select(.event == "submitted") | .transfer' "$T/state/audit.log")
like "$sid" '^[0-9a-f]{32}$' "the stream's intent was logged (submitted)"
is "$(jq -r --arg id "$sid" 'select(.transfer == $id) | .event' "$T/state/audit.log" | tr '\n' ' ')" \
  "submitted aborted " "the intent is cancelled by an aborted record and nothing was stored"
like "$(jq -r --arg id "$sid" 'select(.transfer == $id and .event == "aborted") | .details.reason' "$T/state/audit.log")" \
  "max_size" "the aborted record says why (max_size)"
out=$(dgt dg-alice show "$sid" 2>&1)
like "$out" "no transfer" "show of the aborted transfer says there is no such transfer"

# ---- accepts: exactly 1M
id=$(dgt dg-alice submit --profile logs --reason "INC-2 exact" "$exact")
ok $? "submit of exactly 1M succeeds"
like "$id" '^[0-9a-f]{32}$' "it prints a transfer id"
j=$(dg dg-alice show "$id" --json)
like "$(jq -r .state <<<"$j")" "$STORED_RE" "it is stored"
is "$(jq -r .size <<<"$j")" $MB "its size is 1M"
is "$(jq -r .type <<<"$j")" text "its type is text"
is "$(jq -r .sha256 <<<"$j")" "$(sha256sum < "$exact" | cut -d' ' -f1)" "its sha256 is the file's"
is "$(spool_count)" 1 "the spool holds one object"

# ---- accepts: exactly 1M streamed
id2=$(dgt dg-alice submit --profile logs --reason "INC-2 exact stream" - < "$exact")
ok $? "a stream of exactly 1M succeeds"
like "$(dg dg-alice show "$id2" --json | jq -r .state)" "$STORED_RE" "it is stored"
is "$(ntransfers)" 2 "list holds the two accepted transfers only"

done_testing
