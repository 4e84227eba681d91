#!/usr/bin/env bash
# Every refused request is an audit record (fsync'd, mirrored to the
# kernel), so an account that makes the gate refuse more than
# max_refusals_per_minute requests in a minute is stopped for the rest of
# it: one account_throttled record, its open sessions end at their next
# request, new connections are refused, and nothing it asks is served.
# Twins: the refusals before the limit are each recorded; another account
# is served as usual meanwhile.
source "$DG_SRC/tests/lib/lib.sh"
require_root

EXTRA_LIMITS="max_refusals_per_minute = 5"
gate_init
gate_start || bail "dumpgated did not start"
mkfile "$T/files/a.txt" 100 /dev/zero

seq0=$(audit_seq)
for i in 1 2 3 4; do
  out=$(dg dg-mallory submit --profile crashdump --reason "flood $i" "$T/files/a.txt" 2>&1)
  is "$?" 1 "mallory's refused submit $i is refused"
done
is "$(audit_since "$seq0" '.event == "request_refused" and .actor.account == "dg-mallory"' | grep -c .)" 4 \
  "each of the first 4 refusals is an audit record"
is "$(audit_since "$seq0" '.event == "account_throttled"' | grep -c .)" 0 "4 refusals do not throttle"

# a session mallory opened before the limit, answered once
mkfifo -m 600 "$T/raw.in"
as dg-mallory timeout 20 "$T/bin/dg-rawclient" "$SOCK" < "$T/raw.in" > "$T/raw.out" 2>&1 &
raw=$!
exec 7> "$T/raw.in"
echo 'Q {"v":1,"op":"status"}' >&7
for _ in $(seq 1 50); do grep -q '^E ' "$T/raw.out" && break; sleep 0.1; done
like "$(cat "$T/raw.out")" '"ok":true' "setup: mallory's open session is served before the limit"

out=$(dg dg-mallory submit --profile crashdump --reason "flood 5" "$T/files/a.txt" 2>&1)
is "$?" 1 "the 5th refused request is refused and recorded"
thr=$(audit_since "$seq0" '.event == "account_throttled"')
is "$(jq -r '.details.account + " " + (.details.refusals | tostring)' <<<"$thr")" "dg-mallory 5" \
  "one account_throttled record names dg-mallory after 5 refusals"

n=$(audit_seq)
out=$(dg dg-mallory status 2>&1)
is "$?" 1 "afterwards even a harmless request from mallory is not served"
like "$out" "too many refused requests from your account \\(max_refusals_per_minute = 5\\)" \
  "the message says why (and names the setting)"
is "$(audit_seq)" "$n" "and writes nothing to the log"

# the open session ends at its next request, unanswered
n=$(audit_seq)
echo 'Q {"v":1,"op":"status"}' >&7
exec 7>&-
wait "$raw"
is "$(grep -c '^E ' "$T/raw.out")" 1 "mallory's open session gets no second answer"
like "$(tail -n 1 "$T/raw.out")" '^EOF' "the gate ended it"
is "$(audit_seq)" "$n" "nothing was recorded for it"

# twin: others are served
out=$(dg dg-alice status 2>&1)
ok $? "dg-alice is served as usual"
id=$(dg dg-alice submit --profile crashdump --reason "INC-throttle" "$T/files/a.txt")
ok $? "and may submit"
done_testing
