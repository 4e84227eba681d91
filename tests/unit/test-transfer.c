/* test-transfer.c - the transfer table: valid sequences are applied, and
 * every record that does not fit is refused with the table unchanged. */
#include <stdio.h>

#include "tap.h"
#include "transfer.h"
#include "util.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"
#define SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static uint64_t next_seq = 1;

/* A record as audit.c writes it, parsed from text so that what is tested
 * is what replay sees. */
static json_t *rec(const char *event, const char *id, const char *details)
{
	char buf[2048];
	char idbuf[64];
	json_error_t err;
	json_t *r;

	if (id)
		snprintf(idbuf, sizeof(idbuf), "\"%s\"", id);
	snprintf(buf, sizeof(buf),
		 "{\"seq\":%llu,\"time\":\"2026-11-28T16:15:%02lluZ\",\"event\":\"%s\","
		 "\"transfer\":%s,\"actor\":{\"account\":\"alice\",\"uid\":1001,"
		 "\"person\":\"alice\"},\"details\":%s,\"prev\":\"%064d\"}",
		 (unsigned long long)next_seq, (unsigned long long)(next_seq % 60), event,
		 id ? idbuf : "null", details ? details : "{}", 0);
	r = json_loads(buf, JSON_ALLOW_NUL, &err);
	if (!r)
		diag("bad test record: %s: %s", err.text, buf);
	next_seq++;
	return r;
}

static const char *submitted_details =
	"{\"profile\":\"crashdump\",\"reason\":\"INC-4711\",\"name\":\"core.1234\","
	"\"requester\":\"alice\",\"uid\":1001,\"person\":\"alice\",\"from_stdin\":false}";
static const char *stored_details = "{\"size\":4096,\"sha256\":\"" SHA "\",\"type\":\"elf-core\"}";

/* Apply one record and drop it. */
static int apply(struct transfer_table *t, const char *event, const char *id, const char *details)
{
	json_t *r = rec(event, id, details);
	int k = r ? transfer_apply(t, r) : -EINVAL;
	json_decref(r);
	return k;
}

/* A compact dump of the table, to prove "no change". */
static char *snapshot(struct transfer_table *t)
{
	json_t *a = json_array();
	char *s;

	for (size_t i = 0; i < t->n; i++)
		json_array_append_new(a, transfer_to_json(t->v[i]));
	s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(a);
	return s;
}

/* Expect a refusal that leaves the table byte-for-byte as it was. */
static void refuses(struct transfer_table *t, const char *what, const char *event, const char *id,
		    const char *details)
{
	char *before = snapshot(t), *after;
	uint64_t last = t->n ? t->v[t->n - 1]->last_seq : 0;
	int k = apply(t, event, id, details);

	after = snapshot(t);
	ok(k == -EBADMSG && strcmp(before, after) == 0 &&
		   (t->n == 0 || t->v[t->n - 1]->last_seq == last),
	   "refuses %s (%d)", what, k);
	free(before);
	free(after);
}

static void test_names(void)
{
	static const char *const names[] = {
		"submitted", "stored",   "scanning", "clean",     "blocked",  "pending",  "approved",
		"denied",    "expired",  "withdrawn", "releasing", "released", "failed",
	};
	enum tstate s;
	int wrong = 0, finals = 0;

	for (unsigned i = 0; i < _TS_MAX; i++) {
		wrong += strcmp(tstate_name((enum tstate)i), names[i]) != 0;
		wrong += tstate_from_name(names[i], &s) != 0 || s != (enum tstate)i;
		finals += tstate_final((enum tstate)i);
	}
	ok(wrong == 0 && ELEMENTSOF(names) == _TS_MAX, "state names round trip");
	ok(finals == 6 && tstate_final(TS_BLOCKED) && tstate_final(TS_DENIED) &&
		   tstate_final(TS_EXPIRED) && tstate_final(TS_WITHDRAWN) &&
		   tstate_final(TS_RELEASED) && tstate_final(TS_FAILED),
	   "exactly blocked, denied, expired, withdrawn, released, failed are final");
	s = TS_CLEAN;
	ok(tstate_from_name("Stored", &s) == -EINVAL && s == TS_CLEAN, "unknown state name refused");
}

