/* fuzz-pem.c - fuzz the PEM detector (det-pem.c) and what it calls:
 * keyutil_b64decode(), OpenSSL's decoders, openssh_describe(), the PGP
 * packet check.
 *
 * The input is one window (win_off 0); the detector is called at every
 * "-----BEGIN " in it, once per pattern (it checks the label itself).
 * scan_emit() here checks the finding's invariants and aborts on a
 * violation, so a lying detector is a crash the fuzzer reports.
 *
 * Link with only what the detector needs (not the engine, whose
 * scan_emit() this file replaces; tests/fuzz/run.sh does this for CI):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DDG_LIBFUZZER -D_GNU_SOURCE -I gate -I gate/scan \
 *     -I BUILD tests/fuzz/fuzz-pem.c gate/scan/det-pem.c gate/scan/det-openssh.c gate/scan/keyutil.c \
 *     gate/util.c -lcrypto -ljansson
 *
 * Under libFuzzer, LLVMFuzzerInitialize() first runs a corpus of keys
 * generated at start-up and aborts unless every one is found.  Without
 * DG_LIBFUZZER (gcc works) main() is a regression program:
 * ./fuzz-pem FILE... runs the files; without arguments it runs that
 * corpus and 150 mutations of each sample.
 */
#include <errno.h>
#include <stdio.h>

#include "fuzz-file.h"
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "detector.h"
#include "util.h"

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

void scan_emit(struct scan_ctx *ctx, const struct finding *f)
{
	if (!f->detector || strcmp(f->detector, "pem") != 0)
		abort();
	if ((unsigned)f->severity > SEV_CRITICAL)
		abort();
	if (f->offset > ctx->size || f->length == 0 || f->length > ctx->size - f->offset)
		abort();
	if (memchr(f->key_type, '\0', sizeof(f->key_type)) == NULL || !f->key_type[0])
		abort();
	if (memchr(f->public_sha256, '\0', sizeof(f->public_sha256)) == NULL)
		abort();
	if (f->public_sha256[0] && !hex64(f->public_sha256))
		abort();
	if (f->verified && (f->severity != SEV_CRITICAL || !f->public_sha256[0]))
		abort();
	ctx->findings++;
}

static unsigned run_one(const uint8_t *data, size_t size)
{
	struct scan_ctx ctx = { .size = size };
	const uint8_t *p = data, *end = data + size;

	while (p < end) {
		const uint8_t *hit = memmem(p, (size_t)(end - p), "-----BEGIN ", 11);

		if (!hit)
			break;
		for (unsigned i = 0; i < detector_pem.n_patterns; i++)
			detector_pem.on_match(&ctx, i, data, size, (size_t)(hit - data), 0);
		p = hit + 1;
	}
	if (ERR_peek_error() != 0)
		abort(); /* the detector must leave the thread's queue clean */
	return ctx.findings;
}

/* The input as given, and as the body of every label's armour, so that
 * the fuzzer spends its time in the body rather than on finding a label. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = {
		"RSA PRIVATE KEY",       "EC PRIVATE KEY",      "DSA PRIVATE KEY",       "PRIVATE KEY",
		"ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK",
	};
	uint8_t *b;

	run_one(data, size);
	if (size > DETECTOR_LOOKAHEAD)
		return 0;
	b = malloc(size + 128);
	if (!b)
		abort();
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		int h = snprintf((char *)b, 128, "-----BEGIN %s-----\n", labels[i]);
		size_t n = (size_t)h;

		memcpy(b + n, data, size);
		n += size;
		n += (size_t)snprintf((char *)b + n, 64, "\n-----END %s-----", labels[i]);
		run_one(b, n);
	}
	free(b);
	return 0;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int pem_of(EVP_PKEY *k, int how, uint8_t **ret, size_t *ret_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	int ok = 0;

	if (!bio || !k)
		return -1;
	if (how == 0)
		ok = PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	else if (how == 1)
		ok = PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_128_cbc(), "pw", 2, NULL, NULL);
	n = BIO_get_mem_data(bio, &p);
	if (ok != 1 || n <= 0) {
		BIO_free(bio);
		return -1;
	}
	*ret = malloc((size_t)n);
	if (!*ret)
		abort();
	memcpy(*ret, p, (size_t)n);
	*ret_len = (size_t)n;
	BIO_free(bio);
	return 0;
}

/* Generated keys (never a key literal in the source), each run as is and
 * in mutated copies: flipped bytes, cut, spliced into another. */
