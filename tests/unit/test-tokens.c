/* test-tokens.c - gate/tokens.c: the token store rebuilt from audit
 * records (enrol, revoke, spent OTPs, locks), the high-water mark of a
 * device (it survives revocation and re-enrolment, and refuses a spent
 * counter that is not above it), lockout counting, the JSON of `token
 * list`, and the key files (write, read, remove, and the checks on read).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "tokens.h"
#include "util.h"

#define PID1 "vvccccbhbkfe"
#define PID2 "cccjgjgkhcbb"

/* A record as the monitor writes it, from text (what replay sees). */
static json_t *rec(const char *event, const char *time, const char *details)
{
	char buf[1024];
	json_error_t err;
	json_t *r;

	snprintf(buf, sizeof(buf),
		 "{\"seq\":7,\"time\":\"%s\",\"event\":\"%s\",\"transfer\":null,"
		 "\"actor\":{\"account\":\"dg-admin\",\"uid\":1007,\"person\":\"dg-admin\"},\"details\":%s}",
		 time, event, details ? details : "{}");
	r = json_loads(buf, JSON_ALLOW_NUL, &err);
	if (!r)
		diag("bad test record: %s: %s", err.text, buf);
	return r;
}

static int apply_at(struct token_table *t, const char *event, const char *time, const char *details)
{
	json_t *r = rec(event, time, details);
	int k = r ? tokens_apply(t, r) : -EINVAL;

	json_decref(r);
	return k;
}

static int apply(struct token_table *t, const char *event, const char *details)
{
	return apply_at(t, event, "2026-11-28T16:15:20Z", details);
}

/* A record by ACTOR (the account that made the request). */
static int apply_by(struct token_table *t, const char *event, const char *actor, const char *details)
{
	char buf[1024];
	json_error_t err;
	json_t *r;
	int k;

	snprintf(buf, sizeof(buf),
		 "{\"seq\":8,\"time\":\"2026-11-28T16:15:21Z\",\"event\":\"%s\",\"transfer\":null,"
		 "\"actor\":{\"account\":\"%s\",\"uid\":1002,\"person\":\"%s\"},\"details\":%s}",
		 event, actor, actor, details);
	r = json_loads(buf, 0, &err);
	k = r ? tokens_apply(t, r) : -EINVAL;
	json_decref(r);
	return k;
}

/* ACCOUNT's request OP was refused with CODE. */
static int failed(struct token_table *t, const char *account, const char *op, const char *code)
{
	char d[256];

	snprintf(d, sizeof(d), "{\"op\":\"%s\",\"code\":\"%s\",\"error\":\"x\"}", op, code);
	return apply_by(t, "request_refused", account, d);
}

static int enrol(struct token_table *t, const char *pid, const char *account)
{
	char d[256];

	snprintf(d, sizeof(d), "{\"public_id\":\"%s\",\"account\":\"%s\",\"person\":\"%s\",\"by\":\"dg-admin\"}", pid,
		 account, account);
	return apply(t, "token_enrolled", d);
}

static int spend(struct token_table *t, const char *pid, int counter, int use)
{
	char d[256];

	snprintf(d, sizeof(d),
		 "{\"public_id\":\"%s\",\"counter\":%d,\"use\":%d,\"account\":\"dg-bob\",\"purpose\":\"approve\"}",
		 pid, counter, use);
	return apply(t, "otp_spent", d);
}

/* The mark of pid as "counter use", or "none". */
static const char *mark(struct token_table *t, const char *pid)
{
	static char buf[32];
	uint16_t c;
	uint8_t u;

	if (!tokens_mark(t, pid, &c, &u))
		return "none";
	snprintf(buf, sizeof(buf), "%u %u", c, u);
	return buf;
}

