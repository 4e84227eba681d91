/* det-openssh.c - OpenSSH private keys in their binary openssh-key-v1 form.
 *
 * The PEM armour ("-----BEGIN OPENSSH PRIVATE KEY-----") is the PEM
 * detector's; it base64-decodes the body and calls openssh_describe().
 * This detector anchors on the binary magic itself, which is what a process
 * that loaded or wrote a key leaves in its memory and so in its dumps.
 *
 * Format (PROTOCOL.key in OpenSSH):
 *
 *	"openssh-key-v1\0"
 *	string ciphername, string kdfname, string kdfoptions
 *	uint32 number of keys N, then N x string public key blob
 *	string private section: uint32 checkint, uint32 checkint,
 *	       N x (private key fields, string comment), padding 1 2 3 ...
 *
 * An unencrypted private section is proved by rebuilding the key with
 * OpenSSL from its private parts and letting keyutil_describe() recompute
 * the public half; the public parts written next to it (in the private
 * section and in the outer public blob) must agree with what the private
 * parts imply.  An encrypted one is reported as such: no passphrase is
 * tried.  Everything here only reads the window; secret integers live in
 * OpenSSL's secure BIGNUMs and are cleared when freed (I7).
 *
 * This file also holds the component-to-EVP_PKEY builders that the PuTTY
 * and JWK detectors share (detector.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "detector.h"
#include "util.h"

#define OPENSSH_MAGIC "openssh-key-v1"
#define OPENSSH_MAGIC_LEN 15 /* with its NUL */
#define OPENSSH_MAX_KEYS 16
#define OPENSSH_MAX_NAME 64
#define OPENSSH_MAX_KDFOPTS 1024
/* The largest RSA key handled anywhere (issue 3: up to 16384 bits). */
#define KEY_MAX_RSA_BYTES (16384 / 8)
#define KEY_MAX_DSA_BYTES (8192 / 8)

/* ---- reading the SSH wire format (RFC 4251 section 5) from a window */

struct rd {
	const uint8_t *p;
	size_t n;
};

static int rd_u32(struct rd *r, uint32_t *ret)
{
	if (r->n < 4)
		return -EINVAL;
	*ret = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return 0;
}

static int rd_string(struct rd *r, struct key_bytes *ret)
{
	uint32_t len;
	struct rd t = *r;

	if (rd_u32(&t, &len) < 0 || len > t.n)
		return -EINVAL;
	*ret = (struct key_bytes){ t.p, len };
	r->p = t.p + len;
	r->n = t.n - len;
	return 0;
}

/* A non-negative mpint, returned without its leading zero bytes. */
static int rd_mpint(struct rd *r, struct key_bytes *ret)
{
	struct key_bytes s;
	struct rd t = *r;

	if (rd_string(&t, &s) < 0)
		return -EINVAL;
	if (s.n > 0 && (s.p[0] & 0x80))
		return -EINVAL; /* negative */
	while (s.n > 0 && s.p[0] == 0) {
		s.p++;
		s.n--;
	}
	*r = t;
	*ret = s;
	return 0;
}

static bool bytes_eq(struct key_bytes a, const char *lit)
{
	size_t l = strlen(lit);
	return a.n == l && memcmp(a.p, lit, l) == 0;
}

static bool bytes_same(struct key_bytes a, struct key_bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Printable name of bounded length (cipher, kdf and key type names). */
static bool name_ok(struct key_bytes s)
{
	if (s.n == 0 || s.n > OPENSSH_MAX_NAME)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] <= 0x20 || s.p[i] >= 0x7f)
			return false;
	return true;
}

/* ---- builders (declared in detector.h) */

static BIGNUM *bn_public(struct key_bytes b)
{
	return BN_bin2bn(b.p, (int)b.n, NULL);
}

static BIGNUM *bn_secret(struct key_bytes b)
{
	BIGNUM *bn = BN_secure_new();

	if (bn && !BN_bin2bn(b.p, (int)b.n, bn)) {
		BN_clear_free(bn);
		return NULL;
	}
	if (bn)
		BN_set_flags(bn, BN_FLG_CONSTTIME);
	return bn;
}

