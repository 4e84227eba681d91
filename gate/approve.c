/* approve.c - approvals with YubiKey OTPs (I3), deny, expiry, and the
 * token store's requests (enrol, confirm, list, revoke).
 *
 * Every OTP goes through check_otp(): 44 modhex characters, one active
 * token (or the enrolment's key), AES + CRC + private id, and (counter,
 * use) strictly above the device's high-water mark.  An OTP that decrypts
 * validly is spent at once (an otp_spent record, before anything else is
 * decided).  Every failure counts against the account that typed it, and
 * otp_max_failures in a row lock that account (never the token: its public
 * id is known to anyone who saw one OTP).
 *
 * Token secrets: the AES key and private id are read from STATE/tokens for
 * one decryption and wiped right after; a generated enrolment key lives in
 * the child's enrolment until it is confirmed or the session ends, and is
 * wiped then.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "otp.h"
#include "proto.h"
#include "releaserun.h"
#include "requests.h"
#include "scanrun.h"
#include "tokens.h"
#include "util.h"

#define OTP_MAX_INPUT 64 /* bytes of an OTP as the session may send it */

struct enrolment {
	char *account;                                  /* whose token */
	char public_id[OTP_PUBLIC_ID_LEN + 1];          /* "" = learn from the proof OTP */
	uint8_t key[OTP_AES_KEY_SIZE];
	bool generated;
};

void enrolment_free(struct enrolment *e)
{
	if (!e)
		return;
	free(e->account);
	explicit_bzero(e, sizeof(*e));
	free(e);
}

static void wipe_str(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
	}
}
#define _cleanup_wipe_ _cleanup_(wipe_str)

/* ---- OTP checks */

struct otp_ok {
	char public_id[OTP_PUBLIC_ID_LEN + 1];
	uint16_t counter;
	uint8_t use;
	uint8_t private_id[OTP_PRIVATE_ID_SIZE]; /* learnt at enrolment; wiped by the caller */
};

/* An OTP was refused: audit it, count it against the account, lock the
 * account when that was one too many, and answer the child. */
__attribute__((format(printf, 6, 7))) static void otp_refused(struct monitor *m, struct child *c, const char *op,
							       const char *id, const char *code, const char *fmt, ...)
{
	char why[700], full[900];
	unsigned n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* the refusal record is what counts it (tokens_apply) */
	n = tokens_failures(&m->tokens, c->account) + 1;
	snprintf(full, sizeof(full), "%s (failed OTP %u of %u for account %s)", why, n, m->cfg->otp_max_failures,
		 c->account);
	requests_record_refusal(m, c, op, id, code, full, NULL);
	n = tokens_failures(&m->tokens, c->account);
	if (n >= m->cfg->otp_max_failures) {
		char until[32];
		format_time(time(NULL) + (time_t)m->cfg->otp_lockout, until);
		json_t *d = json_pack("{s:s, s:s, s:i}", "account", c->account, "until", until, "failures",
				      (int)(n > 1000000 ? 1000000 : n));
		struct audit_actor a = child_actor(c);
		if (monitor_record(m, "account_locked", NULL, &a, d) == 0)
			log_warn("account %s locked until %s after %u failed OTPs", c->account, until, n);
		json_decref(d);
		snprintf(full + strlen(full), sizeof(full) - strlen(full), "; account %s is now locked until %s",
			 c->account, until);
	}
	child_error(m, c, code, "%s", full);
}

/* Refuses (answered, audited) while the account is locked. */
static bool account_locked(struct monitor *m, struct child *c, const char *op, const char *id)
{
	time_t until;
	char when[32];

	if (!tokens_locked(&m->tokens, c->account, time(NULL), &until))
		return false;
	format_time(until, when);
	requests_refuse(m, c, op, id, "locked",
			"account %s is locked until %s after %u failed OTPs (otp_lockout); nothing was checked",
			c->account, when, m->cfg->otp_max_failures);
	return true;
}

/* Check otp and spend it.  key == NULL: the active token of the OTP's
 * public id (its key file); otherwise the enrolment's key and no private
 * id check (the proof OTP teaches it).  On failure the child was answered
 * and -1 is returned. */
