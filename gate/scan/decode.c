/* decode.c - decompressing views for the decoding pass (zstd, xz, gzip, lz4).
 *
 * Every byte handed to decoder_feed() is artifact data and untrusted.  The
 * decoder is a small state machine:
 *
 *   BETWEEN  at the start and after each stream: the next bytes must be
 *            the magic of another stream of the same format (or, for xz,
 *            stream padding; for zstd/lz4, an *empty* skippable frame).
 *            Anything else is data we cannot account for: an error.  A
 *            magic split across feeds is held in a small carry buffer.
 *   VIEW     inside one stream: bytes go to the library, decoded bytes go
 *            to the sink in chunks of at most DECODE_CHUNK, and the bomb
 *            limits are checked before and after every chunk.
 *   FAILED   sticky: every later call returns the same error.
 *
 * Each library decodes exactly one stream per view (gzip without
 * transparent concatenation, xz without LZMA_CONCATENATED, zstd and lz4
 * stopping at the end of a frame), so every member/stream/frame is its
 * own view with its own index and offset, and nothing is skipped behind
 * our back (ZSTD_decompressStream and LZ4F_decompress would silently skip
 * skippable frames; they never see one because we check every magic
 * first).
 *
 * Memory is bounded: one DECODE_CHUNK output buffer plus the library state
 * (xz: DECODE_XZ_MEMLIMIT; zstd: window up to 2^DECODE_ZSTD_WINDOWLOG_MAX;
 * lz4 legacy: one 8 MiB block in and out).  No stream is buffered whole.
 *
 * Error texts are fixed phrases with numbers only: no artifact byte and no
 * library message ever reaches them (I7).
 */
#include "decode.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "util.h"

#define RATIO_FLOOR ((uint64_t)1 << 20) /* ratio is checked from 1 MiB decoded on */
#define DEFAULT_MAX_SIZE ((uint64_t)16 << 30)
#define DEFAULT_MAX_RATIO 1000
#define LEGACY_MAGIC 0x184C2102u
#define LEGACY_BLOCK ((size_t)8 << 20) /* lz4 legacy: 8 MiB per block */
#define LEGACY_BOUND ((size_t)LZ4_COMPRESSBOUND(LEGACY_BLOCK))
/* zstd and lz4 report no position on error: hand them at most this much
 * per call so that an error offset is at most one step (or one block) off. */
#define STEP ((size_t)64 << 10)
#define HEAD_MAX 8   /* most bytes classify() needs to decide (skippable header) */
#define CARRY_MAX 16 /* pushed-back legacy header (4) + leftovers (< HEAD_MAX) */

enum dstate { D_BETWEEN, D_VIEW, D_FAILED, D_FINISHED };

enum act {
	ACT_MORE,        /* cannot decide yet */
	ACT_SKIP,        /* skip *ret_skip bytes (xz padding, empty skippable frame) */
	ACT_VIEW,        /* a stream starts here */
	ACT_VIEW_LEGACY, /* an lz4 legacy stream starts here */
};

struct decoder {
	enum ftype type;
	const char *fname; /* "gzip" ... */
	const char *unit;  /* "member", "stream", "frame" */
	uint64_t max_size, max_ratio;
	struct decode_sink sink;

	enum dstate state;
	int error; /* negative errno once D_FAILED */
	char err[192];

	/* Artifact offset of the next byte handed to decoder_feed().  The carry
	 * holds the ncarry bytes just before it, not yet accounted for. */
	uint64_t in_pos;
	uint8_t carry[CARRY_MAX];
	size_t ncarry;
	uint64_t pad_start, pad_len; /* xz stream padding run */

	unsigned index; /* views begun so far; the current view's number */
	uint64_t view_start, view_in, view_out;
	bool legacy;

	uint8_t *out; /* DECODE_CHUNK bytes */
	z_stream z;
	bool z_ready;
	lzma_stream x;
	bool x_ready;
	ZSTD_DCtx *zs;
	LZ4F_dctx *l4;

