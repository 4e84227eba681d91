/* session.c - dumpgate-session: one client connection, sandboxed.
 *
 * Exec'd by the monitor for every accepted client (see session.h for the
 * fds it gets).  It runs as an unprivileged uid, without capabilities,
 * with no_new_privs and a seccomp allowlist, and it is the only process
 * that parses bytes from a client: it turns one 'Q' frame into one typed
 * monitor request (msg.h) and relays the monitor's answer as 'P'/'D'/'E'
 * frames (proto.h).  The monitor trusts nothing this process says beyond
 * the message format and checks every request again.
 *
 * Anything unexpected ends the session: a bad client frame after an 'E'
 * frame that says why, a bad monitor message with a log line.
 *
 * Secrets pass through: the OTP of approve and token_confirm, the AES key
 * of token_enroll.  Every request's client frame, decoded form and monitor
 * message are wiped as soon as the request is sent on (all of them, so
 * that no op can be forgotten), and jansson wipes what it frees.
 */
#include "dg-config.h"

#include "msg.h"
#include "proto.h"
#include "sandbox.h"
#include "session.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if DUMPGATE_SANITIZED
/* The leak check runs at exit and needs syscalls the seccomp filter
 * (kill-process) forbids; the monitor's environment may still override
 * this with ASAN_OPTIONS. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

/* Largest 'D' frame payload; matches the MSG_DATA chunk limit (msg.h). */
#define DATA_CHUNK (60 * 1024)

/* Exit codes: 0 hang-up by either side, 1 anything that went wrong. */
#define EXIT_HANGUP 0
#define EXIT_FAIL 1

struct session {
	uint8_t frame[PROTO_MAX_FRAME + 1]; /* received client frame / outgoing frame */
	uint8_t mbuf[MSG_MAX];               /* monitor messages, both ways */
	bool busy;                           /* a request is with the monitor */
	bool awaiting_commit;                /* a stdin submit may still send 'C' */
};

/* ---- frames to the client */

/* Returns 0, or -errno from the socket (EPIPE etc. when the client left). */
static int send_frame(struct session *s, char type, const void *p, size_t n)
{
	int r;

	if (n > PROTO_MAX_FRAME - 1)
		return -EMSGSIZE;
	s->frame[0] = (uint8_t)type;
	if (n > 0)
		memcpy(s->frame + 1, p, n);
	r = msg_send(SESSION_FD_CLIENT, s->frame, n + 1, -1);
	return r < 0 ? r : 0;
}

/* Serialise with jansson, so that no client or monitor byte ever reaches
 * the client as unescaped JSON.  Takes ownership of j; NULL (json_pack
 * failed) is -ENOMEM. */
static int send_json(struct session *s, char type, json_t *j)
{
	_cleanup_(json_decrefp) json_t *obj = j; /* jansson.h */
	_cleanup_free_ char *text = NULL;

	if (!obj)
		return -ENOMEM;
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	return send_frame(s, type, text, strlen(text));
}

/* A protocol error by the client: tell it why (best effort), and end. */
static int client_error(struct session *s, const char *error)
{
	(void)send_json(s, PROTO_END,
			json_pack("{s:b,s:s,s:s}", "ok", 0, "error", error,
				  "code", "protocol"));
	return EXIT_FAIL;
}

/* A failed write to the client: it hung up, or something worse. */
static int client_send_failed(int r)
{
	if (r == -EPIPE || r == -ECONNRESET)
		return EXIT_HANGUP;
	log_err("sending to the client: %s", strerror(-r));
	return EXIT_FAIL;
}

/* ---- client requests */

/* A submission fd must be something the monitor can copy from: a regular
 * file or a pipe, open for reading, not O_PATH.  The monitor checks again. */
static bool submit_fd_ok(int fd)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0)
		return false;
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		return false;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_PATH))
		return false;
	return (fl & O_ACCMODE) == O_RDONLY || (fl & O_ACCMODE) == O_RDWR;
}

/* Translate a validated request into its monitor message; returns the
 * message length or -EMSGSIZE. */
