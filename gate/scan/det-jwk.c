/* det-jwk.c - JSON Web Keys (RFC 7517/7518) that carry private members.
 *
 * Anchors on "kty", takes the innermost JSON object around it (so each key
 * of a JWK Set {"keys":[...]} is judged on its own) and parses it with
 * jansson.  Only keys with a private "d" are findings; public JWKs are not.
 * RSA keys are rebuilt from n, e, d and p, q (or the factors recovered from
 * n, e, d); EC and OKP keys from d alone, and the public members the JWK
 * claims (x, y / x) must equal the public half d implies.  A JWK whose "d"
 * does not verify is still reported, unverified, at high severity.
 *
 * Also home of json_enclosing_object(), which det-cloud-sa.c shares.
 * Decoded private members live in buffers wiped before they are freed (I7).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "detector.h"
#include "util.h"

#define JSON_MAX_OBJECT (64 * 1024)
#define JWK_MAX_MEMBER 4096 /* base64url characters: a 16384-bit modulus is 2731 */

/* ---- the enclosing JSON object */

/* Whether the '"' at s[i] closes or opens a string (not escaped): an even
 * number of backslashes before it. */
static bool quote_unescaped(const uint8_t *s, size_t i, size_t lo)
{
	size_t bs = 0;

	while (i > lo && s[i - 1] == '\\') {
		bs++;
		i--;
	}
	return bs % 2 == 0;
}

