/* fuzz-openssh.c - openssh_describe() and the OpenSSH detector on
 * arbitrary bytes.
 *
 * Each input is tried as given and behind the openssh-key-v1 magic (so
 * the fuzzer spends its time on the structure rather than on the magic),
 * and the detector is called as the engine would, at every magic in the
 * input taken as one window.  scan_emit() here replaces the engine's and
 * checks each finding's invariants: inside the input, strings terminated,
 * a verified key critical with a fingerprint, an unverified one without.
 *
 * Link with only what the detectors need (tests/fuzz/run.sh does this):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DDG_LIBFUZZER -D_GNU_SOURCE -I gate -I gate/scan \
 *     -I BUILD tests/fuzz/fuzz-openssh.c gate/scan/det-openssh.c gate/scan/keyutil.c gate/util.c \
 *     -lcrypto -ljansson
 *
 * Under libFuzzer, LLVMFuzzerInitialize() first runs the built-in corpus:
 * Ed25519 and ECDSA blobs made at start-up (it aborts unless they verify),
 * an encrypted header, every truncation and single-bit flips of each.
 * Without DG_LIBFUZZER (gcc works) main() runs the files named on the
 * command line once, or that corpus.
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

#define MAGIC "openssh-key-v1"
#define MAGIC_LEN 15

struct scan_ctx {
	size_t size;
	unsigned findings;
};

static bool hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

static void check_finding(const struct finding *f, size_t size)
{
	if ((unsigned)f->severity > SEV_CRITICAL || f->length == 0 || f->offset > size ||
	    f->length > size - f->offset)
		abort();
	if (!memchr(f->key_type, '\0', sizeof(f->key_type)) || !f->key_type[0] ||
	    !memchr(f->public_sha256, '\0', sizeof(f->public_sha256)))
		abort();
	if (f->verified && (f->severity != SEV_CRITICAL || !hex64(f->public_sha256)))
		abort();
	if (!f->verified && (f->severity != SEV_HIGH || f->public_sha256[0]))
		abort();
}

void scan_emit(struct scan_ctx *ctx, const struct finding *f)
{
	if (!f->detector || strcmp(f->detector, "openssh") != 0)
		abort();
	check_finding(f, ctx->size);
	ctx->findings++;
}

/* openssh_describe() at data[0]; 1 if it describes a verified key. */
static int describe(const uint8_t *data, size_t size)
{
	struct finding f = { .detector = "fuzz", .offset = 0 };

	if (openssh_describe(data, size, &f) < 0)
		return 0;
	if (strcmp(f.detector, "fuzz") != 0)
		abort();
	check_finding(&f, size);
	return f.verified;
}

static void detector_on_window(const uint8_t *data, size_t size)
{
	struct scan_ctx ctx = { .size = size };
	const uint8_t *p = data, *end = data + size;

	while (p < end) {
		const uint8_t *hit = memmem(p, (size_t)(end - p), MAGIC, MAGIC_LEN);

		if (!hit)
			break;
		detector_openssh.on_match(&ctx, 0, data, size, (size_t)(hit - data), 0);
		p = hit + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	describe(data, size);
	detector_on_window(data, size);
	if (size >= MAGIC_LEN && memcmp(data, MAGIC, MAGIC_LEN) == 0)
		return 0;
	buf = malloc(size + MAGIC_LEN);
	if (!buf)
		return 0;
	memcpy(buf, MAGIC, MAGIC_LEN);
	if (size) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(buf + MAGIC_LEN, data, size);
	describe(buf, size + MAGIC_LEN);
	free(buf);
	return 0;
}

/* ---- the built-in corpus: a small SSH wire writer */

struct w {
	uint8_t b[4096];
	size_t n;
};

static void put(struct w *w, const void *p, size_t n)
{
	if (w->n + n > sizeof(w->b))
		abort();
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put_u32(struct w *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 4);
}

static void put_str(struct w *w, const void *p, size_t n)
{
	put_u32(w, (uint32_t)n);
	put(w, p, n);
}

static void put_cstr(struct w *w, const char *s)
{
	put_str(w, s, strlen(s));
}

static void put_mpint(struct w *w, const BIGNUM *bn)
{
	uint8_t b[600];
	int n = BN_bn2bin(bn, b + 1);

	b[0] = 0;
	if (n > 0 && (b[1] & 0x80))
		put_str(w, b, (size_t)n + 1);
	else
		put_str(w, b + 1, (size_t)n);
}

/* openssh-key-v1 around a public blob and private fields */
static void wrap(struct w *out, const char *cipher, const struct w *pub, const struct w *priv)
{
	struct w sec = { .n = 0 };
	uint8_t pad = 1;

	put_u32(&sec, 0x11223344);
	put_u32(&sec, 0x11223344);
	put(&sec, priv->b, priv->n);
	put_cstr(&sec, "fuzz@corpus");
	while (sec.n % 8) {
		put(&sec, &pad, 1);
		pad++;
	}
	out->n = 0;
	put(out, MAGIC, MAGIC_LEN);
	put_cstr(out, cipher);
	put_cstr(out, strcmp(cipher, "none") == 0 ? "none" : "bcrypt");
	put_str(out, "", 0);
	put_u32(out, 1);
	put_str(out, pub->b, pub->n);
	put_str(out, sec.b, sec.n);
}

static void run_all(const uint8_t *b, size_t n)
{
	uint8_t *m = malloc(n ? n : 1);

	if (!m)
		abort();
	for (size_t cut = 0; cut <= n; cut++)
		LLVMFuzzerTestOneInput(b, cut);
	memcpy(m, b, n);
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit += 3) {
			m[i] ^= (uint8_t)(1u << bit);
			LLVMFuzzerTestOneInput(m, n);
			m[i] ^= (uint8_t)(1u << bit);
		}
	free(m);
}

