#!/usr/bin/env bash
# scanner-sandbox.sh - I5: a live scanner under the gate runs sandboxed.
# While both passes of a long scan run, each scanner process (a child of the
# monitor running dumpgate-scan --gate) is checked from /proc:
#  - its own unprivileged uid and gid (dumpgate-scan's: not root, not the
#    session account's), no supplementary groups;
#  - no capability in any set, bounding set empty;
#  - NoNewPrivs 1 and Seccomp 2 (filter mode) in every thread, the raw
#    pass's worker threads included (scan_threads = 2);
#  - network, mount, IPC and UTS namespaces of its own (not the monitor's,
#    not PID 1's, or the test shell's where PID 1's cannot be read);
#  - rlimits: core 0, open files 16, file size 0, address space the
#    configured scan_memory (normal build; the sanitizer build leaves
#    RLIMIT_AS unlimited, see below), CPU time from scan_timeout;
#  - fd 3 is the spool object, read-only (I1), and it holds no fd >= 4.
# Twin (the comparisons can fail): the monitor itself is root, has
# Seccomp 0 and lives in PID 1's network and mount namespaces.
. "${DG_SRC:?}/tests/lib/lib.sh"

SCAN_MEMORY=3221225472 # 3G
EXTRA_LIMITS="scan_memory = 3G
scan_threads = 2"
gate_init
# Long scans for both passes: the decoding pass inflates zstd frames of
# zeros (64 MiB each from ~2 KiB), the raw pass works through PEM-looking
# text appended after them (which the decoder reports as trailing data).
long_scan_profile
gate_start || bail "dumpgated did not start"

F=$T/files
long_scan_artifact "$F/long.zst" tail

SCAN_UID=$(id -u dumpgate-scan)
SCAN_GID=$(id -g dumpgate-scan)
SESSION_UID=$(id -u dumpgate-session)

# scanner_pids: "PID PASS" for each live scanner child of our monitor
scanner_pids() {
  local p cmd
  for p in $(pgrep -P "$GATE_PID"); do
    cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline")
    case $cmd in
      *dumpgate-scan*--pass\ raw*) echo "$p raw" ;;
      *dumpgate-scan*--pass\ decoded*) echo "$p decoded" ;;
    esac
  done
}

id=$(dg dg-alice submit --profile long --reason "INC-3 sandbox" "$F/long.zst")
like "$id" '^[0-9a-f]{32}$' "the long artifact is accepted"

# Wait for both passes to be running, then take a snapshot of each while it
# is alive (everything is read first, asserted after).
declare -A PID_OF=()
for _ in $(seq 1 200); do
  PID_OF=()
  while read -r p pass; do [ -n "$p" ] && PID_OF[$pass]=$p; done < <(scanner_pids)
  [ -n "${PID_OF[raw]:-}" ] && [ -n "${PID_OF[decoded]:-}" ] && break
  sleep 0.05
done
[ -n "${PID_OF[raw]:-}" ] && [ -n "${PID_OF[decoded]:-}" ] || bail "did not see both scanner passes running"
# Past start-up: each pass has read artifact bytes (the offset of its own
# read-only description of the spool object moved), which it does only
# after its filter is in place (dumpgate-scan run_gate).
pos() { awk '/^pos:/ {print $2}' "/proc/$1/fdinfo/3" 2>/dev/null; }
for _ in $(seq 1 300); do
  [ "$(pos "${PID_OF[raw]}")" -gt 0 ] 2>/dev/null && [ "$(pos "${PID_OF[decoded]}")" -gt 0 ] 2>/dev/null && break
  sleep 0.02
done
[ "$(pos "${PID_OF[raw]}")" -gt 0 ] 2>/dev/null && [ "$(pos "${PID_OF[decoded]}")" -gt 0 ] 2>/dev/null ||
  bail "the scanners did not start reading the artifact"
for pass in raw decoded; do
  p=${PID_OF[$pass]}
  d=$T/snap-$pass
  mkdir "$d"
  cat "/proc/$p/status" > "$d/status"
  cat "/proc/$p/limits" > "$d/limits"
  for ns in net mnt ipc uts; do readlink "/proc/$p/ns/$ns" > "$d/ns-$ns"; done
  for tid in $(ls "/proc/$p/task"); do
    echo "$tid $(awk '/^Seccomp:/ {print $2}' "/proc/$p/task/$tid/status") $(awk '/^NoNewPrivs:/ {print $2}' "/proc/$p/task/$tid/status")"
  done > "$d/threads"
  ls "/proc/$p/fd" | sort -n | tr '\n' ' ' > "$d/fds"
  readlink "/proc/$p/fd/3" > "$d/fd3"
  awk '/^flags:/ {print $2}' "/proc/$p/fdinfo/3" > "$d/fd3flags"
  # still the same process, still scanning
  kill -0 "$p" 2>/dev/null && [ "$(tr '\0' ' ' < "/proc/$p/cmdline")" != "" ] || bail "the $pass scanner ended during the snapshot"
done
j=$(dg dg-alice show "$id" --json)
is "$(jq -r .state <<<"$j")" scanning "the transfer is scanning while the snapshots are taken"
like "$(jq -c .scan_progress <<<"$j")" '^\{"raw":[0-9]+,"decoded":[0-9]+\}$' "show --json reports scan progress while it runs"

field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$2"; } # status field
limit() { grep "^$1 " "$2" | cut -c27- | awk '{print $1, $2}'; }         # soft hard

