/* test-decode.c - the decompressing views (gate/scan/decode.c).
 *
 * Inputs are made here with the libraries themselves (and, when installed,
 * cross-checked with the gzip/xz/zstd/lz4 programs).  Every "accepts" has
 * a "refuses" twin: trailing data, truncation, a flipped byte, a skippable
 * frame with data, bad padding, a bomb.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lz4.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "decode.h"
#include "tap.h"
#include "util.h"

#define MiB ((size_t)1 << 20)

static size_t min(size_t a, size_t b)
{
	return a < b ? a : b;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
#if SANITIZED
/* from <sanitizer/allocator_interface.h>, which gcc's packages do not ship */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* ---- growable buffer */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (!np) {
			fprintf(stderr, "out of memory\n");
			exit(99);
		}
		b->p = np;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void buf_cat(struct buf *b, const struct buf *o)
{
	buf_add(b, o->p, o->n);
}

static void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){ 0 };
}

static struct buf buf_dup(const struct buf *o)
{
	struct buf b = { 0 };
	buf_add(&b, o->p, o->n);
	return b;
}

/* ---- deterministic inputs */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* random, then text, then zeros: each n/3 */
static struct buf mixed(size_t n, unsigned seed)
{
	struct buf b = { 0 };
	static const char *words[] = { "core ", "dump ", "stack ", "frame ", "0x7ffd", "\n", "heap ", "gate " };
	rng_state = 0x9e3779b97f4a7c15ull ^ seed;
	while (b.n < n / 3) {
		uint64_t v = rng();
		buf_add(&b, &v, min(sizeof(v), n / 3 - b.n));
	}
	while (b.n < 2 * (n / 3)) {
		const char *w = words[rng() % 8];
		buf_add(&b, w, min(strlen(w), 2 * (n / 3) - b.n));
	}
	while (b.n < n) {
		uint8_t z = 0;
		buf_add(&b, &z, 1);
	}
	return b;
}

/* ---- compressors */

static struct buf gz(const struct buf *in, int level)
{
	struct buf o = { 0 };
	z_stream z = { 0 };
	uint8_t tmp[65536];
	int r;

	if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		exit(99);
	z.next_in = in->p;
	z.avail_in = (uInt)in->n;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof(tmp);
		r = deflate(&z, Z_FINISH);
		buf_add(&o, tmp, sizeof(tmp) - z.avail_out);
	} while (r == Z_OK);
	deflateEnd(&z);
	return o;
}

static struct buf xzc(const struct buf *in)
{
	struct buf o = { 0 };
	size_t cap = lzma_stream_buffer_bound(in->n), pos = 0;
	o.p = malloc(cap);
	o.cap = cap;
	if (lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, NULL, in->p, in->n, o.p, &pos, cap) != LZMA_OK)
		exit(99);
	o.n = pos;
	return o;
}

static struct buf zst(const struct buf *in, int window_log)
{
	struct buf o = { 0 };
	ZSTD_CCtx *c = ZSTD_createCCtx();
	uint8_t tmp[65536];
	ZSTD_inBuffer ib = { in->p, in->n, 0 };
	size_t rem;

	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	if (window_log) {
		/* streamed (size unknown), so the header keeps the window */
		ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = { tmp, sizeof(tmp), 0 };
			if (ZSTD_isError(ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue)))
				exit(99);
			buf_add(&o, tmp, ob.pos);
		}
	}
	do {
		ZSTD_outBuffer ob = { tmp, sizeof(tmp), 0 };
		rem = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
		if (ZSTD_isError(rem))
			exit(99);
		buf_add(&o, tmp, ob.pos);
	} while (rem != 0);
	ZSTD_freeCCtx(c);
	return o;
}

static struct buf lz4f(const struct buf *in)
{
	struct buf o = { 0 };
	LZ4F_preferences_t prefs = { 0 };
	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
	size_t cap = LZ4F_compressFrameBound(in->n, &prefs);
	o.p = malloc(cap);
	o.cap = cap;
	size_t r = LZ4F_compressFrame(o.p, cap, in->p, in->n, &prefs);
	if (LZ4F_isError(r))
		exit(99);
	o.n = r;
	return o;
}

/* lz4 legacy format, as lz4 -l writes it */
static struct buf lz4legacy(const struct buf *in)
{
	struct buf o = { 0 };
	static const uint8_t magic[4] = { 0x02, 0x21, 0x4c, 0x18 };
	size_t blk = 8 * MiB;
	char *tmp = malloc(LZ4_COMPRESSBOUND(8 << 20));

	buf_add(&o, magic, 4);
	for (size_t off = 0; off < in->n; off += blk) {
		int k = (int)(in->n - off < blk ? in->n - off : blk);
		int c = LZ4_compress_default((const char *)in->p + off, tmp, k, LZ4_COMPRESSBOUND(8 << 20));
		uint8_t h[4] = { (uint8_t)c, (uint8_t)(c >> 8), (uint8_t)(c >> 16), (uint8_t)(c >> 24) };
		buf_add(&o, h, 4);
		buf_add(&o, tmp, (size_t)c);
	}
	free(tmp);
	return o;
}

static struct buf compress_as(enum ftype t, const struct buf *in)
{
	switch (t) {
	case FT_GZIP:
		return gz(in, 6);
	case FT_XZ:
		return xzc(in);
	case FT_ZSTD:
		return zst(in, 0);
	default:
		return lz4f(in);
	}
}

/* Heap in use (malloc'd, including mmap'd chunks); all four libraries
 * allocate through malloc.  Under ASan, its allocator's own count. */
static size_t heap_now(void)
{
#if SANITIZED
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
#endif
}

/* ---- a sink that records views */

#define MAXV 16
struct rec {
	unsigned nviews;
	struct {
		char fmt[8];
		unsigned index;
		uint64_t off;
		struct buf data;
		bool ended;
	} v[MAXV];
	bool open, order_bad, discard;
	size_t max_chunk;
	uint64_t total;
	size_t heap_max; /* with discard: most heap in use seen from the sink */
	int fail_data; /* return this from view_data when non-zero */
};

