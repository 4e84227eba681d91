#!/usr/bin/env bash
# gate-scan-fails-closed.sh - I2 (and I1, I6): whatever goes wrong with a
# scan, the transfer ends `failed` with the reason, never `clean`.
#  (a) a scanner killed with SIGKILL mid-scan: failed, the reason names the
#      pass and the signal (once for the raw pass, once for the decoding
#      pass);
#  (b) the monitor's wall clock: with scan_timeout = 1s a long scan fails,
#      the reason names scan_timeout;
#  (c) I1 across a restart: the monitor is killed -9 during a scan, one byte
#      of the spool object is changed, the gate restarted: the resumed scan
#      fails because the bytes read do not hash to the stored SHA-256;
#      twin (I6): the same kill -9 and restart without tampering resumes
#      the scan and it ends clean, with the stored hash;
#  (d) scanner programs that lie: a malformed line, no summary at all, a
#      well-formed summary with a wrong sha256: failed, each with its
#      reason; twins: the same lying script with the right sha256 passes
#      the monitor's checks (so the wrong hash alone failed it), and the
#      real scanner on the same file says clean.
. "${DG_SRC:?}/tests/lib/lib.sh"

gate_init
# A long scan: zstd frames of 64 MiB of zeros (~2 KiB each) keep the
# decoding pass busy for seconds; PEM-looking text after them (trailing
# data to the decoder, which is a finding) keeps the raw pass busy too.
long_scan_profile
gate_start || bail "dumpgated did not start"

