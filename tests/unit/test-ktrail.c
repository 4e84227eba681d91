/* test-ktrail.c - the kernel audit trail reader and check (agent/ktrail.c)
 * on records written here: the formats auditd writes are read and others
 * are not; each shape of a trail against a log gives its verdict.  Each
 * "accepts" has a "refuses" twin. */
#include <stdio.h>
#include <string.h>

#include "ktrail.h"
#include "tap.h"
#include "util.h"

/* hash number i: 64 hex digits of one character, "0" is the chain's start */
static const char *H(int i)
{
	static char buf[8][65];
	static int next;
	char *b = buf[next++ % 8];

	memset(b, "0123456789abcdef"[i & 15], 64);
	b[64] = '\0';
	return b;
}

/* a record line as auditd writes it; data is hex or NULL */
static int add(struct ktrail *k, const char *prefix, unsigned long long seq, const char *event, const char *sha,
	       const char *prev, const char *data)
{
	char line[2048];

	snprintf(line, sizeof(line),
		 "%stype=TRUSTED_APP msg=audit(1795900233.413:48049): pid=7605 uid=0 auid=4294967295 "
		 "ses=4294967295 msg='op=dumpgate seq=%llu event=%s transfer=none line_sha256=%s prev=%s data=%s'"
		 "\x1d"
		 "AUID=\"unset\" UID=\"root\"",
		 prefix, seq, event, sha, prev, data ? data : "00");
	return ktrail_add_line(k, line, strlen(line));
}

static int add_raw(struct ktrail *k, const char *line)
{
	return ktrail_add_line(k, line, strlen(line));
}

/* the data= of a first line that names signing key key */
static const char *first_data(const char *key)
{
	static char hex[1024];
	char json[300];

	snprintf(json, sizeof(json),
		 "{\"seq\":1,\"event\":\"gate_started\",\"details\":{\"signing_key_sha256\":\"%s\"}}", key);
	hex_encode((const uint8_t *)json, strlen(json), hex);
	return hex;
}

