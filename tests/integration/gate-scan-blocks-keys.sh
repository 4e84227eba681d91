#!/usr/bin/env bash
# gate-scan-blocks-keys.sh - through the real gate, with the real sandboxed
# scanner: a dump that carries a private key does not get past the scan.
#  (a) refuses: a real core dump (gcore) of a process holding an RSA private
#      key in memory ends `blocked` (`wait` exits 10), with a verified
#      critical finding whose public_sha256 is openssl's fingerprint of that
#      key, and the artifact type is elf-core; no secret bytes in the report
#      or the audit log (I7);
#      accepts: a core of a process without a key ends `clean`, no finding
#      that blocks.
#  (b) accepts: a profile whose allowlist holds the key's public_sha256 lets
#      the same dump through (clean), the finding still in the report with
#      "allowed": true;
#      refuses: an allowlist with another key's fingerprint: blocked.
#  (c) refuses: a gzip of a file with a key in it is blocked by the decoding
#      pass (finding with pass "decoded" inside the gzip stream);
#      accepts: the same gzip without the key is clean.
. "${DG_SRC:?}/tests/lib/lib.sh"

command -v gcore >/dev/null || skip_all "gcore (gdb) is not installed"

gate_init
F=$T/files
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$F/k.pem" 2>/dev/null ||
  bail "openssl genpkey failed"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$F/other.pem" 2>/dev/null ||
  bail "openssl genpkey failed"
fp() { openssl pkey -in "$1" -pubout -outform DER | sha256sum | cut -d' ' -f1; }
KEY_FP=$(fp "$F/k.pem")
OTHER_FP=$(fp "$F/other.pem")

# A key whose private half does not match its public half (d changed):
# found, not verified, and claiming bad.pem's fingerprint.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$F/bad.pem" 2>/dev/null ||
  bail "openssl genpkey failed"
BAD_FP=$(fp "$F/bad.pem")
openssl pkey -in "$F/bad.pem" -traditional -outform DER -out "$F/bad.der"
d_at=$(openssl asn1parse -inform DER -in "$F/bad.der" | awk '/prim: INTEGER/ { n++; if (n == 4) { sub(":", "", $1); print $1 + 4 + 10; exit } }')
printf '\x5a' | dd of="$F/bad.der" bs=1 seek="$d_at" conv=notrunc status=none
{ head -c 3001 /dev/urandom; cat "$F/bad.der"; head -c 999 /dev/urandom; } > "$F/bad.bin"
chmod 644 "$F/bad.bin"

for prof in allowkey:$KEY_FP allowother:$OTHER_FP allowbad:$BAD_FP; do
  write_profile "${prof%%:*}" <<P
[profile]
requesters = @dg-engineers
approvers = @dg-approvers
approvals = 2
max_size = 64M
types = elf-core gzip binary text
expiry = 1h
retention = 1d
allowlist = ${prof#*:}
P
done
gate_start || bail "dumpgated did not start"

# core NAME CMD...: a core dump (gcore) of a process running CMD, readable
# by the requesters; prints its path
core() {
  local name=$1 pid; shift
  "$@" </dev/null >/dev/null 2>&1 & # not holding our $(...) open
  pid=$!
  sleep 0.5 # let it reach its sleep
  gcore -o "$F/$name" "$pid" >/dev/null 2>&1
  kill $(pgrep -P "$pid") "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ -s "$F/$name.$pid" ] || bail "gcore of $* failed"
  chmod 644 "$F/$name.$pid"
  echo "$F/$name.$pid"
}
# settle ID: wait (up to 60 s) until ID is past stored/scanning; prints the state
settle() {
  local s=
  for _ in $(seq 1 600); do
    s=$(tfield "$1" state)
    case $s in submitted|stored|scanning|clean) sleep 0.1 ;; *) break ;; esac
  done
  echo "$s"
}
submit() { # PROFILE FILE: prints the id
  dg dg-alice submit --profile "$1" --reason "INC-3 scan" "$2"
}
# verified critical findings with the key's fingerprint, in a show --json
key_findings() { jq --arg fp "$KEY_FP" '[.findings[] | select(.verified == true and .severity == "critical" and .public_sha256 == $fp)]'; }