static int rec_begin(void *u, const char *fmt, unsigned index, uint64_t off)
{
	struct rec *r = u;
	if (r->open || r->nviews >= MAXV) {
		r->order_bad = true;
		return -E2BIG;
	}
	snprintf(r->v[r->nviews].fmt, sizeof(r->v[0].fmt), "%s", fmt);
	r->v[r->nviews].index = index;
	r->v[r->nviews].off = off;
	r->nviews++;
	r->open = true;
	return 0;
}

static int rec_data(void *u, const uint8_t *p, size_t n)
{
	struct rec *r = u;
	if (!r->open || n == 0)
		r->order_bad = true;
	if (n > r->max_chunk)
		r->max_chunk = n;
	r->total += n;
	if (!r->discard && r->nviews)
		buf_add(&r->v[r->nviews - 1].data, p, n);
	if (r->discard) {
		size_t h = heap_now();
		if (h > r->heap_max)
			r->heap_max = h;
	}
	return r->fail_data;
}

static int rec_end(void *u)
{
	struct rec *r = u;
	if (!r->open)
		r->order_bad = true;
	r->open = false;
	if (r->nviews)
		r->v[r->nviews - 1].ended = true;
	return 0;
}

static void rec_free(struct rec *r)
{
	for (unsigned i = 0; i < MAXV; i++)
		buf_free(&r->v[i].data);
	memset(r, 0, sizeof(*r));
}

/* chunking: 0 = all at once, 1 = one byte at a time, SIZE_MAX = random
 * sizes (1 byte .. 3 MiB), else fixed. */
#define CHUNK_RANDOM SIZE_MAX
static int run(enum ftype t, const uint8_t *p, size_t n, size_t chunking, const struct decode_limits *lim,
	       struct rec *rec, char *why, size_t why_len)
{
	struct decode_sink sink = { rec, rec_begin, rec_data, rec_end };
	struct decoder *d = NULL;
	int r;

	r = decoder_new(t, lim, &sink, &d);
	if (r < 0)
		return r;
	size_t off = 0;
	uint64_t seed = 12345;
	while (off < n) {
		size_t k;
		if (chunking == 0)
			k = n - off;
		else if (chunking == CHUNK_RANDOM) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			unsigned sel = (unsigned)(seed >> 60);
			k = sel < 8 ? 1 + (seed >> 33) % 16 : sel < 14 ? 1 + (seed >> 33) % 70000 : 1 + (seed >> 33) % (3 * MiB);
		} else
			k = chunking;
		if (k > n - off)
			k = n - off;
		r = decoder_feed(d, p + off, k);
		if (r < 0) {
			snprintf(why, why_len, "%s", decoder_error(d));
			/* sticky */
			if (decoder_feed(d, p, 1) != r)
				rec->order_bad = true;
			char why2[256];
			if (decoder_finish(d, why2, sizeof(why2)) != r || strcmp(why2, why) != 0)
				rec->order_bad = true;
			decoder_free(d);
			return r;
		}
		off += k;
	}
	r = decoder_finish(d, why, why_len);
	decoder_free(d);
	return r;
}

static const char *unit_of(enum ftype t)
{
	return t == FT_GZIP ? "member" : t == FT_XZ ? "stream" : "frame";
}
static const char *name_of(enum ftype t)
{
	return t == FT_GZIP ? "gzip" : t == FT_XZ ? "xz" : t == FT_ZSTD ? "zstd" : "lz4";
}
static const enum ftype types[] = { FT_GZIP, FT_XZ, FT_ZSTD, FT_LZ4 };

/* Views equal to the expected parts at the expected offsets. */
static bool views_are(const struct rec *r, enum ftype t, const struct buf *parts, const uint64_t *offs, unsigned n)
{
	if (r->nviews != n || r->order_bad || r->open || r->max_chunk > DECODE_CHUNK)
		return false;
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(r->v[i].fmt, name_of(t)) != 0 || r->v[i].index != i + 1 || r->v[i].off != offs[i] ||
		    !r->v[i].ended || r->v[i].data.n != parts[i].n ||
		    (parts[i].n && memcmp(r->v[i].data.p, parts[i].p, parts[i].n) != 0)) {
			diag("view %u: fmt %s index %u off %" PRIu64 " (want %" PRIu64 ") len %zu (want %zu)", i,
			     r->v[i].fmt, r->v[i].index, r->v[i].off, offs[i], r->v[i].data.n, parts[i].n);
			return false;
		}
	}
	return true;
}

static bool same_views(const struct rec *a, const struct rec *b)
{
	if (a->nviews != b->nviews || a->order_bad || b->order_bad)
		return false;
	for (unsigned i = 0; i < a->nviews; i++)
		if (a->v[i].off != b->v[i].off || a->v[i].index != b->v[i].index ||
		    a->v[i].data.n != b->v[i].data.n ||
		    memcmp(a->v[i].data.p, b->v[i].data.p, a->v[i].data.n) != 0)
			return false;
	return true;
}

