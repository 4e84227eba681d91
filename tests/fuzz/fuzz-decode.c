/* fuzz-decode.c - the four decompressor wrappers (gate/scan/decode.c).
 *
 * Every input goes to each decoder type (gzip, xz, zstd, lz4) with small
 * bomb limits and a sink that discards, cut into feeds in one of four ways
 * chosen by the input size (whole, byte by byte, pseudo-random, 4 KiB), so
 * the carry of magics and headers across feeds is fuzzed too.
 *
 * libFuzzer:  build with -DDG_LIBFUZZER -fsanitize=fuzzer,address,undefined
 *             (seed corpus: run the plain build with --write-corpus DIR)
 * Otherwise:  main() runs every file named on the command line once, or,
 *             with no arguments, a built-in corpus made at run time with the
 *             libraries (single and multi-stream, padding, skippable frames,
 *             lz4 legacy, trailing garbage, a bomb), every truncation and
 *             a spread of byte flips - a quick regression run for CI.
 *
 * Invariants checked (abort on violation): views are begin/data.../end in
 * order with 1-based consecutive indexes and increasing offsets inside the
 * input; no chunk is empty or above DECODE_CHUNK; no view exceeds the size
 * limit; a failed call leaves a non-empty error text made only of the
 * fixed-phrase alphabet (no artifact byte can reach it); calls after a
 * failure return the same code; success leaves no text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define FUZZ_MAX_SIZE ((uint64_t)2 << 20)
#define FUZZ_MAX_RATIO 20

struct fsink {
	bool open;
	unsigned views;
	uint64_t last_off, view_bytes, in_size;
	const char *fmt;
	uint8_t sum;
};

static int f_begin(void *u, const char *format, unsigned index, uint64_t in_offset)
{
	struct fsink *s = u;

	if (s->open || index != s->views + 1 || strcmp(format, s->fmt) != 0 || in_offset >= s->in_size ||
	    (s->views > 0 && in_offset <= s->last_off))
		abort();
	s->open = true;
	s->views = index;
	s->last_off = in_offset;
	s->view_bytes = 0;
	return 0;
}

static int f_data(void *u, const uint8_t *buf, size_t n)
{
	struct fsink *s = u;

	if (!s->open || n == 0 || n > DECODE_CHUNK)
		abort();
	s->view_bytes += n;
	if (s->view_bytes > FUZZ_MAX_SIZE)
		abort();
	s->sum ^= buf[0] ^ buf[n - 1]; /* touch both ends */
	return 0;
}

static int f_end(void *u)
{
	struct fsink *s = u;

	if (!s->open)
		abort();
	s->open = false;
	return 0;
}

static void check_text(const char *t, bool failed)
{
	if (!failed) {
		if (t[0] != '\0')
			abort();
		return;
	}
	if (t[0] == '\0')
		abort();
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == ' ' || *p == '(' || *p == ')' ||
		      *p == '_'))
			abort();
}

static const char *fmt_of(enum ftype t)
{
	return t == FT_GZIP ? "gzip" : t == FT_XZ ? "xz" : t == FT_ZSTD ? "zstd" : "lz4";
}

static void run_one(enum ftype t, const uint8_t *data, size_t size, unsigned mode)
{
	struct fsink s = { .fmt = fmt_of(t), .in_size = size };
	struct decode_sink sink = { &s, f_begin, f_data, f_end };
	struct decode_limits lim = { FUZZ_MAX_SIZE, FUZZ_MAX_RATIO };
	struct decoder *d = NULL;
	uint32_t seed = (uint32_t)size * 2654435761u + 1;
	char why[256];
	size_t off = 0;
	int r = 0, r2;

	if (decoder_new(t, &lim, &sink, &d) < 0)
		abort();
	while (off < size) {
		size_t k;

		switch (mode) {
		case 0:
			k = size - off;
			break;
		case 1:
			k = size > 65536 ? 7 : 1;
			break;
		case 2:
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % ((seed & 1) ? 16 : 9000);
			break;
		default:
			k = 4096;
			break;
		}
		if (k > size - off)
			k = size - off;
		r = decoder_feed(d, data + off, k);
		if (r < 0)
			break;
		off += k;
	}
	if (r < 0) {
		check_text(decoder_error(d), true);
		if (decoder_feed(d, data, size) != r)
			abort();
	}
	r2 = decoder_finish(d, why, sizeof(why));
	if (r < 0 && r2 != r)
		abort();
	check_text(why, r2 < 0);
	if (r2 < 0 && strcmp(why, decoder_error(d)) != 0)
		abort();
	if (r2 == 0 && (s.open || s.views == 0))
		abort();
	if (r2 < 0 && r2 != -EBADMSG && r2 != -EFBIG && r2 != -ENOMEM)
		abort();
	decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ftype types[] = { FT_GZIP, FT_XZ, FT_ZSTD, FT_LZ4 };

	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		run_one(types[i], data, size, (unsigned)(size % 4));
	return 0;
}

