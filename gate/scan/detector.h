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
 * (RSA: p*q == n and d,e consistent via EVP_PKEY_pairwise_check; EC:
 * d*G == Q; Ed25519/X25519: public derived from the private seed).
 * Returns 0 when the key is a consistent private key, -EINVAL if not (then
 * nothing should be reported as verified). */
int keyutil_describe(struct evp_pkey_st *pkey, struct finding *f);
/* Base64 (standard alphabet, whitespace skipped, '=' padding) and base64url
 * (no padding needed) decoding into out (cap bytes); -EINVAL on bad input. */
int keyutil_b64decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len, bool url);
