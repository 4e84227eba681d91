/* config.c - the gate configuration and the transfer profiles (libinih).
 *
 * Both files are read into memory from an fd opened with O_NOFOLLOW and
 * checked with fstat (owner, mode, type), then handed to libinih through our
 * own line reader.  The reader counts lines, refuses long lines and NUL
 * bytes, recognises section headers and syntax errors itself, and mirrors
 * libinih's multi-line rule so that the handler knows whether a call is a
 * continuation line.  libinih calls the handler right after the reader
 * returned the line, so the reader's line number is the handler's.
 *
 * The first error stops the parse (the reader returns EOF); it is the only
 * one reported.  Nothing here logs: config_load() hands the message back.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "dg-config.h"
#include "filetype.h"
#include "util.h"

#define CONFIG_MAX_FILE (1024 * 1024) /* bytes of one config file */
#define MAX_KEYS 32
#define MAX_SECTIONS 4

/* Keys of features this build does not have yet.  Naming one is an error
 * rather than being ignored: an admin who writes "yara = ..." must not
 * believe the gate runs YARA.  Remove an entry when its feature lands. */
enum file_kind { FK_GATE, FK_PROFILE };
static const struct {
	enum file_kind kind;
	const char *key;
} future_keys[] = {
	{ FK_GATE, "signing_key" },
	{ FK_GATE, "hook" },
	{ FK_PROFILE, "rules" },             { FK_PROFILE, "redact" },
	{ FK_PROFILE, "allowed_hours" },     { FK_PROFILE, "rate_limit" },
	{ FK_PROFILE, "yara" },              { FK_PROFILE, "require_provenance" },
};

enum vkind {
	V_PATH,      /* absolute path of at most max bytes */
	V_NAME,      /* user or group name */
	V_UINT,      /* unsigned, min..max */
	V_SIZE,      /* uint64_t bytes, min..max */
	V_DURATION,  /* uint64_t seconds, min..max */
	V_ACCOUNTS,  /* struct strlist of accounts and @groups */
	V_TYPES,     /* uint32_t FT_MASK() bits */
	V_COMPONENT, /* single safe path component */
	V_SEVERITIES, /* uint32_t SEV_MASK() bits */
	V_FINGERPRINTS, /* struct strlist of 64-hex SHA-256 values */
	V_REQUIRED_OFF, /* bool: "required" true, "off" false */
};

struct keydef {
	const char *section;
	const char *name;
	enum vkind kind;
	bool required;
	size_t offset; /* into struct gate_config or struct profile */
	uint64_t min, max;
	const char *expect; /* what a value must look like */
	const char *range;  /* what an out-of-range value is told */
};

#define G(f) offsetof(struct gate_config, f)
#define P(f) offsetof(struct profile, f)
#define DAY (24 * 3600ull)
#define GIB (1024ull * 1024 * 1024)

static const struct keydef gate_keys[] = {
	{ "gate", "socket", V_PATH, false, G(socket_path), 0, sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
	  "an absolute path", "an absolute path of at most 107 bytes" },
	{ "gate", "state_dir", V_PATH, true, G(state_dir), 0, PATH_MAX - 1, "an absolute path", NULL },
	{ "gate", "spool_dir", V_PATH, false, G(spool_dir), 0, PATH_MAX - 1, "an absolute path", NULL },
	{ "gate", "outbox_dir", V_PATH, false, G(outbox_dir), 0, PATH_MAX - 1, "an absolute path", NULL },
	{ "gate", "profiles_dir", V_PATH, true, G(profiles_dir), 0, PATH_MAX - 1, "an absolute path", NULL },
	{ "gate", "admins_group", V_NAME, true, G(admins_group), 0, 0, "a group name", NULL },
	{ "gate", "auditors_group", V_NAME, false, G(auditors_group), 0, 0, "a group name", NULL },
	{ "gate", "session_user", V_NAME, true, G(session_user), 0, 0, "a user name", NULL },
	{ "gate", "session_program", V_PATH, false, G(session_program), 0, PATH_MAX - 1, "an absolute path", NULL },
	{ "gate", "scanner_user", V_NAME, true, G(scanner_user), 0, 0, "a user name", NULL },
	{ "gate", "kernel_audit", V_REQUIRED_OFF, false, G(kernel_audit), 0, 0, "required or off", NULL },
	{ "gate", "scanner_program", V_PATH, false, G(scanner_program), 0, PATH_MAX - 1, "an absolute path", NULL },
	{ "limits", "max_connections_per_account", V_UINT, false, G(max_connections_per_account), 1, 1024,
	  "an integer", "from 1 to 1024" },
	{ "limits", "max_connections", V_UINT, false, G(max_connections), 1, 65536, "an integer", "from 1 to 65536" },
	{ "limits", "quota_per_requester", V_SIZE, false, G(quota_per_requester), 1, INT64_MAX,
	  "a size like 64G", "more than 0" },
	{ "limits", "quota_total", V_SIZE, false, G(quota_total), 1, INT64_MAX, "a size like 512G", "more than 0" },
	{ "limits", "upload_idle_timeout", V_DURATION, false, G(upload_idle_timeout), 1, DAY,
	  "a duration like 5m", "from 1s to 1d" },
	{ "limits", "session_idle_timeout", V_DURATION, false, G(session_idle_timeout), 1, DAY,
	  "a duration like 60s", "from 1s to 1d" },
	{ "limits", "scan_timeout", V_DURATION, false, G(scan_timeout), 1, DAY, "a duration like 5m",
	  "from 1s to 1d" },
	{ "limits", "max_refusals_per_minute", V_UINT, false, G(max_refusals_per_minute), 1, 100000, "an integer",
	  "from 1 to 100000" },
	{ "limits", "otp_max_failures", V_UINT, false, G(otp_max_failures), 1, 1000, "an integer",
	  "from 1 to 1000" },
	{ "limits", "otp_lockout", V_DURATION, false, G(otp_lockout), 1, DAY, "a duration like 15m",
	  "from 1s to 1d" },
	{ "limits", "release_retry", V_DURATION, false, G(release_retry), 1, 3600, "a duration like 1m",
	  "from 1s to 1h" },
	{ "limits", "scan_threads", V_UINT, false, G(scan_threads), 1, 64, "an integer", "from 1 to 64" },
	{ "limits", "scan_memory", V_SIZE, false, G(scan_memory), 64ull * 1024 * 1024, UINT64_MAX,
	  "a size like 4G", "at least 64M" },
};

