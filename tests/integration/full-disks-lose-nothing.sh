#!/usr/bin/env bash
# full-disks-lose-nothing: the gate's state, spool and outbox each on a
# small tmpfs of their own, filled for real (ENOSPC from the kernel).
# - a full spool: the upload is refused with code spool_full and says
#   nothing was stored; no spool object is left; a file that fits is
#   accepted.
# - a full outbox: an approved release is not thrown away: it stays
#   `releasing`, show says why it waits (release_waiting), one
#   release_postponed record is written however often it is retried,
#   nothing half-built is left in the outbox, and it survives a restart;
#   once there is room it is released whole and verifies.  While it waits
#   it can still be stopped: the requester withdraws one, an approver
#   denies another, and neither is released later; others are refused
#   (not_requester, not_approver).  A release whose spool object changed
#   still fails (release-spool-changed-fails).
# - a full audit log: a change that cannot be recorded does not happen
#   (withdraw refused with code audit, the transfer still pending), the
#   log is cut back to its last whole record and still verifies, the gate
#   keeps serving; with room again the same change goes through.  A
#   release that gets into the outbox while its `released` record cannot
#   be written is not withdrawn or denied (busy), and is recorded released
#   once the log has room.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
EXTRA_LIMITS="release_retry = 1s" write_config
S=$T/state
mkdir -m 700 "$S"
mounts=()
tiny() { # tiny DIR SIZE MODE: a tmpfs of its own at DIR
  mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=$3" dg-test "$1" || bail "cannot mount a tmpfs at $1"
  mounts=("$1" "${mounts[@]}")
}
on_exit 'gate_stop; for d in "${mounts[@]}"; do umount -l "$d"; done'
tiny "$S" 8m 0700
tiny "$S/spool" 768k 0700
tiny "$S/outbox" 64k 0755
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null || bail "cannot enrol bob's softkey"

# ---- a full spool
big=$T/files/big.log
seq 1 80000 | sed 's/^/line /' > "$big"; chmod 644 "$big"   # ~900 KB: more than the spool holds, less than max_size
before=$(audit_seq)
out=$(dg dg-alice submit --profile logs --reason "INC-9 too big for the spool" "$big" 2>&1)
rc=$?
isnt_zero() { [ "$1" != 0 ]; }
isnt_zero "$rc"
ok $? "a submit larger than the spool's room fails (exit $rc)"
like "$out" "spool is full; nothing was stored" "it says the spool is full and nothing was stored"
ab=$(audit_since "$before" '.event == "aborted"')
like "$(jq -r .details.reason <<<"$ab")" "spool is full" "an aborted record names the full spool"
is "$(ls -A "$S/spool" | wc -l)" 0 "no spool object is left behind"
is "$(dg dg-alice list --json | jq 'length')" 0 "no transfer is left behind"

# ---- a full outbox
f=$T/files/mid.log
seq 1 15000 | sed 's/^/line /' > "$f"; chmod 644 "$f"      # ~160 KB: fits the spool, not the outbox
id=$(submit_pending dg-alice logs "$f" "INC-9 app log") || bail "no pending transfer"
ok 0 "a file that fits the spool is accepted (transfer $id)"
fw=$T/files/w.log fd=$T/files/d.log
seq 1 14000 | sed 's/^/w /' > "$fw"; seq 1 14000 | sed 's/^/d /' > "$fd"; chmod 644 "$fw" "$fd"   # ~100 KB each
idw=$(submit_pending dg-alice logs "$fw" "INC-9 to withdraw") || bail "no pending transfer to withdraw"
idd=$(submit_pending dg-alice logs "$fd" "INC-9 to deny") || bail "no pending transfer to deny"
before=$(audit_seq)
for x in "$id" "$idw" "$idd"; do
  out=$(approve dg-bob "$x" bob 2>&1)
  ok $? "dg-bob approves $x ($out)"