static int check_otp(struct monitor *m, struct child *c, const char *op, const char *id, const char *otp,
		     const uint8_t *enrol_key, const char *purpose, struct otp_ok *ret)
{
	char pid[OTP_PUBLIC_ID_LEN + 1], token[OTP_TOKEN_LEN + 1];
	uint8_t key[OTP_AES_KEY_SIZE], priv[OTP_PRIVATE_ID_SIZE];
	struct otp_value v;
	uint16_t hc;
	uint8_t hu;
	int r;

	if (otp_split(otp, pid, token) < 0) {
		otp_refused(m, c, op, id, "bad_otp", "the OTP is not %d modhex characters (cbdefghijklnrtuv); touch the key once", OTP_LEN);
		return -1;
	}
	if (!enrol_key) {
		if (!tokens_active(&m->tokens, pid)) {
			otp_refused(m, c, op, id, "unknown_token", "no enrolled token has public id %s", pid);
			return -1;
		}
		r = tokens_key_read(m->tokens_dirfd, pid, key, priv);
		if (r < 0) {
			explicit_bzero(key, sizeof(key));
			explicit_bzero(priv, sizeof(priv));
			log_err("token %s: cannot read its key file: %s", pid, strerror(-r));
			requests_refuse(m, c, op, id, "token_key", "the key of token %s cannot be read (%s); ask an admin",
					pid, strerror(-r));
			return -1;
		}
		r = otp_decrypt(key, token, priv, &v);
	} else {
		r = otp_decrypt(enrol_key, token, NULL, &v);
	}
	explicit_bzero(key, sizeof(key));
	explicit_bzero(priv, sizeof(priv));
	if (r < 0) {
		explicit_bzero(&v, sizeof(v));
		otp_refused(m, c, op, id, "bad_otp", "the OTP does not decrypt with the key of token %s (mistyped, altered, or from another key)",
			    pid);
		return -1;
	}
	if (tokens_mark(&m->tokens, pid, &hc, &hu) && !otp_newer(v.counter, v.use, hc, hu)) {
		otp_refused(m, c, op, id, "replayed", "this OTP of token %s was already used or is older than one that was (counter %u, use %u; the last used was %u, %u)",
			    pid, v.counter, v.use, hc, hu);
		explicit_bzero(&v, sizeof(v));
		return -1;
	}
	/* Valid and fresh: spent now, whatever is decided next. */
	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:s, s:i, s:i, s:s, s:s}", "public_id", pid, "counter", (int)v.counter, "use",
			      (int)v.use, "account", c->account, "purpose", purpose);
	r = monitor_record(m, "otp_spent", id, &a, d);
	json_decref(d);
	if (r < 0) {
		explicit_bzero(&v, sizeof(v));
		child_error(m, c, "audit", "the audit log cannot be written; nothing was done");
		return -1;
	}
	memcpy(ret->public_id, pid, sizeof(pid));
	ret->counter = v.counter;
	ret->use = v.use;
	memcpy(ret->private_id, v.private_id, sizeof(ret->private_id));
	explicit_bzero(&v, sizeof(v));
	return 0;
}

/* ---- approve */

static size_t approvals_count(const struct transfer *t)
{
	return t->approvals ? json_array_size(t->approvals) : 0;
}

/* Has c's person approved t already?  By the person recorded then, and by
 * what the person map says of each approving account now: a map that
 * changed since must not let one human count twice. */
static bool person_approved(const struct monitor *m, const struct transfer *t, const struct child *c)
{
	size_t i;
	json_t *a;

	json_array_foreach(t->approvals, i, a) {
		const char *person = json_string_value(json_object_get(a, "person"));
		const char *account = json_string_value(json_object_get(a, "account"));
		if ((person && strcmp(person, c->person) == 0) ||
		    (account && (strcmp(account, c->account) == 0 ||
				 strcmp(config_person_of(m->cfg, account), c->person) == 0)))
			return true;
	}
	return false;
}

/* Is c the requester of t, or the same person?  The person recorded at
 * submission, the one the map gives the requester now, the account and
 * the uid: all of them, so that editing the person map cannot turn a
 * requester into an approver of her own transfer. */
static bool is_requester(const struct monitor *m, const struct transfer *t, const struct child *c)
{
	return c->uid == t->uid || strcmp(c->account, t->requester) == 0 || strcmp(c->person, t->person) == 0 ||
	       strcmp(c->person, config_person_of(m->cfg, t->requester)) == 0;
}