static bool has(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

/* ---- tests */

static void test_types(void)
{
	struct rec rec = { 0 };
	struct decode_sink sink = { &rec, rec_begin, rec_data, rec_end };
	struct decoder *d = NULL;
	bool all = true;

	for (unsigned i = 0; i < ELEMENTSOF(types); i++) {
		d = NULL;
		all &= decoder_new(types[i], NULL, &sink, &d) == 0 && d;
		decoder_free(d);
	}
	ok(all, "decoder_new accepts zstd, xz, gzip, lz4");
	d = NULL;
	ok(decoder_new(FT_BINARY, NULL, &sink, &d) == -EINVAL && !d &&
		   decoder_new(FT_ELF_CORE, NULL, &sink, &d) == -EINVAL && !d &&
		   decoder_new(_FT_MAX, NULL, &sink, &d) == -EINVAL && !d,
	   "decoder_new refuses binary, elf-core and out-of-range types, ret untouched");
	decoder_free(NULL);
}

static void test_round_trip(void)
{
	struct buf in = mixed(300000, 1);
	char why[256];

	for (unsigned i = 0; i < ELEMENTSOF(types); i++) {
		enum ftype t = types[i];
		struct buf c = compress_as(t, &in);
		uint64_t off0 = 0;
		size_t chunkings[] = { 0, 4096, CHUNK_RANDOM };

		for (unsigned j = 0; j < ELEMENTSOF(chunkings); j++) {
			struct rec rec = { 0 };
			int r = run(t, c.p, c.n, chunkings[j], NULL, &rec, why, sizeof(why));
			ok(r == 0 && views_are(&rec, t, &in, &off0, 1),
			   "%s: one stream of %zu bytes (%zu compressed, chunking %s) round-trips as view 1 at offset 0 (r=%d %s)",
			   name_of(t), in.n, c.n, chunkings[j] == 0 ? "whole" : chunkings[j] == 4096 ? "4096" : "random", r,
			   why);
			rec_free(&rec);
		}

		/* empty payload: still one (empty) view */
		struct buf empty = { 0 };
		struct buf ce = compress_as(t, &empty);
		struct rec rec = { 0 };
		int r = run(t, ce.p, ce.n, 1, NULL, &rec, why, sizeof(why));
		ok(r == 0 && views_are(&rec, t, &empty, &off0, 1), "%s: a stream of nothing is one empty view",
		   name_of(t));
		rec_free(&rec);
		buf_free(&ce);

		/* refuses: not this format at all, and nothing at all */
		rec = (struct rec){ 0 };
		r = run(t, in.p, in.n, 0, NULL, &rec, why, sizeof(why));
		char want[64];
		snprintf(want, sizeof(want), "no %s %s at offset 0", name_of(t), unit_of(t));
		ok(r == -EBADMSG && strcmp(why, want) == 0 && rec.nviews == 0,
		   "%s refuses raw data: \"%s\"", name_of(t), why);
		rec_free(&rec);
		rec = (struct rec){ 0 };
		r = run(t, in.p, 0, 0, NULL, &rec, why, sizeof(why));
		ok(r == -EBADMSG && strcmp(why, want) == 0, "%s refuses empty input: \"%s\"", name_of(t), why);
		rec_free(&rec);
		/* another format's stream is not this one's */
		struct buf other = compress_as(types[(i + 1) % 4], &in);
		rec = (struct rec){ 0 };
		r = run(t, other.p, other.n, 0, NULL, &rec, why, sizeof(why));
		ok(r == -EBADMSG && strcmp(why, want) == 0, "%s refuses a %s stream: \"%s\"", name_of(t),
		   name_of(types[(i + 1) % 4]), why);
		rec_free(&rec);
		buf_free(&other);
		buf_free(&c);
	}
	buf_free(&in);
}

/* Three streams of one format, concatenated (with optional filler between
 * and after), return the parts and offsets. */
static struct buf three(enum ftype t, struct buf parts[3], uint64_t offs[3], const struct buf *between,
			const struct buf *after, size_t size)
{
	struct buf all = { 0 };
	for (unsigned k = 0; k < 3; k++) {
		parts[k] = mixed(size + k * 7777, 10 + k);
		struct buf c = compress_as(t, &parts[k]);
		offs[k] = all.n;
		buf_cat(&all, &c);
		buf_free(&c);
		if (k < 2 && between)
			buf_cat(&all, between);
	}
	if (after)
		buf_cat(&all, after);
	return all;
}

static void test_multi(void)
{
	char why[256], want[128];

	for (unsigned i = 0; i < ELEMENTSOF(types); i++) {
		enum ftype t = types[i];
		struct buf parts[3];
		uint64_t offs[3];
		struct buf all = three(t, parts, offs, NULL, NULL, 50000);
		struct rec rec = { 0 }, one = { 0 };
		int r = run(t, all.p, all.n, 0, NULL, &rec, why, sizeof(why));
		ok(r == 0 && views_are(&rec, t, parts, offs, 3),
		   "%s: 3 concatenated %ss are 3 views at offsets 0, %" PRIu64 ", %" PRIu64, name_of(t), unit_of(t),
		   offs[1], offs[2]);
		int r1 = run(t, all.p, all.n, 1, NULL, &one, why, sizeof(why));
		ok(r1 == 0 && same_views(&rec, &one), "%s: fed one byte at a time, the same 3 views", name_of(t));
		rec_free(&one);
		r1 = run(t, all.p, all.n, CHUNK_RANDOM, NULL, &one, why, sizeof(why));
		ok(r1 == 0 && same_views(&rec, &one), "%s: fed in random chunk sizes, the same 3 views",
		   name_of(t));
		rec_free(&one);
		rec_free(&rec);

		/* refuses: trailing garbage (and it never shows up in the text) */
		struct buf bad = buf_dup(&all);
		buf_add(&bad, "SECRETKEY-tail", 14);
		snprintf(want, sizeof(want), "trailing data after %s %s 3 at offset %zu", name_of(t), unit_of(t),
			 all.n);
		size_t chunkings[] = { 0, 1 };
		for (unsigned j = 0; j < 2; j++) {
			rec = (struct rec){ 0 };
			r = run(t, bad.p, bad.n, chunkings[j], NULL, &rec, why, sizeof(why));
			ok(r == -EBADMSG && strcmp(why, want) == 0 && views_are(&rec, t, parts, offs, 3) &&
				   !has(why, "SECRET"),
			   "%s refuses trailing garbage (%s): \"%s\", the 3 views were still delivered", name_of(t),
			   j ? "byte by byte" : "whole", why);
			rec_free(&rec);
		}
		/* a single trailing NUL, and the first byte of a magic alone */
		buf_free(&bad);
		bad = buf_dup(&all);
		buf_add(&bad, "\0", 1);
		rec = (struct rec){ 0 };
		r = run(t, bad.p, bad.n, 0, NULL, &rec, why, sizeof(why));
		if (t == FT_XZ) {
			snprintf(want, sizeof(want), "xz stream padding of 1 bytes at offset %zu is not a multiple of 4",
				 all.n);
		}
		ok(r == -EBADMSG && strcmp(why, want) == 0, "%s refuses one trailing NUL byte: \"%s\"", name_of(t),
		   why);
		rec_free(&rec);
		buf_free(&bad);
		bad = buf_dup(&all);
		buf_add(&bad, all.p, 1);
		snprintf(want, sizeof(want), "trailing data after %s %s 3 at offset %zu", name_of(t), unit_of(t),
			 all.n);
		rec = (struct rec){ 0 };
		r = run(t, bad.p, bad.n, 0, NULL, &rec, why, sizeof(why));
		ok(r == -EBADMSG && strcmp(why, want) == 0, "%s refuses a lone first magic byte at the end: \"%s\"",
		   name_of(t), why);
		rec_free(&rec);
		buf_free(&bad);

		buf_free(&all);
		for (unsigned k = 0; k < 3; k++)
			buf_free(&parts[k]);
	}
}

static void test_xz_padding(void)
{
	char why[256], want[160];
	struct buf parts[3];
	uint64_t offs[3];
	struct buf pad4 = { 0 }, pad8 = { 0 }, pad3 = { 0 }, pad5 = { 0 };
	uint8_t zeros[8] = { 0 };
	buf_add(&pad4, zeros, 4);
	buf_add(&pad8, zeros, 8);
	buf_add(&pad3, zeros, 3);
	buf_add(&pad5, zeros, 5);

	struct buf all = three(FT_XZ, parts, offs, &pad4, &pad8, 20000);
	struct rec rec = { 0 }, one = { 0 };
	int r = run(FT_XZ, all.p, all.n, 0, NULL, &rec, why, sizeof(why));
	ok(r == 0 && views_are(&rec, FT_XZ, parts, offs, 3),
	   "xz: streams with 4 NULs of padding between and 8 after are 3 views at %" PRIu64 ", %" PRIu64
	   ", %" PRIu64,
	   offs[0], offs[1], offs[2]);
	r = run(FT_XZ, all.p, all.n, 1, NULL, &one, why, sizeof(why));
	ok(r == 0 && same_views(&rec, &one), "xz: padded streams fed one byte at a time, the same views");
	rec_free(&rec);
	rec_free(&one);
	for (unsigned k = 0; k < 3; k++)
		buf_free(&parts[k]);
	buf_free(&all);

	/* refuses: padding of 3 between streams */
	all = three(FT_XZ, parts, offs, &pad3, NULL, 20000);
	r = run(FT_XZ, all.p, all.n, 0, NULL, &rec, why, sizeof(why));
	snprintf(want, sizeof(want), "xz stream padding of 3 bytes at offset %" PRIu64 " is not a multiple of 4",
		 offs[1] - 3);
	ok(r == -EBADMSG && strcmp(why, want) == 0 && rec.nviews == 1, "xz refuses 3 bytes of padding: \"%s\"",
	   why);
	rec_free(&rec);
	for (unsigned k = 0; k < 3; k++)
		buf_free(&parts[k]);
	buf_free(&all);

	/* refuses: 5 NULs at the end */
	all = three(FT_XZ, parts, offs, &pad4, &pad5, 20000);
	r = run(FT_XZ, all.p, all.n, 1, NULL, &rec, why, sizeof(why));
	snprintf(want, sizeof(want), "xz stream padding of 5 bytes at offset %zu is not a multiple of 4", all.n - 5);
	ok(r == -EBADMSG && strcmp(why, want) == 0 && rec.nviews == 3,
	   "xz refuses 5 bytes of padding at the end (byte by byte): \"%s\"", why);
	rec_free(&rec);
	/* refuses: padding then garbage */
	struct buf bad = buf_dup(&all);
	bad.n -= 1; /* 4 NULs left */
	buf_add(&bad, "X", 1);
	r = run(FT_XZ, bad.p, bad.n, 0, NULL, &rec, why, sizeof(why));
	snprintf(want, sizeof(want), "trailing data after xz stream 3 at offset %zu", bad.n - 1);
	ok(r == -EBADMSG && strcmp(why, want) == 0, "xz refuses data after valid padding: \"%s\"", why);
	rec_free(&rec);
	buf_free(&bad);
	for (unsigned k = 0; k < 3; k++)
		buf_free(&parts[k]);
	buf_free(&all);

	/* refuses: padding before the first stream */
	struct buf in = mixed(1000, 3), c = xzc(&in);
	bad = (struct buf){ 0 };
	buf_cat(&bad, &pad4);
	buf_cat(&bad, &c);
	r = run(FT_XZ, bad.p, bad.n, 0, NULL, &rec, why, sizeof(why));
	ok(r == -EBADMSG && strcmp(why, "no xz stream at offset 0") == 0,
	   "xz refuses padding before the first stream: \"%s\"", why);
	rec_free(&rec);
	buf_free(&bad);
	buf_free(&in);
	buf_free(&c);
	buf_free(&pad4);
	buf_free(&pad8);
	buf_free(&pad3);
	buf_free(&pad5);
}

static struct buf skippable(uint32_t magic, uint32_t size)
{
	struct buf b = { 0 };
	uint8_t h[8] = { (uint8_t)magic, (uint8_t)(magic >> 8), (uint8_t)(magic >> 16), (uint8_t)(magic >> 24),
			 (uint8_t)size,  (uint8_t)(size >> 8),  (uint8_t)(size >> 16),  (uint8_t)(size >> 24) };
	buf_add(&b, h, 8);
	for (uint32_t i = 0; i < size; i++)
		buf_add(&b, "K", 1);
	return b;
}

static void test_skippable(void)
{
	char why[256], want[160];

	for (unsigned i = 2; i < 4; i++) {
		enum ftype t = types[i];
		struct buf parts[3];
		uint64_t offs[3];
		struct buf empty = skippable(0x184D2A50 + i * 5, 0);
		struct buf all = three(t, parts, offs, &empty, &empty, 30000);
		struct rec rec = { 0 }, one = { 0 };
		int r = run(t, all.p, all.n, 0, NULL, &rec, why, sizeof(why));
		ok(r == 0 && views_are(&rec, t, parts, offs, 3),
		   "%s: empty skippable frames between and after frames are accounted for (3 views)", name_of(t));
		r = run(t, all.p, all.n, 1, NULL, &one, why, sizeof(why));
		ok(r == 0 && same_views(&rec, &one), "%s: the same, fed one byte at a time", name_of(t));
		rec_free(&rec);
		rec_free(&one);
		buf_free(&all);
		for (unsigned k = 0; k < 3; k++)
			buf_free(&parts[k]);

		/* refuses: a skippable frame with 5 bytes in it, between frames */
		struct buf full = skippable(0x184D2A5F, 5);
		all = three(t, parts, offs, &full, NULL, 30000);
		snprintf(want, sizeof(want), "%s skippable frame at offset %" PRIu64 " (5 bytes) not scanned",
			 name_of(t), offs[1] - 13);
		for (unsigned j = 0; j < 2; j++) {
			r = run(t, all.p, all.n, j, NULL, &rec, why, sizeof(why));
			ok(r == -EBADMSG && strcmp(why, want) == 0 && rec.nviews == 1,
			   "%s refuses a non-empty skippable frame (%s): \"%s\"", name_of(t), j ? "byte by byte" : "whole",
			   why);
			rec_free(&rec);
		}
		/* and in front of everything */
		struct buf front = buf_dup(&full);
		buf_cat(&front, &all);
		r = run(t, front.p, front.n, 0, NULL, &rec, why, sizeof(why));
		snprintf(want, sizeof(want), "%s skippable frame at offset 0 (5 bytes) not scanned", name_of(t));
		ok(r == -EBADMSG && strcmp(why, want) == 0 && rec.nviews == 0,
		   "%s refuses a non-empty skippable frame first: \"%s\"", name_of(t), why);
		rec_free(&rec);
		/* a skippable header cut short at the end */
		buf_free(&front);
		front = (struct buf){ 0 };
		buf_add(&front, all.p, offs[1] - 13);
		buf_add(&front, full.p, 6);
		r = run(t, front.p, front.n, 0, NULL, &rec, why, sizeof(why));
		snprintf(want, sizeof(want), "trailing data after %s frame 1 at offset %" PRIu64, name_of(t),
			 offs[1] - 13);
		ok(r == -EBADMSG && strcmp(why, want) == 0, "%s refuses a cut skippable header at the end: \"%s\"",
		   name_of(t), why);
		rec_free(&rec);
		buf_free(&front);
		buf_free(&full);
		buf_free(&empty);
		buf_free(&all);
		for (unsigned k = 0; k < 3; k++)
			buf_free(&parts[k]);
	}
}

static void test_lz4_legacy(void)
{
	char why[256];
	struct buf in = mixed(9 * MiB + 12345, 5); /* two legacy blocks */
	struct buf c = lz4legacy(&in);
	struct rec rec = { 0 }, one = { 0 };
	uint64_t offs[2] = { 0, 0 };

	int r = run(FT_LZ4, c.p, c.n, 0, NULL, &rec, why, sizeof(why));
	ok(r == 0 && views_are(&rec, FT_LZ4, &in, offs, 1), "lz4: a legacy stream of 2 blocks is one view (%s)",
	   why);
	rec_free(&rec);
	r = run(FT_LZ4, c.p, c.n, CHUNK_RANDOM, NULL, &one, why, sizeof(why));
	ok(r == 0 && views_are(&one, FT_LZ4, &in, offs, 1), "lz4: the same legacy stream fed in random chunks");
	rec_free(&one);

	/* legacy stream followed by a frame and another legacy stream */
	struct buf small = mixed(40000, 6), c2 = lz4f(&small), c3 = lz4legacy(&small);
	struct buf all = buf_dup(&c);
	offs[1] = all.n;
	buf_cat(&all, &c2);
	uint64_t off3 = all.n;
	buf_cat(&all, &c3);
	r = run(FT_LZ4, all.p, all.n, 0, NULL, &rec, why, sizeof(why));
	ok(r == 0 && rec.nviews == 3 && rec.v[1].off == offs[1] && rec.v[2].off == off3 &&
		   rec.v[1].data.n == small.n && memcmp(rec.v[2].data.p, small.p, small.n) == 0,
	   "lz4: legacy, frame, legacy are 3 views at 0, %" PRIu64 ", %" PRIu64 " (%s)", offs[1], off3, why);
	r = run(FT_LZ4, all.p, all.n, 1, NULL, &one, why, sizeof(why));
	ok(r == 0 && same_views(&rec, &one), "lz4: the same, fed one byte at a time");
	rec_free(&rec);
	rec_free(&one);

	/* refuses: cut in the middle of a block, and garbage after */
	r = run(FT_LZ4, c.p, c.n - 100, 0, NULL, &rec, why, sizeof(why));
	ok(r == -EBADMSG && strcmp(why, "lz4 frame 1 truncated") == 0, "lz4 refuses a cut legacy block: \"%s\"",
	   why);
	rec_free(&rec);
	size_t blk1 = (size_t)c.p[4] | (size_t)c.p[5] << 8 | (size_t)c.p[6] << 16 | (size_t)c.p[7] << 24;
	r = run(FT_LZ4, c.p, 8 + blk1 + 2, 1, NULL, &rec, why, sizeof(why));
	ok(r == -EBADMSG && strcmp(why, "lz4 frame 1 truncated") == 0, "lz4 refuses a cut legacy block header: \"%s\"",
	   why);
	rec_free(&rec);
	struct buf bad = buf_dup(&c3);
	buf_add(&bad, "\xff\xff\xff\x7fGARBAGE", 11);
	r = run(FT_LZ4, bad.p, bad.n, 0, NULL, &rec, why, sizeof(why));
	char want[96];
	snprintf(want, sizeof(want), "trailing data after lz4 frame 1 at offset %zu", c3.n);
	ok(r == -EBADMSG && strcmp(why, want) == 0, "lz4 refuses garbage after a legacy stream: \"%s\"", why);
	rec_free(&rec);
	buf_free(&bad);
	/* a corrupt legacy block */
	bad = buf_dup(&c3);
	for (size_t k = 8; k < bad.n; k++)
		bad.p[k] = 0xff;
	r = run(FT_LZ4, bad.p, bad.n, 0, NULL, &rec, why, sizeof(why));
	ok(r == -EBADMSG && has(why, "lz4 frame 1 corrupt at offset"), "lz4 refuses a corrupt legacy block: \"%s\"",
	   why);
	rec_free(&rec);
	buf_free(&bad);

	buf_free(&all);
	buf_free(&small);
	buf_free(&c2);
	buf_free(&c3);
	buf_free(&c);
	buf_free(&in);
}

static void test_truncated_corrupt(void)
{
	char why[256], want[96];
	struct buf in = mixed(1500, 7);

	for (unsigned i = 0; i < ELEMENTSOF(types); i++) {
		enum ftype t = types[i];
		struct buf c = compress_as(t, &in);
		struct rec rec = { 0 };
		bool all_refused = true;
		size_t bad_cut = 0;

		snprintf(want, sizeof(want), "%s %s 1 truncated", name_of(t), unit_of(t));
		int r = run(t, c.p, c.n / 2, 0, NULL, &rec, why, sizeof(why));
		ok(r == -EBADMSG && strcmp(why, want) == 0 && rec.nviews == 1 && rec.v[0].ended,
		   "%s refuses a stream cut in half: \"%s\" (the view is still closed)", name_of(t), why);
		rec_free(&rec);
		for (size_t cut = 1; cut < c.n; cut++) {
			r = run(t, c.p, cut, cut % 2 ? 0 : 1, NULL, &rec, why, sizeof(why));
			if (r != -EBADMSG || rec.order_bad) {
				all_refused = false;
				bad_cut = cut;
			}
			rec_free(&rec);
		}
		ok(all_refused, "%s refuses every one of the %zu truncations (first bad: %zu)", name_of(t), c.n - 1,
		   bad_cut);

		/* a flipped byte in the middle of the compressed data */
		struct buf bad = buf_dup(&c);
		bad.p[bad.n / 2] ^= 0x55;
		r = run(t, bad.p, bad.n, 0, NULL, &rec, why, sizeof(why));
		char pfx[64];
		snprintf(pfx, sizeof(pfx), "%s %s 1 corrupt at offset ", name_of(t), unit_of(t));
		ok(r == -EBADMSG && strncmp(why, pfx, strlen(pfx)) == 0, "%s refuses a flipped byte at %zu: \"%s\"",
		   name_of(t), bad.n / 2, why);
		rec_free(&rec);
		buf_free(&bad);

		/* every single-byte flip: refused, or (a header field no check
		 * covers, e.g. gzip MTIME) the original bytes exactly */
		bool sound = true;
		size_t accepted = 0;
		for (size_t k = 0; k < c.n; k++) {
			bad = buf_dup(&c);
			bad.p[k] ^= 0x01;
			r = run(t, bad.p, bad.n, 0, NULL, &rec, why, sizeof(why));
			if (r == 0) {
				accepted++;
				if (rec.nviews != 1 || rec.v[0].data.n != in.n || memcmp(rec.v[0].data.p, in.p, in.n) != 0) {
					sound = false;
					diag("%s: flip at %zu accepted with other output", name_of(t), k);
				}
			} else if (r != -EBADMSG && r != -EFBIG)
				sound = false;
			rec_free(&rec);
			buf_free(&bad);
		}
		ok(sound, "%s: each of %zu bit flips is refused or decodes to the original (%zu harmless)",
		   name_of(t), c.n, accepted);
		buf_free(&c);
	}
	buf_free(&in);
}

static void test_zstd_window(void)
{
	char why[256];
	struct buf in = mixed(5000, 8);
	struct buf big = zst(&in, 28), ok27 = zst(&in, 27);
	struct rec rec = { 0 };
	uint64_t off0 = 0;

	int r = run(FT_ZSTD, ok27.p, ok27.n, 0, NULL, &rec, why, sizeof(why));
	ok(r == 0 && views_are(&rec, FT_ZSTD, &in, &off0, 1), "zstd: a frame with a 128 MiB window decodes");
	rec_free(&rec);
	r = run(FT_ZSTD, big.p, big.n, 0, NULL, &rec, why, sizeof(why));
	ok(r == -EFBIG && strcmp(why, "zstd frame 1 needs a window above 128 MiB at offset 0") == 0,
	   "zstd refuses a frame that needs a 256 MiB window: \"%s\"", why);
	rec_free(&rec);
	buf_free(&in);
	buf_free(&big);
	buf_free(&ok27);
}

static void test_sink(void)
{
	char why[256];
	struct buf in = mixed(100000, 9);
	for (unsigned i = 0; i < ELEMENTSOF(types); i++) {
		struct buf c = compress_as(types[i], &in);
		struct rec rec = { 0 };
		rec.fail_data = -EIO;
		int r = run(types[i], c.p, c.n, 0, NULL, &rec, why, sizeof(why));
		ok(r == -EIO && !rec.order_bad && rec.open, "%s: a sink error comes back unchanged (%d), sticky, no view_end: \"%s\"",
		   name_of(types[i]), r, why);
		rec_free(&rec);
		buf_free(&c);
	}
	buf_free(&in);

	/* finish twice, feed after finish */
	struct rec rec = { 0 };
	struct decode_sink sink = { &rec, rec_begin, rec_data, rec_end };
	struct decoder *d = NULL;
	struct buf e = { 0 }, c;
	c = gz(&e, 6);
	decoder_new(FT_GZIP, NULL, &sink, &d);
	int r1 = decoder_feed(d, c.p, c.n);
	int r2 = decoder_finish(d, why, sizeof(why));
	int r3 = decoder_finish(d, why, sizeof(why));
	int r4 = decoder_feed(d, c.p, c.n);
	ok(r1 == 0 && r2 == 0 && r3 == -EINVAL && r4 == -EINVAL && strcmp(decoder_error(d), "") == 0,
	   "after a good finish: finish again and feed are -EINVAL");
	decoder_free(d);
	rec_free(&rec);
	/* decoder_error after a failed feed */
	d = NULL;
	decoder_new(FT_GZIP, NULL, &sink, &d);
	r1 = decoder_feed(d, (const uint8_t *)"PK\3\4", 4);
	ok(r1 == -EBADMSG && strcmp(decoder_error(d), "no gzip member at offset 0") == 0,
	   "decoder_error() after a failed feed: \"%s\"", decoder_error(d));
	decoder_free(d);
	rec_free(&rec);
	buf_free(&c);
}

/* ---- bombs */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 GiB of zeros as one gzip member.  Deflate runs on 1 MiB of zeros at a
 * time with a full flush after each, so every segment after the first
 * starts from the same state; once two consecutive segments come out
 * identical the rest are copies (deflate of 1 GiB takes ~9 s otherwise). */
static struct buf gzip_zero_bomb(size_t mib)
{
	struct buf o = { 0 }, prev = { 0 }, seg = { 0 };
	uint8_t *zeros = calloc(1, MiB), tmp[65536];
	z_stream z = { 0 };
	uLong crc = crc32(0, NULL, 0);
	bool copying = false;

	deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
	static const uint8_t hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3 };
	buf_add(&o, hdr, 10);
	for (size_t i = 0; i < mib; i++) {
		crc = crc32(crc, zeros, (uInt)MiB);
		if (copying) {
			buf_cat(&o, &prev);
			continue;
		}
		seg.n = 0;
		z.next_in = zeros;
		z.avail_in = (uInt)MiB;
		do {
			z.next_out = tmp;
			z.avail_out = sizeof(tmp);
			deflate(&z, Z_FULL_FLUSH);
			buf_add(&seg, tmp, sizeof(tmp) - z.avail_out);
		} while (z.avail_out == 0);
		if (i >= 2 && seg.n == prev.n && memcmp(seg.p, prev.p, seg.n) == 0)
			copying = true;
		buf_cat(&o, &seg);
		prev.n = 0;
		buf_cat(&prev, &seg);
	}
	/* final empty block; deflate's state has nothing pending */
	z.next_in = zeros;
	z.avail_in = 0;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof(tmp);
		deflate(&z, Z_FINISH);
		buf_add(&o, tmp, sizeof(tmp) - z.avail_out);
	} while (z.avail_out == 0);
	deflateEnd(&z);
	uint64_t isize = (uint64_t)mib * MiB;
	uint8_t trl[8] = { (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24),
			   (uint8_t)isize, (uint8_t)(isize >> 8), (uint8_t)(isize >> 16), (uint8_t)(isize >> 24) };
	buf_add(&o, trl, 8);
	free(zeros);
	buf_free(&prev);
	buf_free(&seg);
	return o;
}

