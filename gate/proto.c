/* proto.c - strict codec for client requests (see proto.h).
 *
 * Trust boundary: proto_req_decode() runs in the session process on bytes
 * that come straight from an untrusted client.  It accepts exactly one JSON
 * object with exactly the keys of its op, every value of the right type and
 * within its limit, and refuses everything else with a static error string
 * (no client bytes are ever echoed back).  The encoder is used by the CLI
 * and produces the same canonical form, so a round trip is the identity.
 *
 * Secrets: an "aes_key" is decoded straight into the 16-byte array of
 * struct proto_req and an "otp" copied into a string that
 * proto_req_clear() wipes; the encoder wipes its hex copy of the key.
 * jansson's own copies are wiped only in processes that called
 * proto_wipe_json_frees().
 */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"

static const char *const op_names[] = {
	[OP_SUBMIT] = "submit",
	[OP_LIST] = "list",
	[OP_SHOW] = "show",
	[OP_WAIT] = "wait",
	[OP_WITHDRAW] = "withdraw",
	[OP_AUDIT] = "audit",
	[OP_STATUS] = "status",
	[OP_APPROVE] = "approve",
	[OP_DENY] = "deny",
	[OP_TOKEN_ENROLL] = "token_enroll",
	[OP_TOKEN_CONFIRM] = "token_confirm",
	[OP_TOKEN_LIST] = "token_list",
	[OP_TOKEN_REVOKE] = "token_revoke",
};

const char *proto_op_name(enum proto_op op)
{
	if ((size_t)op < sizeof(op_names) / sizeof(op_names[0]) && op_names[op])
		return op_names[op];
	return "unknown";
}

int proto_op_from_name(const char *s, enum proto_op *ret)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (op_names[i] && strcmp(op_names[i], s) == 0) {
			*ret = (enum proto_op)i;
			return 0;
		}
	return -EINVAL;
}

void proto_req_clear(struct proto_req *r)
{
	if (!r)
		return;
	free(r->profile);
	free(r->reason);
	free(r->name);
	free(r->state);
	free(r->id);
	free(r->sha256);
	if (r->otp)
		secure_free(r->otp, strlen(r->otp));
	free(r->user);
	free(r->public_id);
	explicit_bzero(r, sizeof(*r)); /* the AES key with it */
}

/* jansson's free for processes that handle secrets (proto.h). */
static void wipe_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

void proto_wipe_json_frees(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}

/* ---- the key table: which key each op takes, its type and its messages. */

enum key_id {
	K_PROFILE,
	K_REASON,
	K_NAME,
	K_STDIN,
	K_STATE,
	K_ID,
	K_TIMEOUT,
	K_SHA256,
	K_OTP,
	K_INTERACTIVE,
	K_USER,
	K_PUBLIC_ID,
	K_AES_KEY,
	_K_MAX
};

#define KB(k) (1u << (k))

struct key_spec {
	const char *name;
	const char *missing; /* "missing key \"...\"" */
	const char *wrong_type;
};

static const struct key_spec keys[_K_MAX] = {
	[K_PROFILE] = { "profile", "missing key \"profile\"", "\"profile\" is not a string" },
	[K_REASON] = { "reason", "missing key \"reason\"", "\"reason\" is not a string" },
	[K_NAME] = { "name", "missing key \"name\"", "\"name\" is not a string" },
	[K_STDIN] = { "stdin", "missing key \"stdin\"", "\"stdin\" is not a boolean" },
	[K_STATE] = { "state", "missing key \"state\"", "\"state\" is not a string" },
	[K_ID] = { "id", "missing key \"id\"", "\"id\" is not a string" },
	[K_TIMEOUT] = { "timeout", "missing key \"timeout\"", "\"timeout\" is not an integer" },
	[K_SHA256] = { "sha256", "missing key \"sha256\"", "\"sha256\" is not a string" },
	[K_OTP] = { "otp", "missing key \"otp\"", "\"otp\" is not a string" },
	[K_INTERACTIVE] = { "interactive", "missing key \"interactive\"", "\"interactive\" is not a boolean" },
	[K_USER] = { "user", "missing key \"user\"", "\"user\" is not a string" },
	[K_PUBLIC_ID] = { "public_id", "missing key \"public_id\"", "\"public_id\" is not a string" },
	[K_AES_KEY] = { "aes_key", "missing key \"aes_key\"", "\"aes_key\" is not a string" },
};

