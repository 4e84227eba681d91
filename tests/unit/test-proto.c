/* test-proto.c - the client request codec accepts exactly the documented
 * requests and refuses everything else with a message naming the problem. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

#define ELEMENTS(x) (sizeof(x) / sizeof((x)[0]))
#define ID "0123456789abcdef0123456789abcdef"
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define OTP "cccccbcgujhfdhgfhbjhhlntkhhfbenhfgtrkbnftcer"
#define PID "cccccbcgujhf"
#define KEY "000102030405060708090a0b0c0d0e0f"
#define ENROLL "{\"v\":1,\"op\":\"token_enroll\","
#define APPROVE "{\"v\":1,\"op\":\"approve\","

struct acase {
	const char *json;
	enum proto_op op;
	bool canonical; /* proto_req_encode() gives back exactly this text */
};

static const struct acase accepted[] = {
	{ "{\"v\":1,\"op\":\"submit\",\"profile\":\"crashdump\",\"reason\":\"INC-4711\","
	  "\"name\":\"core.1234\",\"stdin\":false}", OP_SUBMIT, true },
	{ "{\"v\":1,\"op\":\"submit\",\"profile\":\"a\",\"reason\":\"x\",\"name\":\"stdin\",\"stdin\":true}",
	  OP_SUBMIT, true },
	{ "{\"stdin\":true,\"name\":\"n\",\"reason\":\"r \\u00e9 \\n\",\"profile\":\"p-1_x\",\"op\":\"submit\",\"v\":1}",
	  OP_SUBMIT, false },
	{ "{\"v\":1,\"op\":\"list\"}", OP_LIST, true },
	{ "{\"v\":1,\"op\":\"list\",\"state\":\"pending\"}", OP_LIST, true },
	{ "{\"v\":1,\"op\":\"show\",\"id\":\"" ID "\"}", OP_SHOW, true },
	{ "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":0}", OP_WAIT, true },
	{ "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":86400}", OP_WAIT, true },
	{ "{\"v\":1,\"op\":\"withdraw\",\"id\":\"" ID "\"}", OP_WITHDRAW, true },
	{ "{\"v\":1,\"op\":\"audit\"}", OP_AUDIT, true },
	{ "{\"v\":1,\"op\":\"status\"}", OP_STATUS, true },
	{ " \n{ \"v\" : 1 , \"op\" : \"status\" }\n ", OP_STATUS, false },
	{ APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\",\"interactive\":true}",
	  OP_APPROVE, true },
	{ APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"x\",\"interactive\":false}",
	  OP_APPROVE, true },
	{ "{\"interactive\":false,\"otp\":\"" OTP "\",\"sha256\":\"" SHA "\",\"id\":\"" ID "\","
	  "\"op\":\"approve\",\"v\":1}", OP_APPROVE, false },
	{ "{\"v\":1,\"op\":\"deny\",\"id\":\"" ID "\",\"reason\":\"core has the TLS key\"}", OP_DENY, true },
	{ ENROLL "\"user\":\"alice\"}", OP_TOKEN_ENROLL, true },
	{ ENROLL "\"user\":\"alice\",\"public_id\":\"" PID "\"}", OP_TOKEN_ENROLL, true },
	{ ENROLL "\"user\":\"alice\",\"aes_key\":\"" KEY "\"}", OP_TOKEN_ENROLL, true },
	{ ENROLL "\"user\":\"_svc.dump-1\",\"public_id\":\"" PID "\",\"aes_key\":\"" KEY "\"}",
	  OP_TOKEN_ENROLL, true },
	{ ENROLL "\"user\":\"host01$\"}", OP_TOKEN_ENROLL, true },
	{ "{\"v\":1,\"op\":\"token_confirm\",\"otp\":\"" OTP "\"}", OP_TOKEN_CONFIRM, true },
	{ "{\"v\":1,\"op\":\"token_list\"}", OP_TOKEN_LIST, true },
	{ "{\"v\":1,\"op\":\"token_revoke\",\"public_id\":\"" PID "\"}", OP_TOKEN_REVOKE, true },
};

struct rcase {
	const char *what;
	const char *json;
	const char *error;
};

