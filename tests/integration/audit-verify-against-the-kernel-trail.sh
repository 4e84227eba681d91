#!/usr/bin/env bash
# audit-verify-against-the-kernel-trail: `audit verify --kernel-trail
# FILE` checks the gate's log against what auditd wrote of its kernel
# mirror (the real /var/log/audit/audit.log*, copied as an auditor would
# receive it).  Accepts: the log as the gate wrote it, by path and fetched
# from the gate by an auditor; a trail that begins after the log did.
# Refuses, each naming the place: a log rewritten by root with a
# consistent hash chain (which plain `audit verify` accepts), a line added
# at the end with a consistent chain, a log cut short by one and by two
# lines, and a trail that holds none of the log's records; a log cut
# short and the gate restarted (the trail then branches), a log deleted
# and the gate restarted (the trail holds another log with the same
# signing key), and a trail with a record injected for an existing line.
# A trail gathered from several hosts (node=HOST prefixes) is read.  Bad
# input: a trail file that cannot be opened, --kernel-trail with `audit
# show`.
. "$DG_SRC/tests/lib/lib.sh"
command -v auditctl >/dev/null || bail "auditctl missing (auditd package)"

gate_init
gate_start || bail "dumpgated did not start"
f=$T/files/a.log
seq 1 100 > "$f"; chmod 644 "$f"
id=$(submit_pending dg-alice logs "$f" "INC-12 app log") || bail "no pending transfer"
dg dg-alice withdraw "$id" >/dev/null || bail "cannot withdraw $id"
gate_stop
L=$T/state/audit.log
n=$(wc -l < "$L")

TR=$T/trail
trail() { kernel_trail "$TR" || bail "the gate's last record did not reach /var/log/audit/audit.log"; }
trail

kv() { "$T/bin/dumpgate" audit verify "$@" 2>&1; }

# ---- accepts
out=$(kv "$L" --kernel-trail "$TR")
ok $? "the log as the gate wrote it verifies against the trail ($out)"
like "$out" "kernel audit trail: lines 1-$n found, none after the last" "every line is found, nothing after the last"
gate_start || bail "dumpgated did not restart"
n2=$(wc -l < "$L")
trail
out=$(dg dg-admin audit verify --kernel-trail "$TR" 2>&1)
ok $? "an auditor verifies the log fetched from the gate against the trail ($out)"
like "$out" "lines 1-$n2 found" "... all $n2 lines"
gate_stop
n=$(wc -l < "$L")
trail
grep -v "op=dumpgate seq=[123] " "$TR" > "$T/late-trail"
out=$(kv "$L" --kernel-trail "$T/late-trail")
ok $? "a trail that begins after the log did is accepted ($out)"
like "$out" "lines 4-$n found.*lines 1-3 are older than the trail given" "... and says which lines it does not cover"

# ---- refuses
# forge FROM TO N: line N changed (its time), every later line re-chained
forge() {
  local prev= i=0 line
  : > "$2"
  while IFS= read -r line; do
    i=$((i + 1))
    [ "$i" -eq "$3" ] && line=$(jq -c '.time = "2026-01-01T00:00:00Z"' <<<"$line")
    [ "$i" -gt "$3" ] && line=$(jq -c --arg p "$prev" '.prev = $p' <<<"$line")
    printf '%s\n' "$line" >> "$2"
    prev=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
  done < "$1"
}
# caught LOG WHAT PATTERN: LOG passes the chain check alone, and fails
# against the kernel trail saying PATTERN
caught() {
  out=$(kv "$1")
  ok $? "$2 passes the chain check alone ($out)"
  out=$(kv "$1" --kernel-trail "$TR")
  is $? 1 "... but not against the kernel trail"
  like "$out" "$3" "... which names the line"
}
forge "$L" "$T/forged.log" 5
caught "$T/forged.log" "a log rewritten with a consistent chain" \
  "line 5 \(seq 5, event [a-z_]+\) is not in the kernel audit trail, nor is any line after it: the trail has another record in its place, so the line was changed"

