/* ktrail.c - the gate's records in the kernel audit trail (see ktrail.h).
 *
 * auditd writes one line per record; ours look like
 *   type=TRUSTED_APP msg=audit(1795900233.413:48049): pid=7605 uid=0 …
 *     msg='op=dumpgate seq=74 event=gate_started transfer=none
 *     line_sha256=<64 hex> prev=<64 hex> data=<hex of the line>'
 * (one line; an enriched log appends fields after the closing quote).
 * Only records of type TRUSTED_APP (1121) count: sending one needs
 * CAP_AUDIT_WRITE, and only the fields before data= are read.
 */
#include "ktrail.h"

#include <errno.h>
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
	return true;
}

/* 1: a record of ours, in e; 0: another line; -1: ours but malformed. */
static int parse_line(const char *line, size_t len, struct kentry *e)
{
	static const char start[] = " msg='op=dumpgate ";
	const char *end = line + len, *s, *q;

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
	/* the same record twice (a file given twice, a copy): keep one */
	size_t w = 1;
	for (size_t i = 1; i < k->n; i++)
		if (strcmp(k->v[i].sha, k->v[w - 1].sha) != 0)
			k->v[w++] = k->v[i];
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

void kcheck_init(struct kcheck *c, const struct ktrail *k)
{
	*c = (struct kcheck){ .k = k };
	memcpy(c->prev_sha, ZERO_HASH, sizeof(c->prev_sha));
}

void kcheck_line(struct kcheck *c, uint64_t seq, const char *event, const char sha[65])
{
	const struct kentry *e = find(c->k, sha);
	const struct kentry *const *succ;
	size_t n;

	c->lines++;
	/* the successors of a line the trail has are this log's own (the
	 * hash covers the line): any besides this one are failed writes, or
	 * the record this line replaced */
	succ = c->prev_found ? after(c->k, c->prev_sha, &n) : NULL;
	if (!succ)
		n = 0;
	if (e) {
		c->found++;
		if (!c->first_found)
			c->first_found = c->lines;
		if (n > 0)
			c->unwritten += n - 1;
	} else if (c->first_found) {
		if (c->missing++ == 0) {
			c->miss_line = c->lines;
			c->miss_seq = seq;
			snprintf(c->miss_event, sizeof(c->miss_event), "%s", event);
			for (size_t i = 0; i < n; i++)
				c->miss_replaced |= succ[i]->seq == seq;
		}
	}
	c->prev_found = e != NULL;
	memcpy(c->prev_sha, sha, sizeof(c->prev_sha));
}

uint64_t kcheck_beyond(const struct kcheck *c, const struct kentry **ret_first)
{
	const struct kentry *const *succ;
	char cur[65];
	uint64_t count = 0;
	size_t n;

	*ret_first = NULL;
	if (!c->prev_found)
		return 0;
	memcpy(cur, c->prev_sha, sizeof(cur));
	/* follow the chain (bounded: each step is a distinct record) */
	while (count < c->k->n && (succ = after(c->k, cur, &n)) && n > 0) {
		if (!*ret_first)
			*ret_first = succ[0];
		count++;
		memcpy(cur, succ[0]->sha, sizeof(cur));
	}
	return count;
}
