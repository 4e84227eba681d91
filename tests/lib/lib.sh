# tests/lib/lib.sh - TAP helpers and a real dumpgated for integration tests.
#
# Source it from a test; it needs DG_BUILD (meson build dir) and DG_SRC.
# Every test gets its own temporary gate: state, profiles, socket, config.
# Commands run as the fixed test accounts (scripts/accounts) with setpriv.

set -u
: "${DG_BUILD:?DG_BUILD must point at the meson build directory}"
: "${DG_SRC:?DG_SRC must point at the source tree}"
DG_SANITIZED=${DG_SANITIZED:-0}

_tap_n=0
_tap_failed=0
_cleanups=()

ok() { # ok EXIT-STATUS DESCRIPTION   (cmd; ok $? "what it proves")
  local rc=$1 d; shift
  d=$*; d=${d//$'\n'/\\n} # one TAP line, whatever the description holds
  _tap_n=$((_tap_n + 1))
  if [ "$rc" -eq 0 ]; then
    echo "ok $_tap_n - $d"
  else
    echo "not ok $_tap_n - $d"
    _tap_failed=$((_tap_failed + 1))
  fi
  return 0
}
is() { # is GOT WANT DESCRIPTION
  local got=$1 want=$2; shift 2
  if [ "$got" = "$want" ]; then ok 0 "$*"; else ok 1 "$*"; diag "got:  $got"; diag "want: $want"; fi
}
like() { # like GOT EXTENDED-REGEX DESCRIPTION
  local got=$1 re=$2; shift 2
  if printf '%s' "$got" | grep -Eq -- "$re"; then ok 0 "$*"; else ok 1 "$*"; diag "got:  $got"; diag "want: /$re/"; fi
}
unlike() {
  local got=$1 re=$2; shift 2
  if printf '%s' "$got" | grep -Eq -- "$re"; then ok 1 "$*"; diag "got:  $got"; diag "must not match: /$re/"; else ok 0 "$*"; fi
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail() { echo "Bail out! $*"; exit 1; }
done_testing() {
  echo "1..$_tap_n"
  if [ "$_tap_failed" -ne 0 ] && [ -n "${T:-}" ] && [ -f "$T/gated.log" ]; then
    diag "dumpgated log:"; diag "$(tail -n 40 "$T/gated.log")"
  fi
  [ "$_tap_failed" -eq 0 ]
  exit $?
}

on_exit() { _cleanups+=("$1"); }
_run_cleanups() {
  local i
  for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[$i]}" || true; done
}
trap _run_cleanups EXIT

require_root() { [ "$(id -u)" = 0 ] || skip_all "needs root (real daemon, setuid children)"; }
require_accounts() {
  getent passwd dg-alice >/dev/null && getent passwd dumpgate-session >/dev/null &&
    getent passwd dumpgate-scan >/dev/null ||
    bail "test accounts missing: run scripts/accounts first (scripts/test does)"
}

# ---- a private gate

gate_init() { # creates $T with config, profiles and binaries
  require_root
  require_accounts
  T=$(mktemp -d /tmp/dg-test.XXXXXX)
  chmod 755 "$T"
  on_exit 'gate_stop; rm -rf "$T"'
  mkdir -m 755 "$T/bin" "$T/run" "$T/profiles" "$T/files"
  # Copies, so the unprivileged accounts can run them whatever the mode of
  # the source tree.
  cp "$DG_BUILD/dumpgate" "$DG_BUILD/dumpgate-session" "$DG_BUILD/dumpgated" "$DG_BUILD/dumpgate-scan" \
     "$DG_BUILD/tests/dg-rawclient" "$DG_BUILD/tests/dg-hostile-session" "$DG_BUILD/dumpgate-softkey" "$T/bin/"
  chmod 755 "$T/bin/"*
  SOCK=$T/run/dumpgate.sock
  export DUMPGATE_SOCKET=$SOCK
  CONF=$T/dumpgate.conf
  write_config
  write_profile crashdump <<'P'
[profile]
requesters = @dg-engineers
approvers = @dg-approvers
approvals = 2
max_size = 64M
types = elf-core minidump zstd xz gzip lz4 text binary
expiry = 1h
retention = 1d
P
  write_profile logs <<'P'
[profile]
requesters = dg-alice dg-dave
approvers = dg-bob dg-carol
approvals = 1
max_size = 1M
types = text gzip
expiry = 1h
retention = 1d
P
}

# write_config: the gate config; EXTRA_LIMITS adds lines to [limits],
# SESSION_PROGRAM replaces the session binary (hostile-session tests).
write_config() {
  {
    echo "[gate]"
    echo "socket = $SOCK"
    echo "state_dir = $T/state"
    echo "profiles_dir = $T/profiles"
    echo "admins_group = dg-admins"
    echo "auditors_group = dg-auditors"
    echo "session_user = dumpgate-session"
    echo "session_program = ${SESSION_PROGRAM:-$T/bin/dumpgate-session}"
    echo "scanner_user = dumpgate-scan"
    echo "scanner_program = ${SCANNER_PROGRAM:-$T/bin/dumpgate-scan}"
    echo
    echo "[limits]"
    echo "upload_idle_timeout = ${IDLE_TIMEOUT:-30s}"
    [ -n "${EXTRA_LIMITS:-}" ] && printf '%s\n' "$EXTRA_LIMITS"
    echo
    echo "[persons]"
    echo "alice = dg-alice dg-alice2"
  } > "$CONF"
  chmod 644 "$CONF"
}

write_profile() { # write_profile NAME < body
  cat > "$T/profiles/$1.conf"
  chmod 644 "$T/profiles/$1.conf"
}

GATE_PID=
gate_start() {
  "$T/bin/dumpgated" --config "$CONF" --foreground 2>>"$T/gated.log" &
  GATE_PID=$!
  local i
  for i in $(seq 1 150); do
    if [ -S "$SOCK" ] && "$T/bin/dumpgate" status >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$GATE_PID" 2>/dev/null; then
      diag "dumpgated exited during start:"; diag "$(tail -n 20 "$T/gated.log")"
      wait "$GATE_PID" 2>/dev/null; GATE_PID=; return 1
    fi
    sleep 0.1
  done
  diag "dumpgated did not answer within 15 s"; return 1
}
gate_stop() {
  [ -n "${GATE_PID:-}" ] || return 0
  kill -TERM "$GATE_PID" 2>/dev/null
  local i
  for i in $(seq 1 100); do kill -0 "$GATE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$GATE_PID" 2>/dev/null
  wait "$GATE_PID" 2>/dev/null
  GATE_PID=
  return 0
}
gate_kill9() {
  kill -KILL "$GATE_PID" 2>/dev/null
  wait "$GATE_PID" 2>/dev/null
  GATE_PID=
  sleep 0.3 # sessions die with the monitor (PDEATHSIG)
}

# as USER CMD...: run a command as a test account, with its groups
as() {
  local u=$1; shift
  setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups --reset-env \
    env DUMPGATE_SOCKET="$SOCK" PATH=/usr/bin:/bin "$@"
}
# dg USER ARGS...: the CLI as USER
dg() { local u=$1; shift; as "$u" "$T/bin/dumpgate" "$@"; }

# mkfile PATH BYTES [SOURCE]: a file readable by every account
mkfile() {
  head -c "$2" "${3:-/dev/urandom}" > "$1"
  chmod 644 "$1"
}

# the session children of our gate
session_pids() { pgrep -P "$GATE_PID" 2>/dev/null; }

# ---- the CLI on a terminal (script(1) gives it one; CI has none)

# named_below PID NAME: the pid of a process NAME among the descendants of PID
named_below() {
  local p
  for p in $(pgrep -P "$1"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && { echo "$p"; return 0; }
    named_below "$p" "$2" && return 0
  done
  return 1
}
# tty_echo_off PID: the terminal on standard input of PID has echo off
tty_echo_off() { stty -F "$(readlink "/proc/$1/fd/0")" -a 2>/dev/null | grep -qE '(^| )-echo( |$)'; }

# tty_dg USER ARGS...: `dumpgate ARGS` as USER on a terminal.  TTY_TYPE
# lists PATTERN TEXT pairs: once the terminal showed PATTERN (as many times
# as it stands in the pairs so far), TEXT is typed as it is (add $'\n');
# an empty PATTERN waits until echo is off instead (standard input shows no
# prompt).  Typing earlier would be discarded (TCSAFLUSH) or echoed.
# TTY_HOOK, if set, runs with dumpgate's pid before the first TEXT;
# TTY_WRAP is a shell command with %s for dumpgate's.  Sets OUT (what the
# terminal showed, without CRs) and RC.
tty_dg() {
  local u=$1 fifo=$T/tty.in out=$T/tty.out cmd pid dpid pat n i k w hooked=
  shift
  cmd="$T/bin/dumpgate $*"
  [ -n "${TTY_WRAP:-}" ] && cmd=${TTY_WRAP//%s/$cmd}
  rm -f "$fifo"; mkfifo -m 600 "$fifo"
  : > "$out"
  as "$u" env SHELL=/bin/sh script -qec "$cmd" /dev/null < "$fifo" > "$out" 2>&1 &
  pid=$!
  exec {w}> "$fifo"
  for ((k = 0; k < ${#TTY_TYPE[@]}; k += 2)); do
    pat=${TTY_TYPE[k]} n=0
    for ((i = 0; i <= k; i += 2)); do [ "${TTY_TYPE[i]}" = "$pat" ] && n=$((n + 1)); done
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      if [ -n "$pat" ]; then
        [ "$(grep -c -- "$pat" "$out")" -ge "$n" ] && break
      else
        dpid=$(named_below "$pid" dumpgate) && tty_echo_off "$dpid" && break
      fi
      sleep 0.1
    done
    if [ -z "$hooked" ] && [ -n "${TTY_HOOK:-}" ]; then
      hooked=1
      "$TTY_HOOK" "$(named_below "$pid" dumpgate)"
    fi
    printf '%s' "${TTY_TYPE[k + 1]}" >&"$w" 2>/dev/null
  done
  # Nothing more to type: end of input once it is done (or hangs).
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  exec {w}>&-
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid"; RC=$?
  OUT=$(tr -d '\r' < "$out")
}

# ---- tokens (software YubiKeys, real Yubico OTPs via libyubikey)

# softkey_new NAME [PUBLIC-ID]: a software YubiKey in $T/keys/NAME.state
# whose AES key is also in $T/keys/NAME.aes (readable by dg-admin, who
# enrols it); prints the public id.
softkey_new() {
  mkdir -p -m 755 "$T/keys"
  openssl rand -hex 16 > "$T/keys/$1.aes"
  chown dg-admin "$T/keys/$1.aes"; chmod 600 "$T/keys/$1.aes"
  "$T/bin/dumpgate-softkey" init "$T/keys/$1.state" ${2:+--public-id "$2"} \
    --aes-key-file "$T/keys/$1.aes" | head -n 1
}
# otp NAME [softkey otp options]: the next OTP of that key
otp() { local k=$1; shift; "$T/bin/dumpgate-softkey" otp "$T/keys/$k.state" "$@"; }
# pubid NAME: its public id
pubid() { "$T/bin/dumpgate-softkey" show "$T/keys/$1.state" | sed -n 's/^public_id=//p'; }
# enroll ACCOUNT NAME: dg-admin enrols softkey NAME (made if missing) for
# ACCOUNT, proving possession with its next OTP
enroll() {
  [ -f "$T/keys/$2.state" ] || softkey_new "$2" >/dev/null
  otp "$2" | dg dg-admin token enroll --user "$1" --aes-key-file "$T/keys/$2.aes" --otp-stdin
}
# approve USER ID KEY [SHA256]: USER approves ID with the next OTP of KEY,
# naming the artifact's sha256 (or the one given)
approve() {
  local sha=${4:-$(tfield "$2" sha256)}
  otp "$3" | dg "$1" approve "$2" --sha256 "$sha" --otp-stdin
}
# approve_otp USER ID OTP [SHA256]: the same with the OTP text given
approve_otp() {
  local sha=${4:-$(tfield "$2" sha256)}
  printf '%s\n' "$3" | dg "$1" approve "$2" --sha256 "$sha" --otp-stdin
}
# counters NAME: "COUNTER USE" of the last OTP softkey NAME issued
counters() { "$T/bin/dumpgate-softkey" show "$T/keys/$1.state" | sed -n 's/^\(counter\|use\)=//p' | paste -sd ' '; }

# otp_flip OTP [POS]: the OTP with the character at POS (default 30, in
# the encrypted part) changed to another modhex character
otp_flip() {
  local o=$1 i=${2:-30} n=c
  [ "${o:i:1}" = c ] && n=b
  printf '%s\n' "${o:0:i}$n${o:i+1}"
}

# text_profile NAME REQUESTERS APPROVERS APPROVALS [EXPIRY]: a profile
# for small text and gzip files (up to 1M, expiry 1h unless given)
text_profile() {
  printf '[profile]\nrequesters = %s\napprovers = %s\napprovals = %s\nmax_size = 1M\ntypes = text gzip\nexpiry = %s\nretention = 1d\n' \
    "$2" "$3" "$4" "${5:-1h}" | write_profile "$1"
}

# pending_transfer USER PROFILE: USER submits a small text file of its own
# (its own sha256) with PROFILE; waits until the transfer waits for
# approval and prints its id (status 1 and a diagnostic otherwise)
pending_transfer() {
  local f id st
  f=$(mktemp "$T/files/log.XXXXXX")
  { echo "service log $f $(date +%s.%N)"; seq 1 500; } > "$f"
  chmod 644 "$f"
  id=$(dg "$1" submit --profile "$2" --reason "INC-approve" "$f") || return 1
  st=$(settle_one "$id")
  [ "$st" = pending ] || { diag "transfer $id is $st, not pending"; return 1; }
  echo "$id"
}
# await_state ID STATE [SECONDS]: wait (up to SECONDS, default 30) until ID
# is in STATE; prints the state it is in then
await_state() {
  local s= i
  for ((i = 0; i < ${3:-30} * 10; i++)); do
    s=$(tfield "$1" state)
    [ "$s" = "$2" ] && break
    sleep 0.1
  done
  echo "$s"
}

# audit_json: every audit record, one JSON object a line, as dg-admin reads
# them (audit show --json); audit_seq: the seq of the last one
audit_json() { dg dg-admin audit show --json </dev/null; }
audit_seq() { audit_json | jq -s 'last.seq // 0'; }
# audit_since SEQ [JQ-CONDITION]: the records after SEQ (that match)
audit_since() { audit_json | jq -c --argjson s "$1" "select(.seq > \$s and (${2:-true}))"; }

# refused CODE WHAT USER ARGS...: `dumpgate ARGS` as USER (standard input
# passed on) exits 1 and leaves exactly one new request_refused record, by
# USER, with that code: two TAP results.  Afterwards OUT holds what the
# command printed (stdout and stderr), REFUSAL the record.  Give standard
# input with a redirection, not a pipe (a pipe would run this in a
# subshell and lose the results).
refused() {
  local code=$1 what=$2 user=$3 before rc
  shift 3
  before=$(audit_seq)
  OUT=$(dg "$user" "$@" 2>&1)
  rc=$?
  REFUSAL=$(audit_since "$before" '.event == "request_refused"')
  is "$rc" 1 "$what: refused (exit 1)"
  is "$(jq -r '.actor.account + " " + .details.code' <<<"$REFUSAL")" "$user $code" \
    "$what: one request_refused record, by $user, code $code"
}
# approve_refused CODE WHAT USER ID OTP [SHA256]: refused for an approve
approve_refused() {
  local code=$1 what=$2 user=$3 id=$4 o=$5 sha=${6:-$(tfield "$4" sha256)}
  refused "$code" "$what" "$user" approve "$id" --sha256 "$sha" --otp-stdin <<<"$o"
}

# field of the JSON of `show --json` as root (root is an admin of the gate)
tfield() { "$T/bin/dumpgate" show "$1" --json | jq -r ".$2"; }

# settle_all: wait (up to 30 s) until no transfer is moving by itself
# (uploading, waiting for or in a scan, releasing) and the list is stable.
settle_all() {
  local i l
  for i in $(seq 1 150); do
    l=$(dg dg-admin list --json)
    if printf '%s' "$l" | jq -e 'all(.[]; .state | IN("submitted", "stored", "scanning", "clean", "approved", "releasing") | not)' >/dev/null; then
      sleep 0.3
      [ "$(dg dg-admin list --json)" = "$l" ] && return 0
    fi
    sleep 0.2
  done
  return 1
}

# settle_one ID: wait (up to 30 s) until ID is past scanning; prints its state
settle_one() {
  local s=
  for _ in $(seq 1 300); do
    s=$(dg dg-admin show "$1" --json | jq -r .state)
    case $s in stored|scanning|clean) sleep 0.1 ;; *) break ;; esac
  done
  echo "$s"
}

# long_scan_profile: a profile "long" whose scans last seconds (zstd with
# bomb limits high enough for gigabytes of zeros); long_scan_artifact PATH
# [TAIL]: zstd frames of 64 MiB of zeros (10 GiB decoded: seconds even on
# an idle machine, where 3 GiB decoded in about 1 s), followed by
# 128 MiB of PEM-looking text when TAIL is "tail" (the raw pass works
# through it; the decoder reports it as trailing data).
long_scan_profile() {
  write_profile long <<'P'
[profile]
requesters = @dg-engineers
approvers = @dg-approvers
approvals = 1
max_size = 1G
types = zstd
expiry = 1h
retention = 1d
bomb_max_size = 16G
bomb_max_ratio = 1000000
P
}
long_scan_artifact() {
  local out=$1 frame
  frame=$(mktemp "$T/frame.XXXXXX")
  head -c 64M /dev/zero | zstd -1 -q -c > "$frame"
  for _ in $(seq 1 160); do cat "$frame"; done > "$out"
  rm -f "$frame"
  if [ "${2:-}" = tail ]; then
    yes -- '-----BEGIN RSA PRIVATE KEY-----' | head -c 128M >> "$out"
  fi
  chmod 644 "$out"
}

# ---- releases (the outbox; gate/release.h)

# submit_pending USER PROFILE FILE [REASON]: USER submits FILE; prints the
# id once the transfer waits for approval (fails otherwise, within 60 s)
submit_pending() {
  local id
  id=$(dg "$1" submit --profile "$2" --reason "${4:-INC-42 release}" "$3") || return 1
  [ "$(await_state "$id" pending 60)" = pending ] || { diag "transfer $id is not pending"; return 1; }
  echo "$id"
}

# kernel_trail OUT: the kernel audit trail as an auditor gets it: the
# dumpgate lines of auditd's files (/var/log/audit/audit.log*), once the
# gate's last record has reached them (auditd writes asynchronously);
# status 1 when it did not within 10 s
kernel_trail() {
  local last
  last=$(tail -n 1 "$T/state/audit.log" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  for _ in $(seq 1 100); do
    grep -qs "line_sha256=$last" /var/log/audit/audit.log && break
    sleep 0.1
  done
  grep -hs 'op=dumpgate ' /var/log/audit/audit.log* > "$1"
  chmod 644 "$1"
  grep -q "line_sha256=$last" "$1"
}

# The outbox is $T/state/outbox (outbox_dir defaults to STATE/outbox).
# release_dir ID: the directory of its release, from `show --json`
release_dir() { echo "$T/state/outbox/$(tfield "$1" release.path)"; }

# outbox_leftovers DEST ID: what of ID is in OUTBOX/DEST (its release
# directory or a temporary one), one name a line
outbox_leftovers() {
  ls -A "$T/state/outbox/$1" 2>/dev/null | grep -E "^(\\.tmp-)?$2\$"
}

# verify_release DIR [KEY]: dumpgate verify-release DIR as root with the
# gate's public key (or KEY); prints its output, returns its status
verify_release() { "$T/bin/dumpgate" verify-release "$1" --key "${2:-$T/state/signing.pub}" 2>&1; }

# bytes_count FILE HEX: how often the bytes HEX stand in FILE (binary-safe)
bytes_count() {
  perl -e 'my $p = pack("H*", $ARGV[1]); open(my $f, "<:raw", $ARGV[0]) or die "$ARGV[0]: $!\n";
    local $/; my $d = <$f>; my ($n, $i) = (0, 0);
    while (($i = index($d, $p, $i)) >= 0) { $n++; $i++ } print "$n\n"' "$1" "$2"
}