int json_enclosing_object(const uint8_t *win, size_t win_len, size_t pos, size_t *ret_start, size_t *ret_end)
{
	size_t lo = pos > DETECTOR_LOOKBEHIND ? pos - DETECTOR_LOOKBEHIND : 0, start = 0, depth = 0, lim;
	bool in_str = false, found = false, esc = false;

	if (pos > win_len)
		return -ENOENT;

	/* Backwards from pos, which is outside any string in valid JSON (the
	 * anchors are the opening quote of a member name): brackets between
	 * the object's '{' and pos are balanced, and quotes are paired. */
	for (size_t i = pos; i-- > lo;) {
		uint8_t c = win[i];

		if (c == '"' && quote_unescaped(win, i, lo)) {
			in_str = !in_str;
			continue;
		}
		if (in_str)
			continue;
		if (c == '}' || c == ']') {
			depth++;
		} else if (c == '{' || c == '[') {
			if (depth == 0) {
				if (c == '[')
					return -ENOENT; /* a member name cannot sit in an array */
				start = i;
				found = true;
				break;
			}
			depth--;
		}
	}
	if (!found || in_str)
		return -ENOENT;

	/* Forwards from pos, one level deep, to the matching '}'. */
	lim = win_len < start + JSON_MAX_OBJECT ? win_len : start + JSON_MAX_OBJECT;
	depth = 1;
	for (size_t i = pos; i < lim; i++) {
		uint8_t c = win[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			else if (c < 0x20)
				return -ENOENT; /* raw control character: not JSON */
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0) {
				if (c != '}')
					return -ENOENT;
				*ret_start = start;
				*ret_end = i + 1;
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* ---- members */

/* A base64url member decoded into a new buffer (wiped and freed by the
 * caller with secure_free(*ret, *ret_cap)). */
static int member_b64url(json_t *o, const char *name, uint8_t **ret, size_t *ret_len, size_t *ret_cap)
{
	json_t *v = json_object_get(o, name);
	const char *s;
	size_t n, cap, len = 0;
	uint8_t *buf;

	if (!json_is_string(v))
		return -ENOENT;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > JWK_MAX_MEMBER)
		return -EINVAL;
	cap = n / 4 * 3 + 3;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (keyutil_b64decode(s, n, buf, cap, &len, true) < 0 || len == 0) {
		secure_free(buf, cap);
		return -EINVAL;
	}
	*ret = buf;
	*ret_len = len;
	*ret_cap = cap;
	return 0;
}

struct member {
	uint8_t *p;
	size_t n, cap;
};

static void member_free(struct member *m)
{
	secure_free(m->p, m->cap);
	*m = (struct member){ NULL, 0, 0 };
}

static int member_get(json_t *o, const char *name, struct member *m)
{
	return member_b64url(o, name, &m->p, &m->n, &m->cap);
}

static struct key_bytes kb(const struct member *m)
{
	return (struct key_bytes){ m->p, m->n };
}

struct parsed_key {
	EVP_PKEY *pkey;
	bool consistent;
	const char *fallback;
};

static void jwk_rsa(json_t *o, struct parsed_key *k)
{
	struct member n = { 0 }, e = { 0 }, d = { 0 }, p = { 0 }, q = { 0 }, qi = { 0 };
	int rp, rq;

	k->fallback = "rsa";
	if (member_get(o, "n", &n) < 0 || member_get(o, "e", &e) < 0 || member_get(o, "d", &d) < 0)
		goto out;
	rp = member_get(o, "p", &p);
	rq = member_get(o, "q", &q);
	/* both factors or neither (then recovered from n, e, d) */
	if ((rp == -ENOENT) != (rq == -ENOENT) || (rp < 0 && rp != -ENOENT) || (rq < 0 && rq != -ENOENT))
		goto out;
	if (rp == 0 && member_get(o, "qi", &qi) == -EINVAL)
		goto out;
	if (openssh_pkey_rsa(kb(&n), kb(&e), kb(&d), kb(&p), kb(&q), kb(&qi), &k->pkey) == 0)
		k->consistent = true;
out:
	member_free(&n);
	member_free(&e);
	member_free(&d);
	member_free(&p);
	member_free(&q);
	member_free(&qi);
}

static void jwk_ec(json_t *o, struct parsed_key *k)
{
	static const struct {
		const char *crv, *ssh, *type;
		size_t len;
	} curves[] = {
		{ "P-256", "nistp256", "ec-p256", 32 },
		{ "P-384", "nistp384", "ec-p384", 48 },
		{ "P-521", "nistp521", "ec-p521", 66 },
	};
	const char *crv = json_string_value(json_object_get(o, "crv"));
	struct member x = { 0 }, y = { 0 }, d = { 0 };
	uint8_t derived[133];
	size_t dlen = 0, c;

	k->fallback = "ec";
	if (!crv)
		return;
	for (c = 0; c < ELEMENTSOF(curves); c++)
		if (strcmp(crv, curves[c].crv) == 0)
			break;
	if (c == ELEMENTSOF(curves))
		return;
	k->fallback = curves[c].type;
	if (member_get(o, "x", &x) < 0 || member_get(o, "y", &y) < 0 || member_get(o, "d", &d) < 0)
		goto out;
	if (x.n != curves[c].len || y.n != curves[c].len || d.n > curves[c].len)
		goto out;
	if (openssh_pkey_ec(curves[c].ssh, kb(&d), derived, &dlen, &k->pkey) < 0)
		goto out;
	/* the public point the JWK claims must be d*G */
	k->consistent = dlen == 1 + 2 * curves[c].len && memcmp(derived + 1, x.p, x.n) == 0 &&
			memcmp(derived + 1 + x.n, y.p, y.n) == 0;
out:
	member_free(&x);
	member_free(&y);
	member_free(&d);
}

static void jwk_okp(json_t *o, struct parsed_key *k)
{
	static const struct {
		const char *crv, *type;
		int id;
		size_t priv_len, pub_len;
	} curves[] = {
		{ "Ed25519", "ed25519", EVP_PKEY_ED25519, 32, 32 },
		{ "X25519", "x25519", EVP_PKEY_X25519, 32, 32 },
		{ "Ed448", "ed448", EVP_PKEY_ED448, 57, 57 },
		{ "X448", "x448", EVP_PKEY_X448, 56, 56 },
	};
	const char *crv = json_string_value(json_object_get(o, "crv"));
	struct member x = { 0 }, d = { 0 };
	uint8_t derived[57];
	size_t dlen = sizeof(derived), c;

	k->fallback = "okp";
	if (!crv)
		return;
	for (c = 0; c < ELEMENTSOF(curves); c++)
		if (strcmp(crv, curves[c].crv) == 0)
			break;
	if (c == ELEMENTSOF(curves))
		return;
	k->fallback = curves[c].type;
	if (member_get(o, "x", &x) < 0 || member_get(o, "d", &d) < 0)
		goto out;
	if (d.n != curves[c].priv_len || x.n != curves[c].pub_len)
		goto out;
	k->pkey = EVP_PKEY_new_raw_private_key(curves[c].id, NULL, d.p, d.n);
	if (!k->pkey || EVP_PKEY_get_raw_public_key(k->pkey, derived, &dlen) != 1)
		goto out;
	k->consistent = dlen == x.n && memcmp(derived, x.p, x.n) == 0;
out:
	member_free(&x);
	member_free(&d);
}

static void jwk_on_match(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len, size_t pos,
			 uint64_t win_off)
{
	struct finding f = { .detector = "jwk" };
	struct parsed_key k = { NULL, false, NULL };
	size_t start, end;
	json_t *o = NULL, *d;
	const char *kty;

	if (json_enclosing_object(win, win_len, pos, &start, &end) < 0)
		return;
	o = json_loadb((const char *)win + start, end - start, 0, NULL);
	if (!json_is_object(o))
		goto out;
	kty = json_string_value(json_object_get(o, "kty"));
	d = json_object_get(o, "d");
	/* public JWKs (no "d") are not findings; symmetric "oct" keys use "k" */
	if (!kty || !json_is_string(d) || json_string_length(d) == 0)
		goto out;
	if (strcmp(kty, "RSA") == 0)
		jwk_rsa(o, &k);
	else if (strcmp(kty, "EC") == 0)
		jwk_ec(o, &k);
	else if (strcmp(kty, "OKP") == 0)
		jwk_okp(o, &k);
	else
		goto out;

	f.offset = win_off + start;
	f.length = end - start;
	if (k.pkey && keyutil_describe(k.pkey, &f) == 0 && f.verified && k.consistent) {
		f.severity = SEV_CRITICAL;
	} else {
		f.verified = false;
		f.public_sha256[0] = '\0';
		f.severity = SEV_HIGH;
		f.note = "key material inconsistent";
	}
	if (!f.key_type[0])
		snprintf(f.key_type, sizeof(f.key_type), "%s", k.fallback);
	scan_emit(ctx, &f);
out:
	EVP_PKEY_free(k.pkey);
	json_decref(o);
}

static const struct detector_pattern jwk_patterns[] = {
	{ .regex = "\"kty\"", .width = 5 },
};

const struct detector detector_jwk = {
	.name = "jwk",
	.patterns = jwk_patterns,
	.n_patterns = ELEMENTSOF(jwk_patterns),
	.on_match = jwk_on_match,
};
