#!/usr/bin/env bash
# scan-finds-keys-in-every-form: real private keys generated here with the
# openssl CLI (RSA 512, 1024, 2048, 3072, 4096 and 8192, EC P-256 and P-384,
# Ed25519, X25519), written as traditional PEM, PKCS#8 PEM, PKCS#8 DER,
# traditional DER (PKCS#1, SEC1) and JWK, embedded at odd offsets in random
# bytes (and, for the text forms, in text), are each found exactly once by
# dumpgate-scan: verified, with the right key_type, bits, offset and the
# public_sha256 openssl prints for the same key.
# Refused twins (decoys): a bare PEM header, a header around garbage base64,
# the real libcrypto.so.3 (PEM labels as string constants), a self-signed
# certificate in PEM and DER, public keys (SPKI PEM and DER) and a PKCS#1
# key whose prime p has a flipped byte: no verified finding.  An encrypted
# PKCS#8 key is reported, unverified, as key_type "encrypted" at severity
# high.  No gate is needed: dumpgate-scan runs standalone.
. "$DG_SRC/tests/lib/lib.sh"

SCAN=$DG_BUILD/dumpgate-scan
[ -x "$SCAN" ] || bail "no $SCAN: build dumpgate-scan first"
for t in openssl jq perl basenc; do
  command -v "$t" >/dev/null || skip_all "needs $t"
done

W=$(mktemp -d /tmp/dg-scan-forms.XXXXXX)
on_exit 'rm -rf "$W"'
K=$W/keys F=$W/files
mkdir "$K" "$F"

# ---- helpers