/* Safe to serve: the approver is the account the monitor read at accept;
 * the OTP must be valid, fresh and from that account's own token; I3 is
 * checked here and again when the record is applied. */
void req_approve(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	_cleanup_free_ char *id = NULL, *sha = NULL;
	_cleanup_wipe_ char *otp = NULL;
	struct otp_ok ok = { 0 };
	struct transfer *t;
	const struct profile *p;
	uint32_t interactive = 0;
	char token_owner[256];

	if (msg_get_str(mb, PROTO_MAX_ID, &id) < 0 || msg_get_str(mb, 64, &sha) < 0 ||
	    msg_get_str(mb, OTP_MAX_INPUT, &otp) < 0 || msg_get_u32(mb, &interactive) < 0 || msg_end(mb) < 0 ||
	    interactive > 1 || !transfer_id_valid(id)) {
		child_violation(m, c, "malformed approve");
		return;
	}
	t = transfer_find(&m->table, id);
	if (!t || !requests_visible(m, c, t)) {
		requests_refuse(m, c, "approve", id, "not_found", "no transfer %s", id);
		return;
	}
	if (account_locked(m, c, "approve", id))
		return;
	if (check_otp(m, c, "approve", id, otp, NULL, "approve", &ok) < 0)
		return;
	explicit_bzero(ok.private_id, sizeof(ok.private_id));
	const struct token *tok = tokens_active(&m->tokens, ok.public_id);
	snprintf(token_owner, sizeof(token_owner), "%s", tok ? tok->account : "");
	if (strcmp(token_owner, c->account) != 0) {
		otp_refused(m, c, "approve", id, "not_token_owner", "token %s is enrolled for another account, not %s; the OTP is spent",
			    ok.public_id, c->account);
		return;
	}
	t = transfer_find(&m->table, id); /* records were written meanwhile */
	p = t ? config_profile(m->cfg, t->profile) : NULL;
	if (!t || t->state != TS_PENDING) {
		requests_refuse(m, c, "approve", id, "not_pending", "transfer %s is %s, not waiting for approval", id,
				t ? tstate_name(t->state) : "gone");
		return;
	}
	if (time(NULL) >= t->expires) {
		requests_refuse(m, c, "approve", id, "not_pending", "transfer %s expired; it can no longer be approved",
				id);
		return;
	}
	if (!p || !strlist_match_account(&p->approvers, c->account, c->groups, c->ngroups)) {
		requests_refuse(m, c, "approve", id, "not_approver",
				"account %s is not an approver of profile %s", c->account, t->profile);
		return;
	}
	if (is_requester(m, t, c)) {
		requests_refuse(m, c, "approve", id, "self_approval",
				"account %s belongs to person %s, who requested transfer %s; a requester never approves their own transfer",
				c->account, c->person, id);
		return;
	}
	if (person_approved(m, t, c)) {
		requests_refuse(m, c, "approve", id, "same_person",
				"person %s already approved transfer %s; approvals count distinct persons", c->person,
				id);
		return;
	}
	if (!is_hex(sha, 64) || strcmp(sha, t->sha256) != 0) {
		_cleanup_free_ char *e = str_escape(sha, 64);
		requests_refuse(m, c, "approve", id, "hash_mismatch",
				"the sha256 you approved (%s) is not the artifact's (%s); nothing was approved",
				e ? e : "?", t->sha256);
		return;
	}

	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:b}", "account", c->account, "person", c->person, "token",
			      ok.public_id, "sha256", t->sha256, "interactive", (int)interactive);
	int r = monitor_record(m, "approval", id, &a, d);
	json_decref(d);
	if (r < 0) {
		child_error(m, c, "audit", "the audit log cannot be written; the approval was not recorded");
		return;
	}
	t = transfer_find(&m->table, id);
	log_info("transfer %s approved by %s (person %s, token %s): %zu of %u", id, c->account, c->person,
		 ok.public_id, approvals_count(t), t->required);
	child_result(m, c,
		     json_pack("{s:b, s:s, s:s, s:I, s:I}", "ok", 1, "id", id, "state", tstate_name(t->state),
			       "approvals", (json_int_t)approvals_count(t), "required", (json_int_t)t->required));
}

/* ---- deny */

/* Safe to serve: approvers of the profile and admins may end a transfer
 * that is not yet on its way out; no OTP is needed to say no. */
