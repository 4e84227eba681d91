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
};

int engine_new(unsigned threads, struct engine **ret);
void engine_free(struct engine *e);

/* Start a view.  container_format NULL for the raw view. */
int engine_view_begin(struct engine *e, const char *pass, const char *container_format, unsigned index,
		      uint64_t container_offset);
int engine_view_feed(struct engine *e, const uint8_t *buf, size_t n);
int engine_view_end(struct engine *e);

/* Add a finding that is not from a detector (e.g. a decoder error). */
void engine_add(struct engine *e, const struct engine_finding *f);

/* All findings so far, sorted by pass, container, offset.  Borrowed. */
const struct engine_finding *engine_findings(struct engine *e, size_t *ret_n);
/* Findings beyond ENGINE_MAX_FINDINGS were dropped: the engine adds one
 * blocking finding saying so. */
