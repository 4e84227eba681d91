#!/usr/bin/env bash
# release-names-and-symlinks: the file name a client gives is its own
# business, the release's name is the gate's: `../` paths, spaces, shell
# characters, leading dots, the reserved names manifest.json/manifest.sig,
# dots only, non-ASCII and over-long names all become a plain name
# ([A-Za-z0-9._-], no leading dot, at most 128 bytes) inside
# OUTBOX/<dest>/<id>/, nothing is written outside it, and verify-release
# passes.  Symlinks planted in the outbox are never followed: one at
# OUTBOX/<dest> (ELOOP) or at OUTBOX/<dest>/<id> makes the release fail
# with nothing written through it; one at OUTBOX/<dest>/.tmp-<id> is
# removed, not followed.  Twin: without the symlink the release succeeds.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null || bail "cannot enrol bob's softkey"

OUT=$T/state/outbox
E=$T/elsewhere
mkdir -m 755 "$E"
f=$T/files/plain.log
seq 1 3000 | sed 's/^/line /' > "$f"; chmod 644 "$f"

nothing_in() { is "$(find "$1" -mindepth 1 | head -n 5)" "" "$2"; }
# release_of ID STATE: approve and wait until ID is in STATE (released or
# failed); prints its state then
release_of() {
  approve dg-bob "$1" bob >/dev/null 2>&1 || diag "the approval of $1 failed"
  await_state "$1" "$2" 60
}

# ---- refuses: OUTBOX/logs is a symlink to a directory elsewhere
ln -s "$E" "$OUT/logs"
id=$(submit_pending dg-alice logs "$f") || bail "no pending transfer"
is "$(release_of "$id" failed)" failed "a symlink at OUTBOX/logs: the release fails"
like "$(tfield "$id" final_reason)" "outbox directory logs: it is a symbolic link" \
  "the reason says OUTBOX/logs is a symbolic link ($(tfield "$id" final_reason))"
nothing_in "$E" "nothing was written through the symlink"
[ -L "$OUT/logs" ] && [ "$(readlink "$OUT/logs")" = "$E" ]
ok $? "the symlink is left as it was"
is "$(tfield "$id" release)" null "show --json has no release"

# ---- accepts: the twin without the symlink
rm "$OUT/logs"
id=$(submit_pending dg-alice logs "$f") || bail "no pending transfer"
is "$(release_of "$id" released)" released "no symlink at OUTBOX/logs: the release succeeds"
[ -d "$OUT/logs" ] && [ ! -L "$OUT/logs" ]
ok $? "OUTBOX/logs is a real directory"
out=$(verify_release "$OUT/logs/$id")
ok $? "verify-release passes ($out)"
nothing_in "$E" "nothing is elsewhere"

# ---- refuses: a symlink at OUTBOX/logs/<id>
id=$(submit_pending dg-alice logs "$f") || bail "no pending transfer"
ln -s "$E" "$OUT/logs/$id"
is "$(release_of "$id" failed)" failed "a symlink at OUTBOX/logs/<id>: the release fails"
like "$(tfield "$id" final_reason)" "the release logs/$id exists already" "the reason says it exists already"
[ -L "$OUT/logs/$id" ]
ok $? "the symlink is left as it was"
nothing_in "$E" "nothing was written through it"
[ ! -e "$OUT/logs/.tmp-$id" ] && [ ! -L "$OUT/logs/.tmp-$id" ]
ok $? "no .tmp-$id is left"

# ---- accepts: a symlink at OUTBOX/logs/.tmp-<id> is removed, not followed
id=$(submit_pending dg-alice logs "$f") || bail "no pending transfer"
ln -s "$E" "$OUT/logs/.tmp-$id"
is "$(release_of "$id" released)" released "a symlink at OUTBOX/logs/.tmp-<id>: the release succeeds"
nothing_in "$E" "nothing was written through it"
is "$(outbox_leftovers logs "$id")" "$id" "the symlink is gone, logs/$id is there"
out=$(verify_release "$OUT/logs/$id")
ok $? "verify-release passes ($out)"

# ---- names: through the CLI (the basename of the path)
# named_release NAME-IN-SUBMIT WANT-IN-RELEASE ID
named_release() {
  local name=$1 want=$2 id=$3 D
  is "$(release_of "$id" released)" released "name \"$name\": released"
  is "$(tfield "$id" release.file)" "$want" "name \"$name\": the release's file is \"$want\""
  D=$OUT/logs/$id
  is "$(ls -A "$D" | sort | tr '\n' ' ')" "$(printf '%s\n' "$want" manifest.json manifest.sig | sort | tr '\n' ' ')" \
    "name \"$name\": the release holds exactly that file and the manifest"
  is "$(jq -r .file "$D/manifest.json")" "$want" "name \"$name\": the manifest names it"
  cmp -s "$f" "$D/$want"
  ok $? "name \"$name\": it holds the submitted bytes"
  out=$(verify_release "$D")
  ok $? "name \"$name\": verify-release passes ($out)"
}
cli_named() { # cli_named NAME WANT: submit a copy of $f named NAME
  mkdir -p -m 755 "$T/files/n"
  cp "$f" "$T/files/n/$1"; chmod 644 "$T/files/n/$1"
  local id
  id=$(submit_pending dg-alice logs "$T/files/n/$1") || { ok 1 "name \"$1\": a pending transfer"; return; }
  named_release "$1" "$2" "$id"
  rm -f "$T/files/n/$1"
}
cli_named '.a b;$(x)..' 'a_b___x_..'
cli_named 'manifest.json' 'artifact-manifest.json'
cli_named 'manifest.sig' 'artifact-manifest.sig'
cli_named '...' 'artifact'
cli_named 'café-crash.log' 'caf__-crash.log'
long=$(printf 'x%.0s' $(seq 1 200))
cli_named "$long" "$(printf 'x%.0s' $(seq 1 128))"

# ---- names: any string through the protocol (no basename taken)
raw_named() { # raw_named NAME WANT
  local e id
  e=$(printf 'FD %s\nQ %s\n' "$f" \
        "$(jq -cn --arg n "$1" '{v: 1, op: "submit", profile: "logs", reason: "INC-9", name: $n, stdin: false}')" |
      as dg-alice timeout 20 "$T/bin/dg-rawclient" "$SOCK" | grep '^E ' | head -n 1 | cut -c3-)
  id=$(jq -r .id <<<"$e" 2>/dev/null)
  if ! [[ $id =~ ^[0-9a-f]{32}$ ]] || [ "$(await_state "$id" pending 60)" != pending ]; then
    ok 1 "name \"$1\": a pending transfer ($e)"
    return
  fi
  named_release "$1" "$2" "$id"
}
raw_named '../../../../../../tmp/dg-evil-release' '_.._.._.._.._.._tmp_dg-evil-release'
raw_named '/etc/cron.d/dg-evil' '_etc_cron.d_dg-evil'
raw_named '..' 'artifact'
raw_named 'a/../../manifest.sig' 'a_.._.._manifest.sig'
raw_named $'new\nline\ttab' 'new_line_tab'
[ ! -e /tmp/dg-evil-release ] && [ ! -e /etc/cron.d/dg-evil ]
ok $? "nothing was written at the paths the names point to"
is "$(find "$OUT" -mindepth 1 -maxdepth 1 | sed "s|^$OUT/||" | tr '\n' ' ')" "logs " \
  "the outbox holds only the destination directory"
is "$(find "$OUT/logs" -mindepth 2 -type d | head -n 3)" "" "no release directory has a subdirectory"
nothing_in "$E" "nothing is elsewhere"

done_testing
