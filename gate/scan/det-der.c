/* det-der.c - binary DER private keys anywhere in the data.
 *
 * Every private key structure we look for is a SEQUENCE whose first element
 * is a small version INTEGER:
 *
 *	RSAPrivateKey (PKCS#1)    SEQUENCE { INTEGER 0, n, e, d, p, q, dP, dQ, qInv }
 *	                          (version 1 and a SEQUENCE of more primes: multi-prime)
 *	DSAPrivateKey (OpenSSL)   SEQUENCE { INTEGER 0, p, q, g, y, x }
 *	PrivateKeyInfo (PKCS#8)   SEQUENCE { INTEGER 0|1, AlgorithmIdentifier,
 *	                                     OCTET STRING, [0] attrs?, [1] pub? }
 *	ECPrivateKey (SEC1)       SEQUENCE { INTEGER 1, OCTET STRING d, [0] curve?, [1] pub? }
 *
 * so the anchors are the SEQUENCE header (short, 0x81, 0x82 and 0x83 length
 * forms) followed by the version INTEGER, each its own fixed-width pattern.
 * On an anchor the structure must fit in DETECTOR_LOOKAHEAD bytes, and
 * keyutil_der_private() does the rest: a walk over the top-level elements
 * (no OpenSSL) decides which one of the shapes above it has, if any, so
 * random bytes and the many other SEQUENCE { INTEGER 0, ... } structures
 * (certificate requests, CMS) are rejected before OpenSSL is asked (its
 * decoders cost about a millisecond a call); then exactly one d2i for that
 * shape must consume exactly the whole structure.  keyutil_describe()
 * checks the key mathematically: critical only when verified.
 *
 * A PKCS#1 structure inside a PKCS#8 wrapper matches an anchor too; it is
 * skipped when the PKCS#8 around it parses (that one is reported at its
 * own anchor).  The engine's containment dedup would merge most such pairs
 * anyway, but not RSA-PSS, whose inner PKCS#1 has another fingerprint.
 * (SEC1 inside PKCS#8 carries no curve and is not parsed alone.)  PKCS#8 v2 (RFC 5958, with a [1] publicKey)
 * goes through keyutil_pkcs8(), which also checks that publicKey.
 *
 * Certificates (SEQUENCE { SEQUENCE ...) and SubjectPublicKeyInfo
 * (SEQUENCE { SEQUENCE { OID ...) do not match any anchor.  The window holds
 * secret bytes; nothing of them is copied into a finding (I7).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "detector.h"
#include "util.h"

#define P(re, w) { .regex = re, .width = w }

static const struct detector_pattern der_patterns[] = {
	/* version 0: PKCS#1 (two primes), OpenSSL DSA, PKCS#8 v1 */
	P("\\x30[\\x00-\\x7f]\\x02\\x01\\x00", 5),
	P("\\x30\\x81.\\x02\\x01\\x00", 6),
	P("\\x30\\x82..\\x02\\x01\\x00", 7),
	P("\\x30\\x83...\\x02\\x01\\x00", 8),
	/* version 1 + OCTET STRING of 24..66 bytes (P-192..P-521): SEC1 */
	P("\\x30[\\x00-\\x7f]\\x02\\x01\\x01\\x04[\\x18-\\x42]", 7),
	P("\\x30\\x81.\\x02\\x01\\x01\\x04[\\x18-\\x42]", 8),
	P("\\x30\\x82..\\x02\\x01\\x01\\x04[\\x18-\\x42]", 9),
	/* version 1 + AlgorithmIdentifier: PKCS#8 v2 (OneAsymmetricKey, RFC 5958) */
	P("\\x30[\\x00-\\x7f]\\x02\\x01\\x01\\x30", 6),
	P("\\x30\\x81.\\x02\\x01\\x01\\x30", 7),
	P("\\x30\\x82..\\x02\\x01\\x01\\x30", 8),
	/* version 1 + modulus of >= 128 bytes: multi-prime PKCS#1 */
	P("\\x30\\x82..\\x02\\x01\\x01\\x02[\\x81\\x82]", 9),
};

/* A TLV header at p (avail bytes): definite length of up to three bytes,
 * value within avail. */