struct op_spec {
	unsigned required, optional;
};

static const struct op_spec ops[] = {
	[OP_SUBMIT] = { KB(K_PROFILE) | KB(K_REASON) | KB(K_NAME) | KB(K_STDIN), 0 },
	[OP_LIST] = { 0, KB(K_STATE) },
	[OP_SHOW] = { KB(K_ID), 0 },
	[OP_WAIT] = { KB(K_ID) | KB(K_TIMEOUT), 0 },
	[OP_WITHDRAW] = { KB(K_ID), 0 },
	[OP_AUDIT] = { 0, 0 },
	[OP_STATUS] = { 0, 0 },
	[OP_APPROVE] = { KB(K_ID) | KB(K_SHA256) | KB(K_OTP) | KB(K_INTERACTIVE), 0 },
	[OP_DENY] = { KB(K_ID) | KB(K_REASON), 0 },
	[OP_TOKEN_ENROLL] = { KB(K_USER), KB(K_PUBLIC_ID) | KB(K_AES_KEY) },
	[OP_TOKEN_CONFIRM] = { KB(K_OTP), 0 },
	[OP_TOKEN_LIST] = { 0, 0 },
	[OP_TOKEN_REVOKE] = { KB(K_PUBLIC_ID), 0 },
};

static int key_lookup(const char *name)
{
	for (int k = 0; k < _K_MAX; k++)
		if (strcmp(keys[k].name, name) == 0)
			return k;
	return -1;
}

static bool profile_valid(const char *s, size_t n)
{
	if (n == 0 || n > PROTO_MAX_PROFILE)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '-')))
			return false;
	}
	return true;
}

