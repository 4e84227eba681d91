/* engine.c - one vectorscan database of every detector's anchors, windows
 * over a view, a worker pool, and the findings of a scan.
 *
 * Data flow.  The caller pushes the bytes of a view in order.  They land,
 * copied once (or not at all with engine_view_buffer()), in a window
 * buffer.  Window k holds the core [kC, kC+C) of the view (C =
 * ENGINE_CORE) with DETECTOR_LOOKBEHIND bytes before and
 * DETECTOR_LOOKAHEAD bytes after it.  When a window is full, the last
 * LOOKBEHIND+LOOKAHEAD bytes are copied to the start of the next window
 * (72 KiB per 4 MiB), and the full one is scanned: inline with one
 * thread, else by a worker while the caller keeps reading.  The database
 * runs over the whole window, but an anchor is dispatched only if its
 * start (end - width: every pattern has a fixed width, checked at
 * compile time) lies in the core, so every anchor is handled exactly once
 * and always with its guaranteed context.
 *
 * Memory is bounded independently of the input: at most threads+2
 * windows exist (one being filled, the rest queued or being scanned; the
 * caller waits for a free one), and at most ENGINE_MAX_FINDINGS findings.
 *
 * Nothing here logs (STYLE.md): errors are returned, and a worker's scan
 * error is kept and returned by the next call of the caller.
 */
#include "engine.h"

#include "findings.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#define LB ((size_t)DETECTOR_LOOKBEHIND)
#define LA ((size_t)DETECTOR_LOOKAHEAD)
#define OVERLAP (LB + LA)
#define WINDOW_CAP (LB + ENGINE_CORE + LA)

static const char PASS_RAW[] = "raw";
static const char PASS_DECODED[] = "decoded";

/* The built-in detectors, in no particular order (findings are sorted). */
static const struct detector *const builtin_detectors[] = {
	&detector_pem, &detector_der,      &detector_openssh, &detector_putty,
	&detector_jwk, &detector_cloud_sa, &detector_token,
};

struct view_meta {
	const char *pass; /* PASS_RAW or PASS_DECODED */
	char format[8];
	unsigned index;
	uint64_t container_offset;
};

struct window {
	uint8_t *buf;           /* WINDOW_CAP bytes */
	size_t len;             /* bytes of the view in buf */
	uint64_t off;           /* view offset of buf[0] */
	size_t core_lo, core_hi; /* the core, as indexes into buf (set at dispatch) */
	struct view_meta meta;
	struct window *next;    /* free list */
};

/* What a detector's callback gets: the window it was called for. */
struct scan_ctx {
	struct engine *e;
	const struct window *w;
};

/* Which detector pattern a vectorscan id stands for. */
struct anchor {
	const struct detector *det;
	unsigned pattern;
	unsigned width;
};

struct engine {
	const struct detector *const *dets;
	size_t n_dets;
	struct anchor *anchors;
	unsigned n_anchors;
	hs_database_t *db;
	hs_scratch_t *scratch; /* the caller's (inline scans; prototype of the workers') */

	/* The open view: touched by the caller only. */
	bool in_view;
	struct view_meta view;
	struct window *cur; /* being filled; NULL until the first byte */
	uint64_t k;         /* index of cur in the view */

	/* Worker pool (threads > 1).  lock guards everything below it
	 * except the findings, which have their own lock. */
	unsigned threads;
	unsigned n_workers;
	pthread_t *workers;
	hs_scratch_t **worker_scratch;
	pthread_mutex_t lock;
	pthread_cond_t work;    /* queue not empty, or stopping */
	pthread_cond_t done;    /* a window came back to the free list */
	struct window **queue;  /* ring of max_windows */
	unsigned q_head, q_len;
	unsigned busy;          /* windows being scanned */
	struct window *free_list;
	unsigned n_windows, max_windows;
	bool stopping;
	int error;              /* first scan error, sticky */

	struct findings findings; /* any thread; own lock */
};

/* ---- findings (findings.c) */

void scan_emit(struct scan_ctx *ctx, const struct finding *f)
{
	const struct view_meta *m = &ctx->w->meta;
	struct engine_finding ef = { .f = *f, .pass = m->pass };

	memcpy(ef.container_format, m->format, sizeof(ef.container_format));
	ef.container_index = m->index;
	ef.container_offset = m->container_offset;
	findings_record(&ctx->e->findings, &ef, true);
}