static const struct keydef profile_keys[] = {
	{ "profile", "requesters", V_ACCOUNTS, true, P(requesters), 0, 0, "accounts or @groups", NULL },
	{ "profile", "approvers", V_ACCOUNTS, true, P(approvers), 0, 0, "accounts or @groups", NULL },
	{ "profile", "approvals", V_UINT, true, P(approvals), 1, 16, "an integer", "from 1 to 16" },
	{ "profile", "max_size", V_SIZE, true, P(max_size), 1, UINT64_MAX, "a size like 4G", "more than 0" },
	{ "profile", "types", V_TYPES, true, P(types), 0, 0, "artifact types", NULL },
	{ "profile", "expiry", V_DURATION, true, P(expiry), 1, 365 * DAY, "a duration like 24h", "from 1s to 365d" },
	{ "profile", "retention", V_DURATION, true, P(retention), 0, 100 * 365 * DAY, "a duration like 30d", "at most 36500d" },
	{ "profile", "destination", V_COMPONENT, false, P(destination), 0, 255,
	  "a single path component of [A-Za-z0-9._-]", NULL },
	{ "profile", "block", V_SEVERITIES, false, P(block), 0, 0, "severities (critical high medium info)", NULL },
	{ "profile", "allowlist", V_FINGERPRINTS, false, P(allowlist), 0, 0,
	  "public key SHA-256 fingerprints (64 lowercase hex)", NULL },
	{ "profile", "bomb_max_size", V_SIZE, false, P(bomb_max_size), 1024 * 1024, UINT64_MAX, "a size like 16G",
	  "at least 1M" },
	{ "profile", "bomb_max_ratio", V_UINT, false, P(bomb_max_ratio), 2, 1000000, "an integer",
	  "from 2 to 1000000" },
};

static const char *const gate_sections[] = { "gate", "limits", "persons", NULL };
static const char *const profile_sections[] = { "profile", NULL };
_Static_assert(ELEMENTSOF(gate_keys) <= MAX_KEYS && ELEMENTSOF(profile_keys) <= MAX_KEYS, "MAX_KEYS");
_Static_assert(ELEMENTSOF(gate_sections) <= MAX_SECTIONS + 1, "MAX_SECTIONS");

struct parse {
	enum file_kind kind;
	const char *file;
	const char *buf;
	size_t len, pos;
	const struct keydef *keys;
	size_t n_keys;
	const char *const *sections;
	void *target; /* struct gate_config or struct profile */

	unsigned lineno;
	bool in_key;      /* libinih has a previous name: indented lines continue it */
	bool cont;        /* the current line is such a continuation */
	int prev;         /* key index (or person index in [persons]) continued */
	unsigned seen[MAX_KEYS];
	unsigned sec_seen[MAX_SECTIONS];
	unsigned *person_lines; /* [persons]: line of each person */

	int err; /* first error, negative errno */
	char *error;
};

/* ---- small helpers ---- */

/* Makes room for element n of the array *pp of size-byte elements. */
static int grow(void *pp, size_t n, size_t size)
{
	void **p = pp;
	void *q = reallocarray(*p, n + 1, size);

	if (!q)
		return -ENOMEM;
	*p = q;
	return 0;
}