static void test_lifecycle(void)
{
	struct transfer_table t = { 0 };
	struct transfer *x;

	ok(apply(&t, "gate_started", NULL, NULL) == 0, "gate_started accepted, no state");
	ok(apply(&t, "config_loaded", NULL, "{\"profiles\":3}") == 0, "config_loaded accepted");
	ok(apply(&t, "session_opened", NULL, NULL) == 0, "session_* accepted");
	ok(t.n == 0, "no transfer yet");

	ok(apply(&t, "submitted", ID1, submitted_details) == 0, "submitted accepted");
	x = transfer_find(&t, ID1);
	ok(x && x->state == TS_SUBMITTED && strcmp(x->profile, "crashdump") == 0 &&
		   strcmp(x->requester, "alice") == 0 && x->uid == 1001 && !x->from_stdin &&
		   x->sha256[0] == '\0' && x->submit_seq == next_seq - 1,
	   "submitted fills the transfer");
	if (!x) {
		transfer_table_free(&t);
		return;
	}
	refuses(&t, "a duplicate submitted id", "submitted", ID1, submitted_details);
	refuses(&t, "withdrawn of an unknown id", "withdrawn", ID2, "{\"reason\":\"x\"}");
	refuses(&t, "stored of an unknown id", "stored", ID2, stored_details);
	refuses(&t, "purged of a non-final transfer", "purged", ID1, "{\"reason\":\"retention\"}");

	ok(apply(&t, "stored", ID1, stored_details) == 0, "stored accepted");
	ok(x->state == TS_STORED && x->size == 4096 && strcmp(x->sha256, SHA) == 0 &&
		   x->type == FT_ELF_CORE && x->last_seq == next_seq - 1,
	   "stored fills size, sha256, type");
	refuses(&t, "stored twice", "stored", ID1, stored_details);
	refuses(&t, "aborted after stored", "aborted", ID1,
		"{\"reason\":\"copy failed\",\"intent_seq\":4}");

	ok(apply(&t, "withdrawn", ID1, "{\"reason\":\"wrong file\"}") == 0, "withdrawn accepted");
	ok(x->state == TS_WITHDRAWN && strcmp(x->final_reason, "wrong file") == 0 &&
		   x->final_time == x->updated,
	   "withdrawn is final with its reason and time");
	refuses(&t, "withdrawn of a final transfer", "withdrawn", ID1, "{\"reason\":\"again\"}");
	refuses(&t, "stored after withdrawn", "stored", ID1, stored_details);

	ok(apply(&t, "purged", ID1, "{\"reason\":\"retention\"}") == 0, "purged of a final transfer accepted");
	ok(x->purged && x->state == TS_WITHDRAWN, "purged keeps the record, sets purged");
	refuses(&t, "purged twice", "purged", ID1, "{\"reason\":\"retention\"}");

	ok(apply(&t, "torn_tail_quarantined", NULL, "{\"file\":\"audit.log.torn-3\"}") == 0 &&
		   apply(&t, "protocol_violation", NULL, NULL) == 0 &&
		   apply(&t, "gate_stopped", NULL, NULL) == 0,
	   "no-state events accepted");
	transfer_table_free(&t);
	ok(t.n == 0 && t.v == NULL, "table freed");
}

static void test_aborted(void)
{
	struct transfer_table t = { 0 };
	char details[128];
	uint64_t submit_seq;

	apply(&t, "submitted", ID1, submitted_details);
	submit_seq = next_seq - 1;
	apply(&t, "submitted", ID2, submitted_details);
	snprintf(details, sizeof(details), "{\"reason\":\"disk full\",\"intent_seq\":%llu}",
		 (unsigned long long)submit_seq + 1);
	refuses(&t, "aborted naming the wrong intent", "aborted", ID1, details);
	refuses(&t, "aborted without intent_seq", "aborted", ID1, "{\"reason\":\"disk full\"}");
	refuses(&t, "aborted of an unknown id",
		"aborted", "00000000000000000000000000000000", "{\"reason\":\"x\",\"intent_seq\":1}");
	snprintf(details, sizeof(details), "{\"reason\":\"disk full\",\"intent_seq\":%llu}",
		 (unsigned long long)submit_seq);
	ok(apply(&t, "aborted", ID1, details) == 0, "aborted of a submitted intent accepted");
	ok(!transfer_find(&t, ID1) && t.n == 1 && strcmp(t.v[0]->id, ID2) == 0,
	   "aborted removes the transfer, others keep their order");
	refuses(&t, "stored after aborted", "stored", ID1, stored_details);
	ok(apply(&t, "submitted", ID1, submitted_details) == 0, "the id may be submitted again");
	ok(t.n == 2 && strcmp(t.v[1]->id, ID1) == 0, "in submission order");
	transfer_table_free(&t);
}