void engine_add(struct engine *e, const struct engine_finding *f)
{
	findings_record(&e->findings, f, false);
}

/* ---- scanning one window */

static int on_event(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		    void *userdata)
{
	struct scan_ctx *ctx = userdata;
	const struct window *w = ctx->w;
	const struct anchor *a = &ctx->e->anchors[id];
	unsigned long long start;

	(void)from;
	(void)flags;
	if (to < a->width)
		return 0;
	start = to - a->width;
	if (start < w->core_lo || start >= w->core_hi)
		return 0; /* another window's core holds it */
	a->det->on_match(ctx, a->pattern, w->buf, w->len, (size_t)start, w->off);
	return 0;
}

static int scan_window(struct engine *e, hs_scratch_t *scratch, const struct window *w)
{
	struct scan_ctx ctx = { .e = e, .w = w };
	hs_error_t r;

	if (w->core_hi <= w->core_lo)
		return 0;
	r = hs_scan(e->db, (const char *)w->buf, (unsigned)w->len, 0, scratch, on_event, &ctx);
	if (r == HS_NOMEM)
		return -ENOMEM;
	if (r != HS_SUCCESS)
		return -EIO;
	return 0;
}

/* Caller holds e->lock, or there are no workers. */
static void set_error(struct engine *e, int r)
{
	if (r < 0 && e->error == 0)
		e->error = r;
}

/* From the caller's side, with or without workers. */
static int fail(struct engine *e, int r)
{
	if (e->n_workers > 0)
		pthread_mutex_lock(&e->lock);
	set_error(e, r);
	r = e->error;
	if (e->n_workers > 0)
		pthread_mutex_unlock(&e->lock);
	return r;
}

/* ---- the pool */

struct worker_arg {
	struct engine *e;
	hs_scratch_t *scratch;
};

