/* sandbox.h - capabilities, no_new_privs, rlimits and seccomp.
 *
 * The only file that talks to libcap and libseccomp.  Order matters and
 * follows OpenSSH/minijail: namespaces (scanner, later), drop groups and
 * ids, rlimits, no_new_privs, seccomp last.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Monitor, at start: not dumpable, RLIMIT_CORE 0. */
int sandbox_no_core(void);

/* Monitor, after binding its socket: keep only the capabilities it uses
 * (setuid/setgid/setpcap to start children under other uids, kill to end
 * them, audit_write for the kernel audit trail, sys_admin for the
 * scanner's namespaces) in effective and permitted sets, drop every other
 * capability from the bounding set, and no inheritable or ambient caps. */
int sandbox_monitor_caps(void);

/* Forked child of the monitor, right before exec of an unprivileged
 * program: empty the bounding set, setgroups(0), setresgid, setresuid
 * (and check that uid 0 cannot be regained), RLIMIT_CORE 0,
 * PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG(SIGKILL) and a check that the
 * parent is still parent_pid.  Must not allocate (runs after fork). */
int sandbox_drop_to(uid_t uid, gid_t gid, pid_t parent_pid);

/* Session, after exec, before reading any client byte: not dumpable,
 * then the seccomp allowlist (kill-process default, bad-arch kill). */
int sandbox_session_enter(void);

/* Scanner (dumpgate-scan --gate), after exec, after everything that
 * needs a file or lazy library initialisation (vectorscan database,
 * worker threads, OpenSSL config and DRBGs, jansson's seed), before
 * reading any artifact byte: not dumpable, RLIMIT_CORE 0, no_new_privs,
 * then the seccomp allowlist (kill-process default, bad-arch kill): read,
 * write, memory without PROT_EXEC, threads but no processes; no open,
 * socket, exec or ptrace. */
int sandbox_scanner_enter(void);