/* n MiB of zeros through the streaming compressor of t, 1 MiB at a time. */
static struct buf zero_bomb(enum ftype t, size_t mib)
{
	struct buf o = { 0 };
	uint8_t *zeros = calloc(1, MiB);
	size_t tmpn = 8 * MiB;
	uint8_t *tmp = malloc(tmpn);

	if (t == FT_GZIP) {
		free(zeros);
		free(tmp);
		return gzip_zero_bomb(mib);
	}
	if (t == FT_ZSTD) {
		ZSTD_CCtx *c = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
		for (size_t i = 0; i <= mib; i++) {
			ZSTD_inBuffer ib = { zeros, i < mib ? MiB : 0, 0 };
			size_t rem;
			do {
				ZSTD_outBuffer ob = { tmp, tmpn, 0 };
				rem = ZSTD_compressStream2(c, &ob, &ib, i < mib ? ZSTD_e_continue : ZSTD_e_end);
				buf_add(&o, tmp, ob.pos);
			} while (i == mib ? rem != 0 : ib.pos < ib.size);
		}
		ZSTD_freeCCtx(c);
	} else if (t == FT_XZ) {
		lzma_stream x = LZMA_STREAM_INIT;
		if (lzma_easy_encoder(&x, 0, LZMA_CHECK_CRC32) != LZMA_OK)
			exit(99);
		for (size_t i = 0; i <= mib; i++) {
			lzma_ret lr;
			x.next_in = zeros;
			x.avail_in = i < mib ? MiB : 0;
			do {
				x.next_out = tmp;
				x.avail_out = tmpn;
				lr = lzma_code(&x, i < mib ? LZMA_RUN : LZMA_FINISH);
				buf_add(&o, tmp, tmpn - x.avail_out);
			} while (i == mib ? lr == LZMA_OK : x.avail_in > 0);
		}
		lzma_end(&x);
	} else {
		LZ4F_cctx *c;
		LZ4F_createCompressionContext(&c, LZ4F_VERSION);
		size_t k = LZ4F_compressBegin(c, tmp, tmpn, NULL);
		buf_add(&o, tmp, k);
		for (size_t i = 0; i < mib; i++) {
			k = LZ4F_compressUpdate(c, tmp, tmpn, zeros, MiB, NULL);
			buf_add(&o, tmp, k);
		}
		k = LZ4F_compressEnd(c, tmp, tmpn, NULL);
		buf_add(&o, tmp, k);
		LZ4F_freeCompressionContext(c);
	}
	free(zeros);
	free(tmp);
	return o;
}