static const struct rcase refused[] = {
	{ "v=2", "{\"v\":2,\"op\":\"status\"}", "unsupported protocol version" },
	{ "v=0", "{\"v\":0,\"op\":\"status\"}", "unsupported protocol version" },
	{ "v missing", "{\"op\":\"status\"}", "missing key \"v\"" },
	{ "v as string", "{\"v\":\"1\",\"op\":\"status\"}", "\"v\" is not an integer" },
	{ "v as real", "{\"v\":1.0,\"op\":\"status\"}", "\"v\" is not an integer" },
	{ "v as bool", "{\"v\":true,\"op\":\"status\"}", "\"v\" is not an integer" },
	{ "op missing", "{\"v\":1}", "missing key \"op\"" },
	{ "op not a string", "{\"v\":1,\"op\":3}", "\"op\" is not a string" },
	{ "unknown op", "{\"v\":1,\"op\":\"release\"}", "unknown op" },
	{ "op with a space for the underscore", "{\"v\":1,\"op\":\"token list\"}", "unknown op" },
	{ "op in upper case", "{\"v\":1,\"op\":\"STATUS\"}", "unknown op" },
	{ "op with NUL", "{\"v\":1,\"op\":\"status\\u0000x\"}", "NUL inside string" },
	{ "extra key on status", "{\"v\":1,\"op\":\"status\",\"id\":\"" ID "\"}", "unknown key" },
	{ "extra key on audit", "{\"v\":1,\"op\":\"audit\",\"x\":1}", "unknown key" },
	{ "key of another op", "{\"v\":1,\"op\":\"show\",\"id\":\"" ID "\",\"timeout\":1}", "unknown key" },
	{ "state on show", "{\"v\":1,\"op\":\"show\",\"id\":\"" ID "\",\"state\":\"stored\"}", "unknown key" },
	{ "otp smuggled into submit",
	  "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"r\",\"name\":\"n\",\"stdin\":false,\"otp\":\"x\"}",
	  "unknown key" },
	{ "missing id on show", "{\"v\":1,\"op\":\"show\"}", "missing key \"id\"" },
	{ "missing id on withdraw", "{\"v\":1,\"op\":\"withdraw\"}", "missing key \"id\"" },
	{ "missing timeout", "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\"}", "missing key \"timeout\"" },
	{ "missing id on wait", "{\"v\":1,\"op\":\"wait\",\"timeout\":5}", "missing key \"id\"" },
	{ "missing profile", "{\"v\":1,\"op\":\"submit\",\"reason\":\"r\",\"name\":\"n\",\"stdin\":false}",
	  "missing key \"profile\"" },
	{ "missing reason", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"name\":\"n\",\"stdin\":false}",
	  "missing key \"reason\"" },
	{ "missing name", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"r\",\"stdin\":false}",
	  "missing key \"name\"" },
	{ "missing stdin", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"r\",\"name\":\"n\"}",
	  "missing key \"stdin\"" },
	{ "stdin as int", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"r\",\"name\":\"n\",\"stdin\":0}",
	  "\"stdin\" is not a boolean" },
	{ "stdin as null", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"r\",\"name\":\"n\",\"stdin\":null}",
	  "\"stdin\" is not a boolean" },
	{ "profile as int", "{\"v\":1,\"op\":\"submit\",\"profile\":1,\"reason\":\"r\",\"name\":\"n\",\"stdin\":false}",
	  "\"profile\" is not a string" },
	{ "reason as array", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":[\"r\"],\"name\":\"n\",\"stdin\":false}",
	  "\"reason\" is not a string" },
	{ "name as object", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"r\",\"name\":{},\"stdin\":false}",
	  "\"name\" is not a string" },
	{ "id as int", "{\"v\":1,\"op\":\"show\",\"id\":12}", "\"id\" is not a string" },
	{ "state as null", "{\"v\":1,\"op\":\"list\",\"state\":null}", "\"state\" is not a string" },
	{ "timeout as string", "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":\"5\"}",
	  "\"timeout\" is not an integer" },
	{ "timeout as real", "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":5.0}",
	  "\"timeout\" is not an integer" },
	{ "timeout negative", "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":-1}", "timeout out of range" },
	{ "timeout over a day", "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":86401}", "timeout out of range" },
	{ "timeout overflows", "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":99999999999999999999999}",
	  "number out of range" },
	{ "duplicate key", "{\"v\":1,\"op\":\"show\",\"id\":\"" ID "\",\"id\":\"" ID "\"}", "duplicate key" },
	{ "duplicate v", "{\"v\":1,\"v\":1,\"op\":\"status\"}", "duplicate key" },
	{ "trailing garbage", "{\"v\":1,\"op\":\"status\"}x", "trailing data after the request" },
	{ "two objects", "{\"v\":1,\"op\":\"status\"}{\"v\":1,\"op\":\"status\"}", "trailing data after the request" },
	{ "array", "[{\"v\":1,\"op\":\"status\"}]", "request is not a JSON object" },
	{ "string", "\"status\"", "request is not a JSON object" },
	{ "number", "1", "request is not a JSON object" },
	{ "null", "null", "request is not a JSON object" },
	{ "truncated", "{\"v\":1,\"op\":\"stat", "truncated JSON" },
	{ "not JSON", "v=1&op=status", "malformed JSON" },
	{ "empty", "", "empty request" },
	{ "invalid UTF-8", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"\xff\xfe\",\"name\":\"n\",\"stdin\":false}",
	  "invalid UTF-8" },
	{ "NUL in reason", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"a\\u0000b\",\"name\":\"n\",\"stdin\":false}",
	  "NUL inside string" },
	{ "NUL in key", "{\"v\":1,\"op\":\"status\",\"v\\u0000x\":1}", "NUL inside string" },
	{ "empty reason", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"\",\"name\":\"n\",\"stdin\":false}",
	  "reason is empty" },
	{ "empty name", "{\"v\":1,\"op\":\"submit\",\"profile\":\"p\",\"reason\":\"r\",\"name\":\"\",\"stdin\":false}",
	  "name is empty" },
	{ "profile upper case", "{\"v\":1,\"op\":\"submit\",\"profile\":\"Crash\",\"reason\":\"r\",\"name\":\"n\",\"stdin\":false}",
	  "bad profile name" },
	{ "profile starts with dash", "{\"v\":1,\"op\":\"submit\",\"profile\":\"-x\",\"reason\":\"r\",\"name\":\"n\",\"stdin\":false}",
	  "bad profile name" },
	{ "profile with slash", "{\"v\":1,\"op\":\"submit\",\"profile\":\"../x\",\"reason\":\"r\",\"name\":\"n\",\"stdin\":false}",
	  "bad profile name" },
	{ "profile empty", "{\"v\":1,\"op\":\"submit\",\"profile\":\"\",\"reason\":\"r\",\"name\":\"n\",\"stdin\":false}",
	  "bad profile name" },
	{ "id too short", "{\"v\":1,\"op\":\"show\",\"id\":\"0123456789abcdef\"}", "bad id" },
	{ "id too long", "{\"v\":1,\"op\":\"show\",\"id\":\"" ID "0\"}", "bad id" },
	{ "id upper case", "{\"v\":1,\"op\":\"show\",\"id\":\"0123456789ABCDEF0123456789abcdef\"}", "bad id" },
	{ "id not hex", "{\"v\":1,\"op\":\"show\",\"id\":\"0123456789abcdeg0123456789abcdef\"}", "bad id" },
	{ "id path", "{\"v\":1,\"op\":\"show\",\"id\":\"../../../../../../etc/passwd.....\"}", "bad id" },
	{ "state with digit", "{\"v\":1,\"op\":\"list\",\"state\":\"stored1\"}", "bad state" },
	{ "state empty", "{\"v\":1,\"op\":\"list\",\"state\":\"\"}", "bad state" },
	{ "state too long", "{\"v\":1,\"op\":\"list\",\"state\":\"abcdefghijklmnopq\"}", "bad state" },

	/* approve */
	{ "approve with a reason", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\","
	  "\"interactive\":true,\"reason\":\"r\"}", "unknown key" },
	{ "approve with a second person's otp", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\","
	  "\"interactive\":true,\"otp2\":\"" OTP "\"}", "unknown key" },
	{ "approve without id", APPROVE "\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\",\"interactive\":true}",
	  "missing key \"id\"" },
	{ "approve without sha256", APPROVE "\"id\":\"" ID "\",\"otp\":\"" OTP "\",\"interactive\":true}",
	  "missing key \"sha256\"" },
	{ "approve without otp", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"interactive\":true}",
	  "missing key \"otp\"" },
	{ "approve without interactive", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\"}",
	  "missing key \"interactive\"" },
	{ "approve, interactive as string", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\","
	  "\"interactive\":\"true\"}", "\"interactive\" is not a boolean" },
	{ "approve, interactive as 1", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\","
	  "\"interactive\":1}", "\"interactive\" is not a boolean" },
	{ "approve, otp as number", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":123456,"
	  "\"interactive\":false}", "\"otp\" is not a string" },
	{ "approve, sha256 as null", APPROVE "\"id\":\"" ID "\",\"sha256\":null,\"otp\":\"" OTP "\","
	  "\"interactive\":false}", "\"sha256\" is not a string" },
	{ "approve, bad id", APPROVE "\"id\":\"0123456789abcdef\",\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\","
	  "\"interactive\":false}", "bad id" },
	{ "approve, sha256 of 63", APPROVE "\"id\":\"" ID "\","
	  "\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0\",\"otp\":\"" OTP "\","
	  "\"interactive\":false}", "bad sha256" },
	{ "approve, sha256 of 65", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "0\",\"otp\":\"" OTP "\","
	  "\"interactive\":false}", "bad sha256" },
	{ "approve, short sha256", APPROVE "\"id\":\"" ID "\",\"sha256\":\"9f86d081\",\"otp\":\"" OTP "\","
	  "\"interactive\":false}", "bad sha256" },
	{ "approve, sha256 upper case", APPROVE "\"id\":\"" ID "\","
	  "\"sha256\":\"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\",\"otp\":\"" OTP "\","
	  "\"interactive\":false}", "bad sha256" },
	{ "approve, sha256 not hex", APPROVE "\"id\":\"" ID "\","
	  "\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g\",\"otp\":\"" OTP "\","
	  "\"interactive\":false}", "bad sha256" },
	{ "approve, empty otp", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"\",\"interactive\":false}",
	  "otp is empty" },
	{ "approve, otp of 65 bytes", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\","
	  "\"otp\":\"" OTP "cccccccccccccccccccc!\",\"interactive\":false}", "otp too long" },
	{ "approve, NUL in otp", APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"cc\\u0000cc\","
	  "\"interactive\":false}", "NUL inside string" },

	/* deny */
	{ "deny with an otp", "{\"v\":1,\"op\":\"deny\",\"id\":\"" ID "\",\"reason\":\"r\",\"otp\":\"" OTP "\"}",
	  "unknown key" },
	{ "deny without reason", "{\"v\":1,\"op\":\"deny\",\"id\":\"" ID "\"}", "missing key \"reason\"" },
	{ "deny without id", "{\"v\":1,\"op\":\"deny\",\"reason\":\"r\"}", "missing key \"id\"" },
	{ "deny, reason as number", "{\"v\":1,\"op\":\"deny\",\"id\":\"" ID "\",\"reason\":1}",
	  "\"reason\" is not a string" },
	{ "deny, empty reason", "{\"v\":1,\"op\":\"deny\",\"id\":\"" ID "\",\"reason\":\"\"}", "reason is empty" },
	{ "deny, bad id", "{\"v\":1,\"op\":\"deny\",\"id\":\"../" ID "\",\"reason\":\"r\"}", "bad id" },

	/* token_enroll */
	{ "enroll with account for user", ENROLL "\"account\":\"alice\"}", "unknown key" },
	{ "enroll with an otp", ENROLL "\"user\":\"alice\",\"otp\":\"" OTP "\"}", "unknown key" },
	{ "enroll without user", ENROLL "\"public_id\":\"" PID "\"}", "missing key \"user\"" },
	{ "enroll, user as number", ENROLL "\"user\":1000}", "\"user\" is not a string" },
	{ "enroll, public_id as null", ENROLL "\"user\":\"alice\",\"public_id\":null}",
	  "\"public_id\" is not a string" },
	{ "enroll, aes_key as array", ENROLL "\"user\":\"alice\",\"aes_key\":[\"" KEY "\"]}",
	  "\"aes_key\" is not a string" },
	{ "enroll, aes_key as number", ENROLL "\"user\":\"alice\",\"aes_key\":1}", "\"aes_key\" is not a string" },
	{ "enroll, user upper case", ENROLL "\"user\":\"Alice\"}", "bad user name" },
	{ "enroll, user starts with a digit", ENROLL "\"user\":\"1alice\"}", "bad user name" },
	{ "enroll, user starts with a dash", ENROLL "\"user\":\"-alice\"}", "bad user name" },
	{ "enroll, '$' inside user", ENROLL "\"user\":\"al$ice\"}", "bad user name" },
	{ "enroll, user only '$'", ENROLL "\"user\":\"$\"}", "bad user name" },
	{ "enroll, user with slash", ENROLL "\"user\":\"a/b\"}", "bad user name" },
	{ "enroll, empty user", ENROLL "\"user\":\"\"}", "bad user name" },
	{ "enroll, user of 33", ENROLL "\"user\":\"abcdefghijklmnopqrstuvwxyz0123456\"}", "user too long" },
	{ "enroll, public id of 11", ENROLL "\"user\":\"alice\",\"public_id\":\"cccccbcgujh\"}", "bad public id" },
	{ "enroll, public id of 13", ENROLL "\"user\":\"alice\",\"public_id\":\"" PID "c\"}", "bad public id" },
	{ "enroll, public id not modhex", ENROLL "\"user\":\"alice\",\"public_id\":\"cccccbcgujha\"}",
	  "bad public id" },
	{ "enroll, public id upper case", ENROLL "\"user\":\"alice\",\"public_id\":\"CCCCCBCGUJHF\"}",
	  "bad public id" },
	{ "enroll, empty public id", ENROLL "\"user\":\"alice\",\"public_id\":\"\"}", "bad public id" },
	{ "enroll, aes_key of 31", ENROLL "\"user\":\"alice\",\"aes_key\":\"000102030405060708090a0b0c0d0e0\"}",
	  "bad AES key" },
	{ "enroll, aes_key of 33", ENROLL "\"user\":\"alice\",\"aes_key\":\"" KEY "0\"}", "bad AES key" },
	{ "enroll, aes_key upper case", ENROLL "\"user\":\"alice\",\"aes_key\":\"000102030405060708090A0B0C0D0E0F\"}",
	  "bad AES key" },
	{ "enroll, aes_key not hex", ENROLL "\"user\":\"alice\",\"aes_key\":\"000102030405060708090a0b0c0d0e0g\"}",
	  "bad AES key" },
	{ "enroll, aes_key in modhex", ENROLL "\"user\":\"alice\",\"aes_key\":\"cccccbcgujhfdhgfhbjhhlntkhhfbenh\"}",
	  "bad AES key" },
	{ "enroll, empty aes_key", ENROLL "\"user\":\"alice\",\"aes_key\":\"\"}", "bad AES key" },

	/* token_confirm */
	{ "confirm with a user", "{\"v\":1,\"op\":\"token_confirm\",\"otp\":\"" OTP "\",\"user\":\"alice\"}",
	  "unknown key" },
	{ "confirm without otp", "{\"v\":1,\"op\":\"token_confirm\"}", "missing key \"otp\"" },
	{ "confirm, otp as bool", "{\"v\":1,\"op\":\"token_confirm\",\"otp\":true}", "\"otp\" is not a string" },
	{ "confirm, empty otp", "{\"v\":1,\"op\":\"token_confirm\",\"otp\":\"\"}", "otp is empty" },
	{ "confirm, otp of 65 bytes", "{\"v\":1,\"op\":\"token_confirm\",\"otp\":\"" OTP "ccccccccccccccccccccc\"}",
	  "otp too long" },

	/* token_list */
	{ "token list with a state", "{\"v\":1,\"op\":\"token_list\",\"state\":\"active\"}", "unknown key" },
	{ "token list with a user", "{\"v\":1,\"op\":\"token_list\",\"user\":\"alice\"}", "unknown key" },

	/* token_revoke */
	{ "revoke with a user", "{\"v\":1,\"op\":\"token_revoke\",\"public_id\":\"" PID "\",\"user\":\"alice\"}",
	  "unknown key" },
	{ "revoke without public id", "{\"v\":1,\"op\":\"token_revoke\"}", "missing key \"public_id\"" },
	{ "revoke, public id as number", "{\"v\":1,\"op\":\"token_revoke\",\"public_id\":12}",
	  "\"public_id\" is not a string" },
	{ "revoke, a whole OTP as public id", "{\"v\":1,\"op\":\"token_revoke\",\"public_id\":\"" OTP "\"}",
	  "bad public id" },
	{ "revoke, public id not modhex", "{\"v\":1,\"op\":\"token_revoke\",\"public_id\":\"0123456789ab\"}",
	  "bad public id" },
};

