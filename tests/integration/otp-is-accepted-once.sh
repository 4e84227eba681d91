#!/usr/bin/env bash
# otp-is-accepted-once: an OTP of dg-bob's enrolled softkey approves a
# transfer (profile logs, 1 approval: approved, then released) and is spent
# (an otp_spent record with its counter and use).  Refused, each with its
# code in a request_refused record and the transfer left pending: the same
# OTP again (also after a gate restart, and after the token was revoked and
# the same device enrolled again), an older unused OTP once a newer one was
# used, a lower session counter (with a higher use) after a higher one, the
# caps-lock variant of a spent OTP (same counter and use), a flipped
# character, a truncated OTP, a wrong public id (unknown, or carol's in
# front of bob's token), and carol's OTP typed by bob (not_token_owner; it
# is spent, so carol cannot use it either).  Accepted: a fresh caps-lock
# OTP typed in upper case (the CLI lowercases it).
. "$DG_SRC/tests/lib/lib.sh"

# Many refused OTPs in a row here; the lockout has its own test.
EXTRA_LIMITS="otp_max_failures = 1000"
gate_init
gate_start || bail "dumpgated did not start"

out=$(enroll dg-bob bob 2>&1)
ok $? "dg-admin enrols a softkey for dg-bob"
BOB=$(pubid bob)
like "$out" "enrolled: $BOB for dg-bob" "enroll names the public id and the account"
enroll dg-carol carol >/dev/null 2>&1
ok $? "dg-admin enrols a softkey for dg-carol"
CAROL=$(pubid carol)

# ---- accepts: a fresh OTP approves once
id=$(pending_transfer dg-alice logs) || bail "no pending transfer"
sha=$(tfield "$id" sha256)
o1=$(otp bob)
c1=$(counters bob)
seq0=$(audit_seq)
out=$(approve_otp dg-bob "$id" "$o1" 2>&1)
ok $? "dg-bob approves a logs transfer with a fresh OTP"
is "$out" "approved: $id (1 of 1 persons)" "approve says it is approved, 1 of 1 persons"
spent=$(audit_since "$seq0" '.event == "otp_spent"')
is "$(jq -r '[.details.public_id, .details.counter, .details.use, .details.account, .details.purpose, .transfer] | join(" ")' <<<"$spent")" \
  "$BOB $c1 dg-bob approve $id" "one otp_spent record: bob's token, the OTP's counter and use, dg-bob, approve, the transfer"
is "$(audit_since "$seq0" '.event == "approval"' | jq -r '[.details.person, .details.account, .details.token, .details.sha256] | join(" ")')" \
  "dg-bob dg-bob $BOB $sha" "one approval record: person, account, token and the artifact's sha256"
is "$(await_state "$id" released)" released "the approved transfer is released"
is "$(tfield "$id" 'approvals | map(.account + " " + .token) | join(",")')" "dg-bob $BOB" "its approvals name dg-bob and his token"

# ---- refuses: the same OTP again
id2=$(pending_transfer dg-alice logs) || bail "no second pending transfer"
approve_refused replayed "the same OTP on another transfer" dg-bob "$id2" "$o1"
like "$OUT" "already used" "the message says the OTP was already used"
is "$(jq -r .transfer <<<"$REFUSAL")" "$id2" "the refusal names the transfer"
approve_refused replayed "the same OTP on the transfer it approved" dg-bob "$id" "$o1"

gate_stop
gate_start || bail "dumpgated did not start again"
approve_refused replayed "the same OTP after a gate restart" dg-bob "$id2" "$o1"

out=$(dg dg-admin token revoke "$BOB" 2>&1)
ok $? "dg-admin revokes bob's token"
approve_refused unknown_token "an OTP of the revoked token" dg-bob "$id2" "$(otp bob)"
out=$(enroll dg-bob bob 2>&1)
ok $? "dg-admin enrols the same device (same public id, its counters go on) again"
is "$(pubid bob)" "$BOB" "it has the same public id"
approve_refused replayed "the first OTP after revoke and re-enrolment" dg-bob "$id2" "$o1"