static void test_formats(void)
{
	struct ktrail k = { 0 };
	char line[600];

	ok(add(&k, "", 1, "gate_started", H(1), H(0), NULL) == 1 && k.n == 1 && k.v[0].seq == 1 &&
		   strcmp(k.v[0].event, "gate_started") == 0 && strcmp(k.v[0].sha, H(1)) == 0 &&
		   strcmp(k.v[0].prev, H(0)) == 0,
	   "an enriched TRUSTED_APP record is read, field by field");
	ok(add(&k, "node=gate-1.example ", 2, "stored", H(2), H(1), NULL) == 1 && k.n == 2,
	   "with a node=HOST prefix too");
	snprintf(line, sizeof(line),
		 "type=UNKNOWN[1121] msg=audit(1.0:1): pid=1 uid=0 msg='op=dumpgate seq=3 event=scanned "
		 "transfer=none line_sha256=%s prev=%s data=omitted bytes=9000'",
		 H(3), H(2));
	ok(add_raw(&k, line) == 1 && k.n == 3, "type=UNKNOWN[1121] (an older auditd), data omitted");

	snprintf(line, sizeof(line), "type=USER msg=audit(1.0:1): pid=1 uid=0 msg='op=dumpgate seq=4 event=x "
				     "transfer=none line_sha256=%s prev=%s'", H(4), H(3));
	ok(add_raw(&k, line) == 0 && k.n == 3, "another record type is not ours (sending USER needs no privilege "
					      "the gate lacks, but TRUSTED_APP is what it sends)");
	snprintf(line, sizeof(line), "type=TRUSTED_APP msg=audit(1.0:1): pid=1 uid=0 msg='op=other seq=4'");
	ok(add_raw(&k, line) == 0, "another op is not ours");
	ok(add_raw(&k, "") == 0 && add_raw(&k, "node=x") == 0, "empty and prefix-only lines are not ours");

	uint64_t before = k.malformed;
	ok(add(&k, "", 0, "stored", H(4), H(3), NULL) == -EBADMSG, "seq 0 is malformed");
	ok(add(&k, "", 4, "Stored", H(4), H(3), NULL) == -EBADMSG, "an event with a capital is malformed");
	ok(add(&k, "", 4, "stored", "ABCDEF", H(3), NULL) == -EBADMSG, "a short hash is malformed");
	char upper[65];
	memset(upper, 'A', 64);
	upper[64] = '\0';
	ok(add(&k, "", 4, "stored", upper, H(3), NULL) == -EBADMSG, "upper-case hex is malformed");
	snprintf(line, sizeof(line),
		 "type=TRUSTED_APP msg=audit(1.0:1): pid=1 msg='op=dumpgate seq=04 event=stored transfer=none "
		 "line_sha256=%s prev=%s'", H(4), H(3));
	ok(add_raw(&k, line) == -EBADMSG, "a seq with a leading zero is malformed");
	snprintf(line, sizeof(line),
		 "type=TRUSTED_APP msg=audit(1.0:1): pid=1 msg='op=dumpgate seq=4 event=stored transfer=none "
		 "line_sha256=%s prev=%s",
		 H(4), H(3));
	ok(add_raw(&k, line) == -EBADMSG, "a record without its closing quote (cut short) is malformed");
	ok(k.malformed == before + 6 && k.n == 3, "... and each is counted, none kept");

	ok(add(&k, "", 1, "gate_started", H(9), H(0), first_data(H(7))) == 1 && strcmp(k.v[3].key, H(7)) == 0,
	   "a first line's signing key is read from its data");
	ok(add(&k, "", 2, "stored", H(10), H(9), first_data(H(7))) == 1 && k.v[4].key[0] == '\0',
	   "... only from a first line");
	ktrail_free(&k);
}

/* the log 1..n with hashes H(1)..H(n), chained from H(0) */
static void trail_of(struct ktrail *k, int n)
{
	for (int i = 1; i <= n; i++)
		add(k, "", (unsigned long long)i, i == 1 ? "gate_started" : "stored", H(i), H(i - 1),
		    i == 1 ? first_data(H(15)) : NULL);
}

static void check_log(struct kcheck *c, const struct ktrail *k, int n, int changed_from)
{
	kcheck_init(c, k);
	for (int i = 1; i <= n; i++)
		kcheck_line(c, (uint64_t)i, i == 1 ? "gate_started" : "stored", H(i >= changed_from ? i + 8 : i),
			    i == 1 ? H(15) : NULL);
}