static void test_enrol_revoke(void)
{
	struct token_table t = { 0 };
	const struct token *x;

	ok(apply(&t, "submitted", "{\"whatever\":1}") == 0 && apply(&t, "gate_started", NULL) == 0 && t.n == 0,
	   "records not about tokens are ignored");
	ok(enrol(&t, PID1, "dg-bob") == 0, "token_enrolled accepted");
	x = tokens_active(&t, PID1);
	ok(x && strcmp(x->account, "dg-bob") == 0 && strcmp(x->person, "dg-bob") == 0 &&
		   strcmp(x->enrolled_by, "dg-admin") == 0 && x->active && x->revoked == 0,
	   "the token is active with its account, person and enroller");
	ok(tokens_active(&t, PID2) == NULL, "another public id is not active");
	ok(enrol(&t, PID1, "dg-carol") == -EBADMSG && t.n == 1 && strcmp(tokens_active(&t, PID1)->account, "dg-bob") == 0,
	   "refuses to enrol an active public id again (table unchanged)");
	ok(apply(&t, "token_enrolled", "{\"public_id\":\"" PID2 "\",\"account\":\"dg-bob\",\"by\":\"dg-admin\"}") == -EBADMSG,
	   "refuses token_enrolled without a person");
	ok(apply(&t, "token_enrolled",
		 "{\"public_id\":\"vvccccbhbkfa\",\"account\":\"dg-bob\",\"person\":\"b\",\"by\":\"dg-admin\"}") == -EBADMSG,
	   "refuses token_enrolled with a public id that is not modhex");
	ok(apply(&t, "token_enrolled",
		 "{\"public_id\":\"" PID2 "\",\"account\":\"\",\"person\":\"b\",\"by\":\"dg-admin\"}") == -EBADMSG,
	   "refuses token_enrolled with an empty account");
	ok(apply(&t, "token_enrolled",
		 "{\"public_id\":\"" PID2 "\",\"account\":\"dg-b\\u0000ob\",\"person\":\"b\",\"by\":\"dg-admin\"}") == -EBADMSG,
	   "refuses token_enrolled with a NUL in the account");
	ok(t.n == 1, "none of those added a token");

	ok(apply(&t, "token_revoked", "{\"public_id\":\"" PID1 "\"}") == -EBADMSG && tokens_active(&t, PID1),
	   "refuses token_revoked without by");
	ok(apply_at(&t, "token_revoked", "2026-11-28T17:00:00Z", "{\"public_id\":\"" PID1 "\",\"by\":\"dg-admin\"}") == 0,
	   "token_revoked accepted");
	ok(tokens_active(&t, PID1) == NULL && t.n == 1 && !t.v[0].active && t.v[0].revoked > t.v[0].enrolled,
	   "the token is no longer active, with its revocation time");
	ok(apply(&t, "token_revoked", "{\"public_id\":\"" PID1 "\",\"by\":\"dg-admin\"}") == -EBADMSG,
	   "refuses to revoke an inactive token");
	ok(apply(&t, "token_revoked", "{\"public_id\":\"" PID2 "\",\"by\":\"dg-admin\"}") == -EBADMSG,
	   "refuses to revoke an unknown token");
	ok(enrol(&t, PID1, "dg-carol") == 0 && t.n == 2 && strcmp(tokens_active(&t, PID1)->account, "dg-carol") == 0,
	   "a revoked public id may be enrolled again (for another account)");

	ok(apply_at(&t, "token_revoked", "yesterday", "{\"public_id\":\"" PID1 "\",\"by\":\"dg-admin\"}") == -EBADMSG,
	   "refuses a token record with a bad time");
	ok(apply(&t, "token_revoked", NULL) == -EBADMSG, "refuses a token record without details");
	json_t *r = rec("token_revoked", "2026-11-28T16:15:20Z", "{\"public_id\":\"" PID1 "\",\"by\":\"dg-admin\"}");
	json_object_del(r, "event");
	ok(tokens_apply(&t, r) == -EBADMSG && tokens_active(&t, PID1), "refuses a record without an event");
	json_decref(r);
	tokens_free(&t);
	ok(t.n == 0 && t.v == NULL && t.marks == NULL && t.locks == NULL, "tokens_free empties the table");
}

