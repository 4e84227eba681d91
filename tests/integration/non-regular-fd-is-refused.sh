#!/usr/bin/env bash
# non-regular-fd-is-refused: a submit whose fd is a character device or a
# directory is refused (E frame with ok false) and nothing is stored; the CLI
# refuses /dev/zero itself.  Twin: the same raw request with the fd of a
# regular file is accepted and stored.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

spool_count() { find "$T/state/spool" -mindepth 1 -maxdepth 1 | wc -l; }
ntransfers() { dg dg-admin list --json | jq length; }
raw() { # raw USER < commands: dg-rawclient as USER, its frames on stdout
  as "$1" timeout 20 "$T/bin/dg-rawclient" "$SOCK"
}
submit_json() { # NAME
  printf '{"v":1,"op":"submit","profile":"crashdump","reason":"INC-3","name":"%s","stdin":false}' "$1"
}
end_frame() { grep '^E ' | head -n 1 | cut -c3-; }

mkdir -m 755 "$T/files/adir"
f=$T/files/regular.bin
mkfile "$f" 200000

# ---- refuses: a character device
out=$(printf 'FD /dev/null\nQ %s\n' "$(submit_json null)" | raw dg-alice)
e=$(end_frame <<<"$out")
is "$(jq -r .ok <<<"$e" 2>/dev/null)" false "submit with an fd of /dev/null: E frame with ok false"
like "$(jq -r .error <<<"$e" 2>/dev/null)" "regular file" "the error says a regular file (or pipe) is needed"
is "$(ntransfers)" 0 "no transfer was created"
is "$(spool_count)" 0 "nothing is in the spool"

# ---- refuses: a directory
out=$(printf 'FD %s\nQ %s\n' "$T/files/adir" "$(submit_json adir)" | raw dg-alice)
e=$(end_frame <<<"$out")
is "$(jq -r .ok <<<"$e" 2>/dev/null)" false "submit with an fd of a directory: E frame with ok false"
like "$(jq -r .error <<<"$e" 2>/dev/null)" "regular file" "the error says a regular file (or pipe) is needed"
is "$(ntransfers)" 0 "no transfer was created"
is "$(spool_count)" 0 "nothing is in the spool"

# ---- refuses: a submit without any fd
out=$(printf 'Q %s\n' "$(submit_json nofd)" | raw dg-alice)
e=$(end_frame <<<"$out")
is "$(jq -r .ok <<<"$e" 2>/dev/null)" false "submit without an fd: E frame with ok false"
is "$(ntransfers)" 0 "no transfer was created"

# ---- refuses: the CLI with /dev/zero
out=$(as dg-alice timeout 20 "$T/bin/dumpgate" submit --profile crashdump --reason INC-3 /dev/zero 2>&1)
rc=$?
is "$rc" 1 "dumpgate submit /dev/zero exits 1"
like "$out" "/dev/zero is not a regular file" "the CLI says /dev/zero is not a regular file"
is "$(ntransfers)" 0 "no transfer was created"
is "$(spool_count)" 0 "nothing is in the spool"

# The gate survived all of it and is unchanged.
dg dg-bob status >/dev/null
ok $? "the gate still answers"

# ---- accepts: the raw request with a regular file
out=$(printf 'FD %s\nQ %s\n' "$f" "$(submit_json regular.bin)" | raw dg-alice)
e=$(end_frame <<<"$out")
is "$(jq -r .ok <<<"$e" 2>/dev/null)" true "submit with an fd of a regular file: E frame with ok true"
id=$(jq -r .id <<<"$e" 2>/dev/null)
like "$id" '^[0-9a-f]{32}$' "the E frame carries the transfer id"
is "$(jq -r .state <<<"$e" 2>/dev/null)" stored "the E frame says stored"
is "$(dg dg-alice show "$id" --json | jq -r .sha256)" "$(sha256sum < "$f" | cut -d' ' -f1)" \
  "the stored transfer has the file's sha256"
is "$(sha256sum < "$T/state/spool/$id" | cut -d' ' -f1)" "$(sha256sum < "$f" | cut -d' ' -f1)" \
  "the spool object holds the file's bytes"
is "$(ntransfers)" 1 "exactly one transfer exists"

done_testing