	/* lz4 legacy stream: magic to skip, 4-byte block size, block */
	unsigned lg_skip, lg_nhdr;
	uint8_t lg_hdr[4];
	size_t lg_bsize, lg_have; /* lg_bsize == 0: between blocks */
	uint8_t *lg_blk, *lg_out;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static void set_err(struct decoder *d, const char *fmt, va_list ap)
{
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
}

/* The sink itself failed: no view_end for it, its code goes back as is. */
static int sink_fail(struct decoder *d, int r)
{
	snprintf(d->err, sizeof(d->err), "decoded view sink failed (error %d)", -r);
	d->error = r;
	d->state = D_FAILED;
	return r;
}

/* A decoding error.  An open view is closed (view_end) first so that the
 * sink can finish scanning what was decoded before the failure. */
_printf_(3, 4) static int fail(struct decoder *d, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_err(d, fmt, ap);
	va_end(ap);
	if (d->state == D_VIEW && d->sink.view_end)
		(void)d->sink.view_end(d->sink.userdata);
	d->error = r;
	d->state = D_FAILED;
	return r;
}

static uint64_t view_pos(const struct decoder *d)
{
	return d->view_start + d->view_in;
}

static int corrupt(struct decoder *d)
{
	return fail(d, -EBADMSG, "%s %s %u corrupt at offset %" PRIu64, d->fname, d->unit, d->index,
		    view_pos(d));
}

static int oom(struct decoder *d)
{
	return fail(d, -ENOMEM, "out of memory decoding %s %s %u", d->fname, d->unit, d->index);
}

static bool ratio_exceeded(const struct decoder *d)
{
	uint64_t lim;

	if (d->view_out < RATIO_FLOOR)
		return false;
	if (__builtin_mul_overflow(d->view_in, d->max_ratio, &lim))
		return false;
	return d->view_out > lim;
}

/* Hand decoded bytes to the sink in chunks of at most DECODE_CHUNK, with
 * the bomb limits.  view_in must already count the input that produced
 * them.  Bytes up to max_size are still delivered so that the sink scans
 * everything that was decoded. */
static int emit(struct decoder *d, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t k = min_sz(n, DECODE_CHUNK);
		bool over = false;
		int r;

		if (k > d->max_size - d->view_out) {
			k = (size_t)(d->max_size - d->view_out);
			over = true;
		}
		if (k > 0 && d->sink.view_data) {
			r = d->sink.view_data(d->sink.userdata, p, k);
			if (r < 0)
				return sink_fail(d, r);
		}
		d->view_out += k;
		if (over)
			return fail(d, -EFBIG, "decoded size above %" PRIu64 " bytes (bomb_max_size)",
				    d->max_size);
		if (ratio_exceeded(d))
			return fail(d, -EFBIG, "compression ratio above %" PRIu64 " (bomb_max_ratio)",
				    d->max_ratio);
		p += k;
		n -= k;
	}
	return 0;
}

static int begin_view(struct decoder *d, uint64_t start, bool legacy)
{
	int r;

	if (d->index == UINT_MAX)
		return fail(d, -EFBIG, "more than %u %s %ss", UINT_MAX - 1, d->fname, d->unit);
	d->index++;
	d->view_start = start;
	d->view_in = d->view_out = 0;
	d->legacy = legacy;
	d->pad_len = 0;

	if (!d->out) { /* on first use: input that is not ours costs nothing */
		d->out = malloc(DECODE_CHUNK);
		if (!d->out)
			return oom(d);
	}

	switch (d->type) {
	case FT_GZIP:
		if (!d->z_ready) {
			r = inflateInit2(&d->z, 16 + MAX_WBITS); /* gzip only, no zlib/raw */
			if (r != Z_OK)
				return oom(d);
			d->z_ready = true;
		} else if (inflateReset(&d->z) != Z_OK)
			return oom(d);
		break;
	case FT_XZ: {
		/* One stream per view: no LZMA_CONCATENATED.  Re-initialising
		 * an initialised lzma_stream reuses its allocations. */
		lzma_ret lr = lzma_stream_decoder(&d->x, DECODE_XZ_MEMLIMIT, 0);
		if (lr != LZMA_OK)
			return oom(d);
		d->x_ready = true;
		break;
	}
	case FT_ZSTD:
		if (ZSTD_isError(ZSTD_DCtx_reset(d->zs, ZSTD_reset_session_only)))
			return oom(d);
		break;
	case FT_LZ4:
		if (legacy) {
			d->lg_skip = 4;
			d->lg_nhdr = 0;
			d->lg_bsize = d->lg_have = 0;
		} else
			LZ4F_resetDecompressionContext(d->l4);
		break;
	default:
		return fail(d, -EINVAL, "no decoder for this type");
	}

	if (d->sink.view_begin) {
		r = d->sink.view_begin(d->sink.userdata, d->fname, d->index, start);
		if (r < 0)
			return sink_fail(d, r);
	}
	d->state = D_VIEW;
	return 0;
}

