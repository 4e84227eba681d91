/* test-audit.c - the hash-chained audit log (I4): every "accepts" has its
 * "refuses" twin.  The chain is re-checked here independently of audit.c
 * (own SHA-256 over the line bytes, own key-order check). */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "audit.h"
#include "tap.h"
#include "util.h"

static const char *const keys[] = { "seq", "time", "event", "transfer", "actor", "details", "prev" };
static const char *const tid = "0123456789abcdef0123456789abcdef";

static void sha256_independent(const void *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	static const char hx[] = "0123456789abcdef";

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[64] = 0;
}

static char *slurp(int dirfd, const char *name, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || read_full(fd, buf, (size_t)st.st_size, &got) < 0) {
		free(buf);
		return NULL;
	}
	buf[got] = 0;
	*ret_len = got;
	return buf;
}

static int spit(int dirfd, const char *name, const char *buf, size_t len, mode_t mode)
{
	_cleanup_close_ int fd = -1;

	(void)unlinkat(dirfd, name, 0);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchmodat(dirfd, name, mode, 0) < 0)
		return -errno;
	return write_full(fd, buf, len);
}

/* Line i (1-based) of buf as [*start, *start + *len), without its newline. */
static bool nth_line(const char *buf, size_t n, unsigned i, size_t *start, size_t *len)
{
	size_t off = 0;

	for (unsigned k = 1;; k++) {
		const char *nl = memchr(buf + off, '\n', n - off);
		if (!nl)
			return false;
		if (k == i) {
			*start = off;
			*len = (size_t)(nl - (buf + off));
			return true;
		}
		off = (size_t)(nl - buf) + 1;
	}
}

static unsigned count_lines(const char *buf, size_t n)
{
	unsigned c = 0;
	for (size_t i = 0; i < n; i++)
		c += buf[i] == '\n';
	return c;
}

