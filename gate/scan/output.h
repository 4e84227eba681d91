/* output.h - what dumpgate-scan prints: JSON Lines (--json, and always in
 * gate mode) or one human line per finding, then one summary per file.
 *
 * JSON, one object per line, keys in this order:
 *   finding: file, pass, detector, severity, offset, length, key_type,
 *            bits, verified, public_sha256, container, note, allowed
 *   summary: summary (true), file, pass, bytes, sha256, seconds, findings,
 *            verdict [, error]
 *   progress (gate mode): progress
 * I7: nothing here prints artifact bytes; every string comes from the
 * engine's fixed names, hex fingerprints and numbers, or the file name.
 *
 * Every line is written with one write_full() to fd, no stdio (gate mode
 * runs under a seccomp filter and prints to a pipe).  Functions return 0
 * or -errno and do not log.
 */
#pragma once

#include "scanproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

enum output_mode {
	OUTPUT_HUMAN,
	OUTPUT_JSON,
};

enum verdict {
	VERDICT_CLEAN,    /* no finding */
	VERDICT_FINDINGS, /* at least one finding (allowed or not: policy is the monitor's) */
	VERDICT_ERROR,    /* the scan did not complete: never clean (I2) */
};

struct scan_summary {
	const char *file;   /* as given ("-" for stdin), "artifact" in gate mode */
	const char *pass;   /* "raw", "decoded" or "both" */
	uint64_t bytes;     /* artifact bytes read (and hashed) */
	char sha256[65];    /* of those bytes, lowercase hex; "" on error (incomplete) */
	double seconds;
	size_t findings;
	enum verdict verdict;
	const char *error;  /* VERDICT_ERROR: what failed ("read: Input/output error"); else NULL */
};

const char *severity_name(enum severity s);
const char *verdict_name(enum verdict v);

int output_finding(int fd, enum output_mode mode, const char *file, const struct engine_finding *f);
int output_summary(int fd, enum output_mode mode, const struct scan_summary *s);
/* {"progress":BYTES} (JSON only). */
int output_progress(int fd, uint64_t bytes);
/* Gate mode's first line: {"version":SCANPROTO_VERSION}. */
int output_version(int fd);