# b64u: stdin bytes -> base64url without padding (RFC 7515 section 2)
b64u() { basenc --base64url -w0 | tr -d '='; }
# hex2b64u HEX: big-endian unsigned integer as a minimal JWK member
hex2b64u() {
  local h=${1#0x}
  h=$(printf '%s' "$h" | tr -d ':\n ' | tr 'a-f' 'A-F')
  [ $((${#h} % 2)) -eq 1 ] && h=0$h
  while [ "${#h}" -gt 2 ] && [ "${h:0:2}" = 00 ]; do h=${h:2}; done
  printf '%s' "$h" | perl -ne 'print pack("H*", $_)' | b64u
}
pub_sha() { openssl pkey -in "$1" -pubout -outform DER | sha256sum | cut -d' ' -f1; }
# odd N in [lo, lo+2*span)
odd() { echo $(($1 + 2 * (RANDOM % $2) + 1)); }
TEXT_LINE='2024-05-01T12:00:00Z worker[4242]: request served in 12 ms, status 200, path /api/v1/items'
text_prefix() { # N: about N bytes of log text, always ending in a newline
  local n=$1 i
  for ((i = 0; i * 96 < n; i++)); do printf '%s %05d\n' "$TEXT_LINE" "$i"; done
}

# ---- keys (the big RSA keys in parallel: 8192 bits takes a while)

declare -A KTYPE KBITS KSHA
RSA_SIZES="512 1024 2048 3072 4096 8192"
start=$SECONDS
pids=()
for b in 8192 4096 3072 2048 1024 512; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$b -out "$K/rsa$b.pem" 2>/dev/null &
  pids+=($!)
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/p256.pem" || bail "P-256 keygen"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/p384.pem" || bail "P-384 keygen"
openssl genpkey -algorithm ED25519 -out "$K/ed25519.pem" || bail "Ed25519 keygen"
openssl genpkey -algorithm X25519 -out "$K/x25519.pem" || bail "X25519 keygen"
for p in "${pids[@]}"; do wait "$p" || bail "RSA keygen failed"; done
diag "keys generated in $((SECONDS - start)) s"

KEYS=""
for b in $RSA_SIZES; do KEYS="$KEYS rsa$b"; KTYPE[rsa$b]=rsa; done
KEYS="$KEYS p256 p384 ed25519 x25519"
KTYPE[p256]=ec-p256 KTYPE[p384]=ec-p384 KTYPE[ed25519]=ed25519 KTYPE[x25519]=x25519
for k in $KEYS; do
  KSHA[$k]=$(pub_sha "$K/$k.pem")
  hdr=$(openssl pkey -in "$K/$k.pem" -noout -text | head -n 1)
  case $k in
    rsa* | p*) KBITS[$k]=$(sed -nE 's/.*Private-Key: \(([0-9]+) bit.*/\1/p' <<<"$hdr") ;;
    # openssl pkey -text prints no size for these; EVP_PKEY_get_bits(3)
    # documents 256 for Ed25519 and 253 for X25519.
    ed25519) KBITS[$k]=256 ;;
    x25519) KBITS[$k]=253 ;;
  esac
  [ -n "${KBITS[$k]}" ] || bail "no bit count for $k in \"$hdr\""
done
diag "Ed25519/X25519: openssl pkey -text prints no bit count; expecting EVP_PKEY_get_bits' 256 and 253"
is "${KBITS[rsa8192]} ${KBITS[p384]}" "8192 384" "openssl reports the sizes that were asked for"

# ---- forms

# jwk KEY: a private JWK (RFC 7517/7518/8037), members sorted as jq -S does
jwk() {
  local k=$1 der hexes
  case $k in
    rsa*)
      # PKCS#1 INTEGERs in order: version n e d p q dp dq qi
      mapfile -t hexes < <(openssl rsa -in "$K/$k.pem" -traditional -outform DER 2>/dev/null |
        openssl asn1parse -inform DER | sed -nE 's/.*prim: INTEGER +:([0-9A-Fa-f]+)$/\1/p')
      [ "${#hexes[@]}" -eq 9 ] || return 1
      jq -cnS --arg n "$(hex2b64u "${hexes[1]}")" --arg e "$(hex2b64u "${hexes[2]}")" \
        --arg d "$(hex2b64u "${hexes[3]}")" --arg p "$(hex2b64u "${hexes[4]}")" \
        --arg q "$(hex2b64u "${hexes[5]}")" --arg dp "$(hex2b64u "${hexes[6]}")" \
        --arg dq "$(hex2b64u "${hexes[7]}")" --arg qi "$(hex2b64u "${hexes[8]}")" \
        '{kty:"RSA",n:$n,e:$e,d:$d,p:$p,q:$q,dp:$dp,dq:$dq,qi:$qi}'
      ;;
    p256 | p384)
      local len=32 crv=P-256 dhex spki
      [ "$k" = p384 ] && len=48 crv=P-384
      # SEC1: the private scalar is the first OCTET STRING, fixed length
      dhex=$(openssl ec -in "$K/$k.pem" -outform DER 2>/dev/null |
        openssl asn1parse -inform DER | sed -nE 's/.*OCTET STRING +\[HEX DUMP\]:([0-9A-Fa-f]+)$/\1/p' | head -n 1)
      # SPKI ends with the uncompressed point 04 || x || y
      spki=$W/$k.spki.der
      openssl pkey -in "$K/$k.pem" -pubout -outform DER > "$spki"
      jq -cnS --arg crv "$crv" --arg d "$(printf '%s' "$dhex" | perl -ne 'print pack("H*", $_)' | b64u)" \
        --arg x "$(tail -c $((2 * len)) "$spki" | head -c "$len" | b64u)" \
        --arg y "$(tail -c "$len" "$spki" | b64u)" \
        '{kty:"EC",crv:$crv,x:$x,y:$y,d:$d}'
      ;;
    ed25519 | x25519)
      local crv=Ed25519
      [ "$k" = x25519 ] && crv=X25519
      # PKCS#8 and SPKI of these keys end with the 32 raw key bytes
      jq -cnS --arg crv "$crv" \
        --arg d "$(openssl pkcs8 -topk8 -nocrypt -in "$K/$k.pem" -outform DER | tail -c 32 | b64u)" \
        --arg x "$(openssl pkey -in "$K/$k.pem" -pubout -outform DER | tail -c 32 | b64u)" \
        '{kty:"OKP",crv:$crv,x:$x,d:$d}'
      ;;
  esac
}

