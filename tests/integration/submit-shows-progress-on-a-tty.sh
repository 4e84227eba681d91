#!/usr/bin/env bash
# submit draws a progress bar on stderr when stderr is a terminal (run
# under script(1): CI has no tty), and never when it is not.
source "$DG_SRC/tests/lib/lib.sh"
gate_init
gate_start || bail "dumpgated did not start"
command -v script >/dev/null || bail "script(1) missing (bsdutils)"

slow_stream() { # 2 MiB, a pause long enough for progress ticks, 2 MiB
  head -c 2M /dev/urandom; sleep 1.5; head -c 2M /dev/urandom
}

# accepts: stderr is a pty
fifo=$T/in.fifo
mkfifo -m 600 "$fifo"
slow_stream > "$fifo" &
feeder=$!
script -qec "setpriv --reuid dg-alice --regid $(id -g dg-alice) --init-groups --reset-env \
  env DUMPGATE_SOCKET=$SOCK $T/bin/dumpgate submit --profile crashdump --reason tty - < $fifo" \
  "$T/tty.log" >/dev/null 2>&1
rc=$?
wait "$feeder"
is "$rc" 0 "submit under a terminal succeeds"
like "$(tr '\r' '\n' < "$T/tty.log")" "MiB .*MB/s|MB/s" "a progress line with the rate was drawn on the terminal"
like "$(tr '\r' '\n' < "$T/tty.log")" "^[0-9a-f]{32}" "the transfer id is printed"

# refuses: stderr is a file, no bar
slow_stream > "$fifo" &
feeder=$!
id=$(dg dg-alice submit --profile crashdump --reason notty - < "$fifo" 2> "$T/notty.err")
rc=$?
wait "$feeder"
is "$rc" 0 "submit without a terminal succeeds"
like "$id" "^[0-9a-f]{32}$" "it prints only the id on stdout"
is "$(cat "$T/notty.err")" "" "nothing is drawn on a stderr that is not a terminal"
done_testing
