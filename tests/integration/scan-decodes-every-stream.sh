#!/usr/bin/env bash
# scan-decodes-every-stream: a P-256 key (SEC1 DER) and an RSA 2048 key
# (PEM) inside compressed data are found by the decoding pass in every
# stream, not only the first: the 2nd and 3rd gzip members, the 2nd of two
# concatenated xz streams, zstd frames and lz4 frames.  Each finding names
# its container (format, 1-based stream index, the stream's offset in the
# file) and the key's offset inside the decoded stream; the raw pass alone
# does not see them (so the decoding pass is what finds them).  A stream
# whose magic is split by the scanner's 1 MiB reads, xz stream padding and
# an empty zstd skippable frame are decoded through.  --threads 4
# reports exactly what --threads 1 does on a 200 MB mixed file, raw and
# compressed.
# Refused twins: trailing garbage after the last gzip member, truncated
# streams and a decompression bomb (64 GiB of zeros in 2 MiB of zstd) are
# blocking "decoder" findings, the bomb within a second or so, naming the
# limit it hit (bomb_max_size, bomb_max_ratio); so is a zstd skippable
# frame that carries data.  Under generous limits a
# small compressed file is clean.  dumpgate-scan runs standalone.
. "$DG_SRC/tests/lib/lib.sh"

SCAN=$DG_BUILD/dumpgate-scan
[ -x "$SCAN" ] || bail "no $SCAN: build dumpgate-scan first"
for t in openssl jq perl gzip xz zstd lz4; do
  command -v "$t" >/dev/null || skip_all "needs $t"
done

W=$(mktemp -d /tmp/dg-scan-streams.XXXXXX)
on_exit 'rm -rf "$W"'
cd "$W" || bail "cd $W"

TEXT_LINE='2024-05-01T12:00:00Z worker[4242]: request served in 12 ms, status 200, path /api/v1/items'
text() { yes "$TEXT_LINE" | head -c "$1"; } # N bytes of (compressible) log text
size() { stat -c %s "$1"; }
MIB=1048576

# ---- the keys

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem || bail "P-256 keygen"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null || bail "RSA keygen"
openssl ec -in p256.pem -outform DER -out p256.der 2>/dev/null || bail "SEC1 DER"
openssl pkey -in rsa.pem -traditional -out rsa.trad.pem || bail "RSA PEM"
SHA_EC=$(openssl pkey -in p256.pem -pubout -outform DER | sha256sum | cut -d' ' -f1)
SHA_RSA=$(openssl pkey -in rsa.pem -pubout -outform DER | sha256sum | cut -d' ' -f1)
WANT_EC="der ec-p256 256 true $SHA_EC"
WANT_RSA="pem rsa 2048 true $SHA_RSA"

# Payloads: log text around the keys, at odd offsets
text 4001 > filler1
text 3333 > filler2
{ text 1001; cat p256.der; text 5003; cat rsa.trad.pem; text 2001; } > both.payload
OFF_EC_BOTH=1001
OFF_RSA_BOTH=$((1001 + $(size p256.der) + 5003))
{ text 777; cat rsa.trad.pem; text 999; } > rsa.payload
OFF_RSA_ONLY=777
{ text 2223; cat p256.der; text 555; } > ec.payload
OFF_EC_ONLY=2223

# compress FORMAT < in > out
compress() {
  case $1 in
    gzip) gzip -c ;;
    xz) xz -c ;;
    zstd) zstd -q -c ;;
    lz4) lz4 -q -c ;;
  esac
}

# gzip: three members, the RSA key in member 2, the EC key in member 3
compress gzip < filler1 > g1; compress gzip < rsa.payload > g2; compress gzip < ec.payload > g3
cat g1 g2 g3 > multi.gz
# xz, zstd, lz4: two streams/frames, both keys in the second
for fmt in xz zstd lz4; do
  compress $fmt < filler2 > $fmt.1
  compress $fmt < both.payload > $fmt.2
  cat $fmt.1 $fmt.2 > multi.$fmt