static int build_request(struct session *s, const struct proto_req *req)
{
	struct msgbuf m;

	switch (req->op) {
	case OP_SUBMIT:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_SUBMIT);
		msg_put_str(&m, req->profile);
		msg_put_str(&m, req->reason);
		msg_put_str(&m, req->name);
		msg_put_u32(&m, req->from_stdin ? 1 : 0);
		break;
	case OP_LIST:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_LIST);
		msg_put_str(&m, req->state ? req->state : "");
		break;
	case OP_SHOW:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_SHOW);
		msg_put_str(&m, req->id);
		break;
	case OP_WAIT:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_WAIT);
		msg_put_str(&m, req->id);
		msg_put_u32(&m, req->timeout);
		break;
	case OP_WITHDRAW:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_WITHDRAW);
		msg_put_str(&m, req->id);
		break;
	case OP_AUDIT:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_AUDIT);
		break;
	case OP_STATUS:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_STATUS);
		break;
	case OP_APPROVE:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_APPROVE);
		msg_put_str(&m, req->id);
		msg_put_str(&m, req->sha256);
		msg_put_str(&m, req->otp);
		msg_put_u32(&m, req->interactive ? 1 : 0);
		break;
	case OP_DENY:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_DENY);
		msg_put_str(&m, req->id);
		msg_put_str(&m, req->reason);
		break;
	case OP_TOKEN_ENROLL:
		/* The key as 16 raw bytes, zeros when none was given. */
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_TOKEN_ENROLL);
		msg_put_str(&m, req->user);
		msg_put_str(&m, req->public_id ? req->public_id : "");
		msg_put_u32(&m, req->has_key ? 1 : 0);
		msg_put_bytes(&m, req->aes_key, sizeof(req->aes_key));
		break;
	case OP_TOKEN_CONFIRM:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_TOKEN_CONFIRM);
		msg_put_str(&m, req->otp);
		break;
	case OP_TOKEN_LIST:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_TOKEN_LIST);
		break;
	case OP_TOKEN_REVOKE:
		msg_init(&m, s->mbuf, sizeof(s->mbuf), MSG_TOKEN_REVOKE);
		msg_put_str(&m, req->public_id);
		break;
	default:
		return -EINVAL;
	}
	return msg_finish(&m);
}

/* One datagram from the client while idle.  Returns -1 to go on, or an
 * exit code. */
static int handle_client(struct session *s)
{
	struct proto_req req = { 0 };
	_cleanup_close_ int fd = -1;
	const char *what = NULL;
	char text[160];
	int n, r;

	/* One byte more than a frame may have, so that an oversized frame
	 * either arrives whole (n > PROTO_MAX_FRAME) or truncated (EBADMSG). */
	n = msg_recv(SESSION_FD_CLIENT, s->frame, sizeof(s->frame), &fd);
	if (n == 0)
		return EXIT_HANGUP;
	if (n == -EBADMSG)
		return client_error(s, "frame too large or more than one fd");
	if (n < 0) {
		if (n == -ECONNRESET)
			return EXIT_HANGUP;
		log_err("reading from the client: %s", strerror(-n));
		return EXIT_FAIL;
	}
	if ((size_t)n > PROTO_MAX_FRAME)
		return client_error(s, "frame too large");

	/* One exchange at a time: a frame while the monitor works on the
	 * previous request is a violation, whatever it holds. */
	if (s->busy && s->awaiting_commit && n >= 1 && s->frame[0] == PROTO_COMMIT && fd < 0) {
		struct msgbuf mb;
		uint64_t bytes = 0;
		r = proto_commit_decode(s->frame + 1, (size_t)n - 1, &bytes, &what);
		if (r < 0) {
			snprintf(text, sizeof(text), "bad commit: %s", what ? what : "malformed");
			return client_error(s, text);
		}
		s->awaiting_commit = false;
		msg_init(&mb, s->mbuf, sizeof(s->mbuf), MSG_COMMIT);
		msg_put_u64(&mb, bytes);
		n = msg_finish(&mb);
		r = n < 0 ? n : msg_send(SESSION_FD_MONITOR, s->mbuf, (size_t)n, -1);
		if (r < 0) {
			if (r == -EPIPE || r == -ECONNRESET)
				return EXIT_HANGUP;
			log_err("sending to the monitor: %s", strerror(-r));
			return EXIT_FAIL;
		}
		return -1;
	}
	if (s->busy)
		return client_error(s, "request while another is outstanding");
	if (s->frame[0] != PROTO_REQ)
		return client_error(s, "expected a request frame");

	r = proto_req_decode(s->frame + 1, (size_t)n - 1, &req, &what);
	explicit_bzero(s->frame, (size_t)n); /* it may hold an OTP or a key */
	if (r < 0) {
		snprintf(text, sizeof(text), "bad request: %s",
			 what ? what : "malformed");
		return client_error(s, text);
	}

	if ((req.op == OP_SUBMIT) != (fd >= 0) || (fd >= 0 && !submit_fd_ok(fd))) {
		proto_req_clear(&req);
		return client_error(s, "submit needs a regular file or a pipe");
	}

	n = build_request(s, &req);
	bool commit_expected = req.op == OP_SUBMIT && req.from_stdin;
	proto_req_clear(&req); /* wipes the OTP and the key */
	if (n < 0) {
		explicit_bzero(s->mbuf, sizeof(s->mbuf));
		/* proto.c bounds every string far below MSG_MAX: a bug. */
		log_err("building the monitor request: %s", strerror(-n));
		return client_error(s, "request too large");
	}
	r = msg_send(SESSION_FD_MONITOR, s->mbuf, (size_t)n, fd);
	explicit_bzero(s->mbuf, (size_t)n);
	if (r < 0) {
		if (r == -EPIPE || r == -ECONNRESET)
			return EXIT_HANGUP;
		log_err("sending to the monitor: %s", strerror(-r));
		return EXIT_FAIL;
	}
	/* The monitor has its own reference now; ours goes at return. */
	s->busy = true;
	s->awaiting_commit = commit_expected;
	return -1;
}

