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
 * nothing may be chained after the log's last line.  Records the gate
 * mirrored but could not write (a failed write: the next line takes their
 * place) are counted, not errors.
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
};

struct ktrail {
	struct kentry *v; /* sorted by sha once indexed */
	size_t n, cap;
	const struct kentry **by_prev; /* sorted by prev */
	uint64_t malformed;            /* op=dumpgate records that did not parse */
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
	char prev_sha[65];        /* hash of the line before */
	bool prev_found;
};

void kcheck_init(struct kcheck *c, const struct ktrail *k);
/* One line of the log, in order: its seq, event and SHA-256. */
void kcheck_line(struct kcheck *c, uint64_t seq, const char *event, const char sha[65]);
/* After the last line: how many records the trail chains after it, and
 * the first of them (NULL when none). */
uint64_t kcheck_beyond(const struct kcheck *c, const struct kentry **ret_first);
