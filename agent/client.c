/* client.c - connection, frame loop and output helpers of the `dumpgate`
 * CLI (client.h); the commands themselves are in dumpgate.c.
 *
 * The gate is trusted to be the gate, but not to be bug-free: every frame
 * is checked (type allowed for this command, size, JSON shape) and anything
 * unexpected ends the exchange with -EPROTO instead of being skipped.
 *
 * Secrets (an OTP, a token's AES key) travel in requests and, for a key
 * the gate generated, in an end frame: the request's JSON text and the
 * frame buffer are wiped after every exchange, whatever it carried.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "msg.h"
#include "util.h"

#define COPY_CHUNK 65536
#define MAX_RESPONSE (256u * 1024 * 1024) /* list/show/audit-line bytes we buffer */

static void wipe_strp(char **p)
{
	if (*p)
		secure_free(*p, strlen(*p));
}

int client_connect(const char *path, int *ret_sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int sock = -1;
	size_t n = strlen(path);

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n);

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	while (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		if (errno != EINTR)
			return -errno;
	*ret_sock = TAKE_FD(sock);
	return 0;
}

/* 'P' payload: exactly {"bytes":N} with N >= 0. */
static int parse_progress(const uint8_t *p, size_t n, uint64_t *ret)
{
	json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
	json_t *b = o ? json_object_get(o, "bytes") : NULL;
	int rc = -EPROTO;

	if (json_is_object(o) && json_object_size(o) == 1 && json_is_integer(b) &&
	    json_integer_value(b) >= 0) {
		*ret = (uint64_t)json_integer_value(b);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* 'E' payload: an object with a boolean "ok"; "error" a string if !ok. */
static int parse_end(const uint8_t *p, size_t n, json_t **ret)
{
	json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
	json_t *okv = o ? json_object_get(o, "ok") : NULL;

	if (!json_is_object(o) || !json_is_boolean(okv) ||
	    (json_is_false(okv) && !json_is_string(json_object_get(o, "error")))) {
		json_decref(o);
		return -EPROTO;
	}
	*ret = o;
	return 0;
}

struct copier {
	int in, out; /* out -1 once closed */
	uint8_t *buf;
	size_t len, off;
	uint64_t copied;
	bool eof;
};

static void copier_stop(struct copier *c)
{
	closep(&c->out);
	c->out = -1;
}

/* One step of stdin -> pipe after poll() said in or out is ready. */
static int copier_step(struct copier *c, short in_revents, short out_revents, const char **ret_why)
{
	ssize_t k;

	if (c->off < c->len) {
		if (!out_revents)
			return 0;
		k = write(c->out, c->buf + c->off, c->len - c->off);
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				return 0;
			if (errno == EPIPE) {
				/* The gate stopped reading (it will say why in
				 * its end frame): stop copying, keep listening. */
				copier_stop(c);
				return 0;
			}
			*ret_why = "copying standard input to the gate";
			return -errno;
		}
		c->off += (size_t)k;
		c->copied += (uint64_t)k;
		return 0;
	}
	if (!in_revents)
		return 0;
	k = read(c->in, c->buf, COPY_CHUNK);
	if (k < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		*ret_why = "reading standard input";
		return -errno;
	}
	if (k == 0) {
		c->eof = true;
		copier_stop(c); /* EOF: the gate sees EOF on its read end */
		return 0;
	}
	c->len = (size_t)k;
	c->off = 0;
	return 0;
}

/* Handle one received frame; returns 1 when it was the 'E' frame. */
static int handle_frame(const uint8_t *f, size_t n, struct client_ops *ops, json_t **ret_end,
			const char **ret_why)
{
	uint64_t bytes;
	int rc;

	switch (f[0]) {
	case PROTO_END:
		if (parse_end(f + 1, n - 1, ret_end) < 0) {
			*ret_why = "protocol error: malformed end frame from the gate";
			return -EPROTO;
		}
		return 1;
	case PROTO_PROGRESS:
		if (!(ops->allow & CLIENT_ALLOW_PROGRESS)) {
			*ret_why = "protocol error: unexpected progress frame from the gate";
			return -EPROTO;
		}
		if (parse_progress(f + 1, n - 1, &bytes) < 0) {
			*ret_why = "protocol error: malformed progress frame from the gate";
			return -EPROTO;
		}
		if (ops->progress)
			ops->progress(bytes, ops->userdata);
		return 0;
	case PROTO_DATA:
		if (!(ops->allow & CLIENT_ALLOW_DATA) || !ops->data) {
			*ret_why = "protocol error: unexpected data frame from the gate";
			return -EPROTO;
		}
		rc = ops->data(f + 1, n - 1, ops->userdata, ret_why);
		return rc < 0 ? rc : 0;
	default:
		*ret_why = "protocol error: unknown frame type from the gate";
		return -EPROTO;
	}
}

static int recv_frame(int sock, uint8_t *buf, size_t *ret_len, const char **ret_why)
{
	int fd = -1, rc;

	do
		rc = msg_recv(sock, buf, PROTO_MAX_FRAME, &fd);
	while (rc == -EINTR);
	/* A gate that refused us at accept and closed before reading our
	 * request makes the kernel report ECONNRESET once, ahead of the
	 * refusal it queued: read again to get that refusal. */
	if (rc == -ECONNRESET)
		rc = msg_recv(sock, buf, PROTO_MAX_FRAME, &fd);
	if (fd >= 0) {
		close(fd);
		*ret_why = "protocol error: the gate sent a file descriptor";
		return -EPROTO;
	}
	if (rc == -EBADMSG) {
		*ret_why = "protocol error: oversized frame from the gate";
		return -EPROTO;
	}
	if (rc < 0) {
		*ret_why = "receiving from the gate";
		return rc;
	}
	if (rc == 0) {
		*ret_why = "the gate closed the connection before the end of the exchange";
		return -EPROTO;
	}
	*ret_len = (size_t)rc;
	return 0;
}

static int send_commit(int sock, uint8_t *frame, uint64_t bytes, const char **ret_why)
{
	_cleanup_free_ char *json = NULL; /* only a byte count */
	size_t n;
	int rc;

	rc = proto_commit_encode(bytes, &json);
	if (rc < 0) {
		*ret_why = "encoding the commit";
		return rc;
	}
	n = strlen(json);
	frame[0] = PROTO_COMMIT;
	memcpy(frame + 1, json, n);
	do
		rc = msg_send(sock, frame, n + 1, -1);
	while (rc == -EINTR);
	if (rc < 0)
		*ret_why = "sending the end of the stream to the gate";
	return rc < 0 ? rc : 0;
}

int client_exchange(int sock, const struct proto_req *req, int pass_fd, struct client_ops *ops,
		    json_t **ret_end, const char **ret_why)
{
	_cleanup_close_ int fd = pass_fd;
	_cleanup_(wipe_strp) char *json = NULL;
	_cleanup_free_ uint8_t *copybuf = NULL;
	uint8_t *frame = NULL;
	struct copier c = { .in = ops->copy_in, .out = ops->copy_out };
	json_t *end = NULL;
	size_t n;
	int rc;

	*ret_why = "internal error";
	rc = proto_req_encode(req, &json);
	if (rc < 0) {
		*ret_why = "encoding the request";
		goto out;
	}
	n = strlen(json);
	frame = malloc(PROTO_MAX_FRAME);
	if (!frame) {
		rc = -ENOMEM;
		goto out;
	}
	if (n + 1 > PROTO_MAX_FRAME) {
		*ret_why = "encoding the request";
		rc = -EMSGSIZE;
		goto out;
	}
	frame[0] = PROTO_REQ;
	memcpy(frame + 1, json, n);
	do
		rc = msg_send(sock, frame, n + 1, fd);
	while (rc == -EINTR);
	if (rc == -EPIPE || rc == -ECONNRESET) {
		/* The gate may have refused the connection before reading it
		 * (connection limits): its refusal is waiting to be read. */
		size_t len = 0;
		const char *why2 = NULL;
		if (recv_frame(sock, frame, &len, &why2) == 0 && len > 0 && frame[0] == PROTO_END &&
		    handle_frame(frame, len, ops, &end, ret_why) == 1) {
			*ret_end = TAKE_PTR(end);
			rc = 0;
			goto out;
		}
	}
	if (rc < 0) {
		*ret_why = "sending the request to the gate";
		goto out;
	}
	closep(&fd); /* the gate has its own copy now */
	fd = -1;

	if (c.out >= 0) {
		copybuf = malloc(COPY_CHUNK);
		if (!copybuf) {
			rc = -ENOMEM;
			goto out;
		}
		c.buf = copybuf;
		int fl = fcntl(c.out, F_GETFL);
		if (fl < 0 || fcntl(c.out, F_SETFL, fl | O_NONBLOCK) < 0) {
			rc = -errno;
			*ret_why = "setting up the copy of standard input";
			goto out;
		}
	}

	for (;;) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = -1 } };
		if (c.out >= 0) {
			if (c.off < c.len)
				p[1] = (struct pollfd){ .fd = c.out, .events = POLLOUT };
			else
				p[1] = (struct pollfd){ .fd = c.in, .events = POLLIN };
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			*ret_why = "waiting for the gate";
			goto out;
		}
		if (p[0].revents) {
			size_t len = 0;
			rc = recv_frame(sock, frame, &len, ret_why);
			if (rc < 0)
				goto out;
			rc = handle_frame(frame, len, ops, &end, ret_why);
			if (rc < 0)
				goto out;
			if (rc == 1)
				break; /* an early end also stops the copy */
		}
		if (c.out >= 0 && p[1].revents) {
			bool is_out = p[1].fd == c.out && c.off < c.len;
			rc = copier_step(&c, is_out ? 0 : p[1].revents, is_out ? p[1].revents : 0, ret_why);
			if (rc < 0)
				goto out;
			if (c.eof) {
				/* The whole stream is in the pipe: tell the gate how
				 * much, so a stream cut short is never stored. */
				rc = send_commit(sock, frame, c.copied, ret_why);
				if (rc < 0)
					goto out;
			}
		}
	}
	*ret_end = TAKE_PTR(end);
	rc = 0;
