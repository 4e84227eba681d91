/* decode.h - decompressing views for the decoding pass (zstd, xz, gzip, lz4).
 *
 * Push model: the caller reads the artifact in order (hashing it) and
 * feeds every byte to decoder_feed(); the decoder hands each decoded
 * stream to the sink as view_begin / view_data... / view_end.  Every
 * frame, member and stream is decoded, not only the first: a gzip file of
 * three members yields three views; concatenated xz streams, zstd frames
 * (and skippable frames, which are reported as data the decoder cannot
 * account for unless empty) and lz4 frames likewise.
 *
 * Anything the decoder cannot account for is an error the caller turns
 * into a blocking "decoder" finding (I2): trailing bytes after the last
 * stream that are not another stream of the same format, a truncated or
 * corrupt stream, an unknown frame.  Bomb limits: a view larger than
 * max_size bytes, or decoded/compressed above max_ratio (checked once
 * at least 1 MiB was produced), stops decoding with -EFBIG.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "filetype.h"

struct decode_sink {
	void *userdata;
	/* format: "gzip", "xz", "zstd", "lz4"; index: 1-based stream number;
	 * in_offset: artifact offset where this stream starts. */
	int (*view_begin)(void *userdata, const char *format, unsigned index, uint64_t in_offset);
	int (*view_data)(void *userdata, const uint8_t *buf, size_t n);
	int (*view_end)(void *userdata);
};

struct decode_limits {
	uint64_t max_size;  /* bytes per view; 0 = 16 GiB */
	uint64_t max_ratio; /* decoded:compressed; 0 = 1000 */
};

struct decoder;

/* Added with the implementation (decode.c):
 *
 * Decoded bytes reach view_data in chunks of at most DECODE_CHUNK.
 *
 * Memory per decoder: one DECODE_CHUNK buffer plus the library state, at
 * most DECODE_XZ_MEMLIMIT for xz and a 2^DECODE_ZSTD_WINDOWLOG_MAX window
 * for zstd (a stream that needs more fails with -EFBIG, "xz stream 1 needs
 * more than 256 MiB of memory at offset 0", "zstd frame 1 needs a window
 * above 128 MiB at offset 0"); lz4 legacy streams add 16.1 MiB (one block
 * in and out).  The RLIMIT_AS of the decoding pass must leave room for it.
 *
 * Every view_begin that succeeded gets exactly one view_end: when the
 * stream ends, or when decoding it fails (corrupt, truncated, bomb limit),
 * so the sink can finish scanning what was decoded before the failure; the
 * error is returned after it.  Not when the sink itself failed, nor when
 * the decoder is freed without decoder_finish().
 *
 * Offsets in error texts are artifact offsets: where the unknown data
 * starts, or where the decoder was when it noticed corruption (zlib and
 * liblzma to the byte; zstd and lz4 to the frame, block or 64 KiB piece
 * being decoded, as those libraries report no position).
 *
 * Return codes: -EBADMSG for data the decoder cannot account for (trailing,
 * truncated, corrupt, skippable frame with data), -EFBIG for limits,
 * -ENOMEM, -EINVAL (bad type; feed or finish after finish), or the sink's
 * own negative code.  Once failed, every call returns the same code. */
#define DECODE_CHUNK ((size_t)1 << 20)
#define DECODE_XZ_MEMLIMIT ((uint64_t)256 << 20)
#define DECODE_ZSTD_WINDOWLOG_MAX 27

/* type must be one of FT_ZSTD, FT_XZ, FT_GZIP, FT_LZ4 (else -EINVAL). */
int decoder_new(enum ftype type, const struct decode_limits *limits, const struct decode_sink *sink,
		struct decoder **ret);
/* A negative return from the sink is passed back unchanged. */
int decoder_feed(struct decoder *d, const uint8_t *in, size_t n);
/* End of input.  On error *ret_why names the problem in a fixed phrase
 * with numbers only ("trailing data after gzip member 2 at offset 1234",
 * "xz stream 1 truncated", "decoded size above 1073741824 bytes (bomb_max_size)"). */
int decoder_finish(struct decoder *d, char *why, size_t why_len);
/* The last error's text after a failed feed (same style). */
const char *decoder_error(const struct decoder *d);
void decoder_free(struct decoder *d);