static bool id_valid(const char *s, size_t n)
{
	if (n != PROTO_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* An account name as useradd takes it: [a-z_][a-z0-9_.-]*$? (the '$' of
 * a machine account only at the end). */
static bool user_valid(const char *s, size_t n)
{
	if (n == 0 || n > PROTO_MAX_ACCOUNT)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || c == '_' ||
			  (i > 0 && ((c >= '0' && c <= '9') || c == '.' || c == '-')) ||
			  (i > 0 && i == n - 1 && c == '$');
		if (!ok)
			return false;
	}
	return true;
}

bool proto_account_valid(const char *s)
{
	return s && user_valid(s, strlen(s));
}

bool proto_public_id_valid(const char *s)
{
	if (!s || strnlen(s, PROTO_PUBLIC_ID_LEN + 1) != PROTO_PUBLIC_ID_LEN)
		return false;
	for (size_t i = 0; i < PROTO_PUBLIC_ID_LEN; i++)
		if (!s[i] || !strchr("cbdefghijklnrtuv", s[i]))
			return false;
	return true;
}

static bool state_valid(const char *s, size_t n)
{
	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return false;
	return true;
}

/* Check one present value; on success a string value is copied to *ret_str. */
static int check_value(int k, json_t *v, struct proto_req *r, const char **ret_error)
{
	const char *s = NULL;
	size_t n = 0;

	if (k == K_STDIN || k == K_INTERACTIVE) {
		if (!json_is_boolean(v))
			goto wrong_type;
		*(k == K_STDIN ? &r->from_stdin : &r->interactive) = json_is_true(v);
		return 0;
	}
	if (k == K_TIMEOUT) {
		if (!json_is_integer(v))
			goto wrong_type;
		json_int_t t = json_integer_value(v);
		if (t < 0 || t > PROTO_MAX_WAIT) {
			*ret_error = "timeout out of range";
			return -EBADMSG;
		}
		r->timeout = (uint32_t)t;
		return 0;
	}

	if (!json_is_string(v))
		goto wrong_type;
	s = json_string_value(v);
	n = json_string_length(v);
	/* jansson refuses \u0000 without JSON_ALLOW_NUL; check anyway. */
	if (strlen(s) != n) {
		*ret_error = "NUL inside string";
		return -EBADMSG;
	}

	char **dst = NULL;
	switch (k) {
	case K_PROFILE:
		if (n > PROTO_MAX_PROFILE) {
			*ret_error = "profile too long";
			return -EBADMSG;
		}
		if (!profile_valid(s, n)) {
			*ret_error = "bad profile name";
			return -EBADMSG;
		}
		dst = &r->profile;
		break;
	case K_REASON:
		if (n == 0) {
			*ret_error = "reason is empty";
			return -EBADMSG;
		}
		if (n > PROTO_MAX_REASON) {
			*ret_error = "reason too long";
			return -EBADMSG;
		}
		dst = &r->reason;
		break;
	case K_NAME:
		if (n == 0) {
			*ret_error = "name is empty";
			return -EBADMSG;
		}
		if (n > PROTO_MAX_NAME) {
			*ret_error = "name too long";
			return -EBADMSG;
		}
		dst = &r->name;
		break;
	case K_STATE:
		if (!state_valid(s, n)) {
			*ret_error = "bad state";
			return -EBADMSG;
		}
		dst = &r->state;
		break;
	case K_ID:
		if (!id_valid(s, n)) {
			*ret_error = "bad id";
			return -EBADMSG;
		}
		dst = &r->id;
		break;
	case K_SHA256:
		if (n != PROTO_SHA256_HEX || !is_hex(s, n)) {
			*ret_error = "bad sha256";
			return -EBADMSG;
		}
		dst = &r->sha256;
		break;
	case K_OTP:
		/* Only the size: what an OTP looks like is the monitor's
		 * business (it answers "bad_otp" to anything else). */
		if (n == 0) {
			*ret_error = "otp is empty";
			return -EBADMSG;
		}
		if (n > PROTO_MAX_OTP) {
			*ret_error = "otp too long";
			return -EBADMSG;
		}
		dst = &r->otp;
		break;
	case K_USER:
		if (n > PROTO_MAX_ACCOUNT) {
			*ret_error = "user too long";
			return -EBADMSG;
		}
		if (!user_valid(s, n)) {
			*ret_error = "bad user name";
			return -EBADMSG;
		}
		dst = &r->user;
		break;
	case K_PUBLIC_ID:
		if (!proto_public_id_valid(s)) {
			*ret_error = "bad public id";
			return -EBADMSG;
		}
		dst = &r->public_id;
		break;
	case K_AES_KEY:
		/* Straight into the fixed array: no string copy to wipe. */
		if (n != 2 * PROTO_AES_KEY_SIZE || !is_hex(s, n) ||
		    hex_decode(s, r->aes_key, PROTO_AES_KEY_SIZE) < 0) {
			*ret_error = "bad AES key";
			return -EBADMSG;
		}
		r->has_key = true;
		return 0;
	default:
		*ret_error = "unknown key";
		return -EBADMSG;
	}
	*dst = strdup(s);
	if (!*dst)
		return -ENOMEM;
	return 0;

wrong_type:
	*ret_error = keys[k].wrong_type;
	return -EBADMSG;
}

static const char *json_error_text(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_duplicate_key:
		return "duplicate key";
	case json_error_end_of_input_expected:
		return "trailing data after the request";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "NUL inside string";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "truncated JSON";
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "JSON nested too deeply";
	case json_error_numeric_overflow:
		return "number out of range";
	default:
		return "malformed JSON";
	}
}

