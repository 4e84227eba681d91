#!/usr/bin/env bash
# deny-expire-withdraw-pending: how a transfer waiting for approval ends
# without being approved.  Deny: an approver of the profile (dg-bob) or an
# admin denies; the transfer is denied (final, with the reason and a
# denied record) and a running `wait` exits 12.  Refused: deny by
# dg-mallory (not_found: she does not see it), by the requester (not an
# approver: not_approver), of a final transfer ("already denied"), and an
# approval of a denied transfer (not_pending).  Expiry: with a profile
# expiry of 2 s an unapproved transfer is expired 2-3 s after it started
# waiting (`wait` exits 13) and cannot be approved; one approved at once
# is released instead.  Withdraw: the requester withdraws a pending
# transfer (after one approval of two); it cannot be approved then
# (not_pending) nor denied.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
text_profile short "dg-alice dg-dave" "dg-bob dg-carol" 1 2s
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null 2>&1 || bail "cannot enrol bob's softkey"
enroll dg-carol carol >/dev/null 2>&1 || bail "cannot enrol carol's softkey"

# wait_bg ID NAME: a `dumpgate wait ID` of dg-alice in the background,
# output in $T/NAME.out; its pid in WPID
wait_bg() {
  as dg-alice timeout 30 "$T/bin/dumpgate" wait "$1" >"$T/$2.out" 2>"$T/$2.err" &
  WPID=$!
}
# wait_rc: the exit status of the background wait (at most 10 s more)
wait_rc() {
  local i
  for i in $(seq 1 100); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
  wait "$WPID"
}

# ---- deny
d=$(pending_transfer dg-alice logs) || bail "no pending transfer"
wait_bg "$d" deny
refused not_found "dg-mallory denies" dg-mallory deny "$d" --reason "no"
like "$OUT" "no transfer $d" "dg-mallory is told there is no such transfer"
refused not_approver "dg-alice (the requester) denies" dg-alice deny "$d" --reason "changed my mind"
like "$OUT" "withdraw" "the message points her to withdraw"
is "$(tfield "$d" state)" pending "the transfer is still pending"
kill -0 "$WPID" 2>/dev/null
ok $? "the wait goes on"

seq0=$(audit_seq)
out=$(dg dg-bob deny "$d" --reason "contains customer data" 2>&1)
ok $? "dg-bob (an approver of logs) denies it"
is "$out" "denied: $d" "deny says denied"
is "$(tfield "$d" state)" denied "the state is denied"
is "$(tfield "$d" final_reason)" "contains customer data" "final_reason is the deny reason"
is "$(audit_since "$seq0" '.event == "denied"' | jq -r '[.transfer, .actor.account, .details.reason] | join(" ")')" \
  "$d dg-bob contains customer data" "a denied record names the transfer, dg-bob and the reason"
wait_rc
is "$?" 12 "the running wait exits 12 (denied)"
is "$(cat "$T/deny.out")" denied "and prints denied"

out=$(dg dg-carol deny "$d" --reason "again" 2>&1)
is "$?" 1 "denying a denied transfer is refused"
like "$out" "already denied" "the message says it is already denied"
approve_refused not_pending "dg-bob approves the denied transfer" dg-bob "$d" "$(otp bob)"
like "$OUT" "is denied, not waiting for approval" "the message says it is denied"

a=$(pending_transfer dg-alice logs) || bail "no pending transfer"
out=$(dg dg-admin deny "$a" --reason "by the admin" 2>&1)
ok $? "dg-admin (not an approver) denies a pending transfer"
is "$(tfield "$a" state)" denied "it is denied"

# ---- expiry
e=$(pending_transfer dg-alice short) || bail "no pending transfer of profile short"
wait_bg "$e" expire
is "$(await_state "$e" expired 10)" expired "a short transfer nobody approves expires"
pend=$(audit_json | jq -r --arg id "$e" 'select(.transfer == $id and .event == "pending") | .time')
expd=$(audit_json | jq -r --arg id "$e" 'select(.transfer == $id and .event == "expired") | .time')
dt=$(($(date -d "$expd" +%s) - $(date -d "$pend" +%s)))
[ "$dt" -ge 2 ] && [ "$dt" -le 3 ]
ok $? "2 to 3 s after it started waiting (pending $pend, expired $expd)"
is "$(tfield "$e" expires)" "$(date -u -d "@$(($(date -d "$pend" +%s) + 2))" +%Y-%m-%dT%H:%M:%SZ)" \
  "show --json gave it expires = pending + 2 s"
like "$(tfield "$e" final_reason)" "expired" "final_reason says it expired"
wait_rc
is "$?" 13 "the running wait exits 13 (expired)"
approve_refused not_pending "dg-bob approves the expired transfer" dg-bob "$e" "$(otp bob)"

q=$(pending_transfer dg-alice short) || bail "no pending transfer of profile short"
out=$(approve dg-bob "$q" bob 2>&1)
ok $? "dg-bob approves a short transfer at once"
is "$(await_state "$q" released)" released "it is released"

# ---- withdraw while pending
w=$(pending_transfer dg-alice crashdump) || bail "no pending transfer of profile crashdump"
approve dg-bob "$w" bob >/dev/null 2>&1
ok $? "dg-bob approves a crashdump transfer (1 of 2)"
out=$(dg dg-alice withdraw "$w" 2>&1)
ok $? "dg-alice (the requester) withdraws it while it is pending"
is "$(tfield "$w" state)" withdrawn "it is withdrawn"
approve_refused not_pending "dg-carol approves the withdrawn transfer" dg-carol "$w" "$(otp carol)"
like "$OUT" "is withdrawn, not waiting for approval" "the message says it is withdrawn"
out=$(dg dg-bob deny "$w" --reason "late" 2>&1)
is "$?" 1 "denying the withdrawn transfer is refused"
like "$out" "already withdrawn" "the message says it is already withdrawn"
is "$(tfield "$w" 'approvals | length')" 1 "it keeps the one approval it had"

done_testing
