#!/usr/bin/env bash
# submit-stores-exact-bytes: a file passed by fd and the same bytes streamed
# on stdin are stored whole: the transfer's sha256 and size are the file's,
# and the spool object holds exactly those bytes, read-only (I1).
# Refused twins: a file the requester cannot read is refused by the CLI and
# nothing reaches the gate; a stream whose client dies before it commits
# leaves no stored transfer and no spool object (commit protocol).
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

# dgt USER ARGS...: the CLI as USER, bounded in time
dgt() { local u=$1; shift; as "$u" timeout 30 "$T/bin/dumpgate" "$@"; }
sha_of() { sha256sum < "$1" | cut -d' ' -f1; }
ntransfers() { dg dg-admin list --json | jq length; }
spool_files() { find "$T/state/spool" -mindepth 1 -maxdepth 1 | sort; }
# A stored transfer goes on to be scanned (issue 3), later approved: here
# "stored" means it reached `stored` and is in no final state since.
STORED_RE='^(stored|scanning|clean|pending)$'

f=$T/files/core.bin
mkfile "$f" 3M
want_sha=$(sha_of "$f")
want_size=$(stat -c %s "$f")

check_stored() { # ID LABEL
  local id=$1 what=$2 j obj
  like "$id" '^[0-9a-f]{32}$' "$what: submit prints a transfer id"
  j=$(dg dg-alice show "$id" --json)
  like "$(jq -r .state <<<"$j")" "$STORED_RE" "$what: state is stored (or scanned since, not final)"
  is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "stored") | .details.sha256' "$T/state/audit.log")" \
    "$want_sha" "$what: a stored record with the file's sha256 is in the audit log"
  is "$(jq -r .sha256 <<<"$j")" "$want_sha" "$what: show --json sha256 is sha256sum of the file"
  is "$(jq -r .size <<<"$j")" "$want_size" "$what: show --json size is the file's size"
  is "$(jq -r .requester <<<"$j")" dg-alice "$what: requester is the submitting account"
  obj=$T/state/spool/$id
  [ -f "$obj" ]
  ok $? "$what: spool object $id exists"
  is "$(stat -c %a "$obj")" 400 "$what: spool object is mode 0400"
  is "$(stat -c %u "$obj")" 0 "$what: spool object belongs to root"
  is "$(sha_of "$obj")" "$want_sha" "$what: spool object holds exactly the file's bytes"
  [ ! -e "$obj.part" ]
  ok $? "$what: no .part file is left"
}

# ---- accepts: by fd
id_fd=$(dgt dg-alice submit --profile crashdump --reason "INC-1 by fd" "$f")
ok $? "submit FILE succeeds"
check_stored "$id_fd" "by fd"
is "$(dg dg-admin show "$id_fd" --json | jq -r .name)" core.bin "by fd: the name is the file's base name"

# ---- accepts: by stdin
id_in=$(cat "$f" | dgt dg-alice submit --profile crashdump --reason "INC-1 by stdin" -)
ok $? "submit - (stdin) succeeds"
check_stored "$id_in" "by stdin"
[ "$id_in" != "$id_fd" ]
ok $? "two submissions get two transfer ids"
is "$(ntransfers)" 2 "the gate holds exactly the two transfers"

# ---- refuses: a file the requester cannot read
secret=$T/files/root-only.bin
head -c 4096 /dev/urandom > "$secret"
chmod 600 "$secret"
settle_one "$id_fd" >/dev/null; settle_one "$id_in" >/dev/null # the log holds still
before_seq=$(jq -s 'map(.seq) | max' "$T/state/audit.log")
out=$(dgt dg-alice submit --profile crashdump --reason "not mine" "$secret" 2>&1)
rc=$?
is "$rc" 1 "submit of a file dg-alice cannot read exits 1"
like "$out" "cannot open .*root-only\.bin: Permission denied" "the CLI says it cannot open the file and why"
is "$(ntransfers)" 2 "no transfer was created for the unreadable file"
is "$(spool_files | wc -l)" 2 "no spool object appeared for the unreadable file"
is "$(jq -s 'map(.seq) | max' "$T/state/audit.log")" "$before_seq" "nothing was logged: the request never reached the gate"

# ---- refuses: a stream whose client is killed before it commits
fifo=$T/stdin.fifo
mkfifo -m 600 "$fifo"
dg dg-alice submit --profile crashdump --reason "cut short" - <"$fifo" >"$T/cut.out" 2>"$T/cut.err" &
bgpid=$!
exec 7>"$fifo"
head -c 1M /dev/urandom >&7
# Wait until the monitor has the megabyte in its .part file.
part=
for _ in $(seq 1 100); do
  part=$(find "$T/state/spool" -name '*.part' | head -n 1)
  [ -n "$part" ] && [ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -ge 1048576 ] && break
  sleep 0.1
done
[ -n "$part" ] && [ "$(stat -c %s "$part")" -ge 1048576 ]
ok $? "the gate received the first megabyte of the stream"
cut_id=$(basename "${part:-none}" .part)
is "$(dg dg-admin show "$cut_id" --json | jq -r .state)" submitted "while streaming, the transfer is submitted (not stored)"
cpid=$(pgrep -u dg-alice -f "$T/bin/dumpgate submit --profile crashdump --reason cut short" | head -n 1)
[ -n "$cpid" ]
ok $? "found the streaming dumpgate client (pid ${cpid:-none})"
[ -n "$cpid" ] && kill -KILL "$cpid"
# The writer stays open: the gate must not take the stream as complete.
gone=1
for _ in $(seq 1 50); do
  if [ -z "$(find "$T/state/spool" -name "$cut_id*")" ] && ! dg dg-admin show "$cut_id" >/dev/null 2>&1; then
    gone=0; break
  fi
  sleep 0.1
done
ok $gone "after the client died, the transfer and its spool data are gone"
exec 7>&-
wait "$bgpid" 2>/dev/null
is "$(ntransfers)" 2 "list holds only the two stored transfers"
is "$(dg dg-admin list --json | jq -r --arg id "$cut_id" 'map(select(.id == $id)) | length')" 0 \
  "the cut-short transfer is not listed"
is "$(spool_files | wc -l)" 2 "the spool holds only the two stored objects"
is "$(jq -r --arg id "$cut_id" 'select(.transfer == $id) | .event' "$T/state/audit.log" | tr '\n' ' ')" \
  "submitted aborted " "the audit log has the intent and its aborted record, no stored record"

done_testing
