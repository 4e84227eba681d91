/* msg.c - typed messages between the monitor and its children, and the
 * datagram I/O that the client protocol shares.
 *
 * Readers fail on a short message, a string with a NUL or over its limit,
 * and bytes left at msg_end(); once a get fails every later get and
 * msg_end() fail too, so a caller that checks only msg_end() is still safe.
 */
#include "msg.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define HDR_LEN 8
/* Room for more fds than we accept, so that "more than one" is seen and
 * closed rather than silently dropped by the kernel, plus credentials in
 * case the caller turned on SO_PASSCRED. */
#define RECV_FDS_MAX 16

/* ---- building */

void msg_init(struct msgbuf *m, void *buf, size_t cap, uint32_t type)
{
	*m = (struct msgbuf){ .buf = buf, .cap = cap, .len = 0, .pos = 0 };
	if (!buf || cap < HDR_LEN) {
		m->failed = true;
		return;
	}
	memcpy(m->buf, &type, sizeof(type));
	memset(m->buf + 4, 0, 4);
	m->len = HDR_LEN;
}

void msg_put_bytes(struct msgbuf *m, const void *p, size_t n)
{
	if (m->failed || n > m->cap - m->len) {
		m->failed = true;
		return;
	}
	if (n > 0)
		memcpy(m->buf + m->len, p, n);
	m->len += n;
}

void msg_put_u32(struct msgbuf *m, uint32_t v)
{
	msg_put_bytes(m, &v, sizeof(v));
}

void msg_put_u64(struct msgbuf *m, uint64_t v)
{
	msg_put_bytes(m, &v, sizeof(v));
}

void msg_put_str(struct msgbuf *m, const char *s)
{
	size_t n;

	if (!s) {
		m->failed = true;
		return;
	}
	n = strlen(s);
	if (n > UINT32_MAX) {
		m->failed = true;
		return;
	}
	msg_put_u32(m, (uint32_t)n);
	msg_put_bytes(m, s, n);
}

int msg_finish(struct msgbuf *m)
{
	uint32_t plen;

	if (m->failed || m->len < HDR_LEN || m->len > MSG_MAX)
		return -EMSGSIZE;
	plen = (uint32_t)(m->len - HDR_LEN);
	memcpy(m->buf + 4, &plen, sizeof(plen));
	return (int)m->len;
}

/* ---- reading */

int msg_open(struct msgbuf *m, void *buf, size_t len, uint32_t *ret_type)
{
	uint32_t type, plen;

	/* A failed open leaves a reader on which every get fails. */
	*m = (struct msgbuf){ .failed = true };
	if (!buf || len < HDR_LEN)
		return -EBADMSG;
	memcpy(&type, buf, 4);
	memcpy(&plen, (uint8_t *)buf + 4, 4);
	if ((size_t)plen != len - HDR_LEN)
		return -EBADMSG;
	*m = (struct msgbuf){ .buf = buf, .len = len, .cap = len, .pos = HDR_LEN };
	if (ret_type)
		*ret_type = type;
	return 0;
}

static int get_bytes(struct msgbuf *m, void *out, size_t n)
{
	if (m->failed || m->pos > m->len || n > m->len - m->pos) {
		m->failed = true;
		return -EBADMSG;
	}
	if (n > 0)
		memcpy(out, m->buf + m->pos, n);
	m->pos += n;
	return 0;
}

int msg_get_u32(struct msgbuf *m, uint32_t *ret)
{
	uint32_t v;
	int r = get_bytes(m, &v, sizeof(v));

	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

int msg_get_u64(struct msgbuf *m, uint64_t *ret)
{
	uint64_t v;
	int r = get_bytes(m, &v, sizeof(v));

	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

int msg_get_str(struct msgbuf *m, size_t max, char **ret)
{
	uint32_t n;
	char *s;
	int r;

	r = msg_get_u32(m, &n);
	if (r < 0)
		return r;
	if ((size_t)n > max || (size_t)n > m->len - m->pos ||
	    memchr(m->buf + m->pos, '\0', n)) {
		m->failed = true;
		return -EBADMSG;
	}
	s = malloc((size_t)n + 1);
	if (!s) {
		m->failed = true;
		return -ENOMEM;
	}
	memcpy(s, m->buf + m->pos, n);
	s[n] = '\0';
	m->pos += n;
	*ret = s;
	return 0;
}

int msg_get_rest(struct msgbuf *m, const uint8_t **ret, size_t *ret_len)
{
	if (m->failed || m->pos > m->len) {
		m->failed = true;
		return -EBADMSG;
	}
	*ret = m->buf + m->pos;
	*ret_len = m->len - m->pos;
	m->pos = m->len;
	return 0;
}

int msg_end(struct msgbuf *m)
{
	if (m->failed || m->pos != m->len)
		return -EBADMSG;
	return 0;
}

/* ---- datagram I/O */

int msg_send(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t k;

	if (len > INT_MAX)
		return -EMSGSIZE;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		k = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	/* Datagrams go whole or not at all; anything else is not ours. */
	if ((size_t)k != len)
		return -EIO;
	return (int)k;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int msg_recv(int sock, void *buf, size_t cap, int *ret_fd)
{
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(int) * RECV_FDS_MAX) +
			  CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.b,
		.msg_controllen = sizeof(ctl.b),
	};
	int fds[RECV_FDS_MAX * 2];
	size_t nfds = 0;
	ssize_t k;

	if (cap > INT_MAX)
		cap = iov.iov_len = INT_MAX;
	memset(&ctl, 0, sizeof(ctl));
	do
		k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		if (c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds < ELEMENTSOF(fds))
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}

	/* A cut datagram or control block, more than one fd, an fd the
	 * caller does not take, or an fd on an empty datagram (which would
	 * look like EOF): refuse and close whatever came. */
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds > 1 ||
	    (nfds > 0 && (!ret_fd || k == 0))) {
		close_fds(fds, nfds);
		return -EBADMSG;
	}
	if (ret_fd)
		*ret_fd = nfds == 1 ? fds[0] : -1;
	return (int)k;
}