static void test_check(void)
{
	struct ktrail k = { 0 };
	struct kcheck c;
	const struct kentry *first;
	uint64_t same, other;

	trail_of(&k, 5);
	add(&k, "", 5, "stored", H(5), H(4), NULL); /* the same record twice */
	ok(ktrail_index(&k) == 0 && k.n == 5 && k.conflicts == 0, "a record given twice is kept once");
	check_log(&c, &k, 5, 99);
	ok(c.found == 5 && c.first_found == 1 && c.missing == 0 && c.forks == 0 && c.unwritten == 0 &&
		   kcheck_beyond(&c, &first) == 0,
	   "accepts: the whole log, nothing after it");
	kcheck_other_logs(&c, &same, &other, &first);
	ok(same == 0 && other == 0, "... and no other log");

	check_log(&c, &k, 3, 99);
	ok(c.missing == 0 && kcheck_beyond(&c, &first) == 2 && first && first->seq == 4,
	   "refuses: a log cut by two lines (2 records after its end, from seq 4)");
	check_log(&c, &k, 5, 3);
	ok(c.missing == 3 && c.miss_line == 3 && c.miss_replaced, "refuses: line 3 changed (the trail has another "
								       "record in its place)");
	ktrail_free(&k);

	/* a failed write: seq 4 mirrored (H(12)), never written; line 4 is H(4) */
	trail_of(&k, 5);
	add(&k, "", 4, "released", H(12), H(3), NULL);
	ktrail_index(&k);
	check_log(&c, &k, 5, 99);
	ok(c.unwritten == 1 && c.forks == 0 && c.missing == 0, "accepts: a failed write is counted, not refused");
	ktrail_free(&k);

	/* the same shape, replaced by a gate_started: a cut and a restart */
	trail_of(&k, 3);
	add(&k, "", 3, "released", H(12), H(2), NULL);
	ktrail_index(&k);
	kcheck_init(&c, &k);
	kcheck_line(&c, 1, "gate_started", H(1), H(15));
	kcheck_line(&c, 2, "stored", H(2), NULL);
	kcheck_line(&c, 3, "gate_started", H(3), NULL);
	ok(c.forks == 1 && c.fork_line == 3 && c.fork_len == 1 && c.unwritten == 0,
	   "refuses: a dead end replaced by gate_started (the last line cut, the gate restarted)");
	ktrail_free(&k);

	/* two records after line 2 that the log does not have */
	trail_of(&k, 4);
	add(&k, "", 3, "stored", H(12), H(2), NULL);
	add(&k, "", 4, "released", H(13), H(12), NULL);
	ktrail_index(&k);
	check_log(&c, &k, 4, 99);
	ok(c.forks == 1 && c.fork_line == 3 && c.fork_len == 2 && c.fork.seq == 3,
	   "refuses: a branch of two records after line 2 (cut there, restarted)");
	ktrail_free(&k);

	/* root sends a second record for line 2 */
	trail_of(&k, 3);
	add(&k, "", 2, "stored", H(2), H(14), NULL);
	ok(ktrail_index(&k) == 0 && k.conflicts == 1 && strcmp(k.conflict.sha, H(2)) == 0,
	   "refuses: two different records for one line");
	ktrail_free(&k);

	/* another log from seq 1: the same signing key, then another key */
	trail_of(&k, 3);
	add(&k, "", 1, "gate_started", H(11), H(0), first_data(H(15)));
	add(&k, "", 2, "stored", H(12), H(11), NULL);
	add(&k, "", 1, "gate_started", H(13), H(0), first_data(H(14)));
	ktrail_index(&k);
	check_log(&c, &k, 3, 99);
	kcheck_other_logs(&c, &same, &other, &first);
	ok(same == 1 && first && strcmp(first->sha, H(11)) == 0, "refuses: another log of this gate (same key)");
	ok(other == 1, "... and counts another gate's log (another key)");
	ktrail_free(&k);

	/* a first start whose record could not be written: a dead end */
	trail_of(&k, 3);
	add(&k, "", 1, "gate_started", H(11), H(0), first_data(H(15)));
	ktrail_index(&k);
	check_log(&c, &k, 3, 99);
	kcheck_other_logs(&c, &same, &other, &first);
	ok(same == 0 && other == 0, "accepts: a failed first record of this gate is not another log");
	ktrail_free(&k);

	/* a trail that starts at line 3 */
	trail_of(&k, 5);
	ktrail_index(&k);
	struct ktrail late = { 0 };
	for (size_t i = 0; i < k.n; i++)
		if (k.v[i].seq >= 3)
			add(&late, "", k.v[i].seq, k.v[i].event, k.v[i].sha, k.v[i].prev, NULL);
	ktrail_index(&late);
	check_log(&c, &late, 5, 99);
	ok(c.first_found == 3 && c.found == 3 && c.missing == 0 && kcheck_beyond(&c, &first) == 0,
	   "accepts: a trail that begins at line 3 (lines 1-2 older)");
	ktrail_free(&late);
	ktrail_free(&k);
}

int main(void)
{
	test_formats();
	test_check();
	return tap_done();
}
