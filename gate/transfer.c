/* transfer.c - the transfer table, rebuilt from the audit log (I4).
 *
 * transfer_apply() is the only way the table changes.  It reads records
 * that the monitor itself wrote, but replay also reads whatever is in the
 * log file, so every field it uses is checked for type and range, and a
 * record that does not fit leaves the table exactly as it was.
 */
#include "transfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const state_names[_TS_MAX] = {
	[TS_SUBMITTED] = "submitted", [TS_STORED] = "stored",
	[TS_SCANNING] = "scanning",   [TS_CLEAN] = "clean",
	[TS_BLOCKED] = "blocked",     [TS_PENDING] = "pending",
	[TS_APPROVED] = "approved",   [TS_DENIED] = "denied",
	[TS_EXPIRED] = "expired",     [TS_WITHDRAWN] = "withdrawn",
	[TS_RELEASING] = "releasing", [TS_RELEASED] = "released",
	[TS_FAILED] = "failed",
};

const char *tstate_name(enum tstate s)
{
	if ((unsigned)s >= _TS_MAX)
		return "invalid";
	return state_names[s];
}

int tstate_from_name(const char *s, enum tstate *ret)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < _TS_MAX; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum tstate)i;
			return 0;
		}
	return -EINVAL;
}

bool tstate_final(enum tstate s)
{
	switch (s) {
	case TS_BLOCKED:
	case TS_DENIED:
	case TS_EXPIRED:
	case TS_WITHDRAWN:
	case TS_RELEASED:
	case TS_FAILED:
		return true;
	default:
		return false;
	}
}

static void transfer_free(struct transfer *x)
{
	if (!x)
		return;
	free(x->profile);
	free(x->reason);
	free(x->name);
	free(x->requester);
	free(x->person);
	free(x->final_reason);
	json_decref(x->findings);
	json_decref(x->approvals);
	json_decref(x->release);
	free(x->release_dest);
	free(x->release_file);
	json_decref(x->release_manifest);
	free(x->release_waiting);
	free(x);
}

static void transfer_freep(struct transfer **x)
{
	transfer_free(*x);
}

void transfer_table_free(struct transfer_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		transfer_free(t->v[i]);
	free(t->v);
	*t = (struct transfer_table){ 0 };
}

static ssize_t find_index(const struct transfer_table *t, const char *id)
{
	/* Newest first: records mostly concern recent transfers, so replay
	 * of a long log does not go quadratic. */
	for (size_t i = t->n; i > 0; i--)
		if (strcmp(t->v[i - 1]->id, id) == 0)
			return (ssize_t)(i - 1);
	return -1;
}

struct transfer *transfer_find(struct transfer_table *t, const char *id)
{
	ssize_t i;

	if (!t || !id)
		return NULL;
	i = find_index(t, id);
	return i < 0 ? NULL : t->v[i];
}

/* Make room for one more; the table is unchanged on failure. */
static int table_reserve(struct transfer_table *t)
{
	struct transfer **v;
	size_t cap;

	if (t->n < t->cap)
		return 0;
	if (t->cap > SIZE_MAX / 2 / sizeof(*v))
		return -ENOMEM;
	cap = t->cap ? t->cap * 2 : 16;
	v = reallocarray(t->v, cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->v = v;
	t->cap = cap;
	return 0;
}

/* ---- typed getters on a record: -EBADMSG on a missing or mistyped key */

static int get_str(json_t *obj, const char *key, const char **ret)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!json_is_string(v))
		return -EBADMSG;
	s = json_string_value(v);
	/* jansson allows \u0000; a C string would silently lose the rest. */
	if (strlen(s) != json_string_length(v))
		return -EBADMSG;
	*ret = s;
	return 0;
}

static int get_int(json_t *obj, const char *key, json_int_t min, json_int_t max,
		   json_int_t *ret)
{
	json_t *v = json_object_get(obj, key);
	json_int_t i;

	if (!json_is_integer(v))
		return -EBADMSG;
	i = json_integer_value(v);
	if (i < min || i > max)
		return -EBADMSG;
	*ret = i;
	return 0;
}

static int get_bool(json_t *obj, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_boolean(v))
		return -EBADMSG;
	*ret = json_is_true(v);
	return 0;
}

