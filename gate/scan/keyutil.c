/* keyutil.c - OpenSSL in one place for the key detectors: describe and
 * verify a private key, and decode base64.
 *
 * Everything here works on borrowed inputs, keeps no state between calls
 * (thread-safe: OpenSSL's error queue is per thread and is cleared after
 * every failure we cause) and never copies secret bytes into a finding
 * (I7): a finding gets a type name, a size and the SHA-256 of the PUBLIC
 * key.  Secret intermediates (private factors, raw private keys) are wiped
 * before they are freed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "detector.h"
#include "util.h"

/* RSA keys have at most this many primes (OpenSSL caps multi-prime keys
 * at 5; RFC 8017 has no limit, but we only verify what OpenSSL can load). */
#define RSA_MAX_FACTORS 10

static void bn_clear_freep(BIGNUM **p)
{
	BN_clear_free(*p);
}
static void bn_ctx_freep(BN_CTX **p)
{
	BN_CTX_free(*p);
}
static void pkey_freep(EVP_PKEY **p)
{
	EVP_PKEY_free(*p);
}
static void pkey_ctx_freep(EVP_PKEY_CTX **p)
{
	EVP_PKEY_CTX_free(*p);
}
#define _cleanup_bn_ _cleanup_(bn_clear_freep)
#define _cleanup_bn_ctx_ _cleanup_(bn_ctx_freep)
#define _cleanup_pkey_ _cleanup_(pkey_freep)
#define _cleanup_pkey_ctx_ _cleanup_(pkey_ctx_freep)

/* ---- type names */

static void set_ec_type(EVP_PKEY *pkey, struct finding *f)
{
	/* The group name comes from OpenSSL's own table (the artifact only
	 * carries an OID), but keep the copy to a harmless alphabet anyway. */
	static const struct {
		const char *group;
		const char *name;
	} known[] = {
		{ "prime256v1", "ec-p256" }, { "P-256", "ec-p256" },         { "secp384r1", "ec-p384" },
		{ "P-384", "ec-p384" },      { "secp521r1", "ec-p521" },      { "P-521", "ec-p521" },
		{ "secp256k1", "ec-secp256k1" },
	};
	char group[64] = "";
	size_t glen = 0;

	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1 ||
	    glen == 0) {
		ERR_clear_error();
		/* explicit curve parameters: no name to give */
		snprintf(f->key_type, sizeof(f->key_type), "ec");
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(known); i++)
		if (strcmp(group, known[i].group) == 0) {
			snprintf(f->key_type, sizeof(f->key_type), "%s", known[i].name);
			return;
		}
	for (char *c = group; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '_' || *c == '.'))
			*c = '_';
	snprintf(f->key_type, sizeof(f->key_type), "ec-%.28s", group);
}

/* ---- verification, one function per family.  Each returns 0 when the
 * public half recomputed from the private part matches, -EINVAL when it
 * does not (or private parts are missing), -ENOMEM on allocation failure. */

/* RSA: n must equal the product of the private factors, and e*d must be 1
 * modulo r_i - 1 for every factor r_i (equivalently e*d == 1 modulo
 * lcm(r_i - 1): d is an inverse of e, so m^(e*d) == m mod n).
 *
 * Deliberately not EVP_PKEY_pairwise_check(): for RSA, OpenSSL 3.0 also
 * proves p and q prime there, which costs 0.5 s for a 4096-bit key, 6 s
 * for 8192 bits and about a minute for 16384 bits, per key - a dump full
 * of keys would turn the scanner's timeout into the verdict.  Primality
 * says nothing about whether the bytes are a usable leaked key. */