# The key lives only in bash's memory (a variable), never in an argument
# or the environment; ": ${#K}" keeps bash from exec'ing sleep in its place.
KEYCORE=$(core withkey env -i bash -c 'K=$(cat "$0"); sleep 60; : "${#K}"' "$F/k.pem")
PLAINCORE=$(core plain env -i sleep 60)
grep -q -- "$(sed -n 2p "$F/k.pem")" "$KEYCORE"
ok $? "the core of the key holder does contain the key (the test's premise)"

# ---- (a) refuses: a core with a key is blocked
id=$(submit crashdump "$KEYCORE")
like "$id" '^[0-9a-f]{32}$' "(a) the core with a key is accepted for scanning"
out=$(dg dg-alice wait "$id" --timeout 60 2>&1)
is "$?" 10 "(a) wait exits 10: blocked ($(echo $out))"
j=$(dg dg-alice show "$id" --json)
is "$(jq -r .state <<<"$j")" blocked "(a) state is blocked"
is "$(jq -r .type <<<"$j")" elf-core "(a) the artifact is typed elf-core from its content"
kf=$(key_findings <<<"$j")
ok "$([ "$(jq length <<<"$kf")" -ge 1 ]; echo $?)" \
  "(a) a verified critical finding carries the key's public_sha256 ($KEY_FP)"
is "$(jq -r '.[0].key_type + " " + (.[0].bits|tostring) + " " + .[0].pass + " allowed=" + (.[0].allowed|tostring)' <<<"$kf")" \
  "rsa 2048 raw allowed=false" "(a) it is an RSA 2048-bit key, found by the raw pass, not allowed"
is "$(jq -r '[.findings[] | select(.verified == true and .public_sha256 != $fp)] | length' --arg fp "$KEY_FP" <<<"$j")" 0 \
  "(a) no verified finding names another key"
like "$(jq -r .final_reason <<<"$j")" 'found secrets' "(a) the final reason says the scanner found secrets"
secret=$(sed -n 2p "$F/k.pem")
! grep -qF -- "$secret" <<<"$j"
ok $? "(a) the report holds no byte of the key (I7)"
! grep -qF -- "$secret" "$T/state/audit.log"
ok $? "(a) neither does the audit log (I7)"
ev=$(jq -c --arg id "$id" 'select(.transfer == $id and .event == "scanned") | .details.verdict' "$T/state/audit.log")
is "$ev" '"blocked"' "(a) the audit log has a scanned record with verdict blocked"

# ---- (a) accepts: a core without a key is clean
id=$(submit crashdump "$PLAINCORE")
is "$(settle "$id")" pending "(a) the core of a plain sleep is clean: it waits for approval"
j=$(dg dg-alice show "$id" --json)
is "$(jq -r .type <<<"$j")" elf-core "(a) it is typed elf-core too"
is "$(jq '[.findings[] | select(.severity == "critical" or .severity == "high")] | length' <<<"$j")" 0 \
  "(a) with no finding that blocks"
out=$(dg dg-alice wait "$id" --timeout 1 2>&1)
is "$?" 3 "(a) wait does not report it blocked: pending is not final, wait times out (exit 3)"

# ---- (b) allowlist
id=$(submit allowkey "$KEYCORE")
is "$(settle "$id")" pending "(b) allowlisted key: the same core is clean (pending approval)"
kf=$(dg dg-alice show "$id" --json | key_findings)
ok "$([ "$(jq length <<<"$kf")" -ge 1 ]; echo $?)" "(b) the finding is still in the report"
is "$(jq -r '[.[].allowed] | unique | join(",")' <<<"$kf")" true "(b) marked \"allowed\": true"

