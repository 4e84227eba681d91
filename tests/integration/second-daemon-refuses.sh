#!/usr/bin/env bash
# second-daemon-refuses: one gate per state directory and per socket.  A
# second dumpgated on the same state directory exits non-zero naming the
# lock (and the first gate's pid); one with another state directory but the
# same socket refuses because a gate is listening there; neither disturbs
# the first, which still answers on its socket.  Twin: once the first has
# stopped (cleanly, or killed with -9) a new one starts on the same state
# directory and has the same transfers.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

dgt() { local u=$1; shift; as "$u" timeout 30 "$T/bin/dumpgate" "$@"; }
first=$GATE_PID
f=$T/files/a.bin
mkfile "$f" 10000
id=$(dgt dg-alice submit --profile crashdump --reason "INC-11" "$f")
ok $? "the first gate stores a transfer"
# Let its scan finish, so that the log holds still while we watch it.
for _ in $(seq 1 300); do
  case $(dg dg-admin show "$id" --json | jq -r .state) in stored|scanning) sleep 0.1 ;; *) break ;; esac
done
sock_ino=$(stat -c %i "$SOCK")
seq_before=$(jq -s 'map(.seq) | max' "$T/state/audit.log")

# ---- refuses: same config, same state directory
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --foreground 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
ok $? "a second dumpgated on the same state directory exits non-zero at once (got $rc)"
# First line only: an ASan build may add a leak report after it.
is "$(head -n 1 <<<"$out")" "dumpgated: error: $T/state is locked by another dumpgated (pid $first); refusing to start" \
  "it names the locked state directory and the first gate's pid"
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
ok $? "the same, detaching, exits non-zero too (got $rc)"
like "$out" "is locked by another dumpgated" "and names the lock"
kill -0 "$first"
ok $? "the first gate is still running"
is "$(stat -c %i "$SOCK" 2>/dev/null)" "$sock_ino" "its socket was not replaced"
is "$(dgt dg-alice show "$id" --json | jq -r .id)" "$id" "the first gate still answers"
is "$(jq -s 'map(.seq) | max' "$T/state/audit.log")" "$seq_before" "the second gate wrote nothing to the audit log"
is "$(cat "$T/state/lock")" "$first" "the lock file still names the first gate"

# ---- refuses: another state directory, the same socket
conf2=$T/dumpgate2.conf
sed "s|^state_dir = .*|state_dir = $T/state2|" "$CONF" > "$conf2"
chmod 644 "$conf2"
out=$(timeout 20 "$T/bin/dumpgated" --config "$conf2" --foreground 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
ok $? "a gate with another state directory but the same socket exits non-zero (got $rc)"
is "$(head -n 1 <<<"$out")" "dumpgated: error: another dumpgated is listening on $SOCK; refusing to start" \
  "it says another dumpgated is listening on the socket"
is "$(stat -c %i "$SOCK" 2>/dev/null)" "$sock_ino" "the first gate's socket was not replaced"
is "$(dgt dg-bob status >/dev/null 2>&1; echo $?)" 0 "the first gate still answers"
is "$(dgt dg-alice status | grep -E '^pid:' | awk '{print $2}')" "$first" "and it is the first gate that answers"
# The refused gate never served anyone, so its own log must not say it
# started (the socket is bound before the log is touched).
n_started=$(jq -r 'select(.event == "gate_started") | .seq' "$T/state2/audit.log" 2>/dev/null | wc -l)
[ "$n_started" -eq 0 ]
ok $? "the refused gate wrote no gate_started record (found $n_started)"

# ---- accepts: after a clean stop, a new gate on the same state directory
gate_stop
[ ! -e "$SOCK" ]
ok $? "the stopped gate removed its socket"
gate_start
ok $? "a new gate starts on the same state directory"
[ "$GATE_PID" != "$first" ]
ok $? "it is a new process"
is "$(cat "$T/state/lock")" "$GATE_PID" "the lock file names the new gate"
is "$(dgt dg-alice show "$id" --json | jq -r .sha256)" "$(sha256sum < "$f" | cut -d' ' -f1)" "it has the transfer of the first gate"

# ---- accepts: after kill -9 (stale socket file, lock released by the kernel)
gate_kill9
[ -S "$SOCK" ]
ok $? "a killed gate leaves its socket file behind"
gate_start
ok $? "a new gate starts over the stale socket and the released lock"
is "$(dgt dg-alice show "$id" --json | jq -r .sha256)" "$(sha256sum < "$f" | cut -d' ' -f1)" "it has the transfer too"
dgt dg-auditor audit verify >/dev/null
ok $? "the audit chain verifies across the three gates"

# ---- and the refusals hold against the new gate as well
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --foreground 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
ok $? "a second dumpgated is refused by the new gate's lock"
like "$out" "pid $GATE_PID\\)" "naming the new gate's pid"

done_testing