out:
	copier_stop(&c);
	ops->copied = c.copied;
	ops->copy_eof = c.eof;
	json_decref(end);
	secure_free(frame, PROTO_MAX_FRAME);
	return rc;
}

/* ---- output helpers for the commands: the CLI gives up on out-of-memory. */

_Noreturn void client_oom(void)
{
	fputs("dumpgate: out of memory\n", stderr);
	exit(1);
}

char *client_escape(const char *s, size_t max)
{
	char *e = str_escape(s, max);
	if (!e)
		client_oom();
	return e;
}

char *client_strdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		client_oom();
	return d;
}

void client_errorf(const char *fmt, ...)
{
	va_list ap;

	fputs("dumpgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void client_human_size(uint64_t n, char buf[static 32])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;

	if (n < 1024) {
		snprintf(buf, 32, "%" PRIu64 " B", n);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, "%.1f %s", v, units[u]);
}

/* ---- progress bar (submit, only when stderr is a terminal) */

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col > 300 ? 300 : ws.ws_col;
	return 80;
}

void client_progress_clear(struct client_progress *pg)
{
	if (!pg || !pg->drawn)
		return;
	fprintf(stderr, "\r%*s\r", term_width() - 1, "");
	fflush(stderr);
	pg->drawn = false;
}

void client_progress_update(uint64_t bytes, void *userdata)
{
	struct client_progress *pg = userdata;
	struct timespec now;
	char done[32], total[32], text[128], bar[320];
	double secs;
	int width;

	if (!pg->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (pg->drawn && since(&pg->last, &now) < 0.1 && !(pg->size_known && bytes >= pg->size))
		return;
	pg->last = now;
	secs = since(&pg->start, &now);
	client_human_size(bytes, done);
	double rate = secs > 0.05 ? (double)bytes / 1e6 / secs : 0.0;

	width = term_width() - 1;
	bar[0] = 0;
	if (pg->size_known && pg->size > 0) {
		uint64_t b = bytes > pg->size ? pg->size : bytes;
		double frac = (double)b / (double)pg->size;
		client_human_size(pg->size, total);
		snprintf(text, sizeof(text), " %3d%%  %s / %s  %.1f MB/s", (int)(frac * 100), done,
			 total, rate);
		/* Fixed bar width (the text's length varies) so that it stays put. */
		int barw = width - 2 - 52;
		if (barw > 40)
			barw = 40;
		if (barw >= 10) {
			int fill = (int)(frac * barw);
			bar[0] = '[';
			for (int i = 0; i < barw; i++)
				bar[1 + i] = i < fill ? '#' : '-';
			bar[1 + barw] = ']';
			bar[2 + barw] = 0;
		}
	} else {
		snprintf(text, sizeof(text), "%s sent  %.1f MB/s", done, rate);
	}
	/* Padded to the full width so that a shorter line leaves no residue. */
	fprintf(stderr, "\r%s%-*.*s", bar, width - (int)strlen(bar), width - (int)strlen(bar), text);
	fflush(stderr);
	pg->drawn = true;
}

/* ---- one exchange with the gate, reporting errors once */

/* Refuse locally what the gate would refuse, with the same words: 0, or
 * exit code 2 after saying why. */
static int check_request(const struct proto_req *req)
{
	_cleanup_(wipe_strp) char *json = NULL;
	struct proto_req check = { 0 };
	const char *why = NULL;
	int rc;

	rc = proto_req_encode(req, &json);
	if (rc == -EILSEQ) {
		client_errorf("arguments must be valid UTF-8");
		return 2;
	}
	if (rc < 0) {
		client_errorf("cannot encode the request: %s", strerror(-rc));
		return 2;
	}
	rc = proto_req_decode((const uint8_t *)json, strlen(json), &check, &why);
	proto_req_clear(&check);
	if (rc < 0) {
		client_errorf("invalid request: %s", why);
		return 2;
	}
	return 0;
}

/* The outcome of client_exchange(), reported once: 0 with *ret_end (an
 * end object with "ok":true), or exit code 1. */
static int exchange_result(int rc, const char *why, json_t *end, json_t **ret_end)
{
	if (rc == -EPROTO) {
		client_errorf("%s", why);
		return 1;
	}
	if (rc < 0) {
		client_errorf("%s: %s", why, strerror(-rc));
		return 1;
	}
	if (!json_is_true(json_object_get(end, "ok"))) {
		json_t *e = json_object_get(end, "error");
		_cleanup_free_ char *msg = client_escape(json_string_value(e), json_string_length(e));
		client_errorf("%s", msg);
		json_decref(end);
		return 1;
	}
	*ret_end = end;
	return 0;
}

int client_open(const char *sockpath, int *ret_sock)
{
	int rc = client_connect(sockpath, ret_sock);

	if (rc < 0) {
		_cleanup_free_ char *epath = client_escape(sockpath, 4096);
		client_errorf("cannot connect to %s: %s%s", epath, strerror(-rc),
			      rc == -ENOENT || rc == -ECONNREFUSED ? " (is dumpgated running?)" : "");
		return 1;
	}
	return 0;
}

int client_call(int sock, const struct proto_req *req, struct client_ops *ops, json_t **ret_end)
{
	struct client_ops none = { .copy_in = -1, .copy_out = -1 };
	const char *why = NULL;
	json_t *end = NULL;
	int rc;

	if (!ops)
		ops = &none;
	rc = check_request(req);
	if (rc)
		return rc;
	rc = client_exchange(sock, req, -1, ops, &end, &why);
	return exchange_result(rc, why, end, ret_end);
}

/* See client.h.  With client_open() and client_call(), the only functions
 * here that print. */
int client_run(const char *sockpath, const struct proto_req *req, int fd, struct client_ops *ops,
	       struct client_progress *pg, json_t **ret_end)
{
	struct client_ops none = { .copy_in = -1, .copy_out = -1 };
	_cleanup_close_ int sock = -1, owned_fd = fd, owned_out = ops ? ops->copy_out : -1;
	const char *why = NULL;
	json_t *end = NULL;
	int rc;

	if (!ops)
		ops = &none;
	ops->copy_out = -1;
	rc = check_request(req);
	if (rc)
		return rc;
	rc = client_open(sockpath, &sock);
	if (rc) {
		client_progress_clear(pg);
		return rc;
	}
	ops->copy_out = TAKE_FD(owned_out);
	rc = client_exchange(sock, req, TAKE_FD(owned_fd), ops, &end, &why);
	client_progress_clear(pg);
	return exchange_result(rc, why, end, ret_end);
}

/* ---- buffering 'D' frames */

void client_accum_free(struct client_accum *a)
{
	free(a->buf);
}

int client_accum_data(const uint8_t *p, size_t n, void *userdata, const char **ret_why)
{
	struct client_accum *a = userdata;

	if (n > MAX_RESPONSE - a->len) {
		*ret_why = "protocol error: the response from the gate is too large";
		return -EPROTO;
	}
	if (a->len + n + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 65536;
		while (cap < a->len + n + 1)
			cap *= 2;
		char *b = realloc(a->buf, cap);
		if (!b)
			client_oom();
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
	a->buf[a->len] = 0;
	return 0;
}

json_t *client_accum_json(const struct client_accum *a)
{
	if (!a->buf)
		return NULL;
	return json_loadb(a->buf, a->len, JSON_REJECT_DUPLICATES, NULL);
}

/* ---- formatting values from the gate */

static bool is_time_key(const char *k)
{
	static const char *const keys[] = { "submitted", "updated", "final_time", "time",
					    "started",	 "expires", "enrolled",	  "revoked" };

	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

/* A printable, escaped rendering of one value. */
char *client_value_text(const char *key, json_t *v, size_t max)
{
	char buf[96];

	if (json_is_string(v))
		return client_escape(json_string_value(v), max ? max : json_string_length(v));
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (key && is_time_key(key) && i >= 0) {
			char t[32];
			format_time((time_t)i, t);
			return client_strdup(t);
		}
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, i);
		return client_strdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return client_strdup(buf);
	}
	if (json_is_boolean(v))
		return client_strdup(json_is_true(v) ? "true" : "false");
	if (!v || json_is_null(v))
		return client_strdup("-");
	/* ASCII-only JSON is already safe for a terminal unless it holds DEL;
	 * escaping it again would only double its backslashes. */
	_cleanup_free_ char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	if (!d)
		client_oom();
	if (!strchr(d, 0x7f) && (!max || strlen(d) <= max))
		return TAKE_PTR(d);
	return client_escape(d, max ? max : strlen(d));
}

/* "key: value" lines for every member (except skip). */
void client_print_object(json_t *o, const char *skip)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		if (skip && strcmp(key, skip) == 0)
			continue;
		_cleanup_free_ char *k = client_escape(key, 64);
		_cleanup_free_ char *t = client_value_text(key, v, 0);
		if (strcmp(key, "size") == 0 && json_is_integer(v) && json_integer_value(v) >= 0) {
			char h[32];
			client_human_size((uint64_t)json_integer_value(v), h);
			printf("%s: %s (%s)\n", k, t, h);
		} else {
			printf("%s: %s\n", k, t);
		}
	}
}

