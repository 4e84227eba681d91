/* requests.c - what the monitor does for each request of a session.
 *
 * The table below says which request a child may send in which state and
 * whether it may carry an fd; anything else ends the child (OpenSSH's
 * monitor).  Every handler starts with why it is safe to serve its caller:
 * the identity is the one the monitor read itself at accept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "dg-config.h"
#include "proto.h"
#include "releaserun.h"
#include "requests.h"
#include "scanrun.h"
#include "signkey.h"
#include "util.h"

/* ---- helpers */

static void human_size(uint64_t n, char buf[static 32])
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < ELEMENTSOF(unit)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, 32, "%llu bytes", (unsigned long long)n);
	else
		snprintf(buf, 32, "%.1f %s", v, unit[u]);
}

/* May this child see transfer t?  Admins and auditors see everything; a
 * requester sees the transfers of its person; an approver of the profile
 * sees that profile's transfers. */
bool requests_visible(const struct monitor *m, const struct child *c, const struct transfer *t)
{
	const struct profile *p;

	if (c->is_admin || c->is_auditor)
		return true;
	if (strcmp(t->person, c->person) == 0)
		return true;
	p = config_profile(m->cfg, t->profile);
	return p && strlist_match_account(&p->approvers, c->account, c->groups, c->ngroups);
}

/* Bytes held in the spool in total and by one person (objects that exist
 * or are being uploaded). */
static void spool_usage(const struct monitor *m, const char *person, uint64_t *ret_total,
			uint64_t *ret_person)
{
	uint64_t total = 0, mine = 0;

	for (size_t i = 0; i < m->table.n; i++) {
		const struct transfer *t = m->table.v[i];
		uint64_t sz = t->state == TS_SUBMITTED ? 0 : t->size;
		if (t->purged)
			continue;
		total += sz;
		if (strcmp(t->person, person) == 0)
			mine += sz;
	}
	/* A running upload holds its whole limit until it ends, so uploads
	 * running at once cannot share the same free quota. */
	for (const struct upload *u = m->uploads; u; u = u->next) {
		const struct transfer *t = transfer_find((struct transfer_table *)&m->table, u->id);
		uint64_t sz = u->job.limit;
		total += sz;
		if (t && strcmp(t->person, person) == 0)
			mine += sz;
	}
	*ret_total = total;
	*ret_person = mine;
}

/* ---- refusals per account: every refused request is an audit record
 * (fsync'd, mirrored to the kernel), so an account that makes the gate
 * refuse more than max_refusals_per_minute requests is stopped for the
 * rest of that minute: one account_throttled record, its sessions are
 * ended at their next request and its connections refused.  Nothing it
 * asks is served unrecorded; it is not served at all. */

#define METER_WINDOW 60

static struct refusal_meter *meter_of(struct monitor *m, uid_t uid, bool create)
{
	struct refusal_meter *v;

	for (size_t i = 0; i < m->n_meters; i++)
		if (m->meters[i].uid == uid)
			return &m->meters[i];
	if (!create)
		return NULL;
	v = reallocarray(m->meters, m->n_meters + 1, sizeof(*v));
	if (!v)
		return NULL;
	m->meters = v;
	v[m->n_meters] = (struct refusal_meter){ .uid = uid };
	return &v[m->n_meters++];
}

bool requests_throttled(const struct monitor *m, uid_t uid, time_t now, time_t *ret_until)
{
	const struct refusal_meter *r = meter_of((struct monitor *)m, uid, false);

	if (!r || now >= r->throttled_until)
		return false;
	if (ret_until)
		*ret_until = r->throttled_until;
	return true;
}

static void meter_refusal(struct monitor *m, struct child *c)
{
	time_t now = time(NULL);
	struct refusal_meter *r = meter_of(m, c->uid, true);

	if (!r || now < r->throttled_until)
		return;
	if (now - r->window >= METER_WINDOW) {
		r->window = now;
		r->count = 0;
	}
	if (++r->count < m->cfg->max_refusals_per_minute)
		return;
	char until[32];
	r->throttled_until = r->window + METER_WINDOW;
	format_time(r->throttled_until, until);
	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:s, s:i, s:s}", "account", c->account, "refusals", (int)r->count, "until", until);
	monitor_record(m, "account_throttled", NULL, &a, d);
	json_decref(d);
	log_warn("account %s: %u refused requests within a minute (max_refusals_per_minute); its sessions end and its connections are refused until %s",
		 c->account, r->count, until);
}