static int decode_object(json_t *o, struct proto_req *r, const char **ret_error)
{
	json_t *v, *opv;
	const char *key;
	unsigned seen = 0;
	int k, rc;

	if (!json_is_object(o)) {
		*ret_error = "request is not a JSON object";
		return -EBADMSG;
	}

	v = json_object_get(o, "v");
	if (!v) {
		*ret_error = "missing key \"v\"";
		return -EBADMSG;
	}
	if (!json_is_integer(v)) {
		*ret_error = "\"v\" is not an integer";
		return -EBADMSG;
	}
	if (json_integer_value(v) != PROTO_VERSION) {
		*ret_error = "unsupported protocol version";
		return -EBADMSG;
	}

	opv = json_object_get(o, "op");
	if (!opv) {
		*ret_error = "missing key \"op\"";
		return -EBADMSG;
	}
	if (!json_is_string(opv)) {
		*ret_error = "\"op\" is not a string";
		return -EBADMSG;
	}
	if (strlen(json_string_value(opv)) != json_string_length(opv) ||
	    proto_op_from_name(json_string_value(opv), &r->op) < 0) {
		*ret_error = "unknown op";
		return -EBADMSG;
	}
	const struct op_spec *spec = &ops[r->op];

	json_object_foreach(o, key, v) {
		if (strcmp(key, "v") == 0 || strcmp(key, "op") == 0)
			continue;
		/* Keys are NUL-free here (no JSON_ALLOW_NUL), so strcmp is exact. */
		k = key_lookup(key);
		if (k < 0 || !((spec->required | spec->optional) & KB(k))) {
			*ret_error = "unknown key";
			return -EBADMSG;
		}
		rc = check_value(k, v, r, ret_error);
		if (rc < 0)
			return rc;
		seen |= KB(k);
	}

	for (k = 0; k < _K_MAX; k++)
		if ((spec->required & KB(k)) && !(seen & KB(k))) {
			*ret_error = keys[k].missing;
			return -EBADMSG;
		}
	return 0;
}

int proto_req_decode(const uint8_t *buf, size_t len, struct proto_req *ret,
		     const char **ret_error)
{
	struct proto_req r = { 0 };
	const char *error = NULL;
	json_error_t jerr;
	json_t *o;
	int rc;

	if (!buf || !ret) {
		rc = -EINVAL;
		error = "internal error";
		goto out;
	}
	if (len > PROTO_MAX_FRAME - 1) {
		rc = -EBADMSG;
		error = "request too large";
		goto out;
	}
	if (len == 0) {
		rc = -EBADMSG;
		error = "empty request";
		goto out;
	}

	/* JSON_DECODE_ANY only so that a scalar gets the same "not an object"
	 * answer as an array; trailing data is refused by default. */
	o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!o) {
		rc = json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EBADMSG;
		error = json_error_text(&jerr);
		goto out;
	}
	rc = decode_object(o, &r, &error);
	json_decref(o);
	if (rc == -ENOMEM)
		error = "out of memory";
	else if (rc < 0)
		rc = -EBADMSG;
out:
	if (rc < 0) {
		proto_req_clear(&r);
		if (ret_error)
			*ret_error = error ? error : "malformed request";
		return rc;
	}
	*ret = r;
	explicit_bzero(&r, sizeof(r)); /* an AES key lives on in *ret only */
	return 0;
}

/* Add a string; invalid UTF-8 is -EILSEQ, a missing value -EINVAL. */
static int put_str(json_t *o, const char *key, const char *s)
{
	json_t *v;

	if (!s)
		return -EINVAL;
	v = json_string(s);
	if (!v)
		return -EILSEQ;
	if (json_object_set_new(o, key, v) < 0)
		return -ENOMEM;
	return 0;
}

static int put_new(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v) < 0)
		return -ENOMEM;
	return 0;
}