static void test_marks(void)
{
	struct token_table t = { 0 };

	enrol(&t, PID1, "dg-bob");
	ok(strcmp(mark(&t, PID1), "none") == 0, "no mark before an OTP was spent");
	ok(spend(&t, PID1, 3, 5) == 0 && strcmp(mark(&t, PID1), "3 5") == 0, "otp_spent sets the mark (3, 5)");
	ok(spend(&t, PID1, 3, 5) == -EBADMSG && strcmp(mark(&t, PID1), "3 5") == 0,
	   "refuses the same counter and use again (mark unchanged)");
	ok(spend(&t, PID1, 3, 4) == -EBADMSG && strcmp(mark(&t, PID1), "3 5") == 0, "refuses a lower use");
	ok(spend(&t, PID1, 2, 200) == -EBADMSG && strcmp(mark(&t, PID1), "3 5") == 0,
	   "refuses a lower counter with a higher use");
	ok(spend(&t, PID1, 3, 6) == 0 && strcmp(mark(&t, PID1), "3 6") == 0, "accepts the next use");
	ok(spend(&t, PID1, 4, 0) == 0 && strcmp(mark(&t, PID1), "4 0") == 0, "accepts a higher counter, use 0");
	ok(spend(&t, PID1, 4 | OTP_CAPS_LOCK, 1) == -EBADMSG && strcmp(mark(&t, PID1), "4 0") == 0,
	   "refuses a counter with the caps-lock bit (the monitor masks it)");
	ok(spend(&t, PID1, 5, 256) == -EBADMSG && spend(&t, PID1, -1, 0) == -EBADMSG &&
		   strcmp(mark(&t, PID1), "4 0") == 0,
	   "refuses a use above 255 and a negative counter");
	ok(apply(&t, "otp_spent", "{\"public_id\":\"" PID1 "\",\"counter\":9,\"use\":0,\"account\":\"dg-bob\"}") ==
		   -EBADMSG,
	   "refuses otp_spent without a purpose");
	ok(apply(&t, "otp_spent",
		 "{\"public_id\":\"" PID1 "\",\"counter\":\"9\",\"use\":0,\"account\":\"dg-bob\",\"purpose\":\"approve\"}") ==
		   -EBADMSG,
	   "refuses a counter given as a string");

	/* The mark is the device's: revocation and re-enrolment keep it. */
	ok(apply(&t, "token_revoked", "{\"public_id\":\"" PID1 "\",\"by\":\"dg-admin\"}") == 0 &&
		   strcmp(mark(&t, PID1), "4 0") == 0,
	   "the mark survives revocation");
	ok(enrol(&t, PID1, "dg-bob") == 0 && strcmp(mark(&t, PID1), "4 0") == 0, "and re-enrolment");
	ok(spend(&t, PID1, 1, 0) == -EBADMSG && spend(&t, PID1, 4, 0) == -EBADMSG,
	   "after re-enrolment a counter not above the old mark is refused");
	ok(spend(&t, PID1, 4, 1) == 0 && strcmp(mark(&t, PID1), "4 1") == 0, "one above it is accepted");

	ok(spend(&t, PID2, 1, 0) == 0 && strcmp(mark(&t, PID2), "1 0") == 0 && strcmp(mark(&t, PID1), "4 1") == 0,
	   "each device has its own mark (also a device that was never enrolled)");
	tokens_free(&t);
}

