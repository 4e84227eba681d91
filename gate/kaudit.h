/* kaudit.h - mirroring audit records into the kernel audit trail.
 *
 * The only file that talks NETLINK_AUDIT (libmnl).  Every record of the
 * gate's own log is also sent to the kernel as an AUDIT_TRUSTED_APP
 * message, so the trail lives outside the gate's control (auditd,
 * audisp-remote, the SIEM).  User-supplied text never appears as text:
 * the message carries the record's seq, event, transfer id, the SHA-256 of
 * its exact line and of the previous line, and the whole line hex-encoded
 * when it is short enough for one kernel message.
 *
 * Sending needs CAP_AUDIT_WRITE; the kernel drops user records silently
 * while auditing is disabled, so kaudit_open() refuses to work then.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define KAUDIT_TRUSTED_APP 1121 /* AUDIT_TRUSTED_APP, not in linux/audit.h */

struct kaudit;

/* Open the audit netlink socket and check that the kernel's auditing is
 * enabled.  -ENOTCONN when it is disabled (start auditd), -EPERM without
 * CAP_AUDIT_WRITE.  *ret_error names the problem. */
int kaudit_open(struct kaudit **ret, const char **ret_error);
void kaudit_close(struct kaudit *k);

/* Send one record (the exact line, without newline) and wait for the
 * kernel's acknowledgement.  0 or -errno. */
int kaudit_send(struct kaudit *k, uint64_t seq, const char *event, const char *transfer, const char *line,
		size_t len, const char prev_sha256[65]);