static int verify_at(int dirfd, uint64_t *count, char **err)
{
	_cleanup_close_ int fd = openat(dirfd, AUDIT_FILE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return audit_verify_fd(fd, count, err);
}

static int make_dir(char tmpl[static 64], int *ret_dirfd)
{
	snprintf(tmpl, 64, "/tmp/test-audit.XXXXXX");
	if (!mkdtemp(tmpl))
		return -errno;
	*ret_dirfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *ret_dirfd < 0 ? -errno : 0;
}

static void rm_dir(const char *path, int dirfd)
{
	DIR *d = fdopendir(fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
	struct dirent *de;

	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				(void)unlinkat(dirfd, de->d_name, 0);
		closedir(d);
	}
	close(dirfd);
	(void)rmdir(path);
}

/* Write a damaged copy of log into its own directory and check that both
 * audit_verify_fd and audit_open refuse it with the expected line, and
 * that audit_open left it byte for byte as it was. */
static void expect_refused(const char *what, const char *buf, size_t n, const char *want_verify,
			   const char *want_open)
{
	char path[64];
	int dfd = -1;
	uint64_t count = 0;
	_cleanup_free_ char *err = NULL, *oerr = NULL, *after = NULL;
	struct audit_log *a = NULL;
	size_t alen = 0;
	int r;

	if (make_dir(path, &dfd) < 0 || spit(dfd, AUDIT_FILE, buf, n, 0600) < 0) {
		ok(0, "%s: set up", what);
		return;
	}
	r = verify_at(dfd, &count, &err);
	ok(r == -EBADMSG && err && strcmp(err, want_verify) == 0, "%s: verify refuses: \"%s\"",
	   what, err ? err : "(none)");
	r = audit_open(dfd, &a, NULL, &oerr);
	ok(r == -EBADMSG && !a && oerr && strcmp(oerr, want_open) == 0,
	   "%s: audit_open refuses: \"%s\"", what, oerr ? oerr : "(none)");
	after = slurp(dfd, AUDIT_FILE, &alen);
	ok(after && alen == n && memcmp(after, buf, n) == 0, "%s: audit_open left the file as it was",
	   what);
	audit_close(a);
	rm_dir(path, dfd);
}

struct replay_state {
	uint64_t next;
	uint64_t stop_at;
	json_t *want_details; /* of the last record, if set */
	bool details_equal;
};

static int replay_cb(json_t *rec, void *userdata)
{
	struct replay_state *s = userdata;
	json_int_t seq = json_integer_value(json_object_get(rec, "seq"));

	if ((uint64_t)seq != s->next)
		return -EILSEQ;
	s->next++;
	if (s->want_details)
		s->details_equal = json_equal(json_object_get(rec, "details"), s->want_details);
	if (s->stop_at && (uint64_t)seq == s->stop_at)
		return 42;
	return 0;
}

static void test_chain(void)
{
	char path[64];
	int dfd = -1, r, rofd;
	struct audit_log *a = NULL;
	_cleanup_free_ char *report = NULL, *err = NULL, *buf = NULL;
	size_t n = 0, start, len;
	uint64_t seq = 0, count = 0;
	const unsigned N = 10;
	struct audit_actor alice = { "alice", 1001, "alice" };
	struct stat st;
	char prev[65], h[65];
	bool chain_ok = true, keys_ok = true, compact_ok = true;

	if (make_dir(path, &dfd) < 0)
		return (void)ok(0, "mkdtemp");

	r = audit_open(dfd, &a, &report, &err);
	ok(r == 0 && a && !report && audit_last_seq(a) == 0, "open creates an empty log");
	ok(fstatat(dfd, AUDIT_FILE, &st, 0) == 0 && (st.st_mode & 07777) == 0600 && st.st_size == 0,
	   "the new log is an empty 0600 file");
	ok(verify_at(dfd, &count, NULL) == 0 && count == 0, "an empty log verifies with 0 records");

	for (unsigned i = 1; i <= N; i++) {
		json_t *d = json_pack("{s:i, s:s}", "i", (int)i, "note", "hello world");
		json_t *rec = NULL;
		r = audit_append(a, i == 1 ? "submitted" : "scan_started", i % 2 ? tid : NULL,
				 i % 3 ? &alice : NULL, d, &seq, &rec);
		if (r < 0 || seq != i || !rec || json_integer_value(json_object_get(rec, "seq")) != i ||
		    !json_equal(json_object_get(rec, "details"), d))
			chain_ok = false;
		json_decref(rec);
		json_decref(d);
	}
	ok(chain_ok && audit_last_seq(a) == N, "%u appends return seq 1..%u and their records", N, N);

	buf = slurp(dfd, AUDIT_FILE, &n);
	ok(buf && n > 0 && buf[n - 1] == '\n' && count_lines(buf, n) == N,
	   "the log is %u newline-terminated lines", N);
	memset(prev, '0', 64);
	prev[64] = 0;
	chain_ok = true;
	for (unsigned i = 1; buf && i <= N; i++) {
		json_t *rec;
		void *it;
		unsigned k = 0;
		char *again;

		if (!nth_line(buf, n, i, &start, &len))
			break;
		rec = json_loadb(buf + start, len, 0, NULL);
		if (!rec) {
			chain_ok = false;
			continue;
		}
		for (it = json_object_iter(rec); it; it = json_object_iter_next(rec, it), k++)
			if (k >= ELEMENTSOF(keys) || strcmp(json_object_iter_key(it), keys[k]))
				keys_ok = false;
		if (k != ELEMENTSOF(keys))
			keys_ok = false;
		if (json_integer_value(json_object_get(rec, "seq")) != i ||
		    strcmp(json_string_value(json_object_get(rec, "prev")), prev) != 0)
			chain_ok = false;
		again = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!again || strlen(again) != len || memcmp(again, buf + start, len))
			compact_ok = false;
		free(again);
		json_decref(rec);
		sha256_independent(buf + start, len, prev);
	}
	ok(keys_ok, "every record has exactly seq,time,event,transfer,actor,details,prev in order");
	ok(compact_ok, "every record is compact JSON");
	ok(chain_ok, "seq is 1..N and prev is the SHA-256 of the previous line (zeros first)");
	r = verify_at(dfd, &count, NULL);
	ok(r == 0 && count == N, "audit_verify_fd accepts it (%" PRIu64 " records)", count);

	/* Refuses twins of the writer: nothing it refuses reaches the file. */
	{
		json_t *arr = json_array(), *nul = json_object();
		json_t *big = json_object();
		char *huge = malloc(AUDIT_MAX_LINE + 1);
		struct audit_actor nouid = { "bob", (uid_t)-1, "bob" };
		size_t n2 = 0;
		_cleanup_free_ char *buf2 = NULL;

		json_object_set_new(nul, "s", json_stringn("a\0b", 3));
		memset(huge, 'x', AUDIT_MAX_LINE);
		huge[AUDIT_MAX_LINE] = 0;
		json_object_set_new(big, "s", json_string(huge));
		free(huge);
		ok(audit_append(a, "Bad-Event", NULL, NULL, NULL, NULL, NULL) == -EINVAL &&
		   audit_append(a, "", NULL, NULL, NULL, NULL, NULL) == -EINVAL &&
		   audit_append(a, "x", "0123456789ABCDEF0123456789abcdef", NULL, NULL, NULL, NULL) == -EINVAL &&
		   audit_append(a, "x", NULL, &nouid, NULL, NULL, NULL) == -EINVAL &&
		   audit_append(a, "x", NULL, NULL, arr, NULL, NULL) == -EINVAL &&
		   audit_append(a, "x", NULL, NULL, nul, NULL, NULL) == -EINVAL,
		   "append refuses a bad event, transfer id, uid, non-object details, \\u0000");
		ok(audit_append(a, "x", NULL, NULL, big, NULL, NULL) == -E2BIG,
		   "append refuses a record longer than AUDIT_MAX_LINE");
		buf2 = slurp(dfd, AUDIT_FILE, &n2);
		ok(buf2 && n2 == n && !memcmp(buf, buf2, n) && audit_last_seq(a) == N,
		   "refused appends left the file and seq unchanged");
		json_decref(arr);
		json_decref(nul);
		json_decref(big);
	}

	/* A read-only fd of the same file. */
	rofd = audit_open_readonly(a);
	ok(rofd >= 0 && (fcntl(rofd, F_GETFD) & FD_CLOEXEC) && (fcntl(rofd, F_GETFL) & O_ACCMODE) == O_RDONLY &&
	   write(rofd, "x", 1) < 0, "audit_open_readonly gives a read-only O_CLOEXEC fd");
	if (rofd >= 0) {
		ok(audit_verify_fd(rofd, &count, NULL) == 0 && count == N, "... that reads the log");
		close(rofd);
	}

	/* Reopen continues the chain. */
	audit_close(a);
	a = NULL;
	free(report);
	report = NULL;
	r = audit_open(dfd, &a, &report, &err);
	ok(r == 0 && a && audit_last_seq(a) == N && !report, "reopen finds seq %u", N);
	r = audit_append(a, "approved", tid, &alice, NULL, &seq, NULL);
	free(buf);
	buf = slurp(dfd, AUDIT_FILE, &n);
	nth_line(buf, n, N, &start, &len);
	sha256_independent(buf + start, len, h);
	{
		json_t *rec = NULL;
		nth_line(buf, n, N + 1, &start, &len);
		rec = json_loadb(buf + start, len, 0, NULL);
		ok(r == 0 && seq == N + 1 && rec &&
		   strcmp(json_string_value(json_object_get(rec, "prev")), h) == 0 &&
		   json_is_object(json_object_get(rec, "details")) &&
		   json_object_size(json_object_get(rec, "details")) == 0,
		   "after reopen the next record is seq %u chained to line %u, details {}", N + 1, N);
		json_decref(rec);
	}
	ok(verify_at(dfd, &count, NULL) == 0 && count == N + 1, "the reopened chain verifies");

	/* Replay. */
	{
		struct replay_state s = { .next = 1 };
		r = audit_replay(a, replay_cb, &s);
		ok(r == 0 && s.next == N + 2, "replay hands over records 1..%u in order", N + 1);
		s = (struct replay_state){ .next = 1, .stop_at = 3 };
		r = audit_replay(a, replay_cb, &s);
		ok(r == 42 && s.next == 4, "a callback's non-zero return stops replay and is returned");
	}

	/* Someone else appending behind our back is refused, not forked. */
	{
		_cleanup_close_ int wfd = openat(dfd, AUDIT_FILE, O_WRONLY | O_APPEND | O_CLOEXEC);
		struct replay_state s = { .next = 1 };
		ok(wfd >= 0 && write(wfd, "{}\n", 3) == 3 &&
		   audit_append(a, "x", NULL, NULL, NULL, NULL, NULL) == -ESTALE &&
		   audit_last_seq(a) == N + 1, "append refuses when the file grew behind its back");
		ok(audit_replay(a, replay_cb, &s) == -EBADMSG, "replay refuses a line it cannot parse");
	}

	audit_close(a);
	rm_dir(path, dfd);
}

