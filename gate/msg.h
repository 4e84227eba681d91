/* msg.h - typed messages between the monitor and its children.
 *
 * Transport: a SOCK_SEQPACKET socketpair; one message per datagram, at most
 * MSG_MAX bytes.  A message is a header {u32 type, u32 len} followed by
 * len bytes of fields.  Fields are written and read with the typed
 * put/get helpers below; a reader that runs short, finds a string with a
 * NUL or over its limit, or has bytes left at msg_end() fails, and a
 * malformed message from a child ends that child (STYLE.md, OpenSMTPD).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_MAX (64 * 1024 + 64)

enum msg_type {
	/* session -> monitor: one request at a time */
	MSG_SUBMIT = 1, /* str profile, str reason, str name, u32 from_stdin; + fd */
	MSG_LIST,       /* str state ("" = all) */
	MSG_SHOW,       /* str id */
	MSG_WAIT,       /* str id, u32 timeout seconds */
	MSG_WITHDRAW,   /* str id */
	MSG_AUDIT,      /* (empty) */
	MSG_STATUS,     /* (empty) */
	MSG_COMMIT,     /* u64 bytes: the client wrote this many bytes to a stdin
	                 * submit's pipe and closed it; only during that submit */
	MSG_APPROVE,       /* str id, str sha256, str otp, u32 interactive (0|1) */
	MSG_DENY,          /* str id, str reason */
	MSG_TOKEN_ENROLL,  /* str account, str public_id ("" = none), u32 has_key (0|1), bytes[16] aes_key (zeros when !has_key) */
	MSG_TOKEN_CONFIRM, /* str otp */
	MSG_TOKEN_LIST,    /* (empty) */
	MSG_TOKEN_REVOKE,  /* str public_id */
	MSG_REQ_LAST = MSG_TOKEN_REVOKE,

	/* monitor -> session */
	MSG_PROGRESS = 100, /* u64 bytes copied so far */
	MSG_DATA,           /* bytes chunk (<= 60 KiB) to forward as a 'D' frame */
	MSG_FD,             /* u64 length + fd: forward the fd's first length bytes as 'D' frames */
	MSG_RESULT,         /* str end_json: forward as the 'E' frame; exchange over */
};

struct msgbuf {
	uint8_t *buf;
	size_t len, cap, pos;
	bool failed; /* a put ran out of room or a get ran short */
};

/* Building.  msg_init() uses a caller-provided buffer of cap bytes. */
void msg_init(struct msgbuf *m, void *buf, size_t cap, uint32_t type);
void msg_put_u32(struct msgbuf *m, uint32_t v);
void msg_put_u64(struct msgbuf *m, uint64_t v);
void msg_put_str(struct msgbuf *m, const char *s); /* u32 len + bytes */
void msg_put_bytes(struct msgbuf *m, const void *p, size_t n);
/* Finishes the header; returns total length or -EMSGSIZE if a put failed. */
int msg_finish(struct msgbuf *m);

/* Reading a received datagram of len bytes.  msg_open() checks the header
 * (len field equals the datagram) and returns the type. */
int msg_open(struct msgbuf *m, void *buf, size_t len, uint32_t *ret_type);
int msg_get_u32(struct msgbuf *m, uint32_t *ret);
int msg_get_u64(struct msgbuf *m, uint64_t *ret);
/* String of at most max bytes, no NUL inside; *ret points into a malloc'd copy. */
int msg_get_str(struct msgbuf *m, size_t max, char **ret);
/* Remaining payload as a borrowed pointer. */
int msg_get_rest(struct msgbuf *m, const uint8_t **ret, size_t *ret_len);
int msg_end(struct msgbuf *m); /* -EBADMSG if bytes remain or a get failed */

/* Datagram I/O with an optional fd (SCM_RIGHTS).  msg_send: fd -1 = none.
 * msg_recv: *ret_fd is -1 when none came; a datagram with more than one fd
 * or a truncated datagram is -EBADMSG (received fds are closed).
 * Returns bytes, 0 on EOF. */
int msg_send(int sock, const void *buf, size_t len, int fd);
int msg_recv(int sock, void *buf, size_t cap, int *ret_fd);
