/* test-msg.c - typed messages and datagram I/O: each "accepts" has a
 * "refuses" twin (short, trailing, NUL, over-limit, truncated, two fds). */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "msg.h"
#include "tap.h"
#include "util.h"

static int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int count_open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 256; fd++)
		n += fd_is_open(fd);
	return n;
}

static void test_roundtrip(void)
{
	uint8_t buf[256];
	struct msgbuf m, r;
	uint32_t type = 0, u32 = 0;
	uint64_t u64 = 0;
	char *s = NULL, *e = NULL;
	const uint8_t *rest = NULL;
	size_t rest_len = 0;
	int len;

	msg_init(&m, buf, sizeof(buf), MSG_SUBMIT);
	msg_put_str(&m, "crashdump");
	msg_put_u32(&m, 0xdeadbeef);
	msg_put_u64(&m, UINT64_C(0x0102030405060708));
	msg_put_str(&m, "");
	msg_put_bytes(&m, "xyz", 3);
	len = msg_finish(&m);
	ok(len == 8 + 4 + 9 + 4 + 8 + 4 + 3, "msg_finish returns total length (%d)", len);

	ok(msg_open(&r, buf, (size_t)len, &type) == 0 && type == MSG_SUBMIT, "msg_open accepts");
	ok(msg_get_str(&r, 64, &s) == 0 && strcmp(s, "crashdump") == 0, "get_str");
	ok(msg_get_u32(&r, &u32) == 0 && u32 == 0xdeadbeef, "get_u32");
	ok(msg_get_u64(&r, &u64) == 0 && u64 == UINT64_C(0x0102030405060708), "get_u64");
	ok(msg_get_str(&r, 0, &e) == 0 && strcmp(e, "") == 0, "empty string within max 0");
	ok(msg_get_rest(&r, &rest, &rest_len) == 0 && rest_len == 3 && memcmp(rest, "xyz", 3) == 0,
	   "get_rest");
	ok(msg_end(&r) == 0, "msg_end accepts a fully read message");
	free(s);
	free(e);
}

static void test_refusals(void)
{
	uint8_t buf[64], small[12];
	struct msgbuf m, r;
	uint32_t type, u32 = 7;
	uint64_t u64 = 7;
	char *s = NULL;
	int len;

	/* trailing bytes */
	msg_init(&m, buf, sizeof(buf), MSG_WAIT);
	msg_put_u32(&m, 1);
	msg_put_u32(&m, 2);
	len = msg_finish(&m);
	msg_open(&r, buf, (size_t)len, &type);
	msg_get_u32(&r, &u32);
	ok(msg_end(&r) == -EBADMSG, "msg_end refuses trailing bytes");
	msg_get_u32(&r, &u32);
	ok(msg_end(&r) == 0, "msg_end accepts once they are read");

	/* short */
	msg_open(&r, buf, (size_t)len, &type);
	ok(msg_get_u64(&r, &u64) == 0, "a u64 fits in two u32");
	u32 = 7;
	ok(msg_get_u32(&r, &u32) == -EBADMSG && u32 == 7, "get_u32 past the end refused, untouched");
	ok(msg_end(&r) == -EBADMSG, "msg_end refuses after a short get");

	/* failure sticks: a later get that would fit still fails */
	msg_open(&r, buf, (size_t)len, &type);
	msg_get_str(&r, 0, &s); /* length 1 > max 0 */
	ok(msg_get_u32(&r, &u32) == -EBADMSG, "gets after a failure keep failing");

	/* strings */
	msg_init(&m, buf, sizeof(buf), MSG_SHOW);
	msg_put_str(&m, "abcd");
	len = msg_finish(&m);
	msg_open(&r, buf, (size_t)len, &type);
	ok(msg_get_str(&r, 4, &s) == 0 && strcmp(s, "abcd") == 0, "get_str at its limit accepted");
	free(s);
	s = NULL;
	msg_open(&r, buf, (size_t)len, &type);
	ok(msg_get_str(&r, 3, &s) == -EBADMSG && !s, "get_str over its limit refused");

	buf[8 + 4 + 1] = '\0'; /* "a\0cd" */
	msg_open(&r, buf, (size_t)len, &type);
	ok(msg_get_str(&r, 64, &s) == -EBADMSG && !s, "get_str with an embedded NUL refused");

	msg_init(&m, buf, sizeof(buf), MSG_SHOW);
	msg_put_u32(&m, 10); /* claims 10 bytes */
	msg_put_bytes(&m, "abc", 3);
	len = msg_finish(&m);
	msg_open(&r, buf, (size_t)len, &type);
	ok(msg_get_str(&r, 64, &s) == -EBADMSG && !s, "get_str longer than the message refused");

	msg_init(&m, buf, sizeof(buf), MSG_SHOW);
	msg_put_u32(&m, UINT32_MAX);
	len = msg_finish(&m);
	msg_open(&r, buf, (size_t)len, &type);
	ok(msg_get_str(&r, SIZE_MAX, &s) == -EBADMSG && !s, "get_str of 4 GiB claimed refused");

	/* header checks */
	msg_init(&m, buf, sizeof(buf), MSG_STATUS);
	len = msg_finish(&m);
	ok(len == 8 && msg_open(&r, buf, 8, &type) == 0 && type == MSG_STATUS && msg_end(&r) == 0,
	   "empty message accepted");
	type = 99;
	ok(msg_open(&r, buf, 7, &type) == -EBADMSG && type == 99, "datagram under 8 bytes refused");
	ok(msg_get_u32(&r, &u32) == -EBADMSG && msg_end(&r) == -EBADMSG,
	   "a reader from a failed open refuses everything");
	ok(msg_open(&r, buf, 9, &type) == -EBADMSG, "header len != datagram len refused");
	buf[4] = 1;
	ok(msg_open(&r, buf, 8, &type) == -EBADMSG, "header len claiming more refused");

	/* building past the buffer */
	msg_init(&m, small, sizeof(small), MSG_LIST);
	msg_put_u32(&m, 1);
	ok(msg_finish(&m) == 12, "a message that fills the buffer exactly is accepted");
	msg_init(&m, small, sizeof(small), MSG_LIST);
	msg_put_str(&m, "x");
	ok(msg_finish(&m) == -EMSGSIZE, "a message over the buffer is refused");
	msg_init(&m, small, 4, MSG_LIST);
	ok(msg_finish(&m) == -EMSGSIZE, "a buffer smaller than the header is refused");
}