done

# Expectations: "FILE|what|detector key_type bits verified sha|format index container_offset|offset"
EXPECT=(
  "multi.gz|RSA PEM in gzip member 2|$WANT_RSA|gzip 2 $(size g1)|$OFF_RSA_ONLY"
  "multi.gz|P-256 DER in gzip member 3|$WANT_EC|gzip 3 $(($(size g1) + $(size g2)))|$OFF_EC_ONLY"
)
for fmt in xz zstd lz4; do
  EXPECT+=("multi.$fmt|P-256 DER in $fmt stream 2|$WANT_EC|$fmt 2 $(size $fmt.1)|$OFF_EC_BOTH")
  EXPECT+=("multi.$fmt|RSA PEM in $fmt stream 2|$WANT_RSA|$fmt 2 $(size $fmt.1)|$OFF_RSA_BOTH")
done

"$SCAN" --json multi.gz multi.xz multi.zstd multi.lz4 > both.json 2> both.err
is "$?" 1 "dumpgate-scan exits 1 (findings) on compressed files with keys"
"$SCAN" --json --pass raw multi.gz multi.xz multi.zstd multi.lz4 > raw.json 2> raw.err
rc_raw=$?

for e in "${EXPECT[@]}"; do
  IFS='|' read -r file what want cont off <<<"$e"
  read -r det _ <<<"$want"
  got=$(jq -r --arg f "$file" --arg d "$det" \
    'select(.summary != true and .file == $f and .pass == "decoded" and .detector == $d) |
     "\(.detector) \(.key_type) \(.bits) \(.verified) \(.public_sha256)|\(.container.format) \(.container.index) \(.container.offset)|\(.offset)"' both.json)
  is "$got" "$want|$cont|$off" "$what: decoded pass, verified, container and offset inside the stream"
done
# The raw pass sees compressed bytes only.  (lz4 stores literals verbatim,
# so the DER key's bytes are in the lz4 file as they are: the raw pass finding
# it there is right, and not asserted either way.)
for file in multi.gz multi.xz multi.zstd; do
  is "$(jq -r --arg f "$file" 'select(.summary != true and .file == $f) | "\(.detector) \(.offset)"' raw.json)" "" \
    "--pass raw does not find the keys in $file"
done
is "$(jq -r 'select(.summary != true and .file == "multi.lz4" and .detector == "pem") | .offset' raw.json)" "" \
  "--pass raw does not find the PEM key in multi.lz4"
is "$(jq -r 'select(.summary != true and .pass != "raw") | .file' raw.json)" "" "--pass raw reports raw findings only"
[ "$rc_raw" -le 1 ] ; ok $? "--pass raw completes (exit $rc_raw)"
# --pass decoded alone finds them as well
"$SCAN" --json --pass decoded multi.gz multi.xz multi.zstd multi.lz4 > dec.json 2>/dev/null
is "$(jq -r 'select(.summary != true and .verified == true) | .file' dec.json | sort | uniq -c | awk '{print $2 "=" $1}' | xargs)" \
  "multi.gz=2 multi.lz4=2 multi.xz=2 multi.zstd=2" "--pass decoded: two verified keys in each file"
is "$(jq -r 'select(.summary != true and .detector == "decoder") | .note' both.json dec.json)" "" \
  "well-formed multi-stream files give no decoder finding"

# ---- stream boundaries where the scanner's 1 MiB reads split a magic, xz
# stream padding, zstd skippable frames

# fit FORMAT TARGET OUT: one stream of random bytes, exactly TARGET bytes long
fit() {
  local fmt=$1 target=$2 n=$2 s i
  head -c $((target + 65536)) /dev/urandom > fit.src
  for i in 1 2 3 4 5 6 7 8 9 10; do
    case $fmt in
      gzip) head -c "$n" fit.src | gzip -1 -c ;;
      xz) head -c "$n" fit.src | xz -0 -c ;;
      zstd) head -c "$n" fit.src | zstd -q -1 -c ;;
      lz4) head -c "$n" fit.src | lz4 -q -1 -c ;;
    esac > "$3"
    s=$(size "$3")
    [ "$s" -eq "$target" ] && return 0
    n=$((n + target - s))
  done
  return 1
}
SOUT=()
# xz streams are multiples of 4 bytes: its 6-byte magic straddles at -4
for x in "gzip 3" "xz 4" "zstd 3" "lz4 3"; do
  read -r fmt d <<<"$x"
  fit "$fmt" $((MIB - d)) "fit.$fmt" || bail "could not make a $fmt stream of $((MIB - d)) bytes"
  compress "$fmt" < ec.payload > "ec.$fmt"
  cat "fit.$fmt" "ec.$fmt" > "straddle.$fmt"
  SOUT+=("straddle.$fmt|$fmt 2 $((MIB - d)) $OFF_EC_ONLY|$fmt: stream 2's magic split by the 1 MiB read boundary")