static char *make_submit(size_t profile_len, size_t reason_len, size_t name_len)
{
	size_t cap = profile_len + reason_len + name_len + 256;
	char *p = malloc(profile_len + 1), *r = malloc(reason_len + 1), *n = malloc(name_len + 1);
	char *out = malloc(cap);

	if (!p || !r || !n || !out)
		abort();
	memset(p, 'p', profile_len);
	p[profile_len] = 0;
	memset(r, 'r', reason_len);
	r[reason_len] = 0;
	memset(n, 'n', name_len);
	n[name_len] = 0;
	snprintf(out, cap,
		 "{\"v\":1,\"op\":\"submit\",\"profile\":\"%s\",\"reason\":\"%s\",\"name\":\"%s\",\"stdin\":false}",
		 p, r, n);
	free(p);
	free(r);
	free(n);
	return out;
}

static const char *decode_error(const char *json, size_t len)
{
	struct proto_req r = { 0 };
	const char *error = NULL;
	int rc = proto_req_decode((const uint8_t *)json, len, &r, &error);

	if (rc == 0) {
		proto_req_clear(&r);
		return NULL;
	}
	if (rc != -EBADMSG)
		return "(wrong return code)";
	return error ? error : "(no error text)";
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool req_eq(const struct proto_req *a, const struct proto_req *b)
{
	return a->op == b->op && str_eq(a->profile, b->profile) && str_eq(a->reason, b->reason) &&
	       str_eq(a->name, b->name) && a->from_stdin == b->from_stdin &&
	       str_eq(a->state, b->state) && str_eq(a->id, b->id) && a->timeout == b->timeout &&
	       str_eq(a->sha256, b->sha256) && str_eq(a->otp, b->otp) && a->interactive == b->interactive &&
	       str_eq(a->user, b->user) && str_eq(a->public_id, b->public_id) && a->has_key == b->has_key &&
	       memcmp(a->aes_key, b->aes_key, sizeof(a->aes_key)) == 0;
}

static void test_accepted(void)
{
	for (size_t i = 0; i < ELEMENTS(accepted); i++) {
		const struct acase *c = &accepted[i];
		struct proto_req r = { 0 }, r2 = { 0 };
		const char *error = NULL;
		char *enc = NULL;
		int rc;

		rc = proto_req_decode((const uint8_t *)c->json, strlen(c->json), &r, &error);
		ok(rc == 0 && r.op == c->op, "accepts %s request #%zu (%s)", proto_op_name(c->op), i,
		   rc == 0 ? "ok" : error);
		if (rc < 0)
			continue;

		rc = proto_req_encode(&r, &enc);
		ok(rc == 0, "encodes %s request #%zu", proto_op_name(c->op), i);
		if (rc < 0) {
			proto_req_clear(&r);
			continue;
		}
		if (c->canonical)
			ok(strcmp(enc, c->json) == 0, "encoding of #%zu is canonical: %s", i, enc);
		rc = proto_req_decode((const uint8_t *)enc, strlen(enc), &r2, &error);
		ok(rc == 0 && req_eq(&r, &r2), "round trip of #%zu gives the same request", i);
		free(enc);
		proto_req_clear(&r);
		proto_req_clear(&r2);
	}
}

static void test_refused(void)
{
	for (size_t i = 0; i < ELEMENTS(refused); i++) {
		const struct rcase *c = &refused[i];
		const char *got = decode_error(c->json, strlen(c->json));

		ok(got && strcmp(got, c->error) == 0, "refuses %s: \"%s\"%s%s", c->what, c->error,
		   got && strcmp(got, c->error) == 0 ? "" : " but got ", got && strcmp(got, c->error) == 0 ? "" : (got ? got : "acceptance"));
	}
}

static void test_limits(void)
{
	char *s;
	const char *got;

	s = make_submit(PROTO_MAX_PROFILE, PROTO_MAX_REASON, PROTO_MAX_NAME);
	ok(decode_error(s, strlen(s)) == NULL, "accepts profile, reason and name at their limits");
	free(s);

	s = make_submit(PROTO_MAX_PROFILE + 1, 1, 1);
	got = decode_error(s, strlen(s));
	ok(got && strcmp(got, "profile too long") == 0, "refuses a 65-byte profile (%s)", got);
	free(s);

	s = make_submit(1, PROTO_MAX_REASON + 1, 1);
	got = decode_error(s, strlen(s));
	ok(got && strcmp(got, "reason too long") == 0, "refuses a 1025-byte reason (%s)", got);
	free(s);

	s = make_submit(1, 60000, 1);
	got = decode_error(s, strlen(s));
	ok(got && strcmp(got, "reason too long") == 0, "refuses a 60000-byte reason (%s)", got);
	free(s);

	s = make_submit(1, 1, PROTO_MAX_NAME + 1);
	got = decode_error(s, strlen(s));
	ok(got && strcmp(got, "name too long") == 0, "refuses a 256-byte name (%s)", got);
	free(s);

	char deny[PROTO_MAX_REASON + 128], reason[PROTO_MAX_REASON + 2];
	memset(reason, 'r', sizeof(reason) - 1);
	reason[PROTO_MAX_REASON] = 0;
	snprintf(deny, sizeof(deny), "{\"v\":1,\"op\":\"deny\",\"id\":\"" ID "\",\"reason\":\"%s\"}", reason);
	ok(decode_error(deny, strlen(deny)) == NULL, "deny accepts a reason at its limit");
	reason[PROTO_MAX_REASON] = 'r';
	reason[PROTO_MAX_REASON + 1] = 0;
	snprintf(deny, sizeof(deny), "{\"v\":1,\"op\":\"deny\",\"id\":\"" ID "\",\"reason\":\"%s\"}", reason);
	got = decode_error(deny, strlen(deny));
	ok(got && strcmp(got, "reason too long") == 0, "deny refuses a 1025-byte reason (%s)", got);

	static const char otp64[] = "{\"v\":1,\"op\":\"token_confirm\",\"otp\":\"" OTP "cccccccccccccccccccc\"}";
	ok(decode_error(otp64, strlen(otp64)) == NULL, "accepts an otp of 64 bytes");
	static const char user32[] = ENROLL "\"user\":\"abcdefghijklmnopqrstuvwxyz01234$\"}";
	ok(decode_error(user32, strlen(user32)) == NULL, "accepts a user of 32 characters");

	s = make_submit(1, 65 * 1024, 1);
	got = decode_error(s, strlen(s));
	ok(got && strcmp(got, "request too large") == 0, "refuses a 65 KiB payload (%s)", got);
	free(s);

	/* A raw NUL byte in the payload (not an escape). */
	static const char raw_nul[] = "{\"v\":1,\"op\":\"status\"}\0";
	got = decode_error(raw_nul, sizeof(raw_nul) - 1);
	ok(got != NULL, "refuses a payload with a raw NUL byte after the object (%s)", got);
	static const char raw_nul2[] = "{\"v\":1,\"op\":\"sta\0tus\"}";
	got = decode_error(raw_nul2, sizeof(raw_nul2) - 1);
	ok(got != NULL, "refuses a raw NUL byte inside a string (%s)", got);

	/* Deep nesting does not crash and is refused. */
	size_t depth = 30000;
	s = malloc(2 * depth + 1);
	if (!s)
		abort();
	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = 0;
	got = decode_error(s, 2 * depth);
	ok(got && strcmp(got, "JSON nested too deeply") == 0, "refuses deeply nested arrays (%s)", got);
	free(s);

	struct proto_req r = { 0 };
	ok(proto_req_decode(NULL, 0, &r, NULL) == -EINVAL, "NULL buffer is -EINVAL");
}

static void test_failure_leaves_output(void)
{
	struct proto_req r = { .op = OP_STATUS, .timeout = 42 };
	const char *e = NULL;
	static const char bad[] = "{\"v\":1,\"op\":\"show\",\"id\":\"" ID "\",\"x\":1}";

	ok(proto_req_decode((const uint8_t *)bad, strlen(bad), &r, &e) == -EBADMSG && r.op == OP_STATUS &&
		   r.timeout == 42 && r.id == NULL,
	   "a refused request leaves ret untouched");
}

static void test_encode(void)
{
	struct proto_req r = { .op = OP_SUBMIT, .profile = (char *)"p", .reason = (char *)"\xff",
			       .name = (char *)"n" };
	char *s = NULL;

	ok(proto_req_encode(&r, &s) == -EILSEQ && s == NULL, "encode refuses invalid UTF-8");
	r.reason = NULL;
	ok(proto_req_encode(&r, &s) == -EINVAL && s == NULL, "encode refuses a missing reason");

	struct proto_req w = { .op = OP_SHOW };
	ok(proto_req_encode(&w, &s) == -EINVAL, "encode refuses show without id");
	w.op = (enum proto_op)0;
	ok(proto_req_encode(&w, &s) == -EINVAL, "encode refuses op 0");
	w.op = (enum proto_op)99;
	ok(proto_req_encode(&w, &s) == -EINVAL, "encode refuses op 99");

	struct proto_req big = { .op = OP_SUBMIT, .profile = (char *)"p", .name = (char *)"n" };
	big.reason = malloc(70000);
	if (!big.reason)
		abort();
	memset(big.reason, 'x', 69999);
	big.reason[69999] = 0;
	ok(proto_req_encode(&big, &s) == -EMSGSIZE, "encode refuses a payload over the frame size");
	free(big.reason);

	/* Round trip of a submit with strings that need escaping. */
	struct proto_req q = { .op = OP_SUBMIT, .profile = (char *)"crash-dump_2",
			       .reason = (char *)"INC-4711 \"quoted\" \\ \t\x1b[31m é",
			       .name = (char *)"core.1234", .from_stdin = true };
	struct proto_req q2 = { 0 };
	const char *e = NULL;
	ok(proto_req_encode(&q, &s) == 0, "encodes a submit with escapes");
	ok(s && proto_req_decode((const uint8_t *)s, strlen(s), &q2, &e) == 0 && req_eq(&q, &q2),
	   "submit with escapes round-trips");
	free(s);
	s = NULL;
	proto_req_clear(&q2);

	struct proto_req l = { .op = OP_WAIT, .id = (char *)ID, .timeout = 3600 };
	ok(proto_req_encode(&l, &s) == 0 &&
		   strcmp(s, "{\"v\":1,\"op\":\"wait\",\"id\":\"" ID "\",\"timeout\":3600}") == 0,
	   "wait encodes canonically");
	free(s);
}

/* The AES key: decoded to its 16 bytes, encoded back to the same hex, and
 * wiped by proto_req_clear(). */
static void test_secrets(void)
{
	static const char json[] = ENROLL "\"user\":\"alice\",\"public_id\":\"" PID "\",\"aes_key\":\"" KEY "\"}";
	static const uint8_t want[PROTO_AES_KEY_SIZE] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	static const uint8_t zero[PROTO_AES_KEY_SIZE] = { 0 };
	struct proto_req r = { 0 };
	const char *e = NULL;
	char *s = NULL;

	ok(proto_req_decode((const uint8_t *)json, strlen(json), &r, &e) == 0 && r.has_key &&
		   memcmp(r.aes_key, want, sizeof(want)) == 0 && strcmp(r.user, "alice") == 0 &&
		   strcmp(r.public_id, PID) == 0,
	   "token_enroll decodes the AES key into its 16 bytes");
	ok(proto_req_encode(&r, &s) == 0 && strcmp(s, json) == 0, "token_enroll encodes the key back as hex");
	free(s);
	s = NULL;
	proto_req_clear(&r);
	ok(!r.has_key && memcmp(r.aes_key, zero, sizeof(zero)) == 0 && !r.user && !r.public_id,
	   "proto_req_clear wipes the AES key");

	static const char nokey[] = ENROLL "\"user\":\"alice\"}";
	ok(proto_req_decode((const uint8_t *)nokey, strlen(nokey), &r, &e) == 0 && !r.has_key &&
		   memcmp(r.aes_key, zero, sizeof(zero)) == 0 && !r.public_id,
	   "token_enroll without a key has has_key false and a zero key");
	proto_req_clear(&r);

	static const char approve[] = APPROVE "\"id\":\"" ID "\",\"sha256\":\"" SHA "\",\"otp\":\"" OTP "\",\"interactive\":true}";
	ok(proto_req_decode((const uint8_t *)approve, strlen(approve), &r, &e) == 0 && r.interactive &&
		   strcmp(r.otp, OTP) == 0 && strcmp(r.sha256, SHA) == 0 && strcmp(r.id, ID) == 0,
	   "approve decodes id, sha256, otp and interactive");
	proto_req_clear(&r);
	ok(!r.otp && !r.sha256 && !r.interactive, "proto_req_clear drops the otp");

	/* A key given, then a refusal: nothing comes out. */
	static const char bad[] = ENROLL "\"aes_key\":\"" KEY "\",\"user\":\"Alice\"}";
	struct proto_req keep = { .op = OP_STATUS };
	ok(proto_req_decode((const uint8_t *)bad, strlen(bad), &keep, &e) == -EBADMSG && !keep.has_key &&
		   keep.op == OP_STATUS,
	   "a refused token_enroll with a good key leaves ret untouched (%s)", e);

	struct proto_req a = { .op = OP_APPROVE, .id = (char *)ID, .sha256 = (char *)SHA };
	ok(proto_req_encode(&a, &s) == -EINVAL && !s, "encode refuses approve without otp");
	struct proto_req c = { .op = OP_TOKEN_CONFIRM };
	ok(proto_req_encode(&c, &s) == -EINVAL && !s, "encode refuses token_confirm without otp");
	struct proto_req v = { .op = OP_TOKEN_REVOKE };
	ok(proto_req_encode(&v, &s) == -EINVAL && !s, "encode refuses token_revoke without public id");
	struct proto_req u = { .op = OP_TOKEN_ENROLL, .has_key = true };
	ok(proto_req_encode(&u, &s) == -EINVAL && !s, "encode refuses token_enroll without user");
}

static void test_public_id(void)
{
	ok(proto_public_id_valid(PID), "a 12-character modhex public id is valid");
	ok(proto_public_id_valid("vvvvvvvvvvvv") && proto_public_id_valid("bdefghijklnr"),
	   "every modhex character is allowed");
	ok(!proto_public_id_valid("cccccbcgujh") && !proto_public_id_valid(PID "c"), "11 or 13 characters are not");
	ok(!proto_public_id_valid("cccccbcgujha") && !proto_public_id_valid("CCCCCBCGUJHF") &&
		   !proto_public_id_valid("0123456789ab"),
	   "non-modhex, upper case and hex are not");
	ok(!proto_public_id_valid("") && !proto_public_id_valid(NULL), "empty and NULL are not");
}

static void test_op_names(void)
{
	static const char *names[] = { "submit", "list",	  "show",	  "wait",
				       "withdraw", "audit",	  "status",	  "approve",
				       "deny",	   "token_enroll", "token_confirm", "token_list",
				       "token_revoke" };
	bool good = true;

	for (size_t i = 0; i < ELEMENTS(names); i++) {
		enum proto_op op;
		if (proto_op_from_name(names[i], &op) < 0 || op != (enum proto_op)(OP_SUBMIT + i) ||
		    strcmp(proto_op_name(op), names[i]) != 0)
			good = false;
	}
	ok(good, "op names map both ways");
	enum proto_op op = OP_LIST;
	ok(proto_op_from_name("token", &op) == -EINVAL && op == OP_LIST, "unknown op name is refused");
	ok(proto_op_from_name(NULL, &op) == -EINVAL, "NULL op name is refused");
	ok(strcmp(proto_op_name((enum proto_op)0), "unknown") == 0, "op 0 has no name");
}

int main(void)
{
	test_accepted();
	test_refused();
	test_limits();
	test_failure_leaves_output();
	test_encode();
	test_secrets();
	test_public_id();
	test_op_names();
	return tap_done();
}