static int builtin_corpus(int mutations)
{
	EVP_PKEY *keys[3] = {
		EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),
		EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
		EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512),
	};
	static const char *const extra[] = {
		"-----BEGIN RSA PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: x\n\nxcBYBGRRRRQBCADD\n=abcd\n"
		"-----END PGP PRIVATE KEY BLOCK-----",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n"
		"-----END OPENSSH PRIVATE KEY-----",
		"-----BEGIN EC PRIVATE KEY-----\\nProc-Type: 4,ENCRYPTED\\nDEK-Info: AES-128-CBC,00\\n\\nAAAA\\n"
		"-----END EC PRIVATE KEY-----",
	};
	uint8_t *samples[16];
	size_t lens[16], ns = 0, nkeys;
	unsigned found = 0, runs = 0;

	for (int k = 0; k < 3; k++)
		for (int how = 0; how < 3; how++)
			if (pem_of(keys[k], how, &samples[ns], &lens[ns]) == 0)
				ns++;
	nkeys = ns;
	for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
		lens[ns] = strlen(extra[i]);
		samples[ns] = malloc(lens[ns]);
		if (!samples[ns])
			abort();
		memcpy(samples[ns], extra[i], lens[ns]);
		ns++;
	}
	for (size_t s = 0; s < ns; s++) {
		if (run_one(samples[s], lens[s]) > 0 && s < nkeys)
			found++;
		runs++;
		for (int m = 0; m < mutations; m++) {
			size_t len = lens[s];
			uint8_t *b = malloc(len + 64);

			if (!b)
				abort();
			memcpy(b, samples[s], len);
			switch (m % 4) {
			case 0: /* flip a few bytes */
				for (int k = 0; k < 1 + m % 5; k++)
					b[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
				break;
			case 1: /* cut */
				len = (size_t)(rng() % len);
				break;
			case 2: /* overwrite with base64-ish noise */
				for (int k = 0; k < 8; k++)
					b[rng() % len] = "AZaz09+/=\n-\\\" "[rng() % 15];
				break;
			case 3: /* append random bytes */
				for (int k = 0; k < 64; k++)
					b[len++] = (uint8_t)rng();
				break;
			}
			LLVMFuzzerTestOneInput(b, len);
			runs++;
			free(b);
		}
		secure_free(samples[s], lens[s]);
	}
	for (int k = 0; k < 3; k++)
		EVP_PKEY_free(keys[k]);
	printf("fuzz-pem: %u inputs, %u of %zu generated keys found\n", runs, found, nkeys);
	return found == nkeys && nkeys > 0 ? 0 : 1;
}

#ifdef DG_LIBFUZZER
/* Once before fuzzing: the generated keys must be found, or the fuzzer
 * would be exercising a detector that finds nothing. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (builtin_corpus(0) != 0)
		abort();
	return 0;
}
#else
int main(int argc, char **argv)
{
	if (argc < 2)
		return builtin_corpus(150);
	for (int i = 1; i < argc; i++) {
		size_t n = 0;
		uint8_t *buf = fuzz_read_file("fuzz-pem", argv[i], &n);

		if (!buf)
			return 1;
		printf("fuzz-pem: %s: %u findings\n", argv[i], run_one(buf, n));
		free(buf);
	}
	return 0;
}
#endif
