#!/usr/bin/env bash
# dumpgate approve ID without --otp-stdin: on a terminal (script(1) gives
# it one; CI has none) it prints the transfer, its sha256 and findings,
# then reads the OTP from the terminal with echo off, and sends the sha256
# it printed.  Refuses twins: no terminal and no --otp-stdin is an error
# that spends nothing; an empty line approves nothing; a replayed OTP
# typed at the prompt is refused; a stale --sha256 or a transfer that is
# not pending is refused before the prompt.  Echo comes back on every
# path: SIGUSR1 at the prompt, Ctrl-Z (and after fg it goes off again).
# --otp-stdin on a terminal reads with echo off.  While dumpgate waits it
# is not dumpable.
source "$DG_SRC/tests/lib/lib.sh"
trap '' PIPE # a client that ended early must not kill the test at the fifo
require_root
command -v script >/dev/null || bail "script(1) missing (bsdutils)"

gate_init
gate_start || bail "dumpgated did not start"
enroll dg-bob bob >/dev/null || bail "cannot enrol bob's key"
id=$(pending_transfer dg-alice logs) || bail "no pending transfer"
sha=$(tfield "$id" sha256)

# tty_approve USER ID LINE: `dumpgate approve ID` as USER on a terminal,
# LINE typed once the prompt shows (tty_dg in lib.sh).
tty_approve() {
  TTY_TYPE=(YubiKey "$3"$'\n')
  tty_dg "$1" approve "$2"
}
# The stty line of the terminal after dumpgate (in TTY_WRAP): "STTY: echo"
# or "STTY: -echo".
stty_after='stty -a | grep -oE " -?echo " | sed s/^/STTY:/'

# refuses twin: no terminal and no --otp-stdin
before=$(audit_seq)
out=$(otp bob | setsid -w setpriv --reuid dg-bob --regid "$(id -g dg-bob)" --init-groups --reset-env \
  env DUMPGATE_SOCKET="$SOCK" PATH=/usr/bin:/bin "$T/bin/dumpgate" approve "$id" 2>&1)
rc=$?
ok $([ "$rc" != 0 ]; echo $?) "without a terminal and without --otp-stdin approve fails (exit $rc)"
like "$out" "terminal" "the message says a terminal is needed"
like "$out" "--otp-stdin" "and names --otp-stdin"
is "$(audit_since "$before" '.event == "otp_spent"' | grep -c .)" 0 "no OTP was read or spent"
is "$(tfield "$id" state)" pending "the transfer still waits"

# refuses twin: an empty line at the prompt.  Meanwhile dumpgate, which
# is about to hold an OTP, is not dumpable: another process of dg-bob
# cannot read its environment (nor its memory, nor ptrace it), where
# dg-bob's script(1) above it is readable; its core size limit is 0.
at_prompt() {
  local parent
  parent=$(awk '/^PPid:/ { print $2 }' "/proc/$1/status")
  ENV_RC=$(as dg-bob cat "/proc/$1/environ" >/dev/null 2>&1; echo $?)
  PARENT_ENV_RC=$(as dg-bob cat "/proc/$parent/environ" >/dev/null 2>&1; echo $?)
  CORE_LIMIT=$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$1/limits")
}
TTY_HOOK=at_prompt tty_approve dg-bob "$id" ""
ok $([ "$RC" != 0 ]; echo $?) "an empty line approves nothing (exit $RC)"
is "$(tfield "$id" state)" pending "the transfer still waits"
ok $([ "$ENV_RC" != 0 ]; echo $?) "dg-bob cannot read /proc/PID/environ of dumpgate at the prompt (not dumpable)"
is "$PARENT_ENV_RC" 0 "but can read that of script(1), his dumpable process above it"
is "$CORE_LIMIT" "0 0" "dumpgate's core file size limit is 0 (soft and hard)"

