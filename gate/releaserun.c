/* releaserun.c - releasing approved transfers into the outbox (I1, I6).
 *
 * One release at a time, on a worker thread (release_build() copies and
 * hashes multi-GB files off the loop).  The order of records:
 *   approved --(releasing)--> the thread builds OUTBOX/<dest>/.tmp-<id>,
 *   renames it to OUTBOX/<dest>/<id> --(released | failed)-->
 * After a crash a transfer found `releasing` is finished when its directory
 * is in place (the rename is the last step) and built again otherwise;
 * release_build() clears a leftover .tmp-<id>.  So a release appears whole
 * or not at all, and the log says which.
 */
#include "releaserun.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dg-config.h"
#include "release.h"
#include "spool.h"
#include "util.h"

struct release_job {
	pthread_t thread;
	char id[33];
	char *dest, *file;
	char sha256[65];
	struct release_input in;
	json_t *manifest;
	int spool_fd;
	atomic_bool done;
	int result;
	char why[512];
	int notify_fd;
};

static void *release_thread(void *arg)
{
	struct release_job *j = arg;
	uint64_t one = 1;

	j->result = release_build(&j->in, j->why, sizeof(j->why));
	atomic_store(&j->done, true);
	(void)!write(j->notify_fd, &one, sizeof(one));
	return NULL;
}

static void job_free(struct release_job *j)
{
	if (!j)
		return;
	closep(&j->spool_fd);
	json_decref(j->manifest);
	free(j->dest);
	free(j->file);
	free(j);
}

/* The findings summary a receiver needs: how many, how severe, how many
 * allowlisted.  The findings themselves stay in the gate's log. */
static json_t *scan_summary(const struct transfer *t)
{
	static const char *const sev[] = { "critical", "high", "medium", "info" };
	json_t *by = json_object(), *f;
	size_t i, allowed = 0, n = t->findings ? json_array_size(t->findings) : 0;

	for (size_t k = 0; by && k < ELEMENTSOF(sev); k++)
		json_object_set_new(by, sev[k], json_integer(0));
	json_array_foreach(t->findings, i, f) {
		const char *s = json_string_value(json_object_get(f, "severity"));
		json_t *cnt = s ? json_object_get(by, s) : NULL;
		if (cnt)
			json_integer_set(cnt, json_integer_value(cnt) + 1);
		if (json_is_true(json_object_get(f, "allowed")))
			allowed++;
	}
	/* findings: all of them; allowed and by_severity count those the
	 * record keeps (findings_listed, the first 200) */
	return json_pack("{s:s, s:I, s:I, s:I, s:o}", "verdict", "clean", "findings",
			 (json_int_t)(t->findings_total > n ? t->findings_total : n), "findings_listed",
			 (json_int_t)n, "allowed", (json_int_t)allowed, "by_severity", by ? by : json_object());
}

static json_t *build_manifest(const struct monitor *m, const struct transfer *t, const struct profile *p,
			      uint64_t approved_seq)
{
	char submitted[32], now[32];
	json_t *approvals = json_array(), *a;
	size_t i;

	json_array_foreach(t->approvals, i, a)
		json_array_append_new(approvals, json_pack("{s:O, s:O, s:O, s:O}", "person",
							   json_object_get(a, "person"), "account",
							   json_object_get(a, "account"), "token",
							   json_object_get(a, "token"), "time", json_object_get(a, "time")));
	format_time(t->submitted, submitted);
	format_time(time(NULL), now);
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:o, s:I, s:s, s:s, s:s}",
			 "manifest_version", 1, "transfer", t->id, "profile", t->profile, "destination",
			 p->destination, "requester", t->requester, "requester_person", t->person, "reason",
			 t->reason, "submitted_name", t->name, "type", ftype_name(t->type), "submitted", submitted,
			 "approvals", approvals, "required", (int)t->required, "scan", scan_summary(t), "audit_seq",
			 (json_int_t)approved_seq, "kernel_audit", m->cfg->kernel_audit ? "required" : "off",
			 "released", now, "gate_version", DUMPGATE_VERSION);
}

/* t's release is not tried again before release_retry has passed */
static void retry_later(const struct monitor *m, struct transfer *t)
{
	t->release_retry_at = time(NULL) + (time_t)m->cfg->release_retry;
}