# a line added at the end, chained
prev=$(tail -n 1 "$L" | tr -d '\n' | sha256sum | cut -d' ' -f1)
cp "$L" "$T/added.log"
jq -c --arg p "$prev" --argjson s $((n + 1)) '.seq = $s | .prev = $p' <<<"$(tail -n 1 "$L")" >> "$T/added.log"
caught "$T/added.log" "a line added at the end with a consistent chain" \
  "line $((n + 1)) \(seq $((n + 1)), event gate_stopped\) is not in the kernel audit trail: the line was added or changed"

head -n $((n - 1)) "$L" > "$T/cut1.log"
out=$(kv "$T/cut1.log" --kernel-trail "$TR")
is $? 1 "a log without its last line is refused"
like "$out" "the trail has 1 record chained after the log's last line \(from seq $n, event gate_stopped\): the log was cut short, or the gate's last write failed" \
  "it says one record follows in the trail"
head -n $((n - 2)) "$L" > "$T/cut2.log"
out=$(kv "$T/cut2.log" --kernel-trail "$TR")
is $? 1 "a log without its last two lines is refused"
like "$out" "the trail has 2 records chained after the log's last line \(from seq $((n - 1)), event [a-z_]+\): the log was cut short$" \
  "it says two records follow: cut short"

grep -v "op=dumpgate" /var/log/audit/audit.log | head -n 50 > "$T/other-trail"
out=$(kv "$L" --kernel-trail "$T/other-trail")
is $? 1 "a trail with none of the log's records is refused"
like "$out" "none of its $n records is in the 1 file given" "it says none was found"

# root can send records to the kernel too: a second, different record for
# a line of the log
second=$(sed -n 2p "$L" | tr -d '\n' | sha256sum | cut -d' ' -f1)
{ cat "$TR"; printf "type=TRUSTED_APP msg=audit(1.0:1): pid=1 uid=0 auid=0 ses=1 msg='op=dumpgate seq=2 event=stored transfer=none line_sha256=%s prev=%064d data=00'\n" "$second" 0; } > "$T/injected-trail"
out=$(kv "$L" --kernel-trail "$T/injected-trail")
is $? 1 "a trail with two different records for one line is refused"
like "$out" "two different records .*sent to the kernel by someone other than the gate" "it says records were injected"

sed 's/^/node=gate-1.example type=/; s/^node=gate-1.example type=type=/node=gate-1.example type=/' "$TR" > "$T/node-trail"
out=$(kv "$L" --kernel-trail "$T/node-trail")
ok $? "a trail gathered with node=HOST prefixes is read ($out)"

# cut short by three lines, and the gate restarted: it chains a new
# gate_started after the cut, and the trail still has the three
cp "$L" "$T/whole.log"
head -n $((n - 3)) "$T/whole.log" > "$L"
gate_start || bail "dumpgated did not restart on the cut log"
gate_stop
trail
out=$(kv "$L" --kernel-trail "$TR")
is $? 1 "a log cut short and the gate restarted is refused"
like "$out" "the trail has 3 records chained after line $((n - 3)) that the log does not have .*the log was cut there and the gate restarted" \
  "it names the line after which the log was cut"

# deleted, and the gate restarted: a new log, the same signing key
rm -f "$L"
gate_start || bail "dumpgated did not start on an empty log"
gate_stop
trail
out=$(kv "$L" --kernel-trail "$TR")
is $? 1 "a log deleted and begun anew is refused"
like "$out" "the trail holds [0-9]+ other logs? of this gate \(a first line naming the same signing key" \
  "it says the trail holds an earlier log of the same gate"

# ---- bad input
out=$(kv "$L" --kernel-trail "$T/no-such-file")
is $? 1 "a trail file that cannot be opened is an error"
like "$out" "kernel trail: cannot open $T/no-such-file: No such file or directory" "naming the file and why"
unlike "$out" "audit log verified" "... before anything is verified"
out=$(dg dg-admin audit show --kernel-trail "$TR" 2>&1)
is $? 2 "audit show --kernel-trail is a usage error"
like "$out" "audit show takes no --kernel-trail" "saying so"
done_testing