static void test_io(void)
{
	int sp[2], fd = -1, devnull, devnull2, before;
	uint8_t out[64], in[64];
	struct msgbuf m;
	int len, n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		ok(0, "socketpair: %m");
		return;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	devnull2 = open("/dev/null", O_RDONLY | O_CLOEXEC);

	msg_init(&m, out, sizeof(out), MSG_SUBMIT);
	msg_put_str(&m, "p");
	len = msg_finish(&m);

	ok(msg_send(sp[0], out, (size_t)len, -1) == len, "msg_send without fd");
	fd = 42;
	n = msg_recv(sp[1], in, sizeof(in), &fd);
	ok(n == len && fd == -1 && memcmp(in, out, (size_t)len) == 0, "msg_recv without fd: -1");

	ok(msg_send(sp[0], out, (size_t)len, devnull) == len, "msg_send with one fd");
	n = msg_recv(sp[1], in, sizeof(in), &fd);
	ok(n == len && fd >= 0 && fd != devnull, "msg_recv with one fd");
	ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "received fd is O_CLOEXEC");
	closep(&fd);

	/* raw frames (the client protocol) go through the same calls */
	ok(msg_send(sp[0], "Q{}", 3, -1) == 3 && msg_recv(sp[1], in, sizeof(in), &fd) == 3 &&
		   memcmp(in, "Q{}", 3) == 0,
	   "raw datagrams pass unchanged");

	/* two fds */
	before = count_open_fds();
	{
		union {
			struct cmsghdr h;
			uint8_t b[CMSG_SPACE(2 * sizeof(int))];
		} ctl;
		struct iovec iov = { .iov_base = out, .iov_len = (size_t)len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		int two[2] = { devnull, devnull2 };
		memset(&ctl, 0, sizeof(ctl));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(two));
		memcpy(CMSG_DATA(c), two, sizeof(two));
		ok(sendmsg(sp[0], &mh, MSG_NOSIGNAL) == len, "sent a datagram with two fds");
	}
	fd = 42;
	ok(msg_recv(sp[1], in, sizeof(in), &fd) == -EBADMSG && fd == 42,
	   "msg_recv refuses a datagram with two fds");
	ok(count_open_fds() == before, "and closes both received fds");

	/* truncated datagram */
	ok(msg_send(sp[0], out, (size_t)len, devnull) == len, "sent a datagram with fd");
	before = count_open_fds();
	ok(msg_recv(sp[1], in, 4, &fd) == -EBADMSG, "msg_recv refuses a truncated datagram");
	ok(count_open_fds() == before, "and closes the fd it carried");

	/* fd to a caller that does not take one */
	ok(msg_send(sp[0], out, (size_t)len, devnull) == len, "sent a datagram with fd");
	ok(msg_recv(sp[1], in, sizeof(in), NULL) == -EBADMSG,
	   "msg_recv without ret_fd refuses a datagram with an fd");
	ok(count_open_fds() == before, "and closes it");
	ok(msg_send(sp[0], out, (size_t)len, -1) == len &&
		   msg_recv(sp[1], in, sizeof(in), NULL) == len,
	   "msg_recv without ret_fd accepts a datagram without one");

	/* EOF */
	close(sp[0]);
	fd = 42;
	ok(msg_recv(sp[1], in, sizeof(in), &fd) == 0 && fd == -1, "msg_recv returns 0 at EOF");
	ok(msg_send(sp[1], out, (size_t)len, -1) == -EPIPE, "msg_send to a closed peer: -EPIPE, no SIGPIPE");
	close(sp[1]);
	close(devnull);
	close(devnull2);
}

int main(void)
{
	test_roundtrip();
	test_refusals();
	test_io();
	return tap_done();
}