static void test_locks(void)
{
	struct token_table t = { 0 };
	time_t until = 0, at;

	ok(!tokens_locked(&t, "dg-bob", time(NULL), NULL), "nobody is locked at first");
	ok(failed(&t, "dg-bob", "approve", "bad_otp") == 0 && tokens_failures(&t, "dg-bob") == 1 &&
		   failed(&t, "dg-bob", "approve", "replayed") == 0 && tokens_failures(&t, "dg-bob") == 2,
	   "refused OTPs count 1, 2 from the log");
	ok(failed(&t, "dg-carol", "token_enroll", "unknown_token") == 0 && tokens_failures(&t, "dg-carol") == 1 &&
		   tokens_failures(&t, "dg-bob") == 2,
	   "each account counts on its own (enrolment OTPs too)");
	ok(failed(&t, "dg-bob", "approve", "self_approval") == 0 &&
		   failed(&t, "dg-bob", "token_revoke", "unknown_token") == 0 && tokens_failures(&t, "dg-bob") == 2,
	   "refusals that are not failed OTPs do not count (policy; a revoke of an unknown id)");
	ok(apply_by(&t, "approval", "dg-bob", "{}") == 0 && tokens_failures(&t, "dg-bob") == 0,
	   "an approval by the account resets its count");
	ok(failed(&t, "dg-dave", "approve", "not_token_owner") == 0 && tokens_failures(&t, "dg-dave") == 1 &&
		   apply_by(&t, "approval", "dg-erin", "{}") == 0 && tokens_failures(&t, "dg-dave") == 1,
	   "another account's approval does not reset it");
	ok(failed(&t, "dg-bob", "approve", "bad_otp") == 0 && failed(&t, "dg-bob", "approve", "bad_otp") == 0 &&
		   failed(&t, "dg-bob", "approve", "bad_otp") == 0 && tokens_failures(&t, "dg-bob") == 3,
	   "bob: 3");
	ok(!tokens_locked(&t, "dg-bob", time(NULL), NULL), "counting alone does not lock (the record does)");

	ok(parse_time("2026-11-28T16:20:00Z", &at) == 0, "setup: a time");
	ok(apply(&t, "account_locked", "{\"account\":\"dg-bob\",\"until\":\"2026-11-28T16:20:00Z\",\"failures\":3}") == 0,
	   "account_locked accepted");
	ok(tokens_locked(&t, "dg-bob", at - 1, &until) && until == at, "locked before until (and says until when)");
	ok(!tokens_locked(&t, "dg-bob", at, NULL) && !tokens_locked(&t, "dg-bob", at + 100, NULL),
	   "not locked at until and after");
	ok(!tokens_locked(&t, "dg-carol", at - 1, NULL), "another account is not locked");
	ok(tokens_failures(&t, "dg-bob") == 0, "the lock reset bob's count");
	ok(failed(&t, "dg-carol", "approve", "bad_otp") == 0 && tokens_failures(&t, "dg-carol") == 2,
	   "carol's count goes on");
	ok(apply(&t, "account_locked", "{\"account\":\"dg-carol\",\"until\":\"2026-11-28T16:20:00Z\",\"failures\":0}") ==
		   -EBADMSG &&
		   apply(&t, "account_locked", "{\"account\":\"dg-carol\",\"until\":\"soon\",\"failures\":3}") == -EBADMSG &&
		   apply(&t, "account_locked", "{\"until\":\"2026-11-28T16:20:00Z\",\"failures\":3}") == -EBADMSG,
	   "refuses account_locked with 0 failures, a bad until, no account");
	ok(!tokens_locked(&t, "dg-carol", at - 1, NULL), "none of those locked carol");
	tokens_free(&t);
}

static void test_json(void)
{
	struct token_table t = { 0 };
	json_t *a;
	char *s;

	enrol(&t, PID1, "dg-bob");
	spend(&t, PID1, 2, 7);
	apply(&t, "token_revoked", "{\"public_id\":\"" PID1 "\",\"by\":\"dg-admin\"}");
	enrol(&t, PID2, "dg-carol");

	a = tokens_to_json(&t, NULL);
	s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ok(s && strcmp(s, "[{\"public_id\":\"" PID1 "\",\"account\":\"dg-bob\",\"person\":\"dg-bob\",\"active\":false,"
			  "\"enrolled\":\"2026-11-28T16:15:20Z\",\"enrolled_by\":\"dg-admin\","
			  "\"revoked\":\"2026-11-28T16:15:20Z\",\"hw_counter\":2,\"hw_use\":7},"
			  "{\"public_id\":\"" PID2 "\",\"account\":\"dg-carol\",\"person\":\"dg-carol\",\"active\":true,"
			  "\"enrolled\":\"2026-11-28T16:15:20Z\",\"enrolled_by\":\"dg-admin\","
			  "\"revoked\":null,\"hw_counter\":null,\"hw_use\":null}]") == 0,
	   "tokens_to_json: every enrolment, its state and mark, no secret: %s", s ? s : "(null)");
	free(s);
	json_decref(a);
	a = tokens_to_json(&t, "dg-carol");
	ok(json_array_size(a) == 1 && strcmp(json_string_value(json_object_get(json_array_get(a, 0), "public_id")), PID2) == 0,
	   "tokens_to_json for one account: its own only");
	json_decref(a);
	a = tokens_to_json(&t, "dg-mallory");
	ok(a && json_array_size(a) == 0, "an account without tokens gets an empty array");
	json_decref(a);
	tokens_free(&t);
}

