#!/usr/bin/env bash
# scanner-sandbox-kills-escapes.sh - I5: the scanner's seccomp allowlist
# (sandbox_scanner_enter, the filter dumpgate-scan --gate installs before it
# reads an artifact byte) kills the process on every way out of the sandbox.
#
# dg-sandbox-escape (tests/tools/sandbox-escape.c) enters that very filter
# and then makes one forbidden system call with syscall(2).  Run as the
# dumpgate-scan account with no_new_privs, as under the gate:
#  refuses: openat, socket, execve, ptrace, fork (clone without
#           CLONE_THREAD), mmap and mprotect with PROT_EXEC each end the
#           process with SIGSYS (exit status 159 = 128 + 31) and it never
#           prints "survived";
#  accepts: "none" (write to stdout, getpid: what a scanner does) lives
#           and exits 0, so the deaths above are the filter's doing.
# In the sanitizer build openat (and open) fail with EACCES instead of
# killing, so that an ASan report can still be written (sandbox.c,
# sanitizer_rules); there the test asserts that openat is refused.
. "${DG_SRC:?}/tests/lib/lib.sh"

gate_init # a private $T, the accounts checked; no daemon needed here
TOOL=$DG_BUILD/tests/dg-sandbox-escape
[ -x "$TOOL" ] || bail "$TOOL is missing (meson compile builds it)"
SCAN_UID=$(id -u dumpgate-scan)

# escape SYSCALL: run the tool as dumpgate-scan; sets RC, OUT, ERR
# (in a subshell whose stderr is dropped: bash's own "Bad system call"
# notice is noise here, the status is what is checked)
escape() {
  (
    setpriv --reuid dumpgate-scan --regid dumpgate-scan --clear-groups --no-new-privs \
      env -i ASAN_OPTIONS=detect_leaks=0 "$TOOL" "$1" > "$T/out" 2> "$T/err"
    echo $? > "$T/rc"
  ) 2>/dev/null
  RC=$(cat "$T/rc")
  OUT=$(cat "$T/out")
  ERR=$(cat "$T/err")
}

# ---- accepts: allowed calls only
escape none
is "$RC" 0 "none: the process lives through the filter and exits 0"
like "$OUT" '^alive pid [0-9]+$' "none: it writes to stdout and calls getpid after the filter"
is "$ERR" "" "none: sandbox_scanner_enter succeeded as dumpgate-scan (uid $SCAN_UID), nothing on stderr"

# ---- refuses: each way out is a kill
for sc in socket execve ptrace fork mmap-exec mprotect-exec openat; do
  if [ "$sc" = openat ] && [ "$DG_SANITIZED" = 1 ]; then
    diag "sanitizer build: the filter answers openat/open with EACCES instead of a kill," \
      "so that an ASan/UBSan report can still reach stderr (sandbox.c sanitizer_rules);" \
      "the normal build asserts the kill"
    escape openat
    is "$RC" 1 "openat (sanitizer build): the call returns instead of opening"
    like "$OUT" 'openat refused: Permission denied' "openat (sanitizer build): refused with EACCES"
    unlike "$OUT" 'returned [0-9]' "openat (sanitizer build): no file descriptor was obtained"
    continue
  fi
  escape "$sc"
  is "$RC" 159 "$sc: the process is killed by SIGSYS (exit status 159)"
  unlike "$OUT" 'survived' "$sc: it never gets to say \"survived\""
  [ "$RC" = 159 ] || diag "$sc: stdout: $OUT" "stderr: $ERR"
done

done_testing