static int verify_rsa(EVP_PKEY *pkey)
{
	static const char *const factor_names[RSA_MAX_FACTORS] = {
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_FACTOR3,
		OSSL_PKEY_PARAM_RSA_FACTOR4, OSSL_PKEY_PARAM_RSA_FACTOR5, OSSL_PKEY_PARAM_RSA_FACTOR6,
		OSSL_PKEY_PARAM_RSA_FACTOR7, OSSL_PKEY_PARAM_RSA_FACTOR8, OSSL_PKEY_PARAM_RSA_FACTOR9,
		OSSL_PKEY_PARAM_RSA_FACTOR10,
	};
	_cleanup_bn_ctx_ BN_CTX *ctx = NULL;
	_cleanup_bn_ BIGNUM *n = NULL, *e = NULL, *d = NULL, *prod = NULL, *r = NULL, *rm1 = NULL, *t = NULL;
	unsigned nfactors = 0;

	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) != 1)
		return -EINVAL;
	ctx = BN_CTX_secure_new();
	prod = BN_new();
	rm1 = BN_new();
	t = BN_new();
	if (!ctx || !prod || !rm1 || !t || !BN_one(prod))
		return -ENOMEM;
	if (BN_is_zero(n) || BN_is_negative(n) || BN_cmp(e, BN_value_one()) <= 0 || BN_is_zero(d) ||
	    BN_is_negative(d))
		return -EINVAL;

	for (unsigned i = 0; i < RSA_MAX_FACTORS; i++) {
		BN_clear_free(r);
		r = NULL;
		if (EVP_PKEY_get_bn_param(pkey, factor_names[i], &r) != 1)
			break;
		nfactors++;
		/* a factor of 1 (or less) makes n = p*q trivially true */
		if (BN_is_negative(r) || BN_cmp(r, BN_value_one()) <= 0)
			return -EINVAL;
		if (!BN_mul(prod, prod, r, ctx) || !BN_sub(rm1, r, BN_value_one()) || !BN_mod_mul(t, e, d, rm1, ctx))
			return -ENOMEM;
		if (!BN_is_one(t))
			return -EINVAL;
	}
	if (nfactors < 2)
		return -EINVAL; /* public key, or private key without factors */
	if (BN_cmp(prod, n) != 0)
		return -EINVAL;
	return 0;
}

/* EC, DSA, DH: OpenSSL's pairwise check recomputes the public value from
 * the private one (EC: Q == d*G; DSA/DH: y == g^x mod p) and checks it. */
static int verify_pairwise(EVP_PKEY *pkey)
{
	_cleanup_pkey_ctx_ EVP_PKEY_CTX *pctx = NULL;

	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!pctx)
		return -ENOMEM;
	if (EVP_PKEY_pairwise_check(pctx) != 1)
		return -EINVAL;
	return 0;
}

/* Ed25519, X25519, Ed448, X448: derive the public key from the raw private
 * key with a fresh EVP_PKEY and compare it with the one the key carries. */
static int verify_ecx(EVP_PKEY *pkey, const char *alg)
{
	uint8_t priv[64], pub[64], pub2[64];
	size_t privlen = sizeof(priv), publen = sizeof(pub), pub2len = sizeof(pub2);
	_cleanup_pkey_ EVP_PKEY *derived = NULL;
	int r = -EINVAL;

	if (EVP_PKEY_get_raw_private_key(pkey, priv, &privlen) != 1)
		goto out;
	if (EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1)
		goto out;
	derived = EVP_PKEY_new_raw_private_key_ex(NULL, alg, NULL, priv, privlen);
	if (!derived)
		goto out;
	if (EVP_PKEY_get_raw_public_key(derived, pub2, &pub2len) != 1)
		goto out;
	if (publen == pub2len && CRYPTO_memcmp(pub, pub2, publen) == 0)
		r = 0;
out:
	OPENSSL_cleanse(priv, sizeof(priv));
	return r;
}

static int public_sha256(EVP_PKEY *pkey, char out[static 65])
{
	unsigned char *der = NULL;
	int len;

	len = i2d_PUBKEY(pkey, &der);
	if (len <= 0)
		return -EINVAL;
	sha256_hex(der, (size_t)len, out);
	OPENSSL_free(der);
	return 0;
}

