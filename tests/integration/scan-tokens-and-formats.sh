#!/usr/bin/env bash
# scan-tokens-and-formats: bearer tokens (a JWT, an AWS access key id, a
# GitHub token) are reported at severity medium, unverified, with no
# fingerprint; OpenSSH keys (ed25519, RSA, ECDSA: PEM armour and the bare
# openssh-key-v1 blob inside binary data), PuTTY keys (formats 3 and 2) and
# a GCP service-account JSON are found verified, with the public_sha256
# openssl computes for the same public key.
# Refused twins: an encrypted OpenSSH key and an encrypted PuTTY key are
# reported unverified at severity high; "AKIA" with one character too few
# and a JWT-shaped string whose header is not JSON are nothing.  I7: no
# line of the human or JSON output (stdout and stderr) holds any 16-byte
# run of a key's base64 text, of its decoded bytes (as hex) or of a token;
# the same check on the key files themselves does find them.
. "$DG_SRC/tests/lib/lib.sh"

SCAN=$DG_BUILD/dumpgate-scan
[ -x "$SCAN" ] || bail "no $SCAN: build dumpgate-scan first"
for t in openssl jq perl basenc ssh-keygen puttygen; do
  command -v "$t" >/dev/null || skip_all "needs $t"
done

W=$(mktemp -d /tmp/dg-scan-tokens.XXXXXX)
on_exit 'rm -rf "$W"'
cd "$W" || bail "cd $W"
mkdir files

TEXT_LINE='2024-05-01T12:00:00Z worker[4242]: request served in 12 ms, status 200, path /api/v1/items'
text() { yes "$TEXT_LINE" | head -c "$1"; } # N bytes of log text, cut anywhere
b64u() { basenc --base64url -w0 | tr -d '='; }
size() { stat -c %s "$1"; }
rnd() { tr -dc "$1" < /dev/urandom | head -c "$2"; } # CHARSET N

# Expectations: file -> "detector key_type bits verified severity sha offset"
declare -A WANT WHAT
FILES=()
expect() { # FILE WHAT WANT
  FILES+=("$1"); WHAT[$1]=$2; WANT[$1]=$3
}
# in_text SRC DEST: text, a newline, SRC, text; prints SRC's offset
in_text() {
  { text 3001; printf '\n'; cat "$1"; printf '\n'; text 777; } > "$2"
  echo 3002
}
# in_random SRC DEST: random bytes, SRC, random bytes; prints SRC's offset
in_random() {
  { head -c 5555 /dev/urandom; cat "$1"; head -c 1111 /dev/urandom; } > "$2"
  echo 5555
}

# ---- bearer tokens

