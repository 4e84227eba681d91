/* rawclient.c - dg-rawclient SOCKET: send hand-made frames to a session.
 *
 * A test helper (never installed).  It connects a SOCK_SEQPACKET socket to
 * SOCKET and reads commands from stdin, one per line:
 *
 *   Q <json>        send 'Q' followed by the json text as one datagram
 *   RAW <hex>       send the bytes (hex digits, spaces allowed)
 *   BIG <n>         send n bytes: 'Q', '{', then spaces
 *   FD <path>       the next Q datagram carries an fd of path (read-only)
 *   TEXT <text>     send the text as is (no type byte added) as one datagram,
 *                   e.g. "TEXT M0200..." for dg-hostile-session
 *   PRINT <types>   from now on also print the payload as is for frames of
 *                   these types (e.g. "PRINT R": dg-hostile-session's hex)
 *   END <types>     from now on frames of these types also end an exchange,
 *                   as 'E' does (e.g. "END R")
 *   # ...           comment; empty lines are ignored
 *
 * Every frame received is printed on stdout as one line "<type> <payload>":
 * the payload as is for 'E' and 'P', its length for 'D' and any other type
 * (a non-printable type byte prints as \xNN; a received fd adds " +fd").
 * When the server closes the connection, "EOF" is printed and the program
 * ends.  Once stdin is at EOF and nothing is outstanding (no datagram sent
 * since the last 'E' frame), it waits up to one second for the server to
 * close (printing "EOF" if it does) and then ends.
 *
 * A datagram msg_recv() refuses (more than one fd) prints "BADMSG".
 *
 * Exit 0 unless the connection could not be made (1) or usage (2).
 * Send errors are reported on stderr and do not end the program.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "msg.h"
#include "proto.h"
#include "util.h"

#define LINE_MAX_BYTES (4u * 1024 * 1024)
#define BIG_MAX (64u * 1024 * 1024)
#define RECV_CAP (1024 * 1024)
#define GRACE_MS 1000

struct state {
	int sock;
	int pending_fd; /* for the next Q datagram, -1 = none */
	bool idle;      /* nothing sent since the last 'E' */
	bool print_type[256]; /* PRINT: payload printed as is */
	bool end_type[256];   /* END: frame ends an exchange */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void send_datagram(struct state *st, const uint8_t *p, size_t n, int fd)
{
	int r = msg_send(st->sock, p, n, fd);

	if (r < 0)
		fprintf(stderr, "dg-rawclient: send of %zu bytes: %s\n", n, strerror(-r));
	else
		st->idle = false;
}

static void do_line(struct state *st, char *line, size_t n)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	if (n > 0 && line[n - 1] == '\r')
		line[--n] = 0;
	if (n == 0 || line[0] == '#')
		return;

	if (strcmp(line, "Q") == 0 || strncmp(line, "Q ", 2) == 0) {
		const char *json = n > 2 ? line + 2 : "";
		len = 1 + strlen(json);
		buf = malloc(len);
		if (!buf)
			goto oom;
		buf[0] = PROTO_REQ;
		memcpy(buf + 1, json, len - 1);
		int fd = st->pending_fd;
		st->pending_fd = -1;
		send_datagram(st, buf, len, fd);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (strncmp(line, "RAW ", 4) == 0) {
		buf = malloc(n / 2 + 1);
		if (!buf)
			goto oom;
		int hi = -1;
		for (const char *s = line + 4; *s; s++) {
			int v = hexval(*s);
			if (*s == ' ' || *s == '\t')
				continue;
			if (v < 0) {
				fprintf(stderr, "dg-rawclient: RAW: not a hex digit: '%c'\n", *s);
				return;
			}
			if (hi < 0) {
				hi = v;
			} else {
				buf[len++] = (uint8_t)(hi << 4 | v);
				hi = -1;
			}
		}
		if (hi >= 0) {
			fprintf(stderr, "dg-rawclient: RAW: odd number of hex digits\n");
			return;
		}
		send_datagram(st, buf, len, -1);
		return;
	}
	if (strncmp(line, "BIG ", 4) == 0) {
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(line + 4, &end, 10);
		if (errno || !end || *end || v == 0 || v > BIG_MAX) {
			fprintf(stderr, "dg-rawclient: BIG: need 1..%u\n", BIG_MAX);
			return;
		}
		len = (size_t)v;
		buf = malloc(len);
		if (!buf)
			goto oom;
		memset(buf, ' ', len);
		buf[0] = PROTO_REQ;
		if (len > 1)
			buf[1] = '{';
		send_datagram(st, buf, len, -1);
		return;
	}
	if (strncmp(line, "FD ", 3) == 0) {
		int fd = open(line + 3, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			fprintf(stderr, "dg-rawclient: FD: cannot open %s: %s\n", line + 3, strerror(errno));
			return;
		}
		if (st->pending_fd >= 0)
			close(st->pending_fd);
		st->pending_fd = fd;
		return;
	}
	if (strncmp(line, "TEXT ", 5) == 0) {
		send_datagram(st, (const uint8_t *)line + 5, n - 5, -1);
		return;
	}
	if (strncmp(line, "PRINT ", 6) == 0 || strncmp(line, "END ", 4) == 0) {
		bool *set = line[0] == 'P' ? st->print_type : st->end_type;
		for (const char *s = line + (line[0] == 'P' ? 6 : 4); *s; s++)
			if (*s != ' ' && *s != '\t')
				set[(uint8_t)*s] = true;
		return;
	}
	fprintf(stderr, "dg-rawclient: unknown command line (want Q, RAW, BIG, FD, TEXT, PRINT or END)\n");
	return;
oom:
	fprintf(stderr, "dg-rawclient: out of memory\n");
	exit(1);
}

