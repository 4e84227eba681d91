/* findings.c - recording, capping, deduplicating and sorting findings
 * (see findings.h for the rules).
 *
 * Detectors call scan_emit() from the engine's worker threads, so every
 * entry point takes the lock.  Nothing here logs.
 */
#include "findings.h"

#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FULL_MSG "too many findings; the rest were not recorded"
#define NOMEM_MSG "out of memory; findings were not recorded"

struct findings_rec {
	struct engine_finding ef;
	bool from_detector;
};

static int pass_rank(const char *pass)
{
	return strcmp(pass, "raw") == 0 ? 0 : 1;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Same view: the decoder numbers its streams, so pass, format, index and
 * stream offset name a view. */
static int cmp_view(const struct engine_finding *a, const struct engine_finding *b)
{
	int c;

	if ((c = pass_rank(a->pass) - pass_rank(b->pass)))
		return c;
	if ((c = cmp_u64(a->container_index, b->container_index)))
		return c;
	if ((c = cmp_u64(a->container_offset, b->container_offset)))
		return c;
	return strcmp(a->container_format, b->container_format);
}

/* What "the same key" means for the containment dedup: the public key's
 * fingerprint when there is one, else detector and key type. */
static int cmp_key(const struct engine_finding *a, const struct engine_finding *b)
{
	bool ha = a->f.public_sha256[0], hb = b->f.public_sha256[0];
	int c;

	if (ha != hb)
		return ha ? -1 : 1;
	if (ha)
		return strcmp(a->f.public_sha256, b->f.public_sha256);
	if ((c = strcmp(a->f.detector, b->f.detector)))
		return c;
	return strcmp(a->f.key_type, b->f.key_type);
}

/* Offset ascending, then longer first: a container sorts before what it
 * contains. */
static int cmp_range(const struct engine_finding *a, const struct engine_finding *b)
{
	int c;

	if ((c = cmp_u64(a->f.offset, b->f.offset)))
		return c;
	return cmp_u64(b->f.length, a->f.length);
}

static int cmp_dedup(const void *pa, const void *pb)
{
	const struct findings_rec *a = pa, *b = pb;
	int c;

	if (a->from_detector != b->from_detector)
		return a->from_detector ? -1 : 1;
	if ((c = cmp_view(&a->ef, &b->ef)))
		return c;
	if ((c = cmp_key(&a->ef, &b->ef)))
		return c;
	return cmp_range(&a->ef, &b->ef);
}

/* The output order: pass, container, offset; the rest only makes the
 * order total, so that any thread count prints the same lines. */
static int cmp_out(const void *pa, const void *pb)
{
	const struct engine_finding *a = pa, *b = pb;
	const char *na, *nb;
	int c;

	if ((c = cmp_view(a, b)))
		return c;
	if ((c = cmp_range(a, b)))
		return c;
	if ((c = strcmp(a->f.detector, b->f.detector)))
		return c;
	if ((c = (int)b->f.severity - (int)a->f.severity))
		return c;
	if ((c = strcmp(a->f.key_type, b->f.key_type)))
		return c;
	if ((c = strcmp(a->f.public_sha256, b->f.public_sha256)))
		return c;
	if ((c = cmp_u64(a->f.bits, b->f.bits)))
		return c;
	if ((c = (int)a->f.verified - (int)b->f.verified))
		return c;
	na = engine_finding_note(a);
	nb = engine_finding_note(b);
	return strcmp(na ? na : "", nb ? nb : "");
}

/* Drop every detector finding whose range lies inside an earlier one of
 * the same view and key (a PKCS#1 structure inside its PKCS#8 wrapper).
 * After sorting by (view, key, offset, longer first), an earlier
 * container exists iff the largest end seen so far in the group reaches
 * the finding's end.  Caller holds the lock. */
static void dedup(struct findings *fs)
{
	size_t kept = 0;
	uint64_t max_end = 0;

	if (fs->n < 2)
		return;
	qsort(fs->recs, fs->n, sizeof(*fs->recs), cmp_dedup);
	for (size_t i = 0; i < fs->n; i++) {
		struct findings_rec *r = &fs->recs[i];
		uint64_t end = r->ef.f.offset + r->ef.f.length;

		if (end < r->ef.f.offset) /* wrapped: a length from a confused detector */
			end = UINT64_MAX;
		if (r->from_detector && i > 0) {
			const struct findings_rec *p = &fs->recs[i - 1];
			bool same_group = p->from_detector && cmp_view(&p->ef, &r->ef) == 0 &&
					  cmp_key(&p->ef, &r->ef) == 0;

			if (same_group && max_end >= end)
				continue; /* contained: drop */
			if (!same_group)
				max_end = 0;
		}
		if (end > max_end)
			max_end = end;
		if (kept != i)
			fs->recs[kept] = *r;
		kept++;
	}
	fs->n = kept;
}

/* Past the cap (or out of memory): record nothing more, and add the one
 * blocking finding that says so, in the view where it happened.  Caller
 * holds the lock. */
static void overflow(struct findings *fs, const struct engine_finding *at, const char *why)
{
	struct engine_finding *o = &fs->overflow_f;

	fs->overflow = true;
	*o = *at;
	memset(&o->f, 0, sizeof(o->f));
	o->f.detector = "engine";
	o->f.severity = SEV_CRITICAL;
	o->f.offset = at->f.offset;
	o->f.note = why;
	o->note_buf[0] = '\0';
	o->allowed = false;
	fs->out_valid = false;
}

/* Whatever a detector hands in, the output stays well-formed. */
static void sanitize(struct engine_finding *ef)
{
	struct finding *f = &ef->f;

	f->key_type[sizeof(f->key_type) - 1] = '\0';
	f->public_sha256[sizeof(f->public_sha256) - 1] = '\0';
	if (f->public_sha256[0] && (strlen(f->public_sha256) != 64 || !is_hex(f->public_sha256, 64)))
		f->public_sha256[0] = '\0';
	if (!f->detector)
		f->detector = "unknown";
	if ((unsigned)f->severity > SEV_CRITICAL)
		f->severity = SEV_CRITICAL; /* fail closed */
	ef->pass = (ef->pass && strcmp(ef->pass, "raw") == 0) ? "raw" : "decoded";
	ef->container_format[sizeof(ef->container_format) - 1] = '\0';
	ef->note_buf[sizeof(ef->note_buf) - 1] = '\0';
	ef->allowed = false; /* policy is the monitor's */
}

void findings_record(struct findings *fs, const struct engine_finding *f, bool from_detector)
{
	struct findings_rec r = { .ef = *f, .from_detector = from_detector };

	sanitize(&r.ef);
	pthread_mutex_lock(&fs->lock);
	if (fs->overflow)
		goto out;
	if (fs->n >= ENGINE_MAX_FINDINGS) {
		/* Full: first drop what the dedup would drop at the end
		 * anyway; if that frees too little to be worth repeating
		 * (each round sorts everything), stop here. */
		size_t before = fs->n;

		dedup(fs);
		if (before - fs->n < ENGINE_MAX_FINDINGS / 16) {
			overflow(fs, &r.ef, FULL_MSG);
			goto out;
		}
	}
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 64;
		struct findings_rec *p;

		if (cap > ENGINE_MAX_FINDINGS)
			cap = ENGINE_MAX_FINDINGS;
		p = realloc(fs->recs, cap * sizeof(*p));
		if (!p) {
			/* Fail closed: a finding must not vanish silently. */
			overflow(fs, &r.ef, NOMEM_MSG);
			goto out;
		}
		fs->recs = p;
		fs->cap = cap;
	}
	fs->recs[fs->n++] = r;
	fs->out_valid = false;
out:
	pthread_mutex_unlock(&fs->lock);
}