int proto_req_encode(const struct proto_req *r, char **ret_json)
{
	json_t *o = NULL;
	char *s = NULL;
	int rc;

	if (!r || !ret_json || (size_t)r->op >= sizeof(ops) / sizeof(ops[0]) ||
	    r->op < OP_SUBMIT)
		return -EINVAL;

	o = json_object();
	if (!o)
		return -ENOMEM;
	/* Canonical order: v, op, then the op's keys in the order of proto.h. */
	rc = put_new(o, "v", json_integer(PROTO_VERSION));
	if (rc == 0)
		rc = put_str(o, "op", proto_op_name(r->op));
	if (rc < 0)
		goto out;

	switch (r->op) {
	case OP_SUBMIT:
		if ((rc = put_str(o, "profile", r->profile)) < 0 ||
		    (rc = put_str(o, "reason", r->reason)) < 0 ||
		    (rc = put_str(o, "name", r->name)) < 0 ||
		    (rc = put_new(o, "stdin", json_boolean(r->from_stdin))) < 0)
			goto out;
		break;
	case OP_LIST:
		if (r->state && (rc = put_str(o, "state", r->state)) < 0)
			goto out;
		break;
	case OP_SHOW:
	case OP_WITHDRAW:
		if ((rc = put_str(o, "id", r->id)) < 0)
			goto out;
		break;
	case OP_WAIT:
		if ((rc = put_str(o, "id", r->id)) < 0 ||
		    (rc = put_new(o, "timeout", json_integer(r->timeout))) < 0)
			goto out;
		break;
	case OP_APPROVE:
		if ((rc = put_str(o, "id", r->id)) < 0 || (rc = put_str(o, "sha256", r->sha256)) < 0 ||
		    (rc = put_str(o, "otp", r->otp)) < 0 ||
		    (rc = put_new(o, "interactive", json_boolean(r->interactive))) < 0)
			goto out;
		break;
	case OP_DENY:
		if ((rc = put_str(o, "id", r->id)) < 0 || (rc = put_str(o, "reason", r->reason)) < 0)
			goto out;
		break;
	case OP_TOKEN_ENROLL:
		if ((rc = put_str(o, "user", r->user)) < 0 ||
		    (r->public_id && (rc = put_str(o, "public_id", r->public_id)) < 0))
			goto out;
		if (r->has_key) {
			char hex[2 * PROTO_AES_KEY_SIZE + 1];

			hex_encode(r->aes_key, PROTO_AES_KEY_SIZE, hex);
			rc = put_str(o, "aes_key", hex);
			explicit_bzero(hex, sizeof(hex));
			if (rc < 0)
				goto out;
		}
		break;
	case OP_TOKEN_CONFIRM:
		if ((rc = put_str(o, "otp", r->otp)) < 0)
			goto out;
		break;
	case OP_TOKEN_REVOKE:
		if ((rc = put_str(o, "public_id", r->public_id)) < 0)
			goto out;
		break;
	case OP_AUDIT:
	case OP_STATUS:
	case OP_TOKEN_LIST:
		break;
	}

	s = json_dumps(o, JSON_COMPACT);
	if (!s) {
		rc = -ENOMEM;
		goto out;
	}
	if (strlen(s) > PROTO_MAX_FRAME - 1) {
		secure_free(s, strlen(s));
		rc = -EMSGSIZE;
		goto out;
	}
	*ret_json = s;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int proto_commit_decode(const uint8_t *buf, size_t len, uint64_t *ret_bytes, const char **ret_error)
{
	json_error_t jerr;
	json_t *o, *b;
	const char *error = NULL;
	int rc = 0;

	if (len == 0 || len > 64) {
		if (ret_error)
			*ret_error = "bad commit frame";
		return -EBADMSG;
	}
	o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		error = json_error_text(&jerr);
	else if (!json_is_object(o) || json_object_size(o) != 1 || !(b = json_object_get(o, "bytes")) ||
		 !json_is_integer(b) || json_integer_value(b) < 0)
		error = "commit must be {\"bytes\":N}";
	else
		*ret_bytes = (uint64_t)json_integer_value(b);
	json_decref(o);
	if (error) {
		rc = -EBADMSG;
		if (ret_error)
			*ret_error = error;
	}
	return rc;
}

int proto_commit_encode(uint64_t bytes, char **ret_json)
{
	char *s;

	if (bytes > INT64_MAX)
		return -ERANGE;
	if (asprintf(&s, "{\"bytes\":%llu}", (unsigned long long)bytes) < 0)
		return -ENOMEM;
	*ret_json = s;
	return 0;
}
