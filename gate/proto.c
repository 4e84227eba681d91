/* proto.c - strict codec for client requests (see proto.h).
 *
 * Trust boundary: proto_req_decode() runs in the session process on bytes
 * that come straight from an untrusted client.  It accepts exactly one JSON
 * object with exactly the keys of its op, every value of the right type and
 * within its limit, and refuses everything else with a static error string
 * (no client bytes are ever echoed back).  The encoder is used by the CLI
 * and produces the same canonical form, so a round trip is the identity.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const char *const op_names[] = {
	[OP_SUBMIT] = "submit", [OP_LIST] = "list",	[OP_SHOW] = "show",
	[OP_WAIT] = "wait",	[OP_WITHDRAW] = "withdraw", [OP_AUDIT] = "audit",
	[OP_STATUS] = "status",
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
	memset(r, 0, sizeof(*r));
}

/* ---- the key table: which key each op takes, its type and its messages. */

enum key_id { K_PROFILE, K_REASON, K_NAME, K_STDIN, K_STATE, K_ID, K_TIMEOUT, _K_MAX };

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

	if (k == K_STDIN) {
		if (!json_is_boolean(v))
			goto wrong_type;
		r->from_stdin = json_is_true(v);
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
	case OP_AUDIT:
	case OP_STATUS:
		break;
	}

	s = json_dumps(o, JSON_COMPACT);
	if (!s) {
		rc = -ENOMEM;
		goto out;
	}
	if (strlen(s) > PROTO_MAX_FRAME - 1) {
		free(s);
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
