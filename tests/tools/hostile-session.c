/* hostile-session.c - dg-hostile-session: a compromised session, for tests.
 *
 * Test-only stand-in for dumpgate-session (gate config key
 * session_program).  Same fds (session.h: 3 client, 4 monitor), no sandbox
 * of its own: the monitor still runs it under the session uid.  It lets an
 * integration test speak raw monitor messages, as a session taken over by
 * an attacker could:
 *
 *   client -> here   "M<hex>"  decode, send the bytes to the monitor as one
 *                              datagram
 *                    "F<hex>"  the same, with fd 0 (/dev/null) attached
 *                    "P<hex>"  the same, with the read end of a pipe attached;
 *                              this program keeps the write end open and
 *                              never writes to it, so an upload from it
 *                              stays outstanding (the previous "P" pipe's
 *                              write end is closed: that upload sees EOF)
 *   here -> client   "R<hex>"  one datagram the monitor sent (an fd that
 *                              came with it is closed)
 *                    "X"       the monitor closed fd 4; then exit 0
 *
 * Anything else from the client (bad hex, another type) ends this program
 * with status 1 and a log line.  Client hang-up: exit 0.  Never installed.
 */
#include "dg-config.h"

#include "msg.h"
#include "session.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tests may send messages larger than MSG_MAX to see the monitor refuse
 * them, so the relay accepts up to twice that. */
#define RAW_MAX (2 * MSG_MAX)
#define HEX_MAX (1 + 2 * RAW_MAX)

struct relay {
	char in[HEX_MAX + 1];     /* client datagram, NUL-terminated */
	uint8_t raw[RAW_MAX];     /* decoded bytes / monitor datagram */
	char out[1 + 2 * RAW_MAX + 1];
};

/* Write end of the last "P" pipe, kept open until exit or the next "P". */
static int held_pipe = -1;

/* Returns -1 to go on, or an exit code. */
static int from_client(struct relay *b)
{
	_cleanup_close_ int fd = -1, pipe_rd = -1;
	size_t hexlen, n;
	int attach = -1;
	int r;

	r = msg_recv(SESSION_FD_CLIENT, b->in, HEX_MAX, &fd);
	if (r == 0)
		return 0;
	if (r < 0) {
		log_err("reading from the client: %s", strerror(-r));
		return 1;
	}
	b->in[r] = '\0';
	hexlen = (size_t)r - 1;
	if ((b->in[0] != 'M' && b->in[0] != 'F' && b->in[0] != 'P') || hexlen % 2 != 0) {
		log_err("expected M<hex>, F<hex> or P<hex>");
		return 1;
	}
	n = hexlen / 2;
	if (hex_decode(b->in + 1, b->raw, n) < 0) {
		log_err("bad hex from the client");
		return 1;
	}
	if (b->in[0] == 'F') {
		attach = 0;
	} else if (b->in[0] == 'P') {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			log_err("pipe2: %s", strerror(errno));
			return 1;
		}
		if (held_pipe >= 0)
			close(held_pipe);
		pipe_rd = p[0];
		held_pipe = p[1];
		attach = pipe_rd;
	}
	r = msg_send(SESSION_FD_MONITOR, b->raw, n, attach);
	if (r < 0) {
		/* The monitor may already have ended us; it closes fd 4 and
		 * the next poll reports that as 'X'. */
		log_warn("sending to the monitor: %s", strerror(-r));
	}
	return -1;
}

static int from_monitor(struct relay *b)
{
	_cleanup_close_ int fd = -1;
	int r;

	r = msg_recv(SESSION_FD_MONITOR, b->raw, sizeof(b->raw), &fd);
	if (r <= 0) {
		if (r < 0)
			log_warn("reading from the monitor: %s", strerror(-r));
		(void)msg_send(SESSION_FD_CLIENT, "X", 1, -1);
		return 0;
	}
	b->out[0] = 'R';
	hex_encode(b->raw, (size_t)r, b->out + 1);
	r = msg_send(SESSION_FD_CLIENT, b->out, 1 + 2 * (size_t)r, -1);
	if (r < 0) {
		log_err("sending to the client: %s", strerror(-r));
		return 1;
	}
	return -1;
}

int main(void)
{
	_cleanup_free_ struct relay *b = NULL;

	log_set_ident("dg-hostile-session");
	signal(SIGPIPE, SIG_IGN);
	/* Like dumpgate-session: only fds 0-4. */
	(void)close_range(SESSION_FD_MONITOR + 1, ~0U, 0);

	b = calloc(1, sizeof(*b));
	if (!b) {
		log_err("out of memory");
		return 1;
	}

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = SESSION_FD_CLIENT, .events = POLLIN },
			{ .fd = SESSION_FD_MONITOR, .events = POLLIN },
		};
		int r;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			return 1;
		}
		if ((p[0].revents | p[1].revents) & POLLNVAL) {
			log_err("fd 3 or 4 is not open");
			return 1;
		}
		/* Everything the monitor sent reaches the client before 'X'. */
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = from_monitor(b);
			if (r >= 0)
				return r;
			continue;
		}
		if (p[0].revents & POLLIN) {
			r = from_client(b);
			if (r >= 0)
				return r;
		} else if (p[0].revents & (POLLHUP | POLLERR)) {
			return 0;
		}
	}
}