static void test_bad_records(void)
{
	struct transfer_table t = { 0 };
	json_t *r;

	refuses(&t, "an unknown event", "approved", ID1, "{}");
	refuses(&t, "an unknown event name close to a known one", "Submitted", ID1, submitted_details);
	refuses(&t, "submitted with a short id", "submitted", "0123456789abcdef", submitted_details);
	refuses(&t, "submitted with an upper-case id", "submitted",
		"0123456789ABCDEF0123456789ABCDEF", submitted_details);
	refuses(&t, "submitted without a transfer", "submitted", NULL, submitted_details);
	refuses(&t, "submitted without uid", "submitted", ID1,
		"{\"profile\":\"p\",\"reason\":\"r\",\"name\":\"n\",\"requester\":\"a\","
		"\"person\":\"a\",\"from_stdin\":false}");
	refuses(&t, "submitted with uid as a string", "submitted", ID1,
		"{\"profile\":\"p\",\"reason\":\"r\",\"name\":\"n\",\"requester\":\"a\","
		"\"uid\":\"1001\",\"person\":\"a\",\"from_stdin\":false}");
	refuses(&t, "submitted with uid -1", "submitted", ID1,
		"{\"profile\":\"p\",\"reason\":\"r\",\"name\":\"n\",\"requester\":\"a\","
		"\"uid\":-1,\"person\":\"a\",\"from_stdin\":false}");
	refuses(&t, "submitted with from_stdin as 0", "submitted", ID1,
		"{\"profile\":\"p\",\"reason\":\"r\",\"name\":\"n\",\"requester\":\"a\","
		"\"uid\":1,\"person\":\"a\",\"from_stdin\":0}");
	refuses(&t, "submitted with a NUL in a string", "submitted", ID1,
		"{\"profile\":\"p\\u0000x\",\"reason\":\"r\",\"name\":\"n\",\"requester\":\"a\","
		"\"uid\":1,\"person\":\"a\",\"from_stdin\":false}");
	refuses(&t, "submitted with details an array", "submitted", ID1, "[]");

	ok(apply(&t, "submitted", ID1, submitted_details) == 0, "a good submitted accepted");
	refuses(&t, "stored with an upper-case sha256", "stored", ID1,
		"{\"size\":1,\"sha256\":\"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\","
		"\"type\":\"text\"}");
	refuses(&t, "stored with a short sha256", "stored", ID1,
		"{\"size\":1,\"sha256\":\"ba7816bf\",\"type\":\"text\"}");
	refuses(&t, "stored with an unknown type", "stored", ID1,
		"{\"size\":1,\"sha256\":\"" SHA "\",\"type\":\"pdf\"}");
	refuses(&t, "stored with a negative size", "stored", ID1,
		"{\"size\":-1,\"sha256\":\"" SHA "\",\"type\":\"text\"}");
	refuses(&t, "stored with a size as a real", "stored", ID1,
		"{\"size\":1.5,\"sha256\":\"" SHA "\",\"type\":\"text\"}");
	refuses(&t, "withdrawn without a reason", "withdrawn", ID1, "{}");

	/* record-level fields */
	r = rec("stored", ID1, stored_details);
	json_object_set_new(r, "time", json_string("2026-11-28 16:15:20"));
	ok(transfer_apply(&t, r) == -EBADMSG, "refuses a record with a bad time");
	json_object_set_new(r, "time", json_string("2026-11-28T16:15:20Z"));
	json_object_set_new(r, "seq", json_string("5"));
	ok(transfer_apply(&t, r) == -EBADMSG, "refuses a record with seq as a string");
	json_object_set_new(r, "seq", json_integer(0));
	ok(transfer_apply(&t, r) == -EBADMSG, "refuses a record with seq 0");
	json_object_set_new(r, "seq", json_integer(1));
	ok(transfer_apply(&t, r) == -EBADMSG, "refuses a record older than the transfer's last");
	json_object_del(r, "event");
	json_object_set_new(r, "seq", json_integer(1000));
	ok(transfer_apply(&t, r) == -EBADMSG, "refuses a record without an event");
	json_object_set_new(r, "event", json_string("stored"));
	ok(t.v[0]->state == TS_SUBMITTED, "nothing of that changed the transfer");
	ok(transfer_apply(&t, r) == 0 && t.v[0]->state == TS_STORED, "the repaired record is accepted");
	json_decref(r);

	r = json_array();
	ok(transfer_apply(&t, r) == -EBADMSG, "refuses a record that is not an object");
	json_decref(r);
	ok(transfer_apply(&t, NULL) == -EBADMSG, "refuses NULL");
	transfer_table_free(&t);
}

