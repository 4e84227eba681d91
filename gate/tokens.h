/* tokens.h - the token store: enrolled YubiKeys, their high-water marks
 * and account lockouts.
 *
 * What is known about tokens is rebuilt from the audit log like the
 * transfer table (tokens_apply() takes every record):
 *   token_enrolled [public_id, account, person, by]   a token becomes active
 *   token_revoked  [public_id, by]                    it stops being active
 *   otp_spent      [public_id, counter, use, account, purpose]
 *                                                     raises the device's
 *                                                     high-water mark
 *   account_locked [account, until, failures]         the account may not
 *                                                     use OTPs until then
 *   request_refused (failed-OTP codes), approval      the account's count
 *                                                     of failures in a row
 * The high-water mark belongs to the device (its public id), not to one
 * enrolment: it survives restart, revocation and re-enrolment.
 *
 * The secrets of a token (AES key, private id) are never in the log and
 * never in this table: each lives in STATE/tokens/<public_id> (22 bytes,
 * mode 0400, root), read by tokens_key_read() for one validation only;
 * the caller wipes the buffer right after (explicit_bzero).
 *
 * Failed OTP attempts are counted per account from the log; reaching the
 * configured number produces an account_locked record (the caller writes
 * it).  Nothing here logs or writes the audit log.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "otp.h"

#define TOKENS_DIR "tokens"
#define TOKEN_KEY_FILE_SIZE (OTP_AES_KEY_SIZE + OTP_PRIVATE_ID_SIZE)

struct token {
	char public_id[OTP_PUBLIC_ID_LEN + 1];
	char *account, *person, *enrolled_by;
	time_t enrolled, revoked;
	bool active;
};

struct device_mark {
	char public_id[OTP_PUBLIC_ID_LEN + 1];
	uint16_t counter; /* masked */
	uint8_t use;
};

struct account_lock {
	char *account;
	unsigned failures; /* in a row, since the last success or lock */
	time_t until;      /* locked while now < until */
};

struct token_table {
	struct token *v; /* every enrolment, newest last; at most one active per public id */
	size_t n;
	struct device_mark *marks;
	size_t nmarks;
	struct account_lock *locks;
	size_t nlocks;
};

/* Apply one audit record (any event; those not about tokens are ignored).
 * -EBADMSG when a token record does not fit (enrolling an active public
 * id, revoking an inactive one, a counter not above the mark, a bad
 * field). */
int tokens_apply(struct token_table *t, json_t *record);
void tokens_free(struct token_table *t);

/* The active token with this public id, or NULL. */
const struct token *tokens_active(const struct token_table *t, const char *public_id);
/* The device's high-water mark; false when it never spent an OTP. */
bool tokens_mark(const struct token_table *t, const char *public_id, uint16_t *ret_counter, uint8_t *ret_use);

/* Lockout.  tokens_locked: true while account is locked at now (until in
 * *ret_until).  tokens_failures: the failed OTPs the account typed in a
 * row, counted from the log (request_refused records of op approve or
 * token_enroll whose code tokens_failure_code() names, by that actor; an approval or token
 * enrolment the account completed, or a lock, starts it again). */
bool tokens_locked(const struct token_table *t, const char *account, time_t now, time_t *ret_until);
unsigned tokens_failures(const struct token_table *t, const char *account);
/* The request_refused codes that are failed OTPs. */
bool tokens_failure_code(const char *code);

/* JSON array for `token list`: every enrolment (account == NULL) or one
 * account's.  Never a secret. */
json_t *tokens_to_json(const struct token_table *t, const char *account);

/* Key files beneath dirfd (STATE/tokens).  write: 0400, written under a
 * temporary name, fsync'd, renamed over any old file of that public id,
 * directory fsync'd.  read: exactly TOKEN_KEY_FILE_SIZE bytes of a
 * regular root-owned 0400 file; -ENOENT, -EBADMSG otherwise.  The caller
 * wipes what it passed or got. */
int tokens_key_write(int dirfd, const char *public_id, const uint8_t key[static OTP_AES_KEY_SIZE],
		     const uint8_t private_id[static OTP_PRIVATE_ID_SIZE]);
int tokens_key_read(int dirfd, const char *public_id, uint8_t ret_key[static OTP_AES_KEY_SIZE],
		    uint8_t ret_private_id[static OTP_PRIVATE_ID_SIZE]);
int tokens_key_remove(int dirfd, const char *public_id);
/* At start: remove every file of dirfd that is not the key of an active
 * token (revoked tokens whose removal failed, temporary files of an
 * enrolment that died).  *ret_removed says how many went. */
int tokens_sweep(int dirfd, const struct token_table *t, unsigned *ret_removed);
