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
 *   approve        id, sha256 (64 lowercase hex), otp (1..64 bytes),
 *                  interactive (bool)
 *   deny           id, reason
 *   token_enroll   user (account name), public_id (optional, 12 modhex),
 *                  aes_key (optional, 32 lowercase hex)
 *   token_confirm  otp   (on the connection of the token_enroll before it)
 *   token_list     (no keys)  -> data frames carry a JSON array
 *   token_revoke   public_id
 * Any other key, a missing key, a wrong JSON type, "v" != 1, or a string
 * over its limit is a protocol error.  The session checks only these
 * shapes; whether an OTP, a key or an approver is good is the monitor's
 * decision.
 *
 * Secrets: aes_key (a token's AES key) and otp.  The codec keeps the key
 * only as 16 bytes in struct proto_req and wipes what it allocated for
 * either; callers wipe their frame buffers, and have jansson wipe its
 * copies with proto_wipe_json_frees().
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
#define PROTO_MAX_OTP 64       /* bytes of an "otp" value */
#define PROTO_MAX_ACCOUNT 32   /* characters of a "user" (account name) */
#define PROTO_SHA256_HEX 64    /* characters of a "sha256" value */
#define PROTO_PUBLIC_ID_LEN 12 /* modhex characters of a token's public id */
#define PROTO_AES_KEY_SIZE 16  /* bytes of a token's AES key (32 hex characters) */

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
	OP_APPROVE,
	OP_DENY,
	OP_TOKEN_ENROLL,
	OP_TOKEN_CONFIRM,
	OP_TOKEN_LIST,
	OP_TOKEN_REVOKE,
};

/* A decoded, validated request.  Strings are owned by the struct. */
struct proto_req {
	enum proto_op op;
	char *profile; /* submit */
	char *reason;  /* submit, deny */
	char *name;    /* submit */
	bool from_stdin;
	char *state; /* list, NULL = all */
	char *id;    /* show, wait, withdraw, approve, deny */
	uint32_t timeout; /* wait */
	char *sha256;     /* approve */
	char *otp;        /* approve, token_confirm: secret until used */
	bool interactive; /* approve */
	char *user;       /* token_enroll */
	char *public_id;  /* token_enroll (NULL = none), token_revoke */
	bool has_key;     /* token_enroll: aes_key was given */
	uint8_t aes_key[PROTO_AES_KEY_SIZE]; /* secret; zeros when !has_key */
};

/* Frees the strings and wipes the whole struct (the OTP before it is
 * freed, the AES key in place). */
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

/* true when s is exactly PROTO_PUBLIC_ID_LEN modhex characters
 * ("cbdefghijklnrtuv", lower case) and a NUL. */
bool proto_public_id_valid(const char *s);
/* An account name as token_enroll's "user" must be: [a-z_][a-z0-9_.-]*$?,
 * at most PROTO_MAX_ACCOUNT bytes. */
bool proto_account_valid(const char *s);

/* Make jansson wipe every block it frees, so that its copies of a request
 * (the parser's buffer, string values, json_dumps() output) do not keep an
 * OTP or an AES key after use.  Process-wide: call once at start, in the
 * session and in the CLI; the test programs do not need it. */
void proto_wipe_json_frees(void);