static void record_end(struct monitor *m, const char *id, const char *event, json_t *d)
{
	if (monitor_record(m, event, id, NULL, d) == 0) {
		log_info("transfer %s %s", id, event);
		/* the log says how it ended: the marker has done its job */
		if (unlinkat(m->releasing_dirfd, id, 0) == 0)
			(void)fsync(m->releasing_dirfd);
	} else {
		/* not recorded (the log's disk may be full): tried again after
		 * release_retry, not at every tick */
		struct transfer *t = transfer_find(&m->table, id);
		if (t)
			retry_later(m, t);
	}
	json_decref(d);
}

static void fail(struct monitor *m, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct monitor *m, const char *id, const char *fmt, ...)
{
	char why[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_err("transfer %s: release failed: %s", id, why);
	record_end(m, id, "failed", json_pack("{s:s}", "reason", why));
}

/* No room in the outbox (or over a quota there) is not a reason to throw
 * away a release that persons approved: it stays `releasing` and is tried
 * again after release_retry; the first postponement for a reason is
 * recorded, not every retry.  The record may itself find no room when the
 * log shares the full file system: the release waits all the same. */
static void postpone(struct monitor *m, struct transfer *t, const char *why)
{
	char id[33];

	memcpy(id, t->id, sizeof(id));
	retry_later(m, t);
	log_warn("transfer %s: release postponed, tried again in %llu s: %s", id,
		 (unsigned long long)m->cfg->release_retry, why);
	if (t->release_waiting && strcmp(t->release_waiting, why) == 0)
		return;
	json_t *d = json_pack("{s:s}", "reason", why);
	(void)monitor_record(m, "release_postponed", id, NULL, d);
	json_decref(d);
}

static bool no_room(int r)
{
	return r == -ENOSPC || r == -EDQUOT;
}

static struct release_input input_of(const struct monitor *m, const struct transfer *t, int spool_fd)
{
	return (struct release_input){
		.spool_fd = spool_fd,
		.outbox_dirfd = m->outbox_dirfd,
		.destination = t->release_dest,
		.id = t->id,
		.file_name = t->release_file,
		.expect_sha256 = t->sha256,
		.expect_size = t->size,
		.manifest = t->release_manifest,
		.key = m->signkey,
		.marker_dirfd = m->releasing_dirfd,
	};
}

/* The release of t is in place: record it, with the digest of the
 * manifest release_build wrote (computed, not read back: a sync tool may
 * already be moving the directory away). */
static void finished(struct monitor *m, struct transfer *t)
{
	struct release_input in = input_of(m, t, -1);
	char msha[65], path[300], id[33], file[RELEASE_NAME_MAX + 1];
	int r = release_manifest_digest(&in, msha);

	memcpy(id, t->id, sizeof(id));
	if (r < 0) {
		fail(m, id, "the release %s/%s is in place, but its manifest digest cannot be computed: %s",
		     t->release_dest, id, strerror(-r));
		return;
	}
	release_sanitize_name(t->release_file, file);
	snprintf(path, sizeof(path), "%s/%s", t->release_dest, id);
	record_end(m, id, "released", json_pack("{s:s, s:s, s:s}", "path", path, "file", file, "manifest_sha256", msha));
}

static void start(struct monitor *m, struct transfer *t)
{
	struct release_job *j;
	char id[33];
	int r;

	memcpy(id, t->id, sizeof(id));
	if (t->state == TS_APPROVED) {
		/* Everything the manifest says is fixed in the `releasing`
		 * record, so a restart builds the very same bytes, wherever the
		 * profile points by then. */
		const struct profile *p = config_profile(m->cfg, t->profile);
		char file[RELEASE_NAME_MAX + 1];
		if (!p) {
			fail(m, id, "its profile %s no longer exists, so it has no destination", t->profile);
			return;
		}
		release_sanitize_name(t->name, file);
		json_t *manifest = build_manifest(m, t, p, t->last_seq);
		json_t *d = manifest ? json_pack("{s:s, s:s, s:o}", "destination", p->destination, "file", t->name,
						 "manifest", manifest)
				     : NULL;
		r = monitor_record(m, "releasing", id, NULL, d);
		json_decref(d);
		if (r < 0) {
			/* tried again later (the log may have no room) */
			retry_later(m, t);
			return;
		}
		t = transfer_find(&m->table, id);
	} else {
		/* a release the gate once recorded `releasing` with an empty
		 * manifest (before it failed for want of a profile) is not
		 * built: its destination is only the profile's name */
		if (json_object_size(t->release_manifest) == 0) {
			fail(m, id, "its releasing record has no manifest (its profile %s no longer existed)", t->profile);
			return;
		}
		/* a restart: the rename is the last step */
		r = release_renamed(m->outbox_dirfd, m->releasing_dirfd, t->release_dest, id);
		if (r == 1) {
			finished(m, t);
			return;
		}
		if (r < 0) {
			fail(m, id, "cannot tell whether %s/%s is in the outbox: %s", t->release_dest, id, strerror(-r));
			return;
		}
	}

	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->spool_fd = -1;
	memcpy(j->id, id, sizeof(id));
	r = spool_open_ro(m->spool_dirfd, id, &j->spool_fd);
	if (r < 0) {
		job_free(j);
		fail(m, id, "cannot open the spool object: %s", strerror(-r));
		return;
	}
	/* The thread gets copies: the table may change meanwhile. */
	j->manifest = json_deep_copy(t->release_manifest);
	j->dest = strdup(t->release_dest);
	j->file = strdup(t->release_file);
	if (!j->manifest || !j->dest || !j->file) {
		job_free(j);
		fail(m, id, "cannot start the release (out of memory)");
		return;
	}
	memcpy(j->sha256, t->sha256, sizeof(j->sha256));
	j->in = input_of(m, t, j->spool_fd);
	j->in.destination = j->dest;
	j->in.id = j->id;
	j->in.file_name = j->file;
	j->in.expect_sha256 = j->sha256;
	j->in.manifest = j->manifest;
	j->notify_fd = m->job_fd;
	r = pthread_create(&j->thread, NULL, release_thread, j);
	if (r != 0) {
		job_free(j);
		fail(m, id, "cannot start the release thread: %s", strerror(r));
		return;
	}
	m->release = j;
	log_info("transfer %s: releasing into %s/%s", id, t->release_dest, id);
}

void releaserun_schedule(struct monitor *m)
{
	if (m->release || m->stopping)
		return;
	for (size_t i = 0; i < m->table.n; i++) {
		struct transfer *t = m->table.v[i];
		if ((t->state == TS_APPROVED || t->state == TS_RELEASING) && time(NULL) >= t->release_retry_at) {
			start(m, t);
			if (m->release)
				return;
		}
	}
}

bool releaserun_stoppable(const struct monitor *m, const struct transfer *t, const char **ret_why)
{
	if (transfer_on_its_way_out(t)) {
		*ret_why = "is approved and being released";
		return false;
	}
	if (t->state != TS_RELEASING)
		return true;
	if (m->release && strcmp(m->release->id, t->id) == 0) {
		*ret_why = "waits for room in the outbox, and its release is being tried again right now (try again "
			   "when that try has ended)";
		return false;
	}
	/* a try may have got it into the outbox after all, with the
	 * `released` record still to be written (a full log, or a crash) */
	if (release_renamed(m->outbox_dirfd, m->releasing_dirfd, t->release_dest, t->id) != 0) {
		*ret_why = "is in the outbox already (or the gate cannot tell), though not yet recorded released";
		return false;
	}
	return true;
}

void releaserun_reap(struct monitor *m, bool wait)
{
	struct release_job *j = m->release;

	if (!j || (!wait && !atomic_load(&j->done)))
		return;
	pthread_join(j->thread, NULL);
	m->release = NULL;
	struct transfer *t = transfer_find(&m->table, j->id);
	if (!t || t->state != TS_RELEASING) {
		log_err("transfer %s: its release ended but it is no longer releasing", j->id);
	} else if (j->result == 0) {
		finished(m, t);
	} else if (release_renamed(m->outbox_dirfd, m->releasing_dirfd, j->dest, j->id) == 1) {
		/* in place, but a last fsync failed: it is out there */
		log_warn("transfer %s: %s", j->id, j->why);
		finished(m, t);
	} else if (no_room(j->result)) {
		postpone(m, t, j->why[0] ? j->why : strerror(-j->result));
	} else {
		fail(m, j->id, "%s", j->why[0] ? j->why : strerror(-j->result));
	}
	job_free(j);
	releaserun_schedule(m);
}