void req_deny(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	_cleanup_free_ char *id = NULL, *reason = NULL;
	const struct profile *p;
	struct transfer *t;

	if (msg_get_str(mb, PROTO_MAX_ID, &id) < 0 || msg_get_str(mb, PROTO_MAX_REASON, &reason) < 0 ||
	    msg_end(mb) < 0 || !transfer_id_valid(id) || !*reason) {
		child_violation(m, c, "malformed deny");
		return;
	}
	if (!requests_utf8(m, c, reason, "deny reason"))
		return;
	t = transfer_find(&m->table, id);
	if (!t || !requests_visible(m, c, t)) {
		requests_refuse(m, c, "deny", id, "not_found", "no transfer %s", id);
		return;
	}
	p = config_profile(m->cfg, t->profile);
	if (!c->is_admin && !(p && strlist_match_account(&p->approvers, c->account, c->groups, c->ngroups))) {
		requests_refuse(m, c, "deny", id, "not_approver",
				"account %s is neither an approver of profile %s nor an admin (the requester may withdraw instead)",
				c->account, t->profile);
		return;
	}
	if (tstate_final(t->state)) {
		requests_refuse(m, c, "deny", id, "final", "transfer %s is already %s", id, tstate_name(t->state));
		return;
	}
	const char *why;
	if (t->state == TS_SUBMITTED) {
		requests_refuse(m, c, "deny", id, "busy", "transfer %s is still uploading; it cannot be denied now", id);
		return;
	}
	if (!releaserun_stoppable(m, t, &why)) {
		requests_refuse(m, c, "deny", id, "busy", "transfer %s %s; it cannot be denied now", id, why);
		return;
	}
	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:s, s:s, s:s}", "reason", reason, "account", c->account, "person", c->person);
	int r = monitor_record(m, "denied", id, &a, d);
	json_decref(d);
	if (r < 0) {
		child_error(m, c, "audit", "the audit log cannot be written; transfer %s was not denied", id);
		return;
	}
	scanrun_cancel(m, id);
	log_info("transfer %s denied by %s", id, c->account);
	child_result(m, c, json_pack("{s:b, s:s, s:s}", "ok", 1, "id", id, "state", "denied"));
}

/* ---- time */

void approve_tick(struct monitor *m, time_t now)
{
	for (size_t i = 0; i < m->table.n; i++) {
		struct transfer *t = m->table.v[i];
		char id[33];
		json_t *d = NULL;
		const char *event = NULL;

		memcpy(id, t->id, sizeof(id));
		if (t->state == TS_CLEAN) {
			const struct profile *p = config_profile(m->cfg, t->profile);
			char until[32];
			if (!p) {
				d = json_pack("{s:s}", "reason", "its profile no longer exists");
				event = "failed";
			} else {
				format_time(now + (time_t)p->expiry, until);
				d = json_pack("{s:i, s:s}", "required", (int)p->approvals, "expires", until);
				event = "pending";
			}
		} else if (t->state == TS_PENDING && now >= t->expires) {
			d = json_pack("{s:s}", "reason", "not approved before it expired (the profile's expiry)");
			event = "expired";
		}
		if (!event)
			continue;
		if (monitor_record(m, event, id, NULL, d) == 0)
			log_info("transfer %s %s", id,
				 strcmp(event, "pending") == 0 ? "waits for approval" : event);
		json_decref(d);
	}
}

/* ---- tokens */

static bool account_exists(const char *account)
{
	char buf[4096];
	struct passwd pw, *res = NULL;

	return getpwnam_r(account, &pw, buf, sizeof(buf), &res) == 0 && res;
}

/* Safe to serve: admins only; the key (when given) came from the admin's
 * file through the session, and lives here only until the proof OTP. */
