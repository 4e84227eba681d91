/* test-engine.c - the scan engine: windows, threads, the findings cap and
 * the containment dedup.
 *
 * Most tests use a probe detector defined here (cheap, deterministic, and
 * it checks the context guarantee of detector.h on every call); the last
 * ones run the real detectors on real keys generated with OpenSSL.
 * Every "accepts" has its "refuses": an anchor is found once, not zero
 * and not twice; a contained duplicate is dropped, a neighbour is not.
 */
#include "engine.h"
#include "tap.h"
#include "util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define C ENGINE_CORE
#define LB ((size_t)DETECTOR_LOOKBEHIND)
#define LA ((size_t)DETECTOR_LOOKAHEAD)
#define MIB ((size_t)1 << 20)

/* ---- the probe detector
 *
 * "DGPROBE12345678" (15 bytes): a finding of 15 bytes whose fingerprint is
 *     the 8 digits; "DGOUTER…"  the same with length 200 (a container);
 * "DGINNER…" like PROBE (to be put inside an OUTER);
 * "DGNOFPO…"/"DGNOFPI…" outer (200) / inner (15) without fingerprint,
 *     key type "nofp" (dedup by detector + key type). */
enum { P_PROBE, P_OUTER, P_INNER, P_NOFPO, P_NOFPI };
static const struct detector_pattern probe_patterns[] = {
	[P_PROBE] = { "DGPROBE[0-9]{8}", 15, 0 },
	[P_OUTER] = { "DGOUTER[0-9]{8}", 15, 0 },
	[P_INNER] = { "DGINNER[0-9]{8}", 15, 0 },
	[P_NOFPO] = { "DGNOFPO[0-9]{8}", 15, 0 },
	[P_NOFPI] = { "DGNOFPI[0-9]{8}", 15, 0 },
};

/* Test bookkeeping (a real detector has no mutable static state). */
static _Atomic uint64_t view_len;       /* length of the view being scanned */
static _Atomic unsigned calls, violations;

static void probe_match(struct scan_ctx *ctx, unsigned pattern, const uint8_t *win, size_t win_len, size_t pos,
			uint64_t win_off)
{
	struct finding f = { .detector = "probe", .severity = SEV_HIGH, .length = 15 };
	char digits[9];

	calls++;
	/* detector.h: LOOKBEHIND bytes before and LOOKAHEAD bytes after the
	 * anchor's start whenever the view has them. */
	if (pos < LB && win_off != 0)
		violations++;
	if (win_len - pos < LA && win_off + win_len != view_len)
		violations++;
	if (pos + 15 > win_len || memcmp(win + pos, "DG", 2) != 0)
		violations++;

	memcpy(digits, win + pos + 7, 8);
	digits[8] = '\0';
	f.offset = win_off + pos;
	if (pattern == P_OUTER || pattern == P_NOFPO)
		f.length = 200;
	if (pattern == P_NOFPO || pattern == P_NOFPI) {
		strcpy(f.key_type, "nofp");
	} else {
		strcpy(f.key_type, "probe");
		snprintf(f.public_sha256, sizeof(f.public_sha256), "%056d%s", 0, digits);
	}
	scan_emit(ctx, &f);
}

static const struct detector probe_detector = {
	.name = "probe",
	.patterns = probe_patterns,
	.n_patterns = ELEMENTSOF(probe_patterns),
	.on_match = probe_match,
};
static const struct detector *const probe_list[] = { &probe_detector };

/* ---- helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random bytes without 'D' (no accidental anchor, and no half anchor
 * that a placed one could complete). */
static uint8_t *random_buf(size_t n)
{
	uint8_t *b = malloc(n);

	if (!b)
		abort();
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng();
		for (size_t j = 0; j < 8 && i + j < n; j++) {
			uint8_t c = (uint8_t)(v >> (8 * j));
			b[i + j] = c == 'D' ? 'd' : c;
		}
	}
	return b;
}

static void put(uint8_t *buf, size_t at, const char *kind, unsigned id)
{
	char a[16];

	snprintf(a, sizeof(a), "DG%s%08u", kind, id);
	memcpy(buf + at, a, 15);
}

enum feed_mode { FEED_ODD_CHUNKS, FEED_ZERO_COPY, FEED_ONE_CALL };