# The host's namespaces: PID 1's; where PID 1's are unreadable (a container
# that hides its init), this test shell's, which runs in the same ones.
REF=1 REF_NAME="PID 1"
if ! readlink /proc/1/ns/net >/dev/null 2>&1; then
  REF=$$ REF_NAME="the test shell"
  diag "/proc/1/ns is not readable here; comparing with the test shell's namespaces instead"
fi
MON_NET=$(readlink "/proc/$GATE_PID/ns/net")
MON_MNT=$(readlink "/proc/$GATE_PID/ns/mnt")
INIT_NET=$(readlink "/proc/$REF/ns/net")
INIT_MNT=$(readlink "/proc/$REF/ns/mnt")
[ -n "$MON_NET" ] && [ -n "$INIT_NET" ] || bail "cannot read the namespaces to compare with"

[ "$DG_SANITIZED" = 1 ] &&
  diag "sanitizer build: ASan reserves terabytes of shadow address space, so the monitor" \
    "does not set RLIMIT_AS there (scanrun.c exec_scanner); the normal build asserts scan_memory"
for pass in raw decoded; do
  d=$T/snap-$pass
  s=$d/status
  uid=$(field Uid "$s" | tr -s ' \t' ' ')
  is "$uid" "$SCAN_UID $SCAN_UID $SCAN_UID $SCAN_UID" "$pass: real, effective, saved and fs uid are dumpgate-scan's ($SCAN_UID)"
  ok "$([ "${uid%% *}" != 0 ] && [ "${uid%% *}" != "$SESSION_UID" ]; echo $?)" \
    "$pass: which is neither root nor dumpgate-session ($SESSION_UID)"
  is "$(field Gid "$s" | tr -s ' \t' ' ')" "$SCAN_GID $SCAN_GID $SCAN_GID $SCAN_GID" "$pass: all gids are dumpgate-scan's"
  is "$(field Groups "$s")" "" "$pass: no supplementary groups"
  for c in CapInh CapPrm CapEff CapBnd CapAmb; do
    is "$(field $c "$s")" 0000000000000000 "$pass: $c is empty"
  done
  is "$(field NoNewPrivs "$s")" 1 "$pass: NoNewPrivs 1"
  is "$(field Seccomp "$s")" 2 "$pass: Seccomp 2 (filter)"
  n=$(wc -l < "$d/threads")
  is "$(awk '$2 != 2 || $3 != 1' "$d/threads")" "" "$pass: every one of its $n threads has Seccomp 2 and NoNewPrivs 1"
  [ "$pass" = raw ] && ok "$([ "$n" -ge 3 ]; echo $?)" "raw: with scan_threads = 2 it runs worker threads ($n threads)"
  for ns in net mnt ipc uts; do
    got=$(cat "$d/ns-$ns")
    mon=$(readlink "/proc/$GATE_PID/ns/$ns") ref=$(readlink "/proc/$REF/ns/$ns")
    ok "$([ -n "$got" ] && [ -n "$mon" ] && [ -n "$ref" ] && [ "$got" != "$mon" ] && [ "$got" != "$ref" ]; echo $?)" \
      "$pass: its $ns namespace ($got) is neither the monitor's ($mon) nor $REF_NAME's ($ref)"
  done
  l=$d/limits
  is "$(limit 'Max core file size' "$l")" "0 0" "$pass: RLIMIT_CORE 0"
  is "$(limit 'Max open files' "$l")" "16 16" "$pass: RLIMIT_NOFILE 16"
  is "$(limit 'Max file size' "$l")" "0 0" "$pass: RLIMIT_FSIZE 0"
  if [ "$DG_SANITIZED" = 1 ]; then
    is "$(limit 'Max address space' "$l")" "unlimited unlimited" "$pass: RLIMIT_AS unlimited (sanitizer build only)"
  else
    is "$(limit 'Max address space' "$l")" "$SCAN_MEMORY $SCAN_MEMORY" "$pass: RLIMIT_AS is scan_memory (3G)"
  fi
  threads=1; [ "$pass" = raw ] && threads=2
  is "$(limit 'Max cpu time' "$l")" "$((300 * threads + 5)) $((300 * threads + 10))" \
    "$pass: RLIMIT_CPU follows scan_timeout (300 s) x its threads ($threads)"
  is "$(cat "$d/fd3")" "$T/state/spool/$id" "$pass: fd 3 is the transfer's spool object"
  is "$(( 0$(cat "$d/fd3flags") & 3 ))" 0 "$pass: opened read-only (I1)"
  is "$(cat "$d/fds")" "0 1 2 3 " "$pass: it holds no other fd"
done
ok "$([ "$(cat "$T/snap-raw/ns-net")" != "$(cat "$T/snap-decoded/ns-net")" ]; echo $?)" \
  "the two passes do not share a network namespace either"

# ---- twin: the same checks on the monitor come out the other way
ms=/proc/$GATE_PID/status
is "$(field Uid "$ms" | tr -s ' \t' ' ')" "0 0 0 0" "twin: the monitor runs as root"
is "$(field Seccomp "$ms")" 0 "twin: the monitor has Seccomp 0"
is "$MON_NET" "$INIT_NET" "twin: the monitor is in $REF_NAME's network namespace"
is "$MON_MNT" "$INIT_MNT" "twin: and in $REF_NAME's mount namespace"
isnt_zero=$(field CapEff "$ms")
ok "$([ "$isnt_zero" != 0000000000000000 ]; echo $?)" "twin: the monitor holds capabilities ($isnt_zero)"

dg dg-alice withdraw "$id" >/dev/null 2>&1 || true # end the scan early
done_testing