static int end_view(struct decoder *d)
{
	int r;

	d->state = D_BETWEEN;
	if (d->sink.view_end) {
		r = d->sink.view_end(d->sink.userdata);
		if (r < 0)
			return sink_fail(d, r);
	}
	return 0;
}

/* Put bytes back in front of what is left to classify.  Only the lz4 legacy
 * reader does this, with the 4 bytes it read as a block size that turned
 * out to start the next frame; they are the last bytes consumed, so the
 * carry stays "the bytes just before in_pos". */
static void push_back(struct decoder *d, const uint8_t *p, size_t n)
{
	memmove(d->carry + n, d->carry, d->ncarry);
	memcpy(d->carry, p, n);
	d->ncarry += n;
}

/* ---- one stream per format.  Each *_feed consumes input until it is all
 * used or the stream ended; *ret_used says how much was taken. */

static int gzip_feed(struct decoder *d, const uint8_t *buf, size_t len, size_t *ret_used)
{
	z_stream *z = &d->z;
	size_t used = 0;
	int r;

	for (;;) {
		uInt avail = (uInt)min_sz(len - used, UINT_MAX);
		size_t took, made;
		int zr;

		z->next_in = (Bytef *)(uintptr_t)(buf + used);
		z->avail_in = avail;
		z->next_out = d->out;
		z->avail_out = DECODE_CHUNK;
		zr = inflate(z, Z_NO_FLUSH);
		took = avail - z->avail_in;
		made = DECODE_CHUNK - z->avail_out;
		used += took;
		d->view_in += took;
		*ret_used = used;
		if (zr == Z_MEM_ERROR)
			return oom(d);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return corrupt(d); /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
		r = emit(d, d->out, made);
		if (r < 0)
			return r;
		if (zr == Z_STREAM_END)
			return end_view(d);
		if (made < DECODE_CHUNK && used == len)
			return 0;
		if (took == 0 && made == 0)
			break;
	}
	return used == len ? 0 : corrupt(d);
}

static int xz_feed(struct decoder *d, const uint8_t *buf, size_t len, size_t *ret_used)
{
	lzma_stream *x = &d->x;
	size_t used = 0;
	int r;

	for (;;) {
		size_t took, made;
		lzma_ret lr;

		x->next_in = buf + used;
		x->avail_in = len - used;
		x->next_out = d->out;
		x->avail_out = DECODE_CHUNK;
		lr = lzma_code(x, LZMA_RUN);
		took = (len - used) - x->avail_in;
		made = DECODE_CHUNK - x->avail_out;
		used += took;
		d->view_in += took;
		*ret_used = used;
		switch (lr) {
		case LZMA_OK:
		case LZMA_STREAM_END:
		case LZMA_BUF_ERROR: /* no progress possible: needs input */
			break;
		case LZMA_MEM_ERROR:
			return oom(d);
		case LZMA_MEMLIMIT_ERROR:
			return fail(d, -EFBIG, "xz stream %u needs more than %" PRIu64 " MiB of memory at offset %" PRIu64,
				    d->index, (uint64_t)DECODE_XZ_MEMLIMIT >> 20, view_pos(d));
		case LZMA_OPTIONS_ERROR:
			return fail(d, -EBADMSG, "xz stream %u uses unsupported options at offset %" PRIu64,
				    d->index, view_pos(d));
		default: /* LZMA_DATA_ERROR, LZMA_FORMAT_ERROR, ... */
			return corrupt(d);
		}
		r = emit(d, d->out, made);
		if (r < 0)
			return r;
		if (lr == LZMA_STREAM_END)
			return end_view(d);
		if (made < DECODE_CHUNK && used == len)
			return 0;
		if (took == 0 && made == 0)
			break;
	}
	return used == len ? 0 : corrupt(d);
}

