/* scanrun.h - the monitor runs the scanners and judges what they say.
 *
 * For every stored transfer the monitor starts two dumpgate-scan processes
 * (raw pass, decoding pass), each with a read-only fd of the spool object,
 * under scanner_user, in new network, mount and IPC namespaces, with
 * rlimits, no capabilities and no_new_privs; the scanner installs its
 * seccomp filter itself before it reads a byte.  Their output is JSON
 * Lines on a pipe, which this file validates field by field (the scanner
 * parses hostile bytes and may be lying or broken).  Any crash, signal,
 * timeout, malformed line, missing summary or SHA-256 that differs from
 * the stored one fails the transfer (I1, I2); otherwise the profile's
 * policy turns the findings into `clean` or `blocked`.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

struct monitor;

/* Start scans for transfers that wait for one (stored, or scanning after
 * a restart), up to the concurrency limit.  Called from the loop's tick
 * and after an upload was stored. */
void scanrun_schedule(struct monitor *m);
/* epoll reported the pass with this serial readable (or gone). */
void scanrun_event(struct monitor *m, uint64_t serial);
/* waitpid() reported pid; returns true when it was a scanner. */
bool scanrun_reaped(struct monitor *m, pid_t pid, int status);
/* Kill overdue scanners. */
void scanrun_tick(struct monitor *m, time_t now);
/* Stop the scan of a transfer that left `scanning` (withdrawn...). */
void scanrun_cancel(struct monitor *m, const char *id);
/* Progress of a running scan as {"raw":BYTES,"decoded":BYTES}, or NULL. */
json_t *scanrun_progress(struct monitor *m, const char *id);
/* Kill every scanner (shutdown). */
void scanrun_stop_all(struct monitor *m);
