#!/usr/bin/env bash
# gate-writes-no-core-dump.sh - I5: no process of the gate ever writes a core
# dump.  core_pattern is pointed at a pipe handler that records every dump the
# kernel starts; a SIGSEGV'd session and a SIGSEGV'd monitor never reach it.
# Pipe handlers ignore RLIMIT_CORE 0 (core(5): only a limit of 1 stops a
# pipe dump), so what protects the gate is PR_SET_DUMPABLE 0; the twin shows
# the handler does record an ordinary crashing process, with RLIMIT_CORE
# unlimited and with 0.
#
# SERIAL: changes /proc/sys/kernel/core_pattern machine-wide and restores it.
. "${DG_SRC:?}/tests/lib/lib.sh"

require_root
CP=/proc/sys/kernel/core_pattern
[ -w "$CP" ] && OLD_PATTERN=$(cat "$CP") || skip_all "$CP is not writable here"
# Probe that it really is writable (a read-only /proc/sys fails on write).
printf '%s\n' "$OLD_PATTERN" > "$CP" 2>/dev/null || skip_all "cannot write $CP"

gate_init
# Registered after gate_init's cleanup, so it runs first: the pattern is
# restored even if anything below fails or bails out.
restore_pattern() { printf '%s\n' "$OLD_PATTERN" > "$CP"; }
on_exit restore_pattern

CORES=$T/cores
HANDLER=$T/core-handler
cat > "$HANDLER" <<EOF
#!/bin/sh
# core_pattern pipe handler: record "pid comm", drain the dump.
echo "\$1 \$2" >> "$CORES"
cat > /dev/null
EOF
chmod 755 "$HANDLER"
: > "$CORES"
printf '|%s %%p %%e\n' "$HANDLER" > "$CP"
is "$(cat "$CP")" "|$HANDLER %p %e" "core_pattern points at the test's pipe handler"

recorded() { grep -q "^$1 " "$CORES"; } # recorded PID
wait_recorded() { # wait_recorded PID: up to 5 s
  local i
  for i in $(seq 1 50); do recorded "$1" && return 0; sleep 0.1; done
  return 1
}
# A plain process that crashes with SIGSEGV; prints its pid.
plain_crash() { # plain_crash ULIMIT
  local pidf=$T/plain.pid
  bash -c "ulimit -c $1; echo \$\$ > '$pidf'; kill -SEGV \$\$" 2>/dev/null
  cat "$pidf"
}

# ---- twin first: the handler works
p=$(plain_crash unlimited)
wait_recorded "$p"; ok $? "twin: a plain bash killed by SIGSEGV (ulimit -c unlimited) is recorded by the handler"
p=$(plain_crash 0)
wait_recorded "$p"; ok $? "twin: with ulimit -c 0 too (pipe dumps ignore RLIMIT_CORE 0; only non-dumpable stops them)"

# ---- a live session
gate_start || bail "dumpgated did not start"
# a client connected and idle after a request keeps its session alive
mkfifo -m 600 "$T/hold"
as dg-alice "$T/bin/dg-rawclient" "$SOCK" < "$T/hold" > "$T/hold.out" 2>&1 &
HOLDER=$!
exec 8> "$T/hold"
on_exit "exec 8>&-; pkill -P $HOLDER 2>/dev/null; kill $HOLDER 2>/dev/null"
echo 'Q {"v":1,"op":"status"}' >&8
for _ in $(seq 1 50); do grep -q '^E {"ok":true' "$T/hold.out" && break; sleep 0.1; done
like "$(cat "$T/hold.out")" '^E \{"ok":true' "a client is connected and was served"
S=
for _ in $(seq 1 50); do
  for p in $(pgrep -P "$GATE_PID"); do
    [ "$(tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | head -n 1)" = dumpgate-session ] && S=$p
  done
  [ -n "$S" ] && break
  sleep 0.1
done
[ -n "$S" ] || bail "no session child appeared"
diag "session pid $S, monitor pid $GATE_PID"

kill -SEGV "$S"
for _ in $(seq 1 50); do kill -0 "$S" 2>/dev/null || break; sleep 0.1; done
ok $(kill -0 "$S" 2>/dev/null; [ $? -ne 0 ]; echo $?) "the session died of SIGSEGV"
ok $(kill -0 "$GATE_PID" 2>/dev/null; echo $?) "the monitor survives the death of a session"

# ---- the monitor itself
M=$GATE_PID
kill -SEGV "$M"
wait "$M" 2>/dev/null
mrc=$?
GATE_PID=
diag "the monitor ended with status $mrc (139 = SIGSEGV; a sanitizer build reports it and exits)"
ok $(kill -0 "$M" 2>/dev/null; [ $? -ne 0 ]; echo $?) "the monitor died of SIGSEGV"
like "$(cat "$T/hold.out")" 'EOF' "the connected client saw its session go away"
exec 8>&-

# A last plain crash: once it is recorded, any dump started before it (the
# dying process runs the handler before it can be reaped) has been too.
p=$(plain_crash unlimited)
wait_recorded "$p"; ok $? "a plain crash after them is recorded (the handler is still in place)"

recorded "$S"; ok $([ $? -ne 0 ]; echo $?) "the session's SIGSEGV did not reach the core handler"
recorded "$M"; ok $([ $? -ne 0 ]; echo $?) "the monitor's SIGSEGV did not reach the core handler"
unlike "$(cut -d' ' -f2 "$CORES")" '^(dumpgate|dumpgated)' "no dump from any gate process at all"
diag "handler saw: $(tr '\n' ';' < "$CORES")"

restore_pattern
is "$(cat "$CP")" "$OLD_PATTERN" "core_pattern restored"
done_testing