void req_token_enroll(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	_cleanup_free_ char *account = NULL, *pid = NULL;
	const uint8_t *key = NULL;
	size_t keylen = 0;
	uint32_t has_key = 0;
	struct enrolment *e;

	if (msg_get_str(mb, 64, &account) < 0 || msg_get_str(mb, OTP_PUBLIC_ID_LEN, &pid) < 0 ||
	    msg_get_u32(mb, &has_key) < 0 || msg_get_rest(mb, &key, &keylen) < 0 || msg_end(mb) < 0 ||
	    has_key > 1 || keylen != OTP_AES_KEY_SIZE || !proto_account_valid(account) ||
	    (*pid && !otp_public_id_valid(pid))) {
		child_violation(m, c, "malformed token enroll");
		return;
	}
	/* no key: sixteen zeros, nothing else */
	uint8_t any = 0;
	for (size_t i = 0; !has_key && i < keylen; i++)
		any |= key[i];
	if (any) {
		child_violation(m, c, "token enroll without a key carried key bytes");
		return;
	}
	if (!c->is_admin) {
		requests_refuse(m, c, "token_enroll", NULL, "not_admin", "enrolling tokens needs membership in %s",
				m->cfg->admins_group);
		return;
	}
	if (account_locked(m, c, "token_enroll", NULL))
		return;
	if (!account_exists(account)) {
		_cleanup_free_ char *esc = str_escape(account, 64);
		requests_refuse(m, c, "token_enroll", NULL, "no_such_account", "no account named \"%s\" on this host",
				esc ? esc : "?");
		return;
	}
	if (*pid && tokens_active(&m->tokens, pid)) {
		requests_refuse(m, c, "token_enroll", NULL, "token_active",
				"token %s is already enrolled for %s; revoke it first", pid,
				tokens_active(&m->tokens, pid)->account);
		return;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->account = strdup(account))) {
		enrolment_free(e);
		child_error(m, c, "internal", "out of memory");
		return;
	}
	memcpy(e->public_id, pid, strlen(pid) + 1);
	if (has_key) {
		memcpy(e->key, key, OTP_AES_KEY_SIZE);
	} else {
		uint8_t raw[5];
		e->generated = true;
		if (random_bytes(e->key, sizeof(e->key)) < 0 || (!*pid && random_bytes(raw, sizeof(raw)) < 0)) {
			enrolment_free(e);
			child_error(m, c, "internal", "no randomness for a new key");
			return;
		}
		if (!*pid) {
			/* "vv" marks a public id chosen by its owner, not by Yubico */
			memcpy(e->public_id, "vv", 2);
			otp_modhex_encode(raw, sizeof(raw), e->public_id + 2);
		}
	}
	/* An auditor sees every key the gate generated and showed, confirmed
	 * or not. */
	struct audit_actor aa = child_actor(c);
	json_t *rd = json_pack("{s:s, s:s, s:s, s:b}", "account", account, "public_id",
			       *e->public_id ? e->public_id : "(from the proof OTP)", "by", c->account, "generated_key",
			       (int)e->generated);
	int rr = monitor_record(m, "token_enrolment_started", NULL, &aa, rd);
	json_decref(rd);
	if (rr < 0) {
		enrolment_free(e);
		child_error(m, c, "audit", "the audit log cannot be written; nothing was enrolled");
		return;
	}
	enrolment_free(c->enrol);
	c->enrol = e;
	log_info("token enrolment for %s started by %s (%s key)", account, c->account,
		 e->generated ? "generated" : "given");

	/* The answer is built here, not through jansson, so that a generated
	 * key has no copy left behind in freed memory. */
	char text[400], hex[2 * OTP_AES_KEY_SIZE + 1];
	json_t *js = json_string(account);
	_cleanup_free_ char *acc = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
	json_decref(js);
	if (!acc) {
		child_error(m, c, "internal", "out of memory");
		return;
	}
	hex_encode(e->key, sizeof(e->key), hex);
	int n = snprintf(text, sizeof(text), "{\"ok\":true,\"account\":%s,\"public_id\":%s%s%s%s%s%s}", acc,
		 *e->public_id ? "\"" : "null",
		 e->public_id, *e->public_id ? "\"" : "", e->generated ? ",\"aes_key\":\"" : "",
		 e->generated ? hex : "", e->generated ? "\"" : "");
	explicit_bzero(hex, sizeof(hex));
	if (n < 0 || (size_t)n >= sizeof(text)) {
		explicit_bzero(text, sizeof(text));
		child_error(m, c, "internal", "the answer does not fit");
		return;
	}
	child_result_text(m, c, text);
	explicit_bzero(text, sizeof(text));
}

/* Safe to serve: only the session that started the enrolment (its admin)
 * confirms it, with one valid OTP from the token (proof of possession). */
