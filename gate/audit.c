/* audit.c - the hash-chained, append-only audit log (I4).
 *
 * One function, check_line(), decides whether a line is a valid record at
 * its place in the chain.  Everything that reads the log (audit_open,
 * audit_replay, audit_verify_fd) goes through walk(), which streams the
 * file with bounded memory and calls check_line() for every complete line;
 * audit_append() runs the record it is about to write through the same
 * check_line(), so the writer can never produce a line the verifier refuses.
 */
#include "audit.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "util.h"

#if JANSSON_VERSION_HEX < 0x020e00
#error "jansson >= 2.14 is needed: key order is checked on objects as parsed"
#endif

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define READ_CHUNK (64 * 1024)

struct audit_log {
	int dirfd;        /* our own dup of the state directory */
	int fd;           /* AUDIT_FILE, O_RDWR|O_APPEND */
	uint64_t seq;     /* seq of the last record, 0 for an empty log */
	uint64_t size;    /* bytes of complete lines in the file */
	char head[65];    /* sha256 hex of the last line, ZERO_HASH if none */
	bool broken;      /* a failed append could not be undone: refuse more */
	audit_mirror_fn mirror; /* borrowed: called before each line is written */
	void *mirror_ud;
};

void audit_set_mirror(struct audit_log *a, audit_mirror_fn fn, void *userdata)
{
	a->mirror = fn;
	a->mirror_ud = userdata;
}

static const char *const record_keys[] = {
	"seq", "time", "event", "transfer", "actor", "details", "prev",
};
static const char *const actor_keys[] = { "account", "uid", "person" };

/* asprintf into *ret (if ret is not NULL); an allocation failure leaves
 * *ret NULL, which callers treat as "no message". */
_printf_(2, 3) static void set_msg(char **ret, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!ret)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*ret = s;
}

/* True if obj has exactly the keys names[0..n-1], in that order. */
static bool has_keys_in_order(json_t *obj, const char *const *names, size_t n)
{
	size_t i = 0;

	if (json_object_size(obj) != n)
		return false;
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it), i++)
		if (i >= n || strcmp(json_object_iter_key(it), names[i]) != 0)
			return false;
	return i == n;
}

static bool is_event_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return false;
	return true;
}

static bool is_actor(json_t *v)
{
	json_int_t uid;

	if (json_is_null(v))
		return true;
	if (!json_is_object(v) || !has_keys_in_order(v, actor_keys, ELEMENTSOF(actor_keys)))
		return false;
	if (!json_is_string(json_object_get(v, "account")) ||
	    !json_is_string(json_object_get(v, "person")) ||
	    !json_is_integer(json_object_get(v, "uid")))
		return false;
	uid = json_integer_value(json_object_get(v, "uid"));
	/* (uid_t)-1 is "no uid" and never a person's account. */
	return uid >= 0 && uid < (json_int_t)UINT32_MAX;
}

/* The one validation of a record line.  line[0..len) is the line without
 * its newline, lineno its 1-based number (which is also its seq) and head
 * the hash of the line before it (ZERO_HASH for the first).  Returns 0 and
 * the parsed record in *ret_record, or -EBADMSG (-E2BIG for an overlong
 * line) with *ret_what saying what is wrong (no line prefix). */