/* ---- tables */

void client_print_table(json_t *arr, const char *const *head, size_t ncols, unsigned right,
			void (*row)(json_t *x, char **cells))
{
	size_t rows = json_array_size(arr) + 1, i, k;
	char **cell = calloc(rows * ncols, sizeof(*cell));
	size_t *w = calloc(ncols, sizeof(*w));
	json_t *x;

	if (!cell || !w)
		client_oom();
	for (k = 0; k < ncols; k++)
		cell[k] = client_strdup(head[k]);
	json_array_foreach(arr, i, x)
		row(x, cell + (i + 1) * ncols);
	for (i = 0; i < rows * ncols; i++)
		if (strlen(cell[i]) > w[i % ncols])
			w[i % ncols] = strlen(cell[i]);
	for (i = 0; i < rows; i++) {
		for (k = 0; k < ncols; k++) {
			char *c = cell[i * ncols + k];
			if (k == ncols - 1)
				printf("%s\n", c);
			else if (right & (1u << k))
				printf("%*s  ", (int)w[k], c);
			else
				printf("%-*s  ", (int)w[k], c);
			free(c);
		}
	}
	free(cell);
	free(w);
}

/* ---- reading secrets: an OTP line, an AES key */

/* While a secret is read from a terminal with echo off, every signal that
 * would end or stop the process is caught (readpassphrase(3)): the reader
 * restores the terminal, puts the old disposition back and raises the
 * signal again.  After a stop (SIGTSTP, SIGTTIN, SIGTTOU) the process goes
 * on when continued: echo off again, the prompt again, the line read anew.
 * Not caught: signals that are ignored (they stay ignored, SIGPIPE among
 * them), faults of the process itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGTRAP, SIGABRT, SIGSYS), and SIGKILL and SIGSTOP, which cannot be.
 * Real-time signals are caught too.
 *
 * File-level only because a signal handler reaches nothing else: the
 * handler records which signals came, the reader does the rest. */