static void test_json(void)
{
	struct transfer_table t = { 0 };
	json_t *j;
	char *s;

	/* Exact text with known times (a record with seq n has second n % 60). */
	next_seq = 20;
	apply(&t, "submitted", ID1, submitted_details);
	apply(&t, "stored", ID1, stored_details);
	apply(&t, "withdrawn", ID1, "{\"reason\":\"wrong \\\"file\\\"\"}");
	j = transfer_to_json(t.v[0]);
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ok(s && strcmp(s, "{\"id\":\"" ID1 "\",\"state\":\"withdrawn\",\"profile\":\"crashdump\","
			  "\"requester\":\"alice\",\"person\":\"alice\",\"uid\":1001,"
			  "\"reason\":\"INC-4711\",\"name\":\"core.1234\",\"size\":4096,"
			  "\"sha256\":\"" SHA "\",\"type\":\"elf-core\","
			  "\"submitted\":\"2026-11-28T16:15:20Z\",\"updated\":\"2026-11-28T16:15:22Z\","
			  "\"final_reason\":\"wrong \\\"file\\\"\",\"purged\":false,\"findings\":null,"
			  "\"required\":null,\"expires\":null,\"approvals\":[],\"release\":null,"
			  "\"release_waiting\":null}") == 0,
	   "transfer_to_json keys in the documented order: %s", s ? s : "(null)");
	free(s);
	json_decref(j);

	transfer_table_free(&t);
	next_seq = 30;
	apply(&t, "submitted", ID2, submitted_details);
	j = transfer_to_json(t.v[0]);
	ok(json_is_null(json_object_get(j, "size")) && json_is_null(json_object_get(j, "sha256")) &&
		   json_is_null(json_object_get(j, "type")) &&
		   json_is_null(json_object_get(j, "final_reason")) &&
		   json_is_null(json_object_get(j, "findings")) && json_is_null(json_object_get(j, "required")) &&
		   json_is_null(json_object_get(j, "release")) &&
		   json_is_null(json_object_get(j, "release_waiting")) && json_object_size(j) == 21,
	   "size, sha256, type, final_reason, required, release and release_waiting are null before stored");
	json_decref(j);
	ok(transfer_to_json(NULL) == NULL, "transfer_to_json(NULL) is NULL");
	transfer_table_free(&t);
}

static void test_many(void)
{
	struct transfer_table t = { 0 };
	char id[33];
	int bad = 0;

	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "%032x", i);
		bad += apply(&t, "submitted", id, submitted_details) != 0;
	}
	ok(bad == 0 && t.n == 1000 && t.cap >= 1000, "table grows to 1000 transfers");
	snprintf(id, sizeof(id), "%032x", 0);
	ok(transfer_find(&t, id) == t.v[0], "finds the oldest");
	snprintf(id, sizeof(id), "%032x", 999);
	ok(transfer_find(&t, id) == t.v[999], "finds the newest");
	ok(transfer_find(&t, ID2) == NULL && transfer_find(&t, NULL) == NULL, "unknown id not found");
	transfer_table_free(&t);
}

static void test_scan(void)
{
	struct transfer_table t = { 0 };
	struct transfer *x;

	apply(&t, "submitted", ID1, submitted_details);
	ok(apply(&t, "scan_started", ID1, "{}") == -EBADMSG, "scan_started before stored refused");
	apply(&t, "stored", ID1, stored_details);
	ok(apply(&t, "scanned", ID1, "{\"verdict\":\"clean\",\"findings\":[]}") == -EBADMSG,
	   "scanned without scan_started refused");
	ok(apply(&t, "scan_started", ID1, "{}") == 0, "scan_started from stored accepted");
	ok(apply(&t, "scan_started", ID1, "{}") == 0, "scan_started again (a restart resumes) accepted");
	ok(apply(&t, "scanned", ID1, "{\"verdict\":\"maybe\",\"findings\":[]}") == -EBADMSG,
	   "an unknown verdict refused");
	ok(apply(&t, "scanned", ID1, "{\"verdict\":\"clean\",\"findings\":{}}") == -EBADMSG,
	   "findings that are not an array refused");
	ok(apply(&t, "scanned", ID1,
		 "{\"verdict\":\"blocked\",\"findings\":[{\"detector\":\"pem\"}],\"findings_total\":0}") == -EBADMSG,
	   "a findings_total below the findings listed refused");
	ok(apply(&t, "scanned", ID1,
		 "{\"verdict\":\"blocked\",\"findings\":[{\"detector\":\"pem\"}],\"findings_total\":250}") == 0,
	   "scanned blocked accepted");
	x = transfer_find(&t, ID1);
	ok(x && x->state == TS_BLOCKED && tstate_final(x->state) && json_array_size(x->findings) == 1 &&
		   x->findings_total == 250,
	   "blocked is final and keeps the findings and their total");
	ok(apply(&t, "failed", ID1, "{\"reason\":\"x\"}") == -EBADMSG, "failed after a final state refused");

	apply(&t, "submitted", ID2, submitted_details);
	ok(apply(&t, "failed", ID2, "{\"reason\":\"x\"}") == -EBADMSG, "failed of an upload refused (aborted is for that)");
	apply(&t, "stored", ID2, stored_details);
	apply(&t, "scan_started", ID2, "{}");
	ok(apply(&t, "failed", ID2, "{\"reason\":\"the raw scanner was killed by signal 9\"}") == 0,
	   "failed from scanning accepted");
	x = transfer_find(&t, ID2);
	ok(x && x->state == TS_FAILED && x->final_reason && strstr(x->final_reason, "signal 9"),
	   "failed is final with its reason");
	transfer_table_free(&t);
}

