/* findings.h - the findings of one engine: recorded from any thread,
 * capped at ENGINE_MAX_FINDINGS, deduplicated and sorted (engine.h).
 *
 * Internal to the scan engine (engine.c is the only user).  The rules:
 *  - every recorded finding is copied and made well-formed (terminated
 *    strings, a valid severity, a fingerprint that is 64 hex or empty);
 *  - a detector finding whose range lies inside an earlier finding of the
 *    same view with the same public_sha256 (or, without one, the same
 *    detector and key type) is dropped: a PKCS#1 structure inside its
 *    PKCS#8 wrapper is one key, not two.  Added findings (decoder
 *    errors) are never dropped;
 *  - past the cap, one critical finding of detector "engine" says that
 *    the rest were not recorded (I2: it blocks);
 *  - the result is sorted by pass (raw first), container, offset, and
 *    then by every other field, so any thread count gives the same list.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

struct findings_rec;

struct findings {
	pthread_mutex_t lock;
	struct findings_rec *recs;
	size_t n, cap;
	bool overflow;
	struct engine_finding overflow_f; /* valid when overflow */
	struct engine_finding *out;       /* findings_sorted() */
	size_t n_out;
	bool out_valid;
};

void findings_init(struct findings *fs);
void findings_destroy(struct findings *fs);

/* Copy *f in; from_detector: it takes part in the containment dedup.
 * Thread-safe. */
void findings_record(struct findings *fs, const struct engine_finding *f, bool from_detector);

/* Deduplicated and sorted; borrowed until the next call.  NULL only when
 * out of memory (the caller fails closed).  Not while findings are still
 * being recorded by other threads (the engine waits for its workers). */
const struct engine_finding *findings_sorted(struct findings *fs, size_t *ret_n);

/* Forget everything. */
void findings_reset(struct findings *fs);
