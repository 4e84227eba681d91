#!/usr/bin/env bash
# wrong-type-is-refused: the artifact type is detected from the content, not
# the name, and checked against the profile.  logs accepts text and gzip:
# an ELF executable (named like a log) is refused naming the detected type
# and the accepted ones, as is a real core file; gzip and text are accepted.
# crashdump accepts a core file that gcore took of a live process as
# elf-core.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

dgt() { local u=$1; shift; as "$u" timeout 30 "$T/bin/dumpgate" "$@"; }
spool_count() { find "$T/state/spool" -mindepth 1 -maxdepth 1 | wc -l; }
ntransfers() { dg dg-admin list --json | jq length; }

# ---- the artifacts, real files of each kind
elf=$T/files/service.log          # an executable under a log's name
cp /bin/true "$elf"
chmod 644 "$elf"
txt=$T/files/app.log
for i in $(seq 1 200); do echo "2024-01-01T00:00:$((i % 60)) worker $i: request served"; done > "$txt"
chmod 644 "$txt"
gz=$T/files/app.log.gz
gzip -c "$txt" > "$gz"
chmod 644 "$gz"
corefile=
if command -v gcore >/dev/null; then
  env -i sleep 60 &   # an empty environment: nothing of ours in the core
  victim=$!
  timeout 30 gcore -o "$T/files/core" "$victim" >"$T/gcore.log" 2>&1
  kill "$victim" 2>/dev/null
  wait "$victim" 2>/dev/null
  corefile=$T/files/core.$victim
  [ -f "$corefile" ] && chmod 644 "$corefile" || corefile=
fi

refused_type() { # FILE DETECTED WHAT
  local file=$1 detected=$2 what=$3 out rc n=$(ntransfers) s=$(spool_count)
  out=$(dgt dg-alice submit --profile logs --reason "INC-5" "$file" 2>&1)
  rc=$?
  is "$rc" 1 "$what is refused by profile logs (exit 1)"
  like "$out" "content is $detected, but profile logs accepts only: text gzip" \
    "$what: the message names the detected type ($detected) and the accepted types"
  is "$(ntransfers)" "$n" "$what: no transfer is listed"
  is "$(spool_count)" "$s" "$what: nothing is left in the spool"
}

# ---- refuses: an ELF executable named *.log
refused_type "$elf" binary "an ELF executable"
sid=$(jq -r 'select(.event == "aborted") | .transfer' "$T/state/audit.log" | tail -n 1)
like "$(jq -r --arg id "$sid" 'select(.transfer == $id and .event == "aborted") | .details.reason' "$T/state/audit.log")" \
  "content is binary" "the aborted record says why"
# ... and the same bytes on stdin
out=$(dgt dg-alice submit --profile logs --reason "INC-5" - < "$elf" 2>&1)
rc=$?
is "$rc" 1 "the executable streamed on stdin is refused too"
like "$out" "content is binary" "the stream's message names the detected type"

# ---- refuses: a core file in logs
if [ -n "$corefile" ]; then
  refused_type "$corefile" elf-core "a core file"
else
  ok 0 "# SKIP gcore could not take a core file: $(tail -n 1 "$T/gcore.log" 2>/dev/null)"
fi

# ---- accepts: gzip and text in logs
id=$(dgt dg-alice submit --profile logs --reason "INC-5" "$gz")
ok $? "a gzip file is accepted by logs"
like "$(dg dg-alice show "$id" --json | jq -r '.state + " " + .type')" "^(stored|scanning|clean|pending) gzip\$" "it is stored with type gzip"
id=$(dgt dg-alice submit --profile logs --reason "INC-5" "$txt")
ok $? "a text file is accepted by logs"
like "$(dg dg-alice show "$id" --json | jq -r '.state + " " + .type')" "^(stored|scanning|clean|pending) text\$" "it is stored with type text"
id=$(dgt dg-alice submit --profile logs --reason "INC-5" - < "$txt")
ok $? "text on stdin is accepted by logs"
is "$(dg dg-alice show "$id" --json | jq -r .type)" text "it is stored with type text"

# ---- accepts: a real core file in crashdump, detected as elf-core
if [ -n "$corefile" ]; then
  id=$(dgt dg-alice submit --profile crashdump --reason "INC-5 core" "$corefile")
  ok $? "a core file taken by gcore is accepted by crashdump"
  j=$(dg dg-alice show "$id" --json)
  is "$(jq -r .type <<<"$j")" elf-core "its type is elf-core"
  is "$(jq -r .sha256 <<<"$j")" "$(sha256sum < "$corefile" | cut -d' ' -f1)" "its sha256 is the core file's"
else
  ok 0 "# SKIP gcore could not take a core file"
fi
# ... and the executable, which crashdump accepts as binary (not as a core)
id=$(dgt dg-alice submit --profile crashdump --reason "INC-5 exe" "$elf")
ok $? "crashdump accepts the executable"
is "$(dg dg-alice show "$id" --json | jq -r .type)" binary "an executable is binary, never elf-core"

done_testing