static int pkey_fromdata(const char *alg, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r = -EKEYREJECTED;

	params = OSSL_PARAM_BLD_to_param(bld);
	pctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
	if (!params || !pctx) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(pctx) != 1 || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
		goto out;
	*ret = pkey;
	r = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params); /* secure BIGNUMs went to a block that is cleared */
	return r;
}

/* Factor n from (n, e, d): k = d*e - 1 = 2^t * r; for a base g, the
 * sequence g^r, g^2r, ... reaches 1 mod n, and a nontrivial square root
 * of 1 on the way gives gcd(y - 1, n) = p.  Each base succeeds with
 * probability >= 1/2. */
static int rsa_recover_factors(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, BN_CTX *bctx, BIGNUM *ret_p,
			       BIGNUM *ret_q)
{
	static const unsigned bases[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71 };
	BIGNUM *k, *r, *g, *y, *x, *nm1;
	int t = 0, ret = -EKEYREJECTED;

	BN_CTX_start(bctx);
	k = BN_CTX_get(bctx);
	r = BN_CTX_get(bctx);
	g = BN_CTX_get(bctx);
	y = BN_CTX_get(bctx);
	x = BN_CTX_get(bctx);
	nm1 = BN_CTX_get(bctx);
	if (!nm1 || !BN_mul(k, d, e, bctx) || !BN_sub_word(k, 1) || !BN_copy(nm1, n) || !BN_sub_word(nm1, 1))
		goto out;
	if (BN_is_zero(k) || BN_is_odd(k) || !BN_is_odd(n))
		goto out;
	while (!BN_is_bit_set(k, t))
		t++;
	if (!BN_rshift(r, k, t))
		goto out;
	for (size_t b = 0; b < ELEMENTSOF(bases); b++) {
		if (!BN_set_word(g, bases[b]) || !BN_mod_exp(y, g, r, n, bctx))
			goto out;
		if (BN_is_one(y) || BN_cmp(y, nm1) == 0)
			continue;
		for (int i = 0; i < t; i++) {
			if (!BN_mod_sqr(x, y, n, bctx))
				goto out;
			if (BN_is_one(x)) {
				/* y is a square root of 1 other than +-1 */
				if (!BN_sub_word(y, 1) || !BN_gcd(ret_p, y, n, bctx))
					goto out;
				if (BN_is_one(ret_p) || BN_cmp(ret_p, n) == 0)
					goto out;
				if (!BN_div(ret_q, NULL, n, ret_p, bctx))
					goto out;
				ret = 0;
				goto out;
			}
			if (BN_cmp(x, nm1) == 0)
				break;
			if (!BN_copy(y, x))
				goto out;
		}
	}
out:
	BN_CTX_end(bctx);
	return ret;
}

int openssh_pkey_rsa(struct key_bytes n, struct key_bytes e, struct key_bytes d, struct key_bytes p,
		     struct key_bytes q, struct key_bytes iqmp, struct evp_pkey_st **ret)
{
	BN_CTX *bctx = NULL;
	BIGNUM *bn = NULL, *be = NULL, *bd = NULL, *bp = NULL, *bq = NULL, *biqmp = NULL, *dmp1 = NULL, *dmq1 = NULL,
	       *t = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	int r = -EINVAL;

	if (n.n == 0 || e.n == 0 || d.n == 0 || n.n > KEY_MAX_RSA_BYTES || e.n > n.n || d.n > n.n)
		return -EINVAL;
	if ((p.n == 0) != (q.n == 0) || p.n > n.n || q.n > n.n || iqmp.n > n.n)
		return -EINVAL;

	r = -ENOMEM;
	bctx = BN_CTX_secure_new();
	bn = bn_public(n);
	be = bn_public(e);
	bd = bn_secret(d);
	bp = p.n ? bn_secret(p) : BN_secure_new();
	bq = q.n ? bn_secret(q) : BN_secure_new();
	biqmp = iqmp.n ? bn_secret(iqmp) : BN_secure_new();
	dmp1 = BN_secure_new();
	dmq1 = BN_secure_new();
	t = BN_secure_new();
	if (!bctx || !bn || !be || !bd || !bp || !bq || !biqmp || !dmp1 || !dmq1 || !t)
		goto out;