# form KEY FORM OUT: write KEY in FORM; fails for forms the type lacks
form() {
  local k=$1 fm=$2 out=$3
  case $fm in
    pem-trad)
      case $k in rsa* | p*) openssl pkey -in "$K/$k.pem" -traditional -out "$out" ;; *) return 1 ;; esac ;;
    pem-pkcs8) openssl pkcs8 -topk8 -nocrypt -in "$K/$k.pem" -out "$out" ;;
    der-pkcs8) openssl pkcs8 -topk8 -nocrypt -in "$K/$k.pem" -outform DER -out "$out" ;;
    der-trad)
      case $k in
        rsa*) openssl rsa -in "$K/$k.pem" -traditional -outform DER -out "$out" 2>/dev/null ;;
        p*) openssl ec -in "$K/$k.pem" -outform DER -out "$out" 2>/dev/null ;;
        *) return 1 ;;
      esac ;;
    jwk) jwk "$k" > "$out" && [ -s "$out" ] ;;
  esac
}

# embed_bin FORMFILE OUT: random bytes, the form at an odd offset, random
# bytes; prints the offset
embed_bin() {
  local pre
  pre=$(odd 1000 20000)
  { head -c "$pre" /dev/urandom; cat "$1"; head -c "$(odd 100 3000)" /dev/urandom; } > "$2"
  echo "$pre"
}
# embed_text FORMFILE OUT: log text, an assignment, the form, more text
embed_text() {
  text_prefix "$(odd 500 2000)" > "$2"
  printf 'config: key = ' >> "$2"
  local pre
  pre=$(stat -c %s "$2")
  { cat "$1"; printf '\n'; text_prefix 300; } >> "$2"
  echo "$pre"
}

# Expectations: file -> "detector key_type bits verified public_sha256 offset pass"
declare -A WANT WHAT
FILES=()
expect() { # FILE WHAT DETECTOR KEY OFFSET
  FILES+=("$1")
  WHAT[$1]=$2
  WANT[$1]="$3 ${KTYPE[$4]} ${KBITS[$4]} true ${KSHA[$4]} $5 raw"
}

for k in $KEYS; do
  for fm in pem-trad pem-pkcs8 der-pkcs8 der-trad jwk; do
    src=$W/$k.$fm
    form "$k" "$fm" "$src" 2>/dev/null || { rm -f "$src"; continue; }
    case $fm in pem-*) det=pem ;; der-*) det=der ;; jwk) det=jwk ;; esac
    off=$(embed_bin "$src" "$F/$k.$fm.bin")
    expect "$F/$k.$fm.bin" "$k $fm in random bytes at offset $off" "$det" "$k" "$off"
    case $fm in
      pem-* | jwk)
        off=$(embed_text "$src" "$F/$k.$fm.txt")
        expect "$F/$k.$fm.txt" "$k $fm in text at offset $off" "$det" "$k" "$off"
        ;;
    esac
  done
done
# Keys that straddle the scanner's 1 MiB read boundary, and a JWK as jq
# pretty-prints it (members on their own lines).
MIB=1048576
for x in "rsa4096 der-trad der" "rsa3072 pem-pkcs8 pem" "p384 jwk jwk"; do
  read -r k fm det <<<"$x"
  off=$((MIB - $(stat -c %s "$W/$k.$fm") / 2 - 1))
  { head -c "$off" /dev/urandom; cat "$W/$k.$fm"; head -c 4099 /dev/urandom; } > "$F/$k.$fm.boundary.bin"
  expect "$F/$k.$fm.boundary.bin" "$k $fm across the 1 MiB read boundary at offset $off" "$det" "$k" "$off"
done
{ text_prefix 999; printf 'jwk: '; jq -S . "$W/rsa2048.jwk"; text_prefix 99; } > "$F/rsa2048.jwk.pretty.txt"
expect "$F/rsa2048.jwk.pretty.txt" "rsa2048 jwk pretty-printed in text" jwk rsa2048 \
  $(($(text_prefix 999 | wc -c) + 5))
