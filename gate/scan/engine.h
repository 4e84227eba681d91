/* engine.h - the scan engine: one vectorscan database of every detector's
 * anchors, windows over a view, findings collected per pass.
 *
 * A view is pushed in order with engine_view_feed(); the engine cuts it
 * into windows (see detector.h for the guarantees), runs the database over
 * each window and calls detectors for anchors.  With threads > 1 windows
 * are scanned by a worker pool while the caller keeps reading (and
 * hashing) the next bytes; findings are sorted by offset at the end.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "detector.h"

#define ENGINE_MAX_FINDINGS 10000

struct engine;

struct engine_finding {
	struct finding f;
	const char *pass;        /* "raw" or "decoded" */
	char container_format[8]; /* "" for raw, else "gzip", "xz", "zstd", "lz4" */
	unsigned container_index;
	uint64_t container_offset; /* artifact offset where the stream starts */
	bool allowed;            /* set by policy (the monitor), false here */
	/* A note that is not a static phrase (a decoder's error, fixed words
	 * and numbers only, I7).  When non-empty it takes precedence over
	 * f.note: use engine_finding_note().  An array, not a pointer, so
	 * that findings can be copied and sorted. */
	char note_buf[160];
};

/* The note to show for a finding: note_buf if set, else f.note (may be NULL). */
static inline const char *engine_finding_note(const struct engine_finding *f)
{
	return f->note_buf[0] ? f->note_buf : f->f.note;
}

int engine_new(unsigned threads, struct engine **ret);
void engine_free(struct engine *e);

/* Start a view.  container_format NULL for the raw view. */
int engine_view_begin(struct engine *e, const char *pass, const char *container_format, unsigned index,
		      uint64_t container_offset);
int engine_view_feed(struct engine *e, const uint8_t *buf, size_t n);
int engine_view_end(struct engine *e);

/* Add a finding that is not from a detector (e.g. a decoder error). */
void engine_add(struct engine *e, const struct engine_finding *f);

/* All findings so far, sorted by pass, container, offset.  Borrowed.
 * (Waits for the workers first; NULL only when out of memory: fail closed.) */
const struct engine_finding *engine_findings(struct engine *e, size_t *ret_n);
/* Findings beyond ENGINE_MAX_FINDINGS were dropped: the engine adds one
 * blocking finding saying so. */

/* ---- additions -------------------------------------------------------
 *
 * Window geometry (detector.h): window k of a view holds the core
 * [k*ENGINE_CORE, (k+1)*ENGINE_CORE) plus DETECTOR_LOOKBEHIND bytes before
 * and DETECTOR_LOOKAHEAD bytes after it; only anchors that start in the
 * core are handed to detectors. */
#define ENGINE_CORE ((size_t)4 << 20)

/* engine_new() with another set of detectors (NULL: the built-in list),
 * e.g. a test detector.  dets is borrowed and must outlive the engine.
 * On a pattern that does not compile or whose width differs from the
 * declared one, why (if not NULL) names the detector, the pattern and the
 * reason, and -EINVAL is returned.  threads: 1 scans inline in the
 * caller, 2..ENGINE_MAX_THREADS starts that many workers (now, before any
 * sandbox, so that the workers need no clone later). */
#define ENGINE_MAX_THREADS 256
int engine_new_with(const struct detector *const *dets, size_t n_dets, unsigned threads, char *why,
		    size_t why_len, struct engine **ret);

/* Zero-copy feeding: *ret_buf is room for up to *ret_len (> 0) bytes of
 * the current view inside the current window; write into it, then
 * engine_view_commit() how many were written (<= *ret_len).  The room is
 * valid until the commit.  engine_view_feed() copies through these. */
int engine_view_buffer(struct engine *e, uint8_t **ret_buf, size_t *ret_len);
int engine_view_commit(struct engine *e, size_t n);

/* Wait until every window handed to workers was scanned; 0, or the first
 * error a worker hit (then the findings are incomplete: fail closed).
 * feed/commit/view_end return that error too, as soon as it is known. */
int engine_flush(struct engine *e);

/* Forget every finding and a scan error (next file); an open view (the
 * caller hit a read error) is abandoned. */
void engine_reset(struct engine *e);