/* ---- monitor messages */

/* MSG_FD: forward the fd's bytes as 'D' frames.  Takes ownership of fd. */
static int relay_fd(struct session *s, int fd_in, uint64_t limit)
{
	_cleanup_close_ int fd = fd_in;
	uint8_t *chunk = s->mbuf; /* free while we relay */

	for (;;) {
		size_t got = 0;
		int r = read_full(fd, chunk, limit < DATA_CHUNK ? (size_t)limit : DATA_CHUNK, &got);

		if (r < 0) {
			log_err("reading the monitor's fd: %s", strerror(-r));
			return EXIT_FAIL;
		}
		if (got == 0)
			return -1;
		limit -= got;
		r = send_frame(s, PROTO_DATA, chunk, got);
		if (r < 0)
			return client_send_failed(r);
	}
}

static void wipe_strp(char **p)
{
	if (*p)
		secure_free(*p, strlen(*p));
}

static int bad_monitor(const char *what, uint32_t type)
{
	log_err("malformed message from the monitor (type %u): %s", type, what);
	return EXIT_FAIL;
}

/* One datagram from the monitor.  Returns -1 to go on, or an exit code. */
static int handle_monitor(struct session *s)
{
	_cleanup_close_ int fd = -1;
	struct msgbuf m;
	uint32_t type = 0;
	int n, r;

	n = msg_recv(SESSION_FD_MONITOR, s->mbuf, sizeof(s->mbuf), &fd);
	if (n == 0 || n == -ECONNRESET)
		return EXIT_HANGUP;
	if (n < 0) {
		log_err("reading from the monitor: %s", strerror(-n));
		return EXIT_FAIL;
	}
	if (msg_open(&m, s->mbuf, (size_t)n, &type) < 0)
		return bad_monitor("bad header", type);
	if (!s->busy)
		return bad_monitor("no request outstanding", type);
	if (fd >= 0 && type != MSG_FD)
		return bad_monitor("unexpected fd", type);

	switch (type) {
	case MSG_PROGRESS: {
		uint64_t bytes;

		if (msg_get_u64(&m, &bytes) < 0 || msg_end(&m) < 0 ||
		    bytes > (uint64_t)INT64_MAX)
			return bad_monitor("bad progress", type);
		r = send_json(s, PROTO_PROGRESS,
			      json_pack("{s:I}", "bytes", (json_int_t)bytes));
		break;
	}
	case MSG_DATA: {
		const uint8_t *p = NULL;
		size_t len = 0;

		if (msg_get_rest(&m, &p, &len) < 0 || msg_end(&m) < 0 ||
		    len > DATA_CHUNK)
			return bad_monitor("bad data", type);
		r = send_frame(s, PROTO_DATA, p, len);
		break;
	}
	case MSG_FD: {
		uint64_t limit;
		if (fd < 0 || msg_get_u64(&m, &limit) < 0 || msg_end(&m) < 0)
			return bad_monitor("bad fd message", type);
		return relay_fd(s, TAKE_FD(fd), limit);
	}
	case MSG_RESULT: {
		_cleanup_(wipe_strp) char *json = NULL;

		if (msg_get_str(&m, PROTO_MAX_FRAME - 1, &json) < 0 ||
		    msg_end(&m) < 0)
			return bad_monitor("bad result", type);
		/* The monitor built this JSON with jansson; relayed as is.
		 * token_enroll's answer may carry a generated AES key: wipe
		 * the message and the frame as well as the copy. */
		r = send_frame(s, PROTO_END, json, strlen(json));
		explicit_bzero(s->frame, strlen(json) + 1);
		explicit_bzero(s->mbuf, (size_t)n);
		s->busy = false;
		s->awaiting_commit = false;
		break;
	}
	default:
		return bad_monitor("unknown type", type);
	}
	if (r < 0)
		return client_send_failed(r);
	return -1;
}

