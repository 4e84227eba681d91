/* proto.h - the client protocol between `dumpgate` (the CLI) and a session.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET, so every frame is one datagram and
 * message boundaries are kept.  A frame is one type byte followed by the
 * payload; a frame is at most PROTO_MAX_FRAME bytes in total.  A longer
 * datagram (MSG_TRUNC) ends the connection.
 *
 *   'Q' request   client -> session   JSON object, exactly one per exchange,
 *                                     may carry one fd (SCM_RIGHTS) for submit
 *   'C' commit    client -> session   JSON {"bytes":N}: only during a submit
 *                                     with "stdin":true, once, after the
 *                                     client wrote N bytes into the pipe and
 *                                     closed it.  Without it nothing is
 *                                     stored: a stream cut short (client
 *                                     killed) is never taken as complete.
 *   'P' progress  session -> client   JSON {"bytes":N}
 *   'D' data      session -> client   raw bytes (JSON text or audit lines)
 *   'E' end       session -> client   JSON status, last frame of an exchange
 *
 * Request JSON: {"v":1,"op":OP,...}.  Keys per op (all strings unless said):
 *   submit    profile, reason, name, stdin (bool)     + one fd
 *   list      state (optional)
 *   show      id
 *   wait      id, timeout (integer seconds, 0..86400)
 *   withdraw  id
 *   audit     (no keys)  -> data frames carry the audit log's raw lines
 *   status    (no keys)
 * Any other key, a missing key, a wrong JSON type, "v" != 1, or a string
 * over its limit is a protocol error.
 *
 * End JSON: {"ok":true,...} or {"ok":false,"error":"text","code":"name"}.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_MAX_FRAME 65536
#define PROTO_MAX_PROFILE 64
#define PROTO_MAX_REASON 1024
#define PROTO_MAX_NAME 255
#define PROTO_MAX_ID 32
#define PROTO_MAX_WAIT 86400

enum proto_frame {
	PROTO_REQ = 'Q',
	PROTO_COMMIT = 'C',
	PROTO_PROGRESS = 'P',
	PROTO_DATA = 'D',
	PROTO_END = 'E',
};

enum proto_op {
	OP_SUBMIT = 1,
	OP_LIST,
	OP_SHOW,
	OP_WAIT,
	OP_WITHDRAW,
	OP_AUDIT,
	OP_STATUS,
};

/* A decoded, validated request.  Strings are owned by the struct. */
struct proto_req {
	enum proto_op op;
	char *profile; /* submit */
	char *reason;  /* submit */
	char *name;    /* submit */
	bool from_stdin;
	char *state; /* list, NULL = all */
	char *id;    /* show, wait, withdraw */
	uint32_t timeout; /* wait */
};

void proto_req_clear(struct proto_req *r);

/* Decode and validate one request payload (the bytes after the 'Q').
 * On failure returns -EBADMSG and, if ret_error is not NULL, a static
 * string naming what was wrong ("unknown key", "reason too long", ...). */
int proto_req_decode(const uint8_t *buf, size_t len, struct proto_req *ret,
		     const char **ret_error);

/* Encode a request as a JSON payload (without the type byte); malloc'd. */
int proto_req_encode(const struct proto_req *r, char **ret_json);

/* The commit frame's payload {"bytes":N} (N >= 0, no other key). */
int proto_commit_decode(const uint8_t *buf, size_t len, uint64_t *ret_bytes, const char **ret_error);
int proto_commit_encode(uint64_t bytes, char **ret_json);

const char *proto_op_name(enum proto_op op);
int proto_op_from_name(const char *s, enum proto_op *ret);