void requests_record_refusal(struct monitor *m, struct child *c, const char *op, const char *id,
			     const char *code, const char *text, json_t *extra)
{
	struct audit_actor a = child_actor(c);
	json_t *d = extra ? extra : json_object();

	json_object_set_new(d, "op", json_string(op));
	json_object_set_new(d, "code", json_string(code));
	json_object_set_new(d, "error", json_string(text));
	monitor_record(m, "request_refused", id, &a, d);
	json_decref(d);
	meter_refusal(m, c);
}

bool requests_utf8(struct monitor *m, struct child *c, const char *text, const char *what)
{
	/* The session checked the client's JSON; a child that sends invalid
	 * UTF-8 anyway is not a session we started. */
	json_t *utf8 = json_string(text);

	if (!utf8) {
		child_violation(m, c, "%s is not valid UTF-8", what);
		return false;
	}
	json_decref(utf8);
	return true;
}

/* Refuse with an audit record: for refusals an auditor should see
 * (someone tried something the policy forbids). */
void requests_refuse(struct monitor *m, struct child *c, const char *op, const char *id, const char *code,
		     const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	requests_record_refusal(m, c, op, id, code, text, NULL);
	child_error(m, c, code, "%s", text);
}

/* ---- submit */

static void upload_unlink(struct monitor *m, struct upload *u)
{
	struct upload **pp;

	for (pp = &m->uploads; *pp && *pp != u; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = u->next;
	if (u->child && u->child->upload == u)
		u->child->upload = NULL;
}

static void upload_abort(struct monitor *m, struct upload *u, const char *code, const char *reason)
{
	struct child *c = u->child;
	json_t *d;
	int r;

	r = spool_remove(m->spool_dirfd, u->id);
	if (r < 0)
		log_err("transfer %s: cannot remove spool object: %s", u->id, strerror(-r));
	d = json_pack("{s:s, s:I}", "reason", reason, "intent_seq", (json_int_t)u->intent_seq);
	monitor_record(m, "aborted", u->id, NULL, d);
	json_decref(d);
	log_info("transfer %s: upload aborted: %s", u->id, reason);
	if (c)
		child_error(m, c, code, "%s", reason);
}

static void upload_store(struct monitor *m, struct upload *u)
{
	const struct transfer *t = transfer_find(&m->table, u->id);
	const struct profile *p = t ? config_profile(m->cfg, t->profile) : NULL;
	uint64_t bytes = atomic_load(&u->job.bytes);
	enum ftype type;
	json_t *d;
	int r;

	if (!t || !p) {
		upload_abort(m, u, "internal", "internal error: transfer or profile vanished");
		return;
	}
	if (u->from_stdin && u->commit_bytes != bytes) {
		char text[200];
		snprintf(text, sizeof(text),
			 "the stream ended after %llu bytes but the client sent %llu; nothing was stored",
			 (unsigned long long)bytes, (unsigned long long)u->commit_bytes);
		upload_abort(m, u, "truncated", text);
		return;
	}
	type = ftype_detect(u->job.head, u->job.head_len);
	if (!(p->types & FT_MASK(type))) {
		char text[512];
		size_t o = 0;
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "content is %s, but profile %s accepts only:", ftype_name(type), p->name);
		for (int i = 0; i < _FT_MAX && o < sizeof(text); i++)
			if (p->types & FT_MASK(i))
				o += (size_t)snprintf(text + o, sizeof(text) - o, " %s", ftype_name(i));
		upload_abort(m, u, "type", text);
		return;
	}
	r = spool_commit(m->spool_dirfd, u->id);
	if (r < 0) {
		char text[200];
		snprintf(text, sizeof(text), "cannot store the spool object: %s", strerror(-r));
		upload_abort(m, u, "spool", text);
		return;
	}
	d = json_pack("{s:I, s:s, s:s}", "size", (json_int_t)bytes, "sha256", u->job.sha256, "type",
		      ftype_name(type));
	r = monitor_record(m, "stored", u->id, NULL, d);
	json_decref(d);
	if (r < 0) {
		upload_abort(m, u, "audit", "the audit log cannot be written; nothing was stored");
		return;
	}
	log_info("transfer %s stored: %llu bytes, %s, sha256 %s", u->id, (unsigned long long)bytes,
		 ftype_name(type), u->job.sha256);
	if (u->child)
		child_result(m, u->child,
			     json_pack("{s:b, s:s, s:s, s:I, s:s, s:s}", "ok", 1, "id", u->id, "state",
				       "stored", "size", (json_int_t)bytes, "sha256", u->job.sha256, "type",
				       ftype_name(type)));
	scanrun_schedule(m);
}