int keyutil_describe(struct evp_pkey_st *pkey, struct finding *f)
{
	int r, bits;

	f->key_type[0] = '\0';
	f->public_sha256[0] = '\0';
	f->bits = 0;
	f->verified = false;
	if (!pkey)
		return -EINVAL;

	bits = EVP_PKEY_get_bits(pkey);
	if (bits > 0)
		f->bits = (unsigned)bits;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		snprintf(f->key_type, sizeof(f->key_type), "rsa");
		r = verify_rsa(pkey);
	} else if (EVP_PKEY_is_a(pkey, "RSA-PSS")) {
		snprintf(f->key_type, sizeof(f->key_type), "rsa-pss");
		r = verify_rsa(pkey);
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		set_ec_type(pkey, f);
		r = verify_pairwise(pkey);
	} else if (EVP_PKEY_is_a(pkey, "SM2")) {
		snprintf(f->key_type, sizeof(f->key_type), "sm2");
		r = verify_pairwise(pkey);
	} else if (EVP_PKEY_is_a(pkey, "DSA")) {
		snprintf(f->key_type, sizeof(f->key_type), "dsa");
		r = verify_pairwise(pkey);
	} else if (EVP_PKEY_is_a(pkey, "DH") || EVP_PKEY_is_a(pkey, "DHX")) {
		snprintf(f->key_type, sizeof(f->key_type), "dh");
		r = verify_pairwise(pkey);
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		snprintf(f->key_type, sizeof(f->key_type), "ed25519");
		r = verify_ecx(pkey, "ED25519");
	} else if (EVP_PKEY_is_a(pkey, "X25519")) {
		snprintf(f->key_type, sizeof(f->key_type), "x25519");
		r = verify_ecx(pkey, "X25519");
	} else if (EVP_PKEY_is_a(pkey, "ED448")) {
		snprintf(f->key_type, sizeof(f->key_type), "ed448");
		r = verify_ecx(pkey, "ED448");
	} else if (EVP_PKEY_is_a(pkey, "X448")) {
		snprintf(f->key_type, sizeof(f->key_type), "x448");
		r = verify_ecx(pkey, "X448");
	} else {
		r = -EOPNOTSUPP; /* key_type stays "": the caller names it */
	}

	/* The fingerprint of the public half as stored is useful even when the
	 * key is inconsistent; it is public either way. */
	if (public_sha256(pkey, f->public_sha256) < 0)
		f->public_sha256[0] = '\0';

	ERR_clear_error();
	f->verified = r == 0;
	return r;
}

/* ---- PKCS#8 */

/* One DER TLV header at p (avail bytes), definite length of at most three
 * bytes, value within avail. */
static bool der_tlv(const uint8_t *p, size_t avail, uint8_t *ret_tag, size_t *ret_hdr, size_t *ret_len)
{
	size_t hdr, len;

	if (avail < 2)
		return false;
	if (p[1] < 0x80) {
		hdr = 2;
		len = p[1];
	} else {
		size_t nb = p[1] & 0x7f;

		if (nb == 0 || nb > 3 || avail < 2 + nb)
			return false;
		len = 0;
		for (size_t k = 0; k < nb; k++)
			len = len << 8 | p[2 + k];
		hdr = 2 + nb;
	}
	if (len > avail - hdr)
		return false;
	*ret_tag = p[0];
	*ret_hdr = hdr;
	*ret_len = len;
	return true;
}

static size_t der_put_len(uint8_t *out, size_t len)
{
	if (len < 0x80) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len < 0x100) {
		out[0] = 0x81;
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len < 0x10000) {
		out[0] = 0x82;
		out[1] = (uint8_t)(len >> 8);
		out[2] = (uint8_t)len;
		return 3;
	}
	out[0] = 0x83;
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	return 4;
}

static EVP_PKEY *pkcs8_v1(const uint8_t *der, size_t n, size_t *ret_len)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)n);
	EVP_PKEY *pkey = NULL;

	if (!p8)
		return NULL;
	pkey = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (pkey)
		*ret_len = (size_t)(p - der);
	return pkey;
}

/* Does the publicKey of a OneAsymmetricKey (BIT STRING contents, unused
 * bits byte first) belong to pkey? */
static bool pkcs8_pub_matches(EVP_PKEY *pkey, const uint8_t *bits, size_t n)
{
	uint8_t raw[64];
	size_t rawlen = sizeof(raw);
	unsigned char *enc = NULL;
	int enclen;
	bool same;

	if (n < 2 || bits[0] != 0)
		return false;
	bits++;
	n--;
	if (EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "X25519") || EVP_PKEY_is_a(pkey, "ED448") ||
	    EVP_PKEY_is_a(pkey, "X448")) {
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1)
			return false;
		return rawlen == n && memcmp(raw, bits, n) == 0;
	}
	/* RSA: RSAPublicKey; EC: the point as the key encodes it */
	enclen = i2d_PublicKey(pkey, &enc);
	same = enclen > 0 && (size_t)enclen == n && memcmp(enc, bits, n) == 0;
	OPENSSL_free(enc);
	return same;
}

/* RFC 5958 OneAsymmetricKey: version 1 and a [1] publicKey after the
 * optional [0] attributes.  OpenSSL 3.0 refuses the [1] field, so parse
 * the key from the same structure rewritten as version 0 without it, then
 * check the publicKey against the parsed private key. */
