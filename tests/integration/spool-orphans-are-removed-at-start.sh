#!/usr/bin/env bash
# At start the gate removes spool files no live transfer owns (left by a
# crash between creating a file and recording its intent), and never
# touches a file whose name it does not make.
source "$DG_SRC/tests/lib/lib.sh"
gate_init
gate_start || bail "dumpgated did not start"
seq 1 500 > "$T/files/a.txt"; chmod 644 "$T/files/a.txt"
id=$(dg dg-alice submit --profile crashdump --reason "INC-O" "$T/files/a.txt")
ok $? "alice submits"
settle_one "$id" >/dev/null
gate_kill9

SPOOL=$T/state/spool
orphan=0123456789abcdef0123456789abcdef
echo partial > "$SPOOL/$orphan.part"
echo stray > "$SPOOL/fedcba9876543210fedcba9876543210"
echo notes > "$SPOOL/README.admin"
gate_start || bail "dumpgated did not restart"

[ ! -e "$SPOOL/$orphan.part" ]
ok $? "a .part file of no transfer is removed"
[ ! -e "$SPOOL/fedcba9876543210fedcba9876543210" ]
ok $? "an object of no transfer is removed"
like "$(cat "$T/gated.log")" "removed $orphan.part from the spool: no transfer owns it" "the gate says what it removed"
# refuses (to delete): what belongs to a transfer, and names it never makes
[ -e "$SPOOL/$id" ]
ok $? "the stored transfer's object stays"
is "$(sha256sum < "$SPOOL/$id" | cut -d' ' -f1)" "$(sha256sum < "$T/files/a.txt" | cut -d' ' -f1)" "with its bytes"
[ -e "$SPOOL/README.admin" ]
ok $? "a file whose name the gate never makes is left alone"
done_testing