JWT="$(printf '{"alg":"HS256","typ":"JWT"}' | b64u).$(printf '{"sub":"1234567890","name":"dumpgate test","iat":1516239022}' | b64u).$(head -c 32 /dev/urandom | b64u)"
AWS="AKIA$(rnd 'A-Z0-9' 16)"
GHP="ghp_$(rnd 'A-Za-z0-9' 36)"
{
  text 1001; printf '\nAuthorization: Bearer '
  jwt_off=$(($(text 1001 | wc -c) + 23))
  printf '%s\n' "$JWT"
  printf 'aws_access_key_id = '
  aws_off=$((jwt_off + ${#JWT} + 1 + 20))
  printf '%s\n' "$AWS"
  printf 'GITHUB_TOKEN="'
  ghp_off=$((aws_off + ${#AWS} + 1 + 14))
  printf '%s"\n' "$GHP"
  text 555
} > files/tokens.txt
TOKENS_WANT=$(printf '%s\n' \
  "token jwt null false medium null $jwt_off ${#JWT}" \
  "token aws-access-key null false medium null $aws_off 20" \
  "token github-token null false medium null $ghp_off 40")

# decoys: one character short, a JWT whose header is not JSON
BADHDR="$(printf '{"alg":"HS256",,"typ"' | b64u)"
case $BADHDR in eyJ*) ;; *) bail "the bad JWT header does not start with eyJ" ;; esac
BADJWT="$BADHDR.$(printf '{"sub":"1234567890"}' | b64u).$(head -c 32 /dev/urandom | b64u)"
{
  text 999; printf '\naws_access_key_id = AKIA%s\n' "$(rnd 'A-Z0-9' 15)"
  printf 'key: "AKIA%s"\n' "$(rnd 'A-Z0-9' 15)"
  printf 'Authorization: Bearer %s\n' "$BADJWT"
  text 444
} > files/token-decoys.txt

# ---- OpenSSH keys

ssh-keygen -q -t ed25519 -N '' -C test@dumpgate -f ssh-ed25519 || bail "ssh-keygen ed25519"
ssh-keygen -q -t rsa -b 2048 -N '' -C test@dumpgate -f ssh-rsa || bail "ssh-keygen rsa"
ssh-keygen -q -t ecdsa -b 256 -N '' -C test@dumpgate -f ssh-ecdsa || bail "ssh-keygen ecdsa"
ssh-keygen -q -t ed25519 -N secret -C test@dumpgate -f ssh-enc || bail "ssh-keygen encrypted"
declare -A SHA
for k in ssh-rsa ssh-ecdsa; do
  SHA[$k]=$(ssh-keygen -e -m PKCS8 -f "$k.pub" | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
done
# ssh-keygen -e cannot export Ed25519: build its SubjectPublicKeyInfo (RFC
# 8410: a fixed 12-byte prefix and the 32-byte key) and let openssl re-encode it.
{ printf '302a300506032b6570032100' | perl -ne 'print pack("H*", $_)'
  awk '{print $2}' ssh-ed25519.pub | base64 -d | tail -c 32; } > ed25519.spki.der
SHA[ssh-ed25519]=$(openssl pkey -pubin -inform DER -in ed25519.spki.der -outform DER | sha256sum | cut -d' ' -f1)
diag "Ed25519: public_sha256 from the SPKI built from ssh-ed25519.pub (ssh-keygen -e cannot export Ed25519)"
for k in ssh-rsa ssh-ecdsa ssh-ed25519; do
  [ "${#SHA[$k]}" -eq 64 ] || bail "no fingerprint for $k"
done
declare -A TYPE=([ssh-rsa]="rsa 2048" [ssh-ecdsa]="ec-p256 256" [ssh-ed25519]="ed25519 256")

for k in ssh-ed25519 ssh-rsa ssh-ecdsa; do
  cp "$k" "files/$k"
  expect "files/$k" "OpenSSH $k PEM file" "pem ${TYPE[$k]} true critical ${SHA[$k]} 0"
  off=$(in_text "$k" "files/$k.in-text")
  expect "files/$k.in-text" "OpenSSH $k PEM in text" "pem ${TYPE[$k]} true critical ${SHA[$k]} $off"
  # the binary openssh-key-v1 blob, as a process holding the key has it
  sed '1d;$d' "$k" | base64 -d > "$k.blob"
  head -c 15 "$k.blob" | grep -q '^openssh-key-v1' || bail "$k.blob is not openssh-key-v1"
  off=$(in_random "$k.blob" "files/$k.blob.bin")
  expect "files/$k.blob.bin" "bare openssh-key-v1 blob of $k in random bytes" \
    "openssh ${TYPE[$k]} true critical ${SHA[$k]} $off"
done
# an encrypted one: reported, not verified, high
cp ssh-enc files/ssh-enc
expect files/ssh-enc "encrypted OpenSSH key (refused twin)" "pem openssh-encrypted null false high null 0"
sed '1d;$d' ssh-enc | base64 -d > ssh-enc.blob
off=$(in_random ssh-enc.blob files/ssh-enc.blob.bin)
expect files/ssh-enc.blob.bin "bare encrypted openssh-key-v1 blob (refused twin)" \
  "openssh openssh-encrypted null false high null $off"

# ---- PuTTY keys

puttygen ssh-ed25519 -O private -o ed25519.ppk || bail "puttygen ed25519"
puttygen ssh-rsa -O private -o rsa.ppk || bail "puttygen rsa"
puttygen ssh-ecdsa -O private --ppk-param version=2 -o ecdsa-v2.ppk || bail "puttygen ecdsa v2"
echo secret > pass
puttygen ssh-ed25519 -O private --new-passphrase pass -o enc.ppk || bail "puttygen encrypted"
head -n 1 ecdsa-v2.ppk | grep -q '^PuTTY-User-Key-File-2:' || bail "puttygen did not write format 2"
for p in ed25519:ssh-ed25519 rsa:ssh-rsa ecdsa-v2:ssh-ecdsa; do
  f=${p%%:*} k=${p#*:}
  cp "$f.ppk" "files/$f.ppk"
  expect "files/$f.ppk" "PuTTY $f.ppk" "putty ${TYPE[$k]} true critical ${SHA[$k]} 0"
  off=$(in_text "$f.ppk" "files/$f.ppk.in-text")
  expect "files/$f.ppk.in-text" "PuTTY $f.ppk in text" "putty ${TYPE[$k]} true critical ${SHA[$k]} $off"
done
cp enc.ppk files/enc.ppk
expect files/enc.ppk "encrypted PuTTY key (refused twin)" "putty putty-encrypted null false high null 0"

# ---- a GCP service-account JSON (the PEM's newlines as \n escapes)

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.pem 2>/dev/null || bail "RSA keygen"
openssl pkcs8 -topk8 -nocrypt -in sa.pem -out sa.pkcs8.pem
SHA[sa]=$(openssl pkey -in sa.pem -pubout -outform DER | sha256sum | cut -d' ' -f1)
jq -n --rawfile pk sa.pkcs8.pem '{type: "service_account", project_id: "dumpgate-test",
  private_key_id: "0123456789abcdef0123456789abcdef01234567", private_key: $pk,
  client_email: "x@y.iam.gserviceaccount.com", client_id: "123456789012345678901"}' > sa.json
grep -q '"private_key": "-----BEGIN PRIVATE KEY-----\\n' sa.json || bail "sa.json does not hold an escaped PEM"
jq -c . sa.json > sa.compact.json
cp sa.json files/sa.json
expect files/sa.json "service-account JSON" "cloud-sa rsa 2048 true critical ${SHA[sa]} 0"
off=$(in_text sa.json files/sa.json.in-text)
expect files/sa.json.in-text "service-account JSON in text" "cloud-sa rsa 2048 true critical ${SHA[sa]} $off"
off=$(in_random sa.compact.json files/sa.compact.json.bin)
expect files/sa.compact.json.bin "compact service-account JSON in random bytes" \
  "cloud-sa rsa 2048 true critical ${SHA[sa]} $off"

# ---- scan everything once, JSON and human

"$SCAN" --json files/tokens.txt files/token-decoys.txt "${FILES[@]}" > out.json 2> out.json.err
is "$?" 1 "dumpgate-scan --json exits 1 (findings)"
"$SCAN" files/tokens.txt files/token-decoys.txt "${FILES[@]}" > out.txt 2> out.txt.err
is "$?" 1 "dumpgate-scan (human) exits 1 (findings)"

is "$(jq -r 'select(.summary != true and .file == "files/tokens.txt") |
  "\(.detector) \(.key_type) \(.bits) \(.verified) \(.severity) \(.public_sha256) \(.offset) \(.length)"' out.json)" \
  "$TOKENS_WANT" "JWT, AWS key id, GitHub token: medium, unverified, no fingerprint, at their offsets"
is "$(jq -r 'select(.summary != true and .file == "files/token-decoys.txt") | "\(.detector) \(.key_type) \(.offset)"' out.json)" "" \
  "decoys: AKIA + 15 characters and a JWT whose header is not JSON give nothing"
is "$(jq -r 'select(.summary == true and .file == "files/token-decoys.txt") | .verdict' out.json)" clean \
  "decoys: verdict clean"
for f in "${FILES[@]}"; do
  is "$(jq -r --arg f "$f" 'select(.summary != true and .file == $f) |
    "\(.detector) \(.key_type) \(.bits) \(.verified) \(.severity) \(.public_sha256) \(.offset)"' out.json)" \
    "${WANT[$f]}" "${WHAT[$f]}: found once, $(cut -d' ' -f1-5 <<<"${WANT[$f]}"), fingerprint, offset"
done
is "$(grep -c '^files/tokens.txt: medium token' out.txt)" 3 "human output: the three tokens at medium"

# ---- I7: no secret bytes in any output

# secrets: the base64 text of every key file, its decoded bytes as hex, tokens
: > secrets
body() { # FILE: the base64 text of a key file, without armour and headers
  case $1 in
    *.ppk) awk '/^(Public|Private)-Lines:/ {n = $2; next} n > 0 {print; n--}' "$1" ;;
    *) sed '/^-----/d' "$1" ;;
  esac | tr -d '\n'
}
for f in ssh-ed25519 ssh-rsa ssh-ecdsa ssh-enc ed25519.ppk rsa.ppk ecdsa-v2.ppk enc.ppk sa.pkcs8.pem sa.pem; do
  b=$(body "$f")
  [ "${#b}" -gt 64 ] || bail "no base64 body in $f"
  printf '%s\n' "$b" >> secrets.b64
  printf '%s' "$b" | base64 -d | od -An -v -tx1 | tr -d ' \n' >> secrets.hex
  printf '\n' >> secrets.hex
done
printf '%s\n%s\n%s\n' "$JWT" "$AWS" "$GHP" >> secrets.b64
# every 16-character run of the base64 and token text, every 16-byte run (32
# hex digits) of the decoded keys
awk '{ for (i = 1; i + 15 <= length($0); i++) print substr($0, i, 16) }' secrets.b64 > needles
awk '{ for (i = 1; i + 31 <= length($0); i += 2) print substr($0, i, 32) }' secrets.hex >> needles
diag "$(wc -l < needles) secret substrings"
for o in out.json out.json.err out.txt out.txt.err; do
  hits=$(grep -F -i -c -f needles "$o")
  is "$hits" 0 "I7: no line of $o holds 16 bytes of a key or a token"
  [ "$hits" -eq 0 ] || diag "$(grep -F -i -o -f needles "$o" | head -n 3 | cut -c1-8)..."
done
# the check itself finds secrets where they are
grep -F -q -f needles ssh-rsa; ok $? "I7 check: it finds the key's base64 in the key file"
grep -F -q -i -f needles <(od -An -v -tx1 ssh-rsa.blob | tr -d ' \n'); ok $? "I7 check: it finds the key's bytes as hex"
grep -F -q -f needles files/tokens.txt; ok $? "I7 check: it finds the tokens in tokens.txt"

done_testing