void req_token_confirm(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	_cleanup_wipe_ char *otp = NULL;
	struct enrolment *e = c->enrol;
	struct otp_ok ok = { 0 };
	char pid[OTP_PUBLIC_ID_LEN + 1], token[OTP_TOKEN_LEN + 1];
	int r;

	if (msg_get_str(mb, OTP_MAX_INPUT, &otp) < 0 || msg_end(mb) < 0) {
		child_violation(m, c, "malformed token confirm");
		return;
	}
	if (!e) {
		requests_refuse(m, c, "token_enroll", NULL, "no_enrolment",
				"no token enrolment is waiting on this connection");
		return;
	}
	if (account_locked(m, c, "token_enroll", NULL))
		return;
	if (otp_split(otp, pid, token) == 0) {
		if (*e->public_id && strcmp(pid, e->public_id) != 0) {
			otp_refused(m, c, "token_enroll", NULL, "bad_otp", "the OTP comes from token %s, not from %s being enrolled", pid,
				    e->public_id);
			return;
		}
		if (tokens_active(&m->tokens, pid)) {
			requests_refuse(m, c, "token_enroll", NULL, "token_active",
					"token %s is already enrolled for %s; revoke it first", pid,
					tokens_active(&m->tokens, pid)->account);
			return;
		}
	}
	if (check_otp(m, c, "token_enroll", NULL, otp, e->key, "enroll", &ok) < 0)
		return;
	r = tokens_key_write(m->tokens_dirfd, ok.public_id, e->key, ok.private_id);
	explicit_bzero(ok.private_id, sizeof(ok.private_id));
	if (r < 0) {
		log_err("token %s: cannot write its key file: %s", ok.public_id, strerror(-r));
		child_error(m, c, "internal", "cannot store the token's key: %s; nothing was enrolled", strerror(-r));
		return;
	}
	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:b}", "public_id", ok.public_id, "account", e->account,
			      "person", config_person_of(m->cfg, e->account), "by", c->account, "generated_key",
			      (int)e->generated);
	r = monitor_record(m, "token_enrolled", NULL, &a, d);
	json_decref(d);
	if (r < 0) {
		tokens_key_remove(m->tokens_dirfd, ok.public_id);
		child_error(m, c, "audit", "the audit log cannot be written; nothing was enrolled");
		return;
	}
	log_info("token %s enrolled for %s by %s", ok.public_id, e->account, c->account);
	json_t *res = json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "account", e->account, "public_id", ok.public_id,
				"state", "active");
	enrolment_free(TAKE_PTR(c->enrol));
	child_result(m, c, res);
}

/* Safe to serve: no secrets in the list; admins and auditors see every
 * token, others their own. */
void req_token_list(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	if (msg_end(mb) < 0) {
		child_violation(m, c, "malformed token list");
		return;
	}
	requests_send_array(m, c, tokens_to_json(&m->tokens, c->is_admin || c->is_auditor ? NULL : c->account));
}

/* Safe to serve: admins only.  The record comes first, then the key file
 * goes; its device's high-water mark stays. */
void req_token_revoke(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	_cleanup_free_ char *pid = NULL;
	int r;

	if (msg_get_str(mb, OTP_PUBLIC_ID_LEN, &pid) < 0 || msg_end(mb) < 0 || !otp_public_id_valid(pid)) {
		child_violation(m, c, "malformed token revoke");
		return;
	}
	if (!c->is_admin) {
		requests_refuse(m, c, "token_revoke", NULL, "not_admin", "revoking tokens needs membership in %s",
				m->cfg->admins_group);
		return;
	}
	if (!tokens_active(&m->tokens, pid)) {
		requests_refuse(m, c, "token_revoke", NULL, "unknown_token", "no enrolled token has public id %s", pid);
		return;
	}
	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:s, s:s}", "public_id", pid, "by", c->account);
	r = monitor_record(m, "token_revoked", NULL, &a, d);
	json_decref(d);
	if (r < 0) {
		child_error(m, c, "audit", "the audit log cannot be written; token %s was not revoked", pid);
		return;
	}
	r = tokens_key_remove(m->tokens_dirfd, pid);
	if (r < 0)
		log_err("token %s revoked, but its key file could not be removed: %s", pid, strerror(-r));
	log_info("token %s revoked by %s", pid, c->account);
	child_result(m, c, json_pack("{s:b, s:s, s:s}", "ok", 1, "public_id", pid, "state", "revoked"));
}
