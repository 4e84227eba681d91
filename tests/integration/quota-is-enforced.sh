#!/usr/bin/env bash
# quota-is-enforced: quota_per_requester counts the bytes a person holds in
# the spool (all of the person's accounts), quota_total the bytes of every
# one.  A submit that would go over is refused with a message naming the
# quota and nothing is stored; another person, or room left, is accepted.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
dgt() { local u=$1; shift; as "$u" timeout 30 "$T/bin/dumpgate" "$@"; }
spool_count() { find "$T/state/spool" -mindepth 1 -maxdepth 1 | wc -l; }
ntransfers() { dg dg-admin list --json | jq length; }
# A stored transfer goes on to be scanned (issue 3), later approved: here
# "stored" means it reached `stored` and is in no final state since.
STORED_RE='^(stored|scanning|clean|pending)$'

a1=$T/files/a1.bin; mkfile "$a1" 60K
a2=$T/files/a2.bin; mkfile "$a2" 60K
d1=$T/files/d1.bin; mkfile "$d1" 60K
small=$T/files/small.bin; mkfile "$small" 30K

# ================= quota_per_requester = 100K
EXTRA_LIMITS="quota_per_requester = 100K"
write_config
gate_start || bail "dumpgated did not start with quota_per_requester"

id=$(dgt dg-alice submit --profile crashdump --reason "INC-7 first" "$a1")
ok $? "alice submits 60K under a 100K per-requester quota"
like "$(dg dg-admin show "$id" --json | jq -r .state)" "$STORED_RE" "it is stored"

# ---- refuses: alice's second 60K (file)
n=$(ntransfers); s=$(spool_count)
out=$(dgt dg-alice submit --profile crashdump --reason "INC-7 second" "$a2" 2>&1)
rc=$?
is "$rc" 1 "alice's second 60K file is refused (exit 1)"
like "$out" "quota_per_requester" "the message names quota_per_requester"
like "$out" "nothing was stored" "the message says nothing was stored"
is "$(ntransfers)" "$n" "no transfer was created"
is "$(spool_count)" "$s" "nothing new in the spool"
is "$(jq -r 'select(.event == "request_refused") | .actor.account' "$T/state/audit.log" | tail -n 1)" dg-alice \
  "the refusal is audited"

# ---- refuses: the same person from her other account
out=$(dgt dg-alice2 submit --profile crashdump --reason "INC-7 other account" "$a2" 2>&1)
rc=$?
is "$rc" 1 "dg-alice2 (same person) is refused too: the quota is per person"
like "$out" "quota_per_requester" "the message names quota_per_requester"

# ---- refuses: the second 60K as a stream (only known while copying)
out=$(dgt dg-alice submit --profile crashdump --reason "INC-7 stream" - < "$a2" 2>&1)
rc=$?
is "$rc" 1 "alice's second 60K as a stream is refused (exit 1)"
like "$out" "quota_per_requester" "the message names quota_per_requester"
is "$(ntransfers)" "$n" "no transfer was created by the stream"
is "$(spool_count)" "$s" "nothing new in the spool (no object, no .part)"
is "$(jq -r 'select(.event == "aborted") | .event' "$T/state/audit.log" | wc -l)" 1 \
  "the stream's intent was cancelled by an aborted record"

# ---- accepts: what still fits, and another person
id=$(dgt dg-alice submit --profile crashdump --reason "INC-7 small" "$small")
ok $? "alice can still submit 30K (90K held, under 100K)"
id=$(dgt dg-dave submit --profile crashdump --reason "INC-7 dave" "$d1")
ok $? "dave (another person) can submit 60K"
like "$(dg dg-admin show "$id" --json | jq -r .state)" "$STORED_RE" "dave's transfer is stored"

# ---- a withdrawn transfer's artifact stays in the spool until retention
# purges it (crashdump keeps it 1d), so it still counts
first=$(dg dg-admin list --json | jq -r 'map(select(.reason == "INC-7 first")) | .[0].id')
dgt dg-alice withdraw "$first" >/dev/null
ok $? "alice withdraws her first transfer"
out=$(dgt dg-alice submit --profile crashdump --reason "INC-7 again" "$a2" 2>&1)
rc=$?
is "$rc" 1 "alice is still over quota: the withdrawn artifact is not purged yet"
like "$out" "quota_per_requester" "the message names quota_per_requester"

# ---- concurrent streams must not add up past the quota: a running
# upload reserves its whole limit, so a second stream started meanwhile
# finds no room and is refused at once.
gate_stop
rm -rf "$T/state"
gate_start || bail "dumpgated did not restart"
mkfifo -m 600 "$T/s1" "$T/s2"
dg dg-alice submit --profile crashdump --reason "INC-7 par 1" - <"$T/s1" >"$T/s1.out" 2>&1 &
p1=$!
exec 7>"$T/s1"
for _ in $(seq 1 50); do
  [ "$(dg dg-admin list --state submitted --json | jq length)" = 1 ] && break
  sleep 0.1
done
is "$(dg dg-admin list --state submitted --json | jq length)" 1 "a first stream of alice is uploading"
dg dg-alice submit --profile crashdump --reason "INC-7 par 2" - <"$T/s2" >"$T/s2.out" 2>&1 &
p2=$!
exec 8>"$T/s2"
head -c 90K /dev/urandom >&8 2>/dev/null
exec 8>&-
wait "$p2"; r2=$?
is "$r2" 1 "a second stream started while the first runs is refused"
like "$(cat "$T/s2.out")" "quota_per_requester" "its message names quota_per_requester"
head -c 90K /dev/urandom >&7
exec 7>&-
wait "$p1"; r1=$?
is "$r1" 0 "the first stream is stored"
held=$(dg dg-admin list --json | jq '[.[] | select(.size != null) | .size] | add // 0')
[ "$held" -le 102400 ]
ok $? "alice holds at most her 100K quota (held $held bytes)"

gate_stop

# ================= quota_total = 100K, on a fresh state directory
rm -rf "$T/state"
EXTRA_LIMITS="quota_total = 100K"
write_config
gate_start || bail "dumpgated did not start with quota_total"

id=$(dgt dg-alice submit --profile crashdump --reason "INC-7 total first" "$a1")
ok $? "alice submits 60K under a 100K total quota"
n=$(ntransfers); s=$(spool_count)
out=$(dgt dg-dave submit --profile crashdump --reason "INC-7 total dave" "$d1" 2>&1)
rc=$?
is "$rc" 1 "dave's 60K is refused: the gate's total would pass 100K"
like "$out" "quota_total" "the message names quota_total"
unlike "$out" "quota_per_requester" "the message does not blame dave's own quota"
is "$(ntransfers)" "$n" "no transfer was created"
is "$(spool_count)" "$s" "nothing new in the spool"
out=$(dgt dg-dave submit --profile crashdump --reason "INC-7 total stream" - < "$d1" 2>&1)
rc=$?
is "$rc" 1 "dave's 60K as a stream is refused too"
like "$out" "quota_total" "the message names quota_total"
is "$(spool_count)" "$s" "nothing new in the spool"
id=$(dgt dg-dave submit --profile crashdump --reason "INC-7 total small" "$small")
ok $? "dave's 30K still fits under the total"

done_testing
