#!/usr/bin/env bash
# softkey-otps-are-real: `dumpgate-softkey` issues real Yubico OTPs.  A
# token created with a given AES key and public id gives distinct 44-char
# modhex OTPs that start with its public id; each one, decrypted here
# independently of libyubikey (openssl AES-128-ECB, CRC-16 in shell), holds
# the token's private id, a valid CRC and (counter, use) pairs that only go
# up, across invocations, with --new-session, with --caps-lock (flag set,
# counter unchanged) and with 20 concurrent callers; `show` agrees with the
# last OTP and never shows the key.  Refused: init over an existing file, a
# state file with mode 0644, a symlink or a non-regular file, an AES key in
# argv (no such option: exit 2, and the key is not echoed), a key file with
# 31 hex characters, a hand-edited state file.  Needs no gate and no root.
. "$DG_SRC/tests/lib/lib.sh"

SK=$DG_BUILD/dumpgate-softkey
[ -x "$SK" ] || bail "$SK not built"
command -v openssl >/dev/null || bail "openssl missing: run scripts/setup"

T=$(mktemp -d /tmp/dg-softkey.XXXXXX)
on_exit 'rm -rf "$T"'
KEY=00112233445566778899aabbccddeeff
PUB=vvccccbhbkfe

# decrypt OTP -> "PRIVATE-ID-HEX COUNTER USE CAPS CRC-OK" (counter masked,
# CAPS 1 when the caps-lock bit is set, CRC-OK 1 when the residue is 0xf0b8)
decrypt() {
  local hex plain crc=0xffff i j ctr
  hex=$(printf '%s' "${1:12}" | tr cbdefghijklnrtuv 0123456789abcdef)
  # hex -> bytes with printf escapes, bytes -> hex with od (coreutils)
  plain=$(printf '%b' "$(printf '%s' "$hex" | sed 's/../\\x&/g')" |
    openssl enc -d -aes-128-ecb -K "$KEY" -nopad | od -An -v -tx1 | tr -d ' \n')
  for ((i = 0; i < 32; i += 2)); do
    crc=$((crc ^ 0x${plain:i:2}))
    for ((j = 0; j < 8; j++)); do
      if ((crc & 1)); then crc=$(((crc >> 1) ^ 0x8408)); else crc=$((crc >> 1)); fi
    done
  done
  ctr=$((0x${plain:14:2}${plain:12:2}))
  echo "${plain:0:12} $((ctr & 0x7fff)) $((0x${plain:22:2})) $(((ctr >> 15) & 1)) $((crc == 0xf0b8 ? 1 : 0))"
}
field() { sed -n "s/^$2=//p" "$1"; }

# ---- init with a given key and public id
printf '%s\n' "$KEY" > "$T/key"
chmod 600 "$T/key"
out=$("$SK" init "$T/st" --public-id "$PUB" --aes-key-file "$T/key" 2>"$T/err")
ok $? "init with --aes-key-file and --public-id succeeds"
is "$out" "$PUB" "init prints the public id only (the key was given, so it is not shown)"
is "$(stat -c %a "$T/st")" 600 "the state file is mode 0600"
is "$(field "$T/st" aes_key)" "$KEY" "the state file holds the given key"
PRIV=$(field "$T/st" private_id)
like "$PRIV" '^[0-9a-f]{12}$' "and a private id"
is "$("$SK" show "$T/st")" "public_id=$PUB
counter=0
use=0" "show: nothing issued yet"

# ---- five OTPs, one invocation each
otps=()
for i in 1 2 3 4 5; do otps+=("$("$SK" otp "$T/st")"); done
bad=0
for o in "${otps[@]}"; do
  [[ "$o" =~ ^${PUB}[cbdefghijklnrtuv]{32}$ ]] || { bad=1; diag "bad OTP: $o"; }
done
is "$bad" 0 "5 OTPs: 44 modhex characters each, starting with the public id"
is "$(printf '%s\n' "${otps[@]}" | sort -u | wc -l)" 5 "the 5 OTPs are distinct"
dec=$(for o in "${otps[@]}"; do decrypt "$o"; done)
is "$dec" "$PRIV 1 0 0 1
$PRIV 1 1 0 1
$PRIV 1 2 0 1
$PRIV 1 3 0 1
$PRIV 1 4 0 1" "they decrypt with the AES key: private id, CRC ok, counter 1, use 0..4"
is "$("$SK" show "$T/st")" "public_id=$PUB
counter=1
use=4" "show: the counters of the last OTP persisted"
unlike "$("$SK" show "$T/st")" "$KEY" "show never prints the key"

o=$("$SK" otp "$T/st" --new-session)
is "$(decrypt "$o")" "$PRIV 2 0 0 1" "--new-session: counter 2, use 0"
o=$("$SK" otp --caps-lock "$T/st")
is "$(decrypt "$o")" "$PRIV 2 1 1 1" "--caps-lock: the flag is set, counter 2, use 1"
is "$(field "$T/st" counter)/$(field "$T/st" use)" "2/1" "the caps-lock OTP advanced the stored counters"

# ---- 256 uses make a session: use 255 is followed by a new session
sed -i 's/^use=.*/use=254/' "$T/st"
o1=$("$SK" otp "$T/st"); o2=$("$SK" otp "$T/st")
is "$(decrypt "$o1") / $(decrypt "$o2")" "$PRIV 2 255 0 1 / $PRIV 3 0 0 1" "after use 255 the session counter goes up"

