#!/usr/bin/env bash
# cli-checks-the-gates-answers: dumpgate takes an answer only when it is
# about what it asked for.  A fake gate (a SOCK_SEQPACKET server in
# Python that answers each request with the end frame the test chose)
# stands in for dumpgated.  Accepted: approve answered for the transfer
# sent; token enroll answered for the account and public id enrolled.
# Refused, each a protocol error (exit 1): an approve answer about
# another transfer; an enrolment answered for another account (first or
# second exchange), for another public id than --public-id, or confirmed
# for another public id than the OTP's.
. "$DG_SRC/tests/lib/lib.sh"
command -v python3 >/dev/null || skip_all "python3 missing (the fake gate)"

T=$(mktemp -d /tmp/dg-test.XXXXXX)
on_exit 'rm -rf "$T"'
SOCK=$T/fake.sock
ANSWERS=$T/answers.json
DG=$DG_BUILD/dumpgate
export DUMPGATE_SOCKET=$SOCK

python3 - "$SOCK" "$ANSWERS" <<'PY' &
import json, socket, sys
path, answers = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(4)
while True:
    c, _ = s.accept()
    with c:
        while True:
            f = c.recv(65536)
            if not f or f[:1] != b"Q":
                break
            op = json.loads(f[1:])["op"]
            with open(answers) as a:
                end = json.load(a).get(op, {"ok": False, "error": "fake gate: no answer for " + op})
            c.send(b"E" + json.dumps(end).encode())
PY
FAKE=$!
on_exit 'kill $FAKE 2>/dev/null; wait $FAKE 2>/dev/null'
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || bail "the fake gate did not start"

# answer JSON: what the fake gate says next (one object: op -> end frame)
answer() { printf '%s\n' "$1" > "$ANSWERS"; }

ID=0123456789abcdef0123456789abcdef
OTHER=fedcba9876543210fedcba9876543210
SHA=$(printf '%064d' 0)
ok_approve() { printf '{"approve":{"ok":true,"id":"%s","state":"approved","approvals":1,"required":1}}' "$1"; }

# ---- approve
answer "$(ok_approve "$ID")"
out=$(echo cccccbcgujhfvvkdkvtrlnjnlhcjgeherfbhiuiblc | "$DG" approve "$ID" --sha256 "$SHA" --otp-stdin 2>&1)
is "$?" 0 "an approve answer for the transfer sent is taken"
is "$out" "approved: $ID (1 of 1 persons)" "approve says so"
answer "$(ok_approve "$OTHER")"
out=$(echo cccccbcgujhfvvkdkvtrlnjnlhcjgeherfbhiuiblc | "$DG" approve "$ID" --sha256 "$SHA" --otp-stdin 2>&1)
is "$?" 1 "an approve answer about another transfer is refused (exit 1)"
like "$out" "protocol error: the gate's answer to approve is about another transfer" "as a protocol error"
unlike "$out" "approved:" "nothing is said to be approved"

# ---- token enroll
PID=cccccbcgujhf
OTP=${PID}vvkdkvtrlnjnlhcjgeherfbhiuiblcbd
openssl rand -hex 16 > "$T/key"
chmod 600 "$T/key"
# enrol [ARGS...]: token enroll --user alice with the key file and OTP
enrol() { echo "$OTP" | "$DG" token enroll --user alice --aes-key-file "$T/key" --otp-stdin "$@" 2>&1; }
e1() { printf '"token_enroll":{"ok":true,"account":"%s","public_id":%s}' "$1" "$2"; }
e2() { printf '"token_confirm":{"ok":true,"account":"%s","public_id":"%s","state":"active"}' "$1" "$2"; }

answer "{$(e1 alice null),$(e2 alice "$PID")}"
out=$(enrol)
is "$?" 0 "an enrolment confirmed for the account and the OTP's public id is taken"
is "$out" "enrolled: $PID for alice" "enroll says so"
answer "{$(e1 alice "\"$PID\""),$(e2 alice "$PID")}"
out=$(enrol --public-id "$PID")
is "$?" 0 "with --public-id, answered with that public id, too"

answer "{$(e1 mallory null),$(e2 alice "$PID")}"
out=$(enrol)
is "$?" 1 "a first answer for another account is refused (exit 1)"
like "$out" "protocol error: the gate's answer to token enroll is about another account or public id" \
  "as a protocol error"
answer "{$(e1 alice '"cccccbcgujhg"'),$(e2 alice "$PID")}"
out=$(enrol --public-id "$PID")
is "$?" 1 "a first answer for another public id than --public-id is refused (exit 1)"
answer "{$(e1 alice null),$(e2 mallory "$PID")}"
out=$(enrol)
is "$?" 1 "a confirmation for another account is refused (exit 1)"
like "$out" "protocol error: the gate confirmed another account or public id" "as a protocol error"
unlike "$out" "enrolled:" "nothing is said to be enrolled"
answer "{$(e1 alice null),$(e2 alice cccccbcgujhg)}"
out=$(enrol)
is "$?" 1 "a confirmation for another public id than the OTP's is refused (exit 1)"
answer "{$(e1 alice "\"$PID\""),$(e2 alice cccccbcgujhg)}"
out=$(enrol --public-id "$PID")
is "$?" 1 "a confirmation for another public id than the enrolment's is refused (exit 1)"

done_testing
