/* client.c - connection, frame loop and output helpers of the `dumpgate`
 * CLI (client.h); the commands themselves are in dumpgate.c.
 *
 * The gate is trusted to be the gate, but not to be bug-free: every frame
 * is checked (type allowed for this command, size, JSON shape) and anything
 * unexpected ends the exchange with -EPROTO instead of being skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "msg.h"
#include "util.h"

#define COPY_CHUNK 65536
#define MAX_RESPONSE (256u * 1024 * 1024) /* list/show/audit-line bytes we buffer */

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
	_cleanup_free_ char *json = NULL;
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
	_cleanup_free_ char *json = NULL;
	_cleanup_free_ uint8_t *frame = NULL, *copybuf = NULL;
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

/* See client.h.  The only function here that prints. */
int client_run(const char *sockpath, const struct proto_req *req, int fd, struct client_ops *ops,
	       struct client_progress *pg, json_t **ret_end)
{
	struct client_ops none = { .copy_in = -1, .copy_out = -1 };
	_cleanup_close_ int sock = -1, owned_fd = fd, owned_out = ops ? ops->copy_out : -1;
	_cleanup_free_ char *json = NULL, *epath = NULL;
	struct proto_req check = { 0 };
	const char *why = NULL;
	json_t *end = NULL;
	int rc;

	if (!ops)
		ops = &none;
	ops->copy_out = -1;
	/* Refuse locally what the gate would refuse, with the same words. */
	rc = proto_req_encode(req, &json);
	if (rc == -EILSEQ) {
		client_errorf("arguments must be valid UTF-8");
		goto usage;
	}
	if (rc < 0) {
		client_errorf("cannot encode the request: %s", strerror(-rc));
		goto usage;
	}
	rc = proto_req_decode((const uint8_t *)json, strlen(json), &check, &why);
	proto_req_clear(&check);
	if (rc < 0) {
		client_errorf("invalid request: %s", why);
		goto usage;
	}

	rc = client_connect(sockpath, &sock);
	if (rc < 0) {
		epath = client_escape(sockpath, 4096);
		client_errorf("cannot connect to %s: %s%s", epath, strerror(-rc),
			      rc == -ENOENT || rc == -ECONNREFUSED ? " (is dumpgated running?)" : "");
		goto fail;
	}
	ops->copy_out = TAKE_FD(owned_out);
	rc = client_exchange(sock, req, TAKE_FD(owned_fd), ops, &end, &why);
	client_progress_clear(pg);
	if (rc == -EPROTO) {
		client_errorf("%s", why);
		goto fail;
	}
	if (rc < 0) {
		client_errorf("%s: %s", why, strerror(-rc));
		goto fail;
	}
	if (!json_is_true(json_object_get(end, "ok"))) {
		json_t *e = json_object_get(end, "error");
		_cleanup_free_ char *msg = client_escape(json_string_value(e), json_string_length(e));
		client_errorf("%s", msg);
		json_decref(end);
		goto fail;
	}
	*ret_end = end;
	return 0;
usage:
	return 2;
fail:
	client_progress_clear(pg);
	return 1;
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
	return strcmp(k, "submitted") == 0 || strcmp(k, "updated") == 0 ||
	       strcmp(k, "final_time") == 0 || strcmp(k, "time") == 0 || strcmp(k, "started") == 0;
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
