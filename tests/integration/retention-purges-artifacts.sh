#!/usr/bin/env bash
# retention-purges-artifacts: once a transfer is final, its artifact is
# deleted from the spool after the profile's retention; the record stays
# (show says purged, the state is unchanged) and a `purged` record is in the
# audit log.  Twin: with a retention of 1d the artifact stays.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
write_profile brief <<'P'
[profile]
requesters = @dg-engineers
approvers = @dg-approvers
approvals = 1
max_size = 1M
types = binary text
expiry = 1h
retention = 1s
P
gate_start || bail "dumpgated did not start"

dgt() { local u=$1; shift; as "$u" timeout 30 "$T/bin/dumpgate" "$@"; }
show() { dg dg-admin show "$1" --json; }
# A stored transfer goes on to be scanned (issue 3), later approved: here
# "stored" means it reached `stored` and is in no final state since.
STORED_RE='^(stored|scanning|clean|pending)$'

f=$T/files/a.bin
mkfile "$f" 50000
short=$(dgt dg-alice submit --profile brief --reason "INC-8 short" "$f")
ok $? "submitted with the 1s-retention profile"
long=$(dgt dg-alice submit --profile crashdump --reason "INC-8 long" "$f")
ok $? "submitted with the 1d-retention profile"

# Not final: retention does not apply, whatever its length.
st=$(settle_one "$short")
like "$st" "$STORED_RE" "the short-retention transfer is stored and not final (now $st)"
like "$(settle_one "$long")" "$STORED_RE" "the long-retention transfer is stored and not final"
sleep 2.5
[ -f "$T/state/spool/$short" ]
ok $? "a stored (not final) transfer keeps its artifact past a 1s retention"
is "$(show "$short" | jq -r .purged)" false "and it is not purged"

dgt dg-alice withdraw "$short" >/dev/null
ok $? "the short-retention transfer is withdrawn"
dgt dg-alice withdraw "$long" >/dev/null
ok $? "the long-retention transfer is withdrawn"

# ---- accepts: purged within a few seconds
gone=1
for _ in $(seq 1 60); do
  [ -e "$T/state/spool/$short" ] || { gone=0; break; }
  sleep 0.1
done
ok $gone "the 1s-retention artifact disappears from the spool within 6 s"
j=$(show "$short")
is "$(jq -r .id <<<"$j")" "$short" "its record is still shown"
is "$(jq -r .purged <<<"$j")" true "show --json says purged"
is "$(jq -r .state <<<"$j")" withdrawn "the state is still withdrawn"
is "$(jq -r .sha256 <<<"$j")" "$(sha256sum < "$f" | cut -d' ' -f1)" "the record keeps the artifact's sha256"
is "$(dgt dg-alice list --json | jq -r --arg id "$short" 'map(select(.id == $id)) | length')" 1 \
  "it is still listed"
is "$(jq -r --arg id "$short" 'select(.transfer == $id and .event == "purged") | .details.reason' "$T/state/audit.log")" \
  retention "a purged record with reason retention is in the audit log"
ev=$(jq -r --arg id "$short" 'select(.transfer == $id) | .event
        | select(. == "submitted" or . == "stored" or . == "withdrawn" or . == "purged")' "$T/state/audit.log" | tr '\n' ' ')
is "$ev" "submitted stored withdrawn purged " "the records come in order: submitted stored withdrawn purged"

# ---- refuses: 1d retention keeps the artifact
[ -f "$T/state/spool/$long" ]
ok $? "the 1d-retention artifact is still in the spool"
is "$(sha256sum < "$T/state/spool/$long" | cut -d' ' -f1)" "$(sha256sum < "$f" | cut -d' ' -f1)" \
  "and holds the same bytes"
is "$(show "$long" | jq -r .purged)" false "show --json says not purged"
is "$(jq -r --arg id "$long" 'select(.transfer == $id and .event == "purged") | .seq' "$T/state/audit.log" | wc -l)" 0 \
  "no purged record for it"

# ---- the purge is part of the replayed state: after a restart it holds
gate_stop
gate_start || bail "dumpgated did not restart"
is "$(show "$short" | jq -r '.state + " " + (.purged | tostring)')" "withdrawn true" \
  "after a restart the short one is still withdrawn and purged"
is "$(show "$long" | jq -r '.state + " " + (.purged | tostring)')" "withdrawn false" \
  "after a restart the long one is still withdrawn and not purged"
[ -f "$T/state/spool/$long" ] && [ ! -e "$T/state/spool/$short" ]
ok $? "the spool is as before the restart"
is "$(jq -r --arg id "$short" 'select(.transfer == $id and .event == "purged") | .seq' "$T/state/audit.log" | wc -l)" 1 \
  "the restart did not purge twice"

done_testing