/* Damage: tampered, deleted, swapped lines. */
static void test_damage(void)
{
	char path[64];
	int dfd = -1;
	struct audit_log *a = NULL;
	_cleanup_free_ char *buf = NULL, *mod = NULL;
	size_t n = 0, s1, l1, s4, l4, s5, l5, s6, l6;
	char *p;

	if (make_dir(path, &dfd) < 0 || audit_open(dfd, &a, NULL, NULL) < 0)
		return (void)ok(0, "set up");
	for (int i = 0; i < 10; i++) {
		json_t *d = json_pack("{s:s}", "note", "abcdef");
		audit_append(a, "note", NULL, NULL, d, NULL, NULL);
		json_decref(d);
	}
	audit_close(a);
	buf = slurp(dfd, AUDIT_FILE, &n);
	rm_dir(path, dfd);
	if (!buf || !nth_line(buf, n, 1, &s1, &l1) || !nth_line(buf, n, 4, &s4, &l4) || !nth_line(buf, n, 5, &s5, &l5) ||
	    !nth_line(buf, n, 6, &s6, &l6))
		return (void)ok(0, "set up lines");
	mod = malloc(n);

	/* One byte inside a string of line 5: still valid JSON. */
	memcpy(mod, buf, n);
	p = memmem(mod + s5, l5, "abcdef", 6);
	p[2] = 'X';
	expect_refused("tampered byte in line 5", mod, n,
		       "line 6: prev does not match the hash of line 5",
		       "audit.log:6: prev does not match the hash of line 5");

	/* One byte of line 5's syntax. */
	memcpy(mod, buf, n);
	p = memmem(mod + s5, l5, "\"event\"", 7);
	*p = ' ';
	{
		char *e = NULL;
		int dfd2;
		char path2[64];
		uint64_t c;
		make_dir(path2, &dfd2);
		spit(dfd2, AUDIT_FILE, mod, n, 0600);
		int r2 = verify_at(dfd2, &c, &e);
		ok(r2 == -EBADMSG && e && !strncmp(e, "line 5: not JSON: ", 18),
		   "a byte breaking line 5's JSON: \"%s\"", e ? e : "");
		free(e);
		rm_dir(path2, dfd2);
	}

	/* Line 5 deleted. */
	memcpy(mod, buf, s5);
	memcpy(mod + s5, buf + s6, n - s6);
	expect_refused("line 5 deleted", mod, n - (s6 - s5), "line 5: seq 6, expected 5",
		       "audit.log:5: seq 6, expected 5");

	/* Lines 4 and 5 swapped. */
	memcpy(mod, buf, n);
	memcpy(mod + s4, buf + s5, l5 + 1);
	memcpy(mod + s4 + l5 + 1, buf + s4, l4 + 1);
	expect_refused("lines 4 and 5 swapped", mod, n, "line 4: seq 5, expected 4",
		       "audit.log:4: seq 5, expected 4");

	/* The last line cut off entirely (a truncated log): still a valid
	 * chain by itself -- only checkpoints can catch that -- but a line cut
	 * in the middle of a record is torn, see test_torn(). */

	/* Wrong first prev. */
	memcpy(mod, buf, n);
	p = memmem(mod + s1, l1, "\"prev\":\"0", 9);
	p[8] = '1';
	expect_refused("first prev not zeros", mod, n, "line 1: prev of the first record is not 64 zeros",
		       "audit.log:1: prev of the first record is not 64 zeros");

	/* An extra key, and a line of valid JSON that is not an object. */
	expect_refused("extra key", "{\"seq\":1,\"x\":1}\n", 16,
		       "line 1: keys are not exactly seq,time,event,transfer,actor,details,prev in that order",
		       "audit.log:1: keys are not exactly seq,time,event,transfer,actor,details,prev in that order");
	expect_refused("empty line", "\n", 1, "line 1: not JSON: '[' or '{' expected near end of file (column 0)",
		       "audit.log:1: not JSON: '[' or '{' expected near end of file (column 0)");

	/* A complete line longer than AUDIT_MAX_LINE. */
	{
		size_t bn = AUDIT_MAX_LINE + 2;
		char *big = malloc(bn);
		memset(big, 'x', bn - 1);
		big[bn - 1] = '\n';
		expect_refused("overlong line", big, bn, "line 1: longer than 1048576 bytes",
			       "audit.log:1: longer than 1048576 bytes");
		free(big);
	}
}