#ifndef DG_LIBFUZZER

#include <lz4.h>
#include <lz4frame.h>
#include <lzma.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

struct blob {
	uint8_t *p;
	size_t n;
};

static void add(struct blob *b, const void *p, size_t n)
{
	uint8_t *np = realloc(b->p, b->n + n + 1);
	if (!np)
		abort();
	b->p = np;
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static struct blob c_gzip(const uint8_t *in, size_t n)
{
	struct blob o = { 0 };
	uLong cap = compressBound((uLong)n) + 64;
	z_stream z = { 0 };

	o.p = malloc(cap);
	if (!o.p || deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = o.p;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	o.n = cap - z.avail_out;
	deflateEnd(&z);
	return o;
}

static struct blob c_xz(const uint8_t *in, size_t n)
{
	struct blob o = { 0 };
	size_t cap = lzma_stream_buffer_bound(n), pos = 0;

	o.p = malloc(cap);
	if (!o.p || lzma_easy_buffer_encode(0, LZMA_CHECK_CRC32, NULL, in, n, o.p, &pos, cap) != LZMA_OK)
		abort();
	o.n = pos;
	return o;
}

static struct blob c_zstd(const uint8_t *in, size_t n)
{
	struct blob o = { 0 };
	size_t cap = ZSTD_compressBound(n);

	o.p = malloc(cap);
	if (!o.p)
		abort();
	o.n = ZSTD_compress(o.p, cap, in, n, 3);
	if (ZSTD_isError(o.n))
		abort();
	return o;
}

static struct blob c_lz4(const uint8_t *in, size_t n)
{
	struct blob o = { 0 };
	LZ4F_preferences_t prefs = { 0 };
	size_t cap;

	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	cap = LZ4F_compressFrameBound(n, &prefs);
	o.p = malloc(cap);
	if (!o.p)
		abort();
	o.n = LZ4F_compressFrame(o.p, cap, in, n, &prefs);
	if (LZ4F_isError(o.n))
		abort();
	return o;
}

static struct blob c_lz4_legacy(const uint8_t *in, size_t n)
{
	struct blob o = { 0 };
	static const uint8_t magic[4] = { 0x02, 0x21, 0x4c, 0x18 };
	int cap = LZ4_compressBound((int)n);
	char *tmp = malloc((size_t)cap);
	int c;

	if (!tmp)
		abort();
	c = LZ4_compress_default((const char *)in, tmp, (int)n, cap);
	uint8_t h[4] = { (uint8_t)c, (uint8_t)(c >> 8), (uint8_t)(c >> 16), (uint8_t)(c >> 24) };
	add(&o, magic, 4);
	add(&o, h, 4);
	add(&o, tmp, (size_t)c);
	free(tmp);
	return o;
}

#define NCORPUS 32
static struct blob corpus[NCORPUS];
static unsigned ncorpus;

static void keep(struct blob b)
{
	if (ncorpus >= NCORPUS)
		abort();
	corpus[ncorpus++] = b;
}

/* Two streams of one format, with something between and after. */
static struct blob two(struct blob (*c)(const uint8_t *, size_t), const uint8_t *a, size_t na, const void *mid,
		       size_t nmid, const void *tail, size_t ntail)
{
	struct blob o = { 0 }, x = c(a, na), y = c(a + na / 2, na - na / 2);

	add(&o, x.p, x.n);
	add(&o, mid, nmid);
	add(&o, y.p, y.n);
	add(&o, tail, ntail);
	free(x.p);
	free(y.p);
	return o;
}

static void build_corpus(void)
{
	static const uint8_t skip0[8] = { 0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0 };
	static const uint8_t skip3[11] = { 0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'k', 'e', 'y' };
	static const uint8_t pad4[4] = { 0 };
	uint8_t text[3000], *zeros = calloc(1, 3 << 20);

	if (!zeros)
		abort();
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"[i % 62] ^ (i / 997));

	keep(c_gzip(text, sizeof(text)));
	keep(c_xz(text, sizeof(text)));
	keep(c_zstd(text, sizeof(text)));
	keep(c_lz4(text, sizeof(text)));
	keep(c_lz4_legacy(text, sizeof(text)));
	keep(two(c_gzip, text, sizeof(text), NULL, 0, NULL, 0));
	keep(two(c_gzip, text, sizeof(text), NULL, 0, "trailing", 8));
	keep(two(c_xz, text, sizeof(text), pad4, 4, pad4, 4));
	keep(two(c_xz, text, sizeof(text), pad4, 3, NULL, 0));
	keep(two(c_zstd, text, sizeof(text), skip0, 8, skip0, 8));
	keep(two(c_zstd, text, sizeof(text), skip3, 11, NULL, 0));
	keep(two(c_lz4, text, sizeof(text), skip0, 8, NULL, 0));
	keep(two(c_lz4, text, sizeof(text), skip3, 11, NULL, 0));
	keep(two(c_lz4_legacy, text, sizeof(text), NULL, 0, NULL, 0));
	{ /* legacy then frame */
		struct blob o = { 0 }, x = c_lz4_legacy(text, sizeof(text)), y = c_lz4(text, 100);
		add(&o, x.p, x.n);
		add(&o, y.p, y.n);
		free(x.p);
		free(y.p);
		keep(o);
	}
	/* small bombs: 3 MiB of zeros, over the fuzz limits */
	keep(c_gzip(zeros, 3 << 20));
	keep(c_xz(zeros, 3 << 20));
	keep(c_zstd(zeros, 3 << 20));
	keep(c_lz4(zeros, 3 << 20));
	free(zeros);
}

static int write_corpus(const char *dir)
{
	char path[4096];

	build_corpus();
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	for (unsigned i = 0; i < ncorpus; i++) {
		snprintf(path, sizeof(path), "%s/seed-%02u", dir, i);
		FILE *f = fopen(path, "wbe");
		if (!f || fwrite(corpus[i].p, 1, corpus[i].n, f) != corpus[i].n || fclose(f) != 0) {
			perror(path);
			return 1;
		}
	}
	printf("fuzz-decode: wrote %u seeds to %s\n", ncorpus, dir);
	return 0;
}

static int run_builtin(void)
{
	unsigned long runs = 0;

	build_corpus();
	for (unsigned i = 0; i < ncorpus; i++) {
		const struct blob *b = &corpus[i];
		uint8_t *m = malloc(b->n + 1);

		if (!m)
			abort();
		/* whole, then a spread of truncations (the unit test tries all) */
		LLVMFuzzerTestOneInput(b->p, b->n);
		runs++;
		size_t step = b->n / 97 + 1;
		for (size_t cut = 0; cut < b->n; cut += step, runs++)
			LLVMFuzzerTestOneInput(b->p, cut);
		/* byte flips at a spread of positions */
		for (size_t k = 0; k < b->n; k += b->n / 61 + 1, runs++) {
			memcpy(m, b->p, b->n);
			m[k] ^= (uint8_t)(0x01 << (k % 8));
			LLVMFuzzerTestOneInput(m, b->n);
		}
		free(m);
		free(corpus[i].p);
	}
	printf("fuzz-decode: %lu runs over %u built-in seeds, all invariants held\n", runs, ncorpus);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	if (argc < 2)
		return run_builtin();
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rbe");
		struct blob b = { 0 };
		uint8_t tmp[65536];
		size_t k;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
			add(&b, tmp, k);
		fclose(f);
		LLVMFuzzerTestOneInput(b.p ? b.p : (const uint8_t *)"", b.n);
		free(b.p);
	}
	printf("fuzz-decode: %d inputs, all invariants held\n", argc - 1);
	return 0;
}

#endif /* DG_LIBFUZZER */
