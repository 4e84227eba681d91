/* session.h - the contract between the monitor and dumpgate-session.
 *
 * The monitor accepts a client, reads SO_PEERCRED itself, forks, and the
 * child drops to session_user (sandbox_drop_to) and execs session_program
 * with argv {"dumpgate-session", NULL}, an environment holding only what
 * a sanitizer build needs, and exactly these fds:
 *   0, 1  /dev/null
 *   2     the monitor's stderr (log lines, prefixed "dumpgate-session[pid]:")
 *   3     SESSION_FD_CLIENT  the client's SOCK_SEQPACKET connection
 *   4     SESSION_FD_MONITOR SOCK_SEQPACKET socketpair end to the monitor
 * The session never learns who the client is; the monitor attaches the
 * identity it read itself to every request from that child.
 */
#pragma once

#define SESSION_FD_CLIENT 3
#define SESSION_FD_MONITOR 4
