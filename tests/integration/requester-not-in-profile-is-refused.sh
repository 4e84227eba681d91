#!/usr/bin/env bash
# requester-not-in-profile-is-refused: only the accounts and @groups in a
# profile's requesters may submit with it.  crashdump: @dg-engineers
# (dg-alice yes; dg-mallory and dg-bob no).  logs: dg-alice dg-dave, which
# lists accounts, not persons: dg-alice2 is refused though she is alice.
# Each refusal names the account and is audited; nothing is stored.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

dgt() { local u=$1; shift; as "$u" timeout 30 "$T/bin/dumpgate" "$@"; }
spool_count() { find "$T/state/spool" -mindepth 1 -maxdepth 1 | wc -l; }
ntransfers() { dg dg-admin list --json | jq length; }
refusals_of() { # ACCOUNT PROFILE: count of request_refused records
  jq -r --arg a "$1" --arg p "$2" \
    'select(.event == "request_refused" and .actor.account == $a and .details.op == "submit"
            and .details.code == "not_requester" and (.details.error | contains($p))) | .seq' \
    "$T/state/audit.log" | wc -l
}

f=$T/files/app.log
printf 'line one\nline two\n' > "$f"
chmod 644 "$f"

refused() { # ACCOUNT PROFILE
  local who=$1 prof=$2 out rc
  out=$(dgt "$who" submit --profile "$prof" --reason "INC-4" "$f" 2>&1)
  rc=$?
  is "$rc" 1 "$who may not submit with $prof (exit 1)"
  like "$out" "account $who may not submit with profile $prof \\(not in its requesters\\)" \
    "$who/$prof: the message says the account is not in the requesters"
  is "$(refusals_of "$who" "$prof")" 1 "$who/$prof: a request_refused audit record names $who"
  is "$(ntransfers)" "$n_ok" "$who/$prof: no transfer was created"
  is "$(spool_count)" "$n_ok" "$who/$prof: nothing new in the spool"
}
accepted() { # ACCOUNT PROFILE
  local who=$1 prof=$2 id
  id=$(dgt "$who" submit --profile "$prof" --reason "INC-4" "$f")
  ok $? "$who may submit with $prof"
  like "$id" '^[0-9a-f]{32}$' "$who/$prof: a transfer id is printed"
  like "$(dg dg-admin show "$id" --json | jq -r '.state + " " + .requester + " " + .profile')" \
    "^(stored|scanning|clean|pending) $who $prof\$" "$who/$prof: stored, with $who as requester"
  n_ok=$((n_ok + 1))
}

n_ok=0
# ---- crashdump: requesters = @dg-engineers
refused dg-mallory crashdump
refused dg-bob crashdump
accepted dg-alice crashdump

# ---- logs: requesters = dg-alice dg-dave (accounts, not persons)
refused dg-alice2 logs
accepted dg-dave logs
accepted dg-alice logs
refused dg-carol logs

# ---- unknown profile
out=$(dgt dg-alice submit --profile nosuchprofile --reason "INC-4" "$f" 2>&1)
rc=$?
is "$rc" 1 "an unknown profile is refused (exit 1)"
like "$out" 'no profile named "nosuchprofile"' "the message names the unknown profile"
is "$(ntransfers)" "$n_ok" "no transfer was created for the unknown profile"
is "$(jq -r 'select(.event == "request_refused" and .details.code == "profile") | .actor.account' "$T/state/audit.log")" \
  dg-alice "the unknown-profile refusal is audited with the account"

# A refused account is only refused, not cut off: mallory can still ask.
dgt dg-mallory list >/dev/null
ok $? "dg-mallory's next request is still answered"

done_testing