static int check_line(const char *line, size_t len, uint64_t lineno, const char *head,
		      json_t **ret_record, char **ret_what)
{
	json_t *rec = NULL, *v;
	json_error_t jerr;
	const char *s;
	time_t t;
	int r = -EBADMSG;

	if (len > AUDIT_MAX_LINE) {
		set_msg(ret_what, "longer than %d bytes", AUDIT_MAX_LINE);
		return -E2BIG;
	}
	rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!rec) {
		_cleanup_free_ char *text = str_escape(jerr.text, sizeof(jerr.text));
		set_msg(ret_what, "not JSON: %s (column %d)", text ? text : "?", jerr.column);
		return -EBADMSG;
	}
	if (!json_is_object(rec)) {
		set_msg(ret_what, "not a JSON object");
		goto out;
	}
	if (!has_keys_in_order(rec, record_keys, ELEMENTSOF(record_keys))) {
		set_msg(ret_what, "keys are not exactly seq,time,event,transfer,actor,details,prev in that order");
		goto out;
	}

	v = json_object_get(rec, "seq");
	if (!json_is_integer(v)) {
		set_msg(ret_what, "seq is not an integer");
		goto out;
	}
	if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) != lineno) {
		set_msg(ret_what, "seq %" JSON_INTEGER_FORMAT ", expected %" PRIu64,
			json_integer_value(v), lineno);
		goto out;
	}

	v = json_object_get(rec, "time");
	if (!json_is_string(v) || parse_time(json_string_value(v), &t) < 0) {
		set_msg(ret_what, "time is not a UTC time like 2026-11-28T16:15:20Z");
		goto out;
	}

	v = json_object_get(rec, "event");
	if (!json_is_string(v) || !is_event_name(json_string_value(v))) {
		set_msg(ret_what, "event is not a non-empty string of [a-z_]");
		goto out;
	}

	v = json_object_get(rec, "transfer");
	if (!json_is_null(v) &&
	    !(json_is_string(v) && json_string_length(v) == 32 && is_hex(json_string_value(v), 32))) {
		set_msg(ret_what, "transfer is neither null nor 32 lowercase hex digits");
		goto out;
	}

	if (!is_actor(json_object_get(rec, "actor"))) {
		set_msg(ret_what, "actor is neither null nor {\"account\":string,\"uid\":uid,\"person\":string}");
		goto out;
	}

	if (!json_is_object(json_object_get(rec, "details"))) {
		set_msg(ret_what, "details is not an object");
		goto out;
	}

	v = json_object_get(rec, "prev");
	s = json_string_value(v);
	if (!s || json_string_length(v) != 64 || !is_hex(s, 64)) {
		set_msg(ret_what, "prev is not 64 lowercase hex digits");
		goto out;
	}
	if (strcmp(s, head) != 0) {
		if (lineno == 1)
			set_msg(ret_what, "prev of the first record is not 64 zeros");
		else
			set_msg(ret_what, "prev does not match the hash of line %" PRIu64, lineno - 1);
		goto out;
	}

	*ret_record = TAKE_PTR(rec);
	r = 0;
out:
	json_decref(rec);
	return r;
}

/* State of a walk over the log. */
struct chain {
	uint64_t lines;   /* complete, valid lines so far (== last seq) */
	uint64_t end;     /* offset just past the last complete line */
	char head[65];    /* hash of the last complete line */
	char *tail;       /* bytes after the last newline (torn line), or NULL */
	size_t tail_len;
};

static void chain_init(struct chain *c)
{
	*c = (struct chain){ 0 };
	memcpy(c->head, ZERO_HASH, sizeof(c->head));
}

static void chain_done(struct chain *c)
{
	free(c->tail);
	c->tail = NULL;
}

/* Read fd from its current offset to EOF, checking every complete line
 * with check_line() and handing each record to cb (borrowed for the call).
 * At most AUDIT_MAX_LINE + 1 bytes are buffered.  Returns 0 at EOF with the
 * unterminated rest, if any, in c->tail; -EBADMSG with *ret_what for a bad
 * line (line number c->lines + 1); -errno for I/O; or what cb returned if
 * that was not 0. */