/* One view of buf, fed in the given way; 0 or the first error. */
static int scan_view(struct engine *e, const char *pass, const char *fmt, unsigned index, const uint8_t *buf,
		     size_t n, enum feed_mode mode)
{
	size_t off = 0;
	int r;

	view_len = n;
	r = engine_view_begin(e, pass, fmt, index, 0);
	if (r < 0)
		return r;
	while (off < n) {
		if (mode == FEED_ZERO_COPY) {
			uint8_t *p;
			size_t room;

			r = engine_view_buffer(e, &p, &room);
			if (r < 0)
				return r;
			if (room > n - off)
				room = n - off;
			if (room > MIB)
				room = MIB;
			memcpy(p, buf + off, room);
			r = engine_view_commit(e, room);
			off += room;
		} else {
			size_t k = mode == FEED_ONE_CALL ? n : 1 + rng() % (3 * MIB / 2);

			if (k > n - off)
				k = n - off;
			r = engine_view_feed(e, buf + off, k);
			off += k;
		}
		if (r < 0)
			return r;
	}
	r = engine_view_end(e);
	if (r < 0)
		return r;
	return engine_flush(e);
}

static struct engine *new_probe_engine(unsigned threads)
{
	struct engine *e = NULL;
	char why[256] = "";
	int r = engine_new_with(probe_list, 1, threads, why, sizeof(why), &e);

	if (r < 0) {
		diag("engine_new_with: %s %s", strerror(-r), why);
		exit(1);
	}
	return e;
}

static size_t count_at(const struct engine_finding *f, size_t n, uint64_t off)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += f[i].f.offset == off;
	return k;
}

static bool same_finding(const struct engine_finding *a, const struct engine_finding *b)
{
	const char *na = engine_finding_note(a), *nb = engine_finding_note(b);

	return strcmp(a->pass, b->pass) == 0 && strcmp(a->f.detector, b->f.detector) == 0 &&
	       a->f.severity == b->f.severity && a->f.offset == b->f.offset && a->f.length == b->f.length &&
	       strcmp(a->f.key_type, b->f.key_type) == 0 && a->f.bits == b->f.bits &&
	       a->f.verified == b->f.verified && strcmp(a->f.public_sha256, b->f.public_sha256) == 0 &&
	       strcmp(a->container_format, b->container_format) == 0 &&
	       a->container_index == b->container_index && a->container_offset == b->container_offset &&
	       strcmp(na ? na : "", nb ? nb : "") == 0;
}

/* A copy of the findings (the engine's array is borrowed). */
static struct engine_finding *copy_findings(struct engine *e, size_t *ret_n)
{
	const struct engine_finding *f = engine_findings(e, ret_n);
	struct engine_finding *c = malloc((*ret_n + 1) * sizeof(*c));

	if (!f || !c)
		abort();
	memcpy(c, f, *ret_n * sizeof(*c));
	return c;
}

/* ---- windows */

/* Anchors at every interesting place around window boundaries (window k
 * holds [kC - LB, kC + C + LA)); no two of them overlap. */
static const uint64_t boundary_spots[] = {
	0,                 /* first byte of the view */
	C - 7,             /* across the boundary of cores 0 and 1 */
	C + LA,            /* first byte after window 0 */
	2 * C - LB,        /* first byte of window 2 (its lookbehind; core 1) */
	2 * C,             /* first byte of core 2 */
	2 * C + LA - 15,   /* ends at the last byte of window 1 (its lookahead; core 2) */
	3 * C - LB - 8,    /* across the start of window 3's buffer */
	3 * C - 15,        /* last anchor wholly in core 2 */
	3 * C + LA - 7,    /* across the end of window 2's buffer */
	4 * C + 1,
	4 * C + 12345,
	4 * C + LA,        /* first byte after window 3 */
};

