#!/usr/bin/env bash
# approvals-need-distinct-persons: approvals count distinct persons who
# are approvers of the transfer's profile, never the requester's person,
# and name the artifact's exact sha256.  Refused, each with its code in a
# request_refused record and no approval recorded: the requester herself
# (profile "selfish" lists her as an approver: self_approval), her second
# account dg-alice2 (same person: self_approval), dg-alice on a logs
# transfer of hers (not an approver there: not_approver), dg-dave with his
# own token on a logs transfer (an approver elsewhere, not of logs; he
# does not even see the transfer: not_found), dg-bob twice on a 2-person profile (same_person), a stale
# --sha256 (hash_mismatch).  CLI: an OTP in argv (`--otp X`, also after
# `dumpgate --`), an abbreviated option and `--otp-stdin` without
# `--sha256` are usage errors (exit 2) that send nothing; no option takes
# the OTP; an OTP typed as ID, sha256 or public id is not repeated; an
# OTP line with a NUL or a non-ASCII byte is an error (exit 1) that sends
# nothing.  Accepted: dg-bob and dg-carol
# approve a crashdump transfer (2 persons): approved, then released; on
# "selfish" bob and carol approve where alice could not.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
text_profile selfish "dg-alice dg-dave" "dg-alice dg-alice2 dg-bob dg-carol" 2
gate_start || bail "dumpgated did not start"
for k in alice:dg-alice alice2:dg-alice2 bob:dg-bob carol:dg-carol dave:dg-dave; do
  enroll "${k#*:}" "${k%%:*}" >/dev/null 2>&1 || bail "cannot enrol a softkey for ${k#*:}"
done

# ---- refuses: the requester's person
s=$(pending_transfer dg-alice selfish) || bail "no pending transfer"
approve_refused self_approval "dg-alice approves her own transfer (she is an approver of its profile)" \
  dg-alice "$s" "$(otp alice)"
like "$OUT" "requested transfer $s" "the message says she requested it"
approve_refused self_approval "dg-alice2 (the same person alice) approves it" dg-alice2 "$s" "$(otp alice2)"
l=$(pending_transfer dg-alice logs) || bail "no pending transfer"
approve_refused not_approver "dg-alice approves her logs transfer (not an approver of logs)" \
  dg-alice "$l" "$(otp alice)"

# ---- refuses: an approver outside the profile
approve_refused not_found "dg-dave (his own token; an approver of crashdump, not of logs)" dg-dave "$l" "$(otp dave)"
like "$OUT" "no transfer $l" "dg-dave is told there is no such transfer"
is "$(audit_json | jq -r --arg p "$(pubid dave)" 'select(.event == "otp_spent" and .details.public_id == $p and .details.purpose == "approve") | .seq' | wc -l)" 0 \
  "his OTP was not even checked (never spent)"

# ---- refuses: the same person twice
c=$(pending_transfer dg-alice crashdump) || bail "no pending transfer"
out=$(approve dg-bob "$c" bob 2>&1)
ok $? "dg-bob approves the crashdump transfer"
is "$out" "approval recorded: $c (1 of 2 persons; waiting for more)" "approve says 1 of 2, waiting for more"
is "$(tfield "$c" state)" pending "it is still pending"
approve_refused same_person "dg-bob approves it a second time with a fresh OTP" dg-bob "$c" "$(otp bob)"

# ---- refuses: a stale sha256 (that of another artifact)
approve_refused hash_mismatch "dg-carol approves naming another artifact's sha256" \
  dg-carol "$c" "$(otp carol)" "$(tfield "$l" sha256)"
like "$OUT" "$(tfield "$c" sha256)" "the message shows the artifact's sha256"
is "$(tfield "$c" state) $(tfield "$c" 'approvals | map(.account) | join(",")')" "pending dg-bob" \
  "after the refusals it is still pending with dg-bob's approval only"