static bool no_state_event(const char *event)
{
	static const char *const ignored[] = {
		"gate_started",   "torn_tail_quarantined", "protocol_violation",
		"config_loaded",  "gate_stopped", "request_refused",
		"token_enrolled", "token_revoked", "otp_spent", "account_locked",
		"token_enrolment_started", "account_throttled",
	};

	if (strncmp(event, "session_", strlen("session_")) == 0)
		return true;
	for (size_t i = 0; i < ELEMENTSOF(ignored); i++)
		if (strcmp(event, ignored[i]) == 0)
			return true;
	return false;
}

/* What every transfer record carries, already checked. */
struct rec {
	uint64_t seq;
	time_t time;
	const char *id;
	json_t *details;
};

static int apply_submitted(struct transfer_table *t, const struct rec *r)
{
	const char *profile, *reason, *name, *requester, *person;
	_cleanup_(transfer_freep) struct transfer *x = NULL;
	json_int_t uid;
	bool from_stdin;
	int k;

	if (find_index(t, r->id) >= 0)
		return -EBADMSG;
	if (get_str(r->details, "profile", &profile) < 0 ||
	    get_str(r->details, "reason", &reason) < 0 ||
	    get_str(r->details, "name", &name) < 0 ||
	    get_str(r->details, "requester", &requester) < 0 ||
	    get_str(r->details, "person", &person) < 0 ||
	    get_int(r->details, "uid", 0, (json_int_t)UINT32_MAX - 1, &uid) < 0 ||
	    get_bool(r->details, "from_stdin", &from_stdin) < 0)
		return -EBADMSG;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->profile = strdup(profile);
	x->reason = strdup(reason);
	x->name = strdup(name);
	x->requester = strdup(requester);
	x->person = strdup(person);
	if (!x->profile || !x->reason || !x->name || !x->requester || !x->person)
		return -ENOMEM;
	memcpy(x->id, r->id, sizeof(x->id));
	x->state = TS_SUBMITTED;
	x->uid = (uid_t)uid;
	x->from_stdin = from_stdin;
	x->type = FT_BINARY;
	x->submitted = x->updated = r->time;
	x->submit_seq = x->last_seq = r->seq;

	k = table_reserve(t);
	if (k < 0)
		return k;
	t->v[t->n++] = TAKE_PTR(x);
	return 0;
}

static int apply_stored(struct transfer *x, const struct rec *r)
{
	const char *sha, *type_name;
	json_int_t size;
	enum ftype type;

	if (x->state != TS_SUBMITTED)
		return -EBADMSG;
	if (get_int(r->details, "size", 0, INT64_MAX, &size) < 0 ||
	    get_str(r->details, "sha256", &sha) < 0 || !is_hex(sha, 64) ||
	    get_str(r->details, "type", &type_name) < 0 ||
	    ftype_from_name(type_name, &type) < 0)
		return -EBADMSG;
	x->state = TS_STORED;
	x->size = (uint64_t)size;
	memcpy(x->sha256, sha, 65);
	x->type = type;
	return 0;
}

static int apply_aborted(struct transfer_table *t, size_t i, const struct rec *r)
{
	struct transfer *x = t->v[i];
	const char *reason;
	json_int_t intent;

	/* Only an intent that never took effect can be cancelled. */
	if (x->state != TS_SUBMITTED)
		return -EBADMSG;
	if (get_str(r->details, "reason", &reason) < 0 ||
	    get_int(r->details, "intent_seq", 1, INT64_MAX, &intent) < 0 ||
	    (uint64_t)intent != x->submit_seq)
		return -EBADMSG;
	memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	transfer_free(x);
	return 0;
}

/* The record's "reason" (required), copied into *into. */
static int take_reason(const struct rec *r, char **into)
{
	const char *reason;
	char *copy;

	if (get_str(r->details, "reason", &reason) < 0)
		return -EBADMSG;
	copy = strdup(reason);
	if (!copy)
		return -ENOMEM;
	free(*into);
	*into = copy;
	return 0;
}