static void *worker_main(void *arg)
{
	struct worker_arg wa = *(struct worker_arg *)arg;
	struct engine *e = wa.e;

	free(arg);
	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct window *w;
		int r;

		while (e->q_len == 0 && !e->stopping)
			pthread_cond_wait(&e->work, &e->lock);
		if (e->q_len == 0)
			break; /* stopping, nothing left */
		w = e->queue[e->q_head];
		e->q_head = (e->q_head + 1) % e->max_windows;
		e->q_len--;
		e->busy++;
		pthread_mutex_unlock(&e->lock);

		r = scan_window(e, wa.scratch, w);

		pthread_mutex_lock(&e->lock);
		set_error(e, r);
		w->next = e->free_list;
		e->free_list = w;
		e->busy--;
		pthread_cond_broadcast(&e->done);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static struct window *window_alloc(void)
{
	struct window *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->buf = malloc(WINDOW_CAP);
	if (!w->buf) {
		free(w);
		return NULL;
	}
	return w;
}

static void window_free(struct window *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

/* A window to fill: from the free list, newly allocated while fewer than
 * max_windows exist, or the next one a worker gives back. */
static int get_window(struct engine *e, struct window **ret)
{
	struct window *w = NULL;

	if (e->n_workers == 0) {
		/* Inline: one window, reused. */
		if (!e->free_list) {
			if (e->n_windows > 0)
				return -EINVAL; /* cannot happen: the caller holds it */
			w = window_alloc();
			if (!w)
				return -ENOMEM;
			e->n_windows++;
		} else {
			w = e->free_list;
			e->free_list = w->next;
		}
		*ret = w;
		return 0;
	}
	pthread_mutex_lock(&e->lock);
	while (!e->free_list && e->n_windows >= e->max_windows)
		pthread_cond_wait(&e->done, &e->lock);
	if (e->free_list) {
		w = e->free_list;
		e->free_list = w->next;
	} else {
		w = window_alloc();
		if (w)
			e->n_windows++;
	}
	pthread_mutex_unlock(&e->lock);
	if (!w)
		return -ENOMEM;
	*ret = w;
	return 0;
}

/* Hand a filled window (core set) on: scan inline, or queue it.  Takes
 * ownership of w.  The queue has room for every window, so this never
 * waits. */
static int dispatch(struct engine *e, struct window *w)
{
	int r;

	if (e->n_workers == 0) {
		r = scan_window(e, e->scratch, w);
		w->next = e->free_list;
		e->free_list = w;
		set_error(e, r);
		return e->error;
	}
	pthread_mutex_lock(&e->lock);
	e->queue[(e->q_head + e->q_len) % e->max_windows] = w;
	e->q_len++;
	pthread_cond_signal(&e->work);
	r = e->error;
	pthread_mutex_unlock(&e->lock);
	return r;
}

static int sticky_error(struct engine *e)
{
	int r;

	if (e->n_workers == 0)
		return e->error;
	pthread_mutex_lock(&e->lock);
	r = e->error;
	pthread_mutex_unlock(&e->lock);
	return r;
}

int engine_flush(struct engine *e)
{
	int r;

	if (e->n_workers == 0)
		return e->error;
	pthread_mutex_lock(&e->lock);
	while (e->q_len > 0 || e->busy > 0)
		pthread_cond_wait(&e->done, &e->lock);
	r = e->error;
	pthread_mutex_unlock(&e->lock);
	return r;
}

/* ---- windows of a view */

/* Bytes window k holds when full. */
static size_t window_full(uint64_t k)
{
	return k == 0 ? ENGINE_CORE + LA : WINDOW_CAP;
}

static void set_core(struct window *w, uint64_t k)
{
	w->core_lo = k == 0 ? 0 : LB;
	w->core_hi = w->core_lo + ENGINE_CORE;
	if (w->core_hi > w->len)
		w->core_hi = w->len;
}

/* cur is full: start window k+1 with the overlap, hand cur on. */
static int rotate(struct engine *e)
{
	struct window *w = e->cur, *next = NULL;
	int r;

	set_core(w, e->k);
	if (e->n_workers == 0) {
		/* Inline: scan in place, then keep the overlap. */
		r = scan_window(e, e->scratch, w);
		set_error(e, r);
		memmove(w->buf, w->buf + w->len - OVERLAP, OVERLAP);
	} else {
		r = get_window(e, &next);
		if (r < 0)
			return fail(e, r);
		memcpy(next->buf, w->buf + w->len - OVERLAP, OVERLAP);
		next->meta = w->meta;
		r = dispatch(e, w);
		w = next;
		e->cur = next;
	}
	e->k++;
	w->off = (uint64_t)e->k * ENGINE_CORE - LB;
	w->len = OVERLAP;
	return e->n_workers == 0 ? e->error : r;
}

int engine_view_begin(struct engine *e, const char *pass, const char *container_format, unsigned index,
		      uint64_t container_offset)
{
	struct view_meta m = { 0 };

	if (e->in_view || !pass)
		return -EINVAL;
	if (strcmp(pass, "raw") == 0)
		m.pass = PASS_RAW;
	else if (strcmp(pass, "decoded") == 0)
		m.pass = PASS_DECODED;
	else
		return -EINVAL;
	if (container_format) {
		if (strlen(container_format) >= sizeof(m.format))
			return -EINVAL;
		strcpy(m.format, container_format);
		m.index = index;
		m.container_offset = container_offset;
	}
	e->view = m;
	e->k = 0;
	e->in_view = true;
	if (e->cur) { /* inline mode keeps its window between views */
		e->cur->len = 0;
		e->cur->off = 0;
		e->cur->meta = m;
	}
	return sticky_error(e);
}

int engine_view_buffer(struct engine *e, uint8_t **ret_buf, size_t *ret_len)
{
	int r;

	if (!e->in_view)
		return -EINVAL;
	r = sticky_error(e);
	if (r < 0)
		return r;
	if (!e->cur) {
		r = get_window(e, &e->cur);
		if (r < 0)
			return fail(e, r);
		e->cur->len = 0;
		e->cur->off = 0;
		e->cur->meta = e->view;
	}
	*ret_buf = e->cur->buf + e->cur->len;
	*ret_len = window_full(e->k) - e->cur->len;
	return 0;
}

int engine_view_commit(struct engine *e, size_t n)
{
	if (!e->in_view || !e->cur || n > window_full(e->k) - e->cur->len)
		return -EINVAL;
	e->cur->len += n;
	if (e->cur->len == window_full(e->k))
		return rotate(e);
	return 0;
}

int engine_view_feed(struct engine *e, const uint8_t *buf, size_t n)
{
	while (n > 0) {
		uint8_t *p;
		size_t room;
		int r;

		r = engine_view_buffer(e, &p, &room);
		if (r < 0)
			return r;
		if (room > n)
			room = n;
		memcpy(p, buf, room);
		r = engine_view_commit(e, room);
		if (r < 0)
			return r;
		buf += room;
		n -= room;
	}
	return 0;
}

int engine_view_end(struct engine *e)
{
	struct window *w = e->cur;
	int r = 0;

	if (!e->in_view)
		return -EINVAL;
	e->in_view = false;
	if (!w)
		return sticky_error(e);
	set_core(w, e->k);
	if (e->n_workers == 0) {
		/* Inline: scan what is left; the window stays ours. */
		r = scan_window(e, e->scratch, w);
		set_error(e, r);
		w->len = 0;
		return e->error;
	}
	e->cur = NULL;
	if (w->core_hi <= w->core_lo) {
		/* Only overlap bytes, all of them in the previous core. */
		pthread_mutex_lock(&e->lock);
		w->next = e->free_list;
		e->free_list = w;
		r = e->error;
		pthread_cond_broadcast(&e->done);
		pthread_mutex_unlock(&e->lock);
		return r;
	}
	return dispatch(e, w);
}

/* ---- findings out */

const struct engine_finding *engine_findings(struct engine *e, size_t *ret_n)
{
	(void)engine_flush(e); /* a scan error: the caller asks engine_flush() */
	return findings_sorted(&e->findings, ret_n);
}

void engine_reset(struct engine *e)
{
	/* An open view (the caller hit a read error) is abandoned. */
	if (e->in_view) {
		e->in_view = false;
		if (e->cur && e->n_workers > 0) {
			pthread_mutex_lock(&e->lock);
			e->cur->next = e->free_list;
			e->free_list = e->cur;
			pthread_cond_broadcast(&e->done);
			pthread_mutex_unlock(&e->lock);
			e->cur = NULL;
		}
	}
	(void)engine_flush(e);
	findings_reset(&e->findings);
	if (e->n_workers > 0)
		pthread_mutex_lock(&e->lock);
	e->error = 0;
	if (e->n_workers > 0)
		pthread_mutex_unlock(&e->lock);
}

/* ---- construction */

_printf_(3, 4) static void say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* Every anchor must have exactly its declared width (start = end - width
 * is only right then) and fit in the lookahead (so that an anchor that
 * starts in a core ends inside its window). */
static int check_pattern(const struct detector *d, unsigned i, char *why, size_t why_len)
{
	const struct detector_pattern *p = &d->patterns[i];
	const unsigned forbidden = HS_FLAG_SINGLEMATCH | HS_FLAG_SOM_LEFTMOST | HS_FLAG_ALLOWEMPTY;
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *err = NULL;
	int r = 0;

	if (!p->regex || p->width == 0 || p->width > LA || (p->flags & forbidden)) {
		say(why, why_len,
		    "detector %s pattern %u: needs a regex, a width in 1..%zu and no flag that hides matches",
		    d->name, i, LA);
		return -EINVAL;
	}
	if (hs_expression_info(p->regex, HS_FLAG_DOTALL | p->flags, &info, &err) != HS_SUCCESS) {
		say(why, why_len, "detector %s pattern %u: %s", d->name, i,
		    err && err->message ? err->message : "does not compile");
		hs_free_compile_error(err);
		return -EINVAL;
	}
	if (info->min_width != p->width || info->max_width != p->width) {
		say(why, why_len, "detector %s pattern %u: matches are %u..%u bytes wide, declared %u",
		    d->name, i, info->min_width, info->max_width, p->width);
		r = -EINVAL;
	}
	free(info); /* allocated with the default misc allocator (malloc) */
	return r;
}

static int compile(struct engine *e, char *why, size_t why_len)
{
	_cleanup_free_ const char **exprs = NULL;
	_cleanup_free_ unsigned *flags = NULL, *ids = NULL;
	hs_compile_error_t *err = NULL;
	hs_platform_info_t plat;
	unsigned n = 0;
	int r;

	for (size_t d = 0; d < e->n_dets; d++) {
		if (!e->dets[d] || !e->dets[d]->on_match || !e->dets[d]->name ||
		    (e->dets[d]->n_patterns && !e->dets[d]->patterns))
			return -EINVAL;
		n += (unsigned)e->dets[d]->n_patterns;
	}
	if (n == 0) {
		say(why, why_len, "no detector patterns");
		return -EINVAL;
	}
	e->anchors = calloc(n, sizeof(*e->anchors));
	exprs = calloc(n, sizeof(*exprs));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	if (!e->anchors || !exprs || !flags || !ids)
		return -ENOMEM;
	for (size_t d = 0; d < e->n_dets; d++) {
		const struct detector *det = e->dets[d];

		for (unsigned i = 0; i < det->n_patterns; i++) {
			r = check_pattern(det, i, why, why_len);
			if (r < 0)
				return r;
			e->anchors[e->n_anchors] = (struct anchor){ det, i, det->patterns[i].width };
			exprs[e->n_anchors] = det->patterns[i].regex;
			flags[e->n_anchors] = HS_FLAG_DOTALL | det->patterns[i].flags;
			ids[e->n_anchors] = e->n_anchors;
			e->n_anchors++;
		}
	}
	if (hs_populate_platform(&plat) != HS_SUCCESS)
		return -EIO;
	if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, &plat, &e->db, &err) != HS_SUCCESS) {
		const struct anchor *a = (err && err->expression >= 0 && (unsigned)err->expression < n)
						 ? &e->anchors[err->expression]
						 : NULL;
		say(why, why_len, "detector %s pattern %u: %s", a ? a->det->name : "?", a ? a->pattern : 0,
		    err && err->message ? err->message : "does not compile");
		hs_free_compile_error(err);
		return -EINVAL;
	}
	if (hs_alloc_scratch(e->db, &e->scratch) != HS_SUCCESS)
		return -ENOMEM;
	return 0;
}

