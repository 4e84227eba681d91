#!/usr/bin/env bash
# dumpgate verify-release on the debugging side: a release signed with the
# gate's Ed25519 key over the domain prefix and the manifest's exact bytes
# verifies; a changed file, manifest, signature, an extra file or another
# key does not.  (The release is built here with openssl, independently of
# the gate's own code.)
source "$DG_SRC/tests/lib/lib.sh"
W=$(mktemp -d /tmp/dg-verify.XXXXXX)
on_exit 'rm -rf "$W"'
DG=$DG_BUILD/dumpgate

openssl genpkey -algorithm ed25519 -out "$W/k.pem" 2>/dev/null || bail "openssl genpkey failed"
openssl pkey -in "$W/k.pem" -pubout -out "$W/k.pub"
openssl genpkey -algorithm ed25519 -out "$W/other.pem" 2>/dev/null
openssl pkey -in "$W/other.pem" -pubout -out "$W/other.pub"
fp=$(openssl pkey -pubin -in "$W/k.pub" -outform DER | sha256sum | cut -d' ' -f1)

mkrelease() { # DIR: a release of a small file, signed with k.pem
  local d=$1
  mkdir -p "$d"
  head -c 4096 /dev/urandom > "$d/core.1234"
  local sha size
  sha=$(sha256sum < "$d/core.1234" | cut -d' ' -f1)
  size=$(stat -c %s "$d/core.1234")
  jq -n --arg sha "$sha" --argjson size "$size" --arg fp "$fp" \
    '{transfer: "0123456789abcdef0123456789abcdef", profile: "crashdump", file: "core.1234",
      size: $size, sha256: $sha, signature_domain: "dumpgate release manifest v1", gate_key_sha256: $fp}' \
    > "$d/manifest.json"
  { printf 'dumpgate release manifest v1\0'; cat "$d/manifest.json"; } > "$W/signed"
  openssl pkeyutl -sign -inkey "$W/k.pem" -rawin -in "$W/signed" | base64 -w0 > "$d/manifest.sig"
  echo >> "$d/manifest.sig"
}

mkrelease "$W/good"
out=$("$DG" verify-release "$W/good" --key "$W/k.pub" 2>&1)
is "$?" 0 "accepts: a release signed by the gate's key verifies ($out)"

cp -a "$W/good" "$W/file"; printf 'X' | dd of="$W/file/core.1234" bs=1 seek=100 conv=notrunc status=none
out=$("$DG" verify-release "$W/file" --key "$W/k.pub" 2>&1)
is "$?" 1 "refuses: one byte of the file changed"
like "$out" "core.1234: SHA-256 differs" "it names the file and the hash"

cp -a "$W/good" "$W/manifest"; sed -i 's/crashdump/crashdumX/' "$W/manifest/manifest.json"
out=$("$DG" verify-release "$W/manifest" --key "$W/k.pub" 2>&1)
is "$?" 1 "refuses: one byte of the manifest changed"
like "$out" "manifest.sig does not verify" "it says the signature does not verify"

cp -a "$W/good" "$W/sig"; sed -i 's/^./A/' "$W/sig/manifest.sig"
[ "$(cat "$W/sig/manifest.sig")" != "$(cat "$W/good/manifest.sig")" ] || sed -i 's/^./B/' "$W/sig/manifest.sig"
out=$("$DG" verify-release "$W/sig" --key "$W/k.pub" 2>&1)
is "$?" 1 "refuses: a changed signature"

cp -a "$W/good" "$W/extra"; echo x > "$W/extra/payload.sh"
out=$("$DG" verify-release "$W/extra" --key "$W/k.pub" 2>&1)
is "$?" 1 "refuses: an extra file in the release"
like "$out" "unexpected" "it names the unexpected file"

out=$("$DG" verify-release "$W/good" --key "$W/other.pub" 2>&1)
is "$?" 1 "refuses: another gate's key"

# a signature over the bare manifest (no domain prefix) is not accepted
cp -a "$W/good" "$W/nodomain"
openssl pkeyutl -sign -inkey "$W/k.pem" -rawin -in "$W/nodomain/manifest.json" | base64 -w0 > "$W/nodomain/manifest.sig"
echo >> "$W/nodomain/manifest.sig"
out=$("$DG" verify-release "$W/nodomain" --key "$W/k.pub" 2>&1)
is "$?" 1 "refuses: a signature made without the domain prefix"
done_testing