/* A non-final transfer becomes final with the record's "reason". */
static int make_final(struct transfer *x, const struct rec *r, enum tstate to)
{
	int k;

	if (tstate_final(x->state))
		return -EBADMSG;
	k = take_reason(r, &x->final_reason);
	if (k < 0)
		return k;
	free(x->release_waiting);
	x->release_waiting = NULL;
	x->state = to;
	x->final_time = r->time;
	return 0;
}

bool transfer_on_its_way_out(const struct transfer *x)
{
	return x->state == TS_APPROVED || (x->state == TS_RELEASING && !x->release_waiting);
}

static int apply_withdrawn(struct transfer *x, const struct rec *r)
{
	if (transfer_on_its_way_out(x))
		return -EBADMSG;
	return make_final(x, r, TS_WITHDRAWN);
}

static int apply_scan_started(struct transfer *x, const struct rec *r)
{
	/* From stored, or again from scanning when a restart resumes it. */
	if (x->state != TS_STORED && x->state != TS_SCANNING)
		return -EBADMSG;
	x->state = TS_SCANNING;
	return 0;
}

static int apply_scanned(struct transfer *x, const struct rec *r)
{
	const char *verdict;
	json_t *findings = json_object_get(r->details, "findings");

	if (x->state != TS_SCANNING)
		return -EBADMSG;
	if (get_str(r->details, "verdict", &verdict) < 0 || !json_is_array(findings))
		return -EBADMSG;
	/* checked before anything changes: a refused record leaves x as it was */
	json_int_t total = (json_int_t)json_array_size(findings);
	if (json_object_get(r->details, "findings_total") &&
	    get_int(r->details, "findings_total", total, INT64_MAX, &total) < 0)
		return -EBADMSG;
	if (strcmp(verdict, "clean") == 0)
		x->state = TS_CLEAN;
	else if (strcmp(verdict, "blocked") == 0) {
		char *copy = strdup("the scanner found secrets");
		if (!copy)
			return -ENOMEM;
		free(x->final_reason);
		x->final_reason = copy;
		x->state = TS_BLOCKED;
		x->final_time = r->time;
	} else
		return -EBADMSG;
	json_decref(x->findings);
	x->findings = json_incref(findings);
	x->findings_total = (uint64_t)total;
	return 0;
}

static int apply_failed(struct transfer *x, const struct rec *r)
{
	/* an upload that failed is `aborted`, never `failed` */
	if (x->state == TS_SUBMITTED)
		return -EBADMSG;
	return make_final(x, r, TS_FAILED);
}

static int apply_pending(struct transfer *x, const struct rec *r)
{
	const char *expires;
	json_int_t required;
	time_t e;

	if (x->state != TS_CLEAN)
		return -EBADMSG;
	if (get_int(r->details, "required", 1, 1000, &required) < 0 ||
	    get_str(r->details, "expires", &expires) < 0 || parse_time(expires, &e) < 0)
		return -EBADMSG;
	if (!x->approvals && !(x->approvals = json_array()))
		return -ENOMEM;
	x->state = TS_PENDING;
	x->required = (unsigned)required;
	x->expires = e;
	return 0;
}

/* The rules of I3 are checked by the monitor before it writes the record;
 * they are checked again here so that a log that breaks them does not
 * replay. */
static int apply_approval(struct transfer *x, const struct rec *r)
{
	const char *account, *person, *token, *sha;
	bool interactive;
	char when[32];
	size_t i;
	json_t *a;

	if (x->state != TS_PENDING)
		return -EBADMSG;
	if (get_str(r->details, "account", &account) < 0 || get_str(r->details, "person", &person) < 0 ||
	    get_str(r->details, "token", &token) < 0 || get_str(r->details, "sha256", &sha) < 0 ||
	    get_bool(r->details, "interactive", &interactive) < 0)
		return -EBADMSG;
	if (strcmp(person, x->person) == 0 || strcmp(sha, x->sha256) != 0)
		return -EBADMSG;
	json_array_foreach(x->approvals, i, a)
		if (strcmp(json_string_value(json_object_get(a, "person")), person) == 0)
			return -EBADMSG;
	format_time(r->time, when);
	a = json_pack("{s:s, s:s, s:s, s:s, s:s}", "person", person, "account", account, "token", token,
		      "time", when, "sha256", sha);
	if (!a || json_array_append_new(x->approvals, a) < 0)
		return -ENOMEM;
	if (json_array_size(x->approvals) >= x->required)
		x->state = TS_APPROVED;
	return 0;
}