	r = -EKEYREJECTED;
	if (p.n == 0 && rsa_recover_factors(bn, be, bd, bctx, bp, bq) < 0)
		goto out;
	if (BN_cmp(bp, BN_value_one()) <= 0 || BN_cmp(bq, BN_value_one()) <= 0)
		goto out;
	/* CRT exponents from d, never trusted from the artifact */
	if (!BN_sub(t, bp, BN_value_one()) || !BN_mod(dmp1, bd, t, bctx))
		goto out;
	if (!BN_sub(t, bq, BN_value_one()) || !BN_mod(dmq1, bd, t, bctx))
		goto out;
	if (iqmp.n == 0 && !BN_mod_inverse(biqmp, bq, bp, bctx))
		goto out;

	r = -ENOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, bd) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, bp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, bq) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, biqmp))
		goto out;
	r = pkey_fromdata("RSA", bld, &pkey);
	if (r < 0)
		goto out;
	*ret = pkey;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	BN_clear_free(bd);
	BN_clear_free(bp);
	BN_clear_free(bq);
	BN_clear_free(biqmp);
	BN_clear_free(dmp1);
	BN_clear_free(dmq1);
	BN_clear_free(t);
	BN_CTX_free(bctx);
	return r;
}

static const struct {
	const char *ssh; /* curve identifier in SSH key blobs */
	const char *ossl;
	int nid;
} ec_curves[] = {
	{ "nistp256", "prime256v1", NID_X9_62_prime256v1 },
	{ "nistp384", "secp384r1", NID_secp384r1 },
	{ "nistp521", "secp521r1", NID_secp521r1 },
};

int openssh_pkey_ec(const char *curve, struct key_bytes d, uint8_t *ret_pub, size_t *ret_pub_len,
		    struct evp_pkey_st **ret)
{
	EC_GROUP *group = NULL;
	EC_POINT *q = NULL;
	BN_CTX *bctx = NULL;
	BIGNUM *bd = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t pub[133];
	size_t pub_len;
	size_t c;
	int r;

	for (c = 0; c < ELEMENTSOF(ec_curves); c++)
		if (strcmp(curve, ec_curves[c].ssh) == 0)
			break;
	if (c == ELEMENTSOF(ec_curves) || d.n == 0 || d.n > 66)
		return -EINVAL;

	r = -ENOMEM;
	group = EC_GROUP_new_by_curve_name(ec_curves[c].nid);
	bctx = BN_CTX_secure_new();
	bd = bn_secret(d);
	q = group ? EC_POINT_new(group) : NULL;
	if (!group || !bctx || !bd || !q)
		goto out;

	r = -EKEYREJECTED;
	if (BN_is_zero(bd) || BN_cmp(bd, EC_GROUP_get0_order(group)) >= 0)
		goto out;
	/* The public point is what the private scalar implies: Q = d*G. */
	if (!EC_POINT_mul(group, q, bd, NULL, NULL, bctx))
		goto out;
	pub_len = EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), bctx);
	if (pub_len == 0)
		goto out;

	r = -ENOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ec_curves[c].ossl, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd))
		goto out;
	r = pkey_fromdata("EC", bld, &pkey);
	if (r < 0)
		goto out;
	memcpy(ret_pub, pub, pub_len);
	*ret_pub_len = pub_len;
	*ret = pkey;
out:
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(q);
	EC_GROUP_free(group);
	BN_clear_free(bd);
	BN_CTX_free(bctx);
	return r;
}

