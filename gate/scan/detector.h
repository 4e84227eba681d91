/* detector.h - the contract between the scan engine and the detectors.
 *
 * The engine (engine.c) compiles the anchor patterns of every detector
 * into one vectorscan database and streams the bytes of a view (the raw
 * artifact, or one decoded stream) through it in windows.  For every
 * anchor match it calls the detector's on_match with the window around
 * the match; the detector validates (decodes, parses, checks the key
 * mathematically) and reports what it proved through scan_emit().
 *
 * Windows: the engine guarantees DETECTOR_LOOKBEHIND bytes before and
 * DETECTOR_LOOKAHEAD bytes after the match start whenever the view has
 * them, so a detector never needs to see bytes outside the window.
 * Anchors are reported once, in the window whose core holds their start.
 *
 * I7: a finding carries names, offsets, lengths, sizes and fingerprints
 * (SHA-256 of a PUBLIC key), never secret bytes; `note` is a fixed,
 * detector-written phrase, never text copied from the artifact.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DETECTOR_LOOKBEHIND (8 * 1024)
#define DETECTOR_LOOKAHEAD (64 * 1024)

enum severity {
	SEV_INFO = 0,
	SEV_MEDIUM,
	SEV_HIGH,
	SEV_CRITICAL,
};

struct finding {
	const char *detector;   /* static: "pem", "der", "openssh", "putty", "jwk", "cloud-sa", "token", "decoder" */
	enum severity severity;
	uint64_t offset;        /* in the view (raw: file offset; decoded: offset in the decoded stream) */
	uint64_t length;
	char key_type[32];      /* "rsa", "ec-p256", "ec-p384", "ec-p521", "ed25519", "x25519", "dsa",
	                         * "encrypted", "pgp", "jwt", "aws-access-key", ...; "" if none */
	unsigned bits;          /* key size in bits, 0 if not applicable */
	bool verified;          /* true only after the public half was recomputed and matched */
	char public_sha256[65]; /* SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex; "" if none */
	const char *note;       /* static short phrase, may be NULL */
};

struct scan_ctx; /* owned by the engine */

/* Report a finding; the engine fills pass and container and copies *f. */
void scan_emit(struct scan_ctx *ctx, const struct finding *f);

struct detector_pattern {
	const char *regex; /* vectorscan syntax, matched with HS_FLAG_DOTALL; no SOM needed: */
	unsigned width;    /* every anchor has this fixed width: start = end - width */
	unsigned flags;    /* extra HS_FLAG_* (e.g. HS_FLAG_CASELESS), usually 0 */
};

struct detector {
	const char *name;
	const struct detector_pattern *patterns;
	size_t n_patterns;
	/* Called for each anchor: win[0..win_len) is the window, pos the
	 * anchor's start inside it, win_off the view offset of win[0],
	 * pattern the index into patterns.  Must be thread-safe (no mutable
	 * static state) and must not allocate unboundedly. */
	void (*on_match)(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len,
			 size_t pos, uint64_t win_off);
};

/* Every detector, each in its own file (gate/scan/det-*.c). */
extern const struct detector detector_pem;
extern const struct detector detector_der;
extern const struct detector detector_openssh;
extern const struct detector detector_putty;
extern const struct detector detector_jwk;
extern const struct detector detector_cloud_sa;
extern const struct detector detector_token;

/* ---- helpers shared by detectors (keyutil.c): OpenSSL in one place. */
struct evp_pkey_st;
/* Fill f->key_type, bits and public_sha256 from a private key, and set
 * verified when the public half recomputed from the private part matches
 * (RSA: p*q == n and d,e consistent; EC:
 * d*G == Q; Ed25519/X25519: public derived from the private seed).
 * Returns 0 when the key is a consistent private key, -EINVAL if not (then
 * nothing should be reported as verified).
 * Details (keyutil.c): RSA is checked as n == product of all factors and
 * e*d == 1 mod (r_i - 1) for each factor r_i, not with OpenSSL's pairwise
 * check (that one also proves primality: 6 s per 8192-bit key).
 * key_type is "" and the result -EOPNOTSUPP for a key type it cannot
 * verify; -ENOMEM when OpenSSL runs out of memory.  Any nonzero result
 * leaves verified false; public_sha256 is filled whenever OpenSSL can
 * encode the public half, verified or not.  Thread-safe, no global state;
 * clears the calling thread's OpenSSL error queue. */