static int apply_denied(struct transfer *x, const struct rec *r)
{
	const char *account, *person;

	if (transfer_on_its_way_out(x))
		return -EBADMSG;
	if (get_str(r->details, "account", &account) < 0 || get_str(r->details, "person", &person) < 0)
		return -EBADMSG;
	return make_final(x, r, TS_DENIED);
}

static int apply_expired(struct transfer *x, const struct rec *r)
{
	if (x->state != TS_PENDING)
		return -EBADMSG;
	return make_final(x, r, TS_EXPIRED);
}

static int apply_releasing(struct transfer *x, const struct rec *r)
{
	const char *dest, *file;
	json_t *manifest = json_object_get(r->details, "manifest");
	char *d, *f;

	if (x->state != TS_APPROVED || get_str(r->details, "destination", &dest) < 0 ||
	    get_str(r->details, "file", &file) < 0 || !json_is_object(manifest))
		return -EBADMSG;
	d = strdup(dest);
	f = strdup(file);
	if (!d || !f) {
		free(d);
		free(f);
		return -ENOMEM;
	}
	free(x->release_dest);
	free(x->release_file);
	json_decref(x->release_manifest);
	x->release_dest = d;
	x->release_file = f;
	x->release_manifest = json_incref(manifest);
	x->state = TS_RELEASING;
	return 0;
}

static int apply_released(struct transfer *x, const struct rec *r)
{
	const char *path, *file, *msha;

	if (x->state != TS_RELEASING)
		return -EBADMSG;
	if (get_str(r->details, "path", &path) < 0 || get_str(r->details, "file", &file) < 0 ||
	    get_str(r->details, "manifest_sha256", &msha) < 0 || !is_hex(msha, 64))
		return -EBADMSG;
	json_t *rel = json_pack("{s:s, s:s, s:s}", "path", path, "file", file, "manifest_sha256", msha);
	if (!rel)
		return -ENOMEM;
	json_decref(x->release);
	x->release = rel;
	x->state = TS_RELEASED;
	free(x->release_waiting);
	x->release_waiting = NULL;
	x->final_time = r->time;
	return 0;
}

/* releasing -> releasing: the release waits for room in the outbox */
static int apply_release_postponed(struct transfer *x, const struct rec *r)
{
	if (x->state != TS_RELEASING)
		return -EBADMSG;
	return take_reason(r, &x->release_waiting);
}

static int apply_purged(struct transfer *x, const struct rec *r)
{
	const char *reason;

	if (!tstate_final(x->state) || x->purged)
		return -EBADMSG;
	if (get_str(r->details, "reason", &reason) < 0)
		return -EBADMSG;
	x->purged = true;
	return 0;
}