static int walk(int fd, struct chain *c, audit_record_cb cb, void *userdata, char **ret_what)
{
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0, have = 0;

	for (;;) {
		size_t from = have, start = 0;
		const char *nl;
		ssize_t n;

		if (have == cap) {
			/* have <= AUDIT_MAX_LINE here, so this stays bounded. */
			size_t ncap = cap ? cap * 2 : READ_CHUNK;
			char *nbuf;

			if (ncap > (size_t)AUDIT_MAX_LINE + 1)
				ncap = (size_t)AUDIT_MAX_LINE + 1;
			nbuf = realloc(buf, ncap);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + have, cap - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		have += (size_t)n;

		while ((nl = memchr(buf + from, '\n', have - from))) {
			size_t len = (size_t)(nl - (buf + start));
			json_t *rec = NULL;
			int r;

			r = check_line(buf + start, len, c->lines + 1, c->head, &rec, ret_what);
			if (r < 0)
				return -EBADMSG;
			c->lines++;
			c->end += len + 1;
			sha256_hex(buf + start, len, c->head);
			r = cb ? cb(rec, userdata) : 0;
			json_decref(rec);
			if (r != 0)
				return r;
			start = from = start + len + 1;
		}
		if (start > 0) {
			memmove(buf, buf + start, have - start);
			have -= start;
		}
		if (have > AUDIT_MAX_LINE) {
			set_msg(ret_what, "longer than %d bytes", AUDIT_MAX_LINE);
			return -EBADMSG;
		}
	}
	if (have > 0) {
		c->tail = TAKE_PTR(buf);
		c->tail_len = have;
	}
	return 0;
}

/* fsync a directory given by an fd that may be O_PATH. */
static int fsync_dirfd(int dirfd)
{
	_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

void audit_close(struct audit_log *a)
{
	if (!a)
		return;
	closep(&a->fd);
	closep(&a->dirfd);
	free(a);
}

static void audit_closep(struct audit_log **a)
{
	audit_close(*a);
}

bool audit_broken(const struct audit_log *a)
{
	return a->broken;
}

uint64_t audit_last_seq(const struct audit_log *a)
{
	return a->seq;
}

/* Undo a partly or wholly written record: cut the file back to the last
 * complete record.  If even that fails, the file's tail is unknown and the
 * log refuses further appends rather than fork the chain. */
static void cut_back(struct audit_log *a)
{
	int saved = errno;

	if (ftruncate(a->fd, (off_t)a->size) < 0 || fsync(a->fd) < 0)
		a->broken = true;
	errno = saved;
}

int audit_append(struct audit_log *a, const char *event, const char *transfer,
		 const struct audit_actor *actor, json_t *details,
		 uint64_t *ret_seq, json_t **ret_record)
{
	json_t *rec = NULL, *checked = NULL, *act = NULL;
	_cleanup_free_ char *line = NULL, *what = NULL;
	char tbuf[32], head[65];
	struct stat st;
	size_t len;
	int r;

	if (!a || !event || !is_event_name(event))
		return -EINVAL;
	if (transfer && !transfer_id_valid(transfer))
		return -EINVAL;
	if (actor && (!actor->account || !actor->person || actor->uid == (uid_t)-1))
		return -EINVAL;
	if (details && !json_is_object(details))
		return -EINVAL;
	if (a->broken)
		return -EIO;
	if (a->seq >= (uint64_t)INT64_MAX)
		return -EOVERFLOW;

	format_time(time(NULL), tbuf);
	if (actor) {
		act = json_object();
		if (!act ||
		    json_object_set_new(act, "account", json_string(actor->account)) < 0 ||
		    json_object_set_new(act, "uid", json_integer((json_int_t)actor->uid)) < 0 ||
		    json_object_set_new(act, "person", json_string(actor->person)) < 0) {
			/* json_string() refuses invalid UTF-8 as well as failing on OOM. */
			r = -EINVAL;
			goto out;
		}
	} else
		act = json_null();

	rec = json_object();
	if (!rec ||
	    json_object_set_new(rec, "seq", json_integer((json_int_t)(a->seq + 1))) < 0 ||
	    json_object_set_new(rec, "time", json_string(tbuf)) < 0 ||
	    json_object_set_new(rec, "event", json_string(event)) < 0 ||
	    json_object_set_new(rec, "transfer", transfer ? json_string(transfer) : json_null()) < 0 ||
	    json_object_set(rec, "actor", act) < 0 ||
	    /* A copy, so that the record handed back stays what was written. */
	    json_object_set_new(rec, "details", details ? json_deep_copy(details) : json_object()) < 0 ||
	    json_object_set_new(rec, "prev", json_string(a->head)) < 0) {
		r = -ENOMEM;
		goto out;
	}

	line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line) {
		r = -ENOMEM;
		goto out;
	}
	len = strlen(line);
	/* Never write a line that the verifier would refuse (too long, a
	 * \u0000 in details, nesting deeper than the parser takes, ...). */
	r = check_line(line, len, a->seq + 1, a->head, &checked, &what);
	if (r < 0) {
		r = r == -E2BIG ? -E2BIG : -EINVAL;
		goto out;
	}
	json_decref(checked);
	sha256_hex(line, len, head);

	/* Someone else wrote to the file: appending would fork the chain. */
	if (fstat(a->fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size != a->size) {
		r = -ESTALE;
		goto out;
	}
	/* The mirror first: a record the kernel refused is not written, so
	 * the change does not take effect (kernel_audit = required). */
	if (a->mirror) {
		r = a->mirror(a->mirror_ud, a->seq + 1, event, transfer, line, len, a->head);
		if (r < 0)
			goto out;
	}

	line[len] = '\n'; /* over the NUL; the line is not used as a string after this */
	r = write_full(a->fd, line, len + 1);
	if (r < 0) {
		cut_back(a);
		goto out;
	}
	if (fdatasync(a->fd) < 0) {
		/* Whether the record is on disk is unknown: take it back so that
		 * memory and file agree on where the chain ends. */
		r = -errno;
		cut_back(a);
		goto out;
	}

	a->seq++;
	a->size += len + 1;
	memcpy(a->head, head, sizeof(a->head));
	if (ret_seq)
		*ret_seq = a->seq;
	if (ret_record)
		*ret_record = json_incref(rec);
	r = 0;
out:
	json_decref(act);
	json_decref(rec);
	return r;
}

/* Move a torn last line into a side file, cut it off the log and record
 * that.  a->size is already the end of the last complete line. */
static int quarantine_tail(struct audit_log *a, const char *tail, size_t n,
			   char **ret_report, char **ret_error)
{
	_cleanup_close_ int sfd = -1;
	json_t *details = NULL;
	char name[96], hash[65];
	time_t now = time(NULL);
	uint64_t seq;
	int r;

	/* The name is new: a crash in an earlier attempt in the same second
	 * may have left one behind, so step on rather than overwrite it. */
	for (int i = 0; i < 16 && sfd < 0; i++) {
		snprintf(name, sizeof(name), "%s.torn-%" PRIu64 "-%lld", AUDIT_FILE,
			 a->seq + 1, (long long)now + i);
		sfd = openat(a->dirfd, name,
			     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
		if (sfd < 0 && errno != EEXIST)
			break;
	}
	if (sfd < 0) {
		r = -errno;
		set_msg(ret_error, "%s: cannot create a file for its torn last line: %s",
			AUDIT_FILE, strerror(-r));
		return r;
	}
	r = write_full(sfd, tail, n);
	if (r >= 0 && fsync(sfd) < 0)
		r = -errno;
	if (r >= 0)
		r = fsync_dirfd(a->dirfd);
	if (r < 0) {
		set_msg(ret_error, "%s: cannot write %s: %s", AUDIT_FILE, name, strerror(-r));
		return r;
	}

	/* Only now that the bytes are safe elsewhere are they cut off. */
	if (ftruncate(a->fd, (off_t)a->size) < 0 || fsync(a->fd) < 0) {
		r = -errno;
		set_msg(ret_error, "%s: cannot cut off its torn last line (kept in %s): %s",
			AUDIT_FILE, name, strerror(-r));
		return r;
	}

	sha256_hex(tail, n, hash);
	details = json_pack("{s:s, s:I, s:s}", "file", name, "bytes", (json_int_t)n, "sha256", hash);
	if (!details)
		r = -ENOMEM;
	else
		r = audit_append(a, "torn_tail_quarantined", NULL, NULL, details, &seq, NULL);
	json_decref(details);
	if (r < 0) {
		set_msg(ret_error, "%s: cannot record that its torn last line went to %s: %s",
			AUDIT_FILE, name, strerror(-r));
		return r;
	}
	if (ret_report) {
		char *s = NULL;
		if (asprintf(&s, "%s ended in a torn line of %zu bytes (no final newline); "
			     "moved those bytes to %s and recorded that as record %" PRIu64,
			     AUDIT_FILE, n, name, seq) < 0)
			return -ENOMEM;
		*ret_report = s;
	}
	return 0;
}

int audit_open(int dirfd, struct audit_log **ret, char **ret_report, char **ret_error)
{
	_cleanup_(audit_closep) struct audit_log *a = NULL;
	_cleanup_free_ char *what = NULL;
	struct chain c;
	struct stat st;
	int r;

	if (!ret)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = a->dirfd = -1;

	a->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (a->dirfd < 0) {
		r = -errno;
		set_msg(ret_error, "%s: bad state directory fd: %s", AUDIT_FILE, strerror(-r));
		return r;
	}
	a->fd = openat(a->dirfd, AUDIT_FILE,
		       O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (a->fd < 0) {
		r = -errno;
		set_msg(ret_error, "%s: cannot open: %s", AUDIT_FILE, strerror(-r));
		return r;
	}
	if (fstat(a->fd, &st) < 0) {
		r = -errno;
		set_msg(ret_error, "%s: %s", AUDIT_FILE, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		set_msg(ret_error, "%s: not a regular file", AUDIT_FILE);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		set_msg(ret_error, "%s: group or others can write it (mode %04o)", AUDIT_FILE,
			(unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (st.st_uid != geteuid()) {
		set_msg(ret_error, "%s: owned by uid %u, not by us (uid %u)", AUDIT_FILE,
			(unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	/* The file may have just been created: make its name durable. */
	r = fsync_dirfd(a->dirfd);
	if (r < 0) {
		set_msg(ret_error, "%s: cannot sync the state directory: %s", AUDIT_FILE, strerror(-r));
		return r;
	}

	chain_init(&c);
	r = walk(a->fd, &c, NULL, NULL, &what);
	if (r < 0) {
		if (r == -EBADMSG)
			set_msg(ret_error, "%s:%" PRIu64 ": %s", AUDIT_FILE, c.lines + 1,
				what ? what : "bad record");
		else
			set_msg(ret_error, "%s: cannot read: %s", AUDIT_FILE, strerror(-r));
		chain_done(&c);
		return r;
	}
	a->seq = c.lines;
	a->size = c.end;
	memcpy(a->head, c.head, sizeof(a->head));

	if (c.tail) {
		r = quarantine_tail(a, c.tail, c.tail_len, ret_report, ret_error);
		chain_done(&c);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(a);
	return 0;
}

int audit_open_readonly(struct audit_log *a)
{
	_cleanup_close_ int fd = -1;
	struct stat mine, theirs;

	fd = openat(a->dirfd, AUDIT_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* The same file we append to, not one put in its place. */
	if (fstat(fd, &theirs) < 0 || fstat(a->fd, &mine) < 0)
		return -errno;
	if (mine.st_dev != theirs.st_dev || mine.st_ino != theirs.st_ino)
		return -ESTALE;
	return TAKE_FD(fd);
}

int audit_replay(struct audit_log *a, audit_record_cb cb, void *userdata)
{
	_cleanup_close_ int fd = -1;
	struct chain c;
	int r;

	if (!a || !cb)
		return -EINVAL;
	fd = audit_open_readonly(a);
	if (fd < 0)
		return fd;
	chain_init(&c);
	r = walk(fd, &c, cb, userdata, NULL);
	if (r == 0 && (c.tail || c.lines != a->seq || strcmp(c.head, a->head) != 0))
		/* Not the chain that audit_open verified and we extended. */
		r = -EBADMSG;
	chain_done(&c);
	return r;
}

struct line_adapter {
	const struct chain *c;
	audit_line_cb cb;
	void *userdata;
};

/* walk() hashes each line into c->head before it calls back */
static int line_adapter_cb(json_t *record, void *userdata)
{
	struct line_adapter *a = userdata;

	return a->cb(record, a->c->head, a->userdata);
}

int audit_verify_fd(int fd, uint64_t *ret_count, char **ret_error)
{
	return audit_verify_fd_lines(fd, NULL, NULL, ret_count, ret_error);
}

int audit_verify_fd_lines(int fd, audit_line_cb cb, void *userdata, uint64_t *ret_count, char **ret_error)
{
	_cleanup_free_ char *what = NULL;
	struct chain c;
	struct line_adapter a = { .c = &c, .cb = cb, .userdata = userdata };
	int r;

	chain_init(&c);
	r = walk(fd, &c, cb ? line_adapter_cb : NULL, &a, &what);
	if (r == -EBADMSG)
		set_msg(ret_error, "line %" PRIu64 ": %s", c.lines + 1, what ? what : "bad record");
	else if (r < 0)
		set_msg(ret_error, "cannot read: %s", strerror(-r));
	else if (c.tail) {
		set_msg(ret_error, "line %" PRIu64 ": torn (no final newline)", c.lines + 1);
		r = -EBADMSG;
	}
	chain_done(&c);
	if (r < 0)
		return r;
	if (ret_count)
		*ret_count = c.lines;
	return 0;
}
