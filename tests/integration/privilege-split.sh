#!/usr/bin/env bash
# privilege-split.sh - I5, read from /proc of the live processes: a session
# child runs as the session uid with no capabilities, no_new_privs, a seccomp
# filter, no core and only fds 0-4; the monitor keeps exactly the
# capabilities gate/sandbox.c lists and has RLIMIT_CORE 0.
# Refuses twin: the same checks on a plain process started the same way fail
# (Seccomp 0, NoNewPrivs 0), and a root process with every capability does
# not pass the monitor's capability check, so neither check is vacuous.
. "${DG_SRC:?}/tests/lib/lib.sh"

gate_init
gate_start || bail "dumpgated did not start"

status_field() { # status_field PID FIELD  (first value of "FIELD:" in /proc/PID/status)
  awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status"
}
status_line() { # the whole value, blanks folded to one space
  sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' '  ' | sed 's/ $//'
}
core_limit() { # "soft hard" of Max core file size
  awk '/^Max core file size/ { print $5, $6 }' "/proc/$1/limits"
}
fd_list() { ls "/proc/$1/fd" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

# every sandbox property of a session at once; prints what is wrong
sandbox_problems() { # sandbox_problems PID
  local p=$1 bad=()
  local u; u=$(status_line "$p" Uid)
  [ "$u" = "$SESSION_UID $SESSION_UID $SESSION_UID $SESSION_UID" ] || bad+=("Uid '$u'")
  local f
  for f in CapInh CapPrm CapEff CapBnd CapAmb; do
    [ "$(status_field "$p" "$f")" = 0000000000000000 ] || bad+=("$f $(status_field "$p" "$f")")
  done
  [ "$(status_field "$p" NoNewPrivs)" = 1 ] || bad+=("NoNewPrivs $(status_field "$p" NoNewPrivs)")
  [ "$(status_field "$p" Seccomp)" = 2 ] || bad+=("Seccomp $(status_field "$p" Seccomp)")
  [ "$(core_limit "$p")" = "0 0" ] || bad+=("core limit $(core_limit "$p")")
  printf '%s\n' "${bad[@]}"
}

SESSION_UID=$(id -u dumpgate-session)
ok $([ "$SESSION_UID" != 0 ]; echo $?) "dumpgate-session is not uid 0 ($SESSION_UID)"

# ---- a live session: a client connected to the gate, idle after a request
# (a `wait` would end as soon as a scan made its transfer final).
mkfifo -m 600 "$T/hold"
as dg-alice "$T/bin/dg-rawclient" "$SOCK" < "$T/hold" > "$T/hold.out" 2>&1 &
HOLDER=$!
exec 8> "$T/hold" # opens once the client has its end
on_exit "exec 8>&-; pkill -P $HOLDER 2>/dev/null; kill $HOLDER 2>/dev/null"
echo 'Q {"v":1,"op":"status"}' >&8
for _ in $(seq 1 50); do grep -q '^E {"ok":true' "$T/hold.out" && break; sleep 0.1; done
like "$(cat "$T/hold.out")" '^E \{"ok":true' "a client is connected and was served"

# The session child of our gate (argv[0] dumpgate-session), not anything else
# the gate forks (scanners).
session_pid() {
  local p
  for p in $(pgrep -P "$GATE_PID"); do
    [ "$(tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | head -n 1)" = dumpgate-session ] && { echo "$p"; return 0; }
  done
  return 1
}
S=
for _ in $(seq 1 50); do S=$(session_pid) && break; sleep 0.1; done
[ -n "$S" ] || bail "no session child appeared for the connected client"
diag "session pid $S, monitor pid $GATE_PID"

is "$(status_field "$S" PPid)" "$GATE_PID" "the session is a child of the monitor"
is "$(status_line "$S" Uid)" "$SESSION_UID $SESSION_UID $SESSION_UID $SESSION_UID" \
  "session: real, effective, saved and fs uid are dumpgate-session's"
gid=$(id -g dumpgate-session)
is "$(status_line "$S" Gid)" "$gid $gid $gid $gid" "session: every gid is dumpgate-session's group"
is "$(status_line "$S" Groups)" "" "session: no supplementary groups"
for f in CapInh CapPrm CapEff CapBnd CapAmb; do
  is "$(status_field "$S" "$f")" 0000000000000000 "session: $f is empty"
done
is "$(status_field "$S" NoNewPrivs)" 1 "session: NoNewPrivs 1"
is "$(status_field "$S" Seccomp)" 2 "session: Seccomp 2 (filter mode)"
is "$(core_limit "$S")" "0 0" "session: Max core file size 0 (soft and hard)"
is "$(fd_list "$S")" "0 1 2 3 4" "session: only fds 0-4 are open"
# A non-dumpable process's /proc entries belong to root, whatever its uid.
is "$(stat -c %u "/proc/$S/status")" 0 "session: not dumpable (/proc/PID/status owned by root although the uid is $SESSION_UID)"
is "$(sandbox_problems "$S")" "" "session: the combined sandbox check passes"

# ---- refuses twin: a plain process started the same way fails the checks
# `as` is a function: `as ... &` is a subshell whose child becomes sleep.
as dg-alice sleep 20 8>&- &
PLAIN_SH=$!
on_exit "pkill -P $PLAIN_SH sleep 2>/dev/null; kill $PLAIN_SH 2>/dev/null"
PLAIN=
for _ in $(seq 1 50); do
  PLAIN=$(pgrep -P "$PLAIN_SH" -x sleep) && [ "$(status_field "$PLAIN" Uid)" = "$(id -u dg-alice)" ] && break
  PLAIN=; sleep 0.05
done
[ -n "$PLAIN" ] || bail "the plain sleep did not start"
is "$(status_field "$PLAIN" Seccomp)" 0 "twin: a plain sleep run as an account has Seccomp 0"
is "$(status_field "$PLAIN" NoNewPrivs)" 0 "twin: and NoNewPrivs 0"
is "$(stat -c %u "/proc/$PLAIN/status")" "$(id -u dg-alice)" "twin: and it is dumpable (/proc/PID/status owned by its uid)"
problems=$(sandbox_problems "$PLAIN")
like "$problems" 'Seccomp 0' "twin: the combined sandbox check fails for it"
kill "$PLAIN" 2>/dev/null; wait "$PLAIN_SH" 2>/dev/null

# ---- the monitor
# The capabilities the monitor keeps, by name, from gate/sandbox.c's
# monitor_keep[], turned into a mask with the kernel header; intersected
# with what the test itself could give it (a container may hold fewer).
keep=$(sed -n '/monitor_keep\[\] = {/,/^};/p' "$DG_SRC/gate/sandbox.c" | grep -v '^[[:space:]]*/\?\*' | grep -o 'CAP_[A-Z_]*' | sort -u)
is "$(printf '%s\n' "$keep" | grep -c .)" 9 "gate/sandbox.c lists 9 capabilities for the monitor"
hdr=/usr/include/linux/capability.h
[ -r "$hdr" ] || bail "$hdr missing (linux-libc-dev)"
want=0
for c in $keep; do
  n=$(awk -v c="$c" '$1 == "#define" && $2 == c { print $3 }' "$hdr")
  [ -n "$n" ] || bail "no number for $c in $hdr"
  want=$(( want | (1 << n) ))
done
have=$((16#$(status_field $$ CapPrm)))
want=$(( want & have ))
want_hex=$(printf '%016x' "$want")
full_hex=$(printf '%016x' "$have")
diag "monitor keeps $(echo $keep | tr ' ' ,) = $want_hex; the test shell holds $full_hex"

is "$(status_line "$GATE_PID" Uid)" "0 0 0 0" "monitor: runs as root"
is "$(status_field "$GATE_PID" CapEff)" "$want_hex" "monitor: CapEff is exactly the kept capabilities"
is "$(status_field "$GATE_PID" CapPrm)" "$want_hex" "monitor: CapPrm likewise"
is "$(status_field "$GATE_PID" CapBnd)" "$want_hex" "monitor: the bounding set holds nothing else"
is "$(status_field "$GATE_PID" CapInh)" 0000000000000000 "monitor: CapInh empty"
is "$(status_field "$GATE_PID" CapAmb)" 0000000000000000 "monitor: CapAmb empty"
ok $([ "$(status_field "$GATE_PID" CapEff)" != "$full_hex" ]; echo $?) "monitor: CapEff is not full"
for c in CAP_DAC_OVERRIDE CAP_SYS_PTRACE CAP_NET_ADMIN CAP_SYS_MODULE; do
  n=$(awk -v c="$c" '$1 == "#define" && $2 == c { print $3 }' "$hdr")
  ok $(( (16#$(status_field "$GATE_PID" CapEff) >> n) & 1 )) "monitor: no $c"
done
is "$(core_limit "$GATE_PID")" "0 0" "monitor: Max core file size 0 0"

# twin: a root process that dropped nothing does not pass the same check
sleep 20 8>&- &
ROOTP=$!
on_exit "kill $ROOTP 2>/dev/null"
sleep 0.1
unlike "$(status_field "$ROOTP" CapEff)" "^$want_hex\$" "twin: a plain root process's CapEff is not the monitor's kept set"
kill "$ROOTP" 2>/dev/null; wait "$ROOTP" 2>/dev/null

exec 8>&-
timeout 5 tail --pid="$HOLDER" -f /dev/null
done_testing
