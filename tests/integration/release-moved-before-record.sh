#!/usr/bin/env bash
# A sync tool may carry a release away the moment it appears.  If it does
# so in the instant between the rename and the `released` record, and the
# gate then dies, the restart must not build the release a second time:
# a marker written (and fsync'd) just before the rename, with no
# temporary directory left, says the rename happened.  The state after
# such a crash is made here from a real release: the log cut back to just
# before its `released` record, the marker put back, the directory moved.
# Refuses twin: without the marker (the crash came before the rename) the
# restart builds the release again, byte for byte the same manifest.
source "$DG_SRC/tests/lib/lib.sh"
require_root

gate_init
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null || bail "cannot enrol bob's key"
mkfile "$T/files/a.log" 2000 /dev/urandom
base64 "$T/files/a.log" > "$T/files/b.log"; chmod 644 "$T/files/b.log"
cp "$T/files/b.log" "$T/files/c.log"; echo more >> "$T/files/c.log"

# crash_after_rename ID MARKER: stop the gate; cut the log back to before
# ID's `released`; move the release away (as a sync tool would); put the
# marker back when MARKER is 1
crash_after_rename() {
  local id=$1 dir line bytes
  dir=$(release_dir "$id")
  gate_stop
  line=$(grep -n "\"event\":\"released\",\"transfer\":\"$id\"" "$T/state/audit.log" | cut -d: -f1)
  bytes=$(head -n $((line - 1)) "$T/state/audit.log" | wc -c)
  truncate -s "$bytes" "$T/state/audit.log"
  mv "$dir" "$T/synced-$id"
  [ "$2" = 1 ] && : > "$T/state/releasing/$id"
  gate_start
}

# ---- accepts: renamed, moved away, then the crash -> recorded, not rebuilt
id=$(submit_pending dg-alice logs "$T/files/b.log") || bail "no pending transfer"
approve dg-bob "$id" bob >/dev/null || bail "bob cannot approve"
is "$(await_state "$id" released 30)" released "setup: the transfer is released"
ok $([ ! -e "$T/state/releasing/$id" ]; echo $?) "the marker is gone once released is recorded"
crash_after_rename "$id" 1 || bail "the gate did not start after the crash"
is "$(await_state "$id" released 30)" released "after the restart it is released"
ok $([ ! -e "$T/state/outbox/logs/$id" ]; echo $?) "and it was not built a second time"
is "$(tfield "$id" release.manifest_sha256)" "$(sha256sum < "$T/synced-$id/manifest.json" | cut -d' ' -f1)" \
  "the released record names the digest of the manifest that left"
is "$(grep -c "\"event\":\"releasing\",\"transfer\":\"$id\"" "$T/state/audit.log")" 1 "one releasing record"
ok $([ ! -e "$T/state/releasing/$id" ]; echo $?) "the marker is gone again"
"$T/bin/dumpgate" audit verify >/dev/null
ok $? "the audit chain verifies"

# ---- refuses twin: no marker (the crash came before the rename) -> rebuilt
id2=$(submit_pending dg-alice logs "$T/files/c.log") || bail "no second pending transfer"
approve dg-bob "$id2" bob >/dev/null || bail "bob cannot approve"
is "$(await_state "$id2" released 30)" released "setup: the second transfer is released"
crash_after_rename "$id2" 0 || bail "the gate did not start after the crash"
is "$(await_state "$id2" released 30)" released "after the restart it is released"
ok $([ -d "$T/state/outbox/logs/$id2" ]; echo $?) "without a marker the release was built again"
like "$(verify_release "$T/state/outbox/logs/$id2")" "release verified" "the rebuilt release verifies"
cmp -s "$T/state/outbox/logs/$id2/manifest.json" "$T/synced-$id2/manifest.json"
ok $? "its manifest is byte for byte the first one (fixed in the releasing record)"
done_testing