static void test_windows(void)
{
	const size_t n = 20 * MIB;
	_cleanup_free_ uint8_t *buf = random_buf(n);
	static const enum feed_mode modes[] = { FEED_ODD_CHUNKS, FEED_ZERO_COPY, FEED_ONE_CALL };
	static const unsigned thread_counts[] = { 1, 4 };
	const size_t spots = ELEMENTSOF(boundary_spots) + 1;

	for (size_t i = 0; i < ELEMENTSOF(boundary_spots); i++)
		put(buf, boundary_spots[i], "PROBE", (unsigned)i);
	put(buf, n - 15, "PROBE", 99); /* last bytes of the view */

	for (size_t t = 0; t < ELEMENTSOF(thread_counts); t++)
		for (size_t m = 0; m < ELEMENTSOF(modes); m++) {
			struct engine *e = new_probe_engine(thread_counts[t]);
			const struct engine_finding *f;
			size_t nf = 0;
			bool each_once = true;
			int r;

			calls = violations = 0;
			r = scan_view(e, "raw", NULL, 0, buf, n, modes[m]);
			f = engine_findings(e, &nf);
			for (size_t i = 0; i < ELEMENTSOF(boundary_spots); i++)
				if (count_at(f, nf, boundary_spots[i]) != 1) {
					diag("anchor at %llu found %zu times", (unsigned long long)boundary_spots[i],
					     count_at(f, nf, boundary_spots[i]));
					each_once = false;
				}
			ok(r == 0 && each_once && count_at(f, nf, n - 15) == 1,
			   "threads=%u feed=%zu: every anchor at a window edge is found exactly once", thread_counts[t], m);
			ok(nf == spots && calls == spots,
			   "threads=%u feed=%zu: anchors in lookbehind/lookahead are not reported twice (%zu findings, %u calls)",
			   thread_counts[t], m, nf, calls);
			ok(violations == 0, "threads=%u feed=%zu: every detector call had its guaranteed context",
			   thread_counts[t], m);
			engine_free(e);
		}
}

/* A view that ends exactly where a window is full: the next window holds
 * only overlap plus LA core bytes; and a view shorter than one window. */
static void test_view_edges(void)
{
	const size_t n = C + LA; /* window 0 exactly full */
	_cleanup_free_ uint8_t *buf = random_buf(n);
	struct engine *e = new_probe_engine(1);
	const struct engine_finding *f;
	size_t nf = 0;

	put(buf, C + 10, "PROBE", 1);     /* in window 0's lookahead, core 1 */
	put(buf, n - 15, "PROBE", 2);     /* last bytes */
	put(buf, C - LB - 3, "PROBE", 3); /* before window 1's buffer */
	calls = 0;
	ok(scan_view(e, "raw", NULL, 0, buf, n, FEED_ONE_CALL) == 0, "view of exactly one full window");
	f = engine_findings(e, &nf);
	ok(nf == 3 && calls == 3 && count_at(f, nf, C + 10) == 1 && count_at(f, nf, n - 15) == 1,
	   "a view ending at a full window: the tail core is scanned once");

	engine_reset(e);
	ok(scan_view(e, "raw", NULL, 0, buf, 100, FEED_ODD_CHUNKS) == 0 && (engine_findings(e, &nf), nf == 0),
	   "a 100-byte view without anchor: nothing (and reset forgot the last file)");
	ok(scan_view(e, "raw", NULL, 0, buf, 0, FEED_ODD_CHUNKS) == 0 && (engine_findings(e, &nf), nf == 0),
	   "an empty view: nothing");
	engine_free(e);
}

/* ---- threads */