/* ---- approval (I3), deny, expiry, release */

#define SHA2 "0000000000000000000000000000000000000000000000000000000000000001"
#define PENDING2 "{\"required\":2,\"expires\":\"2026-11-28T17:00:00Z\"}"
#define APPROVAL(account, person, sha)                                                                  \
	"{\"account\":\"" account "\",\"person\":\"" person "\",\"token\":\"vvccccbhbkfe\",\"sha256\":\"" sha \
	"\",\"interactive\":false}"

/* Submitted by alice (person alice), stored, scanned clean. */
static struct transfer *make_clean(struct transfer_table *t, const char *id)
{
	apply(t, "submitted", id, submitted_details);
	apply(t, "stored", id, stored_details);
	apply(t, "scan_started", id, "{}");
	apply(t, "scanned", id, "{\"verdict\":\"clean\",\"findings\":[]}");
	return transfer_find(t, id);
}

static void test_approval(void)
{
	struct transfer_table t = { 0 };
	struct transfer *x;
	time_t e;
	json_t *j;
	int r;

	apply(&t, "submitted", ID1, submitted_details);
	apply(&t, "stored", ID1, stored_details);
	refuses(&t, "pending of a stored transfer (not scanned yet)", "pending", ID1, PENDING2);
	apply(&t, "scan_started", ID1, "{}");
	apply(&t, "scanned", ID1, "{\"verdict\":\"clean\",\"findings\":[]}");
	x = transfer_find(&t, ID1);
	if (!ok(x && x->state == TS_CLEAN, "setup: a clean transfer")) {
		transfer_table_free(&t);
		return;
	}
	refuses(&t, "an approval before pending", "approval", ID1, APPROVAL("bob", "bob", SHA));
	refuses(&t, "pending with required 0", "pending", ID1, "{\"required\":0,\"expires\":\"2026-11-28T17:00:00Z\"}");
	refuses(&t, "pending without expires", "pending", ID1, "{\"required\":2}");
	refuses(&t, "pending with a bad expires", "pending", ID1, "{\"required\":2,\"expires\":\"in an hour\"}");
	refuses(&t, "released of a clean transfer", "released", ID1,
		"{\"path\":\"logs/" ID1 "\",\"file\":\"core.1234\",\"manifest_sha256\":\"" SHA "\"}");

	ok(apply(&t, "pending", ID1, PENDING2) == 0, "pending accepted");
	ok(x->state == TS_PENDING && x->required == 2 && parse_time("2026-11-28T17:00:00Z", &e) == 0 && x->expires == e &&
		   json_array_size(x->approvals) == 0,
	   "pending: 2 persons required, expires set, no approval yet");
	ok(!tstate_final(x->state), "pending is not final");
	refuses(&t, "pending twice", "pending", ID1, PENDING2);

	refuses(&t, "an approval by the requester's person (another account of alice)", "approval", ID1,
		APPROVAL("alice2", "alice", SHA));
	refuses(&t, "an approval naming another sha256", "approval", ID1, APPROVAL("bob", "bob", SHA2));
	refuses(&t, "an approval without a token", "approval", ID1,
		"{\"account\":\"bob\",\"person\":\"bob\",\"sha256\":\"" SHA "\",\"interactive\":false}");
	refuses(&t, "an approval with interactive as 0", "approval", ID1,
		"{\"account\":\"bob\",\"person\":\"bob\",\"token\":\"t\",\"sha256\":\"" SHA "\",\"interactive\":0}");

	ok(apply(&t, "approval", ID1, APPROVAL("bob", "bob", SHA)) == 0, "an approval by bob accepted");
	ok(x->state == TS_PENDING && json_array_size(x->approvals) == 1, "1 of 2: still pending");
	refuses(&t, "a second approval by the same person (another account of bob)", "approval", ID1,
		APPROVAL("bob-admin", "bob", SHA));
	refuses(&t, "a second approval by the same account", "approval", ID1, APPROVAL("bob", "bob", SHA));
	ok(apply(&t, "approval", ID1, APPROVAL("carol", "carol", SHA)) == 0, "an approval by carol accepted");
	ok(x->state == TS_APPROVED && json_array_size(x->approvals) == 2 && !tstate_final(x->state),
	   "2 of 2 distinct persons: approved (not final)");
	refuses(&t, "an approval of an approved transfer", "approval", ID1, APPROVAL("dave", "dave", SHA));
	refuses(&t, "denied of an approved transfer", "denied", ID1,
		"{\"reason\":\"no\",\"account\":\"bob\",\"person\":\"bob\"}");
	refuses(&t, "withdrawn of an approved transfer", "withdrawn", ID1, "{\"reason\":\"oops\"}");
	refuses(&t, "expired of an approved transfer", "expired", ID1, "{\"reason\":\"late\"}");
	refuses(&t, "release_postponed of an approved transfer (not yet releasing)", "release_postponed", ID1,
		"{\"reason\":\"full\"}");
	refuses(&t, "released before releasing", "released", ID1,
		"{\"path\":\"logs/" ID1 "\",\"file\":\"core.1234\",\"manifest_sha256\":\"" SHA "\"}");
	refuses(&t, "releasing without a destination", "releasing", ID1, "{}");

	refuses(&t, "releasing without its manifest", "releasing", ID1,
		"{\"destination\":\"logs\",\"file\":\"core.1234\"}");
	refuses(&t, "releasing without a file", "releasing", ID1,
		"{\"destination\":\"logs\",\"manifest\":{\"transfer\":\"" ID1 "\"}}");
	ok(apply(&t, "releasing", ID1,
		 "{\"destination\":\"logs\",\"file\":\"core.1234\",\"manifest\":{\"transfer\":\"" ID1 "\"}}") == 0 &&
		   x->state == TS_RELEASING && !tstate_final(x->state),
	   "releasing accepted (not final)");
	ok(x->release_dest && strcmp(x->release_dest, "logs") == 0 && x->release_file &&
		   strcmp(x->release_file, "core.1234") == 0 &&
		   strcmp(json_string_value(json_object_get(x->release_manifest, "transfer")), ID1) == 0,
	   "releasing keeps the destination, the file and the manifest for a restart");
	refuses(&t, "releasing twice", "releasing", ID1,
		"{\"destination\":\"logs\",\"file\":\"core.1234\",\"manifest\":{}}");
	refuses(&t, "denied of a releasing transfer", "denied", ID1,
		"{\"reason\":\"no\",\"account\":\"bob\",\"person\":\"bob\"}");
	refuses(&t, "withdrawn of a releasing transfer", "withdrawn", ID1, "{\"reason\":\"oops\"}");
	refuses(&t, "release_postponed without a reason", "release_postponed", ID1, "{}");
	ok(apply(&t, "release_postponed", ID1, "{\"reason\":\"No space left on device\"}") == 0 &&
		   x->state == TS_RELEASING && x->release_waiting &&
		   strcmp(x->release_waiting, "No space left on device") == 0,
	   "release_postponed accepted: still releasing, and it says why it waits");
	r = apply(&t, "release_postponed", ID1, "{\"reason\":\"Disk quota exceeded\"}");
	j = transfer_to_json(x);
	ok(r == 0 && json_is_string(json_object_get(j, "release_waiting")) &&
		   strcmp(json_string_value(json_object_get(j, "release_waiting")), "Disk quota exceeded") == 0,
	   "a second release_postponed replaces the reason (release_waiting in the JSON form)");
	json_decref(j);
	refuses(&t, "released with a short manifest_sha256", "released", ID1,
		"{\"path\":\"logs/" ID1 "\",\"file\":\"core.1234\",\"manifest_sha256\":\"abc\"}");
	refuses(&t, "released without a file", "released", ID1,
		"{\"path\":\"logs/" ID1 "\",\"manifest_sha256\":\"" SHA "\"}");
	ok(apply(&t, "released", ID1,
		 "{\"path\":\"logs/" ID1 "\",\"file\":\"core.1234\",\"manifest_sha256\":\"" SHA "\"}") == 0,
	   "released accepted");
	ok(x->state == TS_RELEASED && tstate_final(x->state) && x->final_time == x->updated, "released is final");
	ok(x->release_waiting == NULL, "released: the release no longer waits");
	refuses(&t, "release_postponed of a released transfer", "release_postponed", ID1, "{\"reason\":\"full\"}");
	refuses(&t, "released twice", "released", ID1,
		"{\"path\":\"logs/" ID1 "\",\"file\":\"core.1234\",\"manifest_sha256\":\"" SHA "\"}");
	refuses(&t, "failed of a released transfer", "failed", ID1, "{\"reason\":\"x\"}");

	j = transfer_to_json(x);
	json_t *a0 = json_array_get(json_object_get(j, "approvals"), 0), *rel = json_object_get(j, "release");
	ok(json_integer_value(json_object_get(j, "required")) == 2 &&
		   strcmp(json_string_value(json_object_get(j, "expires")), "2026-11-28T17:00:00Z") == 0 &&
		   json_array_size(json_object_get(j, "approvals")) == 2 &&
		   strcmp(json_string_value(json_object_get(a0, "person")), "bob") == 0 &&
		   strcmp(json_string_value(json_object_get(a0, "account")), "bob") == 0 &&
		   strcmp(json_string_value(json_object_get(a0, "token")), "vvccccbhbkfe") == 0 &&
		   strcmp(json_string_value(json_object_get(a0, "sha256")), SHA) == 0 &&
		   json_is_string(json_object_get(a0, "time")) &&
		   strcmp(json_string_value(json_object_get(rel, "path")), "logs/" ID1) == 0 &&
		   strcmp(json_string_value(json_object_get(rel, "file")), "core.1234") == 0 &&
		   strcmp(json_string_value(json_object_get(rel, "manifest_sha256")), SHA) == 0,
	   "JSON: required, expires, the approvals (person, account, token, time, sha256), release");
	json_decref(j);
	transfer_table_free(&t);
}