static int pkcs8_v2(const uint8_t *der, size_t n, size_t *ret_len, bool *ret_pub_mismatch, EVP_PKEY **ret)
{
	struct {
		uint8_t tag;
		size_t off, hdr, len;
	} e[5];
	size_t ne = 0, hdr, len, end, i, body, cap, at = 0, v1len = 0;
	uint8_t tag, *v1 = NULL;
	EVP_PKEY *pkey = NULL;
	bool has_attrs = false, has_pub = false;
	int r = -EINVAL;

	if (!der_tlv(der, n, &tag, &hdr, &len) || tag != 0x30)
		return -EINVAL;
	end = hdr + len;
	for (i = hdr; i < end; i += e[ne - 1].hdr + e[ne - 1].len) {
		if (ne == ELEMENTSOF(e) || !der_tlv(der + i, end - i, &e[ne].tag, &e[ne].hdr, &e[ne].len))
			return -EINVAL;
		e[ne].off = i;
		ne++;
	}
	if (ne < 3 || e[0].tag != 0x02 || e[0].len != 1 || der[e[0].off + e[0].hdr] != 1 || e[1].tag != 0x30 ||
	    e[2].tag != 0x04)
		return -EINVAL;
	i = 3;
	if (i < ne && e[i].tag == 0xa0) {
		has_attrs = true;
		i++;
	}
	if (i < ne && e[i].tag == 0x81) {
		has_pub = true;
		i++;
	}
	if (i != ne)
		return -EINVAL;

	body = 3 + e[1].hdr + e[1].len + e[2].hdr + e[2].len + (has_attrs ? e[3].hdr + e[3].len : 0);
	cap = body + 8;
	v1 = malloc(cap);
	if (!v1)
		return -ENOMEM;
	v1[at++] = 0x30;
	at += der_put_len(v1 + at, body);
	memcpy(v1 + at, "\x02\x01\x00", 3);
	at += 3;
	for (i = 1; i < (has_attrs ? 4u : 3u); i++) {
		memcpy(v1 + at, der + e[i].off, e[i].hdr + e[i].len);
		at += e[i].hdr + e[i].len;
	}
	pkey = pkcs8_v1(v1, at, &v1len);
	if (!pkey || v1len != at)
		goto out;
	*ret_pub_mismatch = false;
	if (has_pub) {
		size_t k = has_attrs ? 4 : 3;

		*ret_pub_mismatch = !pkcs8_pub_matches(pkey, der + e[k].off + e[k].hdr, e[k].len);
	}
	*ret_len = end;
	*ret = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	secure_free(v1, cap);
	return r;
}

int keyutil_pkcs8(const uint8_t *der, size_t n, size_t *ret_len, bool *ret_pub_mismatch, struct evp_pkey_st **ret)
{
	EVP_PKEY *pkey;
	size_t len = 0;
	int r;

	pkey = pkcs8_v1(der, n, &len);
	if (pkey) {
		*ret_len = len;
		*ret_pub_mismatch = false;
		*ret = pkey;
		return 0;
	}
	r = pkcs8_v2(der, n, ret_len, ret_pub_mismatch, ret);
	ERR_clear_error();
	return r;
}

/* ---- any DER private key structure */

enum der_shape {
	SHAPE_NONE,
	SHAPE_PKCS1, /* RSAPrivateKey: version 0 and 8 INTEGERs, or version 1, 8 INTEGERs and more primes */
	SHAPE_DSA,   /* OpenSSL's DSAPrivateKey: version 0 and 5 INTEGERs */
	SHAPE_PKCS8, /* version, AlgorithmIdentifier, OCTET STRING, [0] attributes?, [1] publicKey? */
	SHAPE_SEC1,  /* version 1, OCTET STRING, [0] curve, [1] public point? */
};

#define DER_MAX_ELEMS 12

/* Which key structure the SEQUENCE at der[0] has, from its top-level
 * elements alone; *ret_total: bytes of the whole TLV (within n). */
static enum der_shape der_shape(const uint8_t *der, size_t n, size_t *ret_total)
{
	struct {
		uint8_t tag;
		size_t off, hdr, len;
	} e[DER_MAX_ELEMS];
	size_t ne = 0, hdr, len, i, end;
	uint8_t tag;
	unsigned version;
	bool all_int = true;

	if (!der_tlv(der, n, &tag, &hdr, &len) || tag != 0x30)
		return SHAPE_NONE;
	end = hdr + len;
	for (i = hdr; i < end; i += e[ne - 1].hdr + e[ne - 1].len) {
		if (ne == DER_MAX_ELEMS || !der_tlv(der + i, end - i, &e[ne].tag, &e[ne].hdr, &e[ne].len))
			return SHAPE_NONE;
		e[ne].off = i;
		if (e[ne].tag != 0x02)
			all_int = false;
		ne++;
	}
	if (ne < 2 || e[0].tag != 0x02 || e[0].len != 1)
		return SHAPE_NONE;
	version = der[e[0].off + e[0].hdr];
	if (version > 1)
		return SHAPE_NONE;
	*ret_total = end;

