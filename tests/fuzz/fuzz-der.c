/* fuzz-der.c - fuzz the DER detector (det-der.c) and what it calls: the
 * shape walk, keyutil_pkcs8() (with its PKCS#8 v2 rewrite), OpenSSL's
 * decoders and keyutil_describe().
 *
 * The input is one window (win_off 0); the detector is called at every
 * 0x30 byte in it (a superset of its anchors: it must cope with any
 * start, and the pattern index does not change what it does).
 * scan_emit() here checks the finding's invariants and aborts on a
 * violation, so a lying detector is a crash the fuzzer reports.
 *
 * Link with only what the detector needs (not the engine, whose
 * scan_emit() this file replaces; tests/fuzz/run.sh does this for CI):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DDG_LIBFUZZER -D_GNU_SOURCE -I gate -I gate/scan \
 *     -I BUILD tests/fuzz/fuzz-der.c gate/scan/det-der.c gate/scan/keyutil.c gate/util.c -lcrypto -ljansson
 *
 * Under libFuzzer, LLVMFuzzerInitialize() first runs a corpus of keys
 * generated at start-up and aborts unless every one is found.  Without
 * DG_LIBFUZZER (gcc works) main() is a regression program:
 * ./fuzz-der FILE... runs the files; without arguments it runs that
 * corpus and 150 mutations of each sample.
 */
#include <errno.h>
#include <stdio.h>

#include "fuzz-file.h"
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

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
	if (!f->detector || strcmp(f->detector, "der") != 0)
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
		const uint8_t *hit = memchr(p, 0x30, (size_t)(end - p));

		if (!hit)
			break;
		detector_der.on_match(&ctx, 0, data, size, (size_t)(hit - data), 0);
		p = hit + 1;
	}
	if (ERR_peek_error() != 0)
		abort(); /* the detector must leave the thread's queue clean */
	return ctx.findings;
}

/* The input as given, and as the contents of a SEQUENCE with the right
 * length (short and long form), so that the fuzzer spends its time on the
 * elements rather than on matching lengths. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b;

	run_one(data, size);
	if (size > 0xffff)
		return 0;
	b = malloc(size + 4);
	if (!b)
		abort();
	b[0] = 0x30;
	if (size < 0x80) {
		b[1] = (uint8_t)size;
		memcpy(b + 2, data, size);
		run_one(b, size + 2);
	}
	b[1] = 0x82;
	b[2] = (uint8_t)(size >> 8);
	b[3] = (uint8_t)size;
	memcpy(b + 4, data, size);
	run_one(b, size + 4);
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

static int der_of(EVP_PKEY *k, int how, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL;
	int n = -1;

	if (!k)
		return -1;
	if (how == 0) {
		n = i2d_PrivateKey(k, &der); /* PKCS#1, SEC1, or PKCS#8 */
	} else {
		PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);

		if (p8)
			n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
		PKCS8_PRIV_KEY_INFO_free(p8);
	}
	if (n <= 0)
		return -1;
	/* in a little random data, so that the key is not at offset 0 */
	*ret_len = (size_t)n + 67;
	*ret = malloc(*ret_len);
	if (!*ret)
		abort();
	for (size_t i = 0; i < 33; i++)
		(*ret)[i] = (uint8_t)rng();
	memcpy(*ret + 33, der, (size_t)n);
	for (size_t i = 33 + (size_t)n; i < *ret_len; i++)
		(*ret)[i] = (uint8_t)rng();
	OPENSSL_clear_free(der, (size_t)n);
	return 0;
}

/* Generated keys (never a key literal in the source), each run as is and
 * in mutated copies: flipped bytes, cut, spliced into another. */
static int builtin_corpus(int mutations)
{
	EVP_PKEY *keys[4] = {
		EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),
		EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
		EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512),
		EVP_PKEY_Q_keygen(NULL, NULL, "X25519"),
	};
	/* structures that look like keys and are not */
	static const struct {
		const char *p;
		size_t n;
	} extra[] = {
		{ "\x30\x05\x02\x01\x00\x02\x00", 7 },
		{ "\x30\x0a\x02\x01\x01\x04\x18\x00\x00\x00\x00\x00", 12 },
		{ "\x30\x82\x00\x08\x02\x01\x00\x30\x03\x06\x01\x00\x04\x00", 14 },
		{ "\x30\x83\xff\xff\xff\x02\x01\x00", 8 },
		{ "\x30\x0e\x02\x01\x01\x30\x05\x06\x03\x2b\x65\x70\x04\x02\x04\x00\x81\x00", 18 },
	};
	static const uint8_t der_bytes[] = "\x30\x02\x04\x81\x82\x83\x80\x00\x01\xa0\xa1\xff";
	uint8_t *samples[16];
	size_t lens[16], ns = 0, nkeys;
	unsigned found = 0, runs = 0;

	for (int k = 0; k < 4; k++)
		for (int how = 0; how < 2; how++)
			if (der_of(keys[k], how, &samples[ns], &lens[ns]) == 0)
				ns++;
	nkeys = ns;
	for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
		lens[ns] = extra[i].n;
		samples[ns] = malloc(lens[ns]);
		if (!samples[ns])
			abort();
		memcpy(samples[ns], extra[i].p, lens[ns]);
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
			case 2: /* plausible DER bytes: tags and length forms */
				for (int k = 0; k < 4; k++)
					b[rng() % len] = der_bytes[rng() % (sizeof(der_bytes) - 1)];
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
	for (int k = 0; k < 4; k++)
		EVP_PKEY_free(keys[k]);
	printf("fuzz-der: %u inputs, %u of %zu generated keys found\n", runs, found, nkeys);
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
		uint8_t *buf = fuzz_read_file("fuzz-der", argv[i], &n);

		if (!buf)
			return 1;
		printf("fuzz-der: %s: %u findings\n", argv[i], run_one(buf, n));
		free(buf);
	}
	return 0;
}
#endif