int openssh_pkey_dsa(struct key_bytes p, struct key_bytes q, struct key_bytes g, struct key_bytes y,
		     struct key_bytes x, struct evp_pkey_st **ret)
{
	BN_CTX *bctx = NULL;
	BIGNUM *bp = NULL, *bq = NULL, *bg = NULL, *by = NULL, *bx = NULL, *yy = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	if (p.n == 0 || q.n == 0 || g.n == 0 || y.n == 0 || x.n == 0 || p.n > KEY_MAX_DSA_BYTES || q.n > 64 ||
	    g.n > p.n || y.n > p.n || x.n > q.n)
		return -EINVAL;

	r = -ENOMEM;
	bctx = BN_CTX_secure_new();
	bp = bn_public(p);
	bq = bn_public(q);
	bg = bn_public(g);
	by = bn_public(y);
	bx = bn_secret(x);
	yy = BN_new();
	if (!bctx || !bp || !bq || !bg || !by || !bx || !yy)
		goto out;

	r = -EKEYREJECTED;
	if (!BN_is_odd(bp) || BN_is_zero(bx) || BN_cmp(bx, bq) >= 0 || BN_cmp(bg, BN_value_one()) <= 0 ||
	    BN_cmp(bg, bp) >= 0)
		goto out;
	/* y = g^x mod p: the public half recomputed from the secret */
	if (!BN_mod_exp(yy, bg, bx, bp, bctx) || BN_cmp(yy, by) != 0)
		goto out;

	r = -ENOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, bp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_Q, bq) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, bg) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, yy) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bx))
		goto out;
	r = pkey_fromdata("DSA", bld, &pkey);
	if (r < 0)
		goto out;
	*ret = pkey;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bp);
	BN_free(bq);
	BN_free(bg);
	BN_free(by);
	BN_clear_free(bx);
	BN_free(yy);
	BN_CTX_free(bctx);
	return r;
}

/* ---- the private key inside an unencrypted private section */

struct parsed_key {
	EVP_PKEY *pkey;        /* NULL when the parts do not form a key */
	bool consistent;       /* public parts agree with the private ones */
	const char *fallback;  /* key_type if keyutil_describe cannot say */
};

/* Reads one private key (PROTOCOL.key / sshkey_private_serialize) from
 * *r; outer is the matching public key blob.  Returns -EINVAL if the
 * fields are malformed, -EOPNOTSUPP for a key type not handled here. */