done
{ cat xz.1; head -c 8 /dev/zero; cat xz.2; } > padded.xz
SOUT+=("padded.xz|xz 2 $(($(size xz.1) + 8)) $OFF_EC_BOTH|xz: 8 bytes of stream padding between the streams")
# zstd skippable frames (magic 0x184D2A5?, then a 32-bit length)
skippable() { perl -e 'print pack("V", 0x184D2A50), pack("V", length($ARGV[0])), $ARGV[0]' "$1"; }
{ cat zstd.1; skippable ''; cat zstd.2; } > skip-empty.zst
SOUT+=("skip-empty.zst|zstd 2 $(($(size zstd.1) + 8)) $OFF_EC_BOTH|zstd: an empty skippable frame between the frames")
"$SCAN" --json --pass decoded straddle.gzip straddle.xz straddle.zstd straddle.lz4 padded.xz skip-empty.zst \
  > straddle.json 2> straddle.err
for e in "${SOUT[@]}"; do
  IFS='|' read -r file want what <<<"$e"
  is "$(jq -r --arg f "$file" 'select(.summary != true and .file == $f and .detector == "der") |
    "\(.container.format) \(.container.index) \(.container.offset) \(.offset)"' straddle.json)" "$want" \
    "$what: the key in it is found, with its container"
  is "$(jq -r --arg f "$file" 'select(.summary != true and .file == $f and .detector == "decoder") | .note' straddle.json)" "" \
    "$what: no decoder finding"
done
# refused: a skippable frame with data in it is data nobody scans
{ cat zstd.1; skippable "hidden data, 31 bytes of it...."; cat zstd.2; } > skip-data.zst
"$SCAN" --json --pass decoded skip-data.zst > skip-data.json 2>&1
is "$(jq -r 'select(.detector == "decoder") | "\(.severity) \(.note)"' skip-data.json)" \
  "critical zstd skippable frame at offset $(size zstd.1) (31 bytes) not scanned" \
  "zstd: a skippable frame with data in it is a critical decoder finding"

# ---- refused: data the decoders cannot account for

{ cat multi.gz; printf 'GARBAGE'; head -c 1001 /dev/urandom; } > trailing.gz
xz -c < both.payload > t.xz; head -c $(($(size t.xz) - 37)) t.xz > truncated.xz
zstd -q -c < both.payload > t.zst; head -c $(($(size t.zst) - 9)) t.zst > truncated.zst
gzip -c < both.payload > t.gz; head -c $(($(size t.gz) - 21)) t.gz > truncated.gz
lz4 -q -c < both.payload > t.lz4; head -c $(($(size t.lz4) - 11)) t.lz4 > truncated.lz4
{ cat xz.1; printf 'JUNKJUNK'; cat xz.2; } > junk-between.xz