id=$(submit allowother "$KEYCORE")
dg dg-alice wait "$id" --timeout 60 >/dev/null 2>&1
is "$?" 10 "(b) an allowlist with another key's fingerprint: blocked"
kf=$(dg dg-alice show "$id" --json | key_findings)
is "$(jq -r '[.[].allowed] | unique | join(",")' <<<"$kf")" false "(b) and the finding is not allowed"

# refuses: an unverified key is never allowed, whatever fingerprint it
# claims (its private half may belong to another key)
id=$(submit allowbad "$F/bad.bin")
dg dg-alice wait "$id" --timeout 60 >/dev/null 2>&1
is "$?" 10 "(b) an unverified key claiming an allowlisted fingerprint: blocked"
bf=$(dg dg-alice show "$id" --json | jq '[.findings[] | select(.verified == false and (.severity == "high" or .severity == "critical"))]')
ok "$([ "$(jq length <<<"$bf")" -ge 1 ]; echo $?)" "(b) it is reported as an unverified key"
is "$(jq -r '[.[].allowed] | unique | join(",")' <<<"$bf")" false "(b) and it is not allowed"

# ---- many findings: the scanner sorts them (glibc qsort asks sysinfo,
# which its filter answers with ENOSYS instead of killing it)
for i in $(seq 1 120); do printf 'key%03d AKIA%016d\n' "$i" "$i"; done > "$F/many.txt"
chmod 644 "$F/many.txt"
id=$(submit allowkey "$F/many.txt")
st=$(settle "$id")
is "$st" pending "(many) 120 AWS key ids (medium, not blocking here) are scanned, not failed ($st)"
is "$(dg dg-alice show "$id" --json | jq '[.findings[] | select(.key_type == "aws-access-key")] | length')" 120 \
  "(many) all 120 are in the report"

# ---- (c) the decoding pass: a key inside a gzip stream
# Text around the key, so that deflate codes every byte (random data would
# make gzip store the block, key included, as is).
seq 1 20000 > "$F/pre.txt"
seq 5 5000 > "$F/post.txt"
cat "$F/pre.txt" "$F/post.txt" > "$F/plain.bin"
cat "$F/pre.txt" "$F/k.pem" "$F/post.txt" > "$F/keyed.bin"
KEY_AT=$(stat -c %s "$F/pre.txt")
gzip -c "$F/keyed.bin" > "$F/keyed.gz"
gzip -c "$F/plain.bin" > "$F/plain.gz"
chmod 644 "$F"/*.gz
! grep -qF -- "$secret" "$F/keyed.gz"
ok $? "(c) the key is not visible in the gzip's raw bytes"
id=$(submit crashdump "$F/keyed.gz")
dg dg-alice wait "$id" --timeout 60 >/dev/null 2>&1
is "$?" 10 "(c) a gzip of a file with a key is blocked"
j=$(dg dg-alice show "$id" --json)
is "$(jq -r .type <<<"$j")" gzip "(c) typed gzip"
kf=$(key_findings <<<"$j")
is "$(jq -r '.[0].pass' <<<"$kf")" decoded "(c) the finding is the decoding pass's"
is "$(jq -c '.[0].container | {format, index, offset}' <<<"$kf")" '{"format":"gzip","index":1,"offset":0}' \
  "(c) its container is gzip stream 1, which starts at artifact offset 0"
is "$(jq -r '.[0].offset' <<<"$kf")" "$KEY_AT" "(c) at the key's offset inside the decoded stream"
is "$(jq '[.findings[] | select(.pass == "raw" and .verified == true)] | length' <<<"$j")" 0 \
  "(c) the raw pass saw no key in the compressed bytes"

id=$(submit crashdump "$F/plain.gz")
is "$(settle "$id")" pending "(c) the same kind of gzip without a key is clean (pending approval)"
done_testing
