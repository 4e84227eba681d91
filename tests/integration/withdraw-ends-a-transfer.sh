#!/usr/bin/env bash
# withdraw-ends-a-transfer: the requester's person, and only that person,
# withdraws a transfer that is not final; a waiting `wait` then returns 14;
# a final transfer cannot be withdrawn again; `wait --timeout` on a
# non-final transfer exits 3.  Visibility: an outsider is told there is no
# such transfer, an admin sees it.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

dgt() { local u=$1; shift; as "$u" timeout 30 "$T/bin/dumpgate" "$@"; }
state_of() { dg dg-admin show "$1" --json | jq -r .state; }
# A stored transfer goes on to be scanned (issue 3), later approved: here
# "stored" means it reached `stored` and is in no final state since.
STORED_RE='^(stored|scanning|clean|pending)$'

f=$T/files/core.bin
mkfile "$f" 100000
id=$(dgt dg-alice submit --profile crashdump --reason "INC-6" "$f")
like "$id" '^[0-9a-f]{32}$' "dg-alice submitted a transfer"
st=$(settle_one "$id")
like "$st" "$STORED_RE" "it is stored and not final (now $st)"

# ---- visibility
out=$(dgt dg-mallory show "$id" 2>&1)
rc=$?
is "$rc" 1 "dg-mallory cannot show it (exit 1)"
like "$out" "no transfer $id" "dg-mallory is told there is no such transfer"
unlike "$out" "dg-alice|INC-6|crashdump" "nothing about the transfer leaks to dg-mallory"
is "$(dgt dg-mallory list --json | jq length)" 0 "dg-mallory's list is empty"
is "$(dgt dg-admin show "$id" --json | jq -r .id)" "$id" "dg-admin sees it"
is "$(dgt dg-auditor show "$id" --json | jq -r .id)" "$id" "dg-auditor sees it"
is "$(dgt dg-alice2 show "$id" --json | jq -r .id)" "$id" "dg-alice2 (same person) sees it"

# ---- wait --timeout on a stored transfer: not final, exit 3
t0=$(date +%s)
out=$(dgt dg-alice wait "$id" --timeout 1 2>&1)
rc=$?
is "$rc" 3 "wait --timeout 1 on a stored transfer exits 3"
like "$out" "^$st" "wait prints the transfer's (non-final) state"
like "$out" "is still $st after 1 s" "and says it is not final yet"
[ $(( $(date +%s) - t0 )) -le 5 ]
ok $? "wait --timeout 1 returned within a few seconds"

# ---- a wait that is running when the transfer is withdrawn
as dg-alice timeout 30 "$T/bin/dumpgate" wait "$id" >"$T/wait.out" 2>"$T/wait.err" &
wpid=$!
sleep 1
kill -0 "$wpid" 2>/dev/null
ok $? "wait blocks while the transfer is stored"

# ---- refuses: another person
out=$(dgt dg-dave withdraw "$id" 2>&1)
rc=$?
is "$rc" 1 "dg-dave (another person, an approver who sees it) cannot withdraw it"
like "$out" "only the requester may withdraw transfer $id" "the message says only the requester may withdraw"
is "$(state_of "$id")" "$st" "the state is unchanged"
is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "request_refused") | .actor.account' "$T/state/audit.log")" \
  dg-dave "the refused withdraw is audited with dg-dave as actor"
out=$(dgt dg-mallory withdraw "$id" 2>&1)
rc=$?
is "$rc" 1 "dg-mallory cannot withdraw it"
like "$out" "no transfer $id" "dg-mallory is told there is no such transfer"
is "$(state_of "$id")" "$st" "the state is still unchanged"
kill -0 "$wpid" 2>/dev/null
ok $? "the refused withdraws did not end the wait"

# ---- accepts: the same person from her other account
out=$(dgt dg-alice2 withdraw "$id" 2>&1)
ok $? "dg-alice2 (same person as dg-alice) withdraws it"
like "$out" "withdrawn" "withdraw says so"
is "$(state_of "$id")" withdrawn "the state is withdrawn"
j=$(dg dg-admin show "$id" --json)
like "$(jq -r .final_reason <<<"$j")" "withdrawn" "final_reason says it was withdrawn"
is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "withdrawn") | .actor.account' "$T/state/audit.log")" \
  dg-alice2 "a withdrawn audit record names dg-alice2"

wrc=124
for _ in $(seq 1 50); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
wait "$wpid"
wrc=$?
is "$wrc" 14 "the running wait returned with exit 14 (withdrawn)"
is "$(cat "$T/wait.out")" withdrawn "the running wait printed withdrawn"

# ---- refuses: withdraw of a final transfer
out=$(dgt dg-alice withdraw "$id" 2>&1)
rc=$?
is "$rc" 1 "withdraw of a withdrawn transfer is refused"
like "$out" "already withdrawn" "the message says it is already withdrawn"
is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "withdrawn") | .seq' "$T/state/audit.log" | wc -l)" 1 \
  "there is still exactly one withdrawn record"

# ---- wait on a final transfer returns at once
out=$(dgt dg-alice wait "$id" --timeout 60 2>&1)
rc=$?
is "$rc" 14 "wait on a withdrawn transfer exits 14 at once"

done_testing