/* Bombs: a recording sink with discard set counts and keeps nothing. */
static void test_bombs(void)
{
	char why[256];
	struct { enum ftype t; size_t mib; } bombs[] = {
		{ FT_GZIP, 1024 }, { FT_ZSTD, 1024 }, { FT_LZ4, 1024 }, { FT_XZ, 128 },
	};

	for (unsigned i = 0; i < ELEMENTSOF(bombs); i++) {
		enum ftype t = bombs[i].t;
		double t0 = now();
		struct buf b = zero_bomb(t, bombs[i].mib);
		double tgen = now() - t0;
		uint64_t ratio = (uint64_t)bombs[i].mib * MiB / b.n;
		diag("%s bomb: %zu MiB of zeros in %zu bytes (ratio %" PRIu64 "), made in %.1f s", name_of(t),
		     bombs[i].mib, b.n, ratio, tgen);

		size_t heap0 = heap_now(), heap_max = 0;
		struct rec rec = { .discard = true };
		struct decode_limits size16 = { 16 * MiB, 1000000000 };
		t0 = now();
		int r = run(t, b.p, b.n, 65536, &size16, &rec, why, sizeof(why));
		double el = now() - t0;
		ok(r == -EFBIG && strcmp(why, "decoded size above 16777216 bytes (bomb_max_size)") == 0 &&
			   rec.total == 16 * MiB && el < 5.0 && !rec.open && rec.nviews == 1,
		   "%s: a %zu MiB bomb is stopped by max_size=16M after exactly 16 MiB, in %.2f s: \"%s\"",
		   name_of(t), bombs[i].mib, el, why);
		heap_max = rec.heap_max;
		rec_free(&rec);
		rec.discard = true;

		struct decode_limits ratio100 = { 0, 100 };
		t0 = now();
		r = run(t, b.p, b.n, 65536, &ratio100, &rec, why, sizeof(why));
		el = now() - t0;
		bool expect_ratio = ratio > 100;
		ok(expect_ratio ? (r == -EFBIG && strcmp(why, "compression ratio above 100 (bomb_max_ratio)") == 0 &&
				   rec.total <= 2 * MiB && el < 5.0)
				: r == 0,
		   "%s: the same bomb with max_ratio=100 (ratio %" PRIu64 ") is stopped after %" PRIu64
		   " bytes, in %.2f s: \"%s\"",
		   name_of(t), ratio, rec.total, el, why);
		rec_free(&rec);

		/* accepts: under the limits it decodes to the end */
		rec.discard = true;
		struct decode_limits roomy = { (uint64_t)bombs[i].mib * MiB, 2 * ratio + 10 };
		t0 = now();
		r = run(t, b.p, b.n, 1 * MiB, &roomy, &rec, why, sizeof(why));
		el = now() - t0;
		ok(r == 0 && rec.total == (uint64_t)bombs[i].mib * MiB && rec.nviews == 1 && rec.max_chunk <= DECODE_CHUNK,
		   "%s: with max_size=%zu MiB and max_ratio=%" PRIu64 " the same stream passes (%" PRIu64
		   " bytes in %.2f s)",
		   name_of(t), bombs[i].mib, 2 * ratio + 10, rec.total, el);
		if (rec.heap_max > heap_max)
			heap_max = rec.heap_max;
		rec_free(&rec);
		ok(heap_max > heap0 && heap_max - heap0 < 8 * MiB,
		   "%s: decoding %zu MiB kept at most %zu KiB of heap in use beyond the input (< 8 MiB)",
		   name_of(t), bombs[i].mib, (heap_max - heap0) >> 10);
		buf_free(&b);
	}

	/* the ratio rule starts at 1 MiB decoded: 512 KiB of zeros passes at
	 * ratio 100, 4 MiB does not */
	struct buf z512 = { 0 }, z4 = { 0 };
	uint8_t *zeros = calloc(1, 4 * MiB);
	buf_add(&z512, zeros, MiB / 2);
	buf_add(&z4, zeros, 4 * MiB);
	free(zeros);
	for (unsigned i = 0; i < ELEMENTSOF(types); i++) {
		struct buf c = compress_as(types[i], &z512), c4 = compress_as(types[i], &z4);
		struct decode_limits ratio100 = { 0, 100 };
		struct rec rec = { 0 };
		int r = run(types[i], c.p, c.n, 0, &ratio100, &rec, why, sizeof(why));
		ok(r == 0 && rec.total == MiB / 2, "%s: 512 KiB of zeros at ratio %zu passes max_ratio=100 (under 1 MiB)",
		   name_of(types[i]), MiB / 2 / c.n);
		rec_free(&rec);
		r = run(types[i], c4.p, c4.n, 0, &ratio100, &rec, why, sizeof(why));
		ok(r == -EFBIG && has(why, "(bomb_max_ratio)"), "%s: 4 MiB of zeros at ratio %zu is refused: \"%s\"",
		   name_of(types[i]), 4 * MiB / c4.n, why);
		rec_free(&rec);
		buf_free(&c);
		buf_free(&c4);
	}
	buf_free(&z512);
	buf_free(&z4);
}