# ---- refuses (CLI): the OTP never goes in argv; --otp-stdin needs --sha256
o=$(otp carol)
sha=$(tfield "$c" sha256)
seq0=$(audit_seq)
out=$(dg dg-carol approve "$c" --otp "$o" --sha256 "$sha" </dev/null 2>&1)
is "$?" 2 "approve ID --otp OTP is a usage error (exit 2)"
like "$out" "unrecognized option '--otp'" "--otp is no option, not even as a prefix of --otp-stdin"
unlike "$out" "$o" "the error does not repeat the OTP"
out=$(dg dg-carol approve "$c" --otp="$o" --sha256 "$sha" </dev/null 2>&1)
is "$?" 2 "approve ID --otp=OTP is a usage error (exit 2)"
out=$(dg dg-carol approve "$c" --otp-stdin="$o" --sha256 "$sha" </dev/null 2>&1)
is "$?" 2 "approve ID --otp-stdin=OTP is a usage error (exit 2)"
out=$(dg dg-carol approve "$c" --otp-stdin <<<"$o" 2>&1)
is "$?" 2 "approve --otp-stdin without --sha256 is a usage error (exit 2)"
like "$out" "--sha256" "the message names --sha256"
out=$(dg dg-carol -- approve "$c" --otp "$o" --sha256 "$sha" </dev/null 2>&1)
is "$?" 2 "dumpgate -- approve ID --otp OTP is a usage error too (each command checks its own names)"
like "$out" "unrecognized option '--otp'" "it names --otp"
unlike "$out" "$o" "and does not repeat the OTP"
out=$(dg dg-carol approve "$c" --sha "$sha" --otp-stdin <<<"$o" 2>&1)
is "$?" 2 "approve --sha (a prefix of --sha256) is a usage error"
out=$(dg dg-carol approve "$o" --sha256 "$sha" --otp-stdin </dev/null 2>&1)
is "$?" 2 "an OTP typed where the ID belongs is a usage error"
like "$out" "ID is not a transfer id" "the message says the ID is not one"
unlike "$out" "${o:0:12}" "and does not repeat it"
out=$(dg dg-carol approve "$c" --sha256 "$o" --otp-stdin </dev/null 2>&1)
is "$?" 2 "an OTP typed where the sha256 belongs is a usage error"
unlike "$out" "${o:0:12}" "the message does not repeat it"
out=$(dg dg-admin token revoke "$o" 2>&1)
is "$?" 2 "an OTP typed where the public id belongs is a usage error"
like "$out" "PUBLIC-ID is not a public id" "the message says the PUBLIC-ID is not one"
unlike "$out" "${o:0:12}" "and does not repeat it"
out=$(dg dg-carol "$o" 2>&1)
is "$?" 2 "an OTP typed where the command belongs is a usage error"
like "$out" "unknown command '${o:0:12}\\.\\.\\.'" "the message shows no more than its public id"
unlike "$out" "${o:12:8}" "and nothing of its secret part"
out=$(printf '%s\0x\n' "$o" | dg dg-carol approve "$c" --sha256 "$sha" --otp-stdin 2>&1)
is "$?" 1 "an OTP line with a NUL byte is refused (exit 1), not cut short at it"
like "$out" "NUL byte or a non-ASCII character" "the message says why"
out=$(printf '%s\303\251\n' "${o:0:40}" | dg dg-carol approve "$c" --sha256 "$sha" --otp-stdin 2>&1)
is "$?" 1 "an OTP line with a non-ASCII character is refused (exit 1)"
like "$out" "NUL byte or a non-ASCII character" "the message says why"
help=$(dg dg-carol approve --help 2>&1)
is "$(grep -oiE -- '--[a-z0-9-]*otp[a-z0-9-]*' <<<"$help" | sort -u | paste -sd ' ')" "--otp-stdin" \
  "approve --help names no OTP option but --otp-stdin"
is "$(audit_since "$seq0" '.event == "request_refused" or .event == "otp_spent" or .event == "approval"' | wc -l)" 0 \
  "none of those reached the gate (no refusal, no OTP spent)"

# ---- accepts: two distinct persons
out=$(approve_otp dg-carol "$c" "$o" "$sha" 2>&1)
ok $? "dg-carol approves it with the OTP that was shown in argv (never sent)"
is "$out" "approved: $c (2 of 2 persons)" "approve says approved, 2 of 2 persons"
is "$(tfield "$c" 'approvals | map(.person) | join(",")')" "dg-bob,dg-carol" "the approvals are bob's and carol's"
is "$(await_state "$c" released)" released "the transfer is released"

approve dg-bob "$s" bob >/dev/null 2>&1
ok $? "dg-bob approves the selfish transfer"
out=$(approve dg-carol "$s" carol 2>&1)
ok $? "dg-carol approves it too"
is "$out" "approved: $s (2 of 2 persons)" "approved, 2 of 2 persons (alice's tries did not count)"
is "$(await_state "$s" released)" released "it is released"

done_testing