static void test_torn(void)
{
	char path[64], sidename[256] = "";
	int dfd = -1, r;
	struct audit_log *a = NULL;
	_cleanup_free_ char *buf = NULL, *report = NULL, *err = NULL, *verr = NULL, *side = NULL,
			    *after = NULL;
	static const char torn[] = "{\"seq\":4,\"time\":\"2026-11-28T16:15:20Z\",\"event\":\"torn_marker";
	char size_text[32];
	size_t n = 0, sn = 0, an = 0, start, len;
	uint64_t count = 0;
	char h[65];
	struct stat st;

	if (make_dir(path, &dfd) < 0 || audit_open(dfd, &a, NULL, NULL) < 0)
		return (void)ok(0, "set up");
	for (int i = 0; i < 3; i++)
		audit_append(a, "note", NULL, NULL, NULL, NULL, NULL);
	audit_close(a);
	a = NULL;
	{
		_cleanup_close_ int wfd = openat(dfd, AUDIT_FILE, O_WRONLY | O_APPEND | O_CLOEXEC);
		write_full(wfd, torn, sizeof(torn) - 1);
	}
	buf = slurp(dfd, AUDIT_FILE, &n);

	r = verify_at(dfd, &count, &verr);
	ok(r == -EBADMSG && verr && strcmp(verr, "line 4: torn (no final newline)") == 0,
	   "verify refuses a torn tail: \"%s\"", verr ? verr : "");

	r = audit_open(dfd, &a, &report, &err);
	ok(r == 0 && a && report, "audit_open accepts a torn tail: %s", report ? report : err);
	if (r < 0)
		return;
	{
		DIR *d = opendir(path);
		struct dirent *de;
		int found = 0;
		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, "audit.log.torn-4-", 17)) {
				found++;
				snprintf(sidename, sizeof(sidename), "%s", de->d_name);
			}
		if (d)
			closedir(d);
		ok(found == 1, "one side file audit.log.torn-4-<time>: %s", sidename);
	}
	side = slurp(dfd, sidename, &sn);
	ok(side && sn == sizeof(torn) - 1 && memcmp(side, torn, sn) == 0 &&
	   fstatat(dfd, sidename, &st, 0) == 0 && (st.st_mode & 07777) == 0600,
	   "the 0600 side file holds exactly the torn bytes");
	snprintf(size_text, sizeof(size_text), " %zu bytes", sizeof(torn) - 1);
	ok(strstr(report, sidename) && strstr(report, size_text), "the report names the file and size");

	after = slurp(dfd, AUDIT_FILE, &an);
	ok(after && an > n - (sizeof(torn) - 1) &&
	   memcmp(after, buf, n - (sizeof(torn) - 1)) == 0 && count_lines(after, an) == 4,
	   "the complete lines are kept and one record is added");
	if (after && nth_line(after, an, 4, &start, &len)) {
		json_t *rec = json_loadb(after + start, len, 0, NULL);
		json_t *d = json_object_get(rec, "details");
		sha256_independent(torn, sizeof(torn) - 1, h);
		ok(rec && !strcmp(json_string_value(json_object_get(rec, "event")), "torn_tail_quarantined") &&
		   !strcmp(json_string_value(json_object_get(d, "file")), sidename) &&
		   json_integer_value(json_object_get(d, "bytes")) == (json_int_t)(sizeof(torn) - 1) &&
		   !strcmp(json_string_value(json_object_get(d, "sha256")), h) &&
		   json_object_size(d) == 3 && !memmem(after, an, torn, sizeof(torn) - 1),
		   "record 4 is torn_tail_quarantined {file, bytes, sha256}, without the bytes");
		json_decref(rec);
	}
	ok(verify_at(dfd, &count, NULL) == 0 && count == 4 && audit_last_seq(a) == 4,
	   "the repaired chain verifies");
	ok(audit_append(a, "note", NULL, NULL, NULL, NULL, NULL) == 0 && verify_at(dfd, &count, NULL) == 0 &&
	   count == 5, "and grows on");
	audit_close(a);
	rm_dir(path, dfd);
}