[ -s "$W/rsa2048.jwk" ] && [ -s "$W/p256.jwk" ] && [ -s "$W/ed25519.jwk" ] && [ -s "$W/x25519.jwk" ] ||
  bail "could not build the JWKs"
diag "${#FILES[@]} files with keys"

# ---- one scan of all of them

OUT=$W/keys.json
start=$SECONDS
"$SCAN" --json "${FILES[@]}" > "$OUT" 2> "$W/keys.err"
rc=$?
diag "scanned in $((SECONDS - start)) s"
is "$rc" 1 "dumpgate-scan exits 1 (findings) on files with keys"
is "$(jq -c 'select(.summary == true)' "$OUT" | wc -l)" "${#FILES[@]}" "one summary line per file"
is "$(jq -r 'select(.summary == true and .verdict != "findings") | .file' "$OUT")" "" \
  "every file's verdict is findings"

# got FILE: the file's findings, one line each, in the order of WANT
got() {
  jq -r --arg f "$1" 'select(.summary != true and .file == $f) |
    "\(.detector) \(.key_type) \(.bits) \(.verified) \(.public_sha256) \(.offset) \(.pass)"' "$OUT"
}
for f in "${FILES[@]}"; do
  is "$(got "$f")" "${WANT[$f]}" "${WHAT[$f]}: found once, verified, type, bits, fingerprint, offset"
done
# the human output names the same number of findings
"$SCAN" "${FILES[@]}" > "$W/keys.txt" 2>&1
is "$(grep -c 'verified sha256:' "$W/keys.txt")" "${#FILES[@]}" "human output: one verified finding per file"

# ---- decoys and the encrypted key

D=$W/decoys
mkdir "$D"
DECOYS=()
# bare header lines
{ text_prefix 1001; echo '-----BEGIN RSA PRIVATE KEY-----'; text_prefix 501; } > "$D/bare-header.txt"
{ head -c 4097 /dev/urandom; printf -- '-----BEGIN RSA PRIVATE KEY-----'; head -c 999 /dev/urandom; } > "$D/bare-header.bin"
for l in 'RSA PRIVATE KEY' 'PRIVATE KEY' 'EC PRIVATE KEY' 'OPENSSH PRIVATE KEY'; do
  n=${l// /-}
  { text_prefix 333; echo "-----BEGIN $l-----"; head -c 1190 /dev/urandom | base64; echo "-----END $l-----"
    text_prefix 222; } > "$D/garbage-$n.txt"
done
# a self-signed certificate and public keys
openssl req -x509 -new -key "$K/rsa2048.pem" -subj /CN=decoy.example -days 30 -out "$W/cert.pem" 2>/dev/null ||
  bail "openssl req -x509 failed"
openssl x509 -in "$W/cert.pem" -outform DER -out "$W/cert.der"
cp "$W/cert.pem" "$D/cert.pem"
cp "$W/cert.der" "$D/cert.der"
embed_bin "$W/cert.der" "$D/cert-in-random.bin" > /dev/null
embed_text "$W/cert.pem" "$D/cert-in-text.txt" > /dev/null
for k in rsa2048 p256 ed25519 x25519; do
  openssl pkey -in "$K/$k.pem" -pubout -out "$D/$k.pub.pem"
  openssl pkey -in "$K/$k.pem" -pubout -outform DER -out "$W/$k.pub.der"
  embed_bin "$W/$k.pub.der" "$D/$k.pub-der-in-random.bin" > /dev/null
done
# a PKCS#1 key whose p has one byte flipped, so p*q != n
bad=$W/rsa2048.badp.der
openssl rsa -in "$K/rsa2048.pem" -traditional -outform DER -out "$bad" 2>/dev/null
# asn1parse: "OFF:d=1  hl=H l= L prim: INTEGER"; p is the 5th INTEGER
read -r poff phl plen < <(openssl asn1parse -inform DER -in "$bad" |
  sed -nE 's/^ *([0-9]+):d=1 +hl=([0-9]+) +l= *([0-9]+) prim: INTEGER.*/\1 \2 \3/p' | sed -n 5p)
flip=$((poff + phl + plen / 2))
byte=$(od -An -tu1 -j "$flip" -N1 "$bad" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 0x5a)))" | dd of="$bad" bs=1 seek="$flip" conv=notrunc status=none
# (openssl rsa -check exits 0 either way in 3.0: read what it says)
openssl rsa -inform DER -in "$bad" -check -noout 2>&1 | grep -q 'n does not equal p q' ||
  bail "the corrupted key does not fail p*q = n"