static int zstd_feed(struct decoder *d, const uint8_t *buf, size_t len, size_t *ret_used)
{
	size_t used = 0;
	int r;

	for (;;) {
		ZSTD_inBuffer ib = { buf + used, min_sz(len - used, STEP), 0 };
		ZSTD_outBuffer ob = { d->out, DECODE_CHUNK, 0 };
		size_t zr = ZSTD_decompressStream(d->zs, &ob, &ib);

		used += ib.pos;
		d->view_in += ib.pos;
		*ret_used = used;
		if (ZSTD_isError(zr)) {
			switch (ZSTD_getErrorCode(zr)) {
			case ZSTD_error_frameParameter_windowTooLarge:
				return fail(d, -EFBIG, "zstd frame %u needs a window above %u MiB at offset %" PRIu64,
					    d->index, (1u << DECODE_ZSTD_WINDOWLOG_MAX) >> 20, view_pos(d));
			case ZSTD_error_dictionary_wrong:
				return fail(d, -EBADMSG, "zstd frame %u needs a dictionary at offset %" PRIu64, d->index,
					    view_pos(d));
			case ZSTD_error_memory_allocation:
				return oom(d);
			default:
				return corrupt(d);
			}
		}
		r = emit(d, d->out, ob.pos);
		if (r < 0)
			return r;
		if (zr == 0) /* frame decoded and flushed; input stops at its end */
			return end_view(d);
		if (ob.pos < DECODE_CHUNK && used == len)
			return 0;
		if (ib.pos == 0 && ob.pos == 0)
			break;
	}
	return used == len ? 0 : corrupt(d);
}

static int lz4f_feed(struct decoder *d, const uint8_t *buf, size_t len, size_t *ret_used)
{
	size_t used = 0;
	int r;

	for (;;) {
		size_t made = DECODE_CHUNK, took = min_sz(len - used, STEP);
		size_t lr = LZ4F_decompress(d->l4, d->out, &made, buf + used, &took, NULL);

		used += took;
		d->view_in += took;
		*ret_used = used;
		if (LZ4F_isError(lr))
			return corrupt(d);
		r = emit(d, d->out, made);
		if (r < 0)
			return r;
		if (lr == 0) /* "stops reading exactly at end of current frame" */
			return end_view(d);
		if (made < DECODE_CHUNK && used == len)
			return 0;
		if (took == 0 && made == 0)
			break;
	}
	return used == len ? 0 : corrupt(d);
}

/* lz4 legacy format (lz4 -l, kernel images): magic, then blocks of
 * [le32 compressed size][data], each decoding to at most 8 MiB.  There is
 * no end mark: the stream ends at end of input or at a "size" above the
 * bound for a block, which is the magic of the next frame (as lz4(1)
 * reads it). */
static int legacy_feed(struct decoder *d, const uint8_t *buf, size_t len, size_t *ret_used)
{
	size_t used = 0;
	int r;

	while (used < len) {
		size_t k;

		if (d->lg_skip > 0) {
			k = min_sz(d->lg_skip, len - used);
			d->lg_skip -= (unsigned)k;
		} else if (d->lg_bsize == 0) {
			k = min_sz(4 - d->lg_nhdr, len - used);
			memcpy(d->lg_hdr + d->lg_nhdr, buf + used, k);
			d->lg_nhdr += (unsigned)k;
		} else {
			k = min_sz(d->lg_bsize - d->lg_have, len - used);
			memcpy(d->lg_blk + d->lg_have, buf + used, k);
			d->lg_have += k;
		}
		used += k;
		d->view_in += k;
		*ret_used = used;

		if (d->lg_skip == 0 && d->lg_bsize == 0 && d->lg_nhdr == 4) {
			uint32_t bs = le32(d->lg_hdr);

			d->lg_nhdr = 0;
			if (bs > LEGACY_BOUND) {
				/* Not a block: the next frame's magic. */
				d->view_in -= 4;
				push_back(d, d->lg_hdr, 4);
				return end_view(d);
			}
			if (bs == 0)
				return corrupt(d);
			if (!d->lg_blk)
				d->lg_blk = malloc(LEGACY_BOUND);
			if (!d->lg_out)
				d->lg_out = malloc(LEGACY_BLOCK);
			if (!d->lg_blk || !d->lg_out)
				return oom(d);
			d->lg_bsize = bs;
			d->lg_have = 0;
		} else if (d->lg_bsize > 0 && d->lg_have == d->lg_bsize) {
			int n = LZ4_decompress_safe((const char *)d->lg_blk, (char *)d->lg_out,
						    (int)d->lg_bsize, (int)LEGACY_BLOCK);
			d->lg_bsize = d->lg_have = 0;
			if (n < 0)
				return corrupt(d);
			r = emit(d, d->lg_out, (size_t)n);
			if (r < 0)
				return r;
		}
	}
	*ret_used = used;
	return 0;
}