const struct engine_finding *findings_sorted(struct findings *fs, size_t *ret_n)
{
	struct engine_finding *out;
	size_t n;

	pthread_mutex_lock(&fs->lock);
	if (!fs->out_valid) {
		dedup(fs);
		n = fs->n + (fs->overflow ? 1 : 0);
		out = realloc(fs->out, (n ? n : 1) * sizeof(*out));
		if (!out) {
			pthread_mutex_unlock(&fs->lock);
			*ret_n = 0;
			return NULL;
		}
		fs->out = out;
		for (size_t i = 0; i < fs->n; i++)
			out[i] = fs->recs[i].ef;
		if (fs->overflow)
			out[fs->n] = fs->overflow_f;
		qsort(out, n, sizeof(*out), cmp_out);
		fs->n_out = n;
		fs->out_valid = true;
	}
	out = fs->out;
	*ret_n = fs->n_out;
	pthread_mutex_unlock(&fs->lock);
	return out;
}

void findings_reset(struct findings *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->n = 0;
	fs->overflow = false;
	fs->n_out = 0;
	fs->out_valid = false;
	pthread_mutex_unlock(&fs->lock);
}

void findings_init(struct findings *fs)
{
	*fs = (struct findings){ 0 };
	pthread_mutex_init(&fs->lock, NULL);
}

void findings_destroy(struct findings *fs)
{
	pthread_mutex_destroy(&fs->lock);
	free(fs->recs);
	free(fs->out);
	fs->recs = NULL;
	fs->out = NULL;
}