cp "$bad" "$D/rsa-bad-prime.der"
embed_bin "$bad" "$D/rsa-bad-prime-in-random.bin" > /dev/null
for f in "$D"/*; do DECOYS+=("$f"); done
LIBCRYPTO=/usr/lib/x86_64-linux-gnu/libcrypto.so.3
[ -f "$LIBCRYPTO" ] || LIBCRYPTO=$(ldd "$SCAN" | sed -nE 's/.*libcrypto\.so\.3 => ([^ ]+).*/\1/p')
[ -f "$LIBCRYPTO" ] || bail "cannot find libcrypto.so.3"
DECOYS+=("$LIBCRYPTO")

# the encrypted PKCS#8 key: a finding, but not a verified one
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:x -in "$K/p256.pem" -out "$W/enc.pem" ||
  bail "openssl pkcs8 -topk8 failed"
cp "$W/enc.pem" "$W/enc-alone.pem"
enc_off=$(embed_bin "$W/enc.pem" "$W/enc-in-random.bin")
enc_txt_off=$(embed_text "$W/enc.pem" "$W/enc-in-text.txt")

DOUT=$W/decoys.json
"$SCAN" --json "${DECOYS[@]}" "$W/enc-alone.pem" "$W/enc-in-random.bin" "$W/enc-in-text.txt" > "$DOUT" 2> "$W/decoys.err"
rc=$?
is "$rc" 1 "dumpgate-scan exits 1: the encrypted keys are findings"
is "$(jq -c 'select(.summary == true)' "$DOUT" | wc -l)" $((${#DECOYS[@]} + 3)) "one summary line per decoy file"

findings_of() { # FILE [JQ-FILTER]
  jq -r --arg f "$1" "select(.summary != true and .file == \$f) ${2:+| select($2)} |
    \"\\(.detector) \\(.key_type) \\(.bits) verified=\\(.verified) \\(.severity) @\\(.offset)\"" "$DOUT"
}
for f in "${DECOYS[@]}"; do
  name=${f#"$D"/}
  is "$(findings_of "$f" '.verified == true')" "" "decoy $name: no verified finding"
  case $name in
    bare-header* | garbage-* | cert* | *.pub*)
      is "$(findings_of "$f")" "" "decoy $name: no finding at all (clean)" ;;
    rsa-bad-prime*)
      all=$(findings_of "$f")
      [ -n "$all" ] && diag "reported for $name (unverified is allowed): $all" ;;
  esac
done
is "$(findings_of "$LIBCRYPTO" '.detector == "pem"')" "" \
  "libcrypto.so.3: its PEM label strings give no pem finding"
is "$(jq -r --arg f "$LIBCRYPTO" 'select(.summary == true and .file == $f) | .verdict' "$DOUT")" clean \
  "libcrypto.so.3: verdict clean"

encwant="pem encrypted false high"
engot() { jq -r --arg f "$1" 'select(.summary != true and .file == $f) |
  "\(.detector) \(.key_type) \(.verified) \(.severity) @\(.offset) sha=\(.public_sha256)"' "$DOUT"; }
is "$(engot "$W/enc-alone.pem")" "$encwant @0 sha=null" \
  "encrypted PKCS#8 PEM: key_type encrypted, not verified, severity high, no fingerprint"
is "$(engot "$W/enc-in-random.bin")" "$encwant @$enc_off sha=null" \
  "encrypted PKCS#8 PEM in random bytes: same, at its offset"
is "$(engot "$W/enc-in-text.txt")" "$encwant @$enc_txt_off sha=null" \
  "encrypted PKCS#8 PEM in text: same, at its offset"

done_testing