/* Feed one view.  Returns with all input used, or the view ended (state
 * D_BETWEEN, the rest is for the caller), or an error. */
static int view_feed(struct decoder *d, const uint8_t *buf, size_t len, size_t *ret_used)
{
	*ret_used = 0;
	switch (d->type) {
	case FT_GZIP:
		return gzip_feed(d, buf, len, ret_used);
	case FT_XZ:
		return xz_feed(d, buf, len, ret_used);
	case FT_ZSTD:
		return zstd_feed(d, buf, len, ret_used);
	case FT_LZ4:
		return d->legacy ? legacy_feed(d, buf, len, ret_used) : lz4f_feed(d, buf, len, ret_used);
	default:
		return fail(d, -EINVAL, "no decoder for this type");
	}
}

/* End of input inside a view. */
static int view_finish(struct decoder *d)
{
	if (d->legacy && d->lg_skip == 0 && d->lg_nhdr == 0 && d->lg_bsize == 0)
		return end_view(d); /* legacy streams end at a block boundary */
	return fail(d, -EBADMSG, "%s %s %u truncated", d->fname, d->unit, d->index);
}

/* ---- between streams */

struct magic {
	uint8_t b[6], mask[6];
	size_t len;
	enum act act;
	bool skippable;
};

static const struct magic gzip_magic[] = {
	{ { 0x1f, 0x8b }, { 0xff, 0xff }, 2, ACT_VIEW, false },
};
static const struct magic xz_magic[] = {
	{ { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 6, ACT_VIEW, false },
};
static const struct magic zstd_magic[] = {
	{ { 0x28, 0xb5, 0x2f, 0xfd }, { 0xff, 0xff, 0xff, 0xff }, 4, ACT_VIEW, false },
	{ { 0x50, 0x2a, 0x4d, 0x18 }, { 0xf0, 0xff, 0xff, 0xff }, 4, ACT_SKIP, true },
};
static const struct magic lz4_magic[] = {
	{ { 0x04, 0x22, 0x4d, 0x18 }, { 0xff, 0xff, 0xff, 0xff }, 4, ACT_VIEW, false },
	{ { 0x02, 0x21, 0x4c, 0x18 }, { 0xff, 0xff, 0xff, 0xff }, 4, ACT_VIEW_LEGACY, false },
	{ { 0x50, 0x2a, 0x4d, 0x18 }, { 0xf0, 0xff, 0xff, 0xff }, 4, ACT_SKIP, true },
};

static int not_ours(struct decoder *d, uint64_t off)
{
	if (d->index == 0)
		return fail(d, -EBADMSG, "no %s %s at offset %" PRIu64, d->fname, d->unit, off);
	return fail(d, -EBADMSG, "trailing data after %s %s %u at offset %" PRIu64, d->fname, d->unit,
		    d->index, off);
}

/* Decide what the bytes at artifact offset base (n of them, n > 0) are.
 * With final, no more bytes will come. */
static int classify(struct decoder *d, const uint8_t *buf, size_t n, uint64_t base, bool final,
		    enum act *ret_act, size_t *ret_skip)
{
	const struct magic *tab;
	size_t ntab;
	bool partial = false;

	switch (d->type) {
	case FT_GZIP:
		tab = gzip_magic, ntab = ELEMENTSOF(gzip_magic);
		break;
	case FT_XZ:
		tab = xz_magic, ntab = ELEMENTSOF(xz_magic);
		/* Stream padding: NUL bytes after a stream, a multiple of 4
		 * in all before the next stream or the end (xz spec 2.2). */
		if (buf[0] == 0 && d->index > 0) {
			size_t k = 0;
			while (k < n && buf[k] == 0)
				k++;
			if (d->pad_len == 0)
				d->pad_start = base;
			d->pad_len += k;
			*ret_act = ACT_SKIP;
			*ret_skip = k;
			return 0;
		}
		if (d->pad_len % 4 != 0)
			return fail(d, -EBADMSG,
				    "xz stream padding of %" PRIu64 " bytes at offset %" PRIu64 " is not a multiple of 4",
				    d->pad_len, d->pad_start);
		break;
	case FT_ZSTD:
		tab = zstd_magic, ntab = ELEMENTSOF(zstd_magic);
		break;
	case FT_LZ4:
		tab = lz4_magic, ntab = ELEMENTSOF(lz4_magic);
		break;
	default:
		return fail(d, -EINVAL, "no decoder for this type");
	}

	for (size_t i = 0; i < ntab; i++) {
		const struct magic *m = &tab[i];
		size_t have = min_sz(n, m->len);
		size_t j;

		for (j = 0; j < have; j++)
			if ((buf[j] & m->mask[j]) != m->b[j])
				break;
		if (j < have)
			continue;
		if (have < m->len || (m->skippable && n < 8)) {
			partial = true;
			continue;
		}
		if (m->skippable) {
			uint32_t size = le32(buf + 4);
			/* Skippable frames hold data nobody decodes: only an
			 * empty one is accounted for. */
			if (size != 0)
				return fail(d, -EBADMSG,
					    "%s skippable frame at offset %" PRIu64 " (%" PRIu32 " bytes) not scanned",
					    d->fname, base, size);
			*ret_act = ACT_SKIP;
			*ret_skip = 8;
			return 0;
		}
		*ret_act = m->act;
		return 0;
	}
	if (partial && !final) {
		*ret_act = ACT_MORE;
		return 0;
	}
	return not_ours(d, base);
}

/* Between streams, nothing carried: look at the input directly. */
static int between(struct decoder *d, const uint8_t *in, size_t n, size_t *ret_used)
{
	enum act act;
	size_t skip = 0;
	int r;

	r = classify(d, in, n, d->in_pos, false, &act, &skip);
	if (r < 0)
		return r;
	switch (act) {
	case ACT_MORE: /* n < HEAD_MAX */
		memcpy(d->carry, in, n);
		d->ncarry = n;
		*ret_used = n;
		return 0;
	case ACT_SKIP:
		*ret_used = skip;
		return 0;
	case ACT_VIEW:
	case ACT_VIEW_LEGACY:
		*ret_used = 0;
		return begin_view(d, d->in_pos, act == ACT_VIEW_LEGACY);
	}
	return -EINVAL;
}

/* Between streams with carried bytes: classify carry + the start of in
 * (n may be 0 at the end, with final). */
static int between_carry(struct decoder *d, const uint8_t *in, size_t n, bool final, size_t *ret_used)
{
	uint8_t tmp[CARRY_MAX + HEAD_MAX];
	size_t k = min_sz(n, HEAD_MAX), c = d->ncarry, u = 0;
	uint64_t base = d->in_pos - c;
	enum act act;
	size_t skip = 0;
	int r;

	*ret_used = 0;
	memcpy(tmp, d->carry, c);
	if (k > 0)
		memcpy(tmp + c, in, k);
	r = classify(d, tmp, c + k, base, final, &act, &skip);
	if (r < 0)
		return r;
	switch (act) {
	case ACT_MORE: /* c + k < HEAD_MAX, so k == n (never with final) */
		if (k > 0)
			memcpy(d->carry + c, in, k);
		d->ncarry += k;
		*ret_used = k;
		return 0;
	case ACT_SKIP:
		if (skip >= c) {
			d->ncarry = 0;
			*ret_used = skip - c;
		} else {
			memmove(d->carry, d->carry + skip, c - skip);
			d->ncarry -= skip;
		}
		return 0;
	case ACT_VIEW:
	case ACT_VIEW_LEGACY:
		r = begin_view(d, base, act == ACT_VIEW_LEGACY);
		if (r < 0)
			return r;
		/* The carried bytes start the stream; in comes next round. */
		d->ncarry = 0;
		r = view_feed(d, tmp, c, &u);
		if (r < 0)
			return r;
		if (u < c) { /* stream ended inside the carry (cannot for real streams) */
			memcpy(d->carry + d->ncarry, tmp + u, c - u);
			d->ncarry += c - u;
		}
		return 0;
	}
	return -EINVAL;
}

/* ---- public */

int decoder_new(enum ftype type, const struct decode_limits *limits, const struct decode_sink *sink,
		struct decoder **ret)
{
	struct decoder *d;

	if (!sink || !ret)
		return -EINVAL;
	if (type != FT_GZIP && type != FT_XZ && type != FT_ZSTD && type != FT_LZ4)
		return -EINVAL;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->type = type;
	d->fname = type == FT_GZIP ? "gzip" : type == FT_XZ ? "xz" : type == FT_ZSTD ? "zstd" : "lz4";
	d->unit = type == FT_GZIP ? "member" : type == FT_XZ ? "stream" : "frame";
	d->max_size = limits && limits->max_size ? limits->max_size : DEFAULT_MAX_SIZE;
	d->max_ratio = limits && limits->max_ratio ? limits->max_ratio : DEFAULT_MAX_RATIO;
	d->sink = *sink;
	d->state = D_BETWEEN;
	d->x = (lzma_stream)LZMA_STREAM_INIT;

	if (type == FT_ZSTD) {
		d->zs = ZSTD_createDCtx();
		if (!d->zs)
			goto nomem;
		/* Bounded window memory; frames that need more fail (-EFBIG). */
		if (ZSTD_isError(ZSTD_DCtx_setParameter(d->zs, ZSTD_d_windowLogMax,
							DECODE_ZSTD_WINDOWLOG_MAX)))
			goto nomem;
	}
	if (type == FT_LZ4 && LZ4F_isError(LZ4F_createDecompressionContext(&d->l4, LZ4F_VERSION)))
		goto nomem;
	*ret = d;
	return 0;
nomem:
	decoder_free(d);
	return -ENOMEM;
}

int decoder_feed(struct decoder *d, const uint8_t *in, size_t n)
{
	if (d->state == D_FAILED)
		return d->error;
	if (d->state == D_FINISHED)
		return -EINVAL;

	while (n > 0) {
		size_t used = 0;
		int r;

		if (d->state == D_VIEW) {
			r = view_feed(d, in, n, &used);
			/* A view that neither used input nor ended would loop. */
			if (r >= 0 && used == 0 && d->state == D_VIEW)
				r = corrupt(d);
		} else if (d->ncarry == 0)
			r = between(d, in, n, &used);
		else
			r = between_carry(d, in, n, false, &used);
		if (r < 0)
			return r;
		in += used;
		n -= used;
		d->in_pos += used;
	}
	return 0;
}

int decoder_finish(struct decoder *d, char *why, size_t why_len)
{
	int r = 0;

	if (d->state == D_FINISHED)
		r = -EINVAL;
	if (d->state == D_VIEW)
		r = view_finish(d);
	while (r >= 0 && d->state == D_BETWEEN && d->ncarry > 0) {
		size_t used;

		r = between_carry(d, NULL, 0, true, &used);
		if (r >= 0 && d->state == D_VIEW)
			r = view_finish(d);
	}
	if (r >= 0 && d->state == D_BETWEEN) {
		if (d->type == FT_XZ && d->pad_len % 4 != 0)
			r = fail(d, -EBADMSG,
				 "xz stream padding of %" PRIu64 " bytes at offset %" PRIu64 " is not a multiple of 4",
				 d->pad_len, d->pad_start);
		else if (d->index == 0)
			r = not_ours(d, d->in_pos);
	}

	if (d->state == D_FAILED) {
		if (why && why_len > 0)
			snprintf(why, why_len, "%s", d->err);
		return d->error;
	}
	if (why && why_len > 0)
		why[0] = '\0';
	if (r < 0)
		return r;
	d->state = D_FINISHED;
	return 0;
}

const char *decoder_error(const struct decoder *d)
{
	return d->err;
}

void decoder_free(struct decoder *d)
{
	if (!d)
		return;
	if (d->z_ready)
		inflateEnd(&d->z);
	lzma_end(&d->x);
	ZSTD_freeDCtx(d->zs);
	if (d->l4)
		LZ4F_freeDecompressionContext(d->l4);
	free(d->lg_blk);
	free(d->lg_out);
	free(d->out);
	free(d);
}