static void test_permissions(void)
{
	char path[64];
	int dfd = -1, r;
	struct audit_log *a = NULL;
	_cleanup_free_ char *err = NULL, *err2 = NULL;

	if (make_dir(path, &dfd) < 0 || audit_open(dfd, &a, NULL, NULL) < 0)
		return (void)ok(0, "set up");
	audit_append(a, "note", NULL, NULL, NULL, NULL, NULL);
	audit_close(a);
	a = NULL;

	if (fchmodat(dfd, AUDIT_FILE, 0620, 0) < 0)
		diag("chmod: %s", strerror(errno));
	r = audit_open(dfd, &a, NULL, &err);
	ok(r == -EPERM && !a && err && strstr(err, "group or others can write"),
	   "a group-writable log is refused: %s", err ? err : "");
	if (fchmodat(dfd, AUDIT_FILE, 0602, 0) < 0)
		diag("chmod: %s", strerror(errno));
	ok(audit_open(dfd, &a, NULL, NULL) == -EPERM && !a, "an other-writable log is refused");
	if (fchmodat(dfd, AUDIT_FILE, 0640, 0) < 0)
		diag("chmod: %s", strerror(errno));
	r = audit_open(dfd, &a, NULL, NULL);
	ok(r == 0 && a && audit_last_seq(a) == 1, "a 0640 log is accepted");
	audit_close(a);
	a = NULL;

	if (renameat(dfd, AUDIT_FILE, dfd, "real.log") < 0 || symlinkat("real.log", dfd, AUDIT_FILE) < 0)
		diag("symlink: %s", strerror(errno));
	r = audit_open(dfd, &a, NULL, &err2);
	ok(r == -ELOOP && !a, "a symlinked log is refused: %s", err2 ? err2 : "");
	if (unlinkat(dfd, AUDIT_FILE, 0) < 0 || mkdirat(dfd, AUDIT_FILE, 0700) < 0)
		diag("mkdir: %s", strerror(errno));
	ok(audit_open(dfd, &a, NULL, NULL) < 0 && !a, "a directory named audit.log is refused");
	(void)unlinkat(dfd, AUDIT_FILE, AT_REMOVEDIR);
	rm_dir(path, dfd);
}