static void test_key_files(void)
{
	char dir[64], path[128];
	uint8_t key[OTP_AES_KEY_SIZE], priv[OTP_PRIVATE_ID_SIZE], k2[OTP_AES_KEY_SIZE], p2[OTP_PRIVATE_ID_SIZE];
	struct stat st;
	int dfd;

	snprintf(dir, sizeof(dir), "/tmp/test-tokens.XXXXXX");
	if (!mkdtemp(dir) || (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (void)ok(0, "mkdtemp: %m");
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < sizeof(priv); i++)
		priv[i] = (uint8_t)(0x10 + i);

	ok(tokens_key_read(dfd, PID1, k2, p2) == -ENOENT, "reading a missing key file: -ENOENT");
	ok(tokens_key_write(dfd, PID1, key, priv) == 0, "tokens_key_write");
	snprintf(path, sizeof(path), "%s/%s", dir, PID1);
	ok(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0400 && st.st_uid == geteuid() &&
		   st.st_size == TOKEN_KEY_FILE_SIZE,
	   "the key file: regular, mode 0400, ours, %d bytes", TOKEN_KEY_FILE_SIZE);
	snprintf(path, sizeof(path), "%s/%s.tmp", dir, PID1);
	ok(access(path, F_OK) < 0 && errno == ENOENT, "no temporary file is left");
	memset(k2, 0, sizeof(k2));
	memset(p2, 0, sizeof(p2));
	ok(tokens_key_read(dfd, PID1, k2, p2) == 0 && memcmp(k2, key, sizeof(key)) == 0 &&
		   memcmp(p2, priv, sizeof(priv)) == 0,
	   "tokens_key_read gives the key and private id back");
	key[0] ^= 0xff;
	ok(tokens_key_write(dfd, PID1, key, priv) == 0 && tokens_key_read(dfd, PID1, k2, p2) == 0 && k2[0] == key[0],
	   "writing again replaces the file");

	snprintf(path, sizeof(path), "%s/%s", dir, PID1);
	ok(chmod(path, 0440) == 0 && tokens_key_read(dfd, PID1, k2, p2) == -EBADMSG,
	   "refuses a key file readable by the group");
	ok(chmod(path, 0404) == 0 && tokens_key_read(dfd, PID1, k2, p2) == -EBADMSG,
	   "refuses a key file readable by others");
	if (geteuid() == 0) {
		ok(chmod(path, 0400) == 0 && chown(path, 65534, 65534) == 0 &&
			   tokens_key_read(dfd, PID1, k2, p2) == -EBADMSG,
		   "refuses a key file owned by another user");
		ok(chown(path, 0, 0) == 0, "setup: owned by root again");
	} else {
		ok(1, "# SKIP not root: cannot give the key file away");
		ok(1, "# SKIP not root");
	}
	ok(chmod(path, 0600) == 0 && truncate(path, TOKEN_KEY_FILE_SIZE - 1) == 0 && chmod(path, 0400) == 0 &&
		   tokens_key_read(dfd, PID1, k2, p2) == -EBADMSG,
	   "refuses a key file one byte short");
	ok(chmod(path, 0600) == 0 && truncate(path, TOKEN_KEY_FILE_SIZE + 1) == 0 && chmod(path, 0400) == 0 &&
		   tokens_key_read(dfd, PID1, k2, p2) == -EBADMSG,
	   "refuses a key file one byte long");

	ok(tokens_key_write(dfd, PID2, key, priv) == 0 && unlinkat(dfd, PID1, 0) == 0 &&
		   symlinkat(PID2, dfd, PID1) == 0 && tokens_key_read(dfd, PID1, k2, p2) == -ELOOP,
	   "refuses a symlink as a key file");
	ok(unlinkat(dfd, PID1, 0) == 0 && mkdirat(dfd, PID1, 0700) == 0 && tokens_key_read(dfd, PID1, k2, p2) == -EBADMSG,
	   "refuses a directory as a key file");
	ok(unlinkat(dfd, PID1, AT_REMOVEDIR) == 0, "setup: directory removed");

	ok(tokens_key_write(dfd, "../escape1234", key, priv) == -EINVAL &&
		   tokens_key_read(dfd, "../escape1234", k2, p2) == -EINVAL &&
		   tokens_key_remove(dfd, "../escape1234") == -EINVAL,
	   "refuses a name that is not a public id");
	ok(tokens_key_remove(dfd, PID2) == 0 && tokens_key_read(dfd, PID2, k2, p2) == -ENOENT,
	   "tokens_key_remove removes the file");
	ok(tokens_key_remove(dfd, PID2) == 0, "removing a missing key file is not an error");

	explicit_bzero(key, sizeof(key));
	explicit_bzero(k2, sizeof(k2));
	close(dfd);
	ok(rmdir(dir) == 0, "the directory is empty at the end");
}

int main(void)
{
	test_enrol_revoke();
	test_marks();
	test_locks();
	test_json();
	test_key_files();
	return tap_done();
}
