#!/usr/bin/env bash
# A connection that sends no request for session_idle_timeout is ended, so
# idle connections cannot hold the connection limits; a client that asks
# in time is served.
source "$DG_SRC/tests/lib/lib.sh"
gate_init
EXTRA_LIMITS="session_idle_timeout = 2s"
write_config
gate_start || bail "dumpgated did not start"

# refuses: an idle connection (the raw client sends nothing for 8 s)
(sleep 8) | as dg-mallory timeout 15 "$T/bin/dg-rawclient" "$SOCK" > "$T/idle.out" 2>&1 &
t0=$(date +%s%N)
for _ in $(seq 1 70); do grep -q EOF "$T/idle.out" && break; sleep 0.1; done
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
like "$(cat "$T/idle.out")" "EOF" "the gate closes a connection that asks nothing"
ok $([ "$ms" -lt 6000 ]; echo $?) "it does so after the idle limit, while the client still waits (${ms} ms)"
like "$(cat "$T/gated.log")" "no request for 2 s \\(session_idle_timeout\\); ending it" "the gate's log says why"

# accepts: a client that asks within the limit is answered
out=$( (echo 'Q {"v":1,"op":"status"}'; sleep 1) | as dg-mallory timeout 15 "$T/bin/dg-rawclient" "$SOCK" 2>&1)
like "$out" '"ok":true' "a request sent in time is answered"
out=$(dg dg-alice status 2>&1)
ok $? "the CLI is served as usual"
done_testing