static void test_hostile_strings(void)
{
	char path[64];
	int dfd = -1, r;
	struct audit_log *a = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	json_t *d, *rec = NULL;
	uint64_t count;
	static const char nasty[] = "line1\nline2\r\"quoted\" \\ \x01\x1b[31m\x7f tab\t end \xc3\xa9";
	struct audit_actor odd = { "ev\"il\n", 1002, "\x01person" };

	if (make_dir(path, &dfd) < 0 || audit_open(dfd, &a, NULL, NULL) < 0)
		return (void)ok(0, "set up");
	d = json_pack("{s:s, s:{s:[s, i]}}", "reason", nasty, "nested\n", "k", nasty, 7);
	r = audit_append(a, "note", NULL, &odd, d, NULL, &rec);
	buf = slurp(dfd, AUDIT_FILE, &n);
	ok(r == 0 && buf && count_lines(buf, n) == 1 && buf[n - 1] == '\n' &&
	   !memchr(buf, '\r', n) && !memchr(buf, '\x01', n) && !memchr(buf, '\x1b', n),
	   "newline, CR, quote and control bytes stay inside one escaped line");
	ok(rec && json_equal(json_object_get(rec, "details"), d), "the returned record holds the details");
	{
		struct replay_state s = { .next = 1, .want_details = d };
		ok(audit_replay(a, replay_cb, &s) == 0 && s.details_equal, "the details round-trip exactly");
	}
	ok(verify_at(dfd, &count, NULL) == 0 && count == 1, "and the log verifies");
	{
		json_t *bad = json_object();
		json_object_set_new(bad, "s", json_stringn("x\0y", 3));
		ok(audit_append(a, "note", NULL, NULL, bad, NULL, NULL) == -EINVAL &&
		   audit_last_seq(a) == 1, "a string with a NUL byte is refused, not truncated");
		json_decref(bad);
	}
	json_decref(d);
	json_decref(rec);
	audit_close(a);
	rm_dir(path, dfd);
}