int transfer_apply(struct transfer_table *t, json_t *record)
{
	const char *event, *time_str;
	struct transfer *x;
	struct rec r = { 0 };
	json_int_t seq;
	ssize_t i;
	int k;

	if (!t || !json_is_object(record))
		return -EBADMSG;
	if (get_int(record, "seq", 1, INT64_MAX, &seq) < 0 ||
	    get_str(record, "time", &time_str) < 0 || parse_time(time_str, &r.time) < 0 ||
	    get_str(record, "event", &event) < 0)
		return -EBADMSG;
	r.seq = (uint64_t)seq;

	if (no_state_event(event))
		return 0;

	static const char *const known[] = { "submitted", "stored",  "aborted",  "withdrawn", "purged",
					     "scan_started", "scanned", "failed", "pending",  "approval",
					     "denied", "expired", "releasing", "release_postponed", "released" };
	bool is_known = false;
	for (size_t j = 0; j < ELEMENTSOF(known); j++)
		is_known |= strcmp(event, known[j]) == 0;
	if (!is_known)
		return -EBADMSG; /* a newer log, or not ours */

	if (get_str(record, "transfer", &r.id) < 0 || !transfer_id_valid(r.id))
		return -EBADMSG;
	r.details = json_object_get(record, "details");
	if (!json_is_object(r.details))
		return -EBADMSG;

	if (strcmp(event, "submitted") == 0)
		return apply_submitted(t, &r);

	i = find_index(t, r.id);
	if (i < 0)
		return -EBADMSG;
	x = t->v[i];
	/* Records about one transfer come in log order. */
	if (r.seq <= x->last_seq)
		return -EBADMSG;

	if (strcmp(event, "aborted") == 0)
		return apply_aborted(t, (size_t)i, &r);
	if (strcmp(event, "stored") == 0)
		k = apply_stored(x, &r);
	else if (strcmp(event, "withdrawn") == 0)
		k = apply_withdrawn(x, &r);
	else if (strcmp(event, "scan_started") == 0)
		k = apply_scan_started(x, &r);
	else if (strcmp(event, "scanned") == 0)
		k = apply_scanned(x, &r);
	else if (strcmp(event, "failed") == 0)
		k = apply_failed(x, &r);
	else if (strcmp(event, "pending") == 0)
		k = apply_pending(x, &r);
	else if (strcmp(event, "approval") == 0)
		k = apply_approval(x, &r);
	else if (strcmp(event, "denied") == 0)
		k = apply_denied(x, &r);
	else if (strcmp(event, "expired") == 0)
		k = apply_expired(x, &r);
	else if (strcmp(event, "releasing") == 0)
		k = apply_releasing(x, &r);
	else if (strcmp(event, "release_postponed") == 0)
		k = apply_release_postponed(x, &r);
	else if (strcmp(event, "released") == 0)
		k = apply_released(x, &r);
	else
		k = apply_purged(x, &r);
	if (k < 0)
		return k;
	x->updated = r.time;
	x->last_seq = r.seq;
	return 0;
}

/* ---- JSON form */

static int add(json_t *o, const char *key, json_t *v)
{
	/* json_object_set_new() takes v even on failure. */
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static json_t *time_json(time_t t)
{
	char buf[32];

	format_time(t, buf);
	return json_string(buf);
}

json_t *transfer_to_json(const struct transfer *x)
{
	json_t *o;
	bool stored;

	if (!x)
		return NULL;
	stored = x->sha256[0] != '\0';
	o = json_object();
	if (!o)
		return NULL;
	/* Key order is part of the interface (list --json, show --json). */
	if (add(o, "id", json_string(x->id)) < 0 ||
	    add(o, "state", json_string(tstate_name(x->state))) < 0 ||
	    add(o, "profile", json_string(x->profile ? x->profile : "")) < 0 ||
	    add(o, "requester", json_string(x->requester ? x->requester : "")) < 0 ||
	    add(o, "person", json_string(x->person ? x->person : "")) < 0 ||
	    add(o, "uid", json_integer((json_int_t)x->uid)) < 0 ||
	    add(o, "reason", json_string(x->reason ? x->reason : "")) < 0 ||
	    add(o, "name", json_string(x->name ? x->name : "")) < 0 ||
	    add(o, "size", stored ? json_integer((json_int_t)x->size) : json_null()) < 0 ||
	    add(o, "sha256", stored ? json_string(x->sha256) : json_null()) < 0 ||
	    add(o, "type", stored ? json_string(ftype_name(x->type)) : json_null()) < 0 ||
	    add(o, "submitted", time_json(x->submitted)) < 0 ||
	    add(o, "updated", time_json(x->updated)) < 0 ||
	    add(o, "final_reason",
		x->final_reason ? json_string(x->final_reason) : json_null()) < 0 ||
	    add(o, "purged", json_boolean(x->purged)) < 0 ||
	    add(o, "findings", x->findings ? json_incref(x->findings) : json_null()) < 0 ||
	    add(o, "required", x->required ? json_integer((json_int_t)x->required) : json_null()) < 0 ||
	    add(o, "expires", x->expires ? time_json(x->expires) : json_null()) < 0 ||
	    add(o, "approvals", x->approvals ? json_incref(x->approvals) : json_array()) < 0 ||
	    add(o, "release", x->release ? json_incref(x->release) : json_null()) < 0 ||
	    add(o, "release_waiting", x->release_waiting ? json_string(x->release_waiting) : json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
