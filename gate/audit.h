/* audit.h - the hash-chained, append-only audit log (I4).
 *
 * The file STATE/audit.log holds JSON Lines.  Each record is one compact
 * JSON object with keys in this order:
 *   {"seq":N,"time":"2026-11-28T16:15:20Z","event":"submitted",
 *    "transfer":"<32 hex>"|null,
 *    "actor":{"account":"alice","uid":1001,"person":"alice"}|null,
 *    "details":{...},
 *    "prev":"<sha256 hex of the exact bytes of the previous line, without
 *             its newline; 64 zeros for the first record>"}
 * seq starts at 1 and grows by one.  A record is written with one write()
 * and fsync'd before audit_append() returns; the caller lets the change
 * take effect only after that (I4).  Nothing here ever removes a record.
 *
 * Untrusted strings (reasons, names) are stored as JSON strings (jansson
 * escapes them); no secret ever goes into a record (I7).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define AUDIT_FILE "audit.log"
#define AUDIT_MAX_LINE (1024 * 1024)

struct audit_actor {
	const char *account;
	uid_t uid;
	const char *person;
};

struct audit_log;

/* Open (or create) AUDIT_FILE beneath dirfd, verify the whole chain and
 * get ready to append.  A torn last line (no final newline) is moved to a
 * side file "audit.log.torn-<seq>-<time>" (fsync'd), the log is truncated
 * to its last complete line, a "torn_tail_quarantined" record is appended
 * naming the side file, and *ret_report (may be NULL) receives a
 * malloc'd sentence saying so.  Any other damage is an error: the log is
 * left as it is and *ret_error says which line is bad. */
int audit_open(int dirfd, struct audit_log **ret, char **ret_report, char **ret_error);
void audit_close(struct audit_log *a);

/* Append a record.  details is borrowed (may be NULL = {}).  transfer and
 * actor may be NULL.  On success *ret_seq (may be NULL) is its seq and
 * *ret_record (may be NULL) a new reference to the record as written. */
int audit_append(struct audit_log *a, const char *event, const char *transfer,
		 const struct audit_actor *actor, json_t *details,
		 uint64_t *ret_seq, json_t **ret_record);

uint64_t audit_last_seq(const struct audit_log *a);
/* true once a failed append could not be undone: the file's tail is
 * unknown and every further append is refused. */
bool audit_broken(const struct audit_log *a);

/* A mirror (the kernel audit trail) gets every line before it is written;
 * if it fails, audit_append fails with its error and writes nothing. */
typedef int (*audit_mirror_fn)(void *userdata, uint64_t seq, const char *event, const char *transfer,
			       const char *line, size_t len, const char prev_sha256[65]);
void audit_set_mirror(struct audit_log *a, audit_mirror_fn fn, void *userdata);
/* A new read-only fd of the log (handed to an auditor's session). */
int audit_open_readonly(struct audit_log *a);

/* Call cb for every record in order (used to rebuild state at start).
 * A non-zero return from cb stops and is returned. */
typedef int (*audit_record_cb)(json_t *record, void *userdata);
int audit_replay(struct audit_log *a, audit_record_cb cb, void *userdata);

/* Verify a whole log read from fd (the CLI's `audit verify`).  On a bad
 * chain returns -EBADMSG with *ret_error = "line N: what is wrong"; on
 * success *ret_count is the number of records.  A torn last line is an
 * error here ("line N: torn (no final newline)"). */
int audit_verify_fd(int fd, uint64_t *ret_count, char **ret_error);
/* The same, calling cb for each good line with its record and the SHA-256
 * of its bytes (hex); a non-zero return from cb stops and is returned. */
typedef int (*audit_line_cb)(json_t *record, const char sha256[65], void *userdata);
int audit_verify_fd_lines(int fd, audit_line_cb cb, void *userdata, uint64_t *ret_count, char **ret_error);