"$SCAN" --json trailing.gz truncated.xz truncated.zst truncated.gz truncated.lz4 junk-between.xz > bad.json 2> bad.err
is "$?" 1 "dumpgate-scan exits 1: undecodable data is a finding"
decoder_findings() { jq -r --arg f "$1" \
  'select(.summary != true and .file == $f and .detector == "decoder") | "\(.pass) \(.severity) \(.verified)"' bad.json; }
decoder_note() { jq -r --arg f "$1" 'select(.summary != true and .file == $f and .detector == "decoder") | .note' bad.json; }
for f in trailing.gz truncated.xz truncated.zst truncated.gz truncated.lz4 junk-between.xz; do
  is "$(decoder_findings "$f")" "decoded critical false" "$f: one critical decoder finding (blocks)"
  is "$(jq -r --arg f "$f" 'select(.summary == true and .file == $f) | .verdict' bad.json)" findings \
    "$f: verdict findings, not clean"
done
is "$(decoder_note trailing.gz)" "trailing data after gzip member 3 at offset $(size multi.gz)" \
  "trailing.gz: the note names trailing data after the last member, where it starts"
like "$(decoder_note truncated.xz)" 'xz stream 1 (truncated|corrupt)' "truncated.xz: the note names the truncated stream"
is "$(decoder_note junk-between.xz)" "trailing data after xz stream 1 at offset $(size xz.1)" \
  "junk-between.xz: the note names where the junk starts"
is "$(jq -r 'select(.file == "trailing.gz" and .verified == true) | "\(.detector) \(.container.index)"' bad.json | sort | xargs)" \
  "der 3 pem 2" "trailing.gz: the keys in members 2 and 3 are still reported"

# ---- refused: a bomb.  A hand-made zstd frame of RLE blocks (4 bytes per
# 128 KiB of zeros): 64 GiB decoded from 2 MiB, ratio 32768.
rle_zstd() { # BLOCKS
  perl -e '$n = shift; print pack("V", 0xFD2FB528), pack("CC", 0, 0x38);
    for (1 .. $n) { my $h = (131072 << 3) | (1 << 1) | ($_ == $n ? 1 : 0);
      print pack("C3", $h & 255, ($h >> 8) & 255, $h >> 16), "\0"; }' "$1"
}
rle_zstd 8 > rle-1m.zst
is "$(zstd -dc rle-1m.zst | wc -c) $(zstd -dc rle-1m.zst | tr -d '\0' | wc -c)" "1048576 0" \
  "the RLE zstd construction is valid: 8 blocks decode to 1 MiB of zeros"
rle_zstd 524288 > bomb.zst

