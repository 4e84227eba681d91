/* fuzz-jwk.c - the JWK detector and json_enclosing_object() on a window.
 *
 * The input is one window (win_off 0); the detector is called at every
 * "kty" anchor in it, as the engine would.  scan_emit() here replaces the
 * engine's and checks each finding's invariants (a "jwk" finding inside
 * the input, strings terminated, verified => critical with a fingerprint,
 * unverified => high without one); json_enclosing_object() must return an
 * object that starts with '{', ends with '}' and holds the anchor.
 *
 * Link with only what the detector needs (tests/fuzz/run.sh does this):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DDG_LIBFUZZER -D_GNU_SOURCE -I gate -I gate/scan \
 *     -I BUILD tests/fuzz/fuzz-jwk.c gate/scan/det-jwk.c gate/scan/det-openssh.c gate/scan/keyutil.c \
 *     gate/util.c -lcrypto -ljansson
 *
 * Under libFuzzer, LLVMFuzzerInitialize() first runs the built-in corpus:
 * JWKs made at start-up (RSA with and without factors, P-256, Ed25519, a
 * JWK Set, decoys; it aborts unless the real keys verify), truncations and
 * byte changes.  Without DG_LIBFUZZER (gcc works) main() runs the files
 * named on the command line once, or that corpus.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "fuzz-file.h"
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "detector.h"

struct scan_ctx {
	size_t size;
	unsigned findings, verified;
};

static bool hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

void scan_emit(struct scan_ctx *ctx, const struct finding *f)
{
	if (!f->detector || strcmp(f->detector, "jwk") != 0)
		abort();
	if ((unsigned)f->severity > SEV_CRITICAL || f->length == 0 || f->offset > ctx->size ||
	    f->length > ctx->size - f->offset)
		abort();
	if (!memchr(f->key_type, '\0', sizeof(f->key_type)) || !f->key_type[0] ||
	    !memchr(f->public_sha256, '\0', sizeof(f->public_sha256)))
		abort();
	if (f->verified && (f->severity != SEV_CRITICAL || !hex64(f->public_sha256)))
		abort();
	if (!f->verified && (f->severity != SEV_HIGH || f->public_sha256[0]))
		abort();
	ctx->findings++;
	ctx->verified += f->verified;
}

/* Every "kty" anchor: the helper's answer checked, then the detector. */
static unsigned run_window(const uint8_t *data, size_t size)
{
	struct scan_ctx ctx = { .size = size };
	const uint8_t *p = data, *end = data + size;

	while (p < end) {
		const uint8_t *hit = memmem(p, (size_t)(end - p), "\"kty\"", 5);
		size_t pos, st, en;

		if (!hit)
			break;
		pos = (size_t)(hit - data);
		if (json_enclosing_object(data, size, pos, &st, &en) == 0 &&
		    !(st < pos && en > pos && en <= size && data[st] == '{' && data[en - 1] == '}'))
			abort();
		detector_jwk.on_match(&ctx, 0, data, size, pos, 0);
		p = hit + 1;
	}
	return ctx.verified;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_window(data, size);
	return 0;
}

/* ---- the built-in corpus */