static bool tlv(const uint8_t *p, size_t avail, uint8_t *ret_tag, size_t *ret_hdr, size_t *ret_len)
{
	size_t nb, len = 0;

	if (avail < 2)
		return false;
	if (p[1] < 0x80) {
		*ret_hdr = 2;
		len = p[1];
	} else {
		nb = p[1] & 0x7f;
		if (nb == 0 || nb > 3 || avail < 2 + nb)
			return false;
		for (size_t k = 0; k < nb; k++)
			len = len << 8 | p[2 + k];
		*ret_hdr = 2 + nb;
	}
	if (len > avail - *ret_hdr)
		return false;
	*ret_tag = p[0];
	*ret_len = len;
	return true;
}

/* Is the structure win[pos..pos+total) the privateKey OCTET STRING of a
 * PKCS#8 that starts shortly before it and parses?  That one is reported
 * at its own anchor; the inner one would be a second finding for the same
 * key, which the engine cannot always merge (RSA-PSS: the inner PKCS#1
 * alone has another public key fingerprint). */
static bool inside_pkcs8(const uint8_t *win, size_t pos, size_t total, size_t lim)
{
	size_t oct;
	uint8_t tag;
	size_t hdr, len;

	if (pos >= 2 && total < 0x80 && win[pos - 2] == 0x04 && win[pos - 1] == total)
		oct = pos - 2;
	else if (pos >= 3 && win[pos - 3] == 0x04 && win[pos - 2] == 0x81 && win[pos - 1] == total)
		oct = pos - 3;
	else if (pos >= 4 && win[pos - 4] == 0x04 && win[pos - 3] == 0x82 &&
		 ((size_t)win[pos - 2] << 8 | win[pos - 1]) == total)
		oct = pos - 4;
	else
		return false;

	/* SEQUENCE { INTEGER 0|1, AlgorithmIdentifier ending at oct, ... };
	 * an AlgorithmIdentifier with explicit EC parameters is ~300 bytes */
	for (size_t back = 1; back <= 512 && back <= oct; back++) {
		size_t s = oct - back, v, alg, alen, ahdr;
		EVP_PKEY *pkey = NULL;
		bool mismatch = false, wrapped;

		if (win[s] != 0x30 || !tlv(win + s, lim - s, &tag, &hdr, &len) || s + hdr + len < pos + total)
			continue;
		v = s + hdr;
		alg = v + 3;
		if (alg >= oct || win[v] != 0x02 || win[v + 1] != 0x01 || win[v + 2] > 1)
			continue;
		if (!tlv(win + alg, lim - alg, &tag, &ahdr, &alen) || tag != 0x30 || alg + ahdr + alen != oct)
			continue;
		wrapped = keyutil_der_private(win + s, lim - s, &len, &mismatch, &pkey) == 0;
		EVP_PKEY_free(pkey);
		if (wrapped)
			return true;
	}
	return false;
}

static void der_on_match(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len, size_t pos,
			 uint64_t win_off)
{
	size_t lim, hdr = 0, total = 0;
	uint8_t tag;
	EVP_PKEY *pkey = NULL;
	struct finding f = { .detector = "der", .offset = win_off + pos };
	bool pub_mismatch = false;
	int r;

	if (pattern >= ELEMENTSOF(der_patterns) || pos >= win_len)
		return;
	lim = win_len - pos > DETECTOR_LOOKAHEAD ? pos + DETECTOR_LOOKAHEAD : win_len;
	if (tlv(win + pos, lim - pos, &tag, &hdr, &total) && inside_pkcs8(win, pos, hdr + total, lim))
		return;
	if (keyutil_der_private(win + pos, lim - pos, &total, &pub_mismatch, &pkey) < 0)
		return;

	f.length = total;
	r = keyutil_describe(pkey, &f);
	EVP_PKEY_free(pkey);
	if (r == 0 && pub_mismatch) {
		r = -EINVAL; /* PKCS#8 v2 publicKey of another key */
		f.verified = false;
	}
	if (r == 0) {
		f.severity = SEV_CRITICAL;
	} else {
		f.severity = SEV_HIGH;
		f.note = r == -EINVAL ? "key material inconsistent" : "private key not verified";
	}
	if (!f.key_type[0])
		snprintf(f.key_type, sizeof(f.key_type), "private-key");
	scan_emit(ctx, &f);
}

const struct detector detector_der = {
	.name = "der",
	.patterns = der_patterns,
	.n_patterns = ELEMENTSOF(der_patterns),
	.on_match = der_on_match,
};