void requests_upload_try_finish(struct monitor *m, struct upload *u)
{
	char text[300];

	if (!atomic_load(&u->job.done))
		return; /* the thread reports through job_fd */
	/* A stdin upload is whole only once the client confirmed its length;
	 * it gets upload_idle_timeout to do so after the stream ended. */
	if (u->child && u->from_stdin && !u->committed && u->job.error == 0 && !u->commit_overdue) {
		if (!u->commit_deadline)
			u->commit_deadline = time(NULL) + (time_t)m->cfg->upload_idle_timeout;
		return;
	}

	upload_unlink(m, u);
	spool_job_finish(&u->job);
	/* Its commit may still be on its way: not a violation when it comes. */
	if (u->child && u->from_stdin && !u->committed)
		u->child->late_commit_ok = true;
	if (u->commit_overdue) {
		snprintf(text, sizeof(text),
			 "the client did not confirm the end of the stream within %llu s (upload_idle_timeout); nothing was stored",
			 (unsigned long long)m->cfg->upload_idle_timeout);
		upload_abort(m, u, "timeout", text);
	} else if (!u->child) {
		upload_abort(m, u, "cancelled", "the requester's session ended before the upload completed");
	} else {
		switch (u->job.error) {
		case 0:
			upload_store(m, u);
			break;
		case -EFBIG:
			snprintf(text, sizeof(text), "upload exceeds %s; nothing was stored", u->limit_name);
			upload_abort(m, u, "too_large", text);
			break;
		case -ETIMEDOUT:
			snprintf(text, sizeof(text), "no data for %llu s (upload_idle_timeout); nothing was stored",
				 (unsigned long long)m->cfg->upload_idle_timeout);
			upload_abort(m, u, "timeout", text);
			break;
		case -ENOSPC:
		case -EDQUOT:
			upload_abort(m, u, "spool_full", "the gate's spool is full; nothing was stored");
			break;
		default:
			snprintf(text, sizeof(text), "upload failed: %s; nothing was stored", strerror(-u->job.error));
			upload_abort(m, u, "io", text);
			break;
		}
	}
	free((char *)u->limit_name);
	free(u);
}

/* Safe to serve: the requester identity is the monitor's own; the fd is
 * checked to be a readable regular file or pipe; the profile decides. */