static void test_threads_identical(void)
{
	const size_t n = 20 * MIB;
	_cleanup_free_ uint8_t *buf = random_buf(n);
	_cleanup_free_ struct engine_finding *one = NULL, *four = NULL;
	struct engine *e1 = new_probe_engine(1), *e4 = new_probe_engine(4);
	size_t n1 = 0, n4 = 0;
	bool same = true;

	/* 400 anchors at random places, including every boundary spot,
	 * and containers whose contents straddle windows. */
	for (unsigned i = 0; i < 400; i++)
		put(buf, rng() % (n - 300), (i % 5) == 0 ? "OUTER" : (i % 7) == 0 ? "NOFPO" : "PROBE", i % 50);
	for (size_t i = 0; i < ELEMENTSOF(boundary_spots); i++)
		put(buf, boundary_spots[i], "PROBE", 1000 + (unsigned)i);

	ok(scan_view(e1, "raw", NULL, 0, buf, n, FEED_ODD_CHUNKS) == 0, "threads=1: 20 MiB scanned");
	ok(scan_view(e4, "raw", NULL, 0, buf, n, FEED_ZERO_COPY) == 0, "threads=4: the same 20 MiB scanned");
	one = copy_findings(e1, &n1);
	four = copy_findings(e4, &n4);
	for (size_t i = 0; same && i < n1 && i < n4; i++)
		same = same_finding(&one[i], &four[i]);
	ok(n1 > 300 && n1 == n4 && same, "threads=1 and threads=4 give identical findings (%zu and %zu)", n1, n4);

	/* Many small views back to back (a multi-member gzip) with
	 * windows of several views in flight at once. */
	engine_reset(e1);
	engine_reset(e4);
	for (unsigned v = 1; v <= 40; v++) {
		size_t off = (v * 517 * 1024) % (n - 300 * 1024);

		(void)scan_view(e1, "decoded", "gzip", v, buf + off, 300 * 1024, FEED_ODD_CHUNKS);
		(void)scan_view(e4, "decoded", "gzip", v, buf + off, 300 * 1024, FEED_ODD_CHUNKS);
	}
	free(one);
	free(four);
	one = copy_findings(e1, &n1);
	four = copy_findings(e4, &n4);
	same = true;
	for (size_t i = 0; same && i < n1 && i < n4; i++)
		same = same_finding(&one[i], &four[i]);
	ok(n1 > 0 && n1 == n4 && same, "40 decoded views: threads=1 and 4 identical (%zu findings)", n1);
	ok(n1 > 0 && strcmp(one[0].container_format, "gzip") == 0 && one[0].container_index == 1 &&
		   strcmp(one[0].pass, "decoded") == 0 && strcmp(one[n1 - 1].pass, "decoded") == 0 &&
		   one[n1 - 1].container_index >= one[0].container_index,
	   "decoded findings carry their container and sort by stream");
	engine_free(e1);
	engine_free(e4);
}

/* ---- the findings cap */

static size_t count_detector(const struct engine_finding *f, size_t n, const char *det)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += strcmp(f[i].f.detector, det) == 0;
	return k;
}

static void test_cap(void)
{
	const size_t total = ENGINE_MAX_FINDINGS + 500;
	const size_t n = total * 16 + 1000;
	_cleanup_free_ uint8_t *buf = random_buf(n);
	static const unsigned thread_counts[] = { 1, 4 };

	for (size_t i = 0; i < total; i++)
		put(buf, i * 16, "PROBE", (unsigned)i);

	for (size_t t = 0; t < ELEMENTSOF(thread_counts); t++) {
		struct engine *e = new_probe_engine(thread_counts[t]);
		const struct engine_finding *f;
		size_t nf = 0, k;

		/* Exactly the cap: all recorded, no overflow finding. */
		ok(scan_view(e, "raw", NULL, 0, buf, ENGINE_MAX_FINDINGS * 16, FEED_ODD_CHUNKS) == 0 &&
			   (f = engine_findings(e, &nf)) && nf == ENGINE_MAX_FINDINGS &&
			   count_detector(f, nf, "engine") == 0,
		   "threads=%u: %d findings are all recorded, no overflow finding", thread_counts[t],
		   ENGINE_MAX_FINDINGS);

		/* Beyond it: capped, plus one critical "engine" finding. */
		engine_reset(e);
		ok(scan_view(e, "raw", NULL, 0, buf, n, FEED_ODD_CHUNKS) == 0, "threads=%u: %zu anchors scanned",
		   thread_counts[t], total);
		f = engine_findings(e, &nf);
		k = 0;
		for (size_t i = 0; i < nf; i++)
			if (strcmp(f[i].f.detector, "engine") == 0)
				k = i;
		ok(nf == ENGINE_MAX_FINDINGS + 1 && count_detector(f, nf, "engine") == 1 &&
			   f[k].f.severity == SEV_CRITICAL && f[k].f.note &&
			   strcmp(f[k].f.note, "too many findings; the rest were not recorded") == 0,
		   "threads=%u: capped at %d plus one critical \"too many findings\" finding (%zu)", thread_counts[t],
		   ENGINE_MAX_FINDINGS, nf);

		/* Duplicates do not use up the cap: they are dropped first. */
		engine_free(e);
	}

	{
		/* 12000 contained duplicates (one key, inner inside outer)
		 * plus 1000 distinct: the dedup makes room, no overflow. */
		const size_t pairs = 6000;
		const size_t m = pairs * 220 + 1000 * 16 + 1000;
		_cleanup_free_ uint8_t *b2 = random_buf(m);
		struct engine *e = new_probe_engine(1);
		const struct engine_finding *f;
		size_t nf = 0;

		for (size_t i = 0; i < pairs; i++) {
			put(b2, i * 220, "OUTER", 7);
			put(b2, i * 220 + 100, "INNER", 7);
		}
		for (size_t i = 0; i < 1000; i++)
			put(b2, pairs * 220 + i * 16, "PROBE", 100000 + (unsigned)i);
		ok(scan_view(e, "raw", NULL, 0, b2, m, FEED_ODD_CHUNKS) == 0, "13000 anchors, 6000 of them contained");
		f = engine_findings(e, &nf);
		ok(nf == pairs + 1000 && count_detector(f, nf, "engine") == 0,
		   "contained duplicates are dropped before the cap is reached (%zu findings)", nf);
		engine_free(e);
	}
}