static void test_pending_ends(void)
{
	struct transfer_table t = { 0 };
	struct transfer *x;

	/* one approval needed: the first distinct person approves */
	x = make_clean(&t, ID1);
	apply(&t, "pending", ID1, "{\"required\":1,\"expires\":\"2026-11-28T17:00:00Z\"}");
	ok(x && apply(&t, "approval", ID1, APPROVAL("bob", "bob", SHA)) == 0 && x->state == TS_APPROVED,
	   "required 1: one approval approves");
	transfer_table_free(&t);

	x = make_clean(&t, ID1);
	apply(&t, "pending", ID1, PENDING2);
	apply(&t, "approval", ID1, APPROVAL("bob", "bob", SHA));
	refuses(&t, "denied without an account", "denied", ID1, "{\"reason\":\"no\",\"person\":\"bob\"}");
	refuses(&t, "denied without a reason", "denied", ID1, "{\"account\":\"bob\",\"person\":\"bob\"}");
	ok(apply(&t, "denied", ID1, "{\"reason\":\"customer data\",\"account\":\"carol\",\"person\":\"carol\"}") == 0,
	   "denied of a pending transfer (with one approval) accepted");
	ok(x && x->state == TS_DENIED && tstate_final(x->state) && strcmp(x->final_reason, "customer data") == 0 &&
		   json_array_size(x->approvals) == 1,
	   "denied is final with its reason; the approval stays on record");
	refuses(&t, "an approval of a denied transfer", "approval", ID1, APPROVAL("carol", "carol", SHA));
	refuses(&t, "denied twice", "denied", ID1, "{\"reason\":\"again\",\"account\":\"bob\",\"person\":\"bob\"}");
	refuses(&t, "expired of a denied transfer", "expired", ID1, "{\"reason\":\"late\"}");

	x = make_clean(&t, ID2);
	refuses(&t, "expired of a clean transfer (not pending)", "expired", ID2, "{\"reason\":\"late\"}");
	apply(&t, "pending", ID2, PENDING2);
	refuses(&t, "expired without a reason", "expired", ID2, "{}");
	ok(apply(&t, "expired", ID2, "{\"reason\":\"not approved in time\"}") == 0, "expired of a pending transfer accepted");
	ok(x && x->state == TS_EXPIRED && tstate_final(x->state) && strcmp(x->final_reason, "not approved in time") == 0,
	   "expired is final with its reason");
	refuses(&t, "an approval of an expired transfer", "approval", ID2, APPROVAL("bob", "bob", SHA));
	refuses(&t, "withdrawn of an expired transfer", "withdrawn", ID2, "{\"reason\":\"x\"}");
	transfer_table_free(&t);

	x = make_clean(&t, ID1);
	ok(apply(&t, "denied", ID1, "{\"reason\":\"no\",\"account\":\"admin\",\"person\":\"admin\"}") == 0 && x &&
		   x->state == TS_DENIED,
	   "denied of a clean transfer (before pending) accepted");
	x = make_clean(&t, ID2);
	apply(&t, "pending", ID2, PENDING2);
	ok(apply(&t, "withdrawn", ID2, "{\"reason\":\"wrong file\"}") == 0 && x && x->state == TS_WITHDRAWN,
	   "withdrawn of a pending transfer accepted");
	refuses(&t, "an approval of a withdrawn transfer", "approval", ID2, APPROVAL("bob", "bob", SHA));
	transfer_table_free(&t);
}