/* ---- cross-check with the command-line tools */

static bool have_tool(const char *name)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

static struct buf pipe_read(const char *cmd)
{
	struct buf o = { 0 };
	uint8_t tmp[65536];
	size_t k;
	FILE *f = popen(cmd, "r");
	if (!f)
		return o;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&o, tmp, k);
	if (pclose(f) != 0)
		o.n = 0;
	return o;
}

static void test_cli(void)
{
	char path[] = "/tmp/test-decode-XXXXXX", why[256], cmd[512];
	struct buf in = mixed(200000, 11);
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, in.p, in.n) != (ssize_t)in.n) {
		ok(0, "temporary file for the CLI cross-check");
		return;
	}
	close(fd);
	struct {
		enum ftype t;
		const char *tool, *args;
	} tools[] = {
		{ FT_GZIP, "gzip", "-c" }, { FT_XZ, "xz", "-c" },       { FT_ZSTD, "zstd", "-q -c" },
		{ FT_LZ4, "lz4", "-q -c" }, { FT_LZ4, "lz4", "-q -l -c" },
	};
	for (unsigned i = 0; i < ELEMENTSOF(tools); i++) {
		if (!have_tool(tools[i].tool)) {
			ok(1, "%s %s: # SKIP %s is not installed", tools[i].tool, tools[i].args, tools[i].tool);
			continue;
		}
		/* the same file compressed twice, concatenated by the shell */
		snprintf(cmd, sizeof(cmd), "%s %s %s; %s %s %s", tools[i].tool, tools[i].args, path, tools[i].tool,
			 tools[i].args, path);
		struct buf c = pipe_read(cmd);
		struct buf parts[2] = { in, in };
		uint64_t offs[2] = { 0, c.n / 2 };
		struct rec rec = { 0 };
		int r = run(tools[i].t, c.p, c.n, CHUNK_RANDOM, NULL, &rec, why, sizeof(why));
		ok(c.n > 0 && r == 0 && views_are(&rec, tools[i].t, parts, offs, 2),
		   "%s %s: two files from the tool, concatenated, are 2 views equal to the input (%s)", tools[i].tool,
		   tools[i].args, why);
		rec_free(&rec);
		/* refuses: the tool's output with garbage behind it */
		buf_add(&c, "junk", 4);
		r = run(tools[i].t, c.p, c.n, 0, NULL, &rec, why, sizeof(why));
		ok(r == -EBADMSG && has(why, "trailing data after"), "%s %s: with junk behind it refused: \"%s\"",
		   tools[i].tool, tools[i].args, why);
		rec_free(&rec);
		buf_free(&c);
	}
	unlink(path);
	buf_free(&in);
}

int main(void)
{
	test_types();
	test_round_trip();
	test_multi();
	test_xz_padding();
	test_skippable();
	test_lz4_legacy();
	test_truncated_corrupt();
	test_zstd_window();
	test_sink();
	test_bombs();
	test_cli();
	return tap_done();
}