/* Takes ownership of s on success. */
static int strlist_push(struct strlist *l, char *s)
{
	int r = grow(&l->v, l->n, sizeof(char *));

	if (r < 0)
		return r;
	l->v[l->n++] = s;
	return 0;
}

static bool strlist_contains(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

void strlist_free(struct strlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Sets *msgp to "file:line: message" (": message" when line is 0) unless
 * an earlier error is already there, and returns code.  The message is
 * escaped: values come from files and may hold control bytes. */
_printf_(5, 6) static int errorf(char **msgp, const char *file, unsigned line, int code, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL, *full = NULL;
	va_list ap;
	int r;

	if (*msgp)
		return code;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return code;
	if (line > 0)
		r = asprintf(&full, "%s:%u: %s", file, line, msg);
	else
		r = asprintf(&full, "%s: %s", file, msg);
	if (r < 0) {
		full = NULL;
		return code;
	}
	*msgp = str_escape(full, 8192);
	return code;
}

#define pfail(p, line, ...) ((p)->err = errorf(&(p)->error, (p)->file, (line), -EINVAL, __VA_ARGS__))

/* [a-z_][a-z0-9_.-]{0,31}: accounts, groups and persons */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* [a-z0-9][a-z0-9_-]{0,63} */
static bool valid_profile_name(const char *s, size_t n)
{
	if (n < 1 || n > 64 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", s[i]) || s[i] == '\0')
			return false;
	return true;
}

static bool valid_component(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n < 1 || n > max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int path_join(const char *dir, const char *name, char **ret)
{
	size_t n = strlen(dir);
	char *s = NULL;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (asprintf(&s, "%.*s/%s", (int)n, dir, name) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* The one list splitter: tokens separated by whitespace and/or commas.
 * Used for requesters, approvers, types and [persons]. */
static int list_split(const char *s, struct strlist *ret)
{
	_cleanup_(strlist_free) struct strlist l = { 0 };
	static const char sep[] = " \t\r\n\v\f,";

	for (;;) {
		s += strspn(s, sep);
		if (!*s)
			break;
		size_t n = strcspn(s, sep);
		_cleanup_free_ char *tok = strndup(s, n);
		if (!tok)
			return -ENOMEM;
		int r = strlist_push(&l, tok);
		if (r < 0)
			return r;
		tok = NULL;
		s += n;
	}
	*ret = l;
	l = (struct strlist){ 0 };
	return 0;
}

/* ---- values ---- */

static int set_accounts(struct parse *p, const struct keydef *k, struct strlist *dst, const char *value)
{
	_cleanup_(strlist_free) struct strlist toks = { 0 };
	int r = list_split(value, &toks);

	if (r < 0)
		return p->err = r;
	for (size_t i = 0; i < toks.n; i++) {
		const char *t = toks.v[i];
		if (!valid_name(t[0] == '@' ? t + 1 : t))
			return pfail(p, p->lineno, "bad value \"%s\" in %s: expected an account or @group", t, k->name);
		if (strlist_contains(dst, t))
			return pfail(p, p->lineno, "\"%s\" listed twice in %s", t, k->name);
		r = strlist_push(dst, toks.v[i]);
		if (r < 0)
			return p->err = r;
		toks.v[i] = NULL;
	}
	return 0;
}

static int set_types(struct parse *p, const struct keydef *k, uint32_t *dst, const char *value)
{
	_cleanup_(strlist_free) struct strlist toks = { 0 };
	int r = list_split(value, &toks);

	if (r < 0)
		return p->err = r;
	for (size_t i = 0; i < toks.n; i++) {
		enum ftype t;
		if (ftype_from_name(toks.v[i], &t) < 0 || (unsigned)t >= _FT_MAX) {
			char known[256] = "";
			for (unsigned j = 0; j < _FT_MAX; j++) {
				const char *nm = ftype_name((enum ftype)j);
				size_t at = strlen(known);
				snprintf(known + at, sizeof(known) - at, "%s%s", j ? ", " : "", nm ? nm : "?");
			}
			return pfail(p, p->lineno, "unknown type \"%s\" in %s (known: %s)", toks.v[i], k->name, known);
		}
		if (*dst & FT_MASK(t))
			return pfail(p, p->lineno, "\"%s\" listed twice in %s", toks.v[i], k->name);
		*dst |= FT_MASK(t);
	}
	return 0;
}

static const char *const severity_names[] = { "info", "medium", "high", "critical" };

static int set_severities(struct parse *p, const struct keydef *k, uint32_t *dst, const char *value)
{
	_cleanup_(strlist_free) struct strlist toks = { 0 };
	int r = list_split(value, &toks);

	if (r < 0)
		return p->err = r;
	*dst = 0;
	for (size_t i = 0; i < toks.n; i++) {
		size_t s;
		for (s = 0; s < ELEMENTSOF(severity_names); s++)
			if (strcmp(toks.v[i], severity_names[s]) == 0)
				break;
		if (s == ELEMENTSOF(severity_names))
			return pfail(p, p->lineno, "unknown severity \"%s\" in %s (known: critical, high, medium, info)",
				     toks.v[i], k->name);
		if (*dst & SEV_MASK(s))
			return pfail(p, p->lineno, "\"%s\" listed twice in %s", toks.v[i], k->name);
		*dst |= SEV_MASK(s);
	}
	/* Private-key findings are critical (verified) or high: a profile
	 * cannot switch them off (DESIGN.md, Profiles). */
	if ((*dst & (SEV_MASK(2) | SEV_MASK(3))) != (SEV_MASK(2) | SEV_MASK(3)))
		return pfail(p, p->lineno, "%s must include critical and high: private-key findings cannot be switched off",
			     k->name);
	return 0;
}

static int set_fingerprints(struct parse *p, const struct keydef *k, struct strlist *dst, const char *value)
{
	int r;

	strlist_free(dst);
	r = list_split(value, dst);
	if (r < 0)
		return p->err = r;
	for (size_t i = 0; i < dst->n; i++)
		if (strlen(dst->v[i]) != 64 || !is_hex(dst->v[i], 64))
			return pfail(p, p->lineno, "bad value \"%s\" in %s: expected %s", dst->v[i], k->name, k->expect);
	return 0;
}

static int set_value(struct parse *p, const struct keydef *k, const char *value)
{
	void *field = (char *)p->target + k->offset;
	uint64_t v = 0;
	int r = 0;

	switch (k->kind) {
	case V_ACCOUNTS:
		return set_accounts(p, k, field, value);
	case V_TYPES:
		return set_types(p, k, field, value);
	case V_SEVERITIES:
		return set_severities(p, k, field, value);
	case V_FINGERPRINTS:
		return set_fingerprints(p, k, field, value);
	case V_REQUIRED_OFF:
		if (strcmp(value, "required") != 0 && strcmp(value, "off") != 0)
			return pfail(p, p->lineno, "bad value \"%s\" for %s: expected %s", value, k->name, k->expect);
		*(bool *)field = strcmp(value, "required") == 0;
		return 0;
	case V_PATH:
	case V_NAME:
	case V_COMPONENT: {
		bool good = k->kind == V_NAME        ? valid_name(value)
			    : k->kind == V_COMPONENT ? valid_component(value, k->max)
						     : value[0] == '/';
		if (!good)
			return pfail(p, p->lineno, "bad value \"%s\" for %s: expected %s", value, k->name, k->expect);
		if (k->kind == V_PATH && strlen(value) > k->max)
			return pfail(p, p->lineno, "bad value \"%s\" for %s: expected %s", value, k->name,
				     k->range ? k->range : k->expect);
		char *s = strdup(value);
		if (!s)
			return p->err = -ENOMEM;
		free(*(char **)field);
		*(char **)field = s;
		return 0;
	}
	case V_UINT:
		r = parse_uint(value, UINT64_MAX, &v);
		break;
	case V_SIZE:
		r = parse_size(value, &v);
		break;
	case V_DURATION:
		r = parse_duration(value, &v);
		break;
	}
	if (r == -ERANGE)
		return pfail(p, p->lineno, "bad value \"%s\" for %s: too large", value, k->name);
	if (r < 0)
		return pfail(p, p->lineno, "bad value \"%s\" for %s: expected %s", value, k->name, k->expect);
	if (v < k->min || v > k->max)
		return pfail(p, p->lineno, "bad value \"%s\" for %s: must be %s", value, k->name, k->range);
	if (k->kind == V_UINT)
		*(unsigned *)field = (unsigned)v;
	else
		*(uint64_t *)field = v;
	return 0;
}

/* ---- [persons] ---- */

static int person_add_accounts(struct parse *p, size_t idx, const char *value)
{
	struct gate_config *c = p->target;
	_cleanup_(strlist_free) struct strlist toks = { 0 };
	int r = list_split(value, &toks);

	if (r < 0)
		return p->err = r;
	for (size_t i = 0; i < toks.n; i++) {
		const char *a = toks.v[i];
		if (!valid_name(a))
			return pfail(p, p->lineno, "bad value \"%s\" in person \"%s\": expected an account name", a,
				     c->persons[idx].name);
		for (size_t j = 0; j < c->n_persons; j++) {
			if (!strlist_contains(&c->persons[j].accounts, a))
				continue;
			if (j == idx)
				return pfail(p, p->lineno, "\"%s\" listed twice in person \"%s\"", a, c->persons[j].name);
			return pfail(p, p->lineno, "account \"%s\" belongs to person \"%s\" (line %u) and to person \"%s\"",
				     a, c->persons[j].name, p->person_lines[j], c->persons[idx].name);
		}
		r = strlist_push(&c->persons[idx].accounts, toks.v[i]);
		if (r < 0)
			return p->err = r;
		toks.v[i] = NULL;
	}
	return 0;
}

static int person_new(struct parse *p, const char *name, const char *value)
{
	struct gate_config *c = p->target;
	size_t n = c->n_persons;
	int r;

	if (!valid_name(name))
		return pfail(p, p->lineno, "bad person name \"%s\": expected a name like [a-z_][a-z0-9_.-]{0,31}", name);
	for (size_t j = 0; j < n; j++)
		if (strcmp(c->persons[j].name, name) == 0)
			return pfail(p, p->lineno, "person \"%s\" repeated (first at line %u)", name, p->person_lines[j]);
	r = grow(&p->person_lines, n, sizeof(unsigned));
	if (r >= 0)
		r = grow(&c->persons, n, sizeof(struct person));
	if (r < 0)
		return p->err = r;
	c->persons[n] = (struct person){ .name = strdup(name) };
	if (!c->persons[n].name)
		return p->err = -ENOMEM;
	p->person_lines[n] = p->lineno;
	c->n_persons = n + 1;
	p->prev = (int)n;
	return person_add_accounts(p, n, value);
}

/* ---- the libinih side ---- */

static bool is_future_key(enum file_kind kind, const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(future_keys); i++)
		if (future_keys[i].kind == kind && strcmp(future_keys[i].key, name) == 0)
			return true;
	return false;
}

/* libinih's search for one of chars, stopping at an inline comment
 * (';' after whitespace). */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;

	if (p->err)
		return 0;
	if (p->cont) {
		/* libinih repeats the previous name for an indented line, but
		 * version 55 leaves an inline comment on it: cut it here. */
		_cleanup_free_ char *v = strndup(value, (size_t)(find_chars_or_comment(value, "") - value));
		if (!v) {
			p->err = -ENOMEM;
			return 0;
		}
		for (size_t n = strlen(v); n > 0 && isspace((unsigned char)v[n - 1]); n--)
			v[n - 1] = '\0';
		value = v;
		if (strcmp(section, "persons") == 0 && p->kind == FK_GATE && p->prev >= 0)
			return person_add_accounts(p, (size_t)p->prev, value) == 0;
		const struct keydef *k = p->prev >= 0 ? &p->keys[p->prev] : NULL;
		if (!k || (k->kind != V_ACCOUNTS && k->kind != V_TYPES)) {
			pfail(p, p->lineno, "continuation line \"%s\" of key \"%s\": only lists may continue on indented lines",
			      value, k ? k->name : name);
			return 0;
		}
		return set_value(p, k, value) == 0;
	}

	if (section[0] == '\0') {
		pfail(p, p->lineno, "key \"%s\" outside of any section", name);
		return 0;
	}
	if (p->kind == FK_GATE && strcmp(section, "persons") == 0)
		return person_new(p, name, value) == 0;
	if (is_future_key(p->kind, name)) {
		pfail(p, p->lineno, "\"%s\" is not supported by this build yet", name);
		return 0;
	}
	for (size_t i = 0; i < p->n_keys; i++) {
		const struct keydef *k = &p->keys[i];
		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (p->seen[i]) {
			pfail(p, p->lineno, "key \"%s\" repeated (first at line %u)", name, p->seen[i]);
			return 0;
		}
		p->seen[i] = p->lineno;
		p->prev = (int)i;
		return set_value(p, k, value) == 0;
	}
	pfail(p, p->lineno, "unknown key \"%s\" in [%s]", name, section);
	return 0;
}

/* Classifies a line the way libinih 55 will (with multi-line and inline
 * comments on): blank or comment, continuation, section or key.  Section
 * names and syntax errors are checked here. */
static int classify(struct parse *p, char *line)
{
	char *s = line;

	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (*s && isspace((unsigned char)*s))
		s++;
	p->cont = p->in_key && s > line && *s != '\0' && *s != ';' && *s != '#';
	if (p->cont || *s == '\0' || *s == ';' || *s == '#')
		return 0;
	if (*s == '[') {
		const char *end = find_chars_or_comment(s + 1, "]");
		size_t n = (size_t)(end - (s + 1));
		if (*end != ']')
			return pfail(p, p->lineno, "section header without \"]\"");
		p->in_key = false;
		p->prev = -1;
		for (size_t i = 0; p->sections[i]; i++) {
			if (strlen(p->sections[i]) != n || strncmp(p->sections[i], s + 1, n) != 0)
				continue;
			if (p->sec_seen[i])
				return pfail(p, p->lineno, "section [%s] repeated (first at line %u)", p->sections[i],
					     p->sec_seen[i]);
			p->sec_seen[i] = p->lineno;
			return 0;
		}
		return pfail(p, p->lineno, "unknown section [%.*s]", (int)n, s + 1);
	}
	const char *end = find_chars_or_comment(s, "=:");
	if (*end != '=' && *end != ':')
		return pfail(p, p->lineno, "expected \"key = value\", got \"%.*s\"", (int)(end - s), s);
	p->in_key = end > s;
	p->prev = -1;
	return 0;
}

/* fgets-style reader over the file's bytes. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	size_t max = (size_t)(num < INI_MAX_LINE ? num : INI_MAX_LINE) - 1;

	if (p->err || p->pos >= p->len || num < 2)
		return NULL;
	const char *line = p->buf + p->pos;
	const char *nl = memchr(line, '\n', p->len - p->pos);
	size_t n = nl ? (size_t)(nl - line) : p->len - p->pos;

	p->pos += n + (nl ? 1 : 0);
	p->lineno++;
	if (n > max) {
		pfail(p, p->lineno, "line too long");
		return NULL;
	}
	if (memchr(line, '\0', n)) {
		pfail(p, p->lineno, "NUL byte in line");
		return NULL;
	}
	memcpy(str, line, n);
	str[n] = '\0';
	if (classify(p, str) < 0)
		return NULL;
	if (n + 2 <= (size_t)num) { /* keep the newline when it fits */
		str[n] = '\n';
		str[n + 1] = '\0';
	}
	return str;
}

/* ---- files ---- */

static int check_owner_mode(const char *file, const struct stat *st, char **ret_error)
{
	uid_t me = geteuid();

	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return errorf(ret_error, file, 0, -EPERM, "writable by group or others (mode %04o)",
			      (unsigned)(st->st_mode & 07777));
	if (st->st_uid != 0 && st->st_uid != me) {
		if (me == 0)
			return errorf(ret_error, file, 0, -EPERM, "owned by uid %u, expected root", (unsigned)st->st_uid);
		return errorf(ret_error, file, 0, -EPERM, "owned by uid %u, expected root or uid %u",
			      (unsigned)st->st_uid, (unsigned)me);
	}
	return 0;
}

/* Opens file (relative to dirfd), checks it and reads it whole. */
static int read_config_file(int dirfd, const char *path, const char *file, char **ret_buf, size_t *ret_len,
			    char **ret_error)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int r;

	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			return errorf(ret_error, file, 0, r, "is a symbolic link (refused)");
		return errorf(ret_error, file, 0, r, "cannot open: %s", strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		return errorf(ret_error, file, 0, r, "cannot stat: %s", strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		return errorf(ret_error, file, 0, -EINVAL, "not a regular file");
	r = check_owner_mode(file, &st, ret_error);
	if (r < 0)
		return r;
	if (st.st_size > CONFIG_MAX_FILE)
		return errorf(ret_error, file, 0, -EFBIG, "larger than %d bytes", CONFIG_MAX_FILE);
	buf = malloc(CONFIG_MAX_FILE + 1);
	if (!buf)
		return -ENOMEM;
	r = read_full(fd, buf, CONFIG_MAX_FILE + 1, &got);
	if (r < 0)
		return errorf(ret_error, file, 0, r, "cannot read: %s", strerror(-r));
	if (got > CONFIG_MAX_FILE)
		return errorf(ret_error, file, 0, -EFBIG, "larger than %d bytes", CONFIG_MAX_FILE);
	*ret_buf = TAKE_PTR(buf);
	*ret_len = got;
	return 0;
}

/* Runs libinih over buf and checks the required keys. */
static int parse_buffer(struct parse *p, char **ret_error)
{
	int r = ini_parse_stream(reader, p, handler, p);

	if (r > 0 && !p->err)
		pfail(p, (unsigned)r, "syntax error"); /* libinih saw something the reader did not */
	else if (r < 0 && !p->err)
		p->err = -ENOMEM;
	for (size_t i = 0; !p->err && i < p->n_keys; i++) {
		const struct keydef *k = &p->keys[i];
		if (k->required && !p->seen[i])
			pfail(p, 0, "missing key \"%s\"", k->name);
		else if (p->seen[i] && k->kind == V_ACCOUNTS && ((struct strlist *)((char *)p->target + k->offset))->n == 0)
			pfail(p, p->seen[i], "empty value for %s: expected %s", k->name, k->expect);
		else if (p->seen[i] && k->kind == V_TYPES && *(uint32_t *)((char *)p->target + k->offset) == 0)
			pfail(p, p->seen[i], "empty value for %s: expected at least one of the artifact types", k->name);
	}
	if (p->kind == FK_GATE) {
		struct gate_config *c = p->target;
		for (size_t j = 0; !p->err && j < c->n_persons; j++)
			if (c->persons[j].accounts.n == 0)
				pfail(p, p->person_lines[j], "person \"%s\" lists no accounts", c->persons[j].name);
	}
	free(p->person_lines);
	p->person_lines = NULL;
	if (p->err) {
		*ret_error = TAKE_PTR(p->error);
		return p->err;
	}
	return 0;
}

static void profile_free_contents(struct profile *pr)
{
	free(pr->name);
	free(pr->file);
	strlist_free(&pr->requesters);
	strlist_free(&pr->approvers);
	strlist_free(&pr->allowlist);
	free(pr->destination);
	*pr = (struct profile){ 0 };
}

static int load_profile(int dirfd, const char *dir, const char *fname, struct profile *ret, char **ret_error)
{
	_cleanup_(profile_free_contents) struct profile pr = { 0 };
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, idx = 0;
	int r;

	r = path_join(dir, fname, &pr.file);
	if (r < 0)
		return r;
	pr.name = strndup(fname, strlen(fname) - strlen(".conf"));
	if (!pr.name)
		return -ENOMEM;
	r = read_config_file(dirfd, fname, pr.file, &buf, &len, ret_error);
	if (r < 0)
		return r;

	struct parse p = {
		.kind = FK_PROFILE, .file = pr.file, .buf = buf, .len = len,
		.keys = profile_keys, .n_keys = ELEMENTSOF(profile_keys),
		.sections = profile_sections, .target = &pr, .prev = -1,
	};
	r = parse_buffer(&p, ret_error);
	if (r < 0)
		return r;

	/* Without a group, the listed accounts are all the approvers there
	 * can ever be (persons may join some of them, which groups could
	 * undo, so that is left to approval time). */
	bool any_group = false;
	for (size_t i = 0; i < pr.approvers.n; i++)
		any_group |= pr.approvers.v[i][0] == '@';
	if (!any_group && pr.approvals > pr.approvers.n) {
		while (strcmp(profile_keys[idx].name, "approvals") != 0)
			idx++;
		return errorf(ret_error, pr.file, p.seen[idx], -EINVAL,
			      "approvals = %u but only %zu approver account%s listed", pr.approvals, pr.approvers.n,
			      pr.approvers.n == 1 ? "" : "s");
	}
	if (!pr.block)
		pr.block = SEV_MASK(2) | SEV_MASK(3);
	if (!pr.bomb_max_size)
		pr.bomb_max_size = 16 * GIB;
	if (!pr.bomb_max_ratio)
		pr.bomb_max_ratio = 1000;
	if (!pr.destination) {
		pr.destination = strdup(pr.name);
		if (!pr.destination)
			return -ENOMEM;
	}
	*ret = pr;
	pr = (struct profile){ 0 };
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_profiles(struct gate_config *c, char **ret_error)
{
	_cleanup_(strlist_free) struct strlist names = { 0 };
	_cleanup_close_ int dfd = -1, lfd = -1;
	const char *dir = c->profiles_dir;
	struct stat st;
	DIR *d = NULL;
	int r = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		if (r == -ELOOP || r == -ENOTDIR)
			return errorf(ret_error, dir, 0, r, "not a directory (symbolic links are refused)");
		return errorf(ret_error, dir, 0, r, "cannot open: %s", strerror(-r));
	}
	if (fstat(dfd, &st) < 0) {
		r = -errno;
		return errorf(ret_error, dir, 0, r, "cannot stat: %s", strerror(-r));
	}
	r = check_owner_mode(dir, &st, ret_error);
	if (r < 0)
		return r;

	/* The listing gets its own fd: closedir() closes it, dfd stays. */
	lfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lfd < 0 || !(d = fdopendir(lfd))) {
		r = -errno;
		return errorf(ret_error, dir, 0, r, "cannot list: %s", strerror(-r));
	}
	lfd = -1;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n <= 5 || strcmp(de->d_name + n - 5, ".conf") != 0)
			continue; /* hidden files and non-profiles are not ours */
		char *s = strdup(de->d_name);
		if (!s || (r = strlist_push(&names, s)) < 0) {
			free(s);
			r = -ENOMEM;
			break;
		}
	}
	closedir(d);
	if (r < 0)
		return errorf(ret_error, dir, 0, r, "cannot list: %s", strerror(-r));
	if (names.n > 1)
		qsort(names.v, names.n, sizeof(char *), cmp_str);

	for (size_t i = 0; i < names.n; i++) {
		const char *fname = names.v[i];
		_cleanup_free_ char *file = NULL;

		r = path_join(dir, fname, &file);
		if (r < 0)
			return r;
		if (fstatat(dfd, fname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			return errorf(ret_error, file, 0, r, "cannot stat: %s", strerror(-r));
		}
		if (S_ISLNK(st.st_mode))
			return errorf(ret_error, file, 0, -ELOOP, "is a symbolic link (refused)");
		if (!S_ISREG(st.st_mode))
			continue;
		if (!valid_profile_name(fname, strlen(fname) - 5))
			return errorf(ret_error, file, 0, -EINVAL,
				      "bad profile name \"%.*s\": expected [a-z0-9][a-z0-9_-]{0,63}",
				      (int)(strlen(fname) - 5), fname);
		r = grow(&c->profiles, c->n_profiles, sizeof(struct profile));
		if (r < 0)
			return r;
		r = load_profile(dfd, dir, fname, &c->profiles[c->n_profiles], ret_error);
		if (r < 0)
			return r;
		c->n_profiles++;
	}
	return 0;
}

static int set_default_path(char **field, const char *dir, const char *name)
{
	if (*field)
		return 0;
	if (!dir) {
		*field = strdup(name);
		return *field ? 0 : -ENOMEM;
	}
	return path_join(dir, name, field);
}

/* Reads and parses the gate config itself into c (defaults already set). */
static int load_gate(struct gate_config *c, const char *path, char **ret_error)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	r = read_config_file(AT_FDCWD, path, path, &buf, &len, ret_error);
	if (r < 0)
		return r;
	struct parse p = {
		.kind = FK_GATE, .file = path, .buf = buf, .len = len,
		.keys = gate_keys, .n_keys = ELEMENTSOF(gate_keys),
		.sections = gate_sections, .target = c, .prev = -1,
	};
	r = parse_buffer(&p, ret_error);
	if (r < 0)
		return r;

	r = set_default_path(&c->socket_path, NULL, DUMPGATE_DEFAULT_SOCKET);
	if (r >= 0)
		r = set_default_path(&c->spool_dir, c->state_dir, "spool");
	if (r >= 0)
		r = set_default_path(&c->outbox_dir, c->state_dir, "outbox");
	if (r >= 0)
		r = set_default_path(&c->session_program, NULL, DUMPGATE_LIBEXECDIR "/dumpgate-session");
	if (r >= 0)
		r = set_default_path(&c->scanner_program, NULL, DUMPGATE_BINDIR "/dumpgate-scan");
	return r;
}