	/* RSA and DSA moduli of fewer than 512 bits are not worth a decoder
	 * call (and small fake structures would be cheap to repeat). */
	if (all_int && version == 0 && ne == 9)
		return e[1].len >= 64 ? SHAPE_PKCS1 : SHAPE_NONE;
	if (all_int && version == 0 && ne == 6)
		return e[1].len >= 64 ? SHAPE_DSA : SHAPE_NONE;
	if (version == 1 && ne == 10 && e[9].tag == 0x30) {
		for (i = 1; i < 9; i++)
			if (e[i].tag != 0x02)
				return SHAPE_NONE;
		return e[1].len >= 64 ? SHAPE_PKCS1 : SHAPE_NONE; /* multi-prime */
	}
	if (ne >= 3 && ne <= 5 && e[1].tag == 0x30 && e[1].len >= 2 && der[e[1].off + e[1].hdr] == 0x06 &&
	    e[2].tag == 0x04 && e[2].len > 0) {
		i = 3;
		if (i < ne && e[i].tag == 0xa0)
			i++;
		if (i < ne && (e[i].tag == 0x81 || e[i].tag == 0xa1))
			i++;
		return i == ne ? SHAPE_PKCS8 : SHAPE_NONE;
	}
	/* without the [0] curve (as inside PKCS#8) SEC1 cannot be parsed */
	if (version == 1 && ne >= 3 && ne <= 4 && e[1].tag == 0x04 && e[1].len >= 1 && e[2].tag == 0xa0 &&
	    (ne == 3 || e[3].tag == 0xa1))
		return SHAPE_SEC1;
	return SHAPE_NONE;
}

int keyutil_der_private(const uint8_t *der, size_t n, size_t *ret_len, bool *ret_pub_mismatch,
			struct evp_pkey_st **ret)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey = NULL;
	size_t total = 0, len = 0;
	bool mismatch = false;
	int type, r;

	switch (der_shape(der, n, &total)) {
	case SHAPE_PKCS8:
		r = keyutil_pkcs8(der, total, &len, &mismatch, &pkey);
		if (r < 0)
			return r;
		if (len != total) {
			EVP_PKEY_free(pkey);
			return -EINVAL;
		}
		*ret_len = total;
		*ret_pub_mismatch = mismatch;
		*ret = pkey;
		return 0;
	case SHAPE_PKCS1:
		type = EVP_PKEY_RSA;
		break;
	case SHAPE_DSA:
		type = EVP_PKEY_DSA;
		break;
	case SHAPE_SEC1:
		type = EVP_PKEY_EC;
		break;
	default:
		return -EINVAL;
	}
	pkey = d2i_PrivateKey(type, NULL, &p, (long)total);
	if (!pkey || (size_t)(p - der) != total) {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		return -EINVAL;
	}
	*ret_len = total;
	*ret_pub_mismatch = false;
	*ret = pkey;
	return 0;
}

/* ---- base64 */

static int b64val(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static bool b64space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int keyutil_b64decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len, bool url)
{
	uint32_t acc = 0;
	unsigned quantum = 0; /* symbols in the current group of 4 */
	unsigned pad = 0;
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (b64space(c))
			continue;
		if (c == '=') {
			/* padding completes a group of 2 or 3 symbols */
			if (quantum + pad < 2 || quantum + pad >= 4)
				return -EINVAL;
			pad++;
			continue;
		}
		if (pad)
			return -EINVAL; /* data after padding */
		v = b64val(c, url);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		if (++quantum == 4) {
			if (cap - len < 3)
				return -ENOBUFS;
			out[len++] = (uint8_t)(acc >> 16);
			out[len++] = (uint8_t)(acc >> 8);
			out[len++] = (uint8_t)acc;
			acc = 0;
			quantum = 0;
		}
	}
	if (quantum == 1)
		return -EINVAL;
	if (pad && quantum + pad != 4)
		return -EINVAL;
	if (quantum == 2) {
		if (cap - len < 1)
			return -ENOBUFS;
		out[len++] = (uint8_t)(acc >> 4);
	} else if (quantum == 3) {
		if (cap - len < 2)
			return -ENOBUFS;
		out[len++] = (uint8_t)(acc >> 10);
		out[len++] = (uint8_t)(acc >> 2);
	}
	*ret_len = len;
	return 0;
}