int keyutil_describe(struct evp_pkey_st *pkey, struct finding *f);
/* Base64 (standard alphabet, whitespace skipped, '=' padding) and base64url
 * (no padding needed) decoding into out (cap bytes); -EINVAL on bad input.
 * Padding is optional in both alphabets but must be right when present;
 * -ENOBUFS when cap is too small (out may then be partly written: wipe it
 * if the input was secret); ret_len is set only on success. */
int keyutil_b64decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len, bool url);
/* Parse a PKCS#8 PrivateKeyInfo starting at der[0] (n bytes available),
 * including RFC 5958 OneAsymmetricKey (version 1 with a [1] publicKey,
 * which OpenSSL 3.0 alone refuses).  0 with a new key in *ret (the caller
 * frees it), the bytes the structure occupies in *ret_len, and
 * *ret_pub_mismatch set when a [1] publicKey is present and is not the
 * private key's (then the finding must not be verified); -EINVAL if der
 * is not such a key; -ENOMEM. */
int keyutil_pkcs8(const uint8_t *der, size_t n, size_t *ret_len, bool *ret_pub_mismatch, struct evp_pkey_st **ret);
/* Any DER private key structure starting at der[0] (n bytes available):
 * PKCS#8 (as keyutil_pkcs8), RSAPrivateKey (PKCS#1, also multi-prime),
 * SEC1 ECPrivateKey with its curve, OpenSSL's DSAPrivateKey.  The
 * top-level elements are checked first, so that non-keys cost no OpenSSL
 * decoder (OpenSSL 3.0 spends about a millisecond per d2i_PrivateKey());
 * then one decoder must consume exactly the outer TLV.  Same results as
 * keyutil_pkcs8(). */
int keyutil_der_private(const uint8_t *der, size_t n, size_t *ret_len, bool *ret_pub_mismatch,
			struct evp_pkey_st **ret);

/* ---- OpenSSH keys (det-openssh.c). */
/* Describe an openssh-key-v1 blob (PROTOCOL.key: the magic
 * "openssh-key-v1\0" at blob[0]; the PEM detector passes the decoded body
 * of "-----BEGIN OPENSSH PRIVATE KEY-----").  Borrows blob[0..n); trailing
 * bytes after the key are ignored.  Returns 0 and fills every field of *f
 * except detector and offset (length: bytes of blob the key occupies), or
 * -EINVAL if blob is not a well-formed key (nothing to report). */
int openssh_describe(const uint8_t *blob, size_t n, struct finding *f);

/* Private keys from their components, shared by the OpenSSH, PuTTY and JWK
 * detectors (implemented in det-openssh.c).  Integers are big-endian
 * unsigned byte strings (leading zeros allowed); an absent part has n == 0.
 * Every function returns 0 and a new private EVP_PKEY in *ret (the caller
 * frees it), -EINVAL for malformed input or -EKEYREJECTED when the parts do
 * not form a key; secret intermediates are wiped. */
struct key_bytes {
	const uint8_t *p;
	size_t n;
};
/* RSA from n, e, d and the factors p, q (iqmp optional, checked when
 * given).  Without p and q the factors are recovered from n, e, d. */
int openssh_pkey_rsa(struct key_bytes n, struct key_bytes e, struct key_bytes d, struct key_bytes p,
		     struct key_bytes q, struct key_bytes iqmp, struct evp_pkey_st **ret);
/* EC on "nistp256", "nistp384" or "nistp521" from the private scalar d;
 * the public point is computed as d*G, never taken from the artifact, and
 * returned uncompressed (04||X||Y) in ret_pub (cap >= 133) for the caller
 * to compare with the public point the artifact claims. */
int openssh_pkey_ec(const char *curve, struct key_bytes d, uint8_t *ret_pub, size_t *ret_pub_len,
		    struct evp_pkey_st **ret);
/* DSA from p, q, g and x; the public y = g^x mod p is computed and must
 * equal the given y (else -EKEYREJECTED). */
int openssh_pkey_dsa(struct key_bytes p, struct key_bytes q, struct key_bytes g, struct key_bytes y,
		     struct key_bytes x, struct evp_pkey_st **ret);

/* ---- JSON (det-jwk.c), shared with det-cloud-sa.c. */
/* Find the innermost JSON object around win[pos]: looks back at most
 * DETECTOR_LOOKBEHIND bytes for its '{' and forward for the matching '}'
 * (string- and escape-aware), objects of at most 64 KiB.  Returns 0 with
 * win[*ret_start..*ret_end) the object ('{' .. '}' inclusive), or -ENOENT.
 * Only brackets are checked; the caller parses the object. */
int json_enclosing_object(const uint8_t *win, size_t win_len, size_t pos, size_t *ret_start, size_t *ret_end);