# ---- refuses: an older unused OTP once a newer one was used
oa=$(otp bob)
ob=$(otp bob)
id3=$(pending_transfer dg-alice logs) || bail "no pending transfer"
approve_otp dg-bob "$id3" "$ob" >/dev/null 2>&1
ok $? "the newer of two unused OTPs approves"
approve_refused replayed "the older unused OTP after the newer" dg-bob "$id2" "$oa"

# ---- refuses: a lower session counter (with a higher use) after a higher
otp bob >/dev/null
x=$(otp bob)
read -r cx ux <<<"$(counters bob)"
y=$(otp bob --new-session)
read -r cy uy <<<"$(counters bob)"
[ "$cy" -gt "$cx" ] && [ "$ux" -gt "$uy" ]
ok $? "setup: y has the higher session counter ($cy > $cx), x the higher use ($ux > $uy)"
id4=$(pending_transfer dg-alice logs) || bail "no pending transfer"
approve_otp dg-bob "$id4" "$y" >/dev/null 2>&1
ok $? "the OTP of the newer session approves"
approve_refused replayed "an OTP of the older session with a higher use" dg-bob "$id2" "$x"

# ---- refuses: the caps-lock variant of a spent OTP
cp -p "$T/keys/bob.state" "$T/keys/bob.saved"
s=$(otp bob)
cs_counters=$(counters bob)
id5=$(pending_transfer dg-alice logs) || bail "no pending transfer"
approve_otp dg-bob "$id5" "$s" >/dev/null 2>&1
ok $? "an OTP approves"
cp -p "$T/keys/bob.saved" "$T/keys/bob.state"
caps=$(otp bob --caps-lock)
is "$(counters bob)" "$cs_counters" "setup: its caps-lock variant has the same counter and use"
[ "$caps" != "$s" ]
ok $? "setup: and is another text (the caps-lock bit is in the encrypted part)"
approve_refused replayed "the caps-lock variant of the spent OTP" dg-bob "$id2" "$caps"
approve_refused replayed "the same, typed in upper case" dg-bob "$id2" "$(tr a-z A-Z <<<"$caps")"

# ---- refuses: altered OTPs and wrong public ids (none of them spends)
o=$(otp bob)
approve_refused bad_otp "a flipped character" dg-bob "$id2" "$(otp_flip "$o")"
like "$OUT" "does not decrypt" "the message says it does not decrypt"
approve_refused bad_otp "a truncated OTP" dg-bob "$id2" "${o:0:43}"
approve_refused unknown_token "an unknown public id" dg-bob "$id2" "vvcccccccccc${o:12}"
approve_refused bad_otp "carol's public id in front of bob's token" dg-bob "$id2" "$CAROL${o:12}"

# ---- refuses: another account's token; the OTP is spent all the same
oc=$(otp carol)
seq0=$(audit_seq)
approve_refused not_token_owner "carol's OTP typed by dg-bob" dg-bob "$id2" "$oc"
is "$(audit_since "$seq0" '.event == "otp_spent"' | jq -r '[.details.public_id, .details.account] | join(" ")')" \
  "$CAROL dg-bob" "carol's OTP was spent (otp_spent: her token, typed by dg-bob)"
approve_refused replayed "that OTP typed by carol afterwards" dg-carol "$id2" "$oc"

is "$(tfield "$id2" state) $(tfield "$id2" 'approvals | length')" "pending 0" \
  "after all of that, the transfer is still pending with no approval"

# ---- accepts: the unaltered OTP, typed in upper case (the CLI lowercases)
out=$(approve_otp dg-bob "$id2" "$(tr a-z A-Z <<<"$o")" 2>&1)
ok $? "the unaltered OTP typed in upper case approves"
is "$out" "approved: $id2 (1 of 1 persons)" "approve says approved"
id6=$(pending_transfer dg-alice logs) || bail "no pending transfer"
out=$(approve_otp dg-bob "$id6" "$(otp bob --caps-lock | tr a-z A-Z)" 2>&1)
ok $? "a fresh caps-lock OTP typed in upper case approves"
is "$(await_state "$id6" released)" released "and that transfer is released"

done_testing
