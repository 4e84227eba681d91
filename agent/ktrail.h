/* ktrail.h - the gate's records in the kernel audit trail, as auditd
 * wrote them, checked against the gate's own log (`audit verify
 * --kernel-trail FILE`).
 *
 * With kernel_audit = required the gate sends every record to the kernel
 * before it writes it: "op=dumpgate seq=N event=E transfer=T
 * line_sha256=H prev=P data=…".  Root on the gate host can rewrite the
 * gate's log with a consistent hash chain; it cannot take back what auditd
 * already shipped elsewhere.  So every line of the log from the first one
 * the trail holds must be in the trail, by the SHA-256 of its bytes, and
 * the trail may hold no other branch of the chain: nothing chained after
 * the log's last line, no branch after any line (a log cut and the gate
 * restarted), no other log of the same gate (its first line names the
 * same signing key).  The one branch a working gate makes is a record it
 * mirrored but could not write (a failed write, a torn line): a single
 * record, with the seq of the line that took its place, which nothing
 * follows; those are counted, not errors.  Root can also send records to
 * the kernel: two different records for one line are refused; records
 * added after the log's end cannot be told from the gate's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kentry {
	uint64_t seq;
	char event[33];
	char sha[65];  /* SHA-256 of the line */
	char prev[65]; /* of the line before it */
	char key[65];  /* a first line (seq 1, gate_started): the gate's
	                * signing_key_sha256 from its data, else "" */
};

struct ktrail {
	struct kentry *v; /* sorted by sha once indexed */
	size_t n, cap;
	const struct kentry **by_prev; /* sorted by prev */
	uint64_t malformed;            /* op=dumpgate records that did not parse */
	uint64_t conflicts;            /* lines with two different records */
	struct kentry conflict;        /* the first of them */
};

/* One line of an auditd log (without its newline): 1 when it is a record
 * of ours, added; 0 another line; -EBADMSG ours but malformed (counted in
 * malformed); -ENOMEM. */
int ktrail_add_line(struct ktrail *k, const char *line, size_t len);
/* Add the gate's records found in the auditd log at path.  -errno with
 * *ret_error on a file that cannot be read. */
int ktrail_load(struct ktrail *k, const char *path, char **ret_error);
/* Sort for the lookups below; after the last load. */
int ktrail_index(struct ktrail *k);
void ktrail_free(struct ktrail *k);

struct kcheck {
	const struct ktrail *k;
	uint64_t lines;           /* lines of the log seen */
	uint64_t found;           /* of them in the trail */
	uint64_t first_found;     /* line number of the first found, 0 if none */
	uint64_t missing;         /* lines after first_found not in the trail */
	uint64_t miss_line, miss_seq; /* the first of them */
	char miss_event[33];
	bool miss_replaced;       /* the trail has another record in its place */
	uint64_t unwritten;       /* mirrored records the log does not have (failed writes) */
	uint64_t forks;           /* other branches of the chain in the trail */
	uint64_t fork_line;       /* the first: the line it branches before */
	uint64_t fork_len;        /* its records */
	struct kentry fork;       /* its first record */
	char key[65];             /* line 1's signing_key_sha256, "" if none */
	char first_sha[65];       /* line 1's hash */
	char prev_sha[65];        /* hash of the line before */
	bool prev_found;
};

void kcheck_init(struct kcheck *c, const struct ktrail *k);
/* One line of the log, in order: its seq, event and SHA-256, and for a
 * first line (gate_started) the signing_key_sha256 it names, else NULL. */
void kcheck_line(struct kcheck *c, uint64_t seq, const char *event, const char sha[65], const char *key);
/* After the last line: how many records the trail chains after it, and
 * the first of them (NULL when none). */
uint64_t kcheck_beyond(const struct kcheck *c, const struct kentry **ret_first);
/* After the last line: other logs in the trail (chains from seq 1 but the
 * log's own): *ret_same of them name the log's signing key (a replaced
 * log of this gate), the rest are other gates'.  *ret_first: the first
 * of the same key. */
void kcheck_other_logs(const struct kcheck *c, uint64_t *ret_same, uint64_t *ret_other, const struct kentry **ret_first);