/* ---- start */

static int check_socket(int fd)
{
	struct stat st;
	int type = 0;
	socklen_t len = sizeof(type);

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	if (type != SOCK_SEQPACKET)
		return -EPROTOTYPE;
	return 0;
}

/* Everything that needs a syscall the filter forbids happens here,
 * before sandbox_session_enter(). */
static int prepare(void)
{
	static const int fds[] = { SESSION_FD_CLIENT, SESSION_FD_MONITOR };
	int r;

	for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
		r = check_socket(fds[i]);
		if (r < 0) {
			log_err("fd %d is not a SOCK_SEQPACKET socket: %s", fds[i],
				strerror(-r));
			return r;
		}
	}
	/* Only fds 0-4 (session.h); nothing the monitor leaked by mistake. */
	if (close_range(SESSION_FD_MONITOR + 1, ~0U, 0) < 0) {
		r = -errno;
		log_err("close_range: %s", strerror(-r));
		return r;
	}
	/* A client that hangs up while we write gets EPIPE, not a signal. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	/* jansson seeds its hash function from /dev/urandom on first use;
	 * do it now, while open() still works.  tzset() likewise reads the
	 * zone file once so that a time in a log line needs no file.  Its
	 * parser's copies of a request go through a wiping free. */
	proto_wipe_json_frees();
	json_object_seed(0);
	tzset();
	return 0;
}

static int loop(struct session *s)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = SESSION_FD_CLIENT, .events = POLLIN },
			{ .fd = SESSION_FD_MONITOR, .events = POLLIN },
		};
		int r;

		if (poll(p, ELEMENTSOF(p), -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			return EXIT_FAIL;
		}
		if ((p[0].revents | p[1].revents) & POLLNVAL) {
			log_err("poll: fd %d is not open", (p[0].revents & POLLNVAL) ?
				SESSION_FD_CLIENT : SESSION_FD_MONITOR);
			return EXIT_FAIL;
		}

		/* The monitor first: its pending answer goes out before we
		 * look at what the client did meanwhile.  A monitor that
		 * hung up ends us once its queued messages are relayed. */
		if (p[1].revents & POLLIN) {
			r = handle_monitor(s);
			if (r >= 0)
				return r;
			continue;
		}
		if (p[1].revents & (POLLHUP | POLLERR))
			return EXIT_HANGUP;

		/* A client that hung up gets nothing more, and a request it
		 * queued before leaving is not forwarded. */
		if (p[0].revents & (POLLHUP | POLLERR))
			return EXIT_HANGUP;
		if (p[0].revents & POLLIN) {
			r = handle_client(s);
			if (r >= 0)
				return r;
		}
	}
}

int main(int argc, char *argv[])
{
	struct session *s = NULL;
	int r;

	log_set_ident("dumpgate-session");

	if (argc != 1) {
		log_err("takes no arguments");
		return EXIT_FAIL;
	}
	if (prepare() < 0)
		return EXIT_FAIL;

	/* The one big allocation, before the filter (it is an mmap). */
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_err("out of memory");
		return EXIT_FAIL;
	}

	r = sandbox_session_enter();
	if (r < 0) {
		log_err("entering the sandbox: %s", strerror(-r));
		free(s);
		return EXIT_FAIL;
	}

	r = loop(s);
	free(s);
	return r;
}