static void req_submit(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	_cleanup_free_ char *profile = NULL, *reason = NULL, *name = NULL, *safe = NULL, *limit_name = NULL;
	_cleanup_close_ int src = fd, dst = -1;
	uint32_t from_stdin = 0;
	const struct profile *p;
	struct stat st;
	uint64_t total, mine, limit;
	char id[33], hs[32], hl[32];
	struct upload *u;
	int r;

	if (msg_get_str(mb, PROTO_MAX_PROFILE, &profile) < 0 || msg_get_str(mb, PROTO_MAX_REASON, &reason) < 0 ||
	    msg_get_str(mb, PROTO_MAX_NAME, &name) < 0 || msg_get_u32(mb, &from_stdin) < 0 || msg_end(mb) < 0 ||
	    from_stdin > 1 || !*reason) {
		child_violation(m, c, "malformed submit");
		return;
	}
	if (src < 0) {
		child_violation(m, c, "submit without a file descriptor");
		return;
	}
	if (!requests_utf8(m, c, reason, "submit reason"))
		return;
	int fl = fcntl(src, F_GETFL);
	if (fstat(src, &st) < 0 || fl < 0 || (fl & O_ACCMODE) == O_WRONLY ||
	    !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		child_error(m, c, "bad_fd", "submit needs a regular file or a pipe open for reading");
		return;
	}
	if (from_stdin && !S_ISFIFO(st.st_mode)) {
		child_violation(m, c, "stdin submit without a pipe");
		return;
	}
	/* A pipe is whole only when the client confirms its length (commit);
	 * that protocol exists only for streams the CLI pumps itself. */
	if (!from_stdin && S_ISFIFO(st.st_mode)) {
		child_error(m, c, "bad_fd",
			    "a named pipe cannot be submitted as a file; stream it instead: dumpgate submit ... - < PIPE");
		return;
	}
	p = config_profile(m->cfg, profile);
	if (!p) {
		_cleanup_free_ char *e = str_escape(profile, 64);
		requests_refuse(m, c, "submit", NULL, "profile", "no profile named \"%s\"", e ? e : "?");
		return;
	}
	if (!strlist_match_account(&p->requesters, c->account, c->groups, c->ngroups)) {
		requests_refuse(m, c, "submit", NULL, "not_requester",
			       "account %s may not submit with profile %s (not in its requesters)", c->account,
			       p->name);
		return;
	}

	/* The limit is the tightest of the profile's size and both quotas. */
	spool_usage(m, c->person, &total, &mine);
	limit = p->max_size;
	human_size(p->max_size, hl);
	if (asprintf(&limit_name, "the max_size of profile %s (%s = %llu bytes)", p->name, hl,
		     (unsigned long long)p->max_size) < 0)
		limit_name = NULL;
	if (m->cfg->quota_per_requester - (mine < m->cfg->quota_per_requester ? mine : m->cfg->quota_per_requester) < limit) {
		limit = mine >= m->cfg->quota_per_requester ? 0 : m->cfg->quota_per_requester - mine;
		human_size(m->cfg->quota_per_requester, hl);
		human_size(mine, hs);
		free(limit_name);
		if (asprintf(&limit_name, "your quota (quota_per_requester %s, %s already held)", hl, hs) < 0)
			limit_name = NULL;
	}
	if (m->cfg->quota_total - (total < m->cfg->quota_total ? total : m->cfg->quota_total) < limit) {
		limit = total >= m->cfg->quota_total ? 0 : m->cfg->quota_total - total;
		human_size(m->cfg->quota_total, hl);
		human_size(total, hs);
		free(limit_name);
		if (asprintf(&limit_name, "the gate's total quota (quota_total %s, %s already held)", hl, hs) < 0)
			limit_name = NULL;
	}
	if (!limit_name) {
		child_error(m, c, "internal", "out of memory");
		return;
	}
	if (limit == 0 || (S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit)) {
		human_size(S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, hs);
		json_t *x = json_pack("{s:s, s:I}", "profile", p->name, "size",
				      (json_int_t)(S_ISREG(st.st_mode) ? st.st_size : 0));
		char text[600];
		if (limit == 0)
			snprintf(text, sizeof(text), "no room left under %s; nothing was stored", limit_name);
		else
			snprintf(text, sizeof(text), "file is %llu bytes (%s), more than %s; nothing was stored",
				 (unsigned long long)st.st_size, hs, limit_name);
		requests_record_refusal(m, c, "submit", NULL, limit == 0 ? "quota" : "too_large", text, x);
		child_error(m, c, limit == 0 ? "quota" : "too_large", "%s", text);
		return;
	}

	safe = spool_sanitize_name(name);
	if (!safe || new_transfer_id(id) < 0) {
		child_error(m, c, "internal", "cannot create a transfer id");
		return;
	}
	r = spool_create_part(m->spool_dirfd, id, &dst);
	if (r < 0) {
		child_error(m, c, "spool", "cannot create a spool object: %s", strerror(-r));
		return;
	}

	/* The intent goes to the log before any byte is copied (I4). */
	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "profile", p->name, "reason", reason,
			      "name", safe, "requester", c->account, "uid", (json_int_t)c->uid, "person", c->person,
			      "from_stdin", (int)from_stdin);
	r = monitor_record(m, "submitted", id, &a, d);
	json_decref(d);
	if (r < 0) {
		spool_remove(m->spool_dirfd, id);
		child_error(m, c, "audit", "the audit log cannot be written; nothing was stored");
		return;
	}

	u = calloc(1, sizeof(*u));
	if (!u) {
		spool_remove(m->spool_dirfd, id);
		struct upload tmp = { .child = c };
		memcpy(tmp.id, id, sizeof(id));
		upload_abort(m, &tmp, "internal", "out of memory");
		return;
	}
	memcpy(u->id, id, sizeof(id));
	u->child = c;
	u->from_stdin = from_stdin;
	u->limit_name = TAKE_PTR(limit_name);
	u->intent_seq = audit_last_seq(m->audit);
	u->job.src_fd = TAKE_FD(src);
	u->job.dst_fd = TAKE_FD(dst);
	u->job.limit = limit;
	u->job.idle_timeout = m->cfg->upload_idle_timeout;
	u->job.notify_fd = m->job_fd;
	r = spool_job_start(&u->job);
	if (r < 0) {
		spool_job_finish(&u->job);
		upload_abort(m, u, "internal", "cannot start the copy");
		free((char *)u->limit_name);
		free(u);
		return;
	}
	u->next = m->uploads;
	m->uploads = u;
	c->upload = u;
	c->state = from_stdin ? CHILD_UPLOADING : CHILD_BUSY;
	log_info("transfer %s submitted by %s (profile %s, %s)", id, c->account, p->name,
		 from_stdin ? "stream" : "file");
}