done
waiting() { "$T/bin/dumpgate" show "$1" --json | jq -r '.release_waiting // empty'; }
for x in "$id" "$idw" "$idd"; do
  w=
  for _ in $(seq 1 100); do w=$(waiting "$x"); [ -n "$w" ] && break; sleep 0.1; done
  like "$w" "No space left on device" "show --json: release_waiting of $x says why its release waits"
  is "$(tfield "$x" state)" releasing "$x stays releasing"
done
sleep 3 # release_retry = 1s: several retries
is "$(audit_since "$before" ".event == \"release_postponed\" and .transfer == \"$id\"" | wc -l)" 1 \
  "one release_postponed record, not one per retry"
is "$(audit_since "$before" '.event == "failed"' | wc -l)" 0 "no failed record"
is "$(ls -A "$S/outbox/logs" 2>/dev/null | wc -l)" 0 "nothing half-built is left in the outbox"

# A release that waits can still be stopped, by those who may stop it.
# stopping CMD...: runs it again while the release happens to be tried
# at that very moment (busy), at most 20 times
stopping() {
  local i
  for i in $(seq 1 20); do
    OUT=$(dg "$@" 2>&1) && return 0
    grep -q "being tried again right now" <<<"$OUT" || return 1
    sleep 0.2
  done
  return 1
}
refused not_requester "dg-bob withdraws alice's waiting release" dg-bob withdraw "$idw"
refused not_approver "dg-alice denies her own waiting release" dg-alice deny "$idd" --reason mine
stopping dg-alice withdraw "$idw"
ok $? "the requester withdraws a release that waits ($OUT)"
stopping dg-bob deny "$idd" --reason "not with customer data"
ok $? "an approver denies a release that waits ($OUT)"
is "$(tfield "$idw" state) $(tfield "$idd" state)" "withdrawn denied" "they are withdrawn and denied"
is "$(tfield "$idw" release_waiting)" null "release_waiting is null once withdrawn"
grep -q "release postponed, tried again in 1 s" "$T/gated.log"
ok $? "the gate's log says the release is postponed"
out=$("$T/bin/dumpgate" show "$id")
like "$out" "release_waiting: .*No space left" "show says it too"

gate_stop
gate_start || bail "dumpgated did not restart"
is "$(tfield "$id" state)" releasing "after a restart it is still releasing"
like "$(tfield "$id" release_waiting)" "No space left" "... and still says why"
sleep 2
is "$(audit_since "$before" ".event == \"release_postponed\" and .transfer == \"$id\"" | wc -l)" 1 \
  "a restart that finds the same reason adds no record"

mount -o remount,size=2m "$S/outbox" || bail "cannot grow the outbox"
st=$(await_state "$id" released 30)
is "$st" released "with room in the outbox it is released"
is "$(tfield "$id" release_waiting)" null "release_waiting is null once released"
D=$(release_dir "$id")
cmp -s "$f" "$D/mid.log"
ok $? "the released file holds exactly the submitted bytes"
out=$(verify_release "$D")
ok $? "the release verifies ($out)"
is "$(outbox_leftovers logs "$id")" "$id" "no temporary directory is left beside it"
sleep 2
is "$(ls -A "$S/outbox/logs" | tr '\n' ' ')" "$id " "the withdrawn and the denied one are never released"

# ---- a full audit log
small=$T/files/small.log
seq 1 100 > "$small"; chmod 644 "$small"
ids=()
for k in 1 2 3 4; do
  x=$(submit_pending dg-alice logs "$small" "INC-10 log $k") || bail "no pending transfer $k"
  ids+=("$x")
done
# a release that waits for room in the outbox
mount -o remount,size=256k "$S/outbox" || bail "cannot shrink the outbox"
f4=$T/files/d4.log
seq 1 14000 | sed 's/^/4 /' > "$f4"; chmod 644 "$f4"
id4=$(submit_pending dg-alice logs "$f4" "INC-11 waits") || bail "no pending transfer 4"
approve dg-bob "$id4" bob >/dev/null 2>&1 || bail "dg-bob cannot approve $id4"
for _ in $(seq 1 100); do [ -n "$(waiting "$id4")" ] && break; sleep 0.1; done
like "$(waiting "$id4")" "No space left" "another release waits for room in the outbox"