static int parse_private_key(struct rd *r, struct key_bytes outer, struct parsed_key *k)
{
	struct rd o = { outer.p, outer.n };
	struct key_bytes type, otype;
	int q;

	if (rd_string(r, &type) < 0 || !name_ok(type))
		return -EINVAL;
	if (rd_string(&o, &otype) < 0)
		return -EINVAL;
	k->consistent = bytes_same(type, otype);

	if (bytes_eq(type, "ssh-ed25519")) {
		struct key_bytes pk, sk, opk;
		uint8_t derived[32];
		size_t dlen = sizeof(derived);

		if (rd_string(r, &pk) < 0 || rd_string(r, &sk) < 0 || pk.n != 32 || sk.n != 64)
			return -EINVAL;
		k->fallback = "ed25519";
		/* sk is seed || public */
		k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk.p, 32);
		if (!k->pkey || EVP_PKEY_get_raw_public_key(k->pkey, derived, &dlen) != 1 || dlen != 32 ||
		    memcmp(derived, pk.p, 32) != 0 || memcmp(derived, sk.p + 32, 32) != 0)
			k->consistent = false;
		if (rd_string(&o, &opk) < 0 || !bytes_same(opk, pk))
			k->consistent = false;
		return 0;
	}

	if (bytes_eq(type, "ssh-rsa")) {
		struct key_bytes n, e, d, iqmp, p, qq, on, oe;

		if (rd_mpint(r, &n) < 0 || rd_mpint(r, &e) < 0 || rd_mpint(r, &d) < 0 || rd_mpint(r, &iqmp) < 0 ||
		    rd_mpint(r, &p) < 0 || rd_mpint(r, &qq) < 0)
			return -EINVAL;
		if (n.n == 0 || e.n == 0 || d.n == 0 || iqmp.n == 0 || p.n == 0 || qq.n == 0)
			return -EINVAL;
		k->fallback = "rsa";
		if (openssh_pkey_rsa(n, e, d, p, qq, iqmp, &k->pkey) < 0)
			k->consistent = false;
		/* the outer blob has e before n */
		if (rd_mpint(&o, &oe) < 0 || rd_mpint(&o, &on) < 0 || !bytes_same(oe, e) || !bytes_same(on, n))
			k->consistent = false;
		return 0;
	}

	if (type.n > 11 && memcmp(type.p, "ecdsa-sha2-", 11) == 0) {
		struct key_bytes curve, qpt, d, ocurve, oqpt;
		char cname[16];
		uint8_t derived[133];
		size_t dlen = 0;

		if (rd_string(r, &curve) < 0 || rd_string(r, &qpt) < 0 || rd_mpint(r, &d) < 0)
			return -EINVAL;
		/* the curve is named twice: in the type and on its own */
		if (curve.n >= sizeof(cname) || curve.n != type.n - 11 || memcmp(curve.p, type.p + 11, curve.n) != 0)
			return -EINVAL;
		memcpy(cname, curve.p, curve.n);
		cname[curve.n] = '\0';
		if (strcmp(cname, "nistp256") == 0)
			k->fallback = "ec-p256";
		else if (strcmp(cname, "nistp384") == 0)
			k->fallback = "ec-p384";
		else if (strcmp(cname, "nistp521") == 0)
			k->fallback = "ec-p521";
		else
			return -EOPNOTSUPP;
		q = openssh_pkey_ec(cname, d, derived, &dlen, &k->pkey);
		if (q == -EINVAL)
			return -EINVAL;
		if (q < 0 || qpt.n != dlen || memcmp(qpt.p, derived, dlen) != 0)
			k->consistent = false;
		if (rd_string(&o, &ocurve) < 0 || rd_string(&o, &oqpt) < 0 || !bytes_same(ocurve, curve) ||
		    !bytes_same(oqpt, qpt))
			k->consistent = false;
		return 0;
	}

	if (bytes_eq(type, "ssh-dss")) {
		struct key_bytes p, qq, g, y, x, op, oq, og, oy;

		if (rd_mpint(r, &p) < 0 || rd_mpint(r, &qq) < 0 || rd_mpint(r, &g) < 0 || rd_mpint(r, &y) < 0 ||
		    rd_mpint(r, &x) < 0)
			return -EINVAL;
		k->fallback = "dsa";
		q = openssh_pkey_dsa(p, qq, g, y, x, &k->pkey);
		if (q == -EINVAL)
			return -EINVAL;
		if (q < 0)
			k->consistent = false;
		if (rd_mpint(&o, &op) < 0 || rd_mpint(&o, &oq) < 0 || rd_mpint(&o, &og) < 0 || rd_mpint(&o, &oy) < 0 ||
		    !bytes_same(op, p) || !bytes_same(oq, qq) || !bytes_same(og, g) || !bytes_same(oy, y))
			k->consistent = false;
		return 0;
	}

	/* Security-key handles (sk-*), certificates, future types. */
	return -EOPNOTSUPP;
}

/* Ciphers whose authentication tag follows the encrypted section. */
static size_t cipher_tag_len(struct key_bytes cipher)
{
	if (bytes_eq(cipher, "chacha20-poly1305@openssh.com") || bytes_eq(cipher, "aes128-gcm@openssh.com") ||
	    bytes_eq(cipher, "aes256-gcm@openssh.com"))
		return 16;
	return 0;
}