/* A release that waits for room in the outbox can still be stopped; one
 * that is on its way out cannot. */
static void test_release_waits(void)
{
	static const char *const releasing =
		"{\"destination\":\"logs\",\"file\":\"core.1234\",\"manifest\":{\"transfer\":\"x\"}}";
	static const char *const full = "{\"reason\":\"cannot write: No space left on device\"}";
	static const char *const deny = "{\"reason\":\"no\",\"account\":\"bob\",\"person\":\"bob\"}";
	struct transfer_table t = { 0 };
	struct transfer *x, *y;

	x = make_clean(&t, ID1);
	apply(&t, "pending", ID1, "{\"required\":1,\"expires\":\"2026-11-28T17:00:00Z\"}");
	apply(&t, "approval", ID1, APPROVAL("bob", "bob", SHA));
	apply(&t, "releasing", ID1, releasing);
	refuses(&t, "withdrawn of a releasing transfer whose release does not wait", "withdrawn", ID1,
		"{\"reason\":\"x\"}");
	refuses(&t, "denied of a releasing transfer whose release does not wait", "denied", ID1, deny);
	apply(&t, "release_postponed", ID1, full);
	ok(x && x->release_waiting && apply(&t, "withdrawn", ID1, "{\"reason\":\"withdrawn by the requester\"}") == 0 &&
		   x->state == TS_WITHDRAWN && !x->release_waiting,
	   "withdrawn of a release that waits for room accepted; release_waiting is cleared");
	refuses(&t, "released of a withdrawn transfer", "released", ID1,
		"{\"path\":\"logs/" ID1 "\",\"file\":\"core.1234\",\"manifest_sha256\":\"" SHA "\"}");
	refuses(&t, "release_postponed of a withdrawn transfer", "release_postponed", ID1, full);

	y = make_clean(&t, ID2);
	apply(&t, "pending", ID2, "{\"required\":1,\"expires\":\"2026-11-28T17:00:00Z\"}");
	apply(&t, "approval", ID2, APPROVAL("bob", "bob", SHA));
	apply(&t, "releasing", ID2, releasing);
	apply(&t, "release_postponed", ID2, full);
	ok(y && apply(&t, "denied", ID2, deny) == 0 && y->state == TS_DENIED && !y->release_waiting,
	   "denied of a release that waits for room accepted");
	transfer_table_free(&t);

	x = make_clean(&t, ID1);
	apply(&t, "pending", ID1, "{\"required\":1,\"expires\":\"2026-11-28T17:00:00Z\"}");
	apply(&t, "approval", ID1, APPROVAL("bob", "bob", SHA));
	apply(&t, "releasing", ID1, releasing);
	apply(&t, "release_postponed", ID1, full);
	ok(x && apply(&t, "failed", ID1, "{\"reason\":\"the spool object changed\"}") == 0 && x->state == TS_FAILED &&
		   !x->release_waiting,
	   "failed after a postponed release: release_waiting is cleared");
	transfer_table_free(&t);
}

int main(void)
{
	test_scan();
	test_names();
	test_lifecycle();
	test_aborted();
	test_bad_records();
	test_json();
	test_many();
	test_approval();
	test_pending_ends();
	test_release_waits();
	return tap_done();
}