# accepts: the OTP typed at the prompt
o=$(otp bob)
tty_approve dg-bob "$id" "$o"
is "$RC" 0 "bob approves on the terminal"
like "$OUT" "$sha" "the terminal showed the artifact's sha256 before the prompt"
like "$OUT" "INC-approve" "and the requester's reason"
like "$OUT" "indings" "and the scan's findings"
unlike "$OUT" "$o" "the OTP was not echoed"
is "$(tfield "$id" state | sed 's/releasing\|released/approved/')" approved "the transfer is approved (1 of 1)"
is "$(tfield "$id" 'approvals[0].sha256')" "$sha" "the approval names the sha256 that was shown"
is "$(audit_json | jq -r --arg id "$id" 'select(.event == "approval" and .transfer == $id) | .details.interactive')" \
  true "the approval record says it was interactive"

# refuses twin: the same OTP typed again, on another transfer
id2=$(pending_transfer dg-alice logs) || bail "no second pending transfer"
tty_approve dg-bob "$id2" "$o"
is "$RC" 1 "the replayed OTP typed at the prompt is refused"
like "$OUT" "already used" "as already used"
is "$(tfield "$id2" state)" pending "the second transfer still waits"

# refuses: a --sha256 that is not the transfer's, or a transfer that is
# not pending: said after showing it, before the prompt; no OTP spent
before=$(audit_seq)
TTY_TYPE=()
tty_dg dg-bob approve "$id2" --sha256 "$(printf '%064d' 0)"
is "$RC" 1 "a stale --sha256 is refused on the terminal (exit 1)"
like "$OUT" "another sha256 than the one given with --sha256" "the message says the sha256 differs"
unlike "$OUT" "YubiKey" "no OTP was asked for"
tty_dg dg-bob approve "$id"
is "$RC" 1 "approving a transfer that was approved already is refused on the terminal (exit 1)"
like "$OUT" "is (approved|releasing|released), not waiting for approval" "the message names its state"
unlike "$OUT" "YubiKey" "no OTP was asked for"
is "$(audit_since "$before" '.event == "otp_spent" or .event == "request_refused"' | grep -c .)" 0 \
  "nothing reached the gate: no OTP spent, no refusal"

# refuses: a signal at the prompt that is not SIGINT/SIGTERM/SIGHUP/SIGQUIT
# (SIGUSR1) still ends dumpgate with the terminal's echo back on
at_prompt_usr1() { kill -USR1 "$1"; sleep 0.5; }
TTY_WRAP="bash -c '%s; echo exit \$?; $stty_after'" TTY_HOOK=at_prompt_usr1 tty_approve dg-bob "$id2" ""
like "$OUT" "exit 138" "SIGUSR1 at the prompt ends dumpgate by that signal"
like "$OUT" "STTY: echo " "and the terminal echoes again"
is "$(tfield "$id2" state)" pending "the transfer still waits"

# accepts: Ctrl-Z at the prompt stops dumpgate with echo on; after fg it
# turns echo off, prompts again and the OTP typed then approves
o=$(otp bob)
TTY_TYPE=(YubiKey $'\032' YubiKey "$o"$'\n')
TTY_WRAP="bash -c 'set -m; %s; $stty_after; fg'" tty_dg dg-bob approve "$id2"
like "$OUT" "Stopped" "Ctrl-Z at the prompt stops dumpgate"
like "$OUT" "STTY: echo " "while it is stopped the terminal echoes"
is "$(grep -c "Touch your YubiKey" <<<"$OUT")" 2 "after fg it prompts again"
is "$RC" 0 "and the OTP typed then approves"
unlike "$OUT" "$o" "the OTP was not echoed"
is "$(tfield "$id2" state | sed 's/releasing\|released/approved/')" approved "the transfer is approved"

# accepts: --otp-stdin when standard input is a terminal reads with echo off
id3=$(pending_transfer dg-alice logs) || bail "no third pending transfer"
o=$(otp bob)
TTY_TYPE=("" "$o"$'\n')
tty_dg dg-bob approve "$id3" --sha256 "$(tfield "$id3" sha256)" --otp-stdin
is "$RC" 0 "approve --otp-stdin with the OTP typed at a terminal"
unlike "$OUT" "$o" "the OTP was not echoed"
done_testing
