#!/usr/bin/env bash
# gcore-monitor-holds-no-token-key: the monitor reads a token's AES key
# for one decryption and wipes it; an enrolment's key lives only until
# the proof OTP.  After two softkeys (bob, carol) are enrolled from key
# files, a third (dave) with a key the gate generated, and a transfer is
# approved with all three, a core of the running monitor (gcore) holds
# none of the three AES keys: neither their 16 raw bytes nor their hex
# text (lower or upper case).  Twin proving the search works on that very
# core: it finds what the monitor does hold (the artifact's sha256 as hex
# text, each token's public id, 16 raw bytes of the gate's public key).
#
# SERIAL: gcore stops the monitor while it writes a core of it.
. "$DG_SRC/tests/lib/lib.sh"

command -v gcore >/dev/null || bail "gcore missing: scripts/setup installs gdb"
# An ASan monitor maps terabytes of shadow memory that gcore writes out in
# full (60 GB and counting, seen here): the normal build runs this test.
[ "$DG_SANITIZED" = 1 ] && skip_all "gcore of an ASan+UBSan monitor would write its whole shadow memory; the normal build runs this test"
gate_init
gate_start || bail "dumpgated did not start"
is "$(cat "/proc/$GATE_PID/comm")" dumpgated "GATE_PID $GATE_PID is the monitor (dumpgated --foreground)"

out=$(enroll dg-bob bob 2>&1)
ok $? "bob's softkey is enrolled for dg-bob from its key file ($out)"
out=$(enroll dg-carol carol 2>&1)
ok $? "carol's softkey is enrolled for dg-carol from its key file ($out)"

# dave: the gate generates the key; the softkey is made from the printed
# key and answers the proof on the same connection
mkfifo -m 600 "$T/dave.in"; chown dg-admin "$T/dave.in"
dg dg-admin token enroll --user dg-dave --otp-stdin < "$T/dave.in" > "$T/dave.out" 2>&1 &
epid=$!
exec 7> "$T/dave.in"
dkey=
for _ in $(seq 1 100); do
  dkey=$(sed -n 's/^AES key (shown once; program the YubiKey with it): \([0-9a-f]\{32\}\)$/\1/p' "$T/dave.out")
  [ -n "$dkey" ] && break
  sleep 0.1
done
dpid=$(sed -n 's/^public id: //p' "$T/dave.out")
mkdir -p -m 755 "$T/keys"
printf '%s\n' "$dkey" > "$T/keys/dave.aes"; chmod 600 "$T/keys/dave.aes"
"$T/bin/dumpgate-softkey" init "$T/keys/dave.state" --public-id "$dpid" --aes-key-file "$T/keys/dave.aes" >/dev/null
otp dave >&7
exec 7>&-
wait "$epid"
ok $? "dave's token is enrolled with a key the gate generated ($(tail -n 1 "$T/dave.out"))"
like "$dkey" '^[0-9a-f]{32}$' "the generated key was printed once"

f=$T/files/core.bin
mkfile "$f" 300000
id=$(submit_pending dg-alice crashdump "$f") || bail "no pending transfer"
sha=$(tfield "$id" sha256)
out=$(approve dg-bob "$id" bob 2>&1)
ok $? "dg-bob approves ($out)"
out=$(approve dg-carol "$id" carol 2>&1)
ok $? "dg-carol approves ($out)"
is "$(await_state "$id" released 60)" released "the transfer is released"
id2=$(submit_pending dg-alice crashdump "$f") || bail "no pending transfer"
out=$(approve dg-dave "$id2" dave 2>&1)
ok $? "dg-dave approves another transfer with the generated key ($out)"
x=$(otp bob)
printf '%s\n' "$x" | dg dg-bob approve "$id2" --sha256 "$(tfield "$id2" sha256)" --otp-stdin >/dev/null 2>&1
ok $? "dg-bob approves it too"
is "$(await_state "$id2" released 60)" released "the second transfer is released"
# and a refused OTP: decrypted with bob's key, then refused as a replay
out=$(printf '%s\n' "$x" | dg dg-bob approve "$id2" --sha256 "$(tfield "$id2" sha256)" --otp-stdin 2>&1)
is "$?" 1 "a replayed OTP of bob's is refused"
like "$out" "already used" "as a replay ($out)"

# ---- the core of the running monitor
# gdb leaves out mappings marked VM_DONTDUMP: there must be none but the
# kernel's own [vvar] pages, so the core holds all of the monitor's memory
dd=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { m = $6 } /^VmFlags:.* dd/ && m !~ /^\[(vvar|vvar_vclock|vsyscall)\]$/ { print m }' \
       "/proc/$GATE_PID/smaps")
is "$dd" "" "no mapping of the monitor's memory is left out of cores (VM_DONTDUMP)"
gcore -o "$T/core" "$GATE_PID" > "$T/gcore.log" 2>&1
ok $? "gcore wrote a core of the monitor"
C=$T/core.$GATE_PID
[ -s "$C" ] || bail "no core at $C: $(tail -n 5 "$T/gcore.log")"
diag "core: $(stat -c %s "$C") bytes"
kill -0 "$GATE_PID" && "$T/bin/dumpgate" status >/dev/null
ok $? "the monitor goes on after gcore"

ascii_hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
for k in bob carol dave; do
  key=$(tr -d '\n' < "$T/keys/$k.aes")
  is "$(bytes_count "$C" "$key")" 0 "$k's AES key: its 16 raw bytes are not in the monitor"
  is "$(bytes_count "$C" "$(ascii_hex "$key")")" 0 "$k's AES key: its hex text is not in the monitor"
  is "$(bytes_count "$C" "$(ascii_hex "${key^^}")")" 0 "$k's AES key: its upper-case hex text is not in the monitor"
  # twin: the same search finds what the monitor holds
  [ "$(bytes_count "$C" "$(ascii_hex "$(pubid "$k")")")" -ge 1 ]
  ok $? "twin: $k's public id is found in the same core"
done
[ "$(bytes_count "$C" "$(ascii_hex "$sha")")" -ge 1 ]
ok $? "twin: the artifact's sha256 (hex text) is found in the core"
pub16=$(openssl pkey -pubin -in "$T/state/signing.pub" -outform DER | tail -c 32 | head -c 16 | od -An -v -tx1 | tr -d ' \n')
[ "$(bytes_count "$C" "$pub16")" -ge 1 ]
ok $? "twin: 16 raw bytes of the gate's public key are found in the core"
is "$(bytes_count "$C" "$(openssl rand -hex 16)")" 0 "twin: 16 random bytes are not"
rm -f "$C"

done_testing