/* ---- containment dedup */

static void test_dedup(void)
{
	const size_t n = 3 * C;
	_cleanup_free_ uint8_t *buf = random_buf(n);
	static const unsigned thread_counts[] = { 1, 4 };

	put(buf, 1000, "OUTER", 1);       /* [1000, 1200) */
	put(buf, 1050, "INNER", 1);       /* inside, same key: dropped */
	put(buf, 5000, "OUTER", 2);       /* [5000, 5200) */
	put(buf, 5200, "OUTER", 3);       /* right after, another key: kept */
	put(buf, 9000, "OUTER", 4);       /* [9000, 9200) */
	put(buf, 9050, "INNER", 5);       /* inside, another key: kept */
	put(buf, 12000, "OUTER", 6);      /* [12000, 12200) */
	put(buf, 12190, "INNER", 6);      /* [12190, 12205): sticks out: kept */
	put(buf, C - 100, "OUTER", 8);    /* [C-100, C+100): across windows */
	put(buf, C + 20, "INNER", 8);     /* inside, in the next core: dropped */
	put(buf, 20000, "NOFPO", 0);      /* no fingerprint: detector+key type */
	put(buf, 20100, "NOFPI", 0);      /* inside: dropped */
	put(buf, 30000, "PROBE", 9);      /* two anchors of the same key ... */
	put(buf, 30015, "PROBE", 9);      /* ... side by side: both kept */

	for (size_t t = 0; t < ELEMENTSOF(thread_counts); t++) {
		struct engine *e = new_probe_engine(thread_counts[t]);
		const struct engine_finding *f;
		size_t nf = 0;

		ok(scan_view(e, "raw", NULL, 0, buf, n, FEED_ODD_CHUNKS) == 0, "threads=%u: dedup input scanned",
		   thread_counts[t]);
		f = engine_findings(e, &nf);
		ok(count_at(f, nf, 1000) == 1 && count_at(f, nf, 1050) == 0,
		   "threads=%u: a finding inside an earlier one with the same fingerprint is dropped", thread_counts[t]);
		ok(count_at(f, nf, 5000) == 1 && count_at(f, nf, 5200) == 1,
		   "threads=%u: two distinct keys next to each other are both reported", thread_counts[t]);
		ok(count_at(f, nf, 9000) == 1 && count_at(f, nf, 9050) == 1,
		   "threads=%u: a different key inside a finding is reported", thread_counts[t]);
		ok(count_at(f, nf, 12000) == 1 && count_at(f, nf, 12190) == 1,
		   "threads=%u: an overlapping but not contained finding is reported", thread_counts[t]);
		ok(count_at(f, nf, C - 100) == 1 && count_at(f, nf, C + 20) == 0,
		   "threads=%u: containment is found across a window boundary", thread_counts[t]);
		ok(count_at(f, nf, 20000) == 1 && count_at(f, nf, 20100) == 0,
		   "threads=%u: without fingerprint, same detector and key type inside: dropped", thread_counts[t]);
		ok(count_at(f, nf, 30000) == 1 && count_at(f, nf, 30015) == 1,
		   "threads=%u: the same key twice side by side: both reported", thread_counts[t]);
		ok(nf == 11, "threads=%u: 11 findings in all (%zu)", thread_counts[t], nf);
		engine_free(e);
	}

	{
		/* The same key in two different views is not a duplicate. */
		struct engine *e = new_probe_engine(1);
		const struct engine_finding *f;
		size_t nf = 0;

		(void)scan_view(e, "raw", NULL, 0, buf, 2000, FEED_ONE_CALL);
		(void)scan_view(e, "decoded", "gzip", 1, buf, 2000, FEED_ONE_CALL);
		(void)scan_view(e, "decoded", "gzip", 2, buf, 2000, FEED_ONE_CALL);
		f = engine_findings(e, &nf);
		ok(nf == 3 && strcmp(f[0].pass, "raw") == 0 && f[1].container_index == 1 &&
			   f[2].container_index == 2,
		   "the same range in three views: three findings, sorted raw first then by stream");
		engine_free(e);
	}
}