# ---- concurrent callers never get the same pair
for i in $(seq 1 20); do "$SK" otp "$T/st" > "$T/par.$i" & done
wait
pairs=$(for i in $(seq 1 20); do decrypt "$(cat "$T/par.$i")"; done | sort -u)
is "$(printf '%s\n' "$pairs" | grep -c " 1$")" 20 "20 concurrent OTPs: 20 distinct pairs with valid CRCs"
is "$(field "$T/st" counter)/$(field "$T/st" use)" "3/20" "and the counters account for every one"
is "$(find "$T" -name '.st.tmp-*' | wc -l)" 0 "no temporary state file is left behind"

# ---- refusals
cp -p "$T/st" "$T/st.before"
"$SK" init "$T/st" --aes-key-file "$T/key" >/dev/null 2>"$T/err"
is "$?" 1 "init over an existing state file is refused"
like "$(cat "$T/err")" "already exists" "and says why"
cmp -s "$T/st" "$T/st.before"
ok $? "the existing state file is unchanged"

chmod 644 "$T/st"
out=$("$SK" otp "$T/st" 2>"$T/err")
is "$?" 1 "otp refuses a state file with mode 0644"
is "$out" "" "and prints no OTP"
like "$(cat "$T/err")" "st: mode 0644, must be 0600" "the error names the file and the mode"
"$SK" show "$T/st" >/dev/null 2>&1
is "$?" 1 "show refuses it too"
chmod 600 "$T/st"
cmp -s "$T/st" "$T/st.before"
ok $? "the refused call changed nothing"

ln -s "$T/st" "$T/link"
"$SK" otp "$T/link" >/dev/null 2>"$T/err"
is "$?" 1 "a symlink to a state file is refused"
mkdir "$T/dir"
"$SK" otp "$T/dir" >/dev/null 2>"$T/err"
is "$?" 1 "a directory is refused"
like "$(cat "$T/err")" "not a regular file" "as not a regular file"

"$SK" init "$T/st2" --aes-key "$KEY" >"$T/out" 2>"$T/err"
is "$?" 2 "an AES key in argv is a usage error (there is no such option)"
"$SK" init "$T/st2" --aes-key="$KEY" >>"$T/out" 2>>"$T/err"
is "$?" 2 "--aes-key=KEY too"
"$SK" init "$T/st2" --aes "$KEY" >>"$T/out" 2>>"$T/err"
is "$?" 2 "an abbreviation of --aes-key-file is not taken for it"
unlike "$(cat "$T/out" "$T/err")" "$KEY" "the key is not echoed"
[ ! -e "$T/st2" ]
ok $? "no state file was created"

printf '%s\n' "${KEY:0:31}" > "$T/key31"
"$SK" init "$T/st3" --aes-key-file "$T/key31" >"$T/out" 2>"$T/err"
is "$?" 1 "a key file with 31 hex characters is refused"
like "$(cat "$T/err")" "key31: expected the AES key as 32 hex characters" "the error names the file"
[ ! -e "$T/st3" ] && [ ! -s "$T/out" ]
ok $? "nothing was created or printed"
printf '%s\n' "${KEY}0" > "$T/key33"
"$SK" init "$T/st3" --aes-key-file "$T/key33" >/dev/null 2>&1
is "$?" 1 "a key file with 33 hex characters is refused"

cp -p "$T/st" "$T/st4"
sed -i 's/^use=.*/use=256/' "$T/st4"
"$SK" otp "$T/st4" >/dev/null 2>"$T/err"
is "$?" 1 "a state file with use=256 is refused"
like "$(cat "$T/err")" "st4:[0-9]+: use must be" "with file and line"
cp -p "$T/st" "$T/st5"
echo "aes_key=$KEY" >> "$T/st5"
"$SK" otp "$T/st5" >/dev/null 2>"$T/err"
is "$?" 1 "a repeated key is refused"
unlike "$(cat "$T/err")" "$KEY" "and the error does not show the key"

# ---- init without a key: the generated key is shown once and works
out=$(printf '' | "$SK" init "$T/gen" 2>"$T/err")
ok $? "init without a key file generates one"
is "$(printf '%s\n' "$out" | wc -l)" 2 "it prints the public id and the key"
gpub=$(printf '%s\n' "$out" | sed -n 1p)
gkey=$(printf '%s\n' "$out" | sed -n 2p)
like "$gpub" '^cc[cbdefghijklnrtuv]{10}$' "a random public id starting with cc"
like "$gkey" '^[0-9a-f]{32}$' "a 32-hex-character AES key"
like "$(cat "$T/err")" "shown this once" "with a note that it is shown only now"
KEY=$gkey
o=$("$SK" otp "$T/gen")
is "$(decrypt "$o")" "$(field "$T/gen" private_id) 1 0 0 1" "its first OTP decrypts with the shown key"
unlike "$("$SK" show "$T/gen")" "$gkey" "show does not print it"

printf '%s' "$KEY" | "$SK" init "$T/stdin" --aes-key-file - >"$T/out" 2>/dev/null
ok $? "--aes-key-file - reads the key from standard input (no newline needed)"
is "$(wc -l < "$T/out")" 1 "and prints only the public id"

done_testing