F=$T/files
long_scan_artifact "$F/zeros.zst"                          # 10 GiB decoded, clean
long_scan_artifact "$F/both.zst" tail
seq 1 100000 > "$F/small.txt"
chmod 644 "$F"/*

submit() { dg dg-alice submit --profile "$1" --reason "INC-3 fail closed" "$2"; }
final() { # ID: wait up to 60 s for a final state; prints "EXIT STATE"
  dg dg-alice wait "$1" --timeout 60 >/dev/null 2>&1
  echo "$? $(tfield "$1" state)"
}
settle() { # ID: wait up to 60 s until past stored/scanning; prints the state
  local s=
  for _ in $(seq 1 600); do
    s=$(tfield "$1" state)
    case $s in submitted|stored|scanning|clean) sleep 0.1 ;; *) break ;; esac
  done
  echo "$s"
}
# scanner PASS: pid of our monitor's live scanner for PASS, once it has read
# artifact bytes (its fd 3 moved); empty after 10 s
scanner() {
  local p cmd
  for _ in $(seq 1 500); do
    for p in $(pgrep -P "$GATE_PID"); do
      cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline")
      case $cmd in *dumpgate-scan*"--pass $1 "*) ;; *) continue ;; esac
      if [ "$(awk '/^pos:/ {print $2}' "/proc/$p/fdinfo/3" 2>/dev/null)" -gt 0 ] 2>/dev/null; then
        echo "$p"; return 0
      fi
    done
    sleep 0.02
  done
}
reason() { tfield "$1" final_reason; }

# ---- (a) a scanner killed mid-scan
for pass in raw decoded; do
  id=$(submit long "$F/both.zst")
  p=$(scanner "$pass")
  [ -n "$p" ] || bail "(a) no $pass scanner seen"
  kill -KILL "$p"
  is "$(final "$id")" "11 failed" "(a) $pass scanner killed with SIGKILL: the transfer failed (wait exits 11)"
  like "$(reason "$id")" "the $pass scanner was killed by signal 9" "(a) the reason names the $pass pass and the signal"
  is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "failed") | .details.reason' "$T/state/audit.log")" \
    "$(reason "$id")" "(a) the audit log has the failed record with that reason"
  is "$(tfield "$id" findings)" null "(a) and no verdict was recorded"
done

# ---- (c) kill -9 of the monitor mid-scan, then restart, with and without tampering
for tamper in yes no; do
  id=$(submit long "$F/zeros.zst")
  sha=$(tfield "$id" sha256)
  p=$(scanner decoded)
  [ -n "$p" ] || bail "(c) no decoded scanner seen"
  is "$(tfield "$id" state)" scanning "(c, tamper=$tamper) the transfer is scanning when the monitor is killed"
  gate_kill9
  gone=0; for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || { gone=1; break; }; sleep 0.1; done
  is "$gone" 1 "(c, tamper=$tamper) its scanner dies with the monitor"
  obj=$T/state/spool/$id
  if [ $tamper = yes ]; then
    mode=$(stat -c %a "$obj")
    chmod u+w "$obj"
    printf '\x5a' | dd of="$obj" bs=1 seek=$(( $(stat -c %s "$obj") / 2 )) conv=notrunc status=none
    chmod "$mode" "$obj"
    ok "$([ "$(sha256sum < "$obj" | cut -d' ' -f1)" != "$sha" ]; echo $?)" "(c) one byte of the spool object changed while the gate was down"
  fi
  gate_start || bail "dumpgated did not restart"
  if [ $tamper = yes ]; then
    is "$(final "$id")" "11 failed" "(c) the resumed scan of a modified spool object fails"
    like "$(reason "$id")" 'SHA-256 differs from the stored artifact' "(c) because the bytes read do not hash to the stored SHA-256 (I1)"
    is "$(tfield "$id" sha256)" "$sha" "(c) the transfer keeps the hash of what was submitted"
  else
    is "$(settle "$id")" pending "(c) twin: without tampering the resumed scan ends clean, pending approval (I6)"
    is "$(tfield "$id" sha256)" "$sha" "(c) twin: with the stored hash"
    is "$(jq -r --arg id "$id" 'select(.transfer == $id and .event == "scan_started") | .transfer' "$T/state/audit.log" | wc -l)" 2 \
      "(c) twin: the log shows the scan started twice, before and after the restart"
  fi
done

# ---- (b) the wall-clock limit
gate_stop
EXTRA_LIMITS="scan_timeout = 1s" write_config
gate_start || bail "dumpgated did not start with scan_timeout = 1s"
id=$(submit long "$F/zeros.zst")
SECONDS=0
is "$(final "$id")" "11 failed" "(b) with scan_timeout = 1s a 10 GiB decode fails"
like "$(reason "$id")" 'did not finish within the limit scan_timeout' "(b) the reason names scan_timeout"
ok "$([ $SECONDS -le 10 ]; echo $?)" "(b) the monitor ended it promptly (${SECONDS} s)"
is "$(pgrep -P "$GATE_PID" -f dumpgate-scan | wc -l)" 0 "(b) no scanner is left running"

# ---- (d) scanners that lie
mkscanner() { # NAME < script body
  cat > "$T/bin/$1"
  chmod 755 "$T/bin/$1"
}
mkscanner bogus-line <<'S'
#!/bin/sh
echo '{"version":1}'
echo '{"bogus":1}'
S
mkscanner no-summary <<'S'
#!/bin/sh
exit 0
S
# --gate --pass PASS ...: a summary that looks right; the byte count is
# the artifact's, the sha256 is $SHA (or the real one when SHA is empty)
mkscanner summary <<'S'
#!/bin/sh
n=$(stat -c %s - <&3)
sha=${SHA:-$(sha256sum <&3 | cut -d' ' -f1)}
echo '{"version":1}'
printf '{"summary":true,"file":"artifact","pass":"%s","bytes":%s,"sha256":"%s","seconds":0.1,"findings":0,"verdict":"clean"}\n' "$3" "$n" "$sha"
S
WRONG=$(printf 'not the artifact' | sha256sum | cut -d' ' -f1)
sed -i "2i SHA=$WRONG" "$T/bin/summary"
sed '2d' "$T/bin/summary" > "$T/bin/summary-right"; chmod 755 "$T/bin/summary-right"
grep -v '"version"' "$T/bin/summary-right" > "$T/bin/summary-noversion"; chmod 755 "$T/bin/summary-noversion"

# lying SCANNER: restart the gate with it and submit small.txt; sets id
# (not in a $(...): the gate must be started by this shell)
lying() {
  gate_stop
  SCANNER_PROGRAM=$T/bin/$1 write_config
  gate_start || bail "dumpgated did not start with scanner $1"
  id=$(submit crashdump "$F/small.txt")
}
lying bogus-line
is "$(final "$id")" "11 failed" "(d) a scanner printing {\"bogus\":1}: failed"
like "$(reason "$id")" 'scanner sent malformed output' "(d) the reason says malformed output ($(reason "$id"))"
lying no-summary
is "$(final "$id")" "11 failed" "(d) a scanner that prints nothing and exits 0: failed"
like "$(reason "$id")" 'ended without a summary' "(d) the reason says there was no summary"
lying summary
is "$(final "$id")" "11 failed" "(d) a scanner reporting a clean verdict for bytes with another sha256: failed"
like "$(reason "$id")" 'SHA-256 differs from the stored artifact' "(d) the reason names the hash mismatch"
lying summary-noversion
is "$(final "$id")" "11 failed" "(d) a right summary without the protocol version line first: failed"
like "$(reason "$id")" 'no protocol version line first' "(d) the reason names the missing version"
lying summary-right
is "$(settle "$id")" pending "(d) twin: the same summary with the artifact's sha256 is believed (the hash alone failed it)"
lying dumpgate-scan
is "$(settle "$id")" pending "(d) twin: the real scanner on the same file: clean, pending approval"
done_testing
