#!/usr/bin/env bash
# otp-lockout: with otp_max_failures = 3 and otp_lockout = 5s, three bad
# OTPs in a row from dg-bob lock dg-bob (an account_locked record): while
# locked, even a valid OTP is refused (locked) without being checked or
# spent, and dg-carol approves as usual; once the lock ends the same valid
# OTP approves and the count starts again.  The lockout belongs to the
# account that typed, never to the token: dg-mallory typing bad OTPs that
# carry bob's public id locks dg-mallory (also across a gate restart),
# and dg-bob approves right after.  The count of failures in a row is
# rebuilt from the log: two failures, a restart, a third locks.
. "$DG_SRC/tests/lib/lib.sh"

EXTRA_LIMITS="otp_max_failures = 3
otp_lockout = 5s"
gate_init
# a profile dg-mallory may submit with, so that she sees a transfer she
# can try to approve
text_profile open dg-mallory "dg-bob dg-carol" 1
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null 2>&1 || bail "cannot enrol bob's softkey"
enroll dg-carol carol >/dev/null 2>&1 || bail "cannot enrol carol's softkey"
BOB=$(pubid bob)

# ---- refuses: three bad OTPs lock dg-bob
id=$(pending_transfer dg-alice logs) || bail "no pending transfer"
seq0=$(audit_seq)
for i in 1 2; do
  approve_refused bad_otp "dg-bob's bad OTP $i" dg-bob "$id" "$(otp_flip "$(otp bob)")"
  like "$OUT" "failed OTP $i of 3 for account dg-bob" "the message counts the failure ($i of 3)"
done
is "$(audit_since "$seq0" '.event == "account_locked"' | wc -l)" 0 "two failures do not lock"
approve_refused bad_otp "dg-bob's bad OTP 3" dg-bob "$id" "$(otp_flip "$(otp bob)")"
like "$OUT" "account dg-bob is now locked until" "the third failure locks dg-bob, and says until when"
lock=$(audit_since "$seq0" '.event == "account_locked"')
is "$(jq -r '.details.account + " " + (.details.failures | tostring)' <<<"$lock")" "dg-bob 3" \
  "one account_locked record: dg-bob after 3 failures"
until_s=$(date -d "$(jq -r .details.until <<<"$lock")" +%s)
locked_at=$(date -d "$(jq -r .time <<<"$lock")" +%s)
[ $((until_s - locked_at)) -ge 4 ] && [ $((until_s - locked_at)) -le 5 ]
ok $? "locked for otp_lockout (5 s; until $until_s, record at $locked_at)"

good=$(otp bob)
seq1=$(audit_seq)
approve_refused locked "dg-bob with a valid OTP while locked" dg-bob "$id" "$good"
like "$OUT" "locked until" "the message says until when"
is "$(audit_since "$seq1" '.event == "otp_spent"' | wc -l)" 0 "the valid OTP was not checked (not spent)"

# ---- accepts: others go on
c=$(pending_transfer dg-alice logs) || bail "no pending transfer"
approve dg-carol "$c" carol >/dev/null 2>&1
ok $? "dg-carol approves while dg-bob is locked"

# ---- accepts: after the lock, the same valid OTP
rc=1
for _ in $(seq 1 40); do
  if approve_otp dg-bob "$id" "$good" >"$T/late.out" 2>&1; then rc=0; break; fi
  sleep 0.5
done
done_at=$(date +%s)
is "$rc" 0 "once the lock is over, dg-bob approves with the OTP refused while locked"
[ "$done_at" -ge "$until_s" ] && [ "$done_at" -le $((until_s + 3)) ]
ok $? "that happened when the lock ended (at $done_at, lock until $until_s)"
is "$(cat "$T/late.out")" "approved: $id (1 of 1 persons)" "approve says approved"
i2=$(pending_transfer dg-alice logs) || bail "no pending transfer"
approve_refused bad_otp "dg-bob's next bad OTP" dg-bob "$i2" "$(otp_flip "$(otp bob)")"
like "$OUT" "failed OTP 1 of 3 for account dg-bob" "counts from 1 again (the lock reset the count)"
unlike "$OUT" "locked" "and does not lock"
approve dg-bob "$i2" bob >/dev/null 2>&1
ok $? "a valid OTP right after approves (and resets the count)"

# ---- refuses: dg-mallory typing bob's public id locks dg-mallory, not dg-bob
m=$(pending_transfer dg-mallory open) || bail "no pending transfer of dg-mallory"
seq0=$(audit_seq)
for i in 1 2 3; do
  bad=$(otp_flip "$(otp bob)")
  approve_refused bad_otp "dg-mallory types a bad OTP with bob's public id ($i)" dg-mallory "$m" "$bad"
done
like "$bad" "^$BOB" "setup: those OTPs carry bob's public id"
like "$OUT" "account dg-mallory is now locked" "the third locks dg-mallory"
is "$(audit_since "$seq0" '.event == "account_locked"' | jq -r .details.account)" dg-mallory \
  "the only account_locked record names dg-mallory"
locked_at=$(date +%s)
gate_stop
gate_start || bail "dumpgated did not start again"
[ $(($(date +%s) - locked_at)) -lt 4 ]
ok $? "setup: the gate restarted well within the lock (5 s)"
approve_refused locked "dg-mallory after a gate restart" dg-mallory "$m" "$(otp_flip "$(otp bob)")"
out=$(approve dg-bob "$m" bob 2>&1)
ok $? "dg-bob approves right after with a fresh OTP: his account was never locked"
is "$out" "approved: $m (1 of 1 persons)" "approve says approved"
is "$(audit_json | jq -r 'select(.event == "account_locked") | .details.account' | paste -sd ' ')" "dg-bob dg-mallory" \
  "in all, dg-bob was locked once (his own bad OTPs) and dg-mallory once"

# ---- the count of failures in a row survives a restart (it is rebuilt
# from the log): two before, the third after locks dg-carol
k=$(pending_transfer dg-alice logs) || bail "no pending transfer"
for i in 1 2; do
  approve_refused bad_otp "dg-carol's bad OTP $i before a restart" dg-carol "$k" "$(otp_flip "$(otp carol)")"
done
unlike "$OUT" "locked" "two failures do not lock dg-carol"
gate_stop
gate_start || bail "dumpgated did not start again"
approve_refused bad_otp "dg-carol's bad OTP 3 after the restart" dg-carol "$k" "$(otp_flip "$(otp carol)")"
like "$OUT" "failed OTP 3 of 3 for account dg-carol" "the restart kept the count (3 of 3)"
like "$OUT" "account dg-carol is now locked" "and the third failure locks dg-carol"

done_testing