static void test_failed_write(void)
{
	char path[64];
	int dfd = -1, r;
	struct audit_log *a = NULL;
	_cleanup_free_ char *before = NULL, *after = NULL;
	size_t bn = 0, an = 0;
	struct rlimit old, lim;
	json_t *d;
	uint64_t seq = 0, count = 0;

	if (make_dir(path, &dfd) < 0 || audit_open(dfd, &a, NULL, NULL) < 0)
		return (void)ok(0, "set up");
	audit_append(a, "note", NULL, NULL, NULL, NULL, NULL);
	audit_append(a, "note", NULL, NULL, NULL, NULL, NULL);
	before = slurp(dfd, AUDIT_FILE, &bn);

	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = bn + 20; /* room for 20 bytes: a short write, then EFBIG */
	if (setrlimit(RLIMIT_FSIZE, &lim) < 0) {
		ok(0, "setrlimit: %s", strerror(errno));
		return;
	}
	d = json_pack("{s:s}", "why", "a record that does not fit under RLIMIT_FSIZE");
	r = audit_append(a, "note", NULL, NULL, d, &seq, NULL);
	setrlimit(RLIMIT_FSIZE, &old);
	after = slurp(dfd, AUDIT_FILE, &an);
	ok(r == -EFBIG, "a write that cannot complete fails: %s", strerror(-r));
	ok(after && an == bn && !memcmp(before, after, bn) && audit_last_seq(a) == 2,
	   "no partial line is left and seq is unchanged");

	r = audit_append(a, "note", NULL, NULL, d, &seq, NULL);
	ok(r == 0 && seq == 3 && verify_at(dfd, &count, NULL) == 0 && count == 3,
	   "after raising the limit the next append continues the chain");
	json_decref(d);
	audit_close(a);
	rm_dir(path, dfd);
}

int main(void)
{
	test_chain();
	test_damage();
	test_torn();
	test_permissions();
	test_hostile_strings();
	test_failed_write();
	return tap_done();
}