static int builtin_corpus(void)
{
	struct w pub = { .n = 0 }, priv = { .n = 0 }, blob = { .n = 0 };
	uint8_t seed[32], pk[32], sk[64], pt[133];
	size_t pklen = sizeof(pk), ptlen = 0;
	EVP_PKEY *ed, *ec;
	BIGNUM *d = NULL;

	/* Ed25519 from a fixed, non-secret seed */
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 7 + 1);
	ed = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	if (!ed || EVP_PKEY_get_raw_public_key(ed, pk, &pklen) != 1)
		return 1;
	EVP_PKEY_free(ed);
	memcpy(sk, seed, 32);
	memcpy(sk + 32, pk, 32);
	put_cstr(&pub, "ssh-ed25519");
	put_str(&pub, pk, 32);
	put_cstr(&priv, "ssh-ed25519");
	put_str(&priv, pk, 32);
	put_str(&priv, sk, 64);
	wrap(&blob, "none", &pub, &priv);
	if (!describe(blob.b, blob.n)) {
		fprintf(stderr, "fuzz-openssh: the built-in Ed25519 blob does not verify\n");
		return 1;
	}
	run_all(blob.b, blob.n);
	wrap(&blob, "aes256-ctr", &pub, &priv); /* "encrypted": the header is what counts */
	run_all(blob.b, blob.n);

	/* ECDSA P-256 (generated: the corpus is about structure) */
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!ec || EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen) != 1 ||
	    EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
		return 1;
	EVP_PKEY_free(ec);
	pub.n = priv.n = 0;
	put_cstr(&pub, "ecdsa-sha2-nistp256");
	put_cstr(&pub, "nistp256");
	put_str(&pub, pt, ptlen);
	put_cstr(&priv, "ecdsa-sha2-nistp256");
	put_cstr(&priv, "nistp256");
	put_str(&priv, pt, ptlen);
	put_mpint(&priv, d);
	BN_clear_free(d);
	wrap(&blob, "none", &pub, &priv);
	if (!describe(blob.b, blob.n)) {
		fprintf(stderr, "fuzz-openssh: the built-in ECDSA blob does not verify\n");
		return 1;
	}
	run_all(blob.b, blob.n);
	return 0;
}

#ifdef DG_LIBFUZZER
/* Once before fuzzing: the built-in keys must verify, or the fuzzer would
 * be exercising a parser that accepts nothing. */
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
	uint8_t *buf = fuzz_read_file("fuzz-openssh", path, &n);

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
			printf("fuzz-openssh: built-in corpus, truncations and bit flips: ok\n");
		return r;
	}
	for (int i = 1; i < argc; i++)
		r |= run_file(argv[i]);
	if (r == 0)
		printf("fuzz-openssh: %d inputs: ok\n", argc - 1);
	return r;
}
#endif
