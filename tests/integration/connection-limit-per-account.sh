#!/usr/bin/env bash
# Per-account connection limits: an account at max_connections_per_account
# is refused with a message naming the limit; other accounts are not
# affected, and a slot freed is usable again.
source "$DG_SRC/tests/lib/lib.sh"
gate_init
EXTRA_LIMITS="max_connections_per_account = 2"
write_config
gate_start || bail "dumpgated did not start"

seq 1 1000 > "$T/files/a.txt"; chmod 644 "$T/files/a.txt"
id=$(dg dg-alice submit --profile crashdump --reason "INC-20" "$T/files/a.txt")
ok $? "alice submits a transfer"
for _ in $(seq 1 100); do
  [ "$(dg dg-admin show "$id" --json | jq -r .state)" = pending ] && break; sleep 0.1
done
is "$(dg dg-admin show "$id" --json | jq -r .state)" pending "it is scanned clean and waits for approval (not final: wait blocks)"

# Two waits hold alice's two connections.
dg dg-alice wait "$id" --timeout 30 >/dev/null 2>&1 &
w1=$!
dg dg-alice wait "$id" --timeout 30 >/dev/null 2>&1 &
w2=$!
on_exit "pkill -P $w1; pkill -P $w2; kill $w1 $w2 2>/dev/null"
for _ in $(seq 1 50); do
  [ "$(pgrep -P "$GATE_PID" | wc -l)" -ge 2 ] && break; sleep 0.1
done
is "$(pgrep -P "$GATE_PID" | wc -l)" 2 "two sessions of alice are open"

out=$(dg dg-alice status 2>&1); rc=$?
is "$rc" 1 "a third connection of alice is refused"
like "$out" "max_connections_per_account = 2" "the message names the limit"
out=$(dg dg-alice2 status 2>&1); rc=$?
is "$rc" 0 "another account (even of the same person) is not affected"
out=$(dg dg-bob status 2>&1); rc=$?
is "$rc" 0 "bob is not affected"

pkill -P "$w1" 2>/dev/null; kill "$w1" 2>/dev/null; wait "$w1" 2>/dev/null
for _ in $(seq 1 50); do
  [ "$(pgrep -P "$GATE_PID" | wc -l)" -le 1 ] && break; sleep 0.1
done
out=$(dg dg-alice status 2>&1); rc=$?
is "$rc" 0 "after one connection ends alice is served again"
pkill -P "$w2" 2>/dev/null; kill "$w2" 2>/dev/null; wait "$w2" 2>/dev/null
done_testing
