/* ktrail.c - the gate's records in the kernel audit trail (see ktrail.h).
 *
 * auditd writes one line per record; ours look like
 *   type=TRUSTED_APP msg=audit(1795900233.413:48049): pid=7605 uid=0 …
 *     msg='op=dumpgate seq=74 event=gate_started transfer=none
 *     line_sha256=<64 hex> prev=<64 hex> data=<hex of the line>'
 * (one line; an enriched log appends fields after the closing quote; a
 * log gathered from several hosts starts each line with node=HOST).
 * Only records of type TRUSTED_APP (1121) count: sending one needs
 * CAP_AUDIT_WRITE.  The fields before data= are read, and data= itself
 * only for a log's first line, for the signing key it names.
 */
#include "ktrail.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "name=" at *p, then the value up to the next space (or end); moves *p
 * past it.  false when the field is not there. */
static bool field(const char **p, const char *end, const char *name, const char **val, size_t *len)
{
	size_t n = strlen(name);
	const char *s = *p, *e;

	if ((size_t)(end - s) < n + 1 || memcmp(s, name, n) != 0 || s[n] != '=')
		return false;
	s += n + 1;
	e = memchr(s, ' ', (size_t)(end - s));
	if (!e)
		e = end;
	*val = s;
	*len = (size_t)(e - s);
	*p = e < end ? e + 1 : e;
	return true;
}

/* One record's text (between msg=' and '), into e.  false if malformed. */
static bool parse_record(const char *s, const char *end, struct kentry *e)
{
	const char *v;
	size_t n;
	char num[21];
	char *q;

	if (!field(&s, end, "op", &v, &n) || n != 8 || memcmp(v, "dumpgate", 8) != 0)
		return false;
	if (!field(&s, end, "seq", &v, &n) || n == 0 || n >= sizeof(num) || v[0] < '1' || v[0] > '9')
		return false;
	memcpy(num, v, n);
	num[n] = '\0';
	errno = 0;
	e->seq = strtoull(num, &q, 10);
	if (errno || *q)
		return false;
	if (!field(&s, end, "event", &v, &n) || n == 0 || n >= sizeof(e->event))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || v[i] == '_'))
			return false;
	memcpy(e->event, v, n);
	e->event[n] = '\0';
	if (!field(&s, end, "transfer", &v, &n))
		return false;
	if (!field(&s, end, "line_sha256", &v, &n) || n != 64 || !is_lower_hex(v, 64))
		return false;
	memcpy(e->sha, v, 64);
	e->sha[64] = '\0';
	if (!field(&s, end, "prev", &v, &n) || n != 64 || !is_lower_hex(v, 64))
		return false;
	memcpy(e->prev, v, 64);
	e->prev[64] = '\0';
	/* a log's first line: which gate (by its signing key) */
	if (e->seq == 1 && strcmp(e->event, "gate_started") == 0 && field(&s, end, "data", &v, &n) && n % 2 == 0 &&
	    n > 0) {
		_cleanup_free_ char *hex = strndup(v, n);
		_cleanup_free_ uint8_t *line = malloc(n / 2);
		json_t *rec, *key;
		if (hex && line && hex_decode(hex, line, n / 2) == 0 &&
		    (rec = json_loadb((const char *)line, n / 2, 0, NULL))) {
			key = json_object_get(json_object_get(rec, "details"), "signing_key_sha256");
			if (json_is_string(key) && strlen(json_string_value(key)) == 64 &&
			    is_lower_hex(json_string_value(key), 64))
				memcpy(e->key, json_string_value(key), 65);
			json_decref(rec);
		}
	}
	return true;
}