int openssh_describe(const uint8_t *blob, size_t n, struct finding *f)
{
	struct rd r = { blob, n }, pk, priv;
	struct key_bytes cipher, kdf, kdfopts, pubkey = { NULL, 0 }, section, tmp;
	struct parsed_key k = { NULL, true, NULL };
	uint32_t nkeys, check1, check2;
	struct finding out = { .detector = f->detector, .offset = f->offset };
	int q;

	if (n < OPENSSH_MAGIC_LEN || memcmp(blob, OPENSSH_MAGIC, OPENSSH_MAGIC_LEN) != 0)
		return -EINVAL;
	r.p += OPENSSH_MAGIC_LEN;
	r.n -= OPENSSH_MAGIC_LEN;

	if (rd_string(&r, &cipher) < 0 || !name_ok(cipher) || rd_string(&r, &kdf) < 0 || !name_ok(kdf) ||
	    rd_string(&r, &kdfopts) < 0 || kdfopts.n > OPENSSH_MAX_KDFOPTS)
		return -EINVAL;
	if (rd_u32(&r, &nkeys) < 0 || nkeys == 0 || nkeys > OPENSSH_MAX_KEYS)
		return -EINVAL;
	for (uint32_t i = 0; i < nkeys; i++) {
		if (rd_string(&r, &tmp) < 0 || tmp.n == 0)
			return -EINVAL;
		if (i == 0)
			pubkey = tmp;
	}
	if (rd_string(&r, &section) < 0 || section.n == 0 || section.n % 8 != 0)
		return -EINVAL;
	pk = (struct rd){ pubkey.p, pubkey.n };
	if (rd_string(&pk, &tmp) < 0 || !name_ok(tmp))
		return -EINVAL; /* the public blob starts with the key type */
	out.length = (uint64_t)(section.p + section.n - blob);

	if (!bytes_eq(cipher, "none")) {
		size_t tag = cipher_tag_len(cipher);

		if (bytes_eq(kdf, "none"))
			return -EINVAL; /* a cipher needs a key */
		if (r.n >= tag)
			out.length += tag;
		snprintf(out.key_type, sizeof(out.key_type), "openssh-encrypted");
		out.severity = SEV_HIGH;
		out.note = "encrypted OpenSSH key (passphrase not tried)";
		*f = out;
		return 0;
	}

	/* Unencrypted: the two check integers are written equal; a mismatch
	 * means this is not (or no longer) a key. */
	priv = (struct rd){ section.p, section.n };
	if (rd_u32(&priv, &check1) < 0 || rd_u32(&priv, &check2) < 0 || check1 != check2)
		return -EINVAL;
	q = parse_private_key(&priv, pubkey, &k);
	if (q == -EINVAL)
		goto not_key;
	if (q == -EOPNOTSUPP) {
		EVP_PKEY_free(k.pkey);
		snprintf(out.key_type, sizeof(out.key_type), "openssh-unsupported");
		out.severity = SEV_HIGH;
		out.note = "unencrypted OpenSSH key of an unsupported type";
		*f = out;
		return 0;
	}
	if (rd_string(&priv, &tmp) < 0) /* comment: read over, never copied */
		goto not_key;

	if (k.pkey && keyutil_describe(k.pkey, &out) == 0 && out.verified && k.consistent) {
		out.verified = true;
		out.severity = SEV_CRITICAL;
		out.note = NULL;
	} else {
		out.verified = false;
		out.public_sha256[0] = '\0';
		out.severity = SEV_HIGH;
		out.note = "key material inconsistent";
	}
	if (!out.key_type[0])
		snprintf(out.key_type, sizeof(out.key_type), "%s", k.fallback);
	EVP_PKEY_free(k.pkey);
	*f = out;
	return 0;

not_key:
	EVP_PKEY_free(k.pkey);
	return -EINVAL;
}

/* ---- the detector */

static const struct detector_pattern openssh_patterns[] = {
	{ .regex = "openssh-key-v1\\x00", .width = OPENSSH_MAGIC_LEN },
};

static void openssh_on_match(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len, size_t pos,
			     uint64_t win_off)
{
	struct finding f = { .detector = "openssh", .offset = win_off + pos };

	if (pos >= win_len)
		return;
	if (openssh_describe(win + pos, win_len - pos, &f) < 0)
		return;
	scan_emit(ctx, &f);
}

const struct detector detector_openssh = {
	.name = "openssh",
	.patterns = openssh_patterns,
	.n_patterns = ELEMENTSOF(openssh_patterns),
	.on_match = openssh_on_match,
};