dd if=/dev/zero of="$S/filler" bs=4k status=none 2>/dev/null
# What is left is the rest of the log's last page: audited refusals (bigger
# records than withdrawn) use most of it up, then withdraws the rest.
full=0
for _ in $(seq 1 40); do
  n=$(stat -c %s "$S/audit.log")
  dg dg-mallory submit --profile logs --reason x "$small" >/dev/null 2>&1
  [ "$(stat -c %s "$S/audit.log")" = "$n" ] && { full=1; break; }
done
is "$full" 1 "the file system of the audit log is full (a refusal could not be recorded)"
victim=
for x in "${ids[@]}"; do
  size=$(stat -c %s "$S/audit.log")
  out=$(dg dg-alice withdraw "$x" 2>&1) || { victim=$x; break; }
done
[ -n "$victim" ]
ok $? "a withdraw that cannot be recorded fails ($out)"
like "$out" "audit log cannot be written; transfer $victim was not withdrawn" "it says the change was not made and why"
is "$(tfield "$victim" state)" pending "the transfer is still pending"
is "$(stat -c %s "$S/audit.log")" "$size" "the log is cut back to its last whole record"
grep -q 'cannot append "withdrawn" to the audit log' "$T/gated.log"
ok $? "the gate's log names the record it could not append"
out=$(dg dg-admin audit verify 2>&1)
ok $? "the log still verifies ($out)"
"$T/bin/dumpgate" status >/dev/null 2>&1
ok $? "the gate keeps serving"

# The outbox gets room, the log has none: the next try renames the release
# into place, and its `released` record (longer than a withdrawn one)
# cannot be written.
mount -o remount,size=2m "$S/outbox" || bail "cannot grow the outbox"
for _ in $(seq 1 100); do [ -d "$S/outbox/logs/$id4" ] && break; sleep 0.1; done
[ -d "$S/outbox/logs/$id4" ]
ok $? "the waiting release is renamed into the outbox"
sleep 1.5
is "$(tfield "$id4" state)" releasing "it is still releasing: released could not be recorded"
out=$(dg dg-alice withdraw "$id4" 2>&1)
rc=$?
is "$rc" 1 "the requester cannot withdraw a release that is in the outbox"
like "$out" "is in the outbox already" "... the gate says it is out already ($out)"
out=$(dg dg-bob deny "$id4" --reason "too late" 2>&1)
rc=$?
is "$rc" 1 "an approver cannot deny it either"
like "$out" "is in the outbox already" "... for the same reason"

rm -f "$S/filler"
st=$(await_state "$id4" released 30)
is "$st" released "with room in the log it is recorded released"
out=$(verify_release "$(release_dir "$id4")")
ok $? "... and that release verifies ($out)"
out=$(dg dg-alice withdraw "$victim" 2>&1)
ok $? "with room again the withdraw goes through ($out)"
is "$(tfield "$victim" state)" withdrawn "the transfer is withdrawn"
out=$(dg dg-admin audit verify 2>&1)
ok $? "the log verifies ($out)"
gate_stop
gate_start || bail "dumpgated did not restart"
is "$(tfield "$id" state) $(tfield "$idw" state) $(tfield "$idd" state) $(tfield "$victim" state) $(tfield "$id4" state)" \
  "released withdrawn denied withdrawn released" "a restart replays them all"
kernel_trail "$T/trail" || bail "the gate's last record did not reach the kernel audit trail"
out=$("$T/bin/dumpgate" audit verify "$S/audit.log" --kernel-trail "$T/trail" 2>&1)
ok $? "the log verifies against the kernel audit trail ($out)"
like "$out" "[0-9]+ records? mirrored but never written" \
  "the records mirrored before writes that failed are counted, not taken for tampering"
done_testing