/* Returns 1 when the server closed, 0 otherwise. */
static int do_frame(struct state *st, uint8_t *buf)
{
	int fd = -1;
	int n = msg_recv(st->sock, buf, RECV_CAP, &fd);

	if (n == 0 || n == -ECONNRESET) {
		printf("EOF\n");
		fflush(stdout);
		return 1;
	}
	if (n == -EBADMSG) {
		/* truncated, or more than one fd (msg_recv closed them) */
		printf("BADMSG\n");
		fflush(stdout);
		return 0;
	}
	if (n < 0) {
		fprintf(stderr, "dg-rawclient: receive: %s\n", strerror(-n));
		printf("EOF\n");
		fflush(stdout);
		return 1;
	}
	uint8_t t = buf[0];
	if (t >= 0x21 && t <= 0x7e)
		printf("%c ", t);
	else
		printf("\\x%02x ", t);
	if (t == PROTO_END || t == PROTO_PROGRESS || st->print_type[t])
		fwrite(buf + 1, 1, (size_t)n - 1, stdout);
	else
		printf("%d", n - 1);
	if (fd >= 0) {
		printf(" +fd");
		close(fd);
	}
	printf("\n");
	fflush(stdout);
	if (t == PROTO_END || st->end_type[t])
		st->idle = true;
	return 0;
}

int main(int argc, char **argv)
{
	struct state st = { .sock = -1, .pending_fd = -1, .idle = true };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ char *line = NULL;
	_cleanup_free_ uint8_t *rbuf = NULL;
	size_t llen = 0;
	bool stdin_eof = false, skipping = false;

	if (argc != 2) {
		fprintf(stderr, "usage: dg-rawclient SOCKET < commands\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dg-rawclient: socket path too long\n");
		return 1;
	}
	strcpy(sa.sun_path, argv[1]);
	st.sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (st.sock < 0 || connect(st.sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "dg-rawclient: cannot connect to %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	line = malloc(LINE_MAX_BYTES + 1);
	rbuf = malloc(RECV_CAP);
	if (!line || !rbuf) {
		fprintf(stderr, "dg-rawclient: out of memory\n");
		return 1;
	}

	for (;;) {
		struct pollfd p[2] = { { .fd = st.sock, .events = POLLIN },
				       { .fd = stdin_eof ? -1 : STDIN_FILENO, .events = POLLIN } };
		int timeout = stdin_eof && st.idle ? GRACE_MS : -1;
		int r = poll(p, 2, timeout);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "dg-rawclient: poll: %s\n", strerror(errno));
			break;
		}
		if (r == 0)
			break; /* grace over: the server keeps the connection */
		if (p[0].revents && do_frame(&st, rbuf))
			break;
		if (p[1].revents) {
			ssize_t k = read(STDIN_FILENO, line + llen, LINE_MAX_BYTES - llen);
			if (k < 0 && errno != EINTR && errno != EAGAIN) {
				fprintf(stderr, "dg-rawclient: reading stdin: %s\n", strerror(errno));
				k = 0;
			}
			if (k == 0) {
				stdin_eof = true;
				if (llen > 0 && !skipping) { /* last line without newline */
					line[llen] = 0;
					do_line(&st, line, llen);
				}
				llen = 0;
				continue;
			}
			if (k < 0)
				continue;
			llen += (size_t)k;
			char *nl;
			while ((nl = memchr(line, '\n', llen))) {
				size_t n = (size_t)(nl - line);
				*nl = 0;
				if (!skipping)
					do_line(&st, line, n);
				skipping = false;
				memmove(line, nl + 1, llen - n - 1);
				llen -= n + 1;
			}
			if (llen == LINE_MAX_BYTES) {
				fprintf(stderr, "dg-rawclient: line too long, skipped\n");
				skipping = true;
				llen = 0;
			}
		}
	}
	if (st.pending_fd >= 0)
		close(st.pending_fd);
	close(st.sock);
	return 0;
}