/* Safe to serve: only the child that started this stdin upload can send
 * it, once, while the upload runs (state table). */
static void req_commit(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	uint64_t bytes;

	if (msg_get_u64(mb, &bytes) < 0 || msg_end(mb) < 0 || !c->upload) {
		child_violation(m, c, "malformed commit");
		return;
	}
	c->upload->committed = true;
	c->upload->commit_bytes = bytes;
	c->state = CHILD_BUSY;
	requests_upload_try_finish(m, c->upload);
}

/* ---- queries */

void requests_send_array(struct monitor *m, struct child *c, json_t *arr)
{
	_cleanup_free_ char *text = NULL;
	size_t n = arr ? json_array_size(arr) : 0;

	text = arr ? json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(arr);
	if (!text) {
		child_error(m, c, "internal", "out of memory");
		return;
	}
	if (child_data(m, c, text, strlen(text)) < 0)
		return;
	child_result(m, c, json_pack("{s:b, s:I}", "ok", 1, "count", (json_int_t)n));
}

/* Safe to serve: read-only, filtered by visible(). */
static void req_list(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	_cleanup_free_ char *state = NULL;
	enum tstate want = TS_SUBMITTED;
	json_t *arr;

	if (msg_get_str(mb, 16, &state) < 0 || msg_end(mb) < 0) {
		child_violation(m, c, "malformed list");
		return;
	}
	if (*state && tstate_from_name(state, &want) < 0) {
		_cleanup_free_ char *e = str_escape(state, 16);
		child_error(m, c, "bad_state", "unknown state \"%s\"", e ? e : "?");
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < m->table.n; i++) {
		const struct transfer *t = m->table.v[i];
		if ((*state && t->state != want) || !requests_visible(m, c, t))
			continue;
		if (json_array_append_new(arr, transfer_to_json(t)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	requests_send_array(m, c, arr);
}

struct transfer *requests_get_visible(struct monitor *m, struct child *c, struct msgbuf *mb, const char *op)
{
	_cleanup_free_ char *id = NULL;
	struct transfer *t;

	if (msg_get_str(mb, PROTO_MAX_ID, &id) < 0) {
		child_violation(m, c, "malformed %s", op);
		return NULL;
	}
	if (!transfer_id_valid(id)) {
		child_violation(m, c, "%s with a malformed id", op);
		return NULL;
	}
	t = transfer_find(&m->table, id);
	/* Unknown and not visible answer alike: ids are not probed. */
	if (!t || !requests_visible(m, c, t)) {
		child_error(m, c, "not_found", "no transfer %s", id);
		return NULL;
	}
	return t;
}

/* Safe to serve: read-only, filtered by visible(). */
static void req_show(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	_cleanup_free_ char *text = NULL;
	struct transfer *t;

	t = requests_get_visible(m, c, mb, "show");
	if (!t)
		return;
	if (msg_end(mb) < 0) {
		child_violation(m, c, "malformed show");
		return;
	}
	json_t *o = transfer_to_json(t);
	json_t *progress = t->state == TS_SCANNING ? scanrun_progress(m, t->id) : NULL;
	if (o && progress)
		json_object_set_new(o, "scan_progress", progress);
	else
		json_decref(progress);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!text) {
		child_error(m, c, "internal", "out of memory");
		return;
	}
	if (child_data(m, c, text, strlen(text)) < 0)
		return;
	child_result(m, c, json_pack("{s:b}", "ok", 1));
}

static json_t *wait_answer(const struct transfer *t)
{
	return json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "id", t->id, "state", tstate_name(t->state), "final",
			 tstate_final(t->state));
}

/* Safe to serve: read-only, filtered by visible(); the child stays busy
 * until the answer. */
static void req_wait(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	uint32_t timeout;
	struct transfer *t;

	t = requests_get_visible(m, c, mb, "wait");
	if (!t)
		return;
	if (msg_get_u32(mb, &timeout) < 0 || msg_end(mb) < 0 || timeout > PROTO_MAX_WAIT) {
		child_violation(m, c, "malformed wait");
		return;
	}
	if (tstate_final(t->state) || timeout == 0) {
		child_result(m, c, wait_answer(t));
		return;
	}
	c->waiting = true;
	memcpy(c->wait_id, t->id, sizeof(c->wait_id));
	c->wait_deadline = time(NULL) + (time_t)timeout;
	c->state = CHILD_BUSY;
}

void requests_wake_waiters(struct monitor *m, const char *id)
{
	struct transfer *t = transfer_find(&m->table, id);

	for (struct child *c = m->children, *next; c; c = next) {
		next = c->next;
		if (!c->waiting || strcmp(c->wait_id, id) != 0)
			continue;
		if (!t) {
			child_error(m, c, "not_found", "transfer %s no longer exists", id);
			continue;
		}
		if (tstate_final(t->state))
			child_result(m, c, wait_answer(t));
	}
}

/* Safe to serve: only the requester's person may withdraw its transfer,
 * and only before it is final. */
static void req_withdraw(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	struct transfer *t;
	char id[33];

	t = requests_get_visible(m, c, mb, "withdraw");
	if (!t)
		return;
	if (msg_end(mb) < 0) {
		child_violation(m, c, "malformed withdraw");
		return;
	}
	memcpy(id, t->id, sizeof(id));
	if (strcmp(t->person, c->person) != 0) {
		requests_refuse(m, c, "withdraw", id, "not_requester",
			       "only the requester may withdraw transfer %s", id);
		return;
	}
	if (tstate_final(t->state)) {
		child_error(m, c, "final", "transfer %s is already %s", id, tstate_name(t->state));
		return;
	}
	if (t->state == TS_SUBMITTED) {
		child_error(m, c, "busy", "transfer %s is still uploading; interrupt the submit instead", id);
		return;
	}
	const char *why;
	if (!releaserun_stoppable(m, t, &why)) {
		child_error(m, c, "busy", "transfer %s %s; it cannot be withdrawn now", id, why);
		return;
	}
	struct audit_actor a = child_actor(c);
	json_t *d = json_pack("{s:s}", "reason", "withdrawn by the requester");
	int r = monitor_record(m, "withdrawn", id, &a, d);
	json_decref(d);
	if (r < 0) {
		child_error(m, c, "audit", "the audit log cannot be written; transfer %s was not withdrawn", id);
		return;
	}
	scanrun_cancel(m, id); /* a running scan is stopped */
	log_info("transfer %s withdrawn by %s", id, c->account);
	child_result(m, c, json_pack("{s:b, s:s, s:s}", "ok", 1, "id", id, "state", "withdrawn"));
}

/* Safe to serve: admins and auditors only; the log holds no secrets (I7)
 * and the session gets a read-only fd bounded to what is written now. */
static void req_audit(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	static uint8_t buf[64];
	struct msgbuf out;
	int afd, len;

	if (msg_end(mb) < 0) {
		child_violation(m, c, "malformed audit");
		return;
	}
	if (!c->is_auditor) {
		requests_refuse(m, c, "audit", NULL, "not_auditor",
			       "reading the audit log needs membership in %s%s%s", m->cfg->admins_group,
			       m->cfg->auditors_group ? " or " : "",
			       m->cfg->auditors_group ? m->cfg->auditors_group : "");
		return;
	}
	afd = audit_open_readonly(m->audit);
	if (afd < 0) {
		child_error(m, c, "audit", "cannot open the audit log: %s", strerror(-afd));
		return;
	}
	/* Only what is written now: a record appended meanwhile is not sent
	 * half, and the reply's count matches the lines. */
	struct stat st;
	if (fstat(afd, &st) < 0) {
		close(afd);
		child_error(m, c, "audit", "cannot read the audit log");
		return;
	}
	msg_init(&out, buf, sizeof(buf), MSG_FD);
	msg_put_u64(&out, (uint64_t)st.st_size);
	len = msg_finish(&out);
	if (child_send(m, c, buf, (size_t)len, afd) < 0) {
		child_drop(m, c);
		return;
	}
	child_result(m, c, json_pack("{s:b, s:I}", "ok", 1, "records", (json_int_t)audit_last_seq(m->audit)));
}

/* Safe to serve: says who the caller is and how the gate runs; no secrets. */
static void req_status(struct monitor *m, struct child *c, struct msgbuf *mb, int fd)
{
	json_t *profiles;

	if (msg_end(mb) < 0) {
		child_violation(m, c, "malformed status");
		return;
	}
	profiles = json_array();
	for (size_t i = 0; i < m->cfg->n_profiles; i++)
		json_array_append_new(profiles, json_string(m->cfg->profiles[i].name));
	char fp[65] = "";
	if (m->signkey && signkey_fingerprint(m->signkey, fp) < 0)
		fp[0] = '\0';
	child_result(m, c,
		     json_pack("{s:b, s:s, s:i, s:s, s:s, s:b, s:b, s:I, s:I, s:s, s:o, s:s, s:s}", "ok", 1, "version",
			       DUMPGATE_VERSION, "pid", (int)getpid(), "account", c->account, "person", c->person,
			       "admin", c->is_admin, "auditor", c->is_auditor, "transfers",
			       (json_int_t)m->table.n, "audit_seq", (json_int_t)audit_last_seq(m->audit),
			       "kernel_audit", m->cfg->kernel_audit ? "required" : "off", "profiles", profiles,
			       "outbox", m->cfg->outbox_dir, "signing_key_sha256", fp));
}

/* ---- dispatch */

static const struct {
	uint32_t type;
	unsigned states; /* child states in which it may come */
	bool takes_fd;
	handler_fn fn;
} requests[] = {
	{ MSG_SUBMIT, CHILD_IDLE, true, req_submit },
	{ MSG_COMMIT, CHILD_UPLOADING, false, req_commit },
	{ MSG_LIST, CHILD_IDLE, false, req_list },
	{ MSG_SHOW, CHILD_IDLE, false, req_show },
	{ MSG_WAIT, CHILD_IDLE, false, req_wait },
	{ MSG_WITHDRAW, CHILD_IDLE, false, req_withdraw },
	{ MSG_AUDIT, CHILD_IDLE, false, req_audit },
	{ MSG_STATUS, CHILD_IDLE, false, req_status },
	{ MSG_APPROVE, CHILD_IDLE, false, req_approve },
	{ MSG_DENY, CHILD_IDLE, false, req_deny },
	{ MSG_TOKEN_ENROLL, CHILD_IDLE, false, req_token_enroll },
	{ MSG_TOKEN_CONFIRM, CHILD_IDLE, false, req_token_confirm },
	{ MSG_TOKEN_LIST, CHILD_IDLE, false, req_token_list },
	{ MSG_TOKEN_REVOKE, CHILD_IDLE, false, req_token_revoke },
};

void requests_dispatch(struct monitor *m, struct child *c, uint8_t *buf, size_t len, int fd)
{
	struct msgbuf mb;
	uint32_t type;

	if (requests_throttled(m, c->uid, time(NULL), NULL)) {
		/* nothing of it is served (see meter_refusal) */
		closep(&fd);
		log_info("session %d (account %s): ended, the account is throttled", (int)c->pid, c->account);
		child_drop(m, c);
		return;
	}
	if (msg_open(&mb, buf, len, &type) < 0) {
		closep(&fd);
		child_violation(m, c, "malformed message header (%zu bytes)", len);
		return;
	}
	/* One commit that crossed the answer to its failed upload. */
	if (type == MSG_COMMIT && c->state == CHILD_IDLE && c->late_commit_ok && fd < 0) {
		c->late_commit_ok = false;
		uint64_t ignored;
		if (msg_get_u64(&mb, &ignored) < 0 || msg_end(&mb) < 0)
			child_violation(m, c, "malformed commit");
		return;
	}
	if (type != MSG_COMMIT)
		c->late_commit_ok = false;
	for (size_t i = 0; i < ELEMENTSOF(requests); i++) {
		if (requests[i].type != type)
			continue;
		if (!(requests[i].states & c->state)) {
			closep(&fd);
			child_violation(m, c, "request %u not allowed in state %u", type, (unsigned)c->state);
			return;
		}
		if (fd >= 0 && !requests[i].takes_fd) {
			closep(&fd);
			child_violation(m, c, "request %u carried a file descriptor", type);
			return;
		}
		c->state = CHILD_BUSY;
		requests[i].fn(m, c, &mb, fd);
		return;
	}
	closep(&fd);
	child_violation(m, c, "unknown request type %u", type);
}

/* ---- time */

static void retention(struct monitor *m, time_t now)
{
	for (size_t i = 0; i < m->table.n; i++) {
		struct transfer *t = m->table.v[i];
		const struct profile *p;
		if (!tstate_final(t->state) || t->purged)
			continue;
		p = config_profile(m->cfg, t->profile);
		if (!p || now < t->final_time || (uint64_t)(now - t->final_time) < p->retention)
			continue;
		/* Record first, then delete: a crash in between is finished at
		 * the next start (monitor_recover). */
		char id[33];
		memcpy(id, t->id, sizeof(id));
		json_t *d = json_pack("{s:s}", "reason", "retention");
		int r = monitor_record(m, "purged", id, NULL, d);
		json_decref(d);
		if (r < 0)
			return;
		r = spool_remove(m->spool_dirfd, id);
		if (r < 0)
			log_err("transfer %s: cannot delete its artifact: %s", id, strerror(-r));
	}
}

void requests_tick(struct monitor *m, time_t now)
{
	static uint8_t buf[64];

	for (struct upload *u = m->uploads, *next; u; u = next) {
		next = u->next;
		if (u->commit_deadline && now >= u->commit_deadline && !u->committed) {
			u->commit_overdue = true;
			requests_upload_try_finish(m, u);
		}
	}
	for (struct upload *u = m->uploads; u; u = u->next) {
		struct msgbuf mb;
		if (!u->child)
			continue;
		msg_init(&mb, buf, sizeof(buf), MSG_PROGRESS);
		msg_put_u64(&mb, atomic_load(&u->job.bytes));
		int len = msg_finish(&mb);
		if (len > 0 && !u->child->outq)
			child_send(m, u->child, buf, (size_t)len, -1);
	}
	for (struct child *c = m->children, *next; c; c = next) {
		next = c->next;
		/* A connection that asks nothing holds a slot of the account's
		 * and the gate's connection limits: end it. */
		/* An enrolment waits for someone to program a YubiKey and touch
		 * it: ENROL_TIMEOUT at least. */
		uint64_t idle = m->cfg->session_idle_timeout;
		if (c->enrol && idle < ENROL_TIMEOUT)
			idle = ENROL_TIMEOUT;
		if (c->state == CHILD_IDLE && now - c->idle_since >= (time_t)idle) {
			log_info("session %d (account %s): no request for %llu s (%s); ending it", (int)c->pid,
				 c->account, (unsigned long long)idle,
				 c->enrol ? "a token enrolment waited for its OTP" : "session_idle_timeout");
			child_drop(m, c);
			continue;
		}
		if (c->waiting && now >= c->wait_deadline) {
			struct transfer *t = transfer_find(&m->table, c->wait_id);
			if (t)
				child_result(m, c, wait_answer(t));
			else
				child_error(m, c, "not_found", "transfer %s no longer exists", c->wait_id);
		}
	}
	if (now != m->last_retention) {
		m->last_retention = now;
		retention(m, now);
	}
}