static const int tty_signals[] = {
	SIGHUP,	 SIGINT,  SIGQUIT, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM, SIGPROF,
	SIGXCPU, SIGXFSZ, SIGPIPE, SIGIO,   SIGTSTP, SIGTTIN, SIGTTOU,
#ifdef SIGPWR
	SIGPWR,
#endif
#ifdef SIGSTKFLT
	SIGSTKFLT,
#endif
};
static volatile sig_atomic_t tty_caught[NSIG], tty_any;

static void tty_on_signal(int sig)
{
	if (sig > 0 && sig < NSIG)
		tty_caught[sig] = 1;
	tty_any = 1;
}

static bool tty_catches(int sig)
{
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		return true;
	for (size_t i = 0; i < ELEMENTSOF(tty_signals); i++)
		if (tty_signals[i] == sig)
			return true;
	return false;
}

/* The dispositions tty_catch() replaced, for tty_release(). */
struct tty_saved {
	struct sigaction old[NSIG];
	bool installed[NSIG];
};

/* No SA_RESTART: a signal ends a blocked read() or tcsetattr() with EINTR. */
static void tty_catch(struct tty_saved *s)
{
	struct sigaction sa = { .sa_handler = tty_on_signal };

	sigemptyset(&sa.sa_mask);
	tty_any = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		tty_caught[sig] = 0;
		s->installed[sig] = false;
		if (tty_catches(sig) && sigaction(sig, NULL, &s->old[sig]) == 0 &&
		    s->old[sig].sa_handler != SIG_IGN)
			s->installed[sig] = sigaction(sig, &sa, NULL) == 0;
	}
}