/* ---- engine_add, API edges, pattern checks */

static const struct detector_pattern bad_width_pattern[] = { { "DGVAR[0-9]{1,8}", 13, 0 } };
static const struct detector bad_width = { "badwidth", bad_width_pattern, 1, probe_match };
static const struct detector *const bad_list[] = { &bad_width };
static const struct detector_pattern bad_regex_pattern[] = { { "DG(", 3, 0 } };
static const struct detector bad_regex = { "badregex", bad_regex_pattern, 1, probe_match };
static const struct detector *const bad_regex_list[] = { &bad_regex };

static void test_api(void)
{
	struct engine *e = new_probe_engine(2);
	struct engine_finding ef = { 0 };
	const struct engine_finding *f;
	uint8_t *p;
	size_t nf = 0, room;
	char why[256] = "";

	ef.f.detector = "decoder";
	ef.f.severity = SEV_CRITICAL;
	ef.f.offset = 77;
	ef.pass = "decoded";
	snprintf(ef.note_buf, sizeof(ef.note_buf), "trailing data after gzip member %d at offset %d", 2, 1234);
	engine_add(e, &ef);
	engine_add(e, &ef); /* added findings are never deduplicated */
	f = engine_findings(e, &nf);
	ok(nf == 2 && strcmp(f[0].f.detector, "decoder") == 0 &&
		   strcmp(engine_finding_note(&f[0]), "trailing data after gzip member 2 at offset 1234") == 0,
	   "engine_add keeps the finding and its note_buf (both copies)");

	ok(engine_view_feed(e, (const uint8_t *)"x", 1) == -EINVAL, "feed without a view is refused");
	ok(engine_view_begin(e, "cooked", NULL, 0, 0) == -EINVAL, "an unknown pass is refused");
	ok(engine_view_begin(e, "decoded", "zstd-too-long", 1, 0) == -EINVAL, "a container name too long is refused");
	ok(engine_view_begin(e, "raw", NULL, 0, 0) == 0 && engine_view_begin(e, "raw", NULL, 0, 0) == -EINVAL,
	   "a second view while one is open is refused");
	ok(engine_view_buffer(e, &p, &room) == 0 && room > 0 && engine_view_commit(e, room + 1) == -EINVAL,
	   "committing more than the room is refused");
	ok(engine_view_end(e) == 0 && engine_view_end(e) == -EINVAL, "ending a view twice is refused");
	engine_free(e);

	e = NULL;
	ok(engine_new_with(bad_list, 1, 1, why, sizeof(why), &e) == -EINVAL && !e && strstr(why, "badwidth"),
	   "a pattern without a fixed width is refused (%s)", why);
	ok(engine_new_with(bad_regex_list, 1, 1, why, sizeof(why), &e) == -EINVAL && !e && strstr(why, "badregex"),
	   "a pattern that does not compile is refused (%s)", why);
	ok(engine_new_with(probe_list, 1, 0, NULL, 0, &e) == -EINVAL &&
		   engine_new_with(probe_list, 1, ENGINE_MAX_THREADS + 1, NULL, 0, &e) == -EINVAL,
	   "0 threads and too many threads are refused");
}

/* ---- the real detectors */

static EVP_PKEY *rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_RSA_gen(bits);
	if (!k)
		abort();
	return k;
}

static void pub_sha(EVP_PKEY *k, char out[static 65])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);

	if (n <= 0)
		abort();
	sha256_hex(der, (size_t)n, out);
	OPENSSL_free(der);
}