static int start_workers(struct engine *e)
{
	int r;

	e->max_windows = e->threads + 2;
	e->queue = calloc(e->max_windows, sizeof(*e->queue));
	e->workers = calloc(e->threads, sizeof(*e->workers));
	e->worker_scratch = calloc(e->threads, sizeof(*e->worker_scratch));
	if (!e->queue || !e->workers || !e->worker_scratch)
		return -ENOMEM;
	for (unsigned i = 0; i < e->threads; i++)
		if (hs_clone_scratch(e->scratch, &e->worker_scratch[i]) != HS_SUCCESS)
			return -ENOMEM;
	for (unsigned i = 0; i < e->threads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));

		if (!wa)
			return -ENOMEM;
		*wa = (struct worker_arg){ e, e->worker_scratch[i] };
		r = pthread_create(&e->workers[i], NULL, worker_main, wa);
		if (r != 0) {
			free(wa);
			return -r;
		}
		e->n_workers++;
	}
	return 0;
}

int engine_new_with(const struct detector *const *dets, size_t n_dets, unsigned threads, char *why,
		    size_t why_len, struct engine **ret)
{
	struct engine *e;
	int r;

	if (threads == 0 || threads > ENGINE_MAX_THREADS)
		return -EINVAL;
	if (!dets) {
		dets = builtin_detectors;
		n_dets = ELEMENTSOF(builtin_detectors);
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->dets = dets;
	e->n_dets = n_dets;
	e->threads = threads;
	pthread_mutex_init(&e->lock, NULL);
	findings_init(&e->findings);
	pthread_cond_init(&e->work, NULL);
	pthread_cond_init(&e->done, NULL);
	r = compile(e, why, why_len);
	if (r >= 0 && threads > 1)
		r = start_workers(e);
	if (r < 0) {
		engine_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

int engine_new(unsigned threads, struct engine **ret)
{
	return engine_new_with(NULL, 0, threads, NULL, 0, ret);
}

void engine_free(struct engine *e)
{
	struct window *w;

	if (!e)
		return;
	if (e->n_workers > 0) {
		pthread_mutex_lock(&e->lock);
		e->stopping = true;
		pthread_cond_broadcast(&e->work);
		pthread_mutex_unlock(&e->lock);
		for (unsigned i = 0; i < e->n_workers; i++)
			pthread_join(e->workers[i], NULL);
	}
	/* Workers are gone: every window is on the free list or cur. */
	window_free(e->cur);
	while ((w = e->free_list)) {
		e->free_list = w->next;
		window_free(w);
	}
	if (e->worker_scratch)
		for (unsigned i = 0; i < e->threads; i++)
			hs_free_scratch(e->worker_scratch[i]);
	hs_free_scratch(e->scratch);
	hs_free_database(e->db);
	pthread_cond_destroy(&e->work);
	pthread_cond_destroy(&e->done);
	pthread_mutex_destroy(&e->lock);
	findings_destroy(&e->findings);
	free(e->worker_scratch);
	free(e->workers);
	free(e->queue);
	free(e->anchors);
	free(e);
}
