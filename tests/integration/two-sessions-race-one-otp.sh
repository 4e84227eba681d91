#!/usr/bin/env bash
# two-sessions-race-one-otp: one OTP sent by two sessions at once (dg-bob
# on two pending transfers, started together from a barrier) approves
# exactly one transfer; the other session is refused (replayed) and its
# transfer stays pending with no approval.  Five rounds, then the same race
# on one transfer.  Accepted: each loser is approved with a fresh OTP.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null 2>&1 || bail "cannot enrol bob's softkey"

# race OTP ID1 ID2: dg-bob approves ID1 and ID2 with OTP at the same time
# (both wait for a line on one pipe, then go); prints "RC1 RC2"
race() {
  local o=$1 sha1 sha2 p1 p2 rc1 rc2 go
  sha1=$(tfield "$2" sha256)
  sha2=$(tfield "$3" sha256)
  rm -f "$T/go"
  mkfifo "$T/go"
  exec {go}<>"$T/go" # read-write: never blocks
  { read -r -u "$go" _; approve_otp dg-bob "$2" "$o" "$sha1" >"$T/r1.out" 2>&1; } &
  p1=$!
  { read -r -u "$go" _; approve_otp dg-bob "$3" "$o" "$sha2" >"$T/r2.out" 2>&1; } &
  p2=$!
  printf 'go\ngo\n' >&"$go"
  wait "$p1"
  rc1=$?
  wait "$p2"
  rc2=$?
  exec {go}>&-
  echo "$rc1 $rc2"
}

for round in 1 2 3 4 5; do
  a=$(pending_transfer dg-alice logs) || bail "no pending transfer"
  b=$(pending_transfer dg-dave logs) || bail "no pending transfer"
  o=$(otp bob)
  seq0=$(audit_seq)
  rcs=$(race "$o" "$a" "$b")
  like "$rcs" '^(0 1|1 0)$' "round $round: exactly one of the two sessions succeeds ($rcs)"
  if [ "$rcs" = "0 1" ]; then win=$a lose=$b out=$T/r2.out; else win=$b lose=$a out=$T/r1.out; fi
  like "$(cat "$out")" "already used" "round $round: the other is told the OTP was already used"
  is "$(audit_since "$seq0" '.event == "request_refused"' | jq -r '.details.code + " " + .transfer')" "replayed $lose" \
    "round $round: one request_refused record (replayed) for the losing transfer"
  is "$(audit_since "$seq0" '.event == "otp_spent"' | wc -l) $(audit_since "$seq0" '.event == "approval"' | jq -r .transfer)" \
    "1 $win" "round $round: the OTP was spent once and approved the winning transfer only"
  is "$(tfield "$lose" state) $(tfield "$lose" 'approvals | length')" "pending 0" \
    "round $round: the losing transfer is still pending with no approval"
  approve dg-bob "$lose" bob >/dev/null 2>&1
  ok $? "round $round: the losing transfer is approved with a fresh OTP"
done

# ---- the same race on one transfer
a=$(pending_transfer dg-alice logs) || bail "no pending transfer"
o=$(otp bob)
seq0=$(audit_seq)
rcs=$(race "$o" "$a" "$a")
like "$rcs" '^(0 1|1 0)$' "one OTP twice at once on one transfer: exactly one succeeds ($rcs)"
is "$(audit_since "$seq0" '.event == "request_refused"' | jq -r .details.code)" replayed "the other is refused as replayed"
is "$(audit_since "$seq0" '.event == "approval"' | wc -l)" 1 "one approval record"
is "$(await_state "$a" released)" released "the transfer is released"

done_testing