bomb_run() { # OUT ARGS...: scan bomb.zst, print the seconds it took
  local out=$1 t0 t1
  shift
  t0=$(date +%s%N)
  timeout 60 "$SCAN" --json "$@" bomb.zst > "$out" 2>&1
  echo $? > "$out.rc"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
ms=$(bomb_run bomb-size.json --bomb-max-size 64M --bomb-max-ratio 1000000)
is "$(cat bomb-size.json.rc)" 1 "bomb, --bomb-max-size 64M: exit 1 (a finding)"
[ "$ms" -lt 5000 ]; ok $? "bomb, --bomb-max-size 64M: stopped in ${ms} ms (< 5 s; all of it is 64 GiB)"
is "$(jq -r 'select(.detector == "decoder") | "\(.severity) \(.pass)"' bomb-size.json)" "critical decoded" \
  "bomb, --bomb-max-size 64M: a critical decoder finding"
like "$(jq -r 'select(.detector == "decoder") | .note' bomb-size.json)" 'bomb_max_size' \
  "bomb, --bomb-max-size 64M: the note names bomb_max_size"
ms=$(bomb_run bomb-ratio.json --bomb-max-ratio 100)
is "$(cat bomb-ratio.json.rc)" 1 "bomb, --bomb-max-ratio 100: exit 1 (a finding)"
[ "$ms" -lt 5000 ]; ok $? "bomb, --bomb-max-ratio 100: stopped in ${ms} ms (< 5 s)"
like "$(jq -r 'select(.detector == "decoder") | .note' bomb-ratio.json)" 'bomb_max_ratio' \
  "bomb, --bomb-max-ratio 100: the note names bomb_max_ratio"
ms=$(bomb_run bomb-default.json)
is "$(jq -r 'select(.detector == "decoder") | .severity' bomb-default.json)" critical \
  "bomb, default limits: refused too (${ms} ms)"

# accepted twin: a small compressed file within generous limits is clean ...
{ text 3000000; head -c 200000 /dev/urandom; text 1000000; } | gzip -c > small.gz
"$SCAN" --json --bomb-max-size 1G --bomb-max-ratio 100000 small.gz > small.json 2>&1
is "$?" 0 "small.gz under generous limits: exit 0"
is "$(jq -r 'select(.summary == true) | .verdict' small.json)" clean "small.gz under generous limits: clean"
# ... and refused when its decoded size is above the limit
"$SCAN" --json --bomb-max-size 1M --bomb-max-ratio 100000 small.gz > small-tight.json 2>&1
like "$(jq -r 'select(.detector == "decoder") | .note' small-tight.json)" 'bomb_max_size' \
  "small.gz with --bomb-max-size 1M: refused, naming bomb_max_size"

# ---- --threads 4 reports what --threads 1 does (200 MB mixed)

{
  head -c $((40 * MIB - 61)) /dev/urandom
  cat rsa.trad.pem
  text $((30 * MIB))
  cat p256.der
  head -c $((50 * MIB)) /dev/zero
  head -c $((17 * MIB)) /dev/urandom
  cat multi.gz
  text $((3 * MIB))
} > mixed.bin
PLANTED=($((40 * MIB - 61)) $((40 * MIB - 61 + $(size rsa.trad.pem) + 30 * MIB)))
# and keys straddling a few MiB boundaries further on
for k in 1 2 3; do
  pad=$(((150 + 15 * k) * MIB - $(size mixed.bin) - 33 * k))
  [ "$pad" -gt 0 ] || bail "mixed.bin layout: no room before $((150 + 15 * k)) MiB"
  head -c "$pad" /dev/urandom >> mixed.bin
  PLANTED+=("$(size mixed.bin)")
  if [ $((k % 2)) -eq 1 ]; then cat p256.der >> mixed.bin; else cat rsa.trad.pem >> mixed.bin; fi
done
head -c $((200 * MIB - $(size mixed.bin))) /dev/urandom >> mixed.bin
zstd -q -1 -T0 -c mixed.bin > mixed.zst
diag "mixed.bin $(size mixed.bin) bytes, mixed.zst $(size mixed.zst) bytes"
norm() { jq -c 'del(.seconds)' "$1" | sort; }
for f in mixed.bin mixed.zst; do
  "$SCAN" --json --threads 1 "$f" > "$f.t1.json" 2> "$f.t1.err"
  rc1=$?
  "$SCAN" --json --threads 4 "$f" > "$f.t4.json" 2> "$f.t4.err"
  rc4=$?
  is "$rc1 $rc4" "1 1" "$f: exit 1 with --threads 1 and --threads 4"
  is "$(jq -r --arg p "$([ "$f" = mixed.bin ] && echo raw || echo decoded)" \
        'select(.summary != true and .verified == true and .pass == $p) | .offset' "$f.t1.json" | xargs)" \
    "${PLANTED[*]}" "$f: --threads 1 finds the 5 planted keys at their offsets"
  if diff <(norm "$f.t1.json") <(norm "$f.t4.json") > "$f.diff"; then
    ok 0 "$f: --threads 4 gives the same findings and summary as --threads 1"
  else
    ok 1 "$f: --threads 4 gives the same findings and summary as --threads 1"
    diag "$(head -n 20 "$f.diff")"
  fi
done

done_testing