int config_load(const char *path, struct gate_config **ret, char **ret_error)
{
	_cleanup_free_ char *error = NULL;
	struct gate_config *c = NULL;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct gate_config){
		.max_connections_per_account = 8,
		.max_connections = 256,
		.quota_per_requester = 64 * GIB,
		.quota_total = 512 * GIB,
		.upload_idle_timeout = 300,
		.session_idle_timeout = 60,
		.otp_max_failures = 5,
		.max_refusals_per_minute = 60,
		.otp_lockout = 900,
		.release_retry = 60,
		.scan_timeout = 300,
		.scan_threads = 1,
		.scan_memory = 4 * GIB,
		.kernel_audit = true,
		.file = strdup(path),
	};
	r = c->file ? load_gate(c, path, &error) : -ENOMEM;
	if (r >= 0)
		r = load_profiles(c, &error);
	if (r < 0) {
		config_free(c);
		*ret_error = TAKE_PTR(error); /* NULL only when out of memory */
		return r;
	}
	*ret = c;
	return 0;
}

void config_free(struct gate_config *c)
{
	if (!c)
		return;
	free(c->file);
	free(c->socket_path);
	free(c->state_dir);
	free(c->spool_dir);
	free(c->outbox_dir);
	free(c->profiles_dir);
	free(c->admins_group);
	free(c->auditors_group);
	free(c->session_user);
	free(c->session_program);
	free(c->scanner_user);
	free(c->scanner_program);
	for (size_t i = 0; i < c->n_persons; i++) {
		free(c->persons[i].name);
		strlist_free(&c->persons[i].accounts);
	}
	free(c->persons);
	for (size_t i = 0; i < c->n_profiles; i++)
		profile_free_contents(&c->profiles[i]);
	free(c->profiles);
	free(c);
}

const struct profile *config_profile(const struct gate_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_profiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0)
			return &c->profiles[i];
	return NULL;
}

const char *config_person_of(const struct gate_config *c, const char *account)
{
	for (size_t i = 0; i < c->n_persons; i++)
		if (strlist_contains(&c->persons[i].accounts, account))
			return c->persons[i].name;
	return account;
}

bool strlist_match_account(const struct strlist *who, const char *account, char *const *groups, size_t ngroups)
{
	for (size_t i = 0; i < who->n; i++) {
		const char *e = who->v[i];
		if (e[0] != '@') {
			if (strcmp(e, account) == 0)
				return true;
			continue;
		}
		for (size_t j = 0; j < ngroups; j++)
			if (strcmp(e + 1, groups[j]) == 0)
				return true;
	}
	return false;
}