static char *b64url(const uint8_t *p, size_t n)
{
	char *out = malloc(n / 3 * 4 + 8);
	int len;

	if (!out)
		abort();
	len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (char *c = out; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	return out;
}

static char *bn64(EVP_PKEY *k, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	uint8_t b[600];
	int n;
	char *s;

	if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
		abort();
	n = pad ? BN_bn2binpad(bn, b, pad) : BN_bn2bin(bn, b);
	s = b64url(b, (size_t)n);
	BN_clear_free(bn);
	return s;
}

static void mutate_all(const char *text)
{
	static const uint8_t subst[] = { '{', '}', '"', '\\', '[', ']', ':', ',', 'A', 0 };
	size_t n = strlen(text);
	uint8_t *m = malloc(n ? n : 1);

	if (!m)
		abort();
	for (size_t cut = 0; cut <= n; cut++)
		run_window((const uint8_t *)text, cut);
	memcpy(m, text, n);
	for (size_t i = 0; i < n; i += 3)
		for (size_t s = 0; s < sizeof(subst); s++) {
			uint8_t old = m[i];
			m[i] = subst[s];
			run_window(m, n);
			m[i] = old;
		}
	free(m);
}

static int expect(const char *what, const char *text, unsigned verified)
{
	if (run_window((const uint8_t *)text, strlen(text)) != verified) {
		fprintf(stderr, "fuzz-jwk: built-in %s: expected %u verified keys\n", what, verified);
		return 1;
	}
	return 0;
}

static int builtin_corpus(void)
{
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char buf[8192], *n, *e, *d, *p, *q, *x, *y, *ed_x, *ed_d, *ec_d;
	uint8_t pt[65], raw[32];
	size_t ptlen = 0, rl = sizeof(raw);
	int r = 0;

	if (!rsa || !ec || !ed)
		return 1;
	n = bn64(rsa, OSSL_PKEY_PARAM_RSA_N, 0);
	e = bn64(rsa, OSSL_PKEY_PARAM_RSA_E, 0);
	d = bn64(rsa, OSSL_PKEY_PARAM_RSA_D, 0);
	p = bn64(rsa, OSSL_PKEY_PARAM_RSA_FACTOR1, 0);
	q = bn64(rsa, OSSL_PKEY_PARAM_RSA_FACTOR2, 0);
	if (EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen) != 1 || ptlen != 65)
		abort();
	x = b64url(pt + 1, 32);
	y = b64url(pt + 33, 32);
	ec_d = bn64(ec, OSSL_PKEY_PARAM_PRIV_KEY, 32);
	EVP_PKEY_get_raw_public_key(ed, raw, &rl);
	ed_x = b64url(raw, 32);
	rl = sizeof(raw);
	EVP_PKEY_get_raw_private_key(ed, raw, &rl);
	ed_d = b64url(raw, 32);

	snprintf(buf, sizeof(buf), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"d\":\"%s\",\"p\":\"%s\",\"q\":\"%s\"}", n,
		 e, d, p, q);
	r |= expect("RSA", buf, 1);
	for (size_t cut = 0; cut <= strlen(buf); cut += 7) /* RSA is slow: every 7th truncation */
		run_window((const uint8_t *)buf, cut);
	snprintf(buf, sizeof(buf), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"d\":\"%s\"}", n, e, d);
	r |= expect("RSA without factors", buf, 1);

	snprintf(buf, sizeof(buf),
		 "junk{\"use\":\"sig\", \"kty\" : \"EC\", \"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}junk", x,
		 y, ec_d);
	r |= expect("EC", buf, 1);
	mutate_all(buf);
	snprintf(buf, sizeof(buf),
		 "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"d\":\"%s\"},"
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},{\"s\":\"}\\\"{\",\"kty\":\"OKP\"}]}",
		 ed_x, ed_d, x, y);
	r |= expect("JWK Set", buf, 1);
	mutate_all(buf);
	mutate_all("{\"a\":{\"kty\":[1,{\"kty\":\"EC\",\"d\":\"AA\"}]},\"kty\":\"OKP\",\"crv\":\"X25519\",\"d\":\"\"}");

	free(n);
	free(e);
	free(d);
	free(p);
	free(q);
	free(x);
	free(y);
	free(ec_d);
	free(ed_x);
	free(ed_d);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	return r;
}

#ifdef DG_LIBFUZZER
/* Once before fuzzing: the built-in keys must verify, or the fuzzer would
 * be exercising a detector that finds nothing. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (builtin_corpus() != 0)
		abort();
	return 0;
}
#else
static int run_file(const char *path)
{
	size_t n = 0;
	uint8_t *buf = fuzz_read_file("fuzz-jwk", path, &n);

	if (!buf)
		return 1;
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int r = 0;

	if (argc < 2) {
		r = builtin_corpus();
		if (r == 0)
			printf("fuzz-jwk: built-in corpus, truncations and byte changes: ok\n");
		return r;
	}
	for (int i = 1; i < argc; i++)
		r |= run_file(argv[i]);
	if (r == 0)
		printf("fuzz-jwk: %d inputs: ok\n", argc - 1);
	return r;
}
#endif