/* 1: a record of ours, in e; 0: another line; -1: ours but malformed. */
static int parse_line(const char *line, size_t len, struct kentry *e)
{
	static const char start[] = " msg='op=dumpgate ";
	const char *end = line + len, *s, *q;

	if (len > 5 && memcmp(line, "node=", 5) == 0) {
		const char *sp = memchr(line, ' ', len);
		if (!sp)
			return 0;
		len -= (size_t)(sp + 1 - line);
		line = sp + 1;
	}
	if (!(len > 17 && memcmp(line, "type=TRUSTED_APP ", 17) == 0) &&
	    !(len > 19 && memcmp(line, "type=UNKNOWN[1121] ", 19) == 0))
		return 0;
	s = memmem(line, len, start, sizeof(start) - 1);
	if (!s)
		return 0;
	s += 6; /* at op= */
	q = memchr(s, '\'', (size_t)(end - s));
	if (!q)
		return -1;
	return parse_record(s, q, e) ? 1 : -1;
}

int ktrail_add_line(struct ktrail *k, const char *line, size_t len)
{
	struct kentry e = { 0 };
	int p = parse_line(line, len, &e);

	if (p < 0) {
		k->malformed++;
		return -EBADMSG;
	}
	if (p == 0)
		return 0;
	if (k->n == k->cap) {
		size_t nc = k->cap ? 2 * k->cap : 1024;
		struct kentry *nv = reallocarray(k->v, nc, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		k->v = nv;
		k->cap = nc;
	}
	k->v[k->n++] = e;
	return 1;
}

int ktrail_load(struct ktrail *k, const char *path, char **ret_error)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (asprintf(ret_error, "cannot open %s: %s", path, strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (ktrail_add_line(k, line, (size_t)len - (len > 0 && line[len - 1] == '\n')) == -ENOMEM) {
			r = -ENOMEM;
			break;
		}
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	if (r < 0 && asprintf(ret_error, "cannot read %s: %s", path, strerror(-r)) < 0)
		*ret_error = NULL;
	return r;
}

static int by_sha(const void *a, const void *b)
{
	return strcmp(((const struct kentry *)a)->sha, ((const struct kentry *)b)->sha);
}

static int by_prev(const void *a, const void *b)
{
	return strcmp((*(const struct kentry *const *)a)->prev, (*(const struct kentry *const *)b)->prev);
}

int ktrail_index(struct ktrail *k)
{
	if (k->n == 0)
		return 0;
	qsort(k->v, k->n, sizeof(*k->v), by_sha);
	/* the same record twice (a file given twice, a copy): keep one; two
	 * different records for one line: one of them was sent by someone
	 * else (the hash covers the line, seq and prev included) */
	size_t w = 1;
	for (size_t i = 1; i < k->n; i++) {
		const struct kentry *a = &k->v[w - 1], *b = &k->v[i];
		if (strcmp(a->sha, b->sha) != 0) {
			k->v[w++] = *b;
			continue;
		}
		if (a->seq != b->seq || strcmp(a->prev, b->prev) != 0 || strcmp(a->event, b->event) != 0) {
			if (k->conflicts++ == 0)
				k->conflict = *b;
		}
	}
	k->n = w;
	free(k->by_prev);
	k->by_prev = calloc(k->n, sizeof(*k->by_prev));
	if (!k->by_prev)
		return -ENOMEM;
	for (size_t i = 0; i < k->n; i++)
		k->by_prev[i] = &k->v[i];
	qsort(k->by_prev, k->n, sizeof(*k->by_prev), by_prev);
	return 0;
}

void ktrail_free(struct ktrail *k)
{
	free(k->v);
	free(k->by_prev);
	*k = (struct ktrail){ 0 };
}

static const struct kentry *find(const struct ktrail *k, const char sha[65])
{
	struct kentry key;

	if (k->n == 0)
		return NULL;
	memcpy(key.sha, sha, sizeof(key.sha));
	return bsearch(&key, k->v, k->n, sizeof(*k->v), by_sha);
}

/* The records whose prev is sha: *ret_n of them from the returned one. */
static const struct kentry *const *after(const struct ktrail *k, const char sha[65], size_t *ret_n)
{
	size_t lo = 0, hi = k->n, first;

	*ret_n = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(k->by_prev[mid]->prev, sha) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < k->n && strcmp(k->by_prev[lo]->prev, sha) == 0)
		lo++;
	*ret_n = lo - first;
	return k->by_prev ? k->by_prev + first : NULL;
}

/* Records chained after sha, following the first successor each time
 * (bounded: each step is a distinct record); *ret_first the first. */
static uint64_t chain_after(const struct ktrail *k, const char sha[65], const struct kentry **ret_first)
{
	const struct kentry *const *succ;
	char cur[65];
	uint64_t count = 0;
	size_t n;

	if (ret_first)
		*ret_first = NULL;
	memcpy(cur, sha, sizeof(cur));
	while (count < k->n && (succ = after(k, cur, &n)) && n > 0) {
		if (ret_first && !*ret_first)
			*ret_first = succ[0];
		count++;
		memcpy(cur, succ[0]->sha, sizeof(cur));
	}
	return count;
}

void kcheck_init(struct kcheck *c, const struct ktrail *k)
{
	*c = (struct kcheck){ .k = k };
	memcpy(c->prev_sha, ZERO_HASH, sizeof(c->prev_sha));
}

void kcheck_line(struct kcheck *c, uint64_t seq, const char *event, const char sha[65], const char *key)
{
	const struct kentry *e = find(c->k, sha);
	const struct kentry *const *succ = NULL;
	size_t n = 0;

	c->lines++;
	if (c->lines == 1) {
		memcpy(c->first_sha, sha, sizeof(c->first_sha));
		if (key)
			snprintf(c->key, sizeof(c->key), "%s", key);
	}
	/* The records chained after a line the trail has are this log's own
	 * (the hash covers the line).  Besides this line, the one kind a
	 * working gate leaves is a failed write: a single record of the same
	 * seq that nothing follows, replaced by this line -- unless this line
	 * is a start, which is also what a log cut short and restarted looks
	 * like.  Anything else is a branch the log does not have.  (After
	 * line 0 the records are every log's first: see kcheck_other_logs.) */
	if (c->prev_found && c->lines > 1)
		succ = after(c->k, c->prev_sha, &n);
	for (size_t i = 0; succ && i < n; i++) {
		const struct kentry *s = succ[i];
		uint64_t len;
		if (strcmp(s->sha, sha) == 0)
			continue;
		len = 1 + chain_after(c->k, s->sha, NULL);
		if (len == 1 && s->seq == seq && strcmp(event, "gate_started") != 0) {
			c->unwritten++;
			continue;
		}
		if (c->forks++ == 0) {
			c->fork_line = c->lines;
			c->fork_len = len;
			c->fork = *s;
		}
	}
	if (e) {
		c->found++;
		if (!c->first_found)
			c->first_found = c->lines;
	} else if (c->first_found) {
		if (c->missing++ == 0) {
			c->miss_line = c->lines;
			c->miss_seq = seq;
			snprintf(c->miss_event, sizeof(c->miss_event), "%s", event);
			for (size_t i = 0; succ && i < n; i++)
				c->miss_replaced |= succ[i]->seq == seq;
		}
	}
	c->prev_found = e != NULL;
	memcpy(c->prev_sha, sha, sizeof(c->prev_sha));
}

uint64_t kcheck_beyond(const struct kcheck *c, const struct kentry **ret_first)
{
	*ret_first = NULL;
	if (!c->prev_found)
		return 0;
	return chain_after(c->k, c->prev_sha, ret_first);
}

void kcheck_other_logs(const struct kcheck *c, uint64_t *ret_same, uint64_t *ret_other, const struct kentry **ret_first)
{
	const struct kentry *const *firsts;
	size_t n;

	*ret_same = *ret_other = 0;
	*ret_first = NULL;
	firsts = after(c->k, ZERO_HASH, &n);
	for (size_t i = 0; firsts && i < n; i++) {
		const struct kentry *s = firsts[i];
		if (strcmp(s->sha, c->first_sha) == 0)
			continue;
		if (c->key[0] && strcmp(s->key, c->key) == 0) {
			/* a first start whose record could not be written */
			if (chain_after(c->k, s->sha, NULL) == 0)
				continue;
			if ((*ret_same)++ == 0)
				*ret_first = s;
		} else {
			(*ret_other)++;
		}
	}
}
