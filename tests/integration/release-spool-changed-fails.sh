#!/usr/bin/env bash
# release-spool-changed-fails: the release copies the spool object and
# hashes what it copies (I1).  When the spool object was changed behind
# the gate after the scan (a byte flipped, bytes appended, bytes cut) the
# approval is still recorded against the approved hash, but the release
# fails naming the hash or size, and nothing of it is in the outbox (no
# DEST/<id>, no DEST/.tmp-<id>).  Twin: an unchanged spool object is
# released.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null || bail "cannot enrol bob's softkey"

SPOOL=$T/state/spool
f=$T/files/app.log
seq 1 50000 | sed 's/^/entry /' > "$f"; chmod 644 "$f"
size=$(stat -c %s "$f")

# changed_release HOW REGEX: a pending transfer whose spool object is
# changed by HOW (a command run on the spool file) before the approval
changed_release() {
  local how=$1 re=$2 id sobj out st
  id=$(submit_pending dg-alice logs "$f") || { ok 1 "$how: a pending transfer"; return; }
  sobj=$SPOOL/$id
  [ -f "$sobj" ]
  ok $? "$how: the spool object is $sobj"
  cmp -s "$f" "$sobj"
  ok $? "$how: it holds the submitted bytes"
  chmod u+w "$sobj"
  "$how" "$sobj"
  cmp -s "$f" "$sobj"
  ok $((!$?)) "$how: the spool object was changed behind the gate"
  out=$(approve dg-bob "$id" bob 2>&1)
  ok $? "$how: the approval names the approved sha256 and is recorded ($out)"
  st=$(await_state "$id" failed 60)
  is "$st" failed "$how: the release fails"
  like "$(tfield "$id" final_reason)" "$re" "$how: the reason names it ($(tfield "$id" final_reason))"
  is "$(tfield "$id" release)" null "$how: show --json has no release"
  is "$(outbox_leftovers logs "$id")" "" "$how: no logs/$id and no logs/.tmp-$id in the outbox"
  is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "failed") | .event' "$T/state/audit.log")" \
    failed "$how: a failed record is audited"
}

flip() { printf 'X' | dd of="$1" bs=1 seek=1234 conv=notrunc status=none; }
grow() { printf 'appended\n' >> "$1"; }
cut_short() { truncate -s $((size - 100)) "$1"; }

# ---- refuses
changed_release flip "the spool object changed: its SHA-256 is [0-9a-f]{64}, the approved artifact is [0-9a-f]{64}"
changed_release grow "the spool object changed: it is larger than the approved artifact \\($size bytes"
changed_release cut_short "the spool object changed: it is $((size - 100)) bytes with SHA-256 [0-9a-f]{64}, the approved artifact is $size bytes"

# ---- accepts: the twin, unchanged
id=$(submit_pending dg-alice logs "$f") || bail "no pending transfer"
out=$(approve dg-bob "$id" bob 2>&1)
ok $? "unchanged: approved ($out)"
is "$(await_state "$id" released 60)" released "unchanged: the release succeeds"
cmp -s "$f" "$(release_dir "$id")/app.log"
ok $? "unchanged: the released file holds the submitted bytes"
out=$(verify_release "$(release_dir "$id")")
ok $? "unchanged: verify-release passes ($out)"
is "$(outbox_leftovers logs "$id")" "$id" "unchanged: only logs/$id, no temporary directory"

done_testing