static size_t pkcs8_der(EVP_PKEY *k, uint8_t *out, size_t cap)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	unsigned char *der = NULL;
	int n = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;

	if (n <= 0 || (size_t)n > cap)
		abort();
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return (size_t)n;
}

static size_t pem_text(EVP_PKEY *k, uint8_t *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		abort();
	n = BIO_get_mem_data(b, &p);
	if (n <= 0 || (size_t)n > cap)
		abort();
	memcpy(out, p, (size_t)n);
	BIO_free(b);
	return (size_t)n;
}

static size_t count_sha(const struct engine_finding *f, size_t n, const char *sha)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += strcmp(f[i].f.public_sha256, sha) == 0;
	return k;
}

static void test_real_detectors(void)
{
	const size_t n = 20 * MIB;
	_cleanup_free_ uint8_t *buf = random_buf(n);
	_cleanup_free_ struct engine_finding *one = NULL, *four = NULL;
	EVP_PKEY *k1 = rsa_key(2048), *k2 = rsa_key(2048), *k3 = rsa_key(1024);
	char s1[65], s2[65], s3[65];
	uint8_t tmp[4096];
	size_t len, pem_at = C - 20, der_at = 2 * C - 10, adj_at = 3 * C + 5000, n1 = 0, n4 = 0;
	struct engine *e1 = NULL, *e4 = NULL;
	bool same = true;
	int r;

	pub_sha(k1, s1);
	pub_sha(k2, s2);
	pub_sha(k3, s3);
	/* k1 as PEM across the first window boundary, k2 as PKCS#8 DER
	 * across the second (its PKCS#1 inside starts in the next core),
	 * and k3 twice as DER side by side, then k1 again as DER. */
	len = pem_text(k1, tmp, sizeof(tmp));
	memcpy(buf + pem_at, tmp, len);
	len = pkcs8_der(k2, tmp, sizeof(tmp));
	memcpy(buf + der_at, tmp, len);
	len = pkcs8_der(k3, tmp, sizeof(tmp));
	memcpy(buf + adj_at, tmp, len);
	memcpy(buf + adj_at + len, tmp, len);
	{
		size_t l1 = pkcs8_der(k1, tmp, sizeof(tmp));
		memcpy(buf + adj_at + 2 * len, tmp, l1);
	}

	r = engine_new(1, &e1);
	if (r == 0)
		r = engine_new(4, &e4);
	if (!ok(r == 0, "engine with the real detectors compiles")) {
		diag("engine_new: %s", strerror(-r));
		return;
	}
	view_len = n;
	ok(scan_view(e1, "raw", NULL, 0, buf, n, FEED_ODD_CHUNKS) == 0 &&
		   scan_view(e4, "raw", NULL, 0, buf, n, FEED_ZERO_COPY) == 0,
	   "real detectors: 20 MiB scanned with 1 and 4 threads");
	one = copy_findings(e1, &n1);
	four = copy_findings(e4, &n4);
	for (size_t i = 0; same && i < n1 && i < n4; i++)
		same = same_finding(&one[i], &four[i]);
	ok(n1 == n4 && same, "real detectors: threads=1 and threads=4 identical (%zu findings)", n1);
	for (size_t i = 0; i < n1; i++)
		diag("%s %s %s %u-bit at %llu len %llu %s %.16s", one[i].pass, one[i].f.detector, one[i].f.key_type,
		     one[i].f.bits, (unsigned long long)one[i].f.offset, (unsigned long long)one[i].f.length,
		     one[i].f.verified ? "verified" : "-", one[i].f.public_sha256);

	ok(count_at(one, n1, pem_at) == 1 && count_sha(one, n1, s1) == 2,
	   "a PEM key across a 4 MiB boundary is found exactly once");
	ok(count_sha(one, n1, s2) == 1 && count_at(one, n1, der_at) == 1,
	   "a PKCS#8 DER key across a boundary: one finding (its PKCS#1 body is not reported again)");
	ok(count_sha(one, n1, s3) == 2, "the same DER key twice side by side: both reported");
	ok(n1 == 5, "5 findings in all");
	engine_free(e1);
	engine_free(e4);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
}

int main(void)
{
	test_windows();
	test_view_edges();
	test_threads_identical();
	test_cap();
	test_dedup();
	test_api();
	test_real_detectors();
	return tap_done();
}
