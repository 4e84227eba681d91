/* transfer.h - the transfer table, rebuilt from the audit log.
 *
 * The table changes only through transfer_apply(), which takes one audit
 * record.  The monitor appends a record and then applies it; start-up
 * replays every record through the same function, so the state after a
 * restart is the state before it by construction (I4).
 *
 * Events understood here (details keys in brackets):
 *   gate_started          {}
 *   submitted  [profile, reason, name, requester, uid, person, from_stdin]
 *   stored     [size, sha256, type]           submitted -> stored
 *   aborted    [reason, intent_seq]           cancels a submitted intent:
 *                                             the transfer disappears
 *   withdrawn  [reason]                       any non-final but approved and
 *                                             releasing (unless its release
 *                                             waits: release_postponed)
 *                                             -> withdrawn
 *   purged     [reason]                       artifact deleted, record stays
 *   scan_started [passes]                     stored|scanning -> scanning
 *   scanned    [verdict clean|blocked, findings[], passes{}]
 *                                             scanning -> clean | blocked
 *   failed     [reason]                       any non-final after stored -> failed
 *   pending    [required, expires]            clean -> pending (approval)
 *   approval   [account, person, token, sha256, interactive]
 *                                             pending -> pending, or approved
 *                                             once `required` distinct persons
 *                                             approved (never the requester's)
 *   denied     [reason, account, person]      like withdrawn -> denied
 *   expired    [reason]                       pending -> expired
 *   releasing  [destination, file, manifest]  approved -> releasing; the
 *                                             manifest (without the keys
 *                                             release_build adds) is kept so
 *                                             a restart rebuilds the same
 *                                             bytes
 *   release_postponed [reason]                releasing -> releasing: the
 *                                             outbox is full; the release is
 *                                             tried again (release_retry)
 *   released   [path, file, manifest_sha256]  releasing -> released
 *   torn_tail_quarantined, protocol_violation, request_refused,
 *   gate_stopped, config_loaded, token_enrolment_started, token_enrolled,
 *   token_revoked, otp_spent, account_locked,
 *   account_throttled                         (no transfer state)
 * An event this build does not know stops the gate at start (a newer log).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "filetype.h"

enum tstate {
	TS_SUBMITTED = 0,
	TS_STORED,
	TS_SCANNING,
	TS_CLEAN,
	TS_BLOCKED,
	TS_PENDING,
	TS_APPROVED,
	TS_DENIED,
	TS_EXPIRED,
	TS_WITHDRAWN,
	TS_RELEASING,
	TS_RELEASED,
	TS_FAILED,
	_TS_MAX,
};

struct transfer {
	char id[33];
	enum tstate state;
	char *profile, *reason, *name, *requester, *person;
	uid_t uid;
	bool from_stdin;
	uint64_t size;
	char sha256[65]; /* "" until stored */
	enum ftype type;
	time_t submitted, updated, final_time;
	uint64_t submit_seq; /* seq of the submitted record */
	uint64_t last_seq;   /* seq of the last record about it */
	bool purged;         /* spool object deleted by retention */
	char *final_reason;  /* why withdrawn/failed/..., may be NULL */
	json_t *findings;    /* array from the `scanned` record, NULL before */
	uint64_t findings_total; /* all findings (findings keeps the first 200) */
	unsigned required;   /* persons who must approve; 0 before pending */
	time_t expires;      /* end of the approval wait; 0 before pending */
	json_t *approvals;   /* array of {person, account, token, time, sha256} */
	json_t *release;     /* {path, file, manifest_sha256} once released */
	/* from the `releasing` record (NULL before): where and what exactly */
	char *release_dest, *release_file;
	json_t *release_manifest;
	char *release_waiting; /* why the release waits (release_postponed), NULL otherwise */
	/* in memory only, not from the log: a postponed release is not tried
	 * again before this (a restart tries at once) */
	time_t release_retry_at;
};

struct transfer_table {
	struct transfer **v; /* in submission order */
	size_t n, cap;
};

const char *tstate_name(enum tstate s);
int tstate_from_name(const char *s, enum tstate *ret);
bool tstate_final(enum tstate s);

/* Apply one record.  -EBADMSG if the record does not fit the table (an
 * unknown event, a transition that is not allowed, a missing field): the
 * monitor treats that as a corrupt log. */
int transfer_apply(struct transfer_table *t, json_t *record);

struct transfer *transfer_find(struct transfer_table *t, const char *id);
/* An approved transfer is on its way out and can no longer be withdrawn
 * or denied, unless its release waits for room (release_waiting). */
bool transfer_on_its_way_out(const struct transfer *x);
void transfer_table_free(struct transfer_table *t);

/* The stable JSON form used by `list --json` and `show --json`:
 * {"id","state","profile","requester","person","uid","reason","name",
 *  "size","sha256","type","submitted","updated","final_reason","purged",
 *  "findings", "required", "expires", "approvals", "release",
 *  "release_waiting"}
 * (findings: null until scanned, then the array of findings; required and
 *  expires: null before pending; approvals: [] before the first; release:
 *  null until released; release_waiting: null unless a release in state
 *  releasing waits for room in the outbox, then why)
 * (size/sha256/type null until stored, final_reason null unless final). */
json_t *transfer_to_json(const struct transfer *x);
