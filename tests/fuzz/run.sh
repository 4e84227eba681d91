#!/usr/bin/env bash
# tests/fuzz/run.sh NAME SECONDS [BUILD_DIR]
# Builds tests/fuzz/fuzz-NAME.c with clang's libFuzzer (ASan+UBSan) and
# runs it for SECONDS on its built-in seeds.  Prints TAP.  Any crash,
# sanitizer report or broken invariant fails.
set -uo pipefail
name=$1 secs=$2
src=${DG_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${3:-${DG_BUILD:-$src/build}}
work=$(mktemp -d /tmp/dg-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

libs="-ljansson -lcrypto"
case $name in
  decode)    srcs="gate/scan/decode.c gate/util.c gate/filetype.c"; libs="$libs -lz -llzma -lzstd -llz4" ;;
  scanproto) srcs="gate/scanproto.c" ;;
  pem|der|openssh|jwk)
             srcs="gate/scan/keyutil.c gate/scan/det-pem.c gate/scan/det-der.c gate/scan/det-openssh.c gate/scan/det-jwk.c gate/scan/det-cloud-sa.c gate/util.c" ;;
  proto)     srcs="gate/proto.c gate/util.c" ;;
  ktrail)    srcs="agent/ktrail.c gate/util.c" ;;
  *) echo "1..0 # SKIP unknown fuzz target $name"; exit 0 ;;
esac
command -v clang >/dev/null || { echo "not ok 1 - clang missing (scripts/setup installs it)"; echo 1..1; exit 1; }

cd "$src"
if ! clang -std=c17 -D_GNU_SOURCE -DDG_LIBFUZZER -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I gate -I gate/scan -I agent -I "$build" \
    "tests/fuzz/fuzz-$name.c" $srcs $libs -o "$work/fuzz" 2>"$work/cc.log"; then
  echo "not ok 1 - fuzz-$name builds with libFuzzer"; sed 's/^/# /' "$work/cc.log" | head -30; echo 1..1; exit 1
fi
echo "ok 1 - fuzz-$name builds with libFuzzer"
mkdir -p "$work/corpus"
if ASAN_OPTIONS=detect_leaks=1 "$work/fuzz" -artifact_prefix="$work/" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 \
     -print_final_stats=1 "$work/corpus" >"$work/run.log" 2>&1; then
  echo "ok 2 - fuzz-$name: $secs s without a crash ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/run.log" | grep -o '[0-9]*$') runs)"
else
  echo "not ok 2 - fuzz-$name found a problem"; tail -n 40 "$work/run.log" | sed 's/^/# /'
  echo 1..2; exit 1
fi
echo 1..2