static void tty_release(struct tty_saved *s)
{
	for (int sig = 1; sig < NSIG; sig++)
		if (s->installed[sig])
			(void)sigaction(sig, &s->old[sig], NULL);
}

/* Raise again, with their old dispositions back, the signals caught while
 * the terminal was quiet; a terminating one with its default action does
 * not return.  True when they were all stops: the process stopped and has
 * been continued. */
static bool tty_raise_caught(void)
{
	bool only_stops = true;

	for (int sig = 1; sig < NSIG; sig++) {
		if (!tty_caught[sig])
			continue;
		tty_caught[sig] = 0;
		if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
			only_stops = false;
		raise(sig);
	}
	tty_any = 0;
	return only_stops;
}

void client_wipe_otp(char (*p)[CLIENT_OTP_LINE + 1])
{
	explicit_bzero(*p, sizeof(*p));
}

int client_tty_open(int *ret_fd)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* One line of at most CLIENT_OTP_LINE bytes, read a byte at a time so that
 * nothing after the newline is consumed and no stdio buffer keeps a copy.
 * EOF ends the line too.  -EMSGSIZE when it is longer; -EINTR when a
 * caught signal arrived (tty_catch()). */
static int read_line(int fd, char buf[static CLIENT_OTP_LINE + 1], size_t *ret_len)
{
	size_t n = 0;

	for (;;) {
		char c = 0;
		ssize_t k;

		/* A signal between this test and read() is seen at the next
		 * one, or when the line is complete: never lost. */
		if (tty_any)
			return -EINTR;
		k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue; /* the loop looks at tty_any */
		if (k < 0)
			return -errno;
		if (k == 0 || c == '\n')
			break;
		if (n == CLIENT_OTP_LINE) {
			explicit_bzero(&c, sizeof(c));
			return -EMSGSIZE;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	*ret_len = n;
	return 0;
}

/* write_full() for the terminal: it must not retry for ever when writing
 * from the background raises SIGTTOU (TOSTOP). */
static int tty_write(int tty, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t k = write(tty, s, n);
		if (k < 0 && errno == EINTR && !tty_any)
			continue;
		if (k < 0)
			return -errno;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Put the terminal's settings back.  SIGTTOU is blocked meanwhile, so that
 * this works from the background too (the shell may have moved us there
 * while echo was off). */
static void tty_restore(int tty, int when, const struct termios *old)
{
	sigset_t ttou, saved;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &saved);
	while (tcsetattr(tty, when, old) < 0 && errno == EINTR)
		;
	sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* One attempt of read_tty_line(), with the signals caught. */
static int read_quiet(int tty, const char *prompt, const char *what, char buf[static CLIENT_OTP_LINE + 1],
		      size_t *ret_len, const char **ret_why)
{
	/* With a prompt, what was typed before it is discarded (TCSAFLUSH);
	 * without one (a secret on standard input) nothing is. */
	int when = prompt ? TCSAFLUSH : TCSANOW, rc;
	struct termios old, quiet;

	if (tcgetattr(tty, &old) < 0) {
		*ret_why = "cannot read the terminal's settings";
		return -errno;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	if (tcsetattr(tty, when, &quiet) < 0) {
		rc = -errno;
		/* SIGTTOU in the background: nothing was changed. */
		*ret_why = tty_any ? "interrupted" : "cannot turn off the terminal's echo";
		return rc;
	}
	rc = prompt ? tty_write(tty, prompt) : 0;
	if (rc < 0)
		*ret_why = "writing the prompt to the terminal";
	else if ((rc = read_line(tty, buf, ret_len)) < 0 && rc != -EINTR && rc != -EMSGSIZE)
		*ret_why = what;
	if (prompt)
		(void)tty_write(tty, "\n"); /* the Enter was not echoed */
	tty_restore(tty, when, &old);
	return rc;
}

/* Read a line from the terminal tty with echo off, after writing prompt
 * there (NULL: no prompt).  The terminal's settings are restored on every
 * path, and before a caught signal takes effect; what: what failed when
 * reading fails. */
static int read_tty_line(int tty, const char *prompt, const char *what, char buf[static CLIENT_OTP_LINE + 1],
			 size_t *ret_len, const char **ret_why)
{
	struct tty_saved s;
	int rc;

	for (;;) {
		tty_catch(&s);
		rc = read_quiet(tty, prompt, what, buf, ret_len, ret_why);
		tty_release(&s);
		if (!tty_any)
			return rc;
		/* raise() may not return; after a stop the line starts anew. */
		explicit_bzero(buf, CLIENT_OTP_LINE + 1);
		if (!tty_raise_caught()) {
			*ret_why = "interrupted";
			return -EINTR;
		}
	}
}

/* Say why reading a secret's line failed (rc < 0): why, or too_long for
 * -EMSGSIZE.  Returns exit code 1. */
static int read_failed(int rc, const char *why, const char *too_long)
{
	if (rc == -EMSGSIZE)
		client_errorf("%s", too_long);
	else if (rc == -EINTR)
		client_errorf("%s", why);
	else
		client_errorf("%s: %s", why, strerror(-rc));
	return 1;
}

/* The bytes from a to b with surrounding whitespace cut off. */
static void trim(const char *s, size_t n, size_t *ret_a, size_t *ret_b)
{
	size_t a, b;

	for (a = 0; a < n && strchr(" \t\r\n\v\f", s[a]) && s[a]; a++)
		;
	for (b = n; b > a && strchr(" \t\r\n\v\f", s[b - 1]) && s[b - 1]; b--)
		;
	*ret_a = a;
	*ret_b = b;
}

int client_read_otp(int tty, const char *prompt, char ret[static CLIENT_OTP_LINE + 1])
{
	_cleanup_(client_wipe_otp) char line[CLIENT_OTP_LINE + 1];
	const char *why = "reading the OTP from standard input";
	size_t n = 0, a, b;
	int rc;

	if (tty >= 0)
		rc = read_tty_line(tty, prompt, "reading the OTP from the terminal", line, &n, &why);
	else if (isatty(STDIN_FILENO))
		rc = read_tty_line(STDIN_FILENO, NULL, why, line, &n, &why);
	else
		rc = read_line(STDIN_FILENO, line, &n);
	if (rc < 0)
		return read_failed(rc, why, "the OTP line is too long");
	/* Cut short at a NUL, or turned into a usage error by the UTF-8
	 * check, such a line would not say what is wrong with it. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\0' || (unsigned char)line[i] >= 0x80) {
			client_errorf("the OTP line holds a NUL byte or a non-ASCII character; an OTP is modhex");
			return 1;
		}

	/* Surrounding whitespace goes; a key typing with caps lock on sends
	 * upper case, and modhex is lower case.  The gate checks the rest. */
	trim(line, n, &a, &b);
	if (a == b) {
		client_errorf("%s", tty >= 0 ? "no OTP was entered" : "no OTP on standard input");
		return 1;
	}
	if (b - a > PROTO_MAX_OTP) {
		client_errorf("the OTP is too long (at most %d characters)", PROTO_MAX_OTP);
		return 1;
	}
	for (size_t i = a; i < b; i++)
		ret[i - a] = line[i] >= 'A' && line[i] <= 'Z' ? (char)(line[i] - 'A' + 'a') : line[i];
	ret[b - a] = '\0';
	return 0;
}

/* The AES key from one line typed on the terminal tty, echo off. */
static int read_key_tty(int tty, char buf[static CLIENT_OTP_LINE + 1], size_t *ret_len)
{
	const char *why = "reading the AES key from the terminal";
	size_t n = 0, a, b;
	int rc;

	rc = read_tty_line(tty, "AES key (32 hex characters): ", why, buf, &n, &why);
	if (rc < 0)
		return read_failed(rc, why, "the AES key line is too long");
	trim(buf, n, &a, &b);
	memmove(buf, buf + a, b - a);
	explicit_bzero(buf + (b - a), CLIENT_OTP_LINE + 1 - (b - a));
	*ret_len = b - a;
	return 0;
}

/* Open the AES key's file and say what it is: 0 with *ret_fd (-1 for
 * standard input) and *ret_tty set when it is a terminal, else exit code 1
 * after saying why.  A path must be a regular file: opened with
 * O_NONBLOCK, a FIFO cannot make us wait for a writer that never comes. */
static int open_key_file(const char *path, const char *what, int *ret_fd, bool *ret_tty)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	*ret_tty = false;
	if (strcmp(path, "-") != 0) {
		/* The name is never repeated: a key given where a file name
		 * belongs must not end up on the terminal. */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			client_errorf("cannot open the AES key file: %m");
			return 1;
		}
	}
	if (fstat(fd >= 0 ? fd : STDIN_FILENO, &st) < 0) {
		client_errorf("cannot use %s: %m", what);
		return 1;
	}
	if (fd < 0 && isatty(STDIN_FILENO)) {
		*ret_tty = true;
	} else if (fd >= 0 && !S_ISREG(st.st_mode)) {
		client_errorf("the AES key file is not a regular file (use --aes-key-file - for a pipe or the terminal)");
		return 1;
	} else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
		client_errorf("standard input is not a file, a pipe or a terminal: no AES key on it");
		return 1;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)))
		client_errorf("warning: %s can be read by its group or by others (mode %04o); chmod go-rw it", what,
			      (unsigned)(st.st_mode & 07777));
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
			client_errorf("cannot use %s: %m", what);
			return 1;
		}
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int client_read_key_file(const char *path, int tty, uint8_t ret_key[static PROTO_AES_KEY_SIZE])
{
	/* 32 hex characters and an optional newline from a file: one byte
	 * more than that tells that it holds more.  A line from the
	 * terminal. */
	char buf[CLIENT_OTP_LINE + 1];
	const char *what = strcmp(path, "-") == 0 ? "standard input" : "the AES key file";
	_cleanup_close_ int fd = -1;
	size_t got = 0;
	bool is_tty = false;
	int rc;

	rc = open_key_file(path, what, &fd, &is_tty);
	if (rc)
		return rc;
	if (is_tty) {
		if (tty < 0) {
			client_errorf("standard input is a terminal, but there is no terminal to type the AES key at");
			return 1;
		}
		rc = read_key_tty(tty, buf, &got);
		if (rc)
			return rc;
	} else {
		rc = read_full(fd >= 0 ? fd : STDIN_FILENO, buf, 2 * PROTO_AES_KEY_SIZE + 2, &got);
		if (rc < 0) {
			explicit_bzero(buf, sizeof(buf));
			client_errorf("cannot read %s: %s", what, strerror(-rc));
			return 1;
		}
		if (got == 2 * PROTO_AES_KEY_SIZE + 1 && buf[got - 1] == '\n')
			got--;
	}
	buf[got] = '\0';
	/* hex_decode() takes upper case too. */
	rc = got == 2 * PROTO_AES_KEY_SIZE ? hex_decode(buf, ret_key, PROTO_AES_KEY_SIZE) : -EINVAL;
	explicit_bzero(buf, sizeof(buf));
	if (rc < 0 && is_tty)
		client_errorf("an AES key is %d hex characters", 2 * PROTO_AES_KEY_SIZE);
	else if (rc < 0)
		client_errorf("%s must hold the AES key as %d hex characters and at most a newline after them",
			      what, 2 * PROTO_AES_KEY_SIZE);
	return rc < 0 ? 1 : 0;
}
