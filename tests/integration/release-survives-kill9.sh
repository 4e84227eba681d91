#!/usr/bin/env bash
# release-survives-kill9: dumpgated is killed with SIGKILL while a big
# release is being built.  Right after the kill, OUTBOX/<dest>/<id> is
# either the whole release (verify-release passes) or absent: never half
# a release under the final name (a .tmp-<id> may be left).  After the
# restart the gate finishes it: the transfer ends released, with exactly
# one released record, a release that verifies and holds the submitted
# bytes, a manifest whose audit_seq is still that of the approving record
# (not a record of the restart) and whose digest the released record
# holds, and no .tmp-<id> left.  Tried a few times with the kill at
# different moments; at least one kill must hit the gate while the
# transfer is releasing (the twin: a release that is not interrupted).
. "$DG_SRC/tests/lib/lib.sh"

gate_init
write_profile big <<'P'
[profile]
requesters = dg-alice
approvers = dg-bob dg-carol
approvals = 1
max_size = 2G
types = binary text
expiry = 1h
retention = 1d
P
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null || bail "cannot enrol bob's softkey"

OUT=$T/state/outbox/big
f=$T/files/core.big
# zeros with a random head and tail, so that a copy cut short or padded
# with zeros does not hash the same
{ head -c 4096 /dev/urandom; head -c 300M /dev/zero; head -c 4096 /dev/urandom; } > "$f"
chmod 644 "$f"
fsha=$(sha256sum < "$f" | cut -d' ' -f1)

released_records() { jq -r --arg id "$1" 'select(.transfer == $id and .event == "released") | .seq' "$T/state/audit.log" | wc -l; }
has_record() { jq -e --arg id "$1" --arg ev "$2" 'select(.transfer == $id and .event == $ev)' "$T/state/audit.log" >/dev/null; }

# wait_for WHAT ID: poll (up to 60 s, every 10 ms) until WHAT holds
wait_for() {
  local i
  for i in $(seq 1 6000); do
    case $1 in
      releasing) has_record "$2" releasing && return 0 ;;
      tmpfile) [ -n "$(find "$OUT/.tmp-$2" -type f -size +1M 2>/dev/null)" ] && return 0 ;;
      late) [ -n "$(find "$OUT/.tmp-$2" -type f -size +250M 2>/dev/null)" ] && return 0 ;;
      manifest) [ -e "$OUT/.tmp-$2/manifest.json" ] && return 0 ;;
    esac
    has_record "$2" released && return 1
    sleep 0.01
  done
  return 1
}

hits=0
# the moments of the kill: when `releasing` is recorded, when the copy is
# under way, when it is nearly done, when the manifest is being written
for when in releasing tmpfile late manifest tmpfile; do
  id=$(submit_pending dg-alice big "$f") || bail "no pending transfer"
  approve dg-bob "$id" bob >/dev/null 2>&1 || { ok 1 "$when: dg-bob approves $id"; continue; }
  killed=0 hit=0
  if wait_for "$when" "$id"; then
    gate_kill9
    killed=1
    # a hit when the killed gate had not recorded the release yet;
    # otherwise the release was quicker: the uninterrupted twin
    has_record "$id" released || hit=1
  fi
  # ---- right after the kill (or the release): whole or nothing
  if [ -e "$OUT/$id" ]; then
    out=$(verify_release "$OUT/$id")
    ok $? "$when: after the kill $id is there whole: verify-release passes ($out)"
  else
    ok 0 "$when: after the kill there is no big/$id ($([ -d "$OUT/.tmp-$id" ] && echo ".tmp-$id left" || echo "no .tmp-$id"))"
  fi
  hits=$((hits + hit))
  if [ "$killed" = 1 ]; then
    gate_start || bail "dumpgated did not restart"
  fi
  st=$(await_state "$id" released 120)
  is "$st" released "$when: the transfer ends released (killed: $killed, while releasing: $hit)"
  is "$(released_records "$id")" 1 "$when: exactly one released record"
  is "$(outbox_leftovers big "$id")" "$id" "$when: big/$id and no .tmp-$id"
  out=$(verify_release "$OUT/$id")
  ok $? "$when: verify-release passes ($out)"
  is "$(jq -r .sha256 "$OUT/$id/manifest.json")" "$fsha" "$when: the manifest's sha256 is the submitted file's"
  is "$(jq -r .audit_seq "$OUT/$id/manifest.json")" \
    "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "approval") | .seq' "$T/state/audit.log")" \
    "$when: the manifest's audit_seq is the seq of the approving record"
  is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "releasing") | .seq' "$T/state/audit.log" | wc -l)" 1 \
    "$when: exactly one releasing record"
  is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "released") | .details.manifest_sha256' "$T/state/audit.log")" \
    "$(sha256sum < "$OUT/$id/manifest.json" | cut -d' ' -f1)" "$when: the released record has the digest of the manifest in the outbox"
  is "$(sha256sum < "$OUT/$id/core.big" | cut -d' ' -f1)" "$fsha" "$when: the released file holds the submitted bytes"
  # room for the next round
  rm -rf "${OUT:?}/$id"
done
diag "kills during releasing: $hits of 5"
[ "$hits" -ge 1 ]
ok $? "at least one kill hit a transfer in releasing"

done_testing
